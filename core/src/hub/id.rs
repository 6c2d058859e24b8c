//! Session identifiers.

use std::fmt;

/// Identifies a session within a process. Never reused: a hub hands out each
/// value once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub(crate) u64);

impl SessionId {
    /// The raw number.
    pub fn get(self) -> u64 {
        self.0
    }

    /// A `SessionId` from a raw number, for tests and for runtimes that
    /// allocate ids themselves (a client session that has no hub).
    pub fn from_raw(raw: u64) -> Self {
        SessionId(raw)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session#{}", self.0)
    }
}
