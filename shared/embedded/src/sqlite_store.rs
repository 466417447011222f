//! `SqliteItemStore`: the item-store port on an embedded SQLite file.
//!
//! Items live in one `items` table keyed by (logical table, pk, sk) with the JSON body beside
//! them; secondary indexes are rows of `index_entries`, rewritten in the same SQLite transaction
//! as the item, so an index is never out of step with its table. Every write runs in a
//! `BEGIN IMMEDIATE` transaction: conditions are read and checked under the write lock, which
//! gives the same atomicity DynamoDB gives to conditional writes and transactions.
//!
//! Threads. One writer thread owns the only writing connection; writes are sent to it and
//! answered on a oneshot channel. It commits whatever writes are waiting as one group: each write
//! runs in a savepoint of one `BEGIN IMMEDIATE` transaction (a failed one is rolled back to its
//! savepoint alone, so writes keep their own outcomes, in the order they arrived), and the
//! group's single `COMMIT` is its single sync to disk. Reads run in place on the caller's thread
//! on a pooled read-only connection: in WAL mode readers never wait for the writer, a point read
//! takes microseconds, and a hop to another thread would cost more than the read itself.
//!
//! Durability. Files opened with [`SqliteItemStore::open`] run WAL mode with `synchronous=NORMAL`:
//! a commit is atomic and survives the process dying at once, and the WAL is appended in commit
//! order with checksummed frames, so a power cut can only lose a suffix of the latest commits,
//! never a commit before a lost one, and never leaves a half transaction. [`ItemStore::sync`]
//! closes that window: the writer syncs the WAL (one `fdatasync`) after the group holding the
//! request committed, so every write answered before the call survives a power cut once it
//! returns. A caller who reports work as done (the inbound pipeline, before its SMTP `250`)
//! syncs once for all the commits of that work; concurrent callers share one sync.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use docket_store::{
    CancelReason, Condition, Item, ItemStore, Key, Page, Query, SortKeyRange, StoreError, TableSpec, Update, WriteOp, is_storable, open_cursor, seal_cursor,
    validate_index_keys, validate_item, validate_key, validate_query, validate_transaction,
};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};
use serde_json::Value;
use tokio::sync::oneshot;

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

/// Most writes committed as one group: enough to absorb every concurrent writer of a busy
/// process, small enough that the first of them never waits long for the last.
const MAX_GROUP: usize = 64;

/// Idle read connections kept for reuse; more may be open at once under load, the surplus is
/// closed when given back.
const MAX_IDLE_READERS: usize = 8;

/// How long a connection waits for a lock held by another process sharing the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Statements kept prepared per connection (the writer uses about a dozen, queries vary).
const STATEMENT_CACHE: usize = 64;

type Tables = HashMap<&'static str, TableSpec>;

#[derive(Clone)]
pub struct SqliteItemStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    tables: Arc<Tables>,
    /// Idle read-only connections.
    readers: Mutex<Vec<Connection>>,
    /// The writer thread's queue; dropping the last store closes it and the thread ends.
    writer: mpsc::Sender<Job>,
}

/// Where the writer answers a write: the counter's new value for an increment, 0 otherwise.
type Reply = oneshot::Sender<Result<i64, StoreError>>;

/// One write for the writer thread, with where to answer.
struct Job {
    request: Request,
    reply: Reply,
}

enum Request {
    Transact(Vec<WriteOp>),
    Increment {
        table: &'static str,
        key: Key,
        attribute: String,
        by: i64,
    },
    /// Sync the WAL once the group is committed.
    Sync,
}

/// How commits reach the disk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Commits are ordered and atomic; [`ItemStore::sync`] makes them durable.
    OnRequest,
    /// Never synced: a throwaway database whose loss on a crash does not matter.
    Off,
}

impl SqliteItemStore {
    /// Opens (creating if needed) the database file; writes are durable once a later
    /// [`ItemStore::sync`] returned.
    pub fn open(path: &Path, tables: Vec<TableSpec>) -> Result<Self, StoreError> {
        Self::start(path.to_owned(), tables, Sync::OnRequest, false)
    }

    /// A private database for tests and benchmarks: a fresh temporary file, never synced,
    /// removed when the last clone of the store is dropped. It runs the same threads and
    /// connections as a file opened with [`SqliteItemStore::open`], so tests exercise them.
    pub fn in_memory(tables: Vec<TableSpec>) -> Result<Self, StoreError> {
        let path = std::env::temp_dir().join(format!("docket-store-{}.sqlite", ulid::Ulid::new()));
        let started = Self::start(path.clone(), tables, Sync::Off, true);
        if started.is_err() {
            remove_database(&path);
        }
        started
    }

