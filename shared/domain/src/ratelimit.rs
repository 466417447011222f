//! Fixed-window rate limits kept through the item-store port, so they hold across every Lambda
//! instance (and the local process) alike.
//!
//! Each window of each limit is one counter item (`RATE#<name>#<window start>` / `RATE` in the
//! `counters` table) taken with the store's atomic `increment`: the first hit of a window creates
//! it, and no reset is ever needed. The first hit also stamps `expires_at` so DynamoDB's TTL
//! removes spent windows.

use docket_store::{ItemStore, Update, WriteOp};
use serde_json::Value;

use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::schema::{COUNTERS, rate_counter};

/// How long a spent window's counter is kept after the window ends (TTL deletion is lazy anyway).
const KEEP_AFTER_WINDOW_SECS: i64 = 3600;

/// One limit: at most `limit` hits per window of `window_secs` seconds for the counted `name`.
#[derive(Debug, Clone)]
pub struct FixedWindow {
    /// What is counted, e.g. `form#<id>` or `sender#<address>`; part of the counter's key.
    pub name: String,
    pub limit: u32,
    pub window_secs: i64,
}

impl FixedWindow {
    /// Counts one hit; refuses it with [`DomainError::RateLimited`] when the window is full.
    /// A refused hit still counts, so hammering a full window never frees it early.
    pub async fn hit(&self, store: &dyn ItemStore, clock: &dyn Clock, what: &str) -> DomainResult<()> {
        let window = self.window_secs.max(1);
        let now = clock.now().unix_timestamp();
        let start = now - now.rem_euclid(window);
        let key = rate_counter(&self.name, start);
        let count = store.increment(COUNTERS, &key, "count", 1).await?;
        if count == 1 {
            let expires_at = Value::from(start + window + KEEP_AFTER_WINDOW_SECS);
            let update = Update { set: vec![("expires_at".into(), expires_at)], ..Update::default() };
            store.write(WriteOp::Update { table: COUNTERS.into(), key, update, condition: None }).await?;
        }
        if count > i64::from(self.limit) {
            let retry_after_secs = u64::try_from(start + window - now).unwrap_or(1).max(1);
            return Err(DomainError::RateLimited { reason: format!("too many {what}; at most {} per {} seconds", self.limit, window), retry_after_secs });
        }
        Ok(())
    }
}
