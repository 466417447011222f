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

    /// What can go back to a counter that stands at `counter`: the unused numbers that end at
    /// it, as the value the counter then takes (their first minus one). Only a run touching the
    /// counter's end can go back: a number below one someone else took stays a gap.
    fn returnable(&self, counter: u64) -> Option<u64> {
        let (start, end) = *self.ranges.last()?;
        (end == counter).then(|| start - 1)
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
        let Some(&(_, end)) = held.ranges.last() else { return Ok(0) };
        let key = schema::case_number_counter();
        let Some(value) = held.returnable(end) else { return Ok(0) };
        let counter = schema::keyed_item(key, schema::Counter { value: i64::try_from(value).unwrap_or(i64::MAX) })?;
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

    #[test]
    fn only_the_run_ending_at_the_counter_goes_back() {
        let mut held = Held::default();
        held.keep(3, 8);
        assert_eq!(held.returnable(8), Some(2), "the counter goes back to the last number used");
        assert_eq!(held.returnable(12), None, "someone took 9..=12: ours stay a gap");
        held.keep(11, 16);
        assert_eq!(held.returnable(16), Some(10));
        assert_eq!(Held::default().returnable(5), None);
    }
}
