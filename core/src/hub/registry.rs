//! The [`Hub`] itself: which sessions exist, their metadata, admission and the
//! server's lifecycle. Channels and broadcast add their methods in sibling
//! modules.

use super::dense::DenseMap;
use super::{ServerState, SessionId, StateError};
use crate::limits::{AdmitError, ConnectionCounter, ConnectionLimits, ConnectionPermit};
use crate::route::{Endpoint, EndpointError, Router};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The address of a session's peer.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerAddr {
    /// A TCP (or other IP) peer.
    Ip(SocketAddr),
    /// A Unix-domain socket peer: its path, if its socket is bound to one
    /// (a connecting socket usually is not).
    Unix(Option<PathBuf>),
}

impl PeerAddr {
    /// The peer's IP address, if it has one; per-IP limits apply only then.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            PeerAddr::Ip(addr) => Some(addr.ip()),
            PeerAddr::Unix(_) => None,
        }
    }
}

impl From<SocketAddr> for PeerAddr {
    fn from(addr: SocketAddr) -> Self {
        PeerAddr::Ip(addr)
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Ip(addr) => addr.fmt(f),
            PeerAddr::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            PeerAddr::Unix(None) => f.write_str("unix:(unnamed)"),
        }
    }
}

/// What the hub knows about one session: its peer and the user's metadata.
#[derive(Debug, Clone)]
pub struct SessionInfo<M> {
    peer: PeerAddr,
    meta: M,
}

impl<M> SessionInfo<M> {
    /// The peer's address.
    pub fn peer(&self) -> &PeerAddr {
        &self.peer
    }

    /// The user's metadata (a name, a tag, an auth context).
    pub fn meta(&self) -> &M {
        &self.meta
    }

    /// The user's metadata, to change.
    pub fn meta_mut(&mut self) -> &mut M {
        &mut self.meta
    }

    /// The metadata, consuming the info.
    pub fn into_meta(self) -> M {
        self.meta
    }
}

/// Why [`Hub::register`] refused a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// Only a [`Running`](ServerState::Running) hub admits sessions.
    #[error("the server is {state}, not running")]
    NotRunning {
        /// The hub's state.
        state: ServerState,
    },
    /// A connection limit refused it.
    #[error(transparent)]
    Refused(#[from] AdmitError),
}

/// One registered session's bookkeeping.
#[derive(Debug)]
pub(super) struct Entry<K, M> {
    pub(super) info: SessionInfo<M>,
    /// The channels this session is in: the reverse index that makes
    /// [`Hub::remove`] cost O(its channels), not O(all channels).
    pub(super) channels: HashSet<K>,
    permit: ConnectionPermit,
}

/// The server-side bookkeeping of castnet: the session registry, channels with
/// kick, encode-once broadcast planning, connection admission and the P2P
/// router, with no IO and no clock.
///
/// `K` keys channels (a room name, a topic id); `M` is the metadata the user
/// keeps per session.
///
/// # How a runtime uses it
///
/// A runtime puts one `Hub` behind one lock, and each connection's task owns
/// its own [`Session`](crate::session). Every hub method is short: O(1) or
/// O(what it returns), so the lock is held briefly.
///
/// - At accept: [`register`](Hub::register) (refused by a limit or by the
///   lifecycle, or a fresh [`SessionId`]). At close: [`remove`](Hub::remove),
///   which leaves every channel and endpoint and releases the limits.
/// - Channels: [`join`](Hub::join), [`exit`](Hub::exit),
///   [`kick`](Hub::kick) (returns the [`Kicked`](super::Kicked) notification
///   the runtime delivers after releasing the lock), [`channel`](Hub::channel).
/// - Broadcast: [`broadcast`](Hub::broadcast) takes the recipient snapshot
///   under the lock and returns a [`BroadcastRecord`](super::BroadcastRecord)
///   that lives outside the hub; outcomes are recorded into it without the
///   hub lock.
/// - Lifecycle: [`set_state`](Hub::set_state), [`state`](Hub::state).
///
/// ```
/// use castnet_core::hub::{Hub, ServerState};
/// use castnet_core::limits::ConnectionLimits;
///
/// let mut hub: Hub<&str, &str> = Hub::new(ConnectionLimits::unlimited());
/// hub.set_state(ServerState::Starting).unwrap();
/// hub.set_state(ServerState::Running).unwrap();
///
/// let alice = hub.register("192.0.2.1:4000".parse::<std::net::SocketAddr>().unwrap(), "alice").unwrap();
/// assert!(hub.join("lobby", alice).unwrap());
/// assert_eq!(hub.channel("lobby").map(|c| c.len()), Some(1));
///
/// let info = hub.remove(alice).unwrap();
/// assert_eq!(*info.meta(), "alice");
/// assert!(hub.channel("lobby").is_none(), "a removed session leaves every channel");
/// ```
#[derive(Debug)]
pub struct Hub<K, M = ()> {
    state: ServerState,
    admission: ConnectionCounter,
    pub(super) sessions: DenseMap<Entry<K, M>>,
    /// Each channel's members, with the number of the join that put each
    /// one there.
    pub(super) channels: HashMap<K, DenseMap<u64>>,
    /// Joins so far: numbers every join, for join order.
    pub(super) joins: u64,
    router: Router,
}

