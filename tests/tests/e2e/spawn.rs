//! Spawning a case from a stream entry (issue 16, item 4) through the API on both engines: an
//! entry of case 7 becomes case 8, a child of 7 for the same customer, quoting the entry; what
//! was internal stays away from customers; and only staff who may see the case can do it.

use axum::http::{Method, StatusCode};
use docket_e2e::{Engine, TestApi, id_of, on_both_engines};
use serde_json::{Value, json};

on_both_engines!(an_entry_of_a_case_becomes_a_child_case_for_the_same_customer, a_case_from_an_internal_note_stays_internal, spawning_is_checked,);

struct World {
    api: TestApi,
    admin: String,
    portal: String,
    case: Value,
}

/// A case of Acme's customer Ada, who has the portal, with her post on it.
async fn world(engine: Engine) -> World {
    let api = TestApi::new(engine).await;
    let admin = api.admin_token();
    let acme = id_of(&api.create(&admin, "/accounts", json!({"name": "Acme"})).await);
    let (ada, portal) = api.portal_contact("Ada", "ada@acme.example", Some(&acme), json!({"role": "own_cases"})).await;
    let case = api
        .create(
            &admin,
            "/cases",
            json!({"subject": "Printer on fire", "contact_ids": [id_of(&ada)], "account_id": acme, "category": "Hardware", "type": "Incident"}),
        )
        .await;
    World { api, admin, portal, case }
}

impl World {
    async fn post(&self, token: &str, body: Value) -> Value {
        let reply = self.api.call(Method::POST, &format!("/cases/{}/stream", id_of(&self.case)), Some(token), Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body
    }

    async fn spawn(&self, token: &str, entry_id: &str, body: Value) -> docket_e2e::Reply {
        self.api.call(Method::POST, &format!("/cases/{}/stream/{entry_id}/cases", self.case["number"]), Some(token), Some(body)).await
    }
}

async fn an_entry_of_a_case_becomes_a_child_case_for_the_same_customer(engine: Engine) {
    // GIVEN case 7 and the customer's post on it about another problem
    let w = world(engine).await;
    let entry = w.post(&w.portal, json!({"body": "Also, the scanner is broken.\nIt beeps."})).await;
    // WHEN an agent opens a case from that post
    let reply = w.spawn(&w.admin, &id_of(&entry), json!({"subject": "Scanner beeps"})).await;
    // THEN it is a new case, a child of 7, for the same contact, account, category and type
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let spawned = reply.body;
    assert_ne!(spawned["id"], w.case["id"]);
    assert_eq!(spawned["subject"], "Scanner beeps");
    assert_eq!(spawned["parent_id"], w.case["id"]);
    for field in ["contact_ids", "account_id", "category", "type"] {
        assert_eq!(spawned[field], w.case[field], "{field}");
    }
    assert_eq!(spawned["internal"], false);
    // AND its description quotes the entry under where it comes from
    let description = spawned["description"].as_str().expect("a description");
    assert!(description.starts_with(&format!("From case [#{}], entry of ", w.case["number"])), "{description}");
    assert!(description.ends_with("> Also, the scanner is broken.\n> It beeps.\n"), "{description}");
    // AND case 7 lists it among its children, and the customer sees it in the portal
    let children = w.api.call(Method::GET, &format!("/cases?parent_id={}", id_of(&w.case)), Some(&w.admin), None).await;
    assert_eq!(children.body["items"].as_array().expect("items").iter().map(id_of).collect::<Vec<_>>(), vec![id_of(&spawned)]);
    let seen = w.api.call(Method::GET, &format!("/cases/{}", id_of(&spawned)), Some(&w.portal), None).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    // AND without a subject it takes case 7's; a retry with the same key gets the same case
    let key = [("Idempotency-Key", "spawn-1")];
    let path = format!("/cases/{}/stream/{}/cases", id_of(&w.case), id_of(&entry));
    let first = w.api.send(Method::POST, &path, Some(&w.admin), &key, Some("{}".into())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["subject"], "Printer on fire");
    let again = w.api.send(Method::POST, &path, Some(&w.admin), &key, Some("{}".into())).await;
    assert_eq!((again.status, &again.body["id"]), (StatusCode::OK, &first.body["id"]), "{}", again.body);
}

async fn a_case_from_an_internal_note_stays_internal(engine: Engine) {
    // GIVEN an internal note on the customer's case
    let w = world(engine).await;
    let note = w.post(&w.admin, json!({"body": "SECRET: the customer owes us for the last repair", "internal": true})).await;
    // WHEN an agent opens a case from it
    let reply = w.spawn(&w.admin, &id_of(&note), json!({"subject": "Chase the repair invoice"})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let spawned = reply.body;
    // THEN the new case is internal: the customer neither reads it nor finds it in a list
    assert_eq!(spawned["internal"], true);
    assert!(spawned["description"].as_str().is_some_and(|d| d.contains("SECRET")));
    let read = w.api.call(Method::GET, &format!("/cases/{}", id_of(&spawned)), Some(&w.portal), None).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.body);
    let list = w.api.call(Method::GET, "/cases", Some(&w.portal), None).await;
    assert!(!list.body.to_string().contains("SECRET"), "{}", list.body);
    assert!(!list.body.to_string().contains(&id_of(&spawned)), "{}", list.body);
}

async fn spawning_is_checked(engine: Engine) {
    let w = world(engine).await;
    let entry = w.post(&w.portal, json!({"body": "Hello"})).await;
    // A system entry (the case's creation) is no message
    let stream = w.api.call(Method::GET, &format!("/cases/{}/stream", id_of(&w.case)), Some(&w.admin), None).await;
    let created = stream.body["items"].as_array().expect("items").iter().find(|e| e["kind"] == "system").expect("the creation entry").clone();
    w.spawn(&w.admin, &id_of(&created), json!({})).await.assert_problem(422, Some("entry_id"));
    // An unknown entry, or an entry of another case named through this one, is not found
    w.spawn(&w.admin, "01NOSUCHENTRY0000000000000", json!({})).await.assert_problem(404, None);
    w.spawn(&w.admin, "not%20an%20id", json!({})).await.assert_problem(404, None);
    let other = w.api.create(&w.admin, "/cases", json!({"subject": "Other"})).await;
    let reply = w.api.call(Method::POST, &format!("/cases/{}/stream/{}/cases", id_of(&other), id_of(&entry)), Some(&w.admin), Some(json!({}))).await;
    reply.assert_problem(404, None);
    // Bad fields are named
    w.spawn(&w.admin, &id_of(&entry), json!({"subject": ""})).await.assert_problem(422, Some("subject"));
    w.spawn(&w.admin, &id_of(&entry), json!({"priority": "Urgent"})).await.assert_problem(422, None);
    // Portal users cannot spawn, and an agent who may not see the case finds nothing
    w.spawn(&w.portal, &id_of(&entry), json!({})).await.assert_problem(403, None);
    let own = w.api.create(&w.admin, "/users", json!({"name": "Own Scope", "email": "own@agents.example", "role": "agent", "scope": "own"})).await;
    let own_token = w.api.token(&id_of(&own));
    w.spawn(&own_token, &id_of(&entry), json!({})).await.assert_problem(404, None);
    // AND none of that opened a case
    let all = w.api.call(Method::GET, "/cases", Some(&w.admin), None).await;
    assert_eq!(all.body["items"].as_array().expect("items").len(), 2, "{}", all.body);
}
