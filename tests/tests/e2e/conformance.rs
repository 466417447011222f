//! The conformance suite of the item-store port (`docket_store::ItemStore`).
//!
//! Every test below is one set of assertions, run identically on the SQLite engine and on the
//! DynamoDB engine (through the emulator): `on_both_engines!` turns each `async fn name(engine)`
//! into the tests `sqlite::name` and `dynamo::name`. The tables are the suite's own, not Docket's:
//! `items` with the sparse index `by_owner` (owner, rank), and `counters` without indexes.
//!
//! Each test reads GIVEN / WHEN / THEN. Whenever a write is refused, the suite checks that the
//! stored state did not move.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use docket_e2e::{Engine, store_with};
use docket_store::{CancelReason, Condition, Cursor, IndexSpec, Item, ItemStore, Key, Page, Query, SortKeyRange, StoreError, TableSpec, Update, WriteOp};
use serde_json::{Value, json};

const ITEMS: &str = "items";
const COUNTERS: &str = "counters";
const BY_OWNER: &str = "by_owner";

fn tables() -> Vec<TableSpec> {
    vec![
        TableSpec { name: ITEMS, indexes: vec![IndexSpec { name: BY_OWNER, partition_attribute: "owner", sort_attribute: "rank" }] },
        TableSpec { name: COUNTERS, indexes: vec![] },
    ]
}

// -------------------------------------------------------------------------------------------------
// Helpers

/// A fresh, empty store of the engine with the suite's tables.
async fn fresh(engine: Engine) -> Arc<dyn ItemStore> {
    store_with(engine, tables()).await
}

fn item(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        other => panic!("an item must be a JSON object, not {other}"),
    }
}

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

async fn put(store: &dyn ItemStore, table: &str, value: Value) {
    store.write(WriteOp::put(table, item(value))).await.expect("unconditional put");
}

async fn get(store: &dyn ItemStore, table: &str, pk: &str, sk: &str) -> Option<Item> {
    store.get(table, &key(pk, sk)).await.expect("get")
}

/// The stored item, which must exist.
async fn stored(store: &dyn ItemStore, table: &str, pk: &str, sk: &str) -> Value {
    Value::Object(get(store, table, pk, sk).await.unwrap_or_else(|| panic!("{table}/{pk}/{sk} is missing")))
}

fn update_op(table: &str, key: Key, update: Update, condition: Option<Condition>) -> WriteOp {
    WriteOp::Update { table: table.to_owned(), key, update, condition }
}

fn delete_if(table: &str, key: Key, condition: Condition) -> WriteOp {
    WriteOp::Delete { table: table.to_owned(), key, condition: Some(condition) }
}

fn sets(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()
}

fn sort_keys(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i["sk"].as_str().expect("sk is a string").to_owned()).collect()
}

fn item_keys(items: &[Item]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| {
            let k = Key::of(i).expect("every returned item carries its keys");
            (k.pk, k.sk)
        })
        .collect()
}

fn ranks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i["rank"].as_str().expect("indexed items carry a rank").to_owned()).collect()
}

/// One query answered in a single page (the limit is far above the result size).
async fn all(store: &dyn ItemStore, query: Query) -> Vec<Item> {
    let page = store.query(query.limit(1000)).await.expect("query");
    assert!(page.next.is_none(), "a short page must not carry a cursor");
    page.items
}

/// Reads a query page by page, checking on every page the paging contract of the port: no page
/// is larger than the limit, a full page carries `next`, a short page ends the results.
async fn read_pages(store: &dyn ItemStore, query: Query) -> Vec<Page> {
    let limit = query.limit;
    let mut pages: Vec<Page> = Vec::new();
    let mut after: Option<Cursor> = None;
    loop {
        let page = store.query(query.clone().after(after.take())).await.expect("query page");
        assert!(page.items.len() <= limit, "page {} holds {} items, limit {limit}", pages.len(), page.items.len());
        if page.items.len() == limit {
            assert!(page.next.is_some(), "page {} is full but carries no cursor", pages.len());
        } else {
            assert!(page.next.is_none(), "page {} is short yet carries a cursor", pages.len());
        }
        after = page.next.clone();
        pages.push(page);
        if after.is_none() {
            return pages;
        }
        assert!(pages.len() <= 200, "paging does not end");
    }
}

fn concatenated(pages: &[Page]) -> Vec<Item> {
    pages.iter().flat_map(|p| p.items.iter().cloned()).collect()
}

fn page_sizes(pages: &[Page]) -> Vec<usize> {
    pages.iter().map(|p| p.items.len()).collect()
}

fn assert_no_duplicates(items: &[Item]) {
    let keys = item_keys(items);
    let distinct: HashSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "duplicates in {keys:?}");
}

macro_rules! assert_refused {
    ($result:expr, $pattern:pat) => {{
        let result = $result;
        assert!(matches!(result, Err($pattern)), "expected Err({}), got {:?}", stringify!($pattern), result);
    }};
}

// -------------------------------------------------------------------------------------------------
// 1. Put and get

async fn round_trip_keeps_every_json_type(engine: Engine) {
    // GIVEN an item holding every kind of JSON value
    let store = fresh(engine).await;
    let original = json!({
        "pk": "round", "sk": "trip",
        "text": "héllo \"quoted\" ✓\n\ttabbed",
        "empty_text": "",
        "zero": 0, "int": 42, "negative": -7, "max": i64::MAX, "min": i64::MIN,
        "half": 1.5, "negative_fraction": -0.25, "tiny": 1e-7, "pi": std::f64::consts::PI, "avogadro": 6.02e23,
        "yes": true, "no": false, "nothing": null,
        "list": [1, "two", 3.5, false, null, [], {}, [1, [2]]],
        "empty_list": [], "empty_map": {},
        "map": {"nested": {"deeper": [1, {"x": "y"}]}, "n": 2, "f": 0.5, "t": true, "z": null}
    });

    // WHEN it is put and read back
    put(&*store, ITEMS, original.clone()).await;
    let read = get(&*store, ITEMS, "round", "trip").await.expect("the stored item is found");

    // THEN it is exactly what was written, integers still integers and floats still floats
    assert_eq!(Value::Object(read.clone()), original);
    for name in ["zero", "int", "negative", "max", "min"] {
        assert!(read[name].is_i64(), "{name} should read back as an i64: {}", read[name]);
    }
    assert_eq!(read["max"].as_i64(), Some(i64::MAX));
    assert_eq!(read["min"].as_i64(), Some(i64::MIN));
    assert_eq!(read["negative"].as_i64(), Some(-7));
    assert!(read["map"]["n"].is_i64() && read["list"][0].is_i64());
    for name in ["half", "negative_fraction", "tiny", "pi", "avogadro"] {
        assert!(read[name].is_f64(), "{name} should read back as a float: {}", read[name]);
    }
    assert_eq!(read["pi"].as_f64(), Some(std::f64::consts::PI));
    assert_eq!(read["tiny"].as_f64(), Some(1e-7));
    assert!(read["map"]["f"].is_f64());
    assert_eq!(read["nothing"], Value::Null);
    assert!(read.contains_key("nothing"), "a null attribute is kept, not dropped");
    assert_eq!(read["yes"], Value::Bool(true));
    assert_eq!(read["no"], Value::Bool(false));

    // AND an item that was never written is None: other sk, other pk, same key in the other table
    assert_eq!(get(&*store, ITEMS, "round", "trap").await, None);
    assert_eq!(get(&*store, ITEMS, "Round", "trip").await, None);
    assert_eq!(get(&*store, COUNTERS, "round", "trip").await, None);
}

async fn whole_floats_read_back_as_integers(engine: Engine) {
    // GIVEN floats whose values are whole, at the top and nested, beside a fractional one
    // (DynamoDB numbers carry no integer/float type, so 2.0 and 2 are one number)
    let store = fresh(engine).await;
    put(&*store, ITEMS, json!({"pk": "num", "sk": "1", "two": 2.0, "negative_zero": -0.0, "big": 1e18, "half": 2.5, "nested": {"list": [3.0, 3.5]}})).await;

    // WHEN the item is read back
    let read = stored(&*store, ITEMS, "num", "1").await;

    // THEN both engines give the whole values back as integers, and the fraction as a float
    assert_eq!(
        read,
        json!({"pk": "num", "sk": "1", "two": 2, "negative_zero": 0, "big": 1_000_000_000_000_000_000_i64, "half": 2.5, "nested": {"list": [3, 3.5]}})
    );
    assert!(read["two"].is_i64() && read["big"].is_i64() && read["nested"]["list"][0].is_i64());
    assert!(read["half"].is_f64());

    // AND such a number counts like any integer
    assert_eq!(store.increment(ITEMS, &key("num", "1"), "two", 1).await.expect("increment"), 3);
}

async fn put_replaces_the_whole_item(engine: Engine) {
    // GIVEN a stored item with several attributes
    let store = fresh(engine).await;
    put(&*store, ITEMS, json!({"pk": "p", "sk": "s", "a": 1, "b": "two", "c": [3]})).await;

    // WHEN another put writes the same key with other attributes
    put(&*store, ITEMS, json!({"pk": "p", "sk": "s", "b": "deux", "d": true})).await;

    // THEN the item is the new one only: attributes missing from it are gone
    assert_eq!(stored(&*store, ITEMS, "p", "s").await, json!({"pk": "p", "sk": "s", "b": "deux", "d": true}));
}

// -------------------------------------------------------------------------------------------------
// 2. Conditions

