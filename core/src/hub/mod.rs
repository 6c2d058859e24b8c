//! Server-side bookkeeping: the session registry, channels with kick, and
//! encode-once broadcast bookkeeping.
//!
//! This module owns which sessions exist and who is in which channel. It never
//! does IO, never touches a session's queue and never reads a clock.
//!
//! # Shared state, for the runtimes
//!
//! The surface a runtime shares between tasks is small and explicit:
//!
//! - one [`Hub`] behind one lock; every method is short (O(1), or O(the
//!   session's channels) for [`Hub::remove`], or O(recipients) for the
//!   snapshot of [`Hub::broadcast`]);
//! - one [`BroadcastRecord`] per broadcast in flight, owned apart from the hub
//!   (its own small lock, or a [`BroadcastTracker`] on an event loop), so
//!   recording a recipient's outcome never takes the hub lock;
//! - for fire-and-forget fan-out, a [`BroadcastRing`] per lane behind its
//!   own lock: a broadcast is one push, and each reader pulls what it has
//!   room for;
//! - two process-wide id counters ([`SessionId::allocate`] and the broadcast
//!   ids), each a single relaxed atomic increment.

mod broadcast;
mod channel;
mod dense;
mod id;
mod registry;
mod ring;
mod state;

pub use broadcast::{
    BroadcastCounts, BroadcastId, BroadcastRecord, BroadcastReport, BroadcastTracker, Delivery,
    DeliveryStatus, DeliveryTicket, Recipients, RecordError,
};
pub use channel::{Channel, Kicked, UnknownSession};
pub(crate) use dense::IdHash;
pub use id::SessionId;
pub use registry::{Hub, PeerAddr, RegisterError, SessionInfo};
pub use ring::{BroadcastRing, Published, PublisherWait, RingCursor, RingRead, ZeroCapacity};
pub use state::{ServerState, StateError};

// What a runtime puts behind a lock or hands between tasks must be able to
// cross threads; checked at compile time.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Hub<String, String>>();
    shareable::<BroadcastRecord>();
    shareable::<BroadcastTracker>();
    shareable::<Delivery>();
    shareable::<BroadcastRing<std::task::Waker>>();
    shareable::<crate::route::Router>();
};

#[cfg(test)]
pub(crate) mod test_support {
    use super::{Hub, ServerState};
    use crate::limits::ConnectionLimits;
    use std::hash::Hash;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    /// A hub in the `Running` state with `limits`.
    pub(crate) fn running_hub<K: Hash + Eq + Clone, M>(limits: ConnectionLimits) -> Hub<K, M> {
        let mut hub = Hub::new(limits);
        hub.set_state(ServerState::Starting)
            .expect("closed → starting");
        hub.set_state(ServerState::Running)
            .expect("starting → running");
        hub
    }

    /// A peer at 192.0.2.`host`, port 40000.
    pub(crate) fn peer(host: u8) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, host)), 40000)
    }
}
