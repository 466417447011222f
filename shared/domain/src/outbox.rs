//! The outbox: queue messages that could not be sent when their change committed.
//!
//! A committed change announces itself on the notify and assign queues. When a queue is down,
//! the message is not dropped: it is written as an outbox item (`OUTBOX` / `<ulid>` in the
//! cases table, oldest first), and the relay sends it later — locally a timer in `docket serve`,
//! on AWS the assign function on a one-minute schedule. The consumers are idempotent (a
//! notification is sent once per entry and recipient, a case event's rule steps are claimed by
//! its event id), so a message relayed twice has one effect.

use serde::{Deserialize, Serialize};

use docket_ports::Queue;
use docket_store::{Query, WriteOp};

use crate::Docket;
use crate::clock::new_id;
use crate::directory::from_item;
use crate::error::{DomainError, DomainResult};
use crate::schema::{CASES, OUTBOX_PARTITION, keyed_item, outbox_item};

/// Which queue an outbox item is for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutboxQueue {
    Notify,
    Assign,
}

/// One queue message waiting to be sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutboxItem {
    pub id: String,
    pub queue: OutboxQueue,
    pub body: String,
    /// The FIFO group (the case id) of an assign-queue message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Why the first send failed.
    pub error: String,
}

/// Sends a queue message, or keeps it in the outbox when the queue refuses it. Only a failure
/// of the store as well loses it, and that is logged.
pub(crate) async fn send_or_keep(store: &dyn docket_store::ItemStore, queue: &dyn Queue, target: OutboxQueue, body: String, group: Option<&str>) {
    let sent = match group {
        Some(group) => queue.send_grouped(&body, group).await,
        None => queue.send(&body).await,
    };
    let Err(error) = sent else { return };
    let item = OutboxItem { id: new_id(), queue: target, body, group: group.map(str::to_owned), error: error.to_string() };
    let kept = match keyed_item(outbox_item(&item.id), &item) {
        Ok(record) => store.write(WriteOp::put(CASES, record)).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match kept {
        Ok(()) => tracing::warn!(queue = ?target, outbox = %item.id, %error, "queue refused a message: kept in the outbox"),
        Err(store_error) => tracing::error!(queue = ?target, %error, %store_error, body = %item.body, "queue and store both failed: message lost"),
    }
}

/// What one relay run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    pub sent: usize,
    /// Items left because their queue still refuses them.
    pub waiting: usize,
}

impl Docket {
    /// Sends up to `max` outbox items, oldest first, deleting each once its queue took it.
    /// Stops at the first refusal of a queue (it is down; the rest waits for the next run).
    pub async fn relay_outbox(&self, max: usize) -> DomainResult<Relayed> {
        let page = self.store().query(Query::table(CASES, OUTBOX_PARTITION).limit(max.clamp(1, 1000))).await?;
        let mut relayed = Relayed::default();
        let total = page.items.len();
        for record in page.items {
            let item: OutboxItem = from_item(record)?;
            let queue = match item.queue {
                OutboxQueue::Notify => self.notify_queue.as_deref(),
                OutboxQueue::Assign => self.assign_queue.as_deref(),
            }
            .ok_or_else(|| DomainError::Internal(format!("no {:?} queue is configured to relay the outbox", item.queue)))?;
            let sent = match &item.group {
                Some(group) => queue.send_grouped(&item.body, group).await,
                None => queue.send(&item.body).await,
            };
            if let Err(error) = sent {
                tracing::warn!(outbox = %item.id, %error, "outbox relay: the queue still refuses messages");
                relayed.waiting = total - relayed.sent;
                return Ok(relayed);
            }
            self.store().write(WriteOp::delete(CASES, outbox_item(&item.id))).await?;
            relayed.sent += 1;
        }
        if relayed.sent > 0 {
            tracing::info!(sent = relayed.sent, "outbox relayed");
        }
        Ok(relayed)
    }
}
