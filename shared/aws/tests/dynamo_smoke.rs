//! Smoke test of the DynamoDB engine against a real DynamoDB API (moto_server in CI and locally).
//!
//! The cross-engine conformance suite covers the port in depth; this only proves the adapter talks
//! to DynamoDB correctly. Each test works in tables of its own prefix because the tests run in
//! parallel against one server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::Credentials;
use docket_aws::DynamoItemStore;
use docket_aws::config::sdk_config;
use docket_store::{CancelReason, Condition, Cursor, IndexSpec, Item, ItemStore, Key, Query, SortKeyRange, StoreError, TableSpec, Update, WriteOp};
use serde_json::{Value, json};

const CASES: &str = "cases";
const COUNTERS: &str = "counters";
const BY_ASSIGNEE: &str = "by_assignee";

fn tables() -> Vec<TableSpec> {
    vec![
        TableSpec { name: CASES, indexes: vec![IndexSpec { name: BY_ASSIGNEE, partition_attribute: "assignee", sort_attribute: "updated" }] },
        TableSpec { name: COUNTERS, indexes: vec![] },
    ]
}

/// A table prefix no other test (nor an earlier run against the same server) uses.
fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("smoke-{nanos:x}-{}-{}-", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

async fn store() -> DynamoItemStore {
    store_counted(None).await
}

/// A store in tables of its own, its client counted by `tally` when given.
async fn store_counted(tally: Option<&docket_aws::tally::RequestTally>) -> DynamoItemStore {
    let endpoint = std::env::var("DOCKET_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("DOCKET_TEST_AWS_ENDPOINT is not set: run scripts/test.sh which starts moto_server"));
    let shared = sdk_config(Some(&endpoint)).await;
    // The emulator accepts any credentials; fixed ones keep the test independent of the environment.
    let config =
        aws_sdk_dynamodb::config::Builder::from(&shared).credentials_provider(Credentials::new("test", "test", None, None, "docket-smoke-test")).build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let client = match tally {
        Some(tally) => tally.dynamo(&client),
        None => client,
    };
    let store = DynamoItemStore::new(client, unique_prefix(), tables());
    store.create_tables().await.expect("tables are created");
    // A second call must find the tables there and succeed.
    store.create_tables().await.expect("creating tables again is harmless");
    store
}

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("test items are objects, not {other}"),
    }
}

fn sort_keys(items: &[Item]) -> Vec<&str> {
    items.iter().map(|item| item["sk"].as_str().expect("sk is a string")).collect()
}

#[tokio::test]
async fn items_round_trip_with_integers_kept_integral() {
    let store = store().await;
    let original = item(json!({
        "pk": "case#1", "sk": "meta", "count": 42, "negative": -7, "ratio": 0.5,
        "open": true, "closed_at": null, "tags": ["a", 1], "owner": {"id": "u1", "level": 3}
    }));
    store.write(WriteOp::put(CASES, original.clone())).await.expect("put");

    let stored = store.get(CASES, &Key::new("case#1", "meta")).await.expect("get").expect("item exists");
    assert_eq!(stored, original);
    assert!(stored["count"].is_i64(), "integers must come back as integers");
    assert_eq!(store.get(CASES, &Key::new("case#1", "other")).await.expect("get"), None);
    assert!(matches!(store.get("nope", &Key::new("a", "b")).await, Err(StoreError::Validation(_))));
}

