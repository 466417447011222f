//! Embedded adapters of Docket's ports, used by the local `docket` process and by tests:
//! storage on an SQLite file (`SqliteItemStore`).

mod atomic_file;
mod file_blobs;
mod outbox;
pub use outbox::OutboxMailer;
mod smtp;
pub use smtp::{
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_RECIPIENTS, Envelope, MAX_COMMAND_LINE, MAX_ERRORS_PER_SESSION, MAX_SESSIONS, MailSink,
    SHUTDOWN_GRACE, SinkError, SmtpConfig, SmtpServer, serve_smtp,
};
mod sqlite_queue;
mod sqlite_store;

pub use sqlite_queue::SqliteQueue;

pub use file_blobs::FileBlobStore;

pub use sqlite_store::SqliteItemStore;