    fn start(path: PathBuf, tables: Vec<TableSpec>, sync: Sync, temporary: bool) -> Result<Self, StoreError> {
        let connection = Connection::open(&path).map_err(backend)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        let synchronous = match sync {
            Sync::OnRequest => "NORMAL",
            Sync::Off => "OFF",
        };
        connection.execute_batch(&format!("PRAGMA journal_mode=WAL; PRAGMA synchronous={synchronous};")).map_err(backend)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let tables: Arc<Tables> = Arc::new(tables.into_iter().map(|t| (t.name, t)).collect());
        let (writer, jobs) = mpsc::channel();
        let thread_tables = tables.clone();
        let remove_on_exit = temporary.then(|| path.clone());
        let wal = (sync == Sync::OnRequest).then(|| wal_path(&path));
        std::thread::Builder::new()
            .name("docket-sqlite-writer".into())
            .spawn(move || write_loop(connection, &thread_tables, &jobs, wal.as_deref(), remove_on_exit))
            .map_err(|e| StoreError::Backend(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self { inner: Arc::new(Inner { path, tables, readers: Mutex::new(Vec::new()), writer }) })
    }

    fn spec(&self, table: &str) -> Result<&TableSpec, StoreError> {
        self.inner.tables.get(table).ok_or_else(|| StoreError::Validation(format!("unknown table {table}")))
    }

    /// Runs a read on an idle read connection (opening one when none is idle), in place.
    fn read<T>(&self, work: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.inner.readers.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let connection = match idle {
            Some(connection) => connection,
            None => open_reader(&self.inner.path)?,
        };
        let result = work(&connection);
        let mut readers = self.inner.readers.lock().unwrap_or_else(PoisonError::into_inner);
        if readers.len() < MAX_IDLE_READERS {
            readers.push(connection);
        }
        result
    }

    /// Hands a write to the writer thread and waits for its group's commit.
    async fn submit(&self, request: Request) -> Result<i64, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner.writer.send(Job { request, reply }).map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))?;
        answer.await.map_err(|_| StoreError::Backend("the SQLite writer dropped a write".into()))?
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open(path).map_err(backend)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    // A reader never writes: should a bug try, SQLite refuses instead of racing the writer.
    connection.execute_batch("PRAGMA query_only=ON;").map_err(backend)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(connection)
}

/// SQLite's write-ahead log of a database file: its name with `-wal` appended.
fn wal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Syncs the WAL's data to disk. `fdatasync` flushes the file, whichever descriptor asks, so the
/// writer's own connection needs no hook. No WAL means nothing is waiting in one (SQLite syncs
/// the database file itself before it lets a checkpoint empty the WAL).
fn sync_wal(wal: &Path) -> Result<(), StoreError> {
    match std::fs::File::open(wal) {
        Ok(file) => file.sync_data().map_err(|e| StoreError::Transient(format!("cannot sync {}: {e}", wal.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Transient(format!("cannot open {} to sync it: {e}", wal.display()))),
    }
}

/// Removes a temporary database with its WAL and shared-memory files (best effort: a leftover
/// in the temporary folder harms nothing).
fn remove_database(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

/// The writer thread: takes the first waiting write, then every other one already waiting (up
/// to [`MAX_GROUP`]), and commits them together. It ends when every store handle is dropped.
fn write_loop(connection: Connection, tables: &Tables, jobs: &mpsc::Receiver<Job>, wal: Option<&Path>, remove_on_exit: Option<PathBuf>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&connection, tables, wal, group);
    }
    drop(connection);
    if let Some(path) = remove_on_exit {
        remove_database(&path);
    }
}

/// A copy of an error for each write of a group that shares it.
fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Transient(m) => StoreError::Transient(m.clone()),
        other => StoreError::Backend(other.to_string()),
    }
}

fn run_statement(connection: &Connection, sql: &str) -> Result<(), StoreError> {
    connection.prepare_cached(sql).and_then(|mut statement| statement.execute([])).map(drop).map_err(backend)
}

