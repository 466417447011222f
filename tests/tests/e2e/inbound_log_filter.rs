//! `GET /inbound-log?outcome=` on both engines: only the lines of one outcome, newest first,
//! paged without losing or repeating a line, cursors kept to their filter, unknown outcomes
//! refused naming the parameter, and a filtered read that stops after its scan budget and goes
//! on from where it stopped.

use axum::http::Method;
use docket_domain::inbound::{Inbound, InboundLogEntry, InboundOutcome, MAX_LOG_LINES_SCANNED};
use docket_domain::schema::{CASES, case_keys};
use docket_e2e::{Engine, TestApi, id_of, on_both_engines, raw_message};
use docket_store::WriteOp;
use serde_json::{Value, json};

on_both_engines!(
    the_log_filters_by_outcome_and_pages_through_every_line_once,
    filter_cursors_stay_with_their_filter_and_bad_outcomes_are_refused,
    a_filtered_read_stops_after_its_scan_budget_and_goes_on,
);

const GET: Method = Method::GET;

async fn api(engine: Engine) -> TestApi {
    let blobs = docket_e2e::blobs(engine).await;
    TestApi::with_docket(docket_e2e::docket(engine).await.with_blobs(blobs)).await
}

/// Delivers a message to `to` through the inbound pipeline.
async fn receive(api: &TestApi, to: &str, n: usize) -> InboundLogEntry {
    let settings = docket_e2e::test_mail_settings();
    let pipeline = Inbound { docket: &api.docket, mailer: None, settings: &settings };
    let raw =
        raw_message(&format!("customer{n}@customer.test"), to, &format!("Message {n}"), &format!("m{n}-{}@customer.test", ulid::Ulid::new()), "", "Hello");
    pipeline.receive(docket_e2e::plain_delivery(to, raw)).await.expect("pipeline")
}

/// Every line of a log read (`query`: `&outcome=…` or nothing), `limit` at a time, checking
/// each page keeps to it.
async fn read_all(api: &TestApi, query: &str, limit: usize) -> Vec<Value> {
    let (mut all, mut cursor) = (Vec::new(), None::<String>);
    let admin = api.admin_token();
    for _ in 0..100 {
        let path = match &cursor {
            Some(c) => format!("/inbound-log?limit={limit}{query}&cursor={c}"),
            None => format!("/inbound-log?limit={limit}{query}"),
        };
        let reply = api.call(GET, &path, Some(&admin), None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let items = reply.body["items"].as_array().expect("items").clone();
        assert!(items.len() <= limit, "{path}: {} items", items.len());
        all.extend(items);
        match reply.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
    panic!("the log read {query} does not end");
}

fn ids(lines: &[Value]) -> Vec<String> {
    lines.iter().map(id_of).collect()
}

async fn the_log_filters_by_outcome_and_pages_through_every_line_once(engine: Engine) {
    // GIVEN a mailbox, and mail to it and to nowhere, interleaved
    let api = api(engine).await;
    let admin = api.admin_token();
    let address = format!("support-{}@acme.test", ulid::Ulid::new().to_string().to_lowercase());
    api.create(&admin, "/mailboxes", json!({"name": "Support", "addresses": [address]})).await;
    for n in 0..12 {
        let to = if n % 3 == 0 { address.as_str() } else { "nowhere@acme.test" };
        let line = receive(&api, to, n).await;
        let expected = if n % 3 == 0 { InboundOutcome::Created } else { InboundOutcome::Rejected };
        assert_eq!(line.outcome, expected, "{line:?}");
    }
    let everything = read_all(&api, "", 100).await;
    assert_eq!(everything.len(), 12);
    // WHEN the log is read by outcome, a few lines at a time
    for (outcome, count) in [("rejected", 8), ("created", 4)] {
        let lines = read_all(&api, &format!("&outcome={outcome}"), 3).await;
        // THEN exactly the lines of that outcome come, each once, newest first as in the whole log
        assert_eq!(lines.len(), count, "{outcome}");
        assert!(lines.iter().all(|l| l["outcome"] == outcome), "{outcome}: {lines:?}");
        let expected: Vec<Value> = everything.iter().filter(|l| l["outcome"] == outcome).cloned().collect();
        assert_eq!(ids(&lines), ids(&expected), "{outcome}");
    }
    // AND an outcome nothing had gives an empty page without a cursor
    let none = api.call(GET, "/inbound-log?outcome=quarantined", Some(&admin), None).await;
    assert_eq!(none.status, 200, "{}", none.body);
    assert_eq!(none.body, json!({"items": [], "next_cursor": null}));
}

async fn filter_cursors_stay_with_their_filter_and_bad_outcomes_are_refused(engine: Engine) {
    let api = api(engine).await;
    let admin = api.admin_token();
    for n in 0..4 {
        receive(&api, "nowhere@acme.test", n).await;
    }
    // GIVEN cursors of a filtered read and of the whole log
    let page = |path: &'static str| {
        let api = &api;
        let admin = admin.clone();
        async move {
            let reply = api.call(GET, path, Some(&admin), None).await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.body);
            reply.body["next_cursor"].as_str().expect("a full page has a cursor").to_owned()
        }
    };
    let rejected = page("/inbound-log?outcome=rejected&limit=1").await;
    let whole = page("/inbound-log?limit=1").await;
    // WHEN a cursor is used with another filter, or none THEN it is refused naming the cursor
    for path in [
        format!("/inbound-log?outcome=created&limit=1&cursor={rejected}"),
        format!("/inbound-log?limit=1&cursor={rejected}"),
        format!("/inbound-log?outcome=rejected&limit=1&cursor={whole}"),
        "/inbound-log?outcome=rejected&cursor=bm90IGEgY3Vyc29y".to_owned(),
    ] {
        api.call(GET, &path, Some(&admin), None).await.assert_problem(422, Some("cursor"));
    }
    // AND with its own filter it goes on
    let next = api.call(GET, &format!("/inbound-log?outcome=rejected&limit=2&cursor={rejected}"), Some(&admin), None).await;
    assert_eq!(next.status, 200, "{}", next.body);
    assert_eq!(next.body["items"].as_array().map(Vec::len), Some(2));
    // AND an unknown outcome is refused naming the parameter, in any spelling but the API's
    for bad in ["bogus", "Rejected", "", "new-linked"] {
        api.call(GET, &format!("/inbound-log?outcome={bad}"), Some(&admin), None).await.assert_problem(400, Some("outcome"));
    }
    assert_eq!(api.call(GET, "/inbound-log?outcome=new_linked", Some(&admin), None).await.status, 200);
    // AND only admins read it, filtered or not
    let agent = api.create(&admin, "/users", json!({"name": "Ann", "email": "ann@agents.test", "role": "agent"})).await;
    api.call(GET, "/inbound-log?outcome=rejected", Some(&api.token(&id_of(&agent))), None).await.assert_problem(403, None);
    let (_, portal) = api.portal_contact("Peter", "peter@initech.test", None, json!({"role": "own_cases"})).await;
    api.call(GET, "/inbound-log?outcome=rejected", Some(&portal), None).await.assert_problem(403, None);
    api.call(GET, "/inbound-log?outcome=rejected", None, None).await.assert_problem(401, None);
}

