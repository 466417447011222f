//! Business-hours calendars and service agreements as admin entities (`/calendars`,
//! `/service-agreements`) on both engines: created, read, listed, changed with If-Match and
//! agreements deleted; fields checked and named when refused; what they refer to must exist;
//! only admins may read or write them.

use axum::http::Method;
use docket_e2e::{Engine, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};

on_both_engines!(
    calendars_are_created_read_listed_and_changed,
    agreements_are_created_read_listed_changed_and_deleted,
    invalid_fields_are_refused_naming_the_field,
    an_agreement_must_name_records_that_exist,
    only_admins_may_read_or_write_calendars_and_agreements,
);

fn berlin_office() -> Value {
    json!({
        "name": "Berlin office",
        "time_zone": " europe/berlin ",
        "hours": {
            "monday": [{"start": "13:00", "end": "17:00"}, {"start": "09:00", "end": "12:00"}],
            "friday": [{"start": "09:00", "end": "17:00"}]
        },
        "holidays": [{"date": "2026-12-25", "yearly": true, "name": "Christmas"}]
    })
}

fn gold(calendar_id: &str, applies_to: Value) -> Value {
    json!({
        "name": "Gold",
        "calendar_id": calendar_id,
        "targets": {"Normal": {"first_response_minutes": 60, "resolution_minutes": 480}},
        "applies_to": applies_to
    })
}

/// A PATCH with an If-Match of `version`.
async fn patch(api: &TestApi, token: &str, path: &str, version: &str, body: Value) -> docket_e2e::Reply {
    let etag = format!("\"{version}\"");
    api.send(Method::PATCH, path, Some(token), &[("If-Match", etag.as_str())], Some(body.to_string())).await
}

async fn calendars_are_created_read_listed_and_changed(engine: Engine) {
    // GIVEN an admin
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    // WHEN they create a calendar
    let reply = api.call(Method::POST, "/calendars", Some(&admin), Some(berlin_office())).await;
    // THEN it is stored normalised: the zone spelt as the database spells it, a day's intervals
    // sorted, with an id, version 1 and that version as its ETag
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.etag(), "\"1\"");
    let calendar = reply.body;
    assert_eq!(calendar["time_zone"], "Europe/Berlin");
    assert_eq!(calendar["hours"]["monday"], json!([{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "17:00"}]));
    assert_eq!(calendar["hours"]["tuesday"], json!([]));
    assert_eq!(calendar["holidays"][0]["name"], "Christmas");
    assert_eq!(calendar["version"], 1);
    let path = format!("/calendars/{}", id_of(&calendar));
    // AND it reads back and lists, sorted by name
    let read = api.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!((read.status.as_u16(), &read.body), (200, &calendar));
    api.create(&admin, "/calendars", json!({"name": "Around the clock", "time_zone": "UTC", "hours": {"sunday": [{"start": "00:00", "end": "24:00"}]}})).await;
    let list = api.call(Method::GET, "/calendars", Some(&admin), None).await;
    let names: Vec<&str> = list.body["items"].as_array().expect("items").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["Around the clock", "Berlin office"]);
    // WHEN it is changed by a merge patch at the version read
    let changed = patch(&api, &admin, &path, "1", json!({"hours": {"tuesday": [{"start": "08:00", "end": "16:00"}]}, "holidays": null})).await;
    // THEN only the fields named change, and the version moves on
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.etag(), "\"2\"");
    assert_eq!(changed.body["hours"]["tuesday"][0]["start"], "08:00");
    assert_eq!(changed.body["hours"]["monday"], calendar["hours"]["monday"]);
    assert_eq!(changed.body["holidays"], json!([]));
    // AND a change at a stale version is refused
    patch(&api, &admin, &path, "1", json!({"name": "Too late"})).await.assert_problem(412, Some("If-Match"));
    // AND a calendar is not deleted: agreements count on it
    api.call(Method::DELETE, &path, Some(&admin), None).await.assert_problem(405, None);
}