#[tokio::test]
async fn conditions_guard_single_writes() {
    let store = store().await;
    let key = Key::new("case#2", "meta");
    let first = item(json!({"pk": "case#2", "sk": "meta", "status": "open"}));
    store.write(WriteOp::put_if(CASES, first.clone(), Condition::NotExists)).await.expect("first put");

    let second = item(json!({"pk": "case#2", "sk": "meta", "status": "hijacked"}));
    let refused = store.write(WriteOp::put_if(CASES, second.clone(), Condition::NotExists)).await;
    assert!(matches!(refused, Err(StoreError::ConditionFailed)), "got {refused:?}");
    assert_eq!(store.get(CASES, &key).await.expect("get"), Some(first));

    let never = Condition::Or(vec![]);
    let refused = store.write(WriteOp::put_if(CASES, second.clone(), never.clone())).await;
    assert!(matches!(refused, Err(StoreError::ConditionFailed)), "empty Or never holds: {refused:?}");

    let guarded = Condition::And(vec![Condition::Exists, Condition::equals("status", "open"), Condition::And(vec![])]);
    store.write(WriteOp::put_if(CASES, second.clone(), guarded)).await.expect("condition holds");
    assert_eq!(store.get(CASES, &key).await.expect("get"), Some(second));

    let check = store.write(WriteOp::check(CASES, key.clone(), Condition::equals("status", "open"))).await;
    assert!(matches!(check, Err(StoreError::ConditionFailed)), "got {check:?}");
    store.write(WriteOp::check(CASES, key.clone(), Condition::Exists)).await.expect("check holds");

    let missing = Key::new("case#missing", "meta");
    let delete = WriteOp::Delete { table: CASES.into(), key: missing, condition: Some(Condition::Exists) };
    assert!(matches!(store.write(delete).await, Err(StoreError::ConditionFailed)));
    store.write(WriteOp::delete(CASES, key.clone())).await.expect("delete");
    assert_eq!(store.get(CASES, &key).await.expect("get"), None);
}

#[tokio::test]
async fn updates_fold_overlapping_changes_and_create_items() {
    let store = store().await;
    let key = Key::new("case#3", "meta");
    let update = Update {
        set: vec![("title".into(), json!("Printer on fire")), ("gone".into(), json!(1)), ("count".into(), json!(10))],
        remove: vec!["gone".into(), "absent".into()],
        add: vec![("count".into(), 5), ("views".into(), 2), ("gone".into(), 3)],
    };
    let write = WriteOp::Update { table: CASES.into(), key: key.clone(), update, condition: Some(Condition::NotExists) };
    store.write(write).await.expect("update creates the item");
    let stored = store.get(CASES, &key).await.expect("get").expect("created");
    assert_eq!(Value::Object(stored), json!({"pk": "case#3", "sk": "meta", "title": "Printer on fire", "count": 15, "views": 2, "gone": 3}));

    let empty_key = Key::new("case#4", "meta");
    let empty = WriteOp::Update { table: CASES.into(), key: empty_key.clone(), update: Update::default(), condition: None };
    store.write(empty).await.expect("empty update");
    let stored = store.get(CASES, &empty_key).await.expect("get");
    assert_eq!(stored.map(Value::Object), Some(json!({"pk": "case#4", "sk": "meta"})));
}

