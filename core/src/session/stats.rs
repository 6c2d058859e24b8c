//! [`SessionStats`]: counters of one session.

/// A snapshot of one session's counters.
///
/// Every accepted send is eventually counted in exactly one of `sent`,
/// `failed_closed` and `failed_timed_out`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SessionStats {
    /// Frames decoded and delivered as `Event::Frame`.
    pub frames_in: u64,
    /// Bytes reported by `on_read`.
    pub bytes_in: u64,
    /// Frames the decoder skipped (`Event::FrameDiscarded`).
    pub frames_discarded: u64,
    /// Frames completely written, heartbeats included.
    pub frames_out: u64,
    /// Bytes reported by `on_written`.
    pub bytes_out: u64,
    /// Heartbeat frames completely written.
    pub heartbeats_sent: u64,
    /// Sends accepted, tracked (each got a `SendId`) or untracked.
    pub sends_accepted: u64,
    /// Sends that ended `Sent`.
    pub sent: u64,
    /// Sends that ended `Failed(Closed)`.
    pub failed_closed: u64,
    /// Sends that ended `Failed(TimedOut)`.
    pub failed_timed_out: u64,
    /// Sends refused with `QueueFull`.
    pub refused_queue_full: u64,
    /// Sends refused because the session was closing or closed.
    pub refused_closed: u64,
    /// Times reading paused because the send queue reached its bound (see
    /// [`Session::is_backpressured`](super::Session::is_backpressured)).
    pub read_pauses: u64,
}
