//! The transactional outbox: every queue message a change announces (notifications, case
//! events, acknowledgements, confirmation requests) is written as an outbox item (`OUTBOX` /
//! `<ulid>` in the cases table, oldest first) in the change's own transaction, so a committed
//! change can never lose its announcements and an uncommitted one never announces anything.
//!
//! Delivering the items is a separate step, at least once:
//! - [`OutboxDelivery::Immediate`]: the process that committed sends them right away and deletes
//!   them (tests, one-shot tools);
//! - [`OutboxDelivery::Deferred`]: the committing process only wakes a relay — locally the relay
//!   task of `docket serve`, on AWS the assign function fed by the cases table's DynamoDB
//!   stream (`relay_items`) with a one-minute schedule as the backstop (`relay_outbox`).
//!
//! An item whose queue refuses it stays where it is and is sent by the next relay run. The
//! consumers are idempotent (a notification is sent once per entry and recipient, an
//! acknowledgement once per case, a case event's rule steps are claimed by its event id), so an
//! item relayed twice has one effect.

use std::sync::Arc;

use crate::ids::*;
use serde::{Deserialize, Serialize};

use docket_ports::Queue;
use docket_store::{Item, Query, WriteOp};

use crate::Docket;
use crate::cases::Cases;
use crate::clock::new_id;
use crate::directory::from_item;
use crate::error::DomainResult;
use crate::events::{CaseEvent, Trigger};
use crate::notify::NotifyMessage;
use crate::schema::{CASES, OUTBOX_PARTITION, keyed_item, outbox_item};
use crate::stream::StreamEntry;

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
}

impl OutboxItem {
    fn put(&self) -> DomainResult<WriteOp> {
        Ok(WriteOp::put(CASES, keyed_item(outbox_item(&self.id), self)?))
    }
}

/// How a process hands committed outbox items to their queues.
#[derive(Clone, Default)]
pub enum OutboxDelivery {
    /// Sends them as soon as their change committed, then deletes them.
    #[default]
    Immediate,
    /// Leaves them to a relay; the function (if any) wakes it.
    Deferred(Option<Arc<dyn Fn() + Send + Sync>>),
}

/// The queue messages one change announces, gathered while the change is built and written in
/// its transaction ([`Cases::transact_with`]).
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) items: Vec<OutboxItem>,
}

impl Effects {
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn push(&mut self, queue: OutboxQueue, body: String, group: Option<&str>) {
        self.items.push(OutboxItem { id: new_id(), queue, body, group: group.map(str::to_owned) });
    }

    /// Takes the acknowledgement out (its outbox item stays written), for a process that
    /// sends it itself right after the commit.
    pub(crate) fn take_ack(&mut self) -> Option<OutboxItem> {
        let index = self
            .items
            .iter()
            .position(|item| item.queue == OutboxQueue::Notify && serde_json::from_str::<NotifyMessage>(&item.body).is_ok_and(|m| m.ack.is_some()))?;
        Some(self.items.remove(index))
    }

    /// The writes of the items, for the change's transaction.
    pub(crate) fn ops(&self) -> DomainResult<Vec<WriteOp>> {
        self.items.iter().map(OutboxItem::put).collect()
    }

    pub(crate) fn notify_message(&mut self, message: &NotifyMessage) {
        match serde_json::to_string(message) {
            Ok(body) => self.push(OutboxQueue::Notify, body, None),
            Err(error) => tracing::error!(case_id = %message.case_id, %error, "cannot encode a notify message"),
        }
    }
}

