//! Embedded adapters of Docket's ports, used by the local `docket` process and by tests:
//! storage on an SQLite file (`SqliteItemStore`).

mod sqlite_store;

pub use sqlite_store::{MAX_PAGE, SqliteItemStore};
