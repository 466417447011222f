//! The item-store port: a small key-value store modelled on what DynamoDB offers.
//!
//! Items are JSON objects addressed by a partition key (`pk`) and a sort key (`sk`) inside a
//! logical table. Writes can carry conditions; several writes across tables can be committed as
//! one transaction; queries read one partition in sort-key order (either direction) with cursor
//! paging, on the table itself or on a secondary index. Every repository of Docket is written once
//! on top of this trait, and each storage engine (DynamoDB, SQLite) implements it.

mod checks;
mod condition;
mod schema;

use async_trait::async_trait;
use serde_json::{Map, Value};

pub use checks::{
    MAX_QUERY_LIMIT, index_key_type, is_storable, open_cursor, open_scoped, seal_cursor, seal_scoped, validate_index_keys, validate_key, validate_query,
};
pub use condition::Condition;
pub use schema::{IndexSpec, TableSpec};

/// One stored item: a JSON object that always holds the string attributes `pk` and `sk`.
pub type Item = Map<String, Value>;

/// Attribute names of the primary key, the same in every table.
pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// The primary key of an item inside a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }

    /// Reads the key attributes of an item, if both are present strings.
    pub fn of(item: &Item) -> Option<Key> {
        Some(Key::new(item.get(PK)?.as_str()?, item.get(SK)?.as_str()?))
    }
}

/// One write, used alone or inside a transaction.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// Replaces the whole item (which must carry `pk` and `sk`).
    Put { table: String, item: Item, condition: Option<Condition> },
    /// Removes the item; deleting a missing item is not an error unless a condition says so.
    Delete { table: String, key: Key, condition: Option<Condition> },
    /// Writes nothing; fails the transaction when the condition does not hold.
    Check { table: String, key: Key, condition: Condition },
    /// Sets, removes and atomically adds to attributes of an item, creating it if absent.
    Update { table: String, key: Key, update: Update, condition: Option<Condition> },
}

impl WriteOp {
    pub fn put(table: &str, item: Item) -> Self {
        WriteOp::Put { table: table.to_owned(), item, condition: None }
    }
    pub fn put_if(table: &str, item: Item, condition: Condition) -> Self {
        WriteOp::Put { table: table.to_owned(), item, condition: Some(condition) }
    }
    pub fn delete(table: &str, key: Key) -> Self {
        WriteOp::Delete { table: table.to_owned(), key, condition: None }
    }
    pub fn check(table: &str, key: Key, condition: Condition) -> Self {
        WriteOp::Check { table: table.to_owned(), key, condition }
    }
    pub fn table(&self) -> &str {
        match self {
            WriteOp::Put { table, .. } | WriteOp::Delete { table, .. } | WriteOp::Check { table, .. } | WriteOp::Update { table, .. } => table,
        }
    }
    pub fn key(&self) -> Option<Key> {
        match self {
            WriteOp::Put { item, .. } => Key::of(item),
            WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } | WriteOp::Update { key, .. } => Some(key.clone()),
        }
    }
}

/// Attribute changes of an [`WriteOp::Update`].
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub set: Vec<(String, Value)>,
    pub remove: Vec<String>,
    /// Numeric attributes increased by the given amount (a missing attribute counts as 0).
    pub add: Vec<(String, i64)>,
}

impl Update {
    /// Applies the change to an item held in memory (used by engines without native updates).
    pub fn apply(&self, item: &mut Item) -> Result<(), StoreError> {
        for (name, value) in &self.set {
            item.insert(name.clone(), value.clone());
        }
        for name in &self.remove {
            item.remove(name);
        }
        for (name, by) in &self.add {
            let current = match item.get(name) {
                None => 0,
                Some(v) => v.as_i64().ok_or_else(|| StoreError::Validation(format!("attribute {name} is not an integer")))?,
            };
            let next = current.checked_add(*by).ok_or_else(|| StoreError::Validation(format!("attribute {name} overflows")))?;
            item.insert(name.clone(), Value::from(next));
        }
        Ok(())
    }
}

/// Which sort keys of the partition a query returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SortKeyRange {
    #[default]
    All,
    Equals(String),
    BeginsWith(String),
    /// Inclusive on both ends, as DynamoDB's BETWEEN.
    Between(String, String),
    AtLeast(String),
    AtMost(String),
}

impl SortKeyRange {
    pub fn contains(&self, sk: &str) -> bool {
        match self {
            SortKeyRange::All => true,
            SortKeyRange::Equals(v) => sk == v,
            SortKeyRange::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortKeyRange::Between(a, b) => sk >= a.as_str() && sk <= b.as_str(),
            SortKeyRange::AtLeast(a) => sk >= a.as_str(),
            SortKeyRange::AtMost(b) => sk <= b.as_str(),
        }
    }
}

/// A query on one partition of a table or of one of its secondary indexes.
#[derive(Debug, Clone)]
pub struct Query {
    pub table: String,
    /// `None` reads the table itself; otherwise the named index of the table.
    pub index: Option<String>,
    pub partition: String,
    pub range: SortKeyRange,
    /// `true` for ascending sort keys, `false` for descending.
    pub ascending: bool,
    pub limit: usize,
    /// The `next` cursor of the previous page.
    pub after: Option<Cursor>,
}