async fn a_filtered_read_stops_after_its_scan_budget_and_goes_on(engine: Engine) {
    // GIVEN one quarantined line, older than more lines of another outcome than one read examines
    let api = api(engine).await;
    let line = |n: usize, outcome: InboundOutcome| InboundLogEntry {
        id: format!("01TEST{n:020}"),
        received_at: time::OffsetDateTime::UNIX_EPOCH,
        source_id: format!("test:{n}"),
        message_id: None,
        from: None,
        to: vec![],
        subject: None,
        outcome,
        rule: None,
        reason: "written by the test".into(),
        mailbox_id: None,
        case_id: None,
        case_number: None,
        raw_blob_key: None,
        acknowledged: false,
    };
    let total = MAX_LOG_LINES_SCANNED + 20;
    let items: Vec<WriteOp> = (0..total)
        .map(|n| {
            let entry = line(n, if n == 0 { InboundOutcome::Quarantined } else { InboundOutcome::Created });
            let key = case_keys::inbound_log(&entry.id);
            let mut item = serde_json::to_value(&entry).expect("json").as_object().cloned().expect("object");
            item.insert("pk".into(), key.pk.into());
            item.insert("sk".into(), key.sk.into());
            WriteOp::put(CASES, item)
        })
        .collect();
    for chunk in items.chunks(docket_store::MAX_TRANSACTION_OPS) {
        api.docket.store().transact(chunk.to_vec()).await.expect("write log lines");
    }
    // WHEN the admin reads the quarantined lines
    let admin = api.admin_token();
    let first = api.call(GET, "/inbound-log?outcome=quarantined&limit=5", Some(&admin), None).await;
    // THEN the first read stops after its budget with nothing found, and says where to go on
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["items"], json!([]));
    let cursor = first.body["next_cursor"].as_str().expect("the read stopped early: it has a cursor");
    // AND the next read finds the line, and the end
    let second = api.call(GET, &format!("/inbound-log?outcome=quarantined&limit=5&cursor={cursor}"), Some(&admin), None).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(ids(second.body["items"].as_array().expect("items")), vec![format!("01TEST{:020}", 0)]);
    assert_eq!(second.body["next_cursor"], Value::Null);
    // AND a filter that finds lines fast still stops at its limit and goes on without a gap
    let created = read_all(&api, "&outcome=created", 100).await;
    assert_eq!(created.len(), total - 1);
    let mut sorted = ids(&created);
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(sorted, ids(&created), "newest first, each once");
}
