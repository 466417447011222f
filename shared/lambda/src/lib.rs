//! What Docket's four Lambda functions share.
//!
//! Without features: the handling of the events they take that needs no AWS SDK — working an SQS
//! batch message by message with partial batch responses ([`partial_batch`], [`Outcome`]) and
//! reading the items of a DynamoDB stream record ([`item_from_stream_image`]) — and the JSON logs
//! ([`init_logging`]). The function libraries use these, and so does the local `docket` process
//! through them: it works its SQLite queues with the same handlers.
//!
//! With the `aws` feature: the `Bootstrap` of the function mains (logging, the [`config`]uration,
//! SDK clients, the [`Docket`](docket_domain::Docket) on DynamoDB). It is a feature, and not in
//! `docket-aws`, so that the handlers' path stays free of the SDK: each function crate turns it
//! on for its binary only (its `lambda` feature), which the local process leaves off.

#[cfg(feature = "aws")]
mod bootstrap;
pub mod config;
mod queue;
mod stream;

#[cfg(feature = "aws")]
pub use bootstrap::Bootstrap;
pub use config::{Config, Env};
pub use queue::{Outcome, partial_batch};
pub use stream::item_from_stream_image;

/// Structured JSON logs, filtered by `RUST_LOG` (default `info`): the same in every function and
/// in the local process, so one query reads them all. Each line names its span (the request).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // A second call (tests starting several servers) keeps the first subscriber.
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_current_span(true).try_init();
}