async fn agreements_are_created_read_listed_changed_and_deleted(engine: Engine) {
    // GIVEN a calendar and an account
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let calendar = id_of(&api.create(&admin, "/calendars", berlin_office()).await);
    let acme = id_of(&api.create(&admin, "/accounts", json!({"name": "Acme"})).await);
    let ada = id_of(&api.create(&admin, "/contacts", json!({"name": "Ada"})).await);
    // WHEN an admin creates an agreement for the account
    let reply =
        api.call(Method::POST, "/service-agreements", Some(&admin), Some(gold(&calendar, json!({"kind": "accounts", "account_ids": [acme, acme]})))).await;
    // THEN it is stored with its defaults, repeats dropped
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.etag(), "\"1\"");
    let created = reply.body;
    assert_eq!(created["applies_to"], json!({"kind": "accounts", "account_ids": [acme]}));
    assert_eq!(created["targets"]["Normal"], json!({"first_response_minutes": 60, "next_response_minutes": null, "resolution_minutes": 480}));
    assert_eq!((&created["warning_percent"], &created["enabled"], &created["valid_from"]), (&json!(80), &json!(true), &Value::Null));
    let path = format!("/service-agreements/{}", id_of(&created));
    let read = api.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!((read.status.as_u16(), &read.body), (200, &created));
    // AND agreements list by name, a default one among them
    let default = json!({"name": "Basic", "calendar_id": calendar, "targets": {"Low": {"resolution_minutes": 2400}}, "applies_to": {"kind": "default"}});
    api.create(&admin, "/service-agreements", default).await;
    let list = api.call(Method::GET, "/service-agreements?limit=10", Some(&admin), None).await;
    let names: Vec<&str> = list.body["items"].as_array().expect("items").iter().filter_map(|a| a["name"].as_str()).collect();
    assert_eq!(names, ["Basic", "Gold"]);
    // WHEN it is changed by a merge patch: a target added, validity set, switched off
    let changed = patch(
        &api,
        &admin,
        &path,
        "1",
        json!({"targets": {"High": {"first_response_minutes": 30}}, "valid_from": "2026-01-01", "valid_until": "2026-12-31", "warning_percent": 75, "enabled": false}),
    )
    .await;
    // THEN the rest stays
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["targets"]["High"]["first_response_minutes"], 30);
    assert_eq!(changed.body["targets"]["Normal"]["resolution_minutes"], 480);
    assert_eq!((&changed.body["valid_until"], &changed.body["warning_percent"], &changed.body["enabled"]), (&json!("2026-12-31"), &json!(75), &json!(false)));
    // AND switching what it applies to replaces it whole: a value of another kind is another
    // value, so the old kind's list does not linger (nulls in it are dropped as in any patch)
    let switched = patch(&api, &admin, &path, "2", json!({"applies_to": {"kind": "contacts", "contact_ids": [ada]}})).await;
    assert_eq!(switched.status, 200, "{}", switched.body);
    assert_eq!(switched.body["applies_to"], json!({"kind": "contacts", "contact_ids": [ada]}));
    let again = patch(&api, &admin, &path, "3", json!({"applies_to": {"kind": "default", "contact_ids": null}})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["applies_to"], json!({"kind": "default"}));
    let back = patch(&api, &admin, &path, "4", json!({"applies_to": {"kind": "contacts", "contact_ids": [ada]}})).await;
    assert_eq!(back.status, 200, "{}", back.body);
    // WHEN it is deleted at a stale version THEN it stays; at the current one it goes
    let stale = api.send(Method::DELETE, &path, Some(&admin), &[("If-Match", "\"1\"")], None).await;
    stale.assert_problem(412, Some("If-Match"));
    let deleted = api.send(Method::DELETE, &path, Some(&admin), &[("If-Match", "\"5\"")], None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    api.call(Method::GET, &path, Some(&admin), None).await.assert_problem(404, None);
    api.call(Method::DELETE, &path, Some(&admin), None).await.assert_problem(404, None);
    let list = api.call(Method::GET, "/service-agreements", Some(&admin), None).await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
}