/// Commits a group of writes in one transaction, each in its own savepoint, and answers each
/// only after the commit (or with the failure that undid it). When the group holds a sync
/// request (and the store syncs at all: `wal`), the WAL is synced once before anyone is answered.
fn commit_group(connection: &Connection, tables: &Tables, wal: Option<&Path>, group: Vec<Job>) {
    let wants_sync = group.iter().any(|job| matches!(job.request, Request::Sync));
    if let Err(error) = run_statement(connection, "BEGIN IMMEDIATE") {
        for job in group {
            let _ = job.reply.send(Err(copy_error(&error)));
        }
        return;
    }
    // Each write's reply, its own result, and whether it asked for the sync.
    let mut done: Vec<(Reply, Result<i64, StoreError>, bool)> = Vec::with_capacity(group.len());
    let mut lost: Option<StoreError> = None;
    for Job { request, reply } in group {
        let is_sync = matches!(request, Request::Sync);
        if let Some(error) = &lost {
            let _ = reply.send(Err(copy_error(error)));
            continue;
        }
        let result = run_statement(connection, "SAVEPOINT write").and_then(|()| {
            // A bug that panics fails its own write, not the writer thread and every later write.
            let result = catch_unwind(AssertUnwindSafe(|| perform(connection, tables, &request)))
                .unwrap_or_else(|_| Err(StoreError::Backend("the SQLite writer failed on a write".into())));
            let undo = if result.is_err() { run_statement(connection, "ROLLBACK TO write") } else { Ok(()) };
            undo.and_then(|()| run_statement(connection, "RELEASE write")).map(|()| result)
        });
        match result {
            Ok(result) => done.push((reply, result, is_sync)),
            Err(error) => {
                // The savepoint itself failed: what the group did so far is in doubt.
                lost = Some(StoreError::Transient(format!("the group's transaction failed: {error}")));
                let _ = reply.send(Err(error));
            }
        }
        // Some failures (an I/O error, a full disk) make SQLite roll back the whole transaction.
        if lost.is_none() && connection.is_autocommit() {
            lost = Some(StoreError::Transient("the group's transaction was rolled back".into()));
        }
    }
    let committed = match lost {
        Some(error) => Err(error),
        None => run_statement(connection, "COMMIT"),
    };
    if let Err(error) = committed {
        if !connection.is_autocommit() {
            let _ = run_statement(connection, "ROLLBACK");
        }
        for (reply, result, _) in done {
            let _ = reply.send(result.and(Err(copy_error(&error))));
        }
        return;
    }
    let synced = match wal {
        Some(wal) if wants_sync => sync_wal(wal),
        _ => Ok(()),
    };
    for (reply, result, is_sync) in done {
        // Only the sync requests depend on the sync: the writes are committed either way.
        let result = match (&synced, result) {
            (Err(error), Ok(_)) if is_sync => Err(copy_error(error)),
            (_, result) => result,
        };
        let _ = reply.send(result);
    }
}

