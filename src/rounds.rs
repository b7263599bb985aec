//! A polling task's failure budget: retry a failed round, give up after a
//! number of failed rounds in a row (the daemon's supervisor then stops
//! the daemon, see [`crate::daemon::supervisor`]). Used by the Maildir
//! watch and the bounce processor.

use std::fmt;

/// Failed rounds in a row of a polling task: it retries what fails, and
/// gives up (returns [`GaveUp`] to the supervisor) when it keeps failing.
#[derive(Debug, Clone, Copy)]
pub struct Rounds {
    limit: u32,
    failed: u32,
}

/// A polling task kept failing.
#[derive(Debug, thiserror::Error)]
#[error("failed {rounds} rounds in a row, last: {last}")]
pub struct GaveUp<E: fmt::Display> {
    /// Failed rounds in a row.
    pub rounds: u32,
    /// The last failure.
    pub last: E,
}

impl Rounds {
    /// Gives up after `limit` failed rounds in a row (at least one).
    pub fn new(limit: u32) -> Rounds {
        Rounds { limit: limit.max(1), failed: 0 }
    }

    /// A round went through.
    pub fn ok(&mut self) {
        self.failed = 0;
    }

    /// A round failed: how many in a row so far, or [`GaveUp`] at the limit.
    pub fn failed<E: fmt::Display>(&mut self, last: E) -> Result<u32, GaveUp<E>> {
        self.failed += 1;
        if self.failed >= self.limit { Err(GaveUp { rounds: self.failed, last }) } else { Ok(self.failed) }
    }
}