async fn put_if_not_exists_refuses_an_existing_item(engine: Engine) {
    // GIVEN a stored item
    let store = fresh(engine).await;
    let first = json!({"pk": "user", "sk": "ana", "name": "Ana", "version": 1});
    put(&*store, ITEMS, first.clone()).await;

    // WHEN a put with NotExists writes the same key
    let result = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "user", "sk": "ana", "name": "Impostor"})), Condition::NotExists)).await;

    // THEN it fails with ConditionFailed and the item is unchanged
    assert_refused!(result, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "user", "ana").await, first);

    // AND a put with NotExists of a new key succeeds
    let fresh_item = json!({"pk": "user", "sk": "bo", "name": "Bo"});
    store.write(WriteOp::put_if(ITEMS, item(fresh_item.clone()), Condition::NotExists)).await.expect("new key");
    assert_eq!(stored(&*store, ITEMS, "user", "bo").await, fresh_item);

    // AND a put with Exists of a missing key fails and creates nothing
    let result = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "user", "sk": "cy"})), Condition::Exists)).await;
    assert_refused!(result, StoreError::ConditionFailed);
    assert_eq!(get(&*store, ITEMS, "user", "cy").await, None);
}

async fn equals_condition_guards_the_version(engine: Engine) {
    // GIVEN an item at version 3
    let store = fresh(engine).await;
    let v3 = json!({"pk": "doc", "sk": "1", "version": 3, "body": "three"});
    put(&*store, ITEMS, v3.clone()).await;

    // WHEN a put expects version 2
    let result =
        store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "doc", "sk": "1", "version": 4, "body": "stale"})), Condition::equals("version", 2))).await;
    // THEN it fails and the item is unchanged
    assert_refused!(result, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "doc", "1").await, v3);

    // WHEN the version is compared with the text "3" (another type)
    let result = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "doc", "sk": "1", "version": 4})), Condition::equals("version", "3"))).await;
    // THEN it fails too: values of different types are never equal
    assert_refused!(result, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "doc", "1").await, v3);

    // WHEN a put expects the current version 3
    let v4 = json!({"pk": "doc", "sk": "1", "version": 4, "body": "four"});
    store.write(WriteOp::put_if(ITEMS, item(v4.clone()), Condition::equals("version", 3))).await.expect("matching version");
    // THEN it is written
    assert_eq!(stored(&*store, ITEMS, "doc", "1").await, v4);

    // WHEN the expected version is given as the float 4.0
    let v5 = json!({"pk": "doc", "sk": "1", "version": 5, "body": "five"});
    store.write(WriteOp::put_if(ITEMS, item(v5.clone()), Condition::equals("version", 4.0))).await.expect("numbers compare by value");
    // THEN it holds, as numbers compare by value
    assert_eq!(stored(&*store, ITEMS, "doc", "1").await, v5);

    // WHEN Equals names an attribute the item lacks, or an item that does not exist
    let lacks = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "doc", "sk": "1"})), Condition::equals("owner", "ana"))).await;
    let missing = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "doc", "sk": "2", "version": 1})), Condition::equals("version", 0))).await;
    // THEN both fail and nothing moves
    assert_refused!(lacks, StoreError::ConditionFailed);
    assert_refused!(missing, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "doc", "1").await, v5);
    assert_eq!(get(&*store, ITEMS, "doc", "2").await, None);

    // AND Equals compares nested values and strings exactly
    let nested = json!({"pk": "doc", "sk": "3", "meta": {"tags": ["a", "b"]}, "state": "open"});
    put(&*store, ITEMS, nested.clone()).await;
    let wrong_order = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "doc", "sk": "3"})), Condition::equals("meta", json!({"tags": ["b", "a"]})))).await;
    let wrong_case = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "doc", "sk": "3"})), Condition::equals("state", "Open"))).await;
    assert_refused!(wrong_order, StoreError::ConditionFailed);
    assert_refused!(wrong_case, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "doc", "3").await, nested);
    store
        .write(WriteOp::put_if(ITEMS, item(json!({"pk": "doc", "sk": "3", "ok": true})), Condition::equals("meta", json!({"tags": ["a", "b"]}))))
        .await
        .expect("equal nested value");
    assert_eq!(stored(&*store, ITEMS, "doc", "3").await, json!({"pk": "doc", "sk": "3", "ok": true}));
}

async fn attribute_exists_and_not_exists(engine: Engine) {
    // GIVEN an item with attribute `a` and a null attribute `nothing`, without `b`
    let store = fresh(engine).await;
    let original = json!({"pk": "attr", "sk": "1", "a": 1, "nothing": null});
    put(&*store, ITEMS, original.clone()).await;
    let replacement = || item(json!({"pk": "attr", "sk": "1", "replaced": true}));

    // WHEN writes require the absent `b`, or the absence of the present `a`
    let needs_b = store.write(WriteOp::put_if(ITEMS, replacement(), Condition::AttributeExists("b".into()))).await;
    let needs_no_a = store.write(WriteOp::put_if(ITEMS, replacement(), Condition::AttributeNotExists("a".into()))).await;
    // THEN both fail and the item is unchanged
    assert_refused!(needs_b, StoreError::ConditionFailed);
    assert_refused!(needs_no_a, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "attr", "1").await, original);

    // AND an attribute holding null exists
    let needs_no_nothing = store.write(WriteOp::put_if(ITEMS, replacement(), Condition::AttributeNotExists("nothing".into()))).await;
    assert_refused!(needs_no_nothing, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "attr", "1").await, original);

    // WHEN writes require what holds
    store.write(WriteOp::put_if(ITEMS, replacement(), Condition::AttributeExists("nothing".into()))).await.expect("null exists");
    assert_eq!(stored(&*store, ITEMS, "attr", "1").await, Value::Object(replacement()));
    store.write(WriteOp::put_if(ITEMS, replacement(), Condition::AttributeNotExists("b".into()))).await.expect("b is absent");

    // AND on a missing item every attribute is absent
    let on_missing = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "attr", "sk": "2"})), Condition::AttributeExists("a".into()))).await;
    assert_refused!(on_missing, StoreError::ConditionFailed);
    assert_eq!(get(&*store, ITEMS, "attr", "2").await, None);
    store
        .write(WriteOp::put_if(ITEMS, item(json!({"pk": "attr", "sk": "2", "new": 1})), Condition::AttributeNotExists("a".into())))
        .await
        .expect("absent attribute of a missing item");
    assert_eq!(stored(&*store, ITEMS, "attr", "2").await, json!({"pk": "attr", "sk": "2", "new": 1}));
}

async fn and_or_conditions(engine: Engine) {
    // GIVEN an item with status open and a = 1
    let store = fresh(engine).await;
    let original = json!({"pk": "logic", "sk": "1", "status": "open", "a": 1});
    put(&*store, ITEMS, original.clone()).await;
    let next = |n: i64| item(json!({"pk": "logic", "sk": "1", "status": "open", "a": n}));

    // WHEN conditions that do not hold are combined
    let failing = [
        Condition::And(vec![Condition::Exists, Condition::equals("a", 2)]),
        Condition::And(vec![Condition::equals("status", "open"), Condition::AttributeExists("b".into())]),
        Condition::Or(vec![Condition::equals("a", 2), Condition::equals("status", "closed")]),
        Condition::Or(vec![Condition::NotExists, Condition::And(vec![Condition::equals("a", 1), Condition::equals("status", "closed")])]),
        // An empty Or never holds.
        Condition::Or(vec![]),
        Condition::And(vec![Condition::Exists, Condition::Or(vec![])]),
    ];
    for condition in failing {
        let result = store.write(WriteOp::put_if(ITEMS, next(99), condition.clone())).await;
        // THEN each fails and the item is unchanged
        assert!(matches!(result, Err(StoreError::ConditionFailed)), "{condition:?} gave {result:?}");
        assert_eq!(stored(&*store, ITEMS, "logic", "1").await, original, "after {condition:?}");
    }

    // WHEN conditions that hold are combined
    let holding = [
        Condition::And(vec![Condition::Exists, Condition::equals("a", 1), Condition::equals("status", "open")]),
        Condition::Or(vec![Condition::equals("a", 7), Condition::AttributeExists("status".into())]),
        Condition::Or(vec![Condition::NotExists, Condition::And(vec![Condition::equals("status", "open"), Condition::AttributeNotExists("b".into())])]),
        // An empty And always holds.
        Condition::And(vec![]),
        Condition::Or(vec![Condition::Or(vec![]), Condition::And(vec![])]),
    ];
    for (n, condition) in holding.into_iter().enumerate() {
        let n = i64::try_from(n).expect("small") + 1;
        store.write(WriteOp::put_if(ITEMS, next(n), condition.clone())).await.unwrap_or_else(|e| panic!("{condition:?}: {e}"));
        // THEN each is written (and `a` keeps the other conditions true)
        assert_eq!(stored(&*store, ITEMS, "logic", "1").await["a"], json!(n), "after {condition:?}");
    }
}

async fn delete_with_a_failing_condition_keeps_the_item(engine: Engine) {
    // GIVEN an open item
    let store = fresh(engine).await;
    let original = json!({"pk": "del", "sk": "1", "status": "open"});
    put(&*store, ITEMS, original.clone()).await;

    // WHEN a delete requires status closed
    let result = store.write(delete_if(ITEMS, key("del", "1"), Condition::equals("status", "closed"))).await;
    // THEN it fails and the item is still there, unchanged
    assert_refused!(result, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "del", "1").await, original);

    // WHEN a delete requires status open
    store.write(delete_if(ITEMS, key("del", "1"), Condition::equals("status", "open"))).await.expect("condition holds");
    // THEN the item is gone
    assert_eq!(get(&*store, ITEMS, "del", "1").await, None);

    // AND deleting a missing item is fine without a condition, refused with Exists
    store.write(WriteOp::delete(ITEMS, key("del", "1"))).await.expect("deleting a missing item");
    store.write(WriteOp::delete(ITEMS, key("del", "never"))).await.expect("deleting a never written item");
    assert_refused!(store.write(delete_if(ITEMS, key("del", "1"), Condition::Exists)).await, StoreError::ConditionFailed);
    assert_eq!(get(&*store, ITEMS, "del", "1").await, None);
}

