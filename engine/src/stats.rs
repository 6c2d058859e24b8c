//! Counters shared by a server and its connection tasks.

use castnet_core::session::SessionStats;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a server's (or a client's) counters.
///
/// Each connection adds what it counted once per turn, after its write, so
/// a snapshot may lag what is already on the wire by one turn: a peer can
/// hold an echo that `frames_in` does not count yet. Poll for a count
/// rather than expecting it the moment a reply arrives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections open now.
    pub connections_open: u64,
    /// Connections accepted and admitted since the start.
    pub connections_accepted: u64,
    /// Connections refused at accept (connection limits, stopping, or socket
    /// setup failing).
    pub connections_refused: u64,
    /// Frames received.
    pub frames_in: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Frames skipped under the `Discard` oversize policy.
    pub frames_discarded: u64,
    /// Frames written, heartbeats included.
    pub frames_out: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Heartbeats written.
    pub heartbeats_sent: u64,
    /// Frames received that
    /// [`Config::peer_heartbeat`](crate::Config::peer_heartbeat) (or the
    /// session's own setting) named heartbeats, and that were therefore not
    /// delivered. They count in `frames_in` too.
    pub heartbeats_received: u64,
    /// Sends that ended `Sent`.
    pub sent: u64,
    /// Sends that ended `Failed(Closed)`.
    pub failed_closed: u64,
    /// Sends that ended `Failed(TimedOut)`.
    pub failed_timed_out: u64,
    /// Sends refused because the queue was full.
    pub refused_queue_full: u64,
    /// Detached-broadcast frames that sessions missed: each session takes
    /// them from the server's broadcast ring as its queue has room, and one
    /// that stays full longer than
    /// [`Config::slow_reader_grace`](crate::Config::slow_reader_grace), or
    /// falls behind a publisher that never pauses by more than the ring's
    /// hard bound (see
    /// [`Config::broadcast_ring`](crate::Config::broadcast_ring)), skips the
    /// oldest. The first miss of each session is logged at WARN.
    pub broadcast_missed: u64,
    /// Bytes held right now by the read buffers of every open connection.
    /// Connections read into a buffer their worker thread lends them and
    /// give it back once what they read is handled, so a connection waiting
    /// for its peer holds none; one holding part of a frame keeps the
    /// bytes it has so far.
    pub read_buffer_bytes: u64,
}

macro_rules! stats_cell {
    ($($field:ident),* $(,)?) => {
        /// The live counters behind [`Stats`]: relaxed atomics, updated by
        /// each connection task once per turn with what changed.
        #[derive(Debug, Default)]
        pub(crate) struct StatsCell {
            pub(crate) connections_open: AtomicU64,
            pub(crate) connections_accepted: AtomicU64,
            pub(crate) connections_refused: AtomicU64,
            /// Refused by a handle's quota before reaching the core.
            pub(crate) handle_queue_full: AtomicU64,
            /// Admitted by a handle, ended `Closed` before the core queued
            /// or reported it (the session closed first).
            pub(crate) handle_failed_closed: AtomicU64,
            /// Detached-broadcast frames missed (the ring moved past them).
            pub(crate) broadcast_missed: AtomicU64,
            /// Peer heartbeats received and not delivered.
            pub(crate) heartbeats_received: AtomicU64,
            /// Gauge: read-buffer bytes held now.
            pub(crate) read_buffer_bytes: AtomicU64,
            $(pub(crate) $field: AtomicU64,)*
        }

        impl StatsCell {
            /// Adds `now - last` of a session's counters.
            pub(crate) fn add_delta(&self, last: &SessionStats, now: &SessionStats) {
                $(
                    let d = now.$field - last.$field;
                    if d != 0 {
                        self.$field.fetch_add(d, Relaxed);
                    }
                )*
            }

            pub(crate) fn snapshot(&self) -> Stats {
                Stats {
                    connections_open: self.connections_open.load(Relaxed),
                    connections_accepted: self.connections_accepted.load(Relaxed),
                    connections_refused: self.connections_refused.load(Relaxed),
                    frames_in: self.frames_in.load(Relaxed),
                    bytes_in: self.bytes_in.load(Relaxed),
                    frames_discarded: self.frames_discarded.load(Relaxed),
                    frames_out: self.frames_out.load(Relaxed),
                    bytes_out: self.bytes_out.load(Relaxed),
                    heartbeats_sent: self.heartbeats_sent.load(Relaxed),
                    heartbeats_received: self.heartbeats_received.load(Relaxed),
                    sent: self.sent.load(Relaxed),
                    failed_closed: self.failed_closed.load(Relaxed)
                        + self.handle_failed_closed.load(Relaxed),
                    failed_timed_out: self.failed_timed_out.load(Relaxed),
                    refused_queue_full: self.refused_queue_full.load(Relaxed)
                        + self.handle_queue_full.load(Relaxed),
                    broadcast_missed: self.broadcast_missed.load(Relaxed),
                    read_buffer_bytes: self.read_buffer_bytes.load(Relaxed),
                }
            }
        }
    };
}

stats_cell!(
    frames_in,
    bytes_in,
    frames_discarded,
    frames_out,
    bytes_out,
    heartbeats_sent,
    sent,
    failed_closed,
    failed_timed_out,
    refused_queue_full,
);
