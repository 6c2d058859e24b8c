//! [`Router`]: which session holds which `(type, no)` endpoint.

use super::{Endpoint, Envelope};
use crate::hub::{IdHash, SessionId};
use std::collections::{btree_map, BTreeMap, HashMap};

/// Why an endpoint could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// Another registration holds the endpoint (possibly the same session).
    #[error("endpoint {endpoint} is already held by {holder}")]
    DuplicateEndpoint {
        /// The endpoint asked for.
        endpoint: Endpoint,
        /// The session that holds it.
        holder: SessionId,
    },
    /// The session is not registered with the hub.
    #[error("{0} is not registered")]
    UnknownSession(SessionId),
}

/// Why a message could not be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// No session holds this endpoint.
    #[error("no session holds endpoint {0}")]
    UnknownEndpoint(Endpoint),
    /// No session holds an endpoint of this type.
    #[error("no endpoint of type {0}")]
    UnknownType(u8),
}

/// Maps `(type, no)` endpoints to the sessions that hold them, and back.
///
/// A session may hold several endpoints (a gateway speaking for many); an
/// endpoint has one holder. Lookups are O(log endpoints); routing to a type
/// walks that type's endpoints in number order.
///
/// Inside a [`Hub`](crate::hub::Hub), the hub owns its router: it registers
/// endpoints only for registered sessions and unregisters a session's
/// endpoints when the session is removed, so there is one owner of that
/// cleanup. A `Router` used on its own leaves it to the caller
/// ([`unregister_session`](Router::unregister_session)).
///
/// ```
/// use castnet_core::route::{Endpoint, RouteError, Router};
/// use castnet_core::SessionId;
///
/// let mut router = Router::new();
/// let (a, b) = (SessionId::allocate(), SessionId::allocate());
/// router.register(Endpoint::new(1, 1), a).unwrap();
/// router.register(Endpoint::new(1, 2), b).unwrap();
/// assert!(router.register(Endpoint::new(1, 2), a).is_err());
///
/// assert_eq!(router.route_one(Endpoint::new(1, 2)), Ok(b));
/// let all: Vec<_> = router.route_type(1).unwrap().map(|(_, s)| s).collect();
/// assert_eq!(all, vec![a, b]);
/// assert_eq!(router.route_type(9).err(), Some(RouteError::UnknownType(9)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Router {
    by_endpoint: BTreeMap<Endpoint, SessionId>,
    by_session: HashMap<SessionId, Vec<Endpoint>, IdHash>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// Gives `session` the endpoint `endpoint`; refused if it is held.
    pub fn register(
        &mut self,
        endpoint: Endpoint,
        session: SessionId,
    ) -> Result<(), EndpointError> {
        match self.by_endpoint.entry(endpoint) {
            btree_map::Entry::Occupied(held) => Err(EndpointError::DuplicateEndpoint {
                endpoint,
                holder: *held.get(),
            }),
            btree_map::Entry::Vacant(free) => {
                free.insert(session);
                self.by_session.entry(session).or_default().push(endpoint);
                Ok(())
            }
        }
    }

    /// Releases `endpoint`, returning the session that held it.
    pub fn unregister(&mut self, endpoint: Endpoint) -> Option<SessionId> {
        let session = self.by_endpoint.remove(&endpoint)?;
        if let Some(held) = self.by_session.get_mut(&session) {
            held.retain(|&e| e != endpoint);
            if held.is_empty() {
                self.by_session.remove(&session);
            }
        }
        Some(session)
    }

    /// Releases every endpoint `session` holds and returns them.
    pub fn unregister_session(&mut self, session: SessionId) -> Vec<Endpoint> {
        let held = self.by_session.remove(&session).unwrap_or_default();
        for endpoint in &held {
            self.by_endpoint.remove(endpoint);
        }
        held
    }

    /// The session holding `endpoint`.
    pub fn route_one(&self, endpoint: Endpoint) -> Result<SessionId, RouteError> {
        self.by_endpoint
            .get(&endpoint)
            .copied()
            .ok_or(RouteError::UnknownEndpoint(endpoint))
    }

    /// The session an envelope is addressed to.
    pub fn route(&self, envelope: &Envelope) -> Result<SessionId, RouteError> {
        self.route_one(envelope.dst())
    }

    /// Every endpoint of type `ty` with its session, in number order; at least
    /// one, or [`RouteError::UnknownType`]. A session holding several
    /// endpoints of the type appears once per endpoint.
    pub fn route_type(&self, ty: u8) -> Result<TypeRoute<'_>, RouteError> {
        let mut range = self
            .by_endpoint
            .range(Endpoint::new(ty, 0)..=Endpoint::new(ty, u16::MAX))
            .peekable();
        if range.peek().is_none() {
            return Err(RouteError::UnknownType(ty));
        }
        Ok(TypeRoute { range })
    }

    /// The endpoints `session` holds, in registration order.
    pub fn endpoints_of(&self, session: SessionId) -> &[Endpoint] {
        self.by_session.get(&session).map_or(&[], Vec::as_slice)
    }

    /// How many endpoints are registered.
    pub fn len(&self) -> usize {
        self.by_endpoint.len()
    }

    /// True when no endpoint is registered.
    pub fn is_empty(&self) -> bool {
        self.by_endpoint.is_empty()
    }
}