async fn check_alone_writes_nothing(engine: Engine) {
    // GIVEN an open item
    let store = fresh(engine).await;
    let original = json!({"pk": "chk", "sk": "1", "status": "open"});
    put(&*store, ITEMS, original.clone()).await;

    // WHEN checks that hold are written
    store.write(WriteOp::check(ITEMS, key("chk", "1"), Condition::equals("status", "open"))).await.expect("holds");
    store.write(WriteOp::check(ITEMS, key("chk", "1"), Condition::Exists)).await.expect("exists");
    store.write(WriteOp::check(ITEMS, key("chk", "2"), Condition::NotExists)).await.expect("missing");
    // THEN nothing changed and nothing was created
    assert_eq!(stored(&*store, ITEMS, "chk", "1").await, original);
    assert_eq!(get(&*store, ITEMS, "chk", "2").await, None);

    // WHEN checks that do not hold are written
    let wrong_status = store.write(WriteOp::check(ITEMS, key("chk", "1"), Condition::equals("status", "closed"))).await;
    let not_missing = store.write(WriteOp::check(ITEMS, key("chk", "1"), Condition::NotExists)).await;
    let missing = store.write(WriteOp::check(ITEMS, key("chk", "2"), Condition::Exists)).await;
    // THEN each fails with ConditionFailed and nothing changed
    assert_refused!(wrong_status, StoreError::ConditionFailed);
    assert_refused!(not_missing, StoreError::ConditionFailed);
    assert_refused!(missing, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "chk", "1").await, original);
    assert_eq!(get(&*store, ITEMS, "chk", "2").await, None);
}

// -------------------------------------------------------------------------------------------------
// 3. Updates and increments

async fn update_sets_removes_and_adds(engine: Engine) {
    // GIVEN a stored item
    let store = fresh(engine).await;
    put(&*store, ITEMS, json!({"pk": "up", "sk": "1", "name": "old", "tag": "x", "count": 10, "keep": true})).await;

    // WHEN an update sets, removes and adds
    let update = Update {
        set: sets(&[("name", json!("new")), ("list", json!([1, {"a": null}])), ("ratio", json!(0.75))]),
        remove: vec!["tag".into(), "never_there".into()],
        add: vec![("count".into(), 5), ("fresh".into(), 3), ("down".into(), -4)],
    };
    store.write(update_op(ITEMS, key("up", "1"), update, None)).await.expect("update");

    // THEN exactly those changes are applied; untouched attributes stay; adds count from 0
    let after = stored(&*store, ITEMS, "up", "1").await;
    assert_eq!(
        after,
        json!({"pk": "up", "sk": "1", "name": "new", "list": [1, {"a": null}], "ratio": 0.75, "count": 15, "fresh": 3, "down": -4, "keep": true})
    );
    assert!(after["count"].is_i64() && after["fresh"].is_i64() && after["down"].is_i64());

    // WHEN an update with a failing condition is written
    let result = store
        .write(update_op(ITEMS, key("up", "1"), Update { add: vec![("count".into(), 1)], ..Update::default() }, Some(Condition::equals("name", "old"))))
        .await;
    // THEN it fails and nothing changed
    assert_refused!(result, StoreError::ConditionFailed);
    assert_eq!(stored(&*store, ITEMS, "up", "1").await, after);

    // WHEN an update with a holding condition is written
    store
        .write(update_op(ITEMS, key("up", "1"), Update { add: vec![("count".into(), -20)], ..Update::default() }, Some(Condition::equals("name", "new"))))
        .await
        .expect("condition holds");
    // THEN it applies
    assert_eq!(stored(&*store, ITEMS, "up", "1").await["count"], json!(-5));

    // WHEN adding to an attribute that is not an integer
    let result = store.write(update_op(ITEMS, key("up", "1"), Update { add: vec![("name".into(), 1)], ..Update::default() }, None)).await;
    // THEN it is refused and nothing changed
    assert_refused!(result, StoreError::Validation(_));
    assert_eq!(stored(&*store, ITEMS, "up", "1").await["name"], json!("new"));
}

async fn update_creates_a_missing_item(engine: Engine) {
    // GIVEN no item at the key
    let store = fresh(engine).await;

    // WHEN an update sets, removes and adds on it
    let update = Update { set: sets(&[("title", json!("created by update"))]), remove: vec!["nothing".into()], add: vec![("hits".into(), 7)] };
    store.write(update_op(ITEMS, key("new", "1"), update, None)).await.expect("update of a missing item");

    // THEN the item exists with its keys, the set value, and the add counted from 0
    assert_eq!(stored(&*store, ITEMS, "new", "1").await, json!({"pk": "new", "sk": "1", "title": "created by update", "hits": 7}));

    // AND an update that only adds creates the item too
    store.write(update_op(COUNTERS, key("c", "1"), Update { add: vec![("n".into(), 1)], ..Update::default() }, None)).await.expect("add-only update");
    assert_eq!(stored(&*store, COUNTERS, "c", "1").await, json!({"pk": "c", "sk": "1", "n": 1}));

    // AND an empty update creates an item holding only its keys
    store.write(update_op(ITEMS, key("new", "empty"), Update::default(), None)).await.expect("empty update");
    assert_eq!(stored(&*store, ITEMS, "new", "empty").await, json!({"pk": "new", "sk": "empty"}));

    // AND an update requiring the item to exist does not create it
    let result = store.write(update_op(ITEMS, key("new", "2"), Update { add: vec![("hits".into(), 1)], ..Update::default() }, Some(Condition::Exists))).await;
    assert_refused!(result, StoreError::ConditionFailed);
    assert_eq!(get(&*store, ITEMS, "new", "2").await, None);
}

async fn increment_counts_and_returns_the_new_value(engine: Engine) {
    // GIVEN no counter yet
    let store = fresh(engine).await;
    let counter = key("seq", "tickets");

    // WHEN it is incremented several times
    let first = store.increment(COUNTERS, &counter, "value", 1).await.expect("first");
    let second = store.increment(COUNTERS, &counter, "value", 41).await.expect("second");
    let third = store.increment(COUNTERS, &counter, "value", -2).await.expect("third");
    let unchanged = store.increment(COUNTERS, &counter, "value", 0).await.expect("by zero");

    // THEN each call returns the new value, counted from 0, and the item holds it as an integer
    assert_eq!((first, second, third, unchanged), (1, 42, 40, 40));
    assert_eq!(stored(&*store, COUNTERS, "seq", "tickets").await, json!({"pk": "seq", "sk": "tickets", "value": 40}));

    // AND incrementing another attribute of an existing item keeps the others
    assert_eq!(store.increment(COUNTERS, &counter, "other", 5).await.expect("other"), 5);
    assert_eq!(stored(&*store, COUNTERS, "seq", "tickets").await, json!({"pk": "seq", "sk": "tickets", "value": 40, "other": 5}));
}

// -------------------------------------------------------------------------------------------------
// 4. Transactions

async fn transaction_is_all_or_nothing_across_tables(engine: Engine) {
    // GIVEN an item at version 1 and a counter at 5, in two tables
    let store = fresh(engine).await;
    let account = json!({"pk": "acct", "sk": "1", "version": 1});
    let counter = json!({"pk": "acct", "sk": "count", "n": 5});
    put(&*store, ITEMS, account.clone()).await;
    put(&*store, COUNTERS, counter.clone()).await;
    let ops = |expected_version: i64| {
        vec![
            WriteOp::put(ITEMS, item(json!({"pk": "acct", "sk": "2", "created": true}))),
            update_op(COUNTERS, key("acct", "count"), Update { add: vec![("n".into(), 1)], ..Update::default() }, None),
            WriteOp::put_if(ITEMS, item(json!({"pk": "acct", "sk": "1", "version": 2})), Condition::equals("version", expected_version)),
        ]
    };

    // WHEN a transaction's last condition fails
    let result = store.transact(ops(7)).await;

    // THEN it is cancelled with one reason per operation, and no table changed
    match result {
        Err(StoreError::TransactionCancelled { reasons }) => {
            assert_eq!(reasons, [CancelReason::None, CancelReason::None, CancelReason::ConditionFailed]);
        }
        other => panic!("expected TransactionCancelled, got {other:?}"),
    }
    assert_eq!(get(&*store, ITEMS, "acct", "2").await, None);
    assert_eq!(stored(&*store, COUNTERS, "acct", "count").await, counter);
    assert_eq!(stored(&*store, ITEMS, "acct", "1").await, account);

    // WHEN the same transaction runs with conditions that hold
    store.transact(ops(1)).await.expect("transaction");

    // THEN every write of both tables is applied
    assert_eq!(stored(&*store, ITEMS, "acct", "2").await, json!({"pk": "acct", "sk": "2", "created": true}));
    assert_eq!(stored(&*store, COUNTERS, "acct", "count").await, json!({"pk": "acct", "sk": "count", "n": 6}));
    assert_eq!(stored(&*store, ITEMS, "acct", "1").await, json!({"pk": "acct", "sk": "1", "version": 2}));
}

