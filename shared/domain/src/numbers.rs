//! Case numbers, handed out from blocks taken off the store's counter.
//!
//! Why blocks: a new case needs its number before its transaction is written (the number is in
//! its keys and its text). Reading the counter and writing it back inside that transaction makes
//! every two concurrent creations conflict, so messages could not be taken side by side; an
//! `increment` per case is a commit of its own. A process that takes `block` numbers with one
//! increment and hands them out from memory pays one commit per block and never conflicts.
//!
//! The price is gaps: numbers a process held when it stopped are never used. [`CaseNumbers::give_back`]
//! returns them on an orderly stop when nobody took numbers since (the counter still ends at the
//! process's last block), so a laptop's `docket serve` counts on without holes after a restart.
//! A crash still leaves a gap of at most `block - 1`. The functions on AWS take blocks of one (a
//! Lambda sandbox is recycled without warning, and a number per case keeps numbers in the order
//! cases were opened across concurrent sandboxes).

use std::sync::{Mutex, PoisonError};

use docket_store::{Condition, ItemStore, WriteOp};

use crate::error::{DomainError, DomainResult};
use crate::schema::{self, COUNTERS};

/// The numbers a process holds: inclusive ranges, lowest first.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Held {
    ranges: Vec<(u64, u64)>,
}

impl Held {
    /// The lowest number held, removed.
    fn take(&mut self) -> Option<u64> {
        let (start, end) = self.ranges.first_mut()?;
        let number = *start;
        if start == end {
            self.ranges.remove(0);
        } else {
            *start += 1;
        }
        Some(number)
    }

    /// Keeps `start..=end` (nothing when `start > end`).
    fn keep(&mut self, start: u64, end: u64) {
        if start <= end {
            let at = self.ranges.partition_point(|(s, _)| *s < start);
            self.ranges.insert(at, (start, end));
        }
    }
}

/// The case numbers of one process (shared by every clone of its [`crate::Docket`]).
#[derive(Debug)]
pub struct CaseNumbers {
    block: u64,
    held: Mutex<Held>,
    /// Held by the one caller taking a new block: the others wait for it rather than each take
    /// a block of their own (which would hand numbers out of order and leave gaps).
    refill: tokio::sync::Mutex<()>,
}

impl CaseNumbers {
    /// Numbers taken `block` at a time (at least one).
    pub fn new(block: u64) -> Self {
        Self { block: block.max(1), held: Mutex::new(Held::default()), refill: tokio::sync::Mutex::new(()) }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next case number: one held, or the first of a new block.
    pub(crate) async fn take(&self, store: &dyn ItemStore) -> DomainResult<u64> {
        if let Some(number) = self.held().take() {
            return Ok(number);
        }
        // A block of one is every caller's own number: nothing to wait for.
        let _refilling = if self.block > 1 { Some(self.refill.lock().await) } else { None };
        // Another caller may have taken a block while this one waited.
        if let Some(number) = self.held().take() {
            return Ok(number);
        }
        let block = i64::try_from(self.block).map_err(|_| DomainError::Internal("case number block too large".into()))?;
        let end = store.increment(COUNTERS, &schema::case_number_counter(), "value", block).await?;
        let end = u64::try_from(end).map_err(|_| DomainError::Internal("case counter is negative".into()))?;
        let start = end + 1 - self.block;
        self.held().keep(start + 1, end);
        Ok(start)
    }

    /// Returns the numbers held to the counter if nobody took any after them (see the module):
    /// for an orderly stop. Answers how many went back; the rest are forgotten either way.
    pub async fn give_back(&self, store: &dyn ItemStore) -> DomainResult<u64> {
        let held = std::mem::take(&mut *self.held());
        // Only the highest run can go back, and only while the counter still ends where it ends
        // (the write's condition): numbers below one someone else took stay a gap.
        let Some(&(start, end)) = held.ranges.last() else { return Ok(0) };
        let value = start - 1;
        let counter = schema::keyed_item(schema::case_number_counter(), schema::Counter { value: i64::try_from(value).unwrap_or(i64::MAX) })?;
        let at_end = Condition::equals("value", i64::try_from(end).unwrap_or(i64::MAX));
        match store.write(WriteOp::put_if(COUNTERS, counter, at_end)).await {
            Ok(()) => Ok(end - value),
            // Someone took numbers after ours: ours stay a gap.
            Err(docket_store::StoreError::ConditionFailed) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_handed_out_lowest_first_across_blocks() {
        let mut held = Held::default();
        held.keep(17, 20);
        held.keep(2, 4);
        held.keep(9, 8);
        let taken: Vec<u64> = std::iter::from_fn(|| held.take()).collect();
        assert_eq!(taken, vec![2, 3, 4, 17, 18, 19, 20]);
        assert_eq!(held, Held::default());
    }
}
