//! `SqliteItemStore`: the item-store port on an embedded SQLite file.
//!
//! Items live in one `items` table keyed by (logical table, pk, sk) with the JSON body beside
//! them; secondary indexes are rows of `index_entries`, rewritten in the same SQLite transaction
//! as the item, so an index is never out of step with its table. Every write runs in a
//! `BEGIN IMMEDIATE` transaction: conditions are read and checked under the write lock, which
//! gives the same atomicity DynamoDB gives to conditional writes and transactions.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use docket_store::{
    CancelReason, Condition, Item, ItemStore, Key, Page, Query, SortKeyRange, StoreError, TableSpec, Update, WriteOp, is_storable, open_cursor, seal_cursor,
    validate_index_keys, validate_item, validate_key, validate_query, validate_transaction,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};
use serde_json::Value;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, pk TEXT NOT NULL, sk TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS index_entries (
    tbl TEXT NOT NULL, idx TEXT NOT NULL, ipk TEXT NOT NULL, isk TEXT NOT NULL,
    pk TEXT NOT NULL, sk TEXT NOT NULL,
    PRIMARY KEY (tbl, idx, ipk, isk, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS index_entries_by_item ON index_entries (tbl, pk, sk);
";

#[derive(Clone)]
pub struct SqliteItemStore {
    connection: Arc<Mutex<Connection>>,
    tables: Arc<HashMap<&'static str, TableSpec>>,
}

impl SqliteItemStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path, tables: Vec<TableSpec>) -> Result<Self, StoreError> {
        let connection = Connection::open(path).map_err(backend)?;
        connection.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;").map_err(backend)?;
        Self::with_connection(connection, tables)
    }

    /// A private in-memory database, for tests and benchmarks.
    pub fn in_memory(tables: Vec<TableSpec>) -> Result<Self, StoreError> {
        Self::with_connection(Connection::open_in_memory().map_err(backend)?, tables)
    }

    fn with_connection(connection: Connection, tables: Vec<TableSpec>) -> Result<Self, StoreError> {
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(backend)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)), tables: Arc::new(tables.into_iter().map(|t| (t.name, t)).collect()) })
    }

    fn spec(&self, table: &str) -> Result<&TableSpec, StoreError> {
        self.tables.get(table).ok_or_else(|| StoreError::Validation(format!("unknown table {table}")))
    }

    /// Runs blocking SQLite work off the async executor, holding the connection.
    async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &HashMap<&'static str, TableSpec>) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = self.connection.clone();
        let tables = self.tables.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself is still sound
            // because every write is inside a transaction that rolled back.
            let mut guard = connection.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut guard, &tables)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("sqlite worker failed: {e}")))?
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Transient(e.to_string())
        }
        other => StoreError::Backend(other.to_string()),
    }
}

fn read_item(conn: &Connection, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
    let body: Option<String> = conn
        .query_row("SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![table, key.pk, key.sk], |row| row.get(0))
        .optional()
        .map_err(backend)?;
    body.map(|b| decode_body(&b)).transpose()
}

fn decode_body(body: &str) -> Result<Item, StoreError> {
    match serde_json::from_str(body) {
        Ok(Value::Object(item)) => Ok(item),
        _ => Err(StoreError::Backend("stored item is not a JSON object".into())),
    }
}

/// Writes an item and rewrites its index entries.
fn store_item(conn: &Connection, spec: &TableSpec, key: &Key, item: &Item) -> Result<(), StoreError> {
    validate_index_keys(spec, item)?;
    let mut entries = Vec::new();
    for index in &spec.indexes {
        let (ipk, isk) = (item.get(index.partition_attribute), item.get(index.sort_attribute));
        if let (Some(Value::String(ipk)), Some(Value::String(isk))) = (ipk, isk) {
            entries.push((index.name, ipk.as_str(), isk.as_str()));
        }
    }
    let body = if item.values().any(holds_whole_float) {
        let mut item = Value::Object(item.clone());
        as_dynamodb_numbers(&mut item);
        serde_json::to_string(&item)
    } else {
        serde_json::to_string(item)
    }
    .map_err(|e| StoreError::Validation(e.to_string()))?;
    conn.execute("INSERT OR REPLACE INTO items (tbl, pk, sk, body) VALUES (?1, ?2, ?3, ?4)", params![spec.name, key.pk, key.sk, body]).map_err(backend)?;
    remove_index_entries(conn, spec.name, key)?;
    for (idx, ipk, isk) in entries {
        conn.execute(
            "INSERT INTO index_entries (tbl, idx, ipk, isk, pk, sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![spec.name, idx, ipk, isk, key.pk, key.sk],
        )
        .map_err(backend)?;
    }
    Ok(())
}

/// True when the value is, or holds, a float with a whole value (2.0, -0.0, 1e18).
fn holds_whole_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|f| n.is_f64() && f.fract() == 0.0),
        Value::Array(values) => values.iter().any(holds_whole_float),
        Value::Object(map) => map.values().any(holds_whole_float),
        _ => false,
    }
}