#[tokio::test]
async fn cancelled_transaction_reports_reasons_in_order_and_writes_nothing() {
    let store = store().await;
    let existing = item(json!({"pk": "case#5", "sk": "meta", "status": "open"}));
    store.write(WriteOp::put(CASES, existing.clone())).await.expect("seed");

    let created = item(json!({"pk": "case#6", "sk": "meta"}));
    let ops = vec![
        WriteOp::put(CASES, created.clone()),
        WriteOp::put_if(CASES, existing.clone(), Condition::NotExists),
        WriteOp::Update {
            table: COUNTERS.into(),
            key: Key::new("counter", "cases"),
            update: Update { add: vec![("value".into(), 1)], ..Update::default() },
            condition: Some(Condition::And(vec![])),
        },
        WriteOp::check(CASES, Key::new("case#missing", "meta"), Condition::Exists),
    ];
    let error = store.transact(ops).await.expect_err("transaction must be cancelled");
    match &error {
        StoreError::TransactionCancelled { reasons } => {
            assert_eq!(reasons, &[CancelReason::None, CancelReason::ConditionFailed, CancelReason::None, CancelReason::ConditionFailed])
        }
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(error.failed_operation(), Some(1));
    assert_eq!(store.get(CASES, &Key::new("case#6", "meta")).await.expect("get"), None);
    assert_eq!(store.get(COUNTERS, &Key::new("counter", "cases")).await.expect("get"), None);

    let ops = vec![
        WriteOp::put(CASES, created.clone()),
        WriteOp::check(CASES, Key::new("case#5", "meta"), Condition::equals("status", "open")),
        WriteOp::Update {
            table: COUNTERS.into(),
            key: Key::new("counter", "cases"),
            update: Update { add: vec![("value".into(), 1)], ..Update::default() },
            condition: None,
        },
        WriteOp::delete(CASES, Key::new("case#never", "meta")),
    ];
    store.transact(ops).await.expect("transaction commits");
    assert_eq!(store.get(CASES, &Key::new("case#6", "meta")).await.expect("get"), Some(created.clone()));
    assert_eq!(store.increment(COUNTERS, &Key::new("counter", "cases"), "value", 0).await.expect("read"), 1);

    let twice = vec![WriteOp::put(CASES, created.clone()), WriteOp::delete(CASES, Key::new("case#6", "meta"))];
    assert!(matches!(store.transact(twice).await, Err(StoreError::Validation(_))));
}

#[tokio::test]
async fn increment_counts_atomically_from_zero() {
    let store = store().await;
    let key = Key::new("counter", "tickets");
    assert_eq!(store.increment(COUNTERS, &key, "value", 1).await.expect("first"), 1);
    assert_eq!(store.increment(COUNTERS, &key, "value", 2).await.expect("second"), 3);
    assert_eq!(store.increment(COUNTERS, &key, "value", -10).await.expect("third"), -7);
    let stored = store.get(COUNTERS, &key).await.expect("get").expect("created");
    assert_eq!(stored["value"], json!(-7));
}

#[tokio::test]
async fn queries_page_in_both_directions() {
    let store = store().await;
    for n in 1..=5 {
        let message = item(json!({"pk": "case#7", "sk": format!("msg#{n:03}"), "n": n}));
        store.write(WriteOp::put(CASES, message)).await.expect("put message");
    }
    store.write(WriteOp::put(CASES, item(json!({"pk": "case#7", "sk": "meta"})))).await.expect("put meta");
    store.write(WriteOp::put(CASES, item(json!({"pk": "case#8", "sk": "msg#001"})))).await.expect("put other");

    let messages = Query::table(CASES, "case#7").range(SortKeyRange::BeginsWith("msg#".into())).limit(2);
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = store.query(messages.clone().after(after)).await.expect("page");
        pages += 1;
        seen.extend(sort_keys(&page.items).into_iter().map(str::to_owned));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen, ["msg#001", "msg#002", "msg#003", "msg#004", "msg#005"]);
    assert_eq!(pages, 3);

    let first = store.query(messages.clone().descending()).await.expect("descending");
    assert_eq!(sort_keys(&first.items), ["msg#005", "msg#004"]);
    let second = store.query(messages.clone().descending().after(first.next)).await.expect("descending page 2");
    assert_eq!(sort_keys(&second.items), ["msg#003", "msg#002"]);

    let everything = store.query(Query::table(CASES, "case#7")).await.expect("all");
    assert_eq!(everything.items.len(), 6);
    assert!(everything.next.is_none());
    let between = Query::table(CASES, "case#7").range(SortKeyRange::Between("msg#002".into(), "msg#004".into()));
    assert_eq!(sort_keys(&store.query(between).await.expect("between").items), ["msg#002", "msg#003", "msg#004"]);
    let inverted = Query::table(CASES, "case#7").range(SortKeyRange::Between("msg#004".into(), "msg#002".into()));
    assert!(store.query(inverted).await.expect("inverted between").items.is_empty());
    let at_most = Query::table(CASES, "case#7").range(SortKeyRange::AtMost("msg#002".into())).descending();
    assert_eq!(sort_keys(&store.query(at_most).await.expect("at most").items), ["msg#002", "msg#001", "meta"]);

    let garbage = store.query(messages.clone().after(Some(Cursor("not a cursor!".into())))).await;
    assert!(matches!(garbage, Err(StoreError::InvalidCursor)), "got {garbage:?}");
    assert!(matches!(store.query(messages.clone().limit(0)).await, Err(StoreError::Validation(_))));
    assert!(matches!(store.query(messages.clone().limit(1001)).await, Err(StoreError::Validation(_))));
    assert!(matches!(store.query(Query::index(CASES, "nope", "x")).await, Err(StoreError::Validation(_))));
}

