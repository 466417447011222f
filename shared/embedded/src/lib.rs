//! Embedded adapters of Docket's ports, used by the local `docket` process and by tests:
//! storage on an SQLite file (`SqliteItemStore`).

mod file_blobs;
mod outbox;
pub use outbox::OutboxMailer;
mod sqlite_queue;
mod sqlite_store;

pub use sqlite_queue::SqliteQueue;

pub use file_blobs::FileBlobStore;

pub use sqlite_store::{MAX_PAGE, SqliteItemStore};