async fn cancelled_transaction_reports_each_operation_in_order(engine: Engine) {
    // GIVEN t2 exists, t3 is a counter at 10, t4 is at version 1; t1 does not exist
    let store = fresh(engine).await;
    let t2 = json!({"pk": "tx", "sk": "t2", "state": "taken"});
    let t3 = json!({"pk": "tx", "sk": "t3", "n": 10});
    let t4 = json!({"pk": "tx", "sk": "t4", "version": 1});
    put(&*store, ITEMS, t2.clone()).await;
    put(&*store, COUNTERS, t3.clone()).await;
    put(&*store, ITEMS, t4.clone()).await;

    // WHEN a transaction of four writes runs whose 2nd and 4th conditions fail
    let result = store
        .transact(vec![
            WriteOp::put_if(ITEMS, item(json!({"pk": "tx", "sk": "t1", "new": true})), Condition::NotExists),
            WriteOp::put_if(ITEMS, item(json!({"pk": "tx", "sk": "t2", "state": "stolen"})), Condition::NotExists),
            update_op(COUNTERS, key("tx", "t3"), Update { add: vec![("n".into(), 1)], ..Update::default() }, Some(Condition::Exists)),
            delete_if(ITEMS, key("tx", "t4"), Condition::equals("version", 7)),
        ])
        .await;

    // THEN it is cancelled with the reasons [None, ConditionFailed, None, ConditionFailed], in order
    let error = result.expect_err("the transaction must be cancelled");
    match &error {
        StoreError::TransactionCancelled { reasons } => {
            assert_eq!(reasons, &[CancelReason::None, CancelReason::ConditionFailed, CancelReason::None, CancelReason::ConditionFailed])
        }
        other => panic!("expected TransactionCancelled, got {other:?}"),
    }
    assert!(error.is_condition_failure());
    assert_eq!(error.failed_operation(), Some(1));

    // AND nothing at all was written: every item is as before
    assert_eq!(get(&*store, ITEMS, "tx", "t1").await, None);
    assert_eq!(stored(&*store, ITEMS, "tx", "t2").await, t2);
    assert_eq!(stored(&*store, COUNTERS, "tx", "t3").await, t3);
    assert_eq!(stored(&*store, ITEMS, "tx", "t4").await, t4);

    // AND a transaction holding one failing check alone reports it
    let result = store.transact(vec![WriteOp::check(ITEMS, key("tx", "t1"), Condition::Exists)]).await;
    match result {
        Err(StoreError::TransactionCancelled { reasons }) => assert_eq!(reasons, [CancelReason::ConditionFailed]),
        other => panic!("expected TransactionCancelled, got {other:?}"),
    }
}

async fn successful_transaction_applies_every_operation(engine: Engine) {
    // GIVEN an item to delete, a counter to update and an open item to check
    let store = fresh(engine).await;
    let checked = json!({"pk": "multi", "sk": "checked", "status": "open"});
    put(&*store, ITEMS, json!({"pk": "multi", "sk": "doomed", "x": 1})).await;
    put(&*store, COUNTERS, json!({"pk": "multi", "sk": "count", "n": 1, "label": "old", "temp": "x"})).await;
    put(&*store, ITEMS, checked.clone()).await;

    // WHEN one transaction puts, deletes, updates and checks
    store
        .transact(vec![
            WriteOp::put_if(ITEMS, item(json!({"pk": "multi", "sk": "born", "y": [1, 2]})), Condition::NotExists),
            delete_if(ITEMS, key("multi", "doomed"), Condition::Exists),
            update_op(
                COUNTERS,
                key("multi", "count"),
                Update { set: sets(&[("label", json!("new"))]), remove: vec!["temp".into()], add: vec![("n".into(), 2)] },
                Some(Condition::equals("n", 1)),
            ),
            WriteOp::check(ITEMS, key("multi", "checked"), Condition::equals("status", "open")),
        ])
        .await
        .expect("every condition holds");

    // THEN every write is applied and the checked item is untouched
    assert_eq!(stored(&*store, ITEMS, "multi", "born").await, json!({"pk": "multi", "sk": "born", "y": [1, 2]}));
    assert_eq!(get(&*store, ITEMS, "multi", "doomed").await, None);
    assert_eq!(stored(&*store, COUNTERS, "multi", "count").await, json!({"pk": "multi", "sk": "count", "n": 3, "label": "new"}));
    assert_eq!(stored(&*store, ITEMS, "multi", "checked").await, checked);

    // AND an update inside a transaction creates a missing item, counting adds from 0
    store
        .transact(vec![update_op(COUNTERS, key("multi", "fresh"), Update { add: vec![("n".into(), 4)], ..Update::default() }, None)])
        .await
        .expect("update creating an item");
    assert_eq!(stored(&*store, COUNTERS, "multi", "fresh").await, json!({"pk": "multi", "sk": "fresh", "n": 4}));
}

async fn transaction_touching_one_item_twice_is_refused(engine: Engine) {
    // GIVEN an empty store
    let store = fresh(engine).await;

    // WHEN a transaction writes one item twice (a put and an update of the same key)
    let result = store
        .transact(vec![
            WriteOp::put(ITEMS, item(json!({"pk": "twice", "sk": "1", "a": 1}))),
            WriteOp::put(ITEMS, item(json!({"pk": "twice", "sk": "other"}))),
            update_op(ITEMS, key("twice", "1"), Update { add: vec![("a".into(), 1)], ..Update::default() }, None),
        ])
        .await;

    // THEN it is refused as invalid and nothing is written
    assert_refused!(result, StoreError::Validation(_));
    assert_eq!(get(&*store, ITEMS, "twice", "1").await, None);
    assert_eq!(get(&*store, ITEMS, "twice", "other").await, None);

    // AND a check plus a write of the same item is refused too
    let result = store
        .transact(vec![WriteOp::check(ITEMS, key("twice", "1"), Condition::NotExists), WriteOp::put(ITEMS, item(json!({"pk": "twice", "sk": "1"})))])
        .await;
    assert_refused!(result, StoreError::Validation(_));
    assert_eq!(get(&*store, ITEMS, "twice", "1").await, None);

    // AND the same key in two different tables is two items, which is fine
    store
        .transact(vec![
            WriteOp::put(ITEMS, item(json!({"pk": "twice", "sk": "1", "in": "items"}))),
            WriteOp::put(COUNTERS, item(json!({"pk": "twice", "sk": "1", "in": "counters"}))),
        ])
        .await
        .expect("one key in two tables");
    assert_eq!(stored(&*store, ITEMS, "twice", "1").await["in"], json!("items"));
    assert_eq!(stored(&*store, COUNTERS, "twice", "1").await["in"], json!("counters"));
}

async fn empty_transaction_is_refused(engine: Engine) {
    // GIVEN a store
    let store = fresh(engine).await;
    // WHEN an empty transaction is committed
    let result = store.transact(Vec::new()).await;
    // THEN it is refused as invalid
    assert_refused!(result, StoreError::Validation(_));
}

// -------------------------------------------------------------------------------------------------
// 5. Queries

/// Sort keys of the partition `q`, in byte order (which is what both engines sort by).
const ORDERED: [&str; 12] = ["10", "9", "B", "a", "a%c", "a_b", "ab", "b", "b#1", "b#2", "c", "é"];

async fn seed_query_partition(store: &dyn ItemStore) {
    // Written out of order, with neighbours that must never show up.
    for sk in ["c", "a_b", "é", "10", "b#2", "B", "ab", "9", "b", "a%c", "b#1", "a"] {
        put(store, ITEMS, json!({"pk": "q", "sk": sk, "label": format!("q/{sk}")})).await;
    }
    for pk in ["q2", "Q", "qq", "p"] {
        for sk in ["a", "b", "c"] {
            put(store, ITEMS, json!({"pk": pk, "sk": sk})).await;
        }
    }
    put(store, COUNTERS, json!({"pk": "q", "sk": "a", "n": 1})).await;
}

async fn query_returns_a_partition_in_sort_key_order(engine: Engine) {
    // GIVEN a partition whose sort keys were written out of order, beside similar partitions
    let store = fresh(engine).await;
    seed_query_partition(&*store).await;

    // WHEN the partition is queried ascending and descending
    let ascending = all(&*store, Query::table(ITEMS, "q")).await;
    let descending = all(&*store, Query::table(ITEMS, "q").descending()).await;

    // THEN it holds exactly the partition's items, in byte order of the sort key
    assert_eq!(sort_keys(&ascending), ORDERED);
    let mut reversed = ORDERED;
    reversed.reverse();
    assert_eq!(sort_keys(&descending), reversed);
    assert!(ascending.iter().all(|i| i["pk"] == "q"), "another partition leaked in");
    assert_eq!(ascending[0], item(json!({"pk": "q", "sk": "10", "label": "q/10"})));
    let mut back = descending.clone();
    back.reverse();
    assert_eq!(back, ascending);

    // AND partitions are matched exactly, never by prefix or case
    assert_eq!(sort_keys(&all(&*store, Query::table(ITEMS, "Q")).await), ["a", "b", "c"]);
    assert!(all(&*store, Query::table(ITEMS, "q2")).await.iter().all(|i| i["pk"] == "q2"));
    assert!(all(&*store, Query::table(ITEMS, "nobody")).await.is_empty());

    // AND the other table's partition of the same name is its own
    let counters = all(&*store, Query::table(COUNTERS, "q")).await;
    assert_eq!(counters, [item(json!({"pk": "q", "sk": "a", "n": 1}))]);
}