async fn invalid_fields_are_refused_naming_the_field(engine: Engine) {
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let with = |base: Value, changes: Value| {
        let mut body = base;
        for (name, value) in changes.as_object().expect("an object") {
            body[name] = value.clone();
        }
        body
    };
    // WHEN a calendar's fields are wrong THEN 422 naming the field, and nothing is stored
    for (changes, field) in [
        (json!({"name": "  "}), "name"),
        (json!({"time_zone": "Europe/Atlantis"}), "time_zone"),
        (json!({"hours": {"monday": [{"start": "9:00", "end": "17:00"}]}}), "hours.monday[0].start"),
        (json!({"hours": {"monday": [{"start": "17:00", "end": "09:00"}]}}), "hours.monday[0]"),
        (json!({"hours": {}}), "hours"),
        (json!({"holidays": [{"date": "2026-02-30"}]}), "holidays[0].date"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let reply = api.call(Method::POST, "/calendars", Some(&admin), Some(with(berlin_office(), changes.clone()))).await;
        reply.assert_problem(422, Some(field));
        assert!(reply.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{changes}");
    }
    let list = api.call(Method::GET, "/calendars", Some(&admin), None).await;
    assert_eq!(list.body["items"], json!([]));
    // AND a body that is not JSON is malformed (400)
    let malformed = api.send(Method::POST, "/calendars", Some(&admin), &[], Some("{\"name\": ".into())).await;
    malformed.assert_problem(400, None);

    // WHEN an agreement's fields are wrong THEN the same
    let calendar = id_of(&api.create(&admin, "/calendars", berlin_office()).await);
    let ok = gold(&calendar, json!({"kind": "default"}));
    for (changes, field) in [
        (json!({"name": ""}), "name"),
        (json!({"targets": {}}), "targets"),
        (json!({"targets": {"High": {"resolution_minutes": 0}}}), "targets.High.resolution_minutes"),
        (json!({"targets": {"Urgent": {"first_response_minutes": 525_601}}}), "targets.Urgent.first_response_minutes"),
        (json!({"warning_percent": 0}), "warning_percent"),
        (json!({"warning_percent": 100}), "warning_percent"),
        (json!({"valid_from": "01/02/2026"}), "valid_from"),
        (json!({"valid_from": "2026-03-01", "valid_until": "2026-02-28"}), "valid_until"),
        (json!({"applies_to": {"kind": "accounts", "account_ids": []}}), "applies_to.account_ids"),
        (json!({"applies_to": {"kind": "mailboxes", "mailbox_ids": ["not an id"]}}), "applies_to.mailbox_ids"),
        (json!({"calendar_id": "not an id"}), "calendar_id"),
    ] {
        let reply = api.call(Method::POST, "/service-agreements", Some(&admin), Some(with(ok.clone(), changes.clone()))).await;
        reply.assert_problem(422, Some(field));
    }
    // AND a patch is checked as a creation is
    let stored = api.create(&admin, "/service-agreements", ok).await;
    let path = format!("/service-agreements/{}", id_of(&stored));
    patch(&api, &admin, &path, "1", json!({"warning_percent": 120})).await.assert_problem(422, Some("warning_percent"));
    patch(&api, &admin, &path, "1", json!({"targets": {"Normal": {"resolution_minutes": -5}}})).await.assert_problem(422, None);
    let read = api.call(Method::GET, &path, Some(&admin), None).await;
    assert_eq!(read.body, stored, "a refused change changes nothing");
}

async fn an_agreement_must_name_records_that_exist(engine: Engine) {
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let calendar = id_of(&api.create(&admin, "/calendars", berlin_office()).await);
    let acme = id_of(&api.create(&admin, "/accounts", json!({"name": "Acme"})).await);
    // WHEN an agreement names a calendar that does not exist THEN 422 naming calendar_id
    let unknown = "01JNOSUCHCALENDAR000000000";
    let reply = api.call(Method::POST, "/service-agreements", Some(&admin), Some(gold(unknown, json!({"kind": "default"})))).await;
    reply.assert_problem(422, Some("calendar_id"));
    assert!(reply.body["detail"].as_str().is_some_and(|d| d.contains(unknown)), "{}", reply.body);
    // AND an account, contact or mailbox that does not exist is refused naming its list
    for (applies_to, field) in [
        (json!({"kind": "accounts", "account_ids": [acme, "01JNOSUCHACCOUNT"]}), "applies_to.account_ids"),
        (json!({"kind": "contacts", "contact_ids": ["01JNOSUCHCONTACT"]}), "applies_to.contact_ids"),
        (json!({"kind": "mailboxes", "mailbox_ids": ["01JNOSUCHMAILBOX"]}), "applies_to.mailbox_ids"),
        // Another kind's id is not one: a calendar is not an account.
        (json!({"kind": "accounts", "account_ids": [calendar]}), "applies_to.account_ids"),
    ] {
        let reply = api.call(Method::POST, "/service-agreements", Some(&admin), Some(gold(&calendar, applies_to))).await;
        reply.assert_problem(422, Some(field));
    }
    let list = api.call(Method::GET, "/service-agreements", Some(&admin), None).await;
    assert_eq!(list.body["items"], json!([]), "nothing is stored");
    // AND a change to a calendar that does not exist is refused, the agreement unchanged
    let stored = api.create(&admin, "/service-agreements", gold(&calendar, json!({"kind": "accounts", "account_ids": [acme]}))).await;
    let path = format!("/service-agreements/{}", id_of(&stored));
    patch(&api, &admin, &path, "1", json!({"calendar_id": unknown})).await.assert_problem(422, Some("calendar_id"));
    assert_eq!(api.call(Method::GET, &path, Some(&admin), None).await.body, stored);
}

async fn only_admins_may_read_or_write_calendars_and_agreements(engine: Engine) {
    // GIVEN a calendar, an agreement, an agent and a portal user
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let calendar = api.create(&admin, "/calendars", berlin_office()).await;
    let agreement = api.create(&admin, "/service-agreements", gold(&id_of(&calendar), json!({"kind": "default"}))).await;
    let agent = api.create(&admin, "/users", json!({"name": "Ann", "email": "ann@agents.test", "role": "agent"})).await;
    let agent = api.token(&id_of(&agent));
    let (_, portal) = api.portal_contact("Peter", "peter@initech.test", None, json!({"role": "own_cases"})).await;
    let calendar_path = format!("/calendars/{}", id_of(&calendar));
    let agreement_path = format!("/service-agreements/{}", id_of(&agreement));
    let requests = [
        (Method::POST, "/calendars".to_owned(), Some(berlin_office())),
        (Method::GET, "/calendars".to_owned(), None),
        (Method::GET, calendar_path.clone(), None),
        (Method::PATCH, calendar_path.clone(), Some(json!({"name": "Mine now"}))),
        (Method::POST, "/service-agreements".to_owned(), Some(gold(&id_of(&calendar), json!({"kind": "default"})))),
        (Method::GET, "/service-agreements".to_owned(), None),
        (Method::GET, agreement_path.clone(), None),
        (Method::PATCH, agreement_path.clone(), Some(json!({"enabled": false}))),
        (Method::DELETE, agreement_path.clone(), None),
    ];
    for (method, path, body) in &requests {
        // WHEN staff who are not admins, or customers, call them THEN 403 and nothing of them
        for token in [&agent, &portal] {
            let reply = api.call(method.clone(), path, Some(token), body.clone()).await;
            reply.assert_problem(403, None);
            assert!(!reply.body.to_string().contains("Berlin office"), "{method} {path}: {}", reply.body);
        }
        // AND without a token 401
        api.call(method.clone(), path, None, body.clone()).await.assert_problem(401, None);
    }
    // AND nothing changed
    assert_eq!(api.call(Method::GET, &calendar_path, Some(&admin), None).await.body, calendar);
    assert_eq!(api.call(Method::GET, &agreement_path, Some(&admin), None).await.body, agreement);
    let list = api.call(Method::GET, "/calendars", Some(&admin), None).await;
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
}
