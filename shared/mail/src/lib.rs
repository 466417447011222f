//! Docket's outbound mail, composed as raw MIME before it is handed to a `Mailer` adapter
//! (the local outbox or SES). Kept apart from the adapters so that every sender shares one place
//! where header injection (F32) is ruled out.

pub mod compose;

pub use compose::{
    Address, AutoSubmitted, ComposeError, OutgoingMessage, compose, header_safe, message_id,
};