/// DynamoDB numbers are decimal text without an integer/float type, so the DynamoDB engine gives
/// a float with a whole value back as an integer (2.0 as 2). Such numbers are stored the same way
/// here, so that both engines give back the same items (and `add` works on them alike): the text
/// the DynamoDB engine writes is read back as an i64, else a u64, else it stays a float.
fn as_dynamodb_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            let text = n.as_f64().map(|f| f.to_string()).unwrap_or_default();
            if let Ok(i) = text.parse::<i64>() {
                *value = Value::from(i);
            } else if let Ok(u) = text.parse::<u64>() {
                *value = Value::from(u);
            }
        }
        Value::Array(values) => values.iter_mut().for_each(as_dynamodb_numbers),
        Value::Object(map) => map.values_mut().for_each(as_dynamodb_numbers),
        _ => {}
    }
}

fn remove_index_entries(conn: &Connection, table: &str, key: &Key) -> Result<(), StoreError> {
    conn.execute("DELETE FROM index_entries WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![table, key.pk, key.sk]).map_err(backend)?;
    Ok(())
}

fn condition_of(op: &WriteOp) -> Option<&Condition> {
    match op {
        WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } | WriteOp::Update { condition, .. } => condition.as_ref(),
        WriteOp::Check { condition, .. } => Some(condition),
    }
}

/// Applies the writes of an already validated transaction whose conditions all hold.
fn apply(conn: &Connection, spec: &TableSpec, op: &WriteOp, current: Option<Item>) -> Result<(), StoreError> {
    match op {
        WriteOp::Put { item, .. } => {
            let key = validate_item(item)?;
            store_item(conn, spec, &key, item)
        }
        WriteOp::Delete { key, .. } => {
            conn.execute("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3", params![spec.name, key.pk, key.sk]).map_err(backend)?;
            remove_index_entries(conn, spec.name, key)
        }
        WriteOp::Check { .. } => Ok(()),
        WriteOp::Update { key, update, .. } => {
            let item = updated(current, key, update)?;
            store_item(conn, spec, key, &item)
        }
    }
}

fn updated(current: Option<Item>, key: &Key, update: &Update) -> Result<Item, StoreError> {
    if update.set.iter().map(|(n, _)| n).chain(&update.remove).chain(update.add.iter().map(|(n, _)| n)).any(|n| n == docket_store::PK || n == docket_store::SK)
    {
        return Err(StoreError::Validation("an update cannot change pk or sk".into()));
    }
    let mut item = current.unwrap_or_else(|| {
        let mut fresh = Item::new();
        fresh.insert(docket_store::PK.into(), Value::from(key.pk.clone()));
        fresh.insert(docket_store::SK.into(), Value::from(key.sk.clone()));
        fresh
    });
    update.apply(&mut item)?;
    Ok(item)
}

fn transact_blocking(conn: &mut Connection, tables: &HashMap<&'static str, TableSpec>, ops: &[WriteOp]) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let mut reasons = Vec::with_capacity(ops.len());
    let mut currents = Vec::with_capacity(ops.len());
    let mut failed = false;
    // DynamoDB checks every condition against the state before the transaction and reports a
    // reason for each operation; doing the same keeps both engines' answers identical.
    for op in ops {
        let spec = tables.get(op.table()).ok_or_else(|| StoreError::Validation(format!("unknown table {}", op.table())))?;
        let key = op.key().ok_or_else(|| StoreError::Validation("item without pk/sk".into()))?;
        validate_key(&key)?;
        let current = read_item(&tx, spec.name, &key)?;
        let holds = condition_of(op).is_none_or(|c| c.holds(current.as_ref()));
        failed |= !holds;
        reasons.push(if holds { CancelReason::None } else { CancelReason::ConditionFailed });
        currents.push(current);
    }
    if failed {
        return Err(StoreError::TransactionCancelled { reasons });
    }
    for (op, current) in ops.iter().zip(currents) {
        let spec = &tables[op.table()];
        apply(&tx, spec, op, current)?;
    }
    tx.commit().map_err(backend)
}

/// Position after the last item of a page: the sort key, plus the item key for index queries
/// (index sort keys need not be unique).
#[derive(serde::Serialize, serde::Deserialize)]
struct Position {
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    item: Option<(String, String)>,
}

fn range_sql(column: &str, range: &SortKeyRange, args: &mut Vec<String>) -> String {
    let mut arg = |v: &str| {
        args.push(v.to_owned());
        format!("?{}", args.len())
    };
    match range {
        SortKeyRange::All => String::new(),
        SortKeyRange::Equals(v) => format!(" AND {column} = {}", arg(v)),
        SortKeyRange::BeginsWith(p) => {
            let p = arg(p);
            format!(" AND substr({column}, 1, length({p})) = {p}")
        }
        SortKeyRange::Between(a, b) => format!(" AND {column} BETWEEN {} AND {}", arg(a), arg(b)),
        SortKeyRange::AtLeast(a) => format!(" AND {column} >= {}", arg(a)),
        SortKeyRange::AtMost(b) => format!(" AND {column} <= {}", arg(b)),
    }
}

