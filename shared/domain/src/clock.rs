//! The clock port, so tests and benchmarks can control time.

use time::OffsetDateTime;

pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// New identifiers: ULIDs, so ids sort by creation time (the list indexes rely on it).
pub fn new_id() -> String {
    ulid::Ulid::new().to_string()
}