async fn query_sort_key_ranges(engine: Engine) {
    // GIVEN the seeded partition
    let store = fresh(engine).await;
    seed_query_partition(&*store).await;
    let cases: Vec<(SortKeyRange, Vec<&str>)> = vec![
        (SortKeyRange::All, ORDERED.to_vec()),
        (SortKeyRange::Equals("b".into()), vec!["b"]),
        (SortKeyRange::Equals("b#".into()), vec![]),
        (SortKeyRange::BeginsWith("b".into()), vec!["b", "b#1", "b#2"]),
        (SortKeyRange::BeginsWith("b#".into()), vec!["b#1", "b#2"]),
        // `_` and `%` are plain characters, not wildcards.
        (SortKeyRange::BeginsWith("a_".into()), vec!["a_b"]),
        (SortKeyRange::BeginsWith("a%".into()), vec!["a%c"]),
        (SortKeyRange::BeginsWith("é".into()), vec!["é"]),
        (SortKeyRange::BeginsWith("z".into()), vec![]),
        // Between is inclusive on both ends.
        (SortKeyRange::Between("a_b".into(), "b#1".into()), vec!["a_b", "ab", "b", "b#1"]),
        (SortKeyRange::Between("a0".into(), "a~".into()), vec!["a_b", "ab"]),
        (SortKeyRange::Between("b".into(), "b".into()), vec!["b"]),
        (SortKeyRange::AtLeast("b#1".into()), vec!["b#1", "b#2", "c", "é"]),
        (SortKeyRange::AtLeast("b#".into()), vec!["b#1", "b#2", "c", "é"]),
        (SortKeyRange::AtMost("B".into()), vec!["10", "9", "B"]),
        (SortKeyRange::AtMost("A".into()), vec!["10", "9"]),
    ];
    for (range, expected) in cases {
        // WHEN the partition is queried with the range, in both directions
        let ascending = all(&*store, Query::table(ITEMS, "q").range(range.clone())).await;
        let descending = all(&*store, Query::table(ITEMS, "q").range(range.clone()).descending()).await;
        // THEN exactly the matching sort keys come back, in order, and only from partition q
        assert_eq!(sort_keys(&ascending), expected, "{range:?} ascending");
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(sort_keys(&descending), reversed, "{range:?} descending");
        assert!(ascending.iter().chain(&descending).all(|i| i["pk"] == "q"), "{range:?} leaked another partition");
    }
}

async fn query_ranges_with_empty_or_inverted_bounds(engine: Engine) {
    // GIVEN the seeded partition (no stored sort key is ever empty)
    let store = fresh(engine).await;
    seed_query_partition(&*store).await;
    let cases: Vec<(SortKeyRange, Vec<&str>)> = vec![
        (SortKeyRange::Equals(String::new()), vec![]),
        (SortKeyRange::BeginsWith(String::new()), ORDERED.to_vec()),
        (SortKeyRange::Between("c".into(), "a".into()), vec![]),
        (SortKeyRange::Between(String::new(), "B".into()), vec!["10", "9", "B"]),
        (SortKeyRange::Between(String::new(), String::new()), vec![]),
        (SortKeyRange::AtLeast(String::new()), ORDERED.to_vec()),
        (SortKeyRange::AtMost(String::new()), vec![]),
    ];
    for (range, expected) in cases {
        // WHEN the partition is queried with such a range
        let found = all(&*store, Query::table(ITEMS, "q").range(range.clone())).await;
        // THEN the answer follows the range's plain meaning rather than an error
        assert_eq!(sort_keys(&found), expected, "{range:?}");
    }
    // AND an empty partition name finds nothing
    assert!(all(&*store, Query::table(ITEMS, "")).await.is_empty());
}

// -------------------------------------------------------------------------------------------------
// 6. Paging

async fn seed_pages(store: &dyn ItemStore, partition: &str, count: usize) {
    for n in (0..count).rev() {
        put(store, ITEMS, json!({"pk": partition, "sk": format!("item#{n:02}"), "n": n})).await;
    }
}

async fn paging_reads_every_item_once_in_both_directions(engine: Engine) {
    // GIVEN 23 items in one partition, beside partitions with similar names
    let store = fresh(engine).await;
    seed_pages(&*store, "page", 23).await;
    seed_pages(&*store, "pag", 3).await;
    seed_pages(&*store, "page2", 3).await;
    let expected: Vec<String> = (0..23).map(|n| format!("item#{n:02}")).collect();

    for ascending in [true, false] {
        let query = if ascending { Query::table(ITEMS, "page") } else { Query::table(ITEMS, "page").descending() };
        // WHEN the partition is read unpaged, and page by page with limit 5
        let unpaged = all(&*store, query.clone()).await;
        let pages = read_pages(&*store, query.limit(5)).await;

        // THEN the pages hold 5, 5, 5, 5, 3 items, each full page carrying `next`
        assert_eq!(page_sizes(&pages), [5, 5, 5, 5, 3], "ascending: {ascending}");
        // AND together they are exactly the unpaged result, without duplicates
        let paged = concatenated(&pages);
        assert_eq!(paged, unpaged, "ascending: {ascending}");
        assert_no_duplicates(&paged);
        let mut wanted = expected.clone();
        if !ascending {
            wanted.reverse();
        }
        assert_eq!(sort_keys(&paged), wanted, "ascending: {ascending}");
        assert!(paged.iter().all(|i| i["pk"] == "page"));
    }

    // AND paging within a range stays inside the range
    let range = SortKeyRange::Between("item#03".into(), "item#19".into());
    for ascending in [true, false] {
        let mut query = Query::table(ITEMS, "page").range(range.clone());
        if !ascending {
            query = query.descending();
        }
        let unpaged = all(&*store, query.clone()).await;
        let pages = read_pages(&*store, query.limit(5)).await;
        assert_eq!(page_sizes(&pages), [5, 5, 5, 2], "ascending: {ascending}");
        assert_eq!(concatenated(&pages), unpaged);
        assert_eq!(unpaged.len(), 17);
        assert_no_duplicates(&unpaged);
    }
}

async fn a_full_last_page_still_carries_next(engine: Engine) {
    // GIVEN exactly 20 items, four pages of 5
    let store = fresh(engine).await;
    seed_pages(&*store, "even", 20).await;
    seed_pages(&*store, "even2", 2).await;

    for ascending in [true, false] {
        let query = if ascending { Query::table(ITEMS, "even") } else { Query::table(ITEMS, "even").descending() };
        // WHEN it is read with limit 5
        let pages = read_pages(&*store, query.clone().limit(5)).await;
        // THEN the fourth page, being full, carries `next`, and the page it leads to is empty
        assert_eq!(page_sizes(&pages), [5, 5, 5, 5, 0], "ascending: {ascending}");
        assert_eq!(concatenated(&pages), all(&*store, query).await);
    }
}

async fn garbage_cursors_are_refused(engine: Engine) {
    // GIVEN a partition with items, queried on the table and on the index
    let store = fresh(engine).await;
    seed_pages(&*store, "cur", 3).await;
    put(&*store, ITEMS, json!({"pk": "cur", "sk": "indexed", "owner": "ana", "rank": "r1"})).await;

    for garbage in ["not-a-cursor!!", "", "%%%", "e30", "bnVsbA", "W10"] {
        // WHEN a query carries a cursor that no engine ever made
        let on_table = store.query(Query::table(ITEMS, "cur").limit(2).after(Some(Cursor(garbage.into())))).await;
        let on_index = store.query(Query::index(ITEMS, BY_OWNER, "ana").limit(2).after(Some(Cursor(garbage.into())))).await;
        // THEN it is refused as an invalid cursor
        assert!(matches!(on_table, Err(StoreError::InvalidCursor)), "{garbage:?} on the table gave {on_table:?}");
        assert!(matches!(on_index, Err(StoreError::InvalidCursor)), "{garbage:?} on the index gave {on_index:?}");
    }
}

async fn limit_zero_is_refused(engine: Engine) {
    // GIVEN a partition with items
    let store = fresh(engine).await;
    seed_pages(&*store, "lim", 2).await;
    // WHEN a query asks for pages of 0 items, on the table or the index
    let on_table = store.query(Query::table(ITEMS, "lim").limit(0)).await;
    let on_index = store.query(Query::index(ITEMS, BY_OWNER, "ana").limit(0)).await;
    // THEN it is refused as invalid
    assert_refused!(on_table, StoreError::Validation(_));
    assert_refused!(on_index, StoreError::Validation(_));
    // AND limit 1 works and pages one by one
    let pages = read_pages(&*store, Query::table(ITEMS, "lim").limit(1)).await;
    assert_eq!(page_sizes(&pages), [1, 1, 0]);
}

// -------------------------------------------------------------------------------------------------
// 7. Secondary index