/// The endpoints of one type and their sessions; see [`Router::route_type`].
#[derive(Debug)]
pub struct TypeRoute<'a> {
    range: std::iter::Peekable<btree_map::Range<'a, Endpoint, SessionId>>,
}

impl Iterator for TypeRoute<'_> {
    type Item = (Endpoint, SessionId);

    fn next(&mut self) -> Option<Self::Item> {
        self.range
            .next()
            .map(|(&endpoint, &session)| (endpoint, session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn s(n: u64) -> SessionId {
        SessionId::from_raw(n)
    }

    #[test]
    fn duplicate_endpoint_is_refused_with_its_holder() {
        let mut router = Router::new();
        router.register(Endpoint::new(1, 1), s(1)).unwrap();
        for claimant in [s(1), s(2)] {
            assert_eq!(
                router.register(Endpoint::new(1, 1), claimant),
                Err(EndpointError::DuplicateEndpoint {
                    endpoint: Endpoint::new(1, 1),
                    holder: s(1)
                })
            );
        }
        assert_eq!(router.endpoints_of(s(1)), &[Endpoint::new(1, 1)]);
        assert!(router.endpoints_of(s(2)).is_empty());
    }

    #[test]
    fn routing_to_an_unknown_endpoint_is_a_typed_error() {
        let mut router = Router::new();
        router.register(Endpoint::new(1, 1), s(1)).unwrap();
        assert_eq!(
            router.route_one(Endpoint::new(1, 2)),
            Err(RouteError::UnknownEndpoint(Endpoint::new(1, 2)))
        );
        let to_missing = Envelope::new(Endpoint::new(1, 1), Endpoint::new(9, 9), Bytes::new());
        assert_eq!(
            router.route(&to_missing),
            Err(RouteError::UnknownEndpoint(Endpoint::new(9, 9)))
        );
    }

    #[test]
    fn route_type_reaches_every_endpoint_of_the_type_in_number_order() {
        let mut router = Router::new();
        router.register(Endpoint::new(2, u16::MAX), s(1)).unwrap();
        router.register(Endpoint::new(2, 0), s(2)).unwrap();
        router.register(Endpoint::new(2, 7), s(1)).unwrap();
        router.register(Endpoint::new(1, 5), s(3)).unwrap();
        router.register(Endpoint::new(3, 0), s(3)).unwrap();
        let got: Vec<_> = router.route_type(2).unwrap().collect();
        assert_eq!(
            got,
            vec![
                (Endpoint::new(2, 0), s(2)),
                (Endpoint::new(2, 7), s(1)),
                (Endpoint::new(2, u16::MAX), s(1)),
            ]
        );
        assert_eq!(router.route_type(4).err(), Some(RouteError::UnknownType(4)));
    }

    #[test]
    fn unregister_session_releases_all_its_endpoints() {
        let mut router = Router::new();
        router.register(Endpoint::new(1, 1), s(1)).unwrap();
        router.register(Endpoint::new(2, 1), s(1)).unwrap();
        router.register(Endpoint::new(1, 2), s(2)).unwrap();
        let mut released = router.unregister_session(s(1));
        released.sort();
        assert_eq!(released, vec![Endpoint::new(1, 1), Endpoint::new(2, 1)]);
        assert_eq!(router.len(), 1);
        assert!(router.route_type(2).is_err());
        assert!(router.unregister_session(s(1)).is_empty());
        router.register(Endpoint::new(1, 1), s(3)).unwrap();
    }

    #[test]
    fn unregister_releases_one_endpoint_and_keeps_the_others() {
        let mut router = Router::new();
        router.register(Endpoint::new(1, 1), s(1)).unwrap();
        router.register(Endpoint::new(1, 2), s(1)).unwrap();
        assert_eq!(router.unregister(Endpoint::new(1, 1)), Some(s(1)));
        assert_eq!(router.unregister(Endpoint::new(1, 1)), None);
        assert_eq!(router.endpoints_of(s(1)), &[Endpoint::new(1, 2)]);
        assert_eq!(router.unregister(Endpoint::new(1, 2)), Some(s(1)));
        assert!(
            router.by_session.is_empty(),
            "no entry left for a session without endpoints"
        );
        assert!(router.is_empty());
    }
}
