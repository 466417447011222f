//! The local queue worker: works a durable SQLite queue the way Lambda's SQS integration works
//! the notify queue on AWS. A message is acknowledged once handled; a failed one reappears after
//! its visibility timeout until the queue dead-letters it.
//!
//! [`WakingQueue`] wakes the worker as soon as a message is sent, so local notifications go out
//! in milliseconds without the worker polling hard.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
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

/// Works the queue until `stopped` turns true.
pub async fn run(queue: Arc<WakingQueue>, handler: Arc<NotifyHandler>, mut stopped: watch::Receiver<bool>) {
    while !*stopped.borrow() {
        let deliveries = match queue.receive(10, VISIBILITY).await {
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::error!(%error, "cannot read the notify queue");
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
                tracing::warn!(%error, message_id = %delivery.message_id, "cannot acknowledge a notify message");
            }
        }
    }
}