async fn index_is_sparse_and_ordered_by_its_sort_key(engine: Engine) {
    // GIVEN items of several owners and ranks, and items lacking one or both index attributes
    let store = fresh(engine).await;
    let docs = [
        json!({"pk": "doc#1", "sk": "meta", "owner": "ana", "rank": "r3", "title": "third"}),
        json!({"pk": "doc#2", "sk": "meta", "owner": "ana", "rank": "r1", "title": "first"}),
        json!({"pk": "doc#3", "sk": "meta", "owner": "ana", "rank": "r2", "title": "second"}),
        json!({"pk": "doc#3", "sk": "note", "owner": "ana", "rank": "r0", "title": "zeroth"}),
        json!({"pk": "doc#4", "sk": "meta", "owner": "bo", "rank": "r1"}),
        json!({"pk": "doc#5", "sk": "meta", "owner": "anabel", "rank": "r1"}),
        json!({"pk": "doc#6", "sk": "meta", "owner": "ana"}),
        json!({"pk": "doc#7", "sk": "meta", "rank": "r1"}),
        json!({"pk": "doc#8", "sk": "meta"}),
    ];
    for doc in &docs {
        put(&*store, ITEMS, doc.clone()).await;
    }

    // WHEN the index is queried for ana, ascending and descending
    let ascending = all(&*store, Query::index(ITEMS, BY_OWNER, "ana")).await;
    let descending = all(&*store, Query::index(ITEMS, BY_OWNER, "ana").descending()).await;

    // THEN only ana's items carrying both attributes come back, whole, in rank order
    let expected: Vec<Item> = [&docs[3], &docs[1], &docs[2], &docs[0]].into_iter().map(|d| item(d.clone())).collect();
    assert_eq!(ascending, expected);
    let mut reversed = expected.clone();
    reversed.reverse();
    assert_eq!(descending, reversed);

    // AND other owners are separate partitions, matched exactly
    assert_eq!(item_keys(&all(&*store, Query::index(ITEMS, BY_OWNER, "bo")).await), [("doc#4".to_owned(), "meta".to_owned())]);
    assert_eq!(item_keys(&all(&*store, Query::index(ITEMS, BY_OWNER, "anabel")).await), [("doc#5".to_owned(), "meta".to_owned())]);
    assert!(all(&*store, Query::index(ITEMS, BY_OWNER, "nobody")).await.is_empty());
    assert!(all(&*store, Query::index(ITEMS, BY_OWNER, "")).await.is_empty());

    // AND the table itself still holds every item
    assert_eq!(sort_keys(&all(&*store, Query::table(ITEMS, "doc#3")).await), ["meta", "note"]);
    assert!(get(&*store, ITEMS, "doc#6", "meta").await.is_some() && get(&*store, ITEMS, "doc#8", "meta").await.is_some());
}

async fn index_ranges_apply_to_the_index_sort_key(engine: Engine) {
    // GIVEN cal's items with dated ranks, and another owner's item inside the same dates
    let store = fresh(engine).await;
    let dates = ["2024-03-01", "2024-01-05", "2024-02-15", "2024-01-20", "2024-02-01"];
    for (n, date) in dates.iter().enumerate() {
        put(&*store, ITEMS, json!({"pk": format!("ev#{n}"), "sk": "meta", "owner": "cal", "rank": date})).await;
    }
    put(&*store, ITEMS, json!({"pk": "ev#other", "sk": "meta", "owner": "dee", "rank": "2024-02-10"})).await;
    let cases: Vec<(SortKeyRange, Vec<&str>)> = vec![
        (SortKeyRange::All, vec!["2024-01-05", "2024-01-20", "2024-02-01", "2024-02-15", "2024-03-01"]),
        (SortKeyRange::Equals("2024-02-01".into()), vec!["2024-02-01"]),
        (SortKeyRange::BeginsWith("2024-02".into()), vec!["2024-02-01", "2024-02-15"]),
        (SortKeyRange::Between("2024-01-20".into(), "2024-02-15".into()), vec!["2024-01-20", "2024-02-01", "2024-02-15"]),
        (SortKeyRange::AtLeast("2024-02-15".into()), vec!["2024-02-15", "2024-03-01"]),
        (SortKeyRange::AtMost("2024-01-20".into()), vec!["2024-01-05", "2024-01-20"]),
        (SortKeyRange::Between("2024-04".into(), "2024-05".into()), vec![]),
    ];
    for (range, expected) in cases {
        // WHEN the index partition is queried with the range in both directions
        let ascending = all(&*store, Query::index(ITEMS, BY_OWNER, "cal").range(range.clone())).await;
        let descending = all(&*store, Query::index(ITEMS, BY_OWNER, "cal").range(range.clone()).descending()).await;
        // THEN the range selects on rank (not on the table's sort key), and only cal's items
        assert_eq!(ranks(&ascending), expected, "{range:?}");
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(ranks(&descending), reversed, "{range:?} descending");
        assert!(ascending.iter().all(|i| i["owner"] == "cal"), "{range:?}");
    }
}

async fn index_paging_with_shared_sort_keys(engine: Engine) {
    // GIVEN 17 of zoe's items whose ranks repeat (r1, r2, r3), some sharing a partition key,
    // beside zoe's items without a rank and another owner's
    let store = fresh(engine).await;
    let mut expected = BTreeSet::new();
    for i in 0..17 {
        let (pk, sk) = (format!("t#{}", i / 2), if i % 2 == 0 { "a" } else { "b" });
        let rank = ["r1", "r2", "r3"][i % 3];
        put(&*store, ITEMS, json!({"pk": pk.clone(), "sk": sk, "owner": "zoe", "rank": rank, "i": i})).await;
        expected.insert((pk, sk.to_owned()));
    }
    put(&*store, ITEMS, json!({"pk": "t#x", "sk": "a", "owner": "zoe"})).await;
    put(&*store, ITEMS, json!({"pk": "t#y", "sk": "a", "owner": "zoey", "rank": "r1"})).await;

    for ascending in [true, false] {
        let base = if ascending { Query::index(ITEMS, BY_OWNER, "zoe") } else { Query::index(ITEMS, BY_OWNER, "zoe").descending() };
        let unpaged = all(&*store, base.clone()).await;
        // THEN (unpaged) every item is there once, ordered by rank
        assert_eq!(item_keys(&unpaged).into_iter().collect::<BTreeSet<_>>(), expected);
        assert_eq!(unpaged.len(), 17);
        let mut sorted = ranks(&unpaged);
        sorted.sort();
        if !ascending {
            sorted.reverse();
        }
        assert_eq!(ranks(&unpaged), sorted, "ascending: {ascending}");

        for limit in [1, 2, 4, 5] {
            // WHEN the index partition is read page by page, cursors landing amid equal ranks
            let pages = read_pages(&*store, base.clone().limit(limit)).await;
            let paged = concatenated(&pages);
            // THEN no item is lost or repeated, and the pages are the unpaged result in order
            assert_no_duplicates(&paged);
            assert_eq!(paged.len(), 17, "limit {limit}, ascending: {ascending}");
            assert_eq!(paged, unpaged, "limit {limit}, ascending: {ascending}");
            assert!(pages.iter().all(|p| p.items.len() <= limit));
        }
    }

    // AND paging through a range of the index sort key keeps to the range
    let range = SortKeyRange::Between("r2".into(), "r3".into());
    let unpaged = all(&*store, Query::index(ITEMS, BY_OWNER, "zoe").range(range.clone())).await;
    assert_eq!(unpaged.len(), 11);
    assert!(ranks(&unpaged).iter().all(|r| r == "r2" || r == "r3"));
    let paged = concatenated(&read_pages(&*store, Query::index(ITEMS, BY_OWNER, "zoe").range(range).limit(3)).await);
    assert_eq!(paged, unpaged);
}

async fn index_follows_puts_updates_and_deletes(engine: Engine) {
    let store = fresh(engine).await;
    let owned_by = |owner: &'static str| {
        let store = store.clone();
        async move { item_keys(&all(&*store, Query::index(ITEMS, BY_OWNER, owner)).await) }
    };
    let x = ("x".to_owned(), "1".to_owned());
    let y = ("y".to_owned(), "1".to_owned());
    let z = ("z".to_owned(), "1".to_owned());

    // GIVEN x owned by ana
    put(&*store, ITEMS, json!({"pk": "x", "sk": "1", "owner": "ana", "rank": "r1"})).await;
    assert_eq!(owned_by("ana").await, std::slice::from_ref(&x));

    // WHEN a put moves x to bo
    put(&*store, ITEMS, json!({"pk": "x", "sk": "1", "owner": "bo", "rank": "r1"})).await;
    // THEN x left ana's partition and is in bo's
    assert!(owned_by("ana").await.is_empty());
    assert_eq!(owned_by("bo").await, std::slice::from_ref(&x));

    // WHEN an update moves x to cy and changes its title
    let set = |pairs: &[(&str, Value)]| Update { set: sets(pairs), ..Update::default() };
    store.write(update_op(ITEMS, key("x", "1"), set(&[("owner", json!("cy")), ("title", json!("moved"))]), None)).await.expect("update");
    // THEN x left bo's partition, and cy's index returns the updated item
    assert!(owned_by("bo").await.is_empty());
    let in_cy = all(&*store, Query::index(ITEMS, BY_OWNER, "cy")).await;
    assert_eq!(in_cy, [item(json!({"pk": "x", "sk": "1", "owner": "cy", "rank": "r1", "title": "moved"}))]);

    // WHEN an update removes x's rank
    store.write(update_op(ITEMS, key("x", "1"), Update { remove: vec!["rank".into()], ..Update::default() }, None)).await.expect("remove rank");
    // THEN x is no longer indexed at all
    assert!(owned_by("cy").await.is_empty());

    // WHEN it gets a rank again, beside y
    store.write(update_op(ITEMS, key("x", "1"), set(&[("rank", json!("r5"))]), None)).await.expect("rank again");
    put(&*store, ITEMS, json!({"pk": "y", "sk": "1", "owner": "cy", "rank": "r3"})).await;
    // THEN both are indexed, ordered by rank
    assert_eq!(owned_by("cy").await, [y.clone(), x.clone()]);

    // WHEN x's rank changes to sort first
    store.write(update_op(ITEMS, key("x", "1"), set(&[("rank", json!("r0"))]), None)).await.expect("rerank");
    // THEN the order follows
    assert_eq!(owned_by("cy").await, [x.clone(), y.clone()]);

    // WHEN a transaction adds z and deletes y
    store
        .transact(vec![WriteOp::put(ITEMS, item(json!({"pk": "z", "sk": "1", "owner": "cy", "rank": "r4"}))), WriteOp::delete(ITEMS, key("y", "1"))])
        .await
        .expect("transaction");
    // THEN the index shows z and no longer y
    assert_eq!(owned_by("cy").await, [x.clone(), z.clone()]);

    // WHEN x is deleted
    store.write(WriteOp::delete(ITEMS, key("x", "1"))).await.expect("delete");
    // THEN it is gone from the index
    assert_eq!(owned_by("cy").await, std::slice::from_ref(&z));

    // AND a refused write leaves the index as it was
    let refused = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "z", "sk": "1", "owner": "ana", "rank": "r1"})), Condition::NotExists)).await;
    assert_refused!(refused, StoreError::ConditionFailed);
    assert_eq!(owned_by("cy").await, [z]);
    assert!(owned_by("ana").await.is_empty());
}

