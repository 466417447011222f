//! `SqliteQueue`: the queue port (`docket_ports::Queue`) on an SQLite database, so the local
//! `docket` process gets the same at-least-once background jobs that SQS gives the deployed one.
//!
//! Several named queues may share one database file: every row carries its queue's name.
//! Messages live in `queue_messages` until acknowledged; those delivered `max_receives` times
//! without an acknowledgement move to `queue_dead_letters` the next time a receive comes across
//! them, as SQS's redrive policy does. Every receipt ever handed out is also remembered for a
//! while in `queue_receipts`, because SQS (and moto) accept a receipt from an earlier delivery of
//! a message that is still queued, and a second acknowledgement of a deleted message; remembering
//! them lets this engine give the same answers instead of refusing such receipts.
//!
//! Receipt semantics, identical on both engines (the conformance suite holds them to it):
//! - the latest receipt of a queued message: `ack` deletes it, `release` makes it visible now;
//! - an earlier receipt of a message still queued: accepted, with the same effect;
//! - a receipt of an acknowledged message: `ack` succeeds again, `release` is `NotFound`;
//! - a receipt of a dead-lettered message, or one never issued: `NotFound`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use docket_ports::{Delivery, PortError, Queue, validate_max_receives, validate_queue_body, validate_receive};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS queue_messages (
    queue TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
    visible_at_ms INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT, created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, id)
);
CREATE INDEX IF NOT EXISTS queue_messages_in_order ON queue_messages (queue, created_at_ms);
CREATE INDEX IF NOT EXISTS queue_messages_by_receipt ON queue_messages (queue, receipt);
CREATE TABLE IF NOT EXISTS queue_receipts (
    queue TEXT NOT NULL, receipt TEXT NOT NULL, id TEXT NOT NULL, issued_at_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, receipt)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS queue_receipts_by_age ON queue_receipts (queue, issued_at_ms);
CREATE TABLE IF NOT EXISTS queue_dead_letters (
    queue TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
    receive_count INTEGER NOT NULL, failed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (queue, id)
);
";

/// SQS's limit on queue names, enforced here too so that a queue set up locally is never refused
/// once deployed (the port checks SQS's other limits for both engines).
const MAX_QUEUE_NAME_LEN: usize = 80;

/// How long a superseded receipt is still honoured. SQS never keeps a message in flight longer
/// than its 12-hour visibility limit, so a consumer holding an older receipt has lost its claim.
const RECEIPT_RETENTION_MS: i64 = 12 * 60 * 60 * 1000;

/// Fresh random identifiers from SQLite's own CSPRNG (seeded by the operating system), which
/// spares this crate a dependency on a random-number crate.
const RANDOM_ID_SQL: &str = "lower(hex(randomblob(16)))";

/// A named queue in an SQLite database. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct SqliteQueue {
    connection: Arc<Mutex<Connection>>,
    name: Arc<str>,
    max_receives: u32,
}

impl std::fmt::Debug for SqliteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteQueue").field("name", &self.name).field("max_receives", &self.max_receives).finish()
    }
}

impl SqliteQueue {
    /// Opens (creating if needed) the database file and the queue `name` in it. A message is
    /// dead-lettered once it has been delivered `max_receives` times (1..=1000, as SQS allows).
    pub fn open(path: &Path, name: &str, max_receives: u32) -> Result<Self, PortError> {
        validate_settings(name, max_receives)?;
        let connection = Connection::open(path).map_err(backend)?;
        // WAL lets several processes (the server and a worker) share the file: readers never
        // wait for the writer, and writers queue up behind the busy timeout instead of failing.
        connection.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;").map_err(backend)?;
        Self::with_connection(connection, name, max_receives)
    }

    /// A queue in a private in-memory database, for tests.
    pub fn in_memory(name: &str, max_receives: u32) -> Result<Self, PortError> {
        validate_settings(name, max_receives)?;
        Self::with_connection(Connection::open_in_memory().map_err(backend)?, name, max_receives)
    }

    fn with_connection(connection: Connection, name: &str, max_receives: u32) -> Result<Self, PortError> {
        connection.busy_timeout(Duration::from_secs(10)).map_err(backend)?;
        connection.execute_batch(SCHEMA).map_err(backend)?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)), name: Arc::from(name), max_receives })
    }

    /// Messages in the queue, visible or in flight, dead letters excluded.
    pub async fn len(&self) -> Result<usize, PortError> {
        let queue = self.name.clone();
        self.run(move |conn| {
            let count: i64 = conn.query_row("SELECT COUNT(*) FROM queue_messages WHERE queue = ?1", params![&*queue], |row| row.get(0)).map_err(backend)?;
            usize::try_from(count).map_err(|_| PortError::Backend(format!("impossible message count {count}")))
        })
        .await
    }

    /// Whether the queue holds no message (dead letters excluded).
    pub async fn is_empty(&self) -> Result<bool, PortError> {
        Ok(self.len().await? == 0)
    }

    /// Runs blocking SQLite work off the async executor, holding the connection.
    async fn run<T, F>(&self, work: F) -> Result<T, PortError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, PortError> + Send + 'static,
    {
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself is still sound
            // because every multi-statement change runs in a transaction that rolled back.
            let mut guard = connection.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| PortError::Backend(format!("sqlite worker failed: {e}")))?
    }
}