fn query_blocking(conn: &Connection, spec: &TableSpec, q: &Query) -> Result<Page, StoreError> {
    if !validate_query(q)? {
        return Ok(Page::default());
    }
    let after: Option<Position> = q.after.as_ref().map(|cursor| open_cursor(q, cursor)).transpose()?;
    let (direction, beyond) = if q.ascending { ("ASC", ">") } else { ("DESC", "<") };
    let mut args = vec![spec.name.to_owned()];
    let sql = match &q.index {
        None => {
            args.push(q.partition.clone());
            let mut sql = String::from("SELECT body, sk FROM items WHERE tbl = ?1 AND pk = ?2");
            sql += &range_sql("sk", &q.range, &mut args);
            if let Some(after) = &after {
                args.push(after.sk.clone());
                sql += &format!(" AND sk {beyond} ?{}", args.len());
            }
            sql + &format!(" ORDER BY sk {direction} LIMIT {}", q.limit)
        }
        Some(index) => {
            let index = spec.index(index).ok_or_else(|| StoreError::Validation(format!("unknown index {index} on {}", spec.name)))?;
            args.push(index.name.to_owned());
            args.push(q.partition.clone());
            let mut sql = String::from(
                "SELECT i.body, e.isk, e.pk, e.sk FROM index_entries e JOIN items i \
                 ON i.tbl = e.tbl AND i.pk = e.pk AND i.sk = e.sk \
                 WHERE e.tbl = ?1 AND e.idx = ?2 AND e.ipk = ?3",
            );
            sql += &range_sql("e.isk", &q.range, &mut args);
            if let Some(after) = &after {
                let (pk, sk) = after.item.clone().ok_or(StoreError::InvalidCursor)?;
                args.extend([after.sk.clone(), pk, sk]);
                let n = args.len();
                sql += &format!(" AND (e.isk, e.pk, e.sk) {beyond} (?{}, ?{}, ?{n})", n - 2, n - 1);
            }
            sql + &format!(" ORDER BY e.isk {direction}, e.pk {direction}, e.sk {direction} LIMIT {}", q.limit)
        }
    };
    let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
    let is_index = q.index.is_some();
    let rows = statement
        .query_map(params_from_iter(args.iter()), |row| {
            let body: String = row.get(0)?;
            let position =
                if is_index { Position { sk: row.get(1)?, item: Some((row.get(2)?, row.get(3)?)) } } else { Position { sk: row.get(1)?, item: None } };
            Ok((body, position))
        })
        .map_err(backend)?;
    let mut items = Vec::new();
    let mut last = None;
    for row in rows {
        let (body, position) = row.map_err(backend)?;
        items.push(decode_body(&body)?);
        last = Some(position);
    }
    let next = if items.len() == q.limit { last.map(|position| seal_cursor(q, position)).transpose()? } else { None };
    Ok(Page { items, next })
}

#[async_trait]
impl ItemStore for SqliteItemStore {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let table = self.spec(table)?.name;
        if !is_storable(key) {
            return Ok(None);
        }
        let key = key.clone();
        self.run(move |conn, _| read_item(conn, table, &key)).await
    }

    async fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        self.spec(op.table())?;
        if let WriteOp::Put { item, .. } = &op {
            validate_item(item)?;
        }
        match self.transact(vec![op]).await {
            Err(StoreError::TransactionCancelled { .. }) => Err(StoreError::ConditionFailed),
            other => other,
        }
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        for op in &ops {
            self.spec(op.table())?;
            if let WriteOp::Put { item, .. } = op {
                validate_item(item)?;
            }
        }
        self.run(move |conn, tables| transact_blocking(conn, tables, &ops)).await
    }

    async fn increment(&self, table: &str, key: &Key, attribute: &str, by: i64) -> Result<i64, StoreError> {
        let table = self.spec(table)?.name;
        validate_key(key)?;
        let key = key.clone();
        let attribute = attribute.to_owned();
        self.run(move |conn, tables| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
            let current = read_item(&tx, table, &key)?;
            let update = Update { add: vec![(attribute.clone(), by)], ..Update::default() };
            let item = updated(current, &key, &update)?;
            store_item(&tx, &tables[table], &key, &item)?;
            tx.commit().map_err(backend)?;
            item.get(&attribute).and_then(Value::as_i64).ok_or_else(|| StoreError::Backend("counter lost its value".into()))
        })
        .await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let table = self.spec(&query.table)?.name;
        self.run(move |conn, tables| query_blocking(conn, &tables[table], &query)).await
    }
}
