//! How a send ends.

use std::fmt;

/// Identifies one accepted send within its session. Every `SendId` a session
/// hands out ends exactly once, with a [`SendOutcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendId(pub(crate) u64);

impl SendId {
    /// The raw number; increasing in the order sends were accepted.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "send#{}", self.0)
    }
}

/// Why a send did not reach the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SendFailure {
    /// The session closed (or was aborted) before the frame was written.
    #[error("session closed before the frame was written")]
    Closed,
    /// The frame's deadline passed before its first byte was written.
    #[error("send timed out before the frame was written")]
    TimedOut,
    /// The session's send queue was full.
    #[error("send queue full")]
    QueueFull,
}

/// The end of one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendOutcome {
    /// Every byte of the frame was handed to the OS.
    Sent,
    /// The frame was not written, for this reason.
    Failed(SendFailure),
}

impl SendOutcome {
    /// `Ok(())` for `Sent`, the failure otherwise.
    pub fn into_result(self) -> Result<(), SendFailure> {
        match self {
            SendOutcome::Sent => Ok(()),
            SendOutcome::Failed(reason) => Err(reason),
        }
    }
}
