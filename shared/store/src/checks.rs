//! What every engine refuses, or answers, the same way before it touches storage: keys that
//! cannot be stored, index key attributes that are not strings, page limits, and cursors used
//! with a query other than the one that gave them. Engines call these first, so the SQLite and
//! DynamoDB adapters cannot drift apart on them (the conformance suite checks both).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Cursor, Item, Key, Query, SortKeyRange, StoreError, TableSpec};

/// Largest page a query may ask for, on every engine (DynamoDB bounds a page by size; the port
/// also bounds it by count, so a page's cost is known).
pub const MAX_QUERY_LIMIT: usize = 1000;

/// Whether an item can be stored under the key: no part of a stored key is empty. A read of any
/// other key finds nothing (DynamoDB would refuse it instead).
pub fn is_storable(key: &Key) -> bool {
    !key.pk.is_empty() && !key.sk.is_empty()
}

/// Refuses a write naming a key no item can be stored under.
pub fn validate_key(key: &Key) -> Result<(), StoreError> {
    if is_storable(key) { Ok(()) } else { Err(StoreError::Validation("pk and sk must not be empty".into())) }
}

/// Refuses an item whose secondary-index key attributes are not strings. DynamoDB declares them
/// strings and refuses another type even when the index's other key attribute is absent.
pub fn validate_index_keys(spec: &TableSpec, item: &Item) -> Result<(), StoreError> {
    for index in &spec.indexes {
        for attribute in [index.partition_attribute, index.sort_attribute] {
            if item.get(attribute).is_some_and(|value| !value.is_string()) {
                return Err(index_key_type(index.name, attribute));
            }
        }
    }
    Ok(())
}

/// The refusal of a non-string value for an index key attribute.
pub fn index_key_type(index: &str, attribute: &str) -> StoreError {
    StoreError::Validation(format!("attribute {attribute} is a key of index {index} and must be a string"))
}

/// Checks a query's limit and says whether it can match anything at all: an empty partition or
/// a range no stored sort key falls in never does, and the engine then answers an empty page.
pub fn validate_query(query: &Query) -> Result<bool, StoreError> {
    if !(1..=MAX_QUERY_LIMIT).contains(&query.limit) {
        return Err(StoreError::Validation(format!("a query limit must be between 1 and {MAX_QUERY_LIMIT}")));
    }
    let empty_range = match &query.range {
        SortKeyRange::Equals(value) | SortKeyRange::AtMost(value) => value.is_empty(),
        SortKeyRange::Between(low, high) => low > high || high.is_empty(),
        SortKeyRange::All | SortKeyRange::BeginsWith(_) | SortKeyRange::AtLeast(_) => false,
    };
    Ok(!query.partition.is_empty() && !empty_range)
}

/// A cursor as both engines hand it out: the engine's position after the page's last item,
/// bound to the query that produced it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope<P> {
    /// Fingerprint of the query (table, index, partition, direction, range).
    q: String,
    at: P,
}

/// Wraps an engine's position into a cursor bound to `query`.
pub fn seal_cursor<P: Serialize>(query: &Query, position: P) -> Result<Cursor, StoreError> {
    seal(fingerprint(query), position)
}

/// The engine's position in a cursor, refused when the cursor is not one, or was given by
/// another query (another partition, index, range or direction): paging must not jump lists.
pub fn open_cursor<P: DeserializeOwned>(query: &Query, cursor: &Cursor) -> Result<P, StoreError> {
    open(&fingerprint(query), cursor)
}

/// Wraps a position into a cursor bound to `scope`: the parts that describe a list a repository
/// pages itself (its filters and order), beyond what one store query says.
pub fn seal_scoped<P: Serialize>(scope: &[&str], position: P) -> Result<Cursor, StoreError> {
    seal(digest(scope), position)
}

/// The position in a cursor of [`seal_scoped`], refused when it was given for another scope.
pub fn open_scoped<P: DeserializeOwned>(scope: &[&str], cursor: &Cursor) -> Result<P, StoreError> {
    open(&digest(scope), cursor)
}

fn seal<P: Serialize>(q: String, position: P) -> Result<Cursor, StoreError> {
    let json = serde_json::to_vec(&Envelope { q, at: position }).map_err(|e| StoreError::Backend(format!("cursor: {e}")))?;
    Ok(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

fn open<P: DeserializeOwned>(q: &str, cursor: &Cursor) -> Result<P, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.0.as_bytes()).map_err(|_| StoreError::InvalidCursor)?;
    let envelope: Envelope<P> = serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    if envelope.q != q {
        return Err(StoreError::InvalidCursor);
    }
    Ok(envelope.at)
}