fn backend(e: rusqlite::Error) -> PortError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            PortError::Transient(e.to_string())
        }
        other => PortError::Backend(other.to_string()),
    }
}

fn validate_settings(name: &str, max_receives: u32) -> Result<(), PortError> {
    let name_ok = !name.is_empty() && name.len() <= MAX_QUEUE_NAME_LEN && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if !name_ok {
        return Err(PortError::Invalid(format!("queue name {name:?} must be 1 to {MAX_QUEUE_NAME_LEN} letters, digits, '-' or '_'")));
    }
    validate_max_receives(max_receives)
}

/// Milliseconds since the Unix epoch; a clock before 1970 counts as the epoch itself.
fn now_ms() -> i64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

fn count_of(value: i64) -> Result<u32, PortError> {
    u32::try_from(value).map_err(|_| PortError::Backend(format!("stored receive count {value} is out of range")))
}

/// A visible message a receive is considering, with its place in creation order.
struct Candidate {
    rowid: i64,
    created_at_ms: i64,
    id: String,
    body: String,
    receive_count: u32,
}

/// The next visible messages after `after` (creation time, rowid) in creation order.
fn visible_candidates(tx: &Transaction<'_>, queue: &str, now: i64, after: (i64, i64), limit: usize) -> Result<Vec<Candidate>, PortError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = tx
        .prepare_cached(
            "SELECT rowid, created_at_ms, id, body, receive_count FROM queue_messages \
             WHERE queue = ?1 AND visible_at_ms <= ?2 AND (created_at_ms, rowid) > (?3, ?4) \
             ORDER BY created_at_ms, rowid LIMIT ?5",
        )
        .map_err(backend)?;
    let rows = statement
        .query_map(params![queue, now, after.0, after.1, limit], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get::<_, i64>(4)?)))
        .map_err(backend)?;
    let mut candidates = Vec::new();
    for row in rows {
        let (rowid, created_at_ms, id, body, receive_count) = row.map_err(backend)?;
        candidates.push(Candidate { rowid, created_at_ms, id, body, receive_count: count_of(receive_count)? });
    }
    Ok(candidates)
}

fn dead_letter(tx: &Transaction<'_>, queue: &str, message: &Candidate, now: i64) -> Result<(), PortError> {
    tx.execute(
        "INSERT OR REPLACE INTO queue_dead_letters (queue, id, body, receive_count, failed_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![queue, message.id, message.body, message.receive_count, now],
    )
    .map_err(backend)?;
    tx.execute("DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2", params![queue, message.id]).map_err(backend)?;
    Ok(())
}

