//! Refusals of `send` and per-send deadlines.

use super::SendFailure;
use crate::frame::FrameError;
use std::time::{Duration, Instant};

/// When an unstarted send gives up with [`SendFailure::TimedOut`].
///
/// A frame whose first byte has been written is never cut, whatever its
/// deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SendDeadline {
    /// The session's `send_timeout` (5 s unless configured otherwise).
    #[default]
    Default,
    /// This long after the send.
    After(Duration),
    /// At this instant (an instant already past times out at the next
    /// `handle_timeout`). Lets one broadcast give every recipient the same
    /// deadline.
    At(Instant),
    /// Never: only a close or abort ends it early.
    Never,
}

/// Why [`Session::send`](super::Session::send) refused a message.
///
/// `QueueFull` and `Closed` hand the message back untouched (see
/// [`into_inner`](Self::into_inner)); an encode error does not, because the
/// encoder took the message by value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<I> {
    /// The queue is at its byte or frame bound. A
    /// [`Writable`](super::Event::Writable) event follows when there is room.
    #[error("send queue full")]
    QueueFull(I),
    /// The session is closing or closed.
    #[error("session closed")]
    Closed(I),
    /// The codec refused the message (for instance a payload over the maximum
    /// frame length). Nothing was queued.
    #[error("cannot encode the message: {0}")]
    Frame(#[source] FrameError),
}

impl<I> SendError<I> {
    /// The refused message, when it can be handed back.
    pub fn into_inner(self) -> Option<I> {
        match self {
            SendError::QueueFull(item) | SendError::Closed(item) => Some(item),
            SendError::Frame(_) => None,
        }
    }

    /// The matching [`SendFailure`], for reports that record refusals beside
    /// outcomes (an encode error has none).
    pub fn failure(&self) -> Option<SendFailure> {
        match self {
            SendError::QueueFull(_) => Some(SendFailure::QueueFull),
            SendError::Closed(_) => Some(SendFailure::Closed),
            SendError::Frame(_) => None,
        }
    }
}

/// Untracked sends that ended (written, timed out, or dropped at close), as
/// [`Session::take_untracked_finished`](super::Session::take_untracked_finished)
/// reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UntrackedFinished {
    /// How many ended.
    pub frames: usize,
    /// Their total length, as each was queued.
    pub bytes: usize,
}
