//! SLA clocks on cases (SPEC F51, issue 15) through the API on both engines, on a manual clock:
//! the Gold agreement of the issue on an account, a case of that account created Friday 16:30
//! Berlin time, its first response due Monday 09:30 and met by a staff reply, a Pending weekend
//! that does not count toward resolution, and portal users who never see the clocks.

use std::sync::Arc;

use axum::http::Method;
use docket_domain::clock::ManualClock;
use docket_domain::inbound::Inbound;
use docket_e2e::{Engine, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};
use time::Duration;
use time::macros::datetime;

on_both_engines!(
    the_gold_agreement_walks_the_issues_example,
    a_case_no_agreement_governs_has_no_clocks,
    mail_replies_move_the_response_clocks,
    concurrent_replies_all_land,
);

struct World {
    api: TestApi,
    clock: Arc<ManualClock>,
    admin: String,
}

/// Friday 4 December 2026, 16:30 in Berlin (CET, UTC+1).
async fn world(engine: Engine) -> World {
    let clock = Arc::new(ManualClock::new(datetime!(2026-12-04 15:30 UTC)));
    let docket = docket_e2e::docket_with_clock(engine, clock.clone()).await.with_blobs(docket_e2e::blobs(engine).await);
    let api = TestApi::with_docket(docket).await;
    let admin = api.admin_token();
    World { api, clock, admin }
}