impl Cases<'_> {
    /// Announces new entries to their followers (nothing where no notify queue is configured).
    pub(crate) fn notify_effect(&self, effects: &mut Effects, entries: &[StreamEntry]) {
        for entry in entries {
            self.notify_to_effect(effects, entry, &[]);
        }
    }

    /// The notification of one entry: to `users` only when some are named, else to its followers.
    pub(crate) fn notify_to_effect(&self, effects: &mut Effects, entry: &StreamEntry, users: &[UserId]) {
        if self.notify_queue.is_none() {
            return;
        }
        effects.notify_message(&NotifyMessage { case_id: entry.case_id.clone(), entry_id: entry.id.clone(), to: users.to_vec(), confirm: None, ack: None });
    }

    /// A case event for the assign worker (nothing where no assign queue is configured).
    pub(crate) fn announce_effect(&self, effects: &mut Effects, trigger: Trigger, case_id: &str, entry_id: Option<&str>, changed: Vec<String>) {
        if self.assign_queue.is_none() {
            return;
        }
        let event = CaseEvent {
            event_id: new_id(),
            trigger,
            case_id: CaseId::from_trusted(case_id.to_owned()),
            entry_id: entry_id.map(str::to_owned),
            changed,
            depth: self.depth,
        };
        match serde_json::to_string(&event) {
            Ok(body) => effects.push(OutboxQueue::Assign, body, Some(case_id)),
            Err(error) => tracing::error!(%case_id, %error, "cannot encode a case event"),
        }
    }

    /// Appends an entry to a case's stream with the other writes of its change (`txn`), in one
    /// transaction with its notification and, for a post, its `entry_added` event (a system
    /// entry is announced by the change it records); then delivers them. Every path that adds
    /// an entry on its own goes through here.
    pub(crate) async fn append_entry(&self, entry: &StreamEntry, mut txn: crate::txn::Txn) -> Result<(), crate::txn::Refused> {
        let put = crate::stream::entry_put(entry).map_err(crate::txn::Refused::unbuildable)?;
        txn.plain(put);
        let mut effects = Effects::default();
        self.notify_effect(&mut effects, std::slice::from_ref(entry));
        if entry.system.is_none() {
            self.announce_effect(&mut effects, Trigger::EntryAdded, &entry.case_id, Some(&entry.id), Vec::new());
        }
        self.transact_with(txn, &effects).await?;
        self.deliver(effects).await;
        Ok(())
    }

    /// Commits `txn` together with the outbox items of `effects`.
    pub(crate) async fn transact_with(&self, mut txn: crate::txn::Txn, effects: &Effects) -> Result<(), crate::txn::Refused> {
        let items = effects.ops().map_err(crate::txn::Refused::unbuildable)?;
        txn.plain_all(items);
        txn.commit(self.store).await
    }

    /// Hands the items of a committed change on, as the process's delivery says.
    pub(crate) async fn deliver(&self, effects: Effects) {
        if effects.is_empty() {
            return;
        }
        match self.delivery {
            OutboxDelivery::Deferred(wake) => {
                if let Some(wake) = wake {
                    wake();
                }
            }
            OutboxDelivery::Immediate => {
                let sent = send_items(self.notify_queue, self.assign_queue, &effects.items).await;
                if let Err(error) = delete_items(self.store, &sent).await {
                    // They are sent; the relay sends them again, which the consumers absorb.
                    tracing::warn!(%error, "sent outbox items could not be deleted");
                }
            }
        }
    }
}

/// Sends items in order and returns the ids of those their queue took; stops at the first
/// refusal (that queue is down: the rest waits for the relay, in order).
async fn send_items(notify: Option<&dyn Queue>, assign: Option<&dyn Queue>, items: &[OutboxItem]) -> Vec<String> {
    let mut sent = Vec::new();
    for item in items {
        let queue = match item.queue {
            OutboxQueue::Notify => notify,
            OutboxQueue::Assign => assign,
        };
        let Some(queue) = queue else {
            tracing::error!(outbox = %item.id, queue = ?item.queue, "no such queue is configured: the item waits in the outbox");
            break;
        };
        let result = match &item.group {
            Some(group) => queue.send_grouped(&item.body, group).await,
            None => queue.send(&item.body).await,
        };
        if let Err(error) = result {
            tracing::warn!(outbox = %item.id, queue = ?item.queue, %error, "a queue refused a message: it waits in the outbox");
            break;
        }
        sent.push(item.id.clone());
    }
    sent
}

/// Deletes relayed items, a transaction per hundred.
async fn delete_items(store: &dyn docket_store::ItemStore, ids: &[String]) -> Result<(), docket_store::StoreError> {
    for chunk in ids.chunks(docket_store::MAX_TRANSACTION_OPS) {
        let ops: Vec<WriteOp> = chunk.iter().map(|id| WriteOp::delete(CASES, outbox_item(id))).collect();
        if ops.len() == 1 {
            store.write(ops.into_iter().next().expect("one op")).await?;
        } else {
            store.transact(ops).await?;
        }
    }
    Ok(())
}

/// What one relay run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    pub sent: usize,
    /// Items left because their queue still refuses them.
    pub waiting: usize,
}

impl Docket {
    /// Sends up to `max` outbox items, oldest first, deleting those their queue took. Stops at
    /// the first refusal of a queue (it is down; the rest waits for the next run).
    pub async fn relay_outbox(&self, max: usize) -> DomainResult<Relayed> {
        let page = self.store().query(Query::table(CASES, OUTBOX_PARTITION).limit(max.clamp(1, 1000))).await?;
        self.relay_items(page.items).await
    }

    /// Relays the given outbox items (as stored: a relay's query, or the new images of a
    /// DynamoDB stream batch), in order, deleting those their queue took.
    pub async fn relay_items(&self, records: Vec<Item>) -> DomainResult<Relayed> {
        let items = records.into_iter().map(from_item::<OutboxItem>).collect::<DomainResult<Vec<_>>>()?;
        let sent = send_items(self.notify_queue.as_deref(), self.assign_queue.as_deref(), &items).await;
        delete_items(self.store(), &sent).await?;
        let relayed = Relayed { sent: sent.len(), waiting: items.len() - sent.len() };
        if relayed.sent > 0 {
            tracing::info!(sent = relayed.sent, waiting = relayed.waiting, "outbox relayed");
        }
        Ok(relayed)
    }
}
