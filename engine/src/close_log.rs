//! How a session's end is logged: the level follows who is to blame (see
//! the crate docs, "Logging").

use castnet_core::hub::PeerAddr;
use castnet_core::session::CloseReason;
use castnet_core::SessionId;

/// The level a close is logged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseLevel {
    /// Routine: closed here, aborted, the peer hung up or vanished.
    Debug,
    /// A timeout or limit the configuration asked for (peer, idle,
    /// first-frame timeout; a linger cut short).
    Info,
    /// The peer broke the protocol or a limit (undecodable or oversized
    /// frame, rate limit, slow consumer).
    Warn,
}

impl CloseLevel {
    pub(crate) fn of(reason: &CloseReason) -> Self {
        match reason {
            CloseReason::Local
            | CloseReason::Aborted
            | CloseReason::PeerEof
            | CloseReason::Io(_) => CloseLevel::Debug,
            CloseReason::Frame(_) | CloseReason::RateLimited | CloseReason::SlowConsumer => {
                CloseLevel::Warn
            }
            // The configured timeouts (peer, first frame, idle, linger),
            // and any reason added later: worth seeing until classified.
            _ => CloseLevel::Info,
        }
    }
}

/// Logs that session `id` with `peer` closed for `reason`, at the level the
/// reason calls for.
pub(crate) fn log_close(id: SessionId, peer: &PeerAddr, reason: &CloseReason) {
    let session = id.get();
    match CloseLevel::of(reason) {
        CloseLevel::Debug => tracing::debug!(session, %peer, %reason, "session closed"),
        CloseLevel::Info => tracing::info!(session, %peer, %reason, "session closed"),
        CloseLevel::Warn => tracing::warn!(session, %peer, %reason, "session closed"),
    }
}
