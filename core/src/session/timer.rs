//! The fixed set of timer slots a session can arm.

/// One timer slot. A session computes each slot's deadline from its state in
/// O(1), so a setting change is reflected at once and nothing goes stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Reading paused by the rate limit resumes.
    RateResume,
    /// The earliest deadline of an unstarted send.
    SendDeadline,
    /// Every event decoded before a fatal decode error has been polled: the
    /// graceful close it calls for begins.
    FailedClose,
    /// A graceful close stops waiting for the queue to drain.
    Linger,
    /// The queue has kept reading paused for the slow-consumer timeout.
    SlowConsumer,
    /// The peer has not sent its first frame.
    FirstFrame,
    /// Nothing received for the peer timeout.
    Peer,
    /// No traffic either way for the idle timeout.
    Idle,
    /// Nothing written for the heartbeat interval.
    Heartbeat,
    /// Emptied buffers kept for reuse are freed: no traffic for
    /// `keep_buffers`.
    Buffers,
}

impl Timer {
    /// Every slot, in the order `handle_timeout` serves them: input first (a
    /// resumed read may deliver frames), then sends, then the closing rules
    /// (a failed input's close before the linger, so a zero linger ends it
    /// in the same call; the slow consumer after the send deadlines, whose
    /// expiry may end the backpressure, and after the linger, so a close
    /// under way keeps its reason),
    /// then the heartbeat, which only makes sense on a session still open;
    /// freeing idle buffers last.
    pub(super) const ALL: [Timer; 10] = [
        Timer::RateResume,
        Timer::SendDeadline,
        Timer::FailedClose,
        Timer::Linger,
        Timer::SlowConsumer,
        Timer::FirstFrame,
        Timer::Peer,
        Timer::Idle,
        Timer::Heartbeat,
        Timer::Buffers,
    ];
}
