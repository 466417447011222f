//! The local queue workers: each works a durable SQLite queue the way Lambda's SQS integration
//! works the notify and assign queues on AWS. A message is acknowledged once handled; a failed
//! one reappears after its visibility timeout until the queue dead-letters it.
//!
//! [`WakingQueue`] wakes the worker as soon as a message is sent, so local notifications go out
//! in milliseconds without the worker polling hard.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use docket_assign::AssignHandler;
use docket_embedded::SqliteQueue;
use docket_notify::{NotifyHandler, Outcome};
use docket_ports::{Delivery, PortError, Queue};
use tokio::sync::{Notify, watch};

/// How long a received message stays hidden before a failed attempt is retried.
pub const VISIBILITY: Duration = Duration::from_secs(15);
/// Longest idle wait: also how soon an expired visibility timeout is noticed.
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// An SQLite queue that signals its worker on every send.
pub struct WakingQueue {
    inner: SqliteQueue,
    wake: Notify,
}

impl WakingQueue {
    pub fn new(inner: SqliteQueue) -> Self {
        Self { inner, wake: Notify::new() }
    }
}

#[async_trait]
impl Queue for WakingQueue {
    async fn send(&self, body: &str) -> Result<String, PortError> {
        let id = self.inner.send(body).await?;
        self.wake.notify_one();
        Ok(id)
    }
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<Delivery>, PortError> {
        self.inner.receive(max, visibility).await
    }
    async fn ack(&self, receipt: &str) -> Result<(), PortError> {
        self.inner.ack(receipt).await
    }
    async fn release(&self, receipt: &str) -> Result<(), PortError> {
        self.inner.release(receipt).await
    }
    async fn dead_letters(&self) -> Result<Vec<String>, PortError> {
        self.inner.dead_letters().await
    }
}

/// What a queue's worker does with each message: the handler of the matching Lambda function.
#[async_trait]
pub trait MessageHandler: Send + Sync {
    async fn handle_message(&self, message_id: &str, body: &str) -> Outcome;
}

#[async_trait]
impl MessageHandler for NotifyHandler {
    async fn handle_message(&self, message_id: &str, body: &str) -> Outcome {
        NotifyHandler::handle_message(self, message_id, body).await
    }
}

#[async_trait]
impl MessageHandler for AssignHandler {
    async fn handle_message(&self, message_id: &str, body: &str) -> Outcome {
        AssignHandler::handle_message(self, message_id, body).await
    }
}

/// Works the queue until `stopped` turns true.
pub async fn run<H: MessageHandler + ?Sized>(queue: Arc<WakingQueue>, handler: Arc<H>, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        let deliveries = match queue.receive(10, VISIBILITY).await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::error!(%error, "cannot read a queue");
                Vec::new()
            }
        };
        if deliveries.is_empty() {
            tokio::select! {
                _ = queue.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_WAIT) => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        for delivery in deliveries {
            if handler.handle_message(&delivery.message_id, &delivery.body).await == Outcome::Done
                && let Err(error) = queue.ack(&delivery.receipt).await
            {
                tracing::warn!(%error, message_id = %delivery.message_id, "cannot acknowledge a message");
            }
        }
    }
}

/// How often the outbox is relayed (messages a queue refused when their change committed).
const RELAY_EVERY: Duration = Duration::from_secs(5);

/// Relays the outbox every few seconds until `stopped` turns true (on AWS: the assign
/// function's schedule).
pub async fn relay(docket: docket_domain::Docket, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        if let Err(error) = docket.relay_outbox(100).await {
            tracing::error!(%error, "cannot relay the outbox");
        }
        tokio::select! {
            _ = tokio::time::sleep(RELAY_EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
}

/// How often `docket serve` sweeps the SLA alarms (on AWS: the assign function's minutely
/// schedule). Alerts fall on whole minutes; sweeping twice a minute announces them within
/// half a minute.
const SLA_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Sweeps the SLA alarms until `stopped` turns true: warnings and breaches that fell due are
/// announced to the workflow rules (see `Cases::sweep_sla`).
pub async fn sweep_sla(docket: docket_domain::Docket, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        let more = match docket.cases().sweep_sla().await {
            Ok(sweep) => {
                if sweep.watched + sweep.refiled > 0 {
                    tracing::info!(?sweep, "SLA sweep");
                }
                sweep.more
            }
            Err(error) => {
                tracing::error!(%error, "cannot sweep the SLA alarms");
                false
            }
        };
        // More alarms came than one sweep reads: go on at once rather than half a minute late.
        if more {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(SLA_SWEEP_EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
}