/// One write inside the open transaction.
fn perform(connection: &Connection, tables: &Tables, request: &Request) -> Result<i64, StoreError> {
    match request {
        Request::Transact(ops) => transact_ops(connection, tables, ops).map(|()| 0),
        Request::Sync => Ok(0),
        Request::Increment { table, key, attribute, by } => {
            let current = read_item(connection, table, key)?;
            let update = Update { add: vec![(attribute.clone(), *by)], ..Update::default() };
            let item = updated(current, key, &update)?;
            let spec = tables.get(table).ok_or_else(|| StoreError::Validation(format!("unknown table {table}")))?;
            store_item(connection, spec, key, &item)?;
            item.get(attribute).and_then(Value::as_i64).ok_or_else(|| StoreError::Backend("counter lost its value".into()))
        }
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
    let mut statement = conn.prepare_cached("SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3").map_err(backend)?;
    let body: Option<String> = statement.query_row(params![table, key.pk, key.sk], |row| row.get(0)).optional().map_err(backend)?;
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
    conn.prepare_cached("INSERT OR REPLACE INTO items (tbl, pk, sk, body) VALUES (?1, ?2, ?3, ?4)")
        .and_then(|mut statement| statement.execute(params![spec.name, key.pk, key.sk, body]))
        .map_err(backend)?;
    remove_index_entries(conn, spec.name, key)?;
    for (idx, ipk, isk) in entries {
        conn.prepare_cached("INSERT INTO index_entries (tbl, idx, ipk, isk, pk, sk) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .and_then(|mut statement| statement.execute(params![spec.name, idx, ipk, isk, key.pk, key.sk]))
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
    conn.prepare_cached("DELETE FROM index_entries WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
        .and_then(|mut statement| statement.execute(params![table, key.pk, key.sk]))
        .map_err(backend)?;
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
            conn.prepare_cached("DELETE FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3")
                .and_then(|mut statement| statement.execute(params![spec.name, key.pk, key.sk]))
                .map_err(backend)?;
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

/// The writes of one port transaction, inside the writer's open transaction (its savepoint
/// undoes them when one fails).
fn transact_ops(tx: &Connection, tables: &Tables, ops: &[WriteOp]) -> Result<(), StoreError> {
    let mut reasons = Vec::with_capacity(ops.len());
    let mut currents = Vec::with_capacity(ops.len());
    let mut failed = false;
    // DynamoDB checks every condition against the state before the transaction and reports a
    // reason for each operation; doing the same keeps both engines' answers identical.
    for op in ops {
        let spec = tables.get(op.table()).ok_or_else(|| StoreError::Validation(format!("unknown table {}", op.table())))?;
        let key = op.key().ok_or_else(|| StoreError::Validation("item without pk/sk".into()))?;
        validate_key(&key)?;
        let current = read_item(tx, spec.name, &key)?;
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
        apply(tx, spec, op, current)?;
    }
    Ok(())
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

/// Reads several items of one table in one read transaction (a consistent snapshot), in the
/// order of `keys`; a key read twice costs one lookup.
fn read_items(conn: &Connection, table: &str, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
    let snapshot = conn.unchecked_transaction().map_err(backend)?;
    let mut found: HashMap<&Key, Option<Item>> = HashMap::with_capacity(keys.len());
    let mut items = Vec::with_capacity(keys.len());
    for key in keys {
        let item = match found.get(key) {
            Some(item) => item.clone(),
            None => {
                let item = read_item(&snapshot, table, key)?;
                found.insert(key, item.clone());
                item
            }
        };
        items.push(item);
    }
    snapshot.finish().map_err(backend)?;
    Ok(items)
}

#[async_trait]
impl ItemStore for SqliteItemStore {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let table = self.spec(table)?.name;
        if !is_storable(key) {
            return Ok(None);
        }
        self.read(|conn| read_item(conn, table, key))
    }

    async fn get_many(&self, table: &str, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let table = self.spec(table)?.name;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.read(|conn| read_items(conn, table, keys))
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
        self.submit(Request::Transact(ops)).await.map(drop)
    }

    async fn increment(&self, table: &str, key: &Key, attribute: &str, by: i64) -> Result<i64, StoreError> {
        let table = self.spec(table)?.name;
        validate_key(key)?;
        self.submit(Request::Increment { table, key: key.clone(), attribute: attribute.to_owned(), by }).await
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let spec = self.spec(&query.table)?;
        self.read(|conn| query_blocking(conn, spec, &query))
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.submit(Request::Sync).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tables() -> Vec<TableSpec> {
        vec![TableSpec { name: "items", indexes: vec![] }]
    }

    fn item(value: Value) -> Item {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn scratch_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("docket-store-test-{name}-{}.sqlite", ulid::Ulid::new()))
    }

    #[test]
    fn a_refused_write_in_a_group_leaves_the_others_of_the_group_committed() {
        // GIVEN a database holding one item, and a group of three writes of which the middle
        // one's condition fails
        let path = scratch_path("group");
        let connection = Connection::open(&path).expect("open");
        connection.execute_batch(SCHEMA).expect("schema");
        let tables: Tables = tables().into_iter().map(|t| (t.name, t)).collect();
        let existing = item(json!({"pk": "taken", "sk": "1"}));
        transact_ops(&connection, &tables, &[WriteOp::put("items", existing)]).expect("seed");
        let job = |op: WriteOp| {
            let (reply, answer) = oneshot::channel();
            (Job { request: Request::Transact(vec![op]), reply }, answer)
        };
        let (first, first_answer) = job(WriteOp::put("items", item(json!({"pk": "a", "sk": "1"}))));
        let (second, second_answer) = job(WriteOp::put_if("items", item(json!({"pk": "taken", "sk": "1", "x": 1})), Condition::NotExists));
        let (third, third_answer) = job(WriteOp::put("items", item(json!({"pk": "b", "sk": "1"}))));

        // WHEN the group is committed
        commit_group(&connection, &tables, None, vec![first, second, third]);

        // THEN each write got its own answer, the refused one alone was undone, and the
        // transaction is closed
        assert!(matches!(first_answer.blocking_recv(), Ok(Ok(0))));
        assert!(matches!(second_answer.blocking_recv(), Ok(Err(StoreError::TransactionCancelled { .. }))));
        assert!(matches!(third_answer.blocking_recv(), Ok(Ok(0))));
        assert!(connection.is_autocommit(), "the group's transaction is committed");
        for (pk, expected) in
            [("a", Some(json!({"pk": "a", "sk": "1"}))), ("b", Some(json!({"pk": "b", "sk": "1"}))), ("taken", Some(json!({"pk": "taken", "sk": "1"})))]
        {
            assert_eq!(read_item(&connection, "items", &Key::new(pk, "1")).expect("read").map(Value::Object), expected, "{pk}");
        }
        drop(connection);
        remove_database(&path);
    }

    #[tokio::test]
    async fn writes_answered_are_on_disk_for_the_next_process() {
        // GIVEN a database file written through one store, which is then dropped
        let path = scratch_path("reopen");
        let store = SqliteItemStore::open(&path, tables()).expect("open");
        store.write(WriteOp::put("items", item(json!({"pk": "kept", "sk": "1", "n": 1})))).await.expect("put");
        assert_eq!(store.increment("items", &Key::new("count", "1"), "n", 5).await.expect("increment"), 5);
        drop(store);

        // WHEN the file is opened again
        let reopened = SqliteItemStore::open(&path, tables()).expect("reopen");

        // THEN both writes are there
        assert_eq!(reopened.get("items", &Key::new("kept", "1")).await.expect("get"), Some(item(json!({"pk": "kept", "sk": "1", "n": 1}))));
        assert_eq!(reopened.increment("items", &Key::new("count", "1"), "n", 1).await.expect("increment"), 6);
        drop(reopened);
        remove_database(&path);
    }

    #[tokio::test]
    async fn a_sync_leaves_the_committed_writes_in_the_synced_log() {
        // GIVEN a database file (WAL mode) with a write answered but not synced yet
        let path = scratch_path("sync");
        let store = SqliteItemStore::open(&path, tables()).expect("open");
        store.write(WriteOp::put("items", item(json!({"pk": "a", "sk": "1"})))).await.expect("put");
        let wal = wal_path(&path);
        assert!(wal.metadata().expect("the WAL exists").len() > 0, "the commit is in the WAL");

        // WHEN the store is synced, twice (the second has nothing new to sync)
        store.sync().await.expect("sync");
        store.sync().await.expect("sync again");

        // THEN the write is still read back, and a WAL that is gone counts as synced
        assert!(store.get("items", &Key::new("a", "1")).await.expect("get").is_some());
        assert!(sync_wal(&path.with_extension("missing-wal")).is_ok());
        drop(store);
        remove_database(&path);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_and_readers_see_every_answered_write() {
        // GIVEN a store and 16 tasks each writing 20 items and reading each back at once
        let store = SqliteItemStore::in_memory(tables()).expect("store");
        let tasks: Vec<_> = (0..16)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..20 {
                        let key = Key::new(format!("t{task}"), format!("{n:02}"));
                        store.write(WriteOp::put("items", item(json!({"pk": key.pk, "sk": key.sk})))).await.expect("put");
                        // THEN a write, once answered, is seen by the next read
                        assert!(store.get("items", &key).await.expect("get").is_some(), "{key:?} was answered but is not read back");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }

        // AND every item is there
        for task in 0..16 {
            let page = store.query(Query::table("items", format!("t{task}"))).await.expect("query");
            assert_eq!(page.items.len(), 20, "task {task}");
        }
    }

    #[tokio::test]
    async fn a_temporary_database_is_removed_with_its_last_handle() {
        // GIVEN a temporary store that wrote something
        let store = SqliteItemStore::in_memory(tables()).expect("store");
        let path = store.inner.path.clone();
        store.write(WriteOp::put("items", item(json!({"pk": "a", "sk": "1"})))).await.expect("put");
        assert!(path.exists());

        // WHEN its last handle is dropped
        let clone = store.clone();
        drop(store);
        assert!(path.exists(), "a clone still holds it");
        drop(clone);

        // THEN its file goes (the writer thread removes it as it ends)
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while path.exists() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(!path.exists(), "{} is left behind", path.display());
    }
}