/// A stable digest of what a query reads (FNV-1a, 64 bits): not a secret, only a binding. The
/// engines still check the position itself, since a client can write any cursor it likes.
fn fingerprint(query: &Query) -> String {
    let (kind, low, high) = match &query.range {
        SortKeyRange::All => ("all", "", ""),
        SortKeyRange::Equals(v) => ("eq", v.as_str(), ""),
        SortKeyRange::BeginsWith(v) => ("begins", v.as_str(), ""),
        SortKeyRange::Between(a, b) => ("between", a.as_str(), b.as_str()),
        SortKeyRange::AtLeast(v) => ("ge", v.as_str(), ""),
        SortKeyRange::AtMost(v) => ("le", v.as_str(), ""),
    };
    let direction = if query.ascending { "asc" } else { "desc" };
    digest(&[query.table.as_str(), query.index.as_deref().unwrap_or(""), query.partition.as_str(), direction, kind, low, high])
}

/// FNV-1a over the parts, each preceded by its length.
fn digest(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        // The length first, so ("ab", "c") and ("a", "bc") differ.
        for byte in (part.len() as u64).to_le_bytes().iter().chain(part.as_bytes()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_opens_only_for_the_query_that_gave_it() {
        let query = Query::index("cases", "by_status", "STATUS#New").descending().limit(25);
        let cursor = seal_cursor(&query, ("sk-1", "pk-1")).unwrap();
        let position: (String, String) = open_cursor(&query.clone().limit(50), &cursor).unwrap();
        assert_eq!(position, ("sk-1".to_owned(), "pk-1".to_owned()), "the page size may change between pages");
        for other in [
            Query::index("cases", "by_status", "STATUS#Closed").descending(),
            Query::index("cases", "by_assignee", "STATUS#New").descending(),
            Query::index("cases", "by_status", "STATUS#New"),
            Query::table("cases", "STATUS#New").descending(),
            Query::index("cases", "by_status", "STATUS#New").descending().range(SortKeyRange::BeginsWith("2026".into())),
        ] {
            assert!(matches!(open_cursor::<(String, String)>(&other, &cursor), Err(StoreError::InvalidCursor)), "{other:?}");
        }
        for junk in ["", "not base64!", "e30"] {
            assert!(matches!(open_cursor::<(String, String)>(&query, &Cursor(junk.into())), Err(StoreError::InvalidCursor)), "{junk}");
        }
    }

    #[test]
    fn a_scoped_cursor_opens_only_in_its_scope() {
        let cursor = seal_scoped(&["cases", "sort=updated", "q=printer"], "position").unwrap();
        assert_eq!(open_scoped::<String>(&["cases", "sort=updated", "q=printer"], &cursor).unwrap(), "position");
        for other in [&["cases", "sort=updated", "q=printers"][..], &["cases", "sort=updatedq=printer"], &["cases", "sort=priority", "q=printer"]] {
            assert!(matches!(open_scoped::<String>(other, &cursor), Err(StoreError::InvalidCursor)), "{other:?}");
        }
        let query = Query::table("cases", "p");
        assert!(open_cursor::<String>(&query, &cursor).is_err(), "a scoped cursor is no query's cursor");
    }

    #[test]
    fn queries_that_cannot_match_are_known_before_the_engine_runs_them() {
        let base = Query::table("t", "p");
        assert!(validate_query(&base).unwrap());
        assert!(!validate_query(&Query::table("t", "")).unwrap());
        assert!(!validate_query(&base.clone().range(SortKeyRange::Equals(String::new()))).unwrap());
        assert!(!validate_query(&base.clone().range(SortKeyRange::Between("b".into(), "a".into()))).unwrap());
        assert!(validate_query(&base.clone().range(SortKeyRange::BeginsWith(String::new()))).unwrap());
        assert!(validate_query(&base.clone().limit(0)).is_err());
        assert!(validate_query(&base.clone().limit(MAX_QUERY_LIMIT + 1)).is_err());
        assert!(validate_query(&base.limit(MAX_QUERY_LIMIT)).unwrap());
    }

    #[test]
    fn keys_and_index_attributes_are_checked_alike() {
        assert!(validate_key(&Key::new("a", "")).is_err() && validate_key(&Key::new("", "b")).is_err());
        assert!(validate_key(&Key::new("a", "b")).is_ok() && !is_storable(&Key::new("", "")));
        let spec = TableSpec { name: "t", indexes: vec![crate::IndexSpec { name: "by_x", partition_attribute: "x_pk", sort_attribute: "x_sk" }] };
        let item = |value: serde_json::Value| serde_json::json!({ "pk": "a", "sk": "b", "x_pk": value }).as_object().cloned().unwrap_or_default();
        assert!(validate_index_keys(&spec, &item("ok".into())).is_ok());
        assert!(validate_index_keys(&spec, &item(serde_json::json!(3))).is_err(), "an index key of another type, even without its partner");
    }
}