impl Query {
    pub fn table(table: &str, partition: impl Into<String>) -> Self {
        Query { table: table.to_owned(), index: None, partition: partition.into(), range: SortKeyRange::All, ascending: true, limit: 100, after: None }
    }
    pub fn index(table: &str, index: &str, partition: impl Into<String>) -> Self {
        Query { index: Some(index.to_owned()), ..Query::table(table, partition) }
    }
    pub fn range(mut self, range: SortKeyRange) -> Self {
        self.range = range;
        self
    }
    pub fn descending(mut self) -> Self {
        self.ascending = false;
        self
    }
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }
    pub fn after(mut self, after: Option<Cursor>) -> Self {
        self.after = after;
        self
    }
}

/// An opaque position in a query's results; each engine encodes its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub String);

/// One page of a query. `next` is set whenever the page is full, so the last page may be empty.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

/// Why a transaction was refused, per operation, in the order they were given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelReason {
    None,
    ConditionFailed,
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("condition failed")]
    ConditionFailed,
    #[error("transaction cancelled: {reasons:?}")]
    TransactionCancelled { reasons: Vec<CancelReason> },
    #[error("invalid request to the store: {0}")]
    Validation(String),
    #[error("invalid cursor")]
    InvalidCursor,
    /// Throttling, conflicts between concurrent transactions, timeouts: worth retrying.
    #[error("transient store failure: {0}")]
    Transient(String),
    #[error("store failure: {0}")]
    Backend(String),
}

impl StoreError {
    /// True when the failure comes from a condition (alone or inside a transaction).
    pub fn is_condition_failure(&self) -> bool {
        match self {
            StoreError::ConditionFailed => true,
            StoreError::TransactionCancelled { reasons } => reasons.contains(&CancelReason::ConditionFailed),
            _ => false,
        }
    }

    /// Index of the first operation whose condition failed in a cancelled transaction.
    pub fn failed_operation(&self) -> Option<usize> {
        match self {
            StoreError::TransactionCancelled { reasons } => reasons.iter().position(|r| *r == CancelReason::ConditionFailed),
            _ => None,
        }
    }
}

/// Most operations a DynamoDB transaction may hold.
pub const MAX_TRANSACTION_OPS: usize = 100;

/// The port. Engines: `SqliteItemStore` (docket-embedded) and `DynamoItemStore` (docket-aws).
#[async_trait]
pub trait ItemStore: Send + Sync {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError>;
    /// Several items of one table at once, in the order of `keys` (`None` where absent; a key
    /// may repeat). One round trip where the engine has a batch read (SQLite: one read
    /// transaction; DynamoDB: `BatchGetItem` by hundreds), so a page of 25 costs one read, not 25.
    /// Not a snapshot across items on every engine: each item is as current as a `get`.
    async fn get_many(&self, table: &str, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut items = Vec::with_capacity(keys.len());
        for key in keys {
            items.push(self.get(table, key).await?);
        }
        Ok(items)
    }
    /// One write; a failed condition gives [`StoreError::ConditionFailed`].
    async fn write(&self, op: WriteOp) -> Result<(), StoreError>;
    /// All writes or none; a failed condition gives [`StoreError::TransactionCancelled`].
    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;
    /// Atomically adds `by` to a numeric attribute (creating the item) and returns the new value.
    async fn increment(&self, table: &str, key: &Key, attribute: &str, by: i64) -> Result<i64, StoreError>;
    async fn query(&self, query: Query) -> Result<Page, StoreError>;
    /// Makes every write answered before the call durable: once it returns, they survive a
    /// power cut. A no-op where every answered write already is (DynamoDB, the default); the
    /// SQLite engine commits without waiting for the disk and syncs its log here, once for all
    /// the writes before (and for concurrent callers together). Call it before reporting work
    /// as done to someone who will not repeat it (an SMTP `250`).
    async fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Checks what every engine must refuse the same way before touching storage.
pub fn validate_transaction(ops: &[WriteOp]) -> Result<(), StoreError> {
    if ops.is_empty() {
        return Err(StoreError::Validation("a transaction needs at least one operation".into()));
    }
    if ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::Validation(format!("a transaction holds at most {MAX_TRANSACTION_OPS} operations")));
    }
    let mut seen = std::collections::HashSet::new();
    for op in ops {
        let key = op.key().ok_or_else(|| StoreError::Validation("item without pk/sk".into()))?;
        if !seen.insert((op.table().to_owned(), key)) {
            return Err(StoreError::Validation("a transaction cannot touch one item twice".into()));
        }
    }
    Ok(())
}

/// Checks that an item to put carries string keys.
pub fn validate_item(item: &Item) -> Result<Key, StoreError> {
    let key = Key::of(item).ok_or_else(|| StoreError::Validation("item needs string pk and sk".into()))?;
    validate_key(&key)?;
    Ok(key)
}
