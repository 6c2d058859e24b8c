//! What a session reports: [`Event`] and, last of all, [`CloseReason`].

use super::{SendFailure, SendId, SendOutcome};
use crate::frame::FrameError;
use std::time::Instant;

/// Something the runtime or the user must learn about, drained in order with
/// [`Session::poll_event`](super::Session::poll_event).
///
/// `Closed` is always the last event, and arrives exactly once.
#[derive(Debug, Clone)]
#[non_exhaustive]
// A C layout keeps every variant's payload 8-byte aligned after the tag:
// with the default layout a one-byte field sat at offset 1, and moving an
// event out of the queue cost a store-forwarding stall per frame.
#[repr(C)]
pub enum Event<T> {
    /// A decoded inbound frame.
    Frame(T),
    /// Every byte of this send was accepted by `on_written`.
    Sent(SendId),
    /// This send will never be written.
    Failed(SendId, SendFailure),
    /// A send was refused with `QueueFull`; there is room again.
    Writable,
    /// The decoder skipped a frame it could not accept (a recoverable
    /// [`FrameError`], such as `FrameDiscarded`); decoding goes on.
    FrameDiscarded(FrameError),
    /// The peer went over the inbound rate limit and reading is paused until
    /// `resume_at` (`None`: a debt beyond what [`Instant`] can express).
    RatePaused {
        /// When reading resumes, which is also a `poll_timeout` deadline.
        resume_at: Option<Instant>,
    },
    /// The session has ended; nothing follows. The runtime drops the socket.
    Closed(CloseReason),
}

impl<T> Event<T> {
    /// The send and how it ended, for `Sent` and `Failed`.
    pub fn outcome(&self) -> Option<(SendId, SendOutcome)> {
        match *self {
            Event::Sent(id) => Some((id, SendOutcome::Sent)),
            Event::Failed(id, why) => Some((id, SendOutcome::Failed(why))),
            _ => None,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum CloseReason {
    /// [`close`](super::Session::close) was called and the queue drained.
    #[error("closed locally")]
    Local,
    /// [`close`](super::Session::close) was called and the linger time ran out
    /// before the queue drained; what was left failed `Closed`.
    #[error("closed locally; the linger time ran out before the queue drained")]
    LingerExpired,
    /// [`abort`](super::Session::abort) was called.
    #[error("aborted")]
    Aborted,
    /// The peer ended its side of the stream (after which the queue was
    /// drained, or cut at the linger time).
    #[error("the peer closed the connection")]
    PeerEof,
    /// Nothing was received for the configured peer timeout.
    #[error("nothing received from the peer within the peer timeout")]
    PeerTimeout,
    /// No frame arrived within the first-frame deadline.
    #[error("no frame received within the first-frame deadline")]
    FirstFrameTimeout,
    /// No traffic in either direction for the idle timeout.
    #[error("idle for longer than the idle timeout")]
    IdleTimeout,
    /// The send queue kept reading paused (the peer did not read what it
    /// was sent) for the configured slow-consumer timeout; what was queued
    /// failed `Closed`.
    #[error("the peer did not read what it was sent within the slow-consumer timeout")]
    SlowConsumer,
    /// The peer went over the inbound rate limit under the `Close` policy.
    #[error("the peer exceeded the inbound rate limit")]
    RateLimited,
    /// The inbound stream could not be decoded. Reading stopped at the
    /// error; the frames before it were delivered, then the queue drained
    /// (or was cut at the linger time).
    #[error("inbound stream error: {0}")]
    Frame(#[source] FrameError),
    /// Reading from or writing to the connection failed (reset, broken
    /// pipe…), as the runtime reported with
    /// [`on_io_error`](super::Session::on_io_error).
    #[error("connection error: {0}")]
    Io(std::io::ErrorKind),
}

impl CloseReason {
    /// Whether the session ended its side in order: a local close, the
    /// peer's end of stream or a decode error, each after its queue drained
    /// (or its linger ran out). Such a connection ends with a FIN (shut
    /// the socket's writing down), and, unless the peer ended first
    /// ([`PeerEof`](Self::PeerEof)), reads and discards what the peer still
    /// sends before closing the socket: a socket closed with unread input
    /// resets the connection, which throws away what the peer has yet to
    /// receive. Every other reason may end with a reset.
    ///
    /// ```
    /// use castnet_core::session::CloseReason;
    ///
    /// assert!(CloseReason::Local.is_orderly());
    /// assert!(!CloseReason::Aborted.is_orderly());
    /// ```
    pub fn is_orderly(&self) -> bool {
        matches!(self, Self::Local | Self::PeerEof | Self::Frame(_))
    }
}
