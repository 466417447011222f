//! Docket's mail.
//!
//! Outbound mail is composed as raw MIME ([`mod@compose`]) before it is handed to a `Mailer`
//! adapter (the local outbox or SES), kept apart from the adapters so that every sender shares one
//! place where header injection (F32) is ruled out. Inbound mail is parsed, classified and cleaned
//! ([`inbound`]) before the inbound pipeline threads it into cases (F20–F28). Neither knows about
//! AWS.

pub mod compose;
pub mod inbound;

pub use compose::{Address, AutoSubmitted, ComposeError, OutgoingMessage, compose, header_safe, message_id};
pub use inbound::{
    Attachment, Bounce, Classification, InboundHeaders, InboundMessage, Limits, ParseError, SesVerdicts, Verdict, clean_subject, find_numbers,
    normalize_message_id, parse, parse_headers_only, plus_token,
};