fn deliver(tx: &Transaction<'_>, queue: &str, message: Candidate, now: i64, visibility_ms: i64) -> Result<Delivery, PortError> {
    let (receipt, receive_count): (String, i64) = tx
        .query_row(
            &format!(
                "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at_ms = ?3, \
                 receipt = {RANDOM_ID_SQL} WHERE queue = ?1 AND id = ?2 RETURNING receipt, receive_count"
            ),
            params![queue, message.id, now.saturating_add(visibility_ms)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .map_err(backend)?;
    tx.execute("INSERT INTO queue_receipts (queue, receipt, id, issued_at_ms) VALUES (?1, ?2, ?3, ?4)", params![queue, receipt, message.id, now])
        .map_err(backend)?;
    Ok(Delivery { message_id: message.id, receipt, body: message.body, receive_count: count_of(receive_count)? })
}

fn receive_blocking(conn: &mut Connection, queue: &str, max_receives: u32, max: usize, visibility: Duration) -> Result<Vec<Delivery>, PortError> {
    let visibility_ms = i64::try_from(visibility.as_millis()).unwrap_or(i64::MAX);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let now = now_ms();
    tx.execute("DELETE FROM queue_receipts WHERE queue = ?1 AND issued_at_ms < ?2", params![queue, now.saturating_sub(RECEIPT_RETENTION_MS)])
        .map_err(backend)?;
    let mut deliveries = Vec::with_capacity(max);
    // A cursor rather than "visible now" alone: with a zero visibility a delivered message stays
    // visible, and must not be handed out twice by the same receive.
    let mut after = (i64::MIN, i64::MIN);
    while deliveries.len() < max {
        let candidates = visible_candidates(&tx, queue, now, after, max - deliveries.len())?;
        if candidates.is_empty() {
            break;
        }
        for candidate in candidates {
            after = (candidate.created_at_ms, candidate.rowid);
            if candidate.receive_count >= max_receives {
                dead_letter(&tx, queue, &candidate, now)?;
            } else {
                deliveries.push(deliver(&tx, queue, candidate, now, visibility_ms)?);
            }
        }
    }
    tx.commit().map_err(backend)?;
    Ok(deliveries)
}

/// Which message a receipt designates, and whether it is the latest receipt of that message.
enum ReceiptOwner {
    Current(String),
    Earlier(String),
    Unknown,
}

fn owner_of(tx: &Transaction<'_>, queue: &str, receipt: &str) -> Result<ReceiptOwner, PortError> {
    // The current receipt is looked up first because it may outlive its history entry: a message
    // whose visibility ran out stays claimable by its last receipt however long nobody receives it.
    let current: Option<String> = tx
        .query_row("SELECT id FROM queue_messages WHERE queue = ?1 AND receipt = ?2", params![queue, receipt], |row| row.get(0))
        .optional()
        .map_err(backend)?;
    if let Some(id) = current {
        return Ok(ReceiptOwner::Current(id));
    }
    let earlier: Option<String> = tx
        .query_row("SELECT id FROM queue_receipts WHERE queue = ?1 AND receipt = ?2", params![queue, receipt], |row| row.get(0))
        .optional()
        .map_err(backend)?;
    Ok(earlier.map_or(ReceiptOwner::Unknown, ReceiptOwner::Earlier))
}

fn is_queued(tx: &Transaction<'_>, queue: &str, id: &str) -> Result<bool, PortError> {
    tx.query_row("SELECT 1 FROM queue_messages WHERE queue = ?1 AND id = ?2", params![queue, id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .map_err(backend)
}

fn is_dead_letter(tx: &Transaction<'_>, queue: &str, id: &str) -> Result<bool, PortError> {
    tx.query_row("SELECT 1 FROM queue_dead_letters WHERE queue = ?1 AND id = ?2", params![queue, id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .map_err(backend)
}

fn invalid_receipt(receipt: &str) -> PortError {
    PortError::NotFound(format!("receipt {receipt:?} does not designate a message of this queue"))
}

fn ack_blocking(conn: &mut Connection, queue: &str, receipt: &str) -> Result<(), PortError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let id = match owner_of(&tx, queue, receipt)? {
        ReceiptOwner::Current(id) => id,
        // SQS refuses to delete a dead-lettered message through the source queue's receipt.
        ReceiptOwner::Earlier(id) if is_dead_letter(&tx, queue, &id)? => return Err(invalid_receipt(receipt)),
        // Deleting again what is already gone succeeds, so acknowledgements may be retried.
        ReceiptOwner::Earlier(id) => id,
        ReceiptOwner::Unknown => return Err(invalid_receipt(receipt)),
    };
    tx.execute("DELETE FROM queue_messages WHERE queue = ?1 AND id = ?2", params![queue, id]).map_err(backend)?;
    tx.commit().map_err(backend)
}

fn release_blocking(conn: &mut Connection, queue: &str, receipt: &str) -> Result<(), PortError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
    let id = match owner_of(&tx, queue, receipt)? {
        ReceiptOwner::Current(id) => id,
        ReceiptOwner::Earlier(id) if is_queued(&tx, queue, &id)? => id,
        // Nothing left to make visible: the message was acknowledged or dead-lettered.
        ReceiptOwner::Earlier(_) | ReceiptOwner::Unknown => return Err(invalid_receipt(receipt)),
    };
    tx.execute("UPDATE queue_messages SET visible_at_ms = ?3 WHERE queue = ?1 AND id = ?2", params![queue, id, now_ms()]).map_err(backend)?;
    tx.commit().map_err(backend)
}

#[async_trait]
impl Queue for SqliteQueue {
    async fn send(&self, body: &str) -> Result<String, PortError> {
        validate_queue_body(body)?;
        let queue = self.name.clone();
        let body = body.to_owned();
        self.run(move |conn| {
            let now = now_ms();
            conn.query_row(
                &format!(
                    "INSERT INTO queue_messages (queue, id, body, visible_at_ms, receive_count, receipt, created_at_ms) \
                     VALUES (?1, {RANDOM_ID_SQL}, ?2, ?3, 0, NULL, ?3) RETURNING id"
                ),
                params![&*queue, body, now],
                |row| row.get(0),
            )
            .map_err(backend)
        })
        .await
    }

    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, PortError> {
        validate_receive(max, visibility)?;
        let queue = self.name.clone();
        let max_receives = self.max_receives;
        self.run(move |conn| receive_blocking(conn, &queue, max_receives, max, visibility)).await
    }

    async fn ack(&self, receipt: &str) -> Result<(), PortError> {
        let queue = self.name.clone();
        let receipt = receipt.to_owned();
        self.run(move |conn| ack_blocking(conn, &queue, &receipt)).await
    }

    async fn release(&self, receipt: &str) -> Result<(), PortError> {
        let queue = self.name.clone();
        let receipt = receipt.to_owned();
        self.run(move |conn| release_blocking(conn, &queue, &receipt)).await
    }

    async fn dead_letters(&self) -> Result<Vec<String>, PortError> {
        let queue = self.name.clone();
        self.run(move |conn| {
            let mut statement = conn.prepare_cached("SELECT body FROM queue_dead_letters WHERE queue = ?1 ORDER BY failed_at_ms, rowid").map_err(backend)?;
            let rows = statement.query_map(params![&*queue], |row| row.get(0)).map_err(backend)?;
            rows.collect::<Result<Vec<String>, _>>().map_err(backend)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file of its own in the temporary directory, removed when dropped.
    struct ScratchFile(std::path::PathBuf);

    impl ScratchFile {
        fn new(label: &str) -> Self {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
            Self(std::env::temp_dir().join(format!("docket-queue-{label}-{}-{nanos}.sqlite", std::process::id())))
        }
    }

    impl Drop for ScratchFile {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut path = self.0.clone().into_os_string();
                path.push(suffix);
                let _ = std::fs::remove_file(path);
            }
        }
    }

    #[tokio::test]
    async fn named_queues_in_one_file_are_independent_and_durable() {
        // GIVEN two queues in one database file, each with a message
        let file = ScratchFile::new("shared");
        let notify = SqliteQueue::open(&file.0, "notify", 3).expect("open notify");
        let assign = SqliteQueue::open(&file.0, "assign", 3).expect("open assign");
        notify.send("notify me").await.expect("send to notify");
        assign.send("assign me").await.expect("send to assign");

        // WHEN the file is reopened and each queue receives
        drop((notify, assign));
        let notify = SqliteQueue::open(&file.0, "notify", 3).expect("reopen notify");
        let assign = SqliteQueue::open(&file.0, "assign", 3).expect("reopen assign");
        let from_notify = notify.receive(10, Duration::from_secs(30)).await.expect("receive notify");
        let from_assign = assign.receive(10, Duration::from_secs(30)).await.expect("receive assign");

        // THEN each sees only its own message, which survived the reopening
        assert_eq!(from_notify.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["notify me"]);
        assert_eq!(from_assign.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["assign me"]);
        // AND a receipt of one queue means nothing to the other
        let foreign = assign.ack(&from_notify[0].receipt).await;
        assert!(matches!(foreign, Err(PortError::NotFound(_))), "got {foreign:?}");
        assert_eq!(notify.len().await.expect("len"), 1);
    }

    #[tokio::test]
    async fn settings_outside_what_sqs_allows_are_refused() {
        // GIVEN / WHEN queues are opened with names or limits SQS would refuse
        let results = [
            SqliteQueue::in_memory("", 3).map(|_| ()),
            SqliteQueue::in_memory("has space", 3).map(|_| ()),
            SqliteQueue::in_memory(&"n".repeat(81), 3).map(|_| ()),
            SqliteQueue::in_memory("jobs", 0).map(|_| ()),
            SqliteQueue::in_memory("jobs", 1001).map(|_| ()),
        ];

        // THEN each is refused as invalid
        for result in results {
            assert!(matches!(result, Err(PortError::Invalid(_))), "got {result:?}");
        }
        // AND the widest allowed settings are accepted
        assert!(SqliteQueue::in_memory(&"n".repeat(80), 1000).is_ok());
    }

    #[tokio::test]
    async fn len_counts_queued_and_in_flight_messages_but_not_dead_letters() {
        // GIVEN a queue dead-lettering after one delivery, with two messages, one of them received
        let queue = SqliteQueue::in_memory("jobs", 1).expect("open");
        queue.send("first").await.expect("send");
        queue.send("second").await.expect("send");
        let received = queue.receive(1, Duration::ZERO).await.expect("receive");
        assert_eq!(received.len(), 1);
        assert_eq!(queue.len().await.expect("len"), 2);

        // WHEN the next receive finds the received message exhausted
        let next = queue.receive(10, Duration::from_secs(30)).await.expect("receive again");

        // THEN it is dead-lettered and no longer counted, while the other one was delivered
        assert_eq!(next.iter().map(|d| d.body.as_str()).collect::<Vec<_>>(), ["second"]);
        assert_eq!(queue.dead_letters().await.expect("dead letters"), [received[0].body.clone()]);
        assert_eq!(queue.len().await.expect("len"), 1);
    }
}