#[tokio::test]
async fn secondary_index_is_sparse_and_pages() {
    let store = store().await;
    let cases = [("case#10", "2024-01-03"), ("case#11", "2024-01-01"), ("case#12", "2024-01-02")];
    for (pk, updated) in cases {
        let case = item(json!({"pk": pk, "sk": "meta", "assignee": "agent#ana", "updated": updated}));
        store.write(WriteOp::put(CASES, case)).await.expect("put case");
    }
    let unassigned = item(json!({"pk": "case#13", "sk": "meta", "updated": "2024-01-04"}));
    store.write(WriteOp::put(CASES, unassigned)).await.expect("put unassigned");
    let other = item(json!({"pk": "case#14", "sk": "meta", "assignee": "agent#bo", "updated": "2024-01-05"}));
    store.write(WriteOp::put(CASES, other)).await.expect("put other");

    let newest_first = Query::index(CASES, BY_ASSIGNEE, "agent#ana").descending().limit(2);
    let first = store.query(newest_first.clone()).await.expect("first page");
    let pks: Vec<_> = first.items.iter().map(|item| item["pk"].clone()).collect();
    assert_eq!(pks, [json!("case#10"), json!("case#12")]);
    let second = store.query(newest_first.after(first.next)).await.expect("second page");
    let pks: Vec<_> = second.items.iter().map(|item| item["pk"].clone()).collect();
    assert_eq!(pks, [json!("case#11")]);
    assert!(second.next.is_none());

    let january_second_on = Query::index(CASES, BY_ASSIGNEE, "agent#ana").range(SortKeyRange::AtLeast("2024-01-02".into()));
    let page = store.query(january_second_on).await.expect("range on index");
    let updated: Vec<_> = page.items.iter().map(|item| item["updated"].clone()).collect();
    assert_eq!(updated, [json!("2024-01-02"), json!("2024-01-03")]);
}

#[tokio::test]
async fn the_tally_counts_each_request_and_its_units_by_the_published_rules() {
    let tally = docket_aws::tally::RequestTally::new();
    let store = store_counted(Some(&tally)).await;
    tally.reset();
    // An item of about 2.5 KB: three write units, one strongly consistent read unit.
    let big = item(json!({"pk": "case#t", "sk": "meta", "text": "x".repeat(2500)}));
    store.write(WriteOp::put(CASES, big)).await.expect("put");
    store.get(CASES, &Key::new("case#t", "meta")).await.expect("get").expect("found");
    store.get(CASES, &Key::new("case#t", "missing")).await.expect("get");
    // A transaction of two small puts: two units each.
    let small = |sk: &str| WriteOp::put(CASES, item(json!({"pk": "case#t", "sk": sk})));
    store.transact(vec![small("a"), small("b")]).await.expect("transaction commits");
    let counts = tally.snapshot();
    let of = |operation: &str| *counts.get(&("DynamoDB".to_owned(), operation.to_owned())).unwrap_or_else(|| panic!("{operation} counted: {counts:?}"));
    let put = of("PutItem");
    assert_eq!((put.calls, put.attempts, put.write_units, put.assumed_write_units), (1, 1, 3.0, 0.0));
    assert!(put.bytes_sent > 2500, "the request carried the item: {put:?}");
    let get = of("GetItem");
    assert_eq!((get.calls, get.read_units, get.write_units), (2, 2.0, 0.0), "a miss costs the minimum too");
    assert!(get.bytes_received > 2500, "the answer carried the item: {get:?}");
    assert_eq!(of("TransactWriteItems").write_units, 4.0);
    assert!(!counts.contains_key(&("DynamoDB".to_owned(), "CreateTable".to_owned())), "reset forgot the setup: {counts:?}");
}