impl World {
    /// Mon–Fri 09–17 Europe/Berlin.
    async fn office_hours(&self) -> String {
        let day = json!([{"start": "09:00", "end": "17:00"}]);
        let hours = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day});
        let calendar = self.api.create(&self.admin, "/calendars", json!({"name": "Berlin office", "time_zone": "Europe/Berlin", "hours": hours})).await;
        id_of(&calendar)
    }

    async fn case(&self, body: Value) -> Value {
        self.api.create(&self.admin, "/cases", body).await
    }

    async fn get(&self, token: &str, id: &str) -> Value {
        let reply = self.api.call(Method::GET, &format!("/cases/{id}"), Some(token), None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    async fn set_status(&self, case: &Value, status: &str) -> Value {
        let etag = format!("\"{}\"", case["version"]);
        let reply = self
            .api
            .send(
                Method::PATCH,
                &format!("/cases/{}", id_of(case)),
                Some(&self.admin),
                &[("If-Match", etag.as_str())],
                Some(json!({"status": status}).to_string()),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    async fn post(&self, token: &str, id: &str, body: Value) {
        let reply = self.api.call(Method::POST, &format!("/cases/{id}/stream"), Some(token), Some(body)).await;
        assert!(reply.status.is_success(), "{}", reply.body);
    }
}

async fn the_gold_agreement_walks_the_issues_example(engine: Engine) {
    // GIVEN the issue's Gold agreement on Acme: first response 60, resolution 480 business
    // minutes, Mon–Fri 09–17 Europe/Berlin; and a Bronze default that must lose to it
    let w = world(engine).await;
    let calendar = w.office_hours().await;
    let acme = id_of(&w.api.create(&w.admin, "/accounts", json!({"name": "Acme", "email_domains": ["acme.example"]})).await);
    let targets = json!({"Normal": {"first_response_minutes": 60, "resolution_minutes": 480}});
    w.api
        .create(
            &w.admin,
            "/service-agreements",
            json!({"name": "Bronze", "calendar_id": calendar, "targets": {"Normal": {"first_response_minutes": 600}}, "applies_to": {"kind": "default"}}),
        )
        .await;
    let gold = w
        .api
        .create(
            &w.admin,
            "/service-agreements",
            json!({"name": "Gold", "calendar_id": calendar, "targets": targets, "applies_to": {"kind": "accounts", "account_ids": [acme]}}),
        )
        .await;
    let (contact, portal) = w.api.portal_contact("Olive Owner", "olive@acme.example", Some(&acme), json!({"role": "own_cases"})).await;

    // WHEN a case of Acme is created on Friday at 16:30 Berlin time
    let case = w.case(json!({"subject": "Printer on fire", "account_id": acme, "contact_ids": [id_of(&contact)]})).await;
    let id = id_of(&case);
    // THEN Gold governs it; first response is due Monday 09:30 and resolution Monday 16:30
    let sla = &case["sla"];
    assert_eq!(sla["agreement_id"], gold["id"], "{sla}");
    assert_eq!(sla["agreement_name"], "Gold");
    assert_eq!(sla["first_response"]["due_at"], "2026-12-07T08:30:00Z", "{sla}");
    assert_eq!(sla["first_response"]["state"], "running");
    assert_eq!(sla["first_response"]["remaining_business_minutes"], 60);
    assert_eq!(sla["resolution"]["due_at"], "2026-12-07T15:30:00Z", "{sla}");
    assert_eq!(sla["next_response"], Value::Null, "no next-response target, and nothing owed");
    // AND the stored facts the clocks come from are not part of the case as shown
    assert!(case.get("sla_timeline").is_none(), "{case}");

    // WHEN staff first write an internal note, which is no reply
    w.clock.advance(Duration::minutes(5));
    w.post(&w.admin, &id, json!({"body": "Call the fire brigade?", "internal": true})).await;
    assert_eq!(w.get(&w.admin, &id).await["sla"]["first_response"]["state"], "running");
    // AND then answer publicly 15 minutes after the creation
    w.clock.advance(Duration::minutes(10));
    w.post(&w.admin, &id, json!({"body": "We are on it."})).await;
    // THEN first response is met, on time, with 45 business minutes to spare
    let read = w.get(&w.admin, &id).await;
    let first = &read["sla"]["first_response"];
    assert_eq!(first["state"], "met", "{first}");
    assert_eq!(first["met_at"], "2026-12-04T15:45:00Z");
    assert_eq!(first["breached"], false);
    assert_eq!(first["remaining_business_minutes"], 45);
    // AND resolution still runs
    assert_eq!(read["sla"]["resolution"]["state"], "running");

    // WHEN the case waits on the customer from 16:50 over the weekend
    w.clock.advance(Duration::minutes(5));
    let pending = w.set_status(&read, "Pending").await;
    assert_eq!(pending["sla"]["resolution"]["state"], "paused", "{}", pending["sla"]);
    w.clock.advance(Duration::days(2) + Duration::hours(18) + Duration::minutes(10)); // Monday 11:00
    // THEN on Monday 11:00 resolution is still paused with the 460 minutes it had left
    let waiting = w.get(&w.admin, &id).await;
    assert_eq!(waiting["sla"]["resolution"]["state"], "paused");
    assert_eq!(waiting["sla"]["resolution"]["remaining_business_minutes"], 460);
    assert_eq!(waiting["sla"]["resolution"]["breached"], false, "Monday 16:30 has not come, and the weekend never counted");

    // WHEN the customer answers in the portal, which reopens the case
    w.post(&portal, &id, json!({"body": "Still smoking."})).await;
    // THEN resolution runs again: 20 minutes used on Friday, 460 left from Monday 11:00,
    // due Tuesday 10:40 Berlin rather than Monday 16:30 (the pause moved it by the business
    // time it lasted, 16:50–17:00 and 09:00–11:00, and by nothing of the weekend)
    let reopened = w.get(&w.admin, &id).await;
    assert_eq!(reopened["status"], "Reopened");
    let resolution = &reopened["sla"]["resolution"];
    assert_eq!(resolution["state"], "running", "{resolution}");
    assert_eq!(resolution["due_at"], "2026-12-08T09:40:00Z", "{resolution}");
    assert_eq!(resolution["remaining_business_minutes"], 460);

    // AND the portal user sees the case but never its clocks
    let seen = w.get(&portal, &id).await;
    assert_eq!(seen["id"], json!(id));
    assert!(seen.get("sla").is_none() && seen.get("sla_timeline").is_none(), "{seen}");
}

async fn a_case_no_agreement_governs_has_no_clocks(engine: Engine) {
    // GIVEN an agreement for one account only
    let w = world(engine).await;
    let calendar = w.office_hours().await;
    let acme = id_of(&w.api.create(&w.admin, "/accounts", json!({"name": "Acme"})).await);
    let other = id_of(&w.api.create(&w.admin, "/accounts", json!({"name": "Other"})).await);
    let targets = json!({"Normal": {"first_response_minutes": 60}});
    w.api
        .create(
            &w.admin,
            "/service-agreements",
            json!({"name": "Gold", "calendar_id": calendar, "targets": targets, "applies_to": {"kind": "accounts", "account_ids": [acme]}}),
        )
        .await;
    // WHEN a case of another account is created
    let case = w.case(json!({"subject": "Question", "account_id": other})).await;
    // THEN it has no clocks
    assert!(case.get("sla").is_none(), "{case}");
    // WHEN its account becomes the agreement's
    let moved = {
        let etag = format!("\"{}\"", case["version"]);
        let reply = w
            .api
            .send(
                Method::PATCH,
                &format!("/cases/{}", id_of(&case)),
                Some(&w.admin),
                &[("If-Match", etag.as_str())],
                Some(json!({"account_id": acme}).to_string()),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    };
    // THEN the agreement is chosen again and counts from the case's creation
    assert_eq!(moved["sla"]["agreement_name"], "Gold", "{moved}");
    assert_eq!(moved["sla"]["first_response"]["due_at"], "2026-12-07T08:30:00Z");
}

async fn mail_replies_move_the_response_clocks(engine: Engine) {
    // GIVEN a mailbox governed by an around-the-clock agreement with a next-response target
    let w = world(engine).await;
    let always = json!([{"start": "00:00", "end": "24:00"}]);
    let hours = json!({"monday": always, "tuesday": always, "wednesday": always, "thursday": always, "friday": always, "saturday": always, "sunday": always});
    let calendar = id_of(&w.api.create(&w.admin, "/calendars", json!({"name": "Always", "time_zone": "UTC", "hours": hours})).await);
    let address = format!("support-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    let mailbox = id_of(&w.api.create(&w.admin, "/mailboxes", json!({"name": "Support", "addresses": [address], "auto_ack": false})).await);
    let targets = json!({"Normal": {"first_response_minutes": 60, "next_response_minutes": 30}});
    w.api
        .create(
            &w.admin,
            "/service-agreements",
            json!({"name": "Mail", "calendar_id": calendar, "targets": targets, "applies_to": {"kind": "mailboxes", "mailbox_ids": [mailbox]}}),
        )
        .await;
    let settings = docket_e2e::test_mail_settings();
    let pipeline = Inbound { docket: &w.api.docket, mailer: None, settings: &settings };
    let receive = |subject: &str, message_id: &str, body: &str| {
        let raw = docket_e2e::raw_message("Ada Lovelace <ada@customer.test>", &address, subject, message_id, "", body);
        pipeline.receive(docket_e2e::plain_delivery(&address, raw))
    };
    // WHEN a customer writes to the mailbox
    let opened = receive("Printer on fire", &format!("{}@customer.test", ulid::Ulid::new()), "Smoke.").await.expect("pipeline");
    let number = opened.case_number.expect("a case");
    let case = w.get(&w.admin, &number.to_string()).await;
    // THEN the mailbox's agreement governs the new case and first response runs
    assert_eq!(case["sla"]["agreement_name"], "Mail", "{case}");
    assert_eq!(case["sla"]["first_response"]["state"], "running");
    let id = id_of(&case);
    // WHEN staff answer publicly, and the customer replies by mail 10 minutes later
    w.clock.advance(Duration::minutes(5));
    w.post(&w.admin, &id, json!({"body": "Unplug it."})).await;
    w.clock.advance(Duration::minutes(10));
    let reply = receive(&format!("Re: [#{number}] Printer on fire"), &format!("{}@customer.test", ulid::Ulid::new()), "Done.").await.expect("pipeline");
    assert_eq!(reply.case_number, Some(number), "{reply:?}");
    // THEN first response was met and next response runs from the customer's mail
    let read = w.get(&w.admin, &id).await;
    assert_eq!(read["sla"]["first_response"]["state"], "met", "{}", read["sla"]);
    let next = &read["sla"]["next_response"];
    assert_eq!(next["state"], "running", "{next}");
    assert_eq!(next["due_at"], "2026-12-04T16:15:00Z", "30 minutes from the reply at 15:45");
    // WHEN a second customer mail follows before anyone answers
    w.clock.advance(Duration::minutes(10));
    receive(&format!("Re: [#{number}] Printer on fire"), &format!("{}@customer.test", ulid::Ulid::new()), "Hello?").await.expect("pipeline");
    // THEN it does not restart the clock: the customer has waited since the first
    assert_eq!(w.get(&w.admin, &id).await["sla"]["next_response"]["due_at"], "2026-12-04T16:15:00Z");
    // WHEN staff answer again
    w.post(&w.admin, &id, json!({"body": "On our way."})).await;
    // THEN next response is met after 10 of its 30 minutes
    let answered = w.get(&w.admin, &id).await;
    assert_eq!(answered["sla"]["next_response"]["state"], "met");
    assert_eq!(answered["sla"]["next_response"]["remaining_business_minutes"], 20);
}

async fn concurrent_replies_all_land(engine: Engine) {
    // GIVEN a governed case with a portal customer on it
    let w = world(engine).await;
    let calendar = w.office_hours().await;
    let acme = id_of(&w.api.create(&w.admin, "/accounts", json!({"name": "Acme"})).await);
    let targets = json!({"Normal": {"first_response_minutes": 60, "next_response_minutes": 60}});
    w.api
        .create(&w.admin, "/service-agreements", json!({"name": "Gold", "calendar_id": calendar, "targets": targets, "applies_to": {"kind": "default"}}))
        .await;
    let (contact, portal) = w.api.portal_contact("Olive Owner", "olive@acme.example", Some(&acme), json!({"role": "own_cases"})).await;
    let id = id_of(&w.case(json!({"subject": "Racing", "account_id": acme, "contact_ids": [id_of(&contact)]})).await);
    // WHEN staff and the customer reply at the same moment, several times over (each reply
    // flips the turn, so each writes the turns item and they race for it)
    let path = format!("/cases/{id}/stream");
    for round in 0..4 {
        let replies = [
            post_as(&w.api, &path, &w.admin, format!("staff {round}")),
            post_as(&w.api, &path, &portal, format!("customer {round}")),
            post_as(&w.api, &path, &w.admin, format!("staff again {round}")),
            post_as(&w.api, &path, &portal, format!("customer again {round}")),
        ];
        // THEN every reply lands: a lost race on the turns is retried, never refused
        for reply in futures_util::future::join_all(replies).await {
            assert!(reply.status.is_success(), "{}", reply.body);
        }
    }
    let stream = w.api.call(Method::GET, &format!("/cases/{id}/stream"), Some(&w.admin), None).await;
    let posts = stream.body["items"].as_array().expect("items").iter().filter(|e| e["kind"] == "post").count();
    assert_eq!(posts, 16, "{}", stream.body);
    // AND the clocks read: first response met by one of the staff replies
    assert_eq!(w.get(&w.admin, &id).await["sla"]["first_response"]["state"], "met");
}

async fn post_as(api: &TestApi, path: &str, token: &str, body: String) -> docket_e2e::Reply {
    api.call(Method::POST, path, Some(token), Some(json!({ "body": body }))).await
}