// -------------------------------------------------------------------------------------------------
// 8. Concurrent writers on one item

async fn concurrent_increments_count_every_call(engine: Engine) {
    // GIVEN a counter that does not exist yet
    let store = fresh(engine).await;

    // WHEN 50 tasks increment it by 1 at once
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.increment(COUNTERS, &key("hot", "counter"), "value", 1).await })
        })
        .collect();
    let mut returned = Vec::new();
    for task in tasks {
        returned.push(task.await.expect("task").expect("increment"));
    }

    // THEN every call saw its own value: exactly 1..=50, and the counter holds 50
    returned.sort_unstable();
    assert_eq!(returned, (1..=50).collect::<Vec<i64>>());
    assert_eq!(stored(&*store, COUNTERS, "hot", "counter").await, json!({"pk": "hot", "sk": "counter", "value": 50}));
}

async fn concurrent_creates_have_one_winner(engine: Engine) {
    // GIVEN a key nobody wrote
    let store = fresh(engine).await;

    // WHEN 20 tasks put it at once, each only if it does not exist
    let tasks: Vec<_> = (0..20)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                let result = store.write(WriteOp::put_if(ITEMS, item(json!({"pk": "race", "sk": "1", "writer": writer})), Condition::NotExists)).await;
                (writer, result)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = 0;
    for task in tasks {
        match task.await.expect("task") {
            (writer, Ok(())) => winners.push(writer),
            (_, Err(StoreError::ConditionFailed)) => losers += 1,
            (writer, Err(other)) => panic!("writer {writer} failed unexpectedly: {other:?}"),
        }
    }

    // THEN exactly one succeeded, 19 got ConditionFailed, and the item is the winner's
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(losers, 19);
    assert_eq!(stored(&*store, ITEMS, "race", "1").await, json!({"pk": "race", "sk": "1", "writer": winners[0]}));
}

async fn optimistic_read_modify_write_loses_no_update(engine: Engine) {
    // GIVEN a document at version 0
    let store = fresh(engine).await;
    put(&*store, ITEMS, json!({"pk": "occ", "sk": "1", "version": 0, "log": []})).await;

    // WHEN 10 tasks each bump it 5 times by read, then put if the version is still the one read
    let tasks: Vec<_> = (0..10)
        .map(|worker| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut written = Vec::new();
                let mut attempts = 0;
                while written.len() < 5 {
                    attempts += 1;
                    assert!(attempts < 5_000, "worker {worker} is starving");
                    let current = store.get(ITEMS, &key("occ", "1")).await.expect("get").expect("document exists");
                    let version = current["version"].as_i64().expect("integer version");
                    let mut next = current.clone();
                    next.insert("version".into(), json!(version + 1));
                    let mut log = current["log"].as_array().cloned().expect("log");
                    log.push(json!(worker));
                    next.insert("log".into(), Value::Array(log));
                    match store.write(WriteOp::put_if(ITEMS, next, Condition::equals("version", version))).await {
                        Ok(()) => written.push(version + 1),
                        Err(StoreError::ConditionFailed) => {}
                        Err(other) => panic!("worker {worker}: unexpected {other:?}"),
                    }
                }
                written
            })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.extend(task.await.expect("task"));
    }

    // THEN the version is 50, every version 1..=50 was written by exactly one task, and the log
    // holds each task's 5 entries
    let document = stored(&*store, ITEMS, "occ", "1").await;
    assert_eq!(document["version"], json!(50));
    versions.sort_unstable();
    assert_eq!(versions, (1..=50).collect::<Vec<i64>>());
    let log = document["log"].as_array().expect("log");
    assert_eq!(log.len(), 50);
    for worker in 0..10 {
        assert_eq!(log.iter().filter(|w| **w == json!(worker)).count(), 5, "entries of worker {worker}");
    }
}

// -------------------------------------------------------------------------------------------------
// 9. Invalid requests

async fn unknown_table_is_refused(engine: Engine) {
    // GIVEN a store that does not declare the table `nope`
    let store = fresh(engine).await;
    let k = key("a", "b");

    // WHEN any operation names it, THEN it is refused as invalid
    assert_refused!(store.get("nope", &k).await, StoreError::Validation(_));
    assert_refused!(store.write(WriteOp::put("nope", item(json!({"pk": "a", "sk": "b"})))).await, StoreError::Validation(_));
    assert_refused!(store.write(WriteOp::delete("nope", k.clone())).await, StoreError::Validation(_));
    assert_refused!(store.write(WriteOp::check("nope", k.clone(), Condition::NotExists)).await, StoreError::Validation(_));
    assert_refused!(store.write(update_op("nope", k.clone(), Update::default(), None)).await, StoreError::Validation(_));
    assert_refused!(store.increment("nope", &k, "n", 1).await, StoreError::Validation(_));
    assert_refused!(store.query(Query::table("nope", "a")).await, StoreError::Validation(_));
    assert_refused!(store.query(Query::index("nope", BY_OWNER, "a")).await, StoreError::Validation(_));

    // AND a transaction naming it is refused as a whole: its valid write is not applied
    let result =
        store.transact(vec![WriteOp::put(ITEMS, item(json!({"pk": "a", "sk": "b"}))), WriteOp::put("nope", item(json!({"pk": "a", "sk": "b"})))]).await;
    assert_refused!(result, StoreError::Validation(_));
    assert_eq!(get(&*store, ITEMS, "a", "b").await, None);
}

async fn unknown_index_is_refused(engine: Engine) {
    // GIVEN a store whose `items` has only `by_owner`, and `counters` no index
    let store = fresh(engine).await;
    put(&*store, ITEMS, json!({"pk": "a", "sk": "b", "owner": "ana", "rank": "r"})).await;
    // WHEN an undeclared index is queried
    let other = store.query(Query::index(ITEMS, "by_rank", "ana")).await;
    let elsewhere = store.query(Query::index(COUNTERS, BY_OWNER, "ana")).await;
    // THEN it is refused as invalid
    assert_refused!(other, StoreError::Validation(_));
    assert_refused!(elsewhere, StoreError::Validation(_));
}

async fn items_without_keys_are_refused(engine: Engine) {
    // GIVEN a store
    let store = fresh(engine).await;
    let keyless = [
        json!({"sk": "s", "a": 1}),
        json!({"pk": "p", "a": 1}),
        json!({"a": 1}),
        json!({"pk": 1, "sk": "s"}),
        json!({"pk": "p", "sk": 2}),
        json!({"pk": "p", "sk": null}),
        json!({"pk": "", "sk": "s"}),
        json!({"pk": "p", "sk": ""}),
    ];
    for bad in keyless {
        // WHEN an item without string pk and sk is put, alone or in a transaction
        let alone = store.write(WriteOp::put(ITEMS, item(bad.clone()))).await;
        let in_transaction = store.transact(vec![WriteOp::put(ITEMS, item(json!({"pk": "ok", "sk": "ok"}))), WriteOp::put(ITEMS, item(bad.clone()))]).await;
        // THEN it is refused as invalid, and the transaction's other write is not applied
        assert!(matches!(alone, Err(StoreError::Validation(_))), "{bad} alone gave {alone:?}");
        assert!(matches!(in_transaction, Err(StoreError::Validation(_))), "{bad} in a transaction gave {in_transaction:?}");
        assert_eq!(get(&*store, ITEMS, "ok", "ok").await, None);
    }
    assert!(all(&*store, Query::table(ITEMS, "p")).await.is_empty());

    // AND writes addressed by an empty key are refused too
    assert_refused!(store.write(WriteOp::delete(ITEMS, key("", "s"))).await, StoreError::Validation(_));
    assert_refused!(store.write(update_op(ITEMS, key("p", ""), Update::default(), None)).await, StoreError::Validation(_));
    assert_refused!(store.increment(COUNTERS, &key("", "s"), "n", 1).await, StoreError::Validation(_));
    // AND reading one simply finds nothing
    assert_eq!(get(&*store, ITEMS, "", "s").await, None);
}

async fn updates_cannot_change_the_key(engine: Engine) {
    // GIVEN a stored item
    let store = fresh(engine).await;
    let original = json!({"pk": "keyed", "sk": "1", "a": 1});
    put(&*store, ITEMS, original.clone()).await;
    let updates = [
        Update { set: sets(&[("pk", json!("other"))]), ..Update::default() },
        Update { set: sets(&[("sk", json!("2"))]), ..Update::default() },
        Update { remove: vec!["sk".into()], ..Update::default() },
    ];
    for update in updates {
        // WHEN an update touches pk or sk
        let result = store.write(update_op(ITEMS, key("keyed", "1"), update.clone(), None)).await;
        // THEN it is refused as invalid and the item is unchanged
        assert!(matches!(result, Err(StoreError::Validation(_))), "{update:?} gave {result:?}");
        assert_eq!(stored(&*store, ITEMS, "keyed", "1").await, original);
    }
}