impl<K, M> Hub<K, M>
where
    K: Hash + Eq + Clone,
{
    /// An empty, [`Closed`](ServerState::Closed) hub admitting within `limits`.
    pub fn new(limits: ConnectionLimits) -> Self {
        Hub {
            state: ServerState::Closed,
            admission: ConnectionCounter::new(limits),
            sessions: DenseMap::default(),
            channels: HashMap::new(),
            joins: 0,
            router: Router::new(),
        }
    }

    /// The server's lifecycle state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// Moves the lifecycle to `to` and returns the state it left. Refused
    /// unless `to` is the next step (see [`ServerState`]), and `Stopping →
    /// Closed` is refused while sessions remain.
    pub fn set_state(&mut self, to: ServerState) -> Result<ServerState, StateError> {
        let from = self.state;
        if !from.can_become(to) {
            return Err(StateError::InvalidTransition { from, to });
        }
        if to == ServerState::Closed && !self.sessions.is_empty() {
            return Err(StateError::SessionsRemain {
                count: self.sessions.len(),
            });
        }
        self.state = to;
        Ok(from)
    }

    /// The connection limits in force.
    pub fn limits(&self) -> ConnectionLimits {
        self.admission.limits()
    }

    /// Replaces the connection limits; sessions already registered stay.
    pub fn set_limits(&mut self, limits: ConnectionLimits) {
        self.admission.set_limits(limits);
    }

    /// Admits a session from `peer` with metadata `meta` and returns its new
    /// id, or refuses it: the hub is not [`Running`](ServerState::Running), or
    /// a connection limit is reached. A refusal changes nothing.
    pub fn register(
        &mut self,
        peer: impl Into<PeerAddr>,
        meta: M,
    ) -> Result<SessionId, RegisterError> {
        if self.state != ServerState::Running {
            return Err(RegisterError::NotRunning { state: self.state });
        }
        let peer = peer.into();
        let permit = self.admission.admit(peer.ip())?;
        let id = SessionId::allocate();
        self.sessions.insert(
            id,
            Entry {
                info: SessionInfo { peer, meta },
                channels: HashSet::new(),
                permit,
            },
        );
        Ok(id)
    }

    /// Removes a session: it leaves every channel it was in (no
    /// [`Kicked`](super::Kicked) notification), loses every endpoint it held,
    /// and its connection slot is released. Returns its info, or `None` for an
    /// unknown id. O(channels and endpoints of the session).
    pub fn remove(&mut self, id: SessionId) -> Option<SessionInfo<M>> {
        let entry = self.sessions.remove(id)?;
        for key in &entry.channels {
            self.leave_channel_index(key, id);
        }
        self.router.unregister_session(id);
        self.admission.release(entry.permit);
        Some(entry.info)
    }

    /// The session's info, if it is registered.
    pub fn session(&self, id: SessionId) -> Option<&SessionInfo<M>> {
        self.sessions.get(id).map(|entry| &entry.info)
    }

    /// The session's info, to change its metadata.
    pub fn session_mut(&mut self, id: SessionId) -> Option<&mut SessionInfo<M>> {
        self.sessions.get_mut(id).map(|entry| &mut entry.info)
    }

    /// True when `id` is registered.
    pub fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains(id)
    }

    /// How many sessions are registered.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when no session is registered.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Every registered session's id, in no particular order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = SessionId> + '_ {
        self.sessions.keys().iter().copied()
    }

    /// Every registered session with its info, in no particular order.
    pub fn sessions(&self) -> impl ExactSizeIterator<Item = (SessionId, &SessionInfo<M>)> + '_ {
        self.sessions.iter().map(|(id, entry)| (id, &entry.info))
    }

    /// The P2P router, to route by endpoint.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Gives `id` the endpoint `endpoint`. Refused if the session is not
    /// registered or the endpoint is already held. The endpoint goes when the
    /// session is removed.
    pub fn register_endpoint(
        &mut self,
        endpoint: Endpoint,
        id: SessionId,
    ) -> Result<(), EndpointError> {
        if !self.sessions.contains(id) {
            return Err(EndpointError::UnknownSession(id));
        }
        self.router.register(endpoint, id)
    }

    /// Releases `endpoint`, returning the session that held it.
    pub fn unregister_endpoint(&mut self, endpoint: Endpoint) -> Option<SessionId> {
        self.router.unregister(endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::test_support::{peer, running_hub};

    #[test]
    fn register_refused_by_a_limit_changes_nothing() {
        let mut hub: Hub<u32> = running_hub(ConnectionLimits::new(10, 1).unwrap());
        hub.register(peer(1), ()).unwrap();
        assert!(matches!(
            hub.register(peer(1), ()),
            Err(RegisterError::Refused(AdmitError::TooManyFromIp { .. }))
        ));
        assert_eq!(hub.len(), 1);
    }

    #[test]
    fn remove_releases_the_connection_slot() {
        let mut hub: Hub<u32> = running_hub(ConnectionLimits::new(1, 1).unwrap());
        let id = hub.register(peer(1), ()).unwrap();
        assert!(matches!(
            hub.register(peer(2), ()),
            Err(RegisterError::Refused(AdmitError::TooManyConnections {
                max: 1
            }))
        ));
        hub.remove(id).unwrap();
        assert!(hub.register(peer(1), ()).is_ok());
    }

    #[test]
    fn unix_peer_counts_toward_the_total_only() {
        let mut hub: Hub<u32> = running_hub(ConnectionLimits::new(2, 1).unwrap());
        let a = hub.register(PeerAddr::Unix(None), ()).unwrap();
        hub.register(PeerAddr::Unix(None), ()).unwrap();
        assert_eq!(hub.session(a).unwrap().peer().ip(), None);
        assert!(hub.register(PeerAddr::Unix(None), ()).is_err());
    }

    #[test]
    fn session_info_holds_peer_and_metadata_until_removed() {
        let mut hub: Hub<u32, String> = running_hub(ConnectionLimits::unlimited());
        let id = hub.register(peer(7), "guest".to_owned()).unwrap();
        assert_eq!(hub.session(id).unwrap().peer(), &PeerAddr::Ip(peer(7)));
        *hub.session_mut(id).unwrap().meta_mut() = "alice".to_owned();
        assert_eq!(hub.session(id).unwrap().meta(), "alice");
        let info = hub.remove(id).unwrap();
        assert_eq!(info.into_meta(), "alice");
        assert!(hub.session(id).is_none());
        assert!(!hub.contains(id));
        assert!(hub.remove(id).is_none(), "a second remove finds nothing");
    }

    #[test]
    fn iteration_yields_every_registered_session_once() {
        let mut hub: Hub<u32, u8> = running_hub(ConnectionLimits::unlimited());
        let ids: Vec<SessionId> = (0..20).map(|n| hub.register(peer(n), n).unwrap()).collect();
        for &id in ids.iter().step_by(3) {
            hub.remove(id);
        }
        let mut expected: Vec<SessionId> =
            ids.iter().copied().filter(|id| hub.contains(*id)).collect();
        expected.sort();
        let mut seen: Vec<SessionId> = hub.ids().collect();
        seen.sort();
        assert_eq!(seen, expected);
        let mut with_info: Vec<(SessionId, u8)> = hub
            .sessions()
            .map(|(id, info)| (id, *info.meta()))
            .collect();
        with_info.sort();
        assert_eq!(with_info.len(), hub.len());
        for (id, meta) in with_info {
            assert_eq!(ids[usize::from(meta)], id);
        }
    }

    #[test]
    fn remove_leaves_every_channel_without_a_notification() {
        let mut hub: Hub<&str> = running_hub(ConnectionLimits::unlimited());
        let a = hub.register(peer(1), ()).unwrap();
        let b = hub.register(peer(2), ()).unwrap();
        for ch in ["x", "y", "z"] {
            hub.join(ch, a).unwrap();
        }
        hub.join("x", b).unwrap();
        hub.remove(a);
        assert!(!hub.channel("x").unwrap().contains(a));
        assert_eq!(hub.channel("x").unwrap().len(), 1);
        assert!(hub.channel("y").is_none());
        assert!(hub.channel("z").is_none());
        assert_eq!(hub.channels().count(), 1);
        assert_eq!(hub.channels_of(a).count(), 0);
    }

    #[test]
    fn remove_releases_every_endpoint_of_the_session() {
        let mut hub: Hub<&str> = running_hub(ConnectionLimits::unlimited());
        let a = hub.register(peer(1), ()).unwrap();
        let b = hub.register(peer(2), ()).unwrap();
        hub.register_endpoint(Endpoint::new(1, 1), a).unwrap();
        hub.register_endpoint(Endpoint::new(1, 2), a).unwrap();
        hub.register_endpoint(Endpoint::new(2, 1), b).unwrap();
        hub.remove(a);
        assert_eq!(hub.router().len(), 1);
        assert!(hub.router().route_one(Endpoint::new(1, 1)).is_err());
        hub.register_endpoint(Endpoint::new(1, 1), b).unwrap();
    }

    #[test]
    fn endpoint_for_an_unregistered_session_is_refused() {
        let mut hub: Hub<&str> = running_hub(ConnectionLimits::unlimited());
        let a = hub.register(peer(1), ()).unwrap();
        hub.remove(a);
        assert_eq!(
            hub.register_endpoint(Endpoint::new(1, 1), a),
            Err(EndpointError::UnknownSession(a))
        );
        assert!(hub.router().is_empty());
    }

    #[test]
    fn unregister_endpoint_gives_back_its_holder() {
        let mut hub: Hub<&str> = running_hub(ConnectionLimits::unlimited());
        let a = hub.register(peer(1), ()).unwrap();
        hub.register_endpoint(Endpoint::new(3, 9), a).unwrap();
        assert_eq!(hub.unregister_endpoint(Endpoint::new(3, 9)), Some(a));
        assert_eq!(hub.unregister_endpoint(Endpoint::new(3, 9)), None);
        assert!(hub.router().endpoints_of(a).is_empty());
    }
}