async fn index_attributes_must_be_strings(engine: Engine) {
    // GIVEN a store whose index keys are owner and rank
    let store = fresh(engine).await;
    for bad in [
        json!({"pk": "typed", "sk": "1", "owner": 7, "rank": "r1"}),
        json!({"pk": "typed", "sk": "1", "owner": "ana", "rank": 1}),
        json!({"pk": "typed", "sk": "1", "owner": ["ana"]}),
        json!({"pk": "typed", "sk": "1", "rank": null}),
    ] {
        // WHEN an item carries an index attribute that is not a string (even without its partner)
        let alone = store.write(WriteOp::put(ITEMS, item(bad.clone()))).await;
        let in_transaction = store.transact(vec![WriteOp::put(ITEMS, item(bad.clone()))]).await;
        // THEN it is refused as invalid and nothing is stored
        assert!(matches!(alone, Err(StoreError::Validation(_))), "{bad} gave {alone:?}");
        assert!(matches!(in_transaction, Err(StoreError::Validation(_))), "{bad} in a transaction gave {in_transaction:?}");
        assert_eq!(get(&*store, ITEMS, "typed", "1").await, None);
    }
    assert!(all(&*store, Query::index(ITEMS, BY_OWNER, "ana")).await.is_empty());

    // GIVEN an indexed item
    let indexed = json!({"pk": "typed", "sk": "2", "owner": "ana", "rank": "r1"});
    put(&*store, ITEMS, indexed.clone()).await;
    let bad_updates = [
        Update { set: sets(&[("owner", json!(7))]), ..Update::default() },
        Update { set: sets(&[("rank", Value::Null)]), ..Update::default() },
        Update { add: vec![("rank".into(), 1)], ..Update::default() },
        Update { remove: vec!["owner".into()], add: vec![("owner".into(), 1)], ..Update::default() },
    ];
    for update in bad_updates {
        // WHEN an update would leave a non-string in an index attribute
        let result = store.write(update_op(ITEMS, key("typed", "2"), update.clone(), None)).await;
        // THEN it is refused and the item stays as it was, still indexed
        assert!(matches!(result, Err(StoreError::Validation(_))), "{update:?} gave {result:?}");
        assert_eq!(stored(&*store, ITEMS, "typed", "2").await, indexed);
    }
    // AND so is incrementing an index attribute, of an existing item or a new one
    assert_refused!(store.increment(ITEMS, &key("typed", "2"), "rank", 1).await, StoreError::Validation(_));
    assert_refused!(store.increment(ITEMS, &key("typed", "3"), "owner", 1).await, StoreError::Validation(_));
    assert_eq!(get(&*store, ITEMS, "typed", "3").await, None);
    assert_eq!(all(&*store, Query::index(ITEMS, BY_OWNER, "ana")).await, [item(indexed)]);

    // AND setting an index attribute to a string, or removing it, is fine
    store.write(update_op(ITEMS, key("typed", "2"), Update { set: sets(&[("owner", json!("bo"))]), ..Update::default() }, None)).await.expect("string owner");
    assert_eq!(item_keys(&all(&*store, Query::index(ITEMS, BY_OWNER, "bo")).await), [("typed".to_owned(), "2".to_owned())]);
    store.write(update_op(ITEMS, key("typed", "2"), Update { remove: vec!["owner".into()], ..Update::default() }, None)).await.expect("remove owner");
    assert!(all(&*store, Query::index(ITEMS, BY_OWNER, "bo")).await.is_empty());
}

// -------------------------------------------------------------------------------------------------
// 10. Batch reads

async fn get_many_answers_each_key_in_order_as_get_does(engine: Engine) {
    // GIVEN three items in `items` and one in `counters`
    let store = fresh(engine).await;
    put(&*store, ITEMS, json!({"pk": "a", "sk": "1", "n": 1})).await;
    put(&*store, ITEMS, json!({"pk": "a", "sk": "2", "n": 2, "owner": "ana", "rank": "r"})).await;
    put(&*store, ITEMS, json!({"pk": "b", "sk": "1", "n": 3})).await;
    put(&*store, COUNTERS, json!({"pk": "x", "sk": "1", "value": 9})).await;

    // WHEN `items` is read for keys out of order, with a missing key, a repeated key, an empty
    // key and the key of the item in the other table
    let keys = [key("a", "2"), key("missing", "1"), key("a", "1"), key("a", "2"), key("", "1"), key("x", "1"), key("b", "1")];
    let read = store.get_many(ITEMS, &keys).await.expect("get_many");

    // THEN every position holds exactly what `get` gives for its key: None where absent
    let numbers: Vec<Option<Value>> = read.iter().map(|item| item.as_ref().map(|i| i["n"].clone())).collect();
    assert_eq!(numbers, [Some(json!(2)), None, Some(json!(1)), Some(json!(2)), None, None, Some(json!(3))]);
    for (k, item) in keys.iter().zip(&read) {
        assert_eq!(&store.get(ITEMS, k).await.expect("get"), item, "{k:?}");
    }

    // AND no keys read nothing, and an undeclared table is refused as invalid
    assert!(store.get_many(ITEMS, &[]).await.expect("no keys").is_empty());
    assert_refused!(store.get_many("nope", &[key("a", "1")]).await, StoreError::Validation(_));
}

async fn get_many_reads_more_keys_than_one_batch_holds(engine: Engine) {
    // GIVEN 130 items (DynamoDB's BatchGetItem takes at most 100 keys a call)
    let store = fresh(engine).await;
    let ops: Vec<WriteOp> = (0..130).map(|i| WriteOp::put(ITEMS, item(json!({"pk": "many", "sk": format!("{i:03}"), "i": i})))).collect();
    for chunk in ops.chunks(50) {
        store.transact(chunk.to_vec()).await.expect("seed");
    }

    // WHEN 200 keys are read at once, every present key followed by an absent one, newest first
    let keys: Vec<Key> = (0..200).rev().map(|i| key("many", &format!("{:03}", i / 2 + (i % 2) * 500))).collect();
    let read = store.get_many(ITEMS, &keys).await.expect("get_many");

    // THEN each present key gives its item and each absent one None, in the order asked
    assert_eq!(read.len(), 200);
    for (k, item) in keys.iter().zip(&read) {
        let i: usize = k.sk.parse().expect("numeric sk");
        match item {
            Some(item) => assert_eq!(item["i"], json!(i), "{k:?}"),
            None => assert!(i >= 130, "{k:?} is stored but was not read"),
        }
    }
    assert_eq!(read.iter().filter(|i| i.is_some()).count(), 100, "keys 0..100 (halved) of the 130 items are present");
}

// -------------------------------------------------------------------------------------------------
// 11. Durability barrier

async fn sync_answers_after_every_earlier_write_and_changes_nothing(engine: Engine) {
    // GIVEN a store that was never written, which syncs without complaint
    let store = fresh(engine).await;
    store.sync().await.expect("sync of an empty store");

    // AND concurrent writers, each syncing after its own write
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                store.write(WriteOp::put(ITEMS, item(json!({"pk": "synced", "sk": format!("{n}"), "n": n})))).await.expect("put");
                store.sync().await.expect("sync");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }

    // THEN every write is there exactly as written, and a sync wrote nothing of its own
    let items = all(&*store, Query::table(ITEMS, "synced")).await;
    assert_eq!(sort_keys(&items), (0..8).map(|n| n.to_string()).collect::<Vec<_>>());
    for item in &items {
        assert_eq!(item["n"].to_string(), item["sk"].as_str().expect("sk"), "{item:?}");
    }
    assert!(all(&*store, Query::table(COUNTERS, "synced")).await.is_empty());
}

docket_e2e::on_both_engines!(
    round_trip_keeps_every_json_type,
    whole_floats_read_back_as_integers,
    put_replaces_the_whole_item,
    put_if_not_exists_refuses_an_existing_item,
    equals_condition_guards_the_version,
    attribute_exists_and_not_exists,
    and_or_conditions,
    delete_with_a_failing_condition_keeps_the_item,
    check_alone_writes_nothing,
    update_sets_removes_and_adds,
    update_creates_a_missing_item,
    increment_counts_and_returns_the_new_value,
    transaction_is_all_or_nothing_across_tables,
    cancelled_transaction_reports_each_operation_in_order,
    successful_transaction_applies_every_operation,
    transaction_touching_one_item_twice_is_refused,
    empty_transaction_is_refused,
    query_returns_a_partition_in_sort_key_order,
    query_sort_key_ranges,
    query_ranges_with_empty_or_inverted_bounds,
    paging_reads_every_item_once_in_both_directions,
    a_full_last_page_still_carries_next,
    garbage_cursors_are_refused,
    limit_zero_is_refused,
    index_is_sparse_and_ordered_by_its_sort_key,
    index_ranges_apply_to_the_index_sort_key,
    index_paging_with_shared_sort_keys,
    index_follows_puts_updates_and_deletes,
    concurrent_increments_count_every_call,
    concurrent_creates_have_one_winner,
    optimistic_read_modify_write_loses_no_update,
    unknown_table_is_refused,
    unknown_index_is_refused,
    items_without_keys_are_refused,
    updates_cannot_change_the_key,
    index_attributes_must_be_strings,
    get_many_answers_each_key_in_order_as_get_does,
    get_many_reads_more_keys_than_one_batch_holds,
    sync_answers_after_every_earlier_write_and_changes_nothing,
);
