//! A naive reference model of the hub, and a harness that applies one
//! operation to both the real [`Hub`] (with a [`BroadcastTracker`]) and the
//! model, then checks that every answer and the whole visible state agree.
//!
//! Shared by the proptest in `tests/hub_model.rs` and the cargo-fuzz target
//! `fuzz/fuzz_targets/hub_ops.rs` (which includes this file by path), so the
//! two exercise one model.

use castnet_core::hub::{
    BroadcastCounts, BroadcastId, BroadcastReport, BroadcastTracker, DeliveryStatus,
    DeliveryTicket, Hub, PeerAddr, Recipients, RegisterError, ServerState, StateError,
};
use castnet_core::limits::{AdmitError, ConnectionLimits};
use castnet_core::route::{Endpoint, EndpointError, RouteError};
use castnet_core::{SendFailure, SendOutcome, SessionId};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Channel keys range over `0..CHANNELS`.
pub const CHANNELS: u8 = 4;
/// Peer hosts range over `0..HOSTS`; host `HOSTS` is a Unix-socket peer.
pub const HOSTS: u8 = 3;
/// The total connection cap of the hub under test.
pub const MAX_CONNECTIONS: usize = 8;
/// The per-IP cap of the hub under test.
pub const MAX_PER_IP: usize = 3;

/// One operation. Indices (`who`, `which`, `slot`) are taken modulo what
/// exists, and `who` indexes every session ever registered, so removed ids
/// are exercised too.
#[derive(Debug, Clone)]
pub enum Op {
    /// Move the lifecycle (to state `to % 4`).
    SetState { to: u8 },
    /// Register a session from host `host % (HOSTS + 1)`.
    Register { host: u8 },
    /// Remove a session.
    Remove { who: u8 },
    /// Join a channel.
    Join { ch: u8, who: u8 },
    /// Exit a channel.
    Exit { ch: u8, who: u8 },
    /// Kick from a channel.
    Kick { ch: u8, who: u8 },
    /// Broadcast to everyone.
    BroadcastEveryone,
    /// Broadcast to a channel.
    BroadcastChannel { ch: u8 },
    /// Broadcast to an explicit list.
    BroadcastList { who: Vec<u8> },
    /// Report an outcome (`outcome % 4`: sent, closed, timed out, queue full)
    /// for slot `slot % (len + 1)` (one past the end is a wrong slot) of a
    /// broadcast made earlier.
    Outcome { which: u8, slot: u16, outcome: u8 },
    /// Drop interest in a broadcast.
    Forget { which: u8 },
    /// Give a session an endpoint.
    RegisterEndpoint { ty: u8, no: u8, who: u8 },
    /// Release an endpoint.
    UnregisterEndpoint { ty: u8, no: u8 },
    /// Route to one endpoint and to a type.
    Route { ty: u8, no: u8 },
}

const STATES: [ServerState; 4] = [
    ServerState::Closed,
    ServerState::Starting,
    ServerState::Running,
    ServerState::Stopping,
];

const OUTCOMES: [SendOutcome; 4] = [
    SendOutcome::Sent,
    SendOutcome::Failed(SendFailure::Closed),
    SendOutcome::Failed(SendFailure::TimedOut),
    SendOutcome::Failed(SendFailure::QueueFull),
];

/// Endpoint types and numbers are kept small so that collisions happen.
fn endpoint(ty: u8, no: u8) -> Endpoint {
    Endpoint::new(ty % 3, u16::from(no % 4))
}

fn peer(host: u8) -> PeerAddr {
    let host = host % (HOSTS + 1);
    if host == HOSTS {
        PeerAddr::Unix(None)
    } else {
        PeerAddr::Ip(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)),
            9000,
        ))
    }
}

/// The naive model: plain ordered collections, every rule written out.
#[derive(Debug, Default)]
struct Model {
    state: ServerState,
    /// Session → its host index.
    sessions: BTreeMap<SessionId, u8>,
    channels: BTreeMap<u8, BTreeSet<SessionId>>,
    endpoints: BTreeMap<Endpoint, SessionId>,
    /// Live broadcasts: recipients in the hub's slot order, with statuses.
    broadcasts: BTreeMap<BroadcastId, Vec<(SessionId, DeliveryStatus)>>,
}

impl Model {
    fn can_become(from: ServerState, to: ServerState) -> bool {
        use ServerState::*;
        [
            (Closed, Starting),
            (Starting, Running),
            (Starting, Stopping),
            (Running, Stopping),
            (Stopping, Closed),
        ]
        .contains(&(from, to))
    }

    fn open_from(&self, host: u8) -> usize {
        self.sessions.values().filter(|&&h| h == host).count()
    }

    fn remove(&mut self, id: SessionId) -> bool {
        if self.sessions.remove(&id).is_none() {
            return false;
        }
        for members in self.channels.values_mut() {
            members.remove(&id);
        }
        self.channels.retain(|_, members| !members.is_empty());
        self.endpoints.retain(|_, holder| *holder != id);
        true
    }

    fn leave(&mut self, ch: u8, id: SessionId) -> bool {
        let Some(members) = self.channels.get_mut(&ch) else {
            return false;
        };
        let was = members.remove(&id);
        if members.is_empty() {
            self.channels.remove(&ch);
        }
        was
    }
}

fn counts_of(statuses: &[(SessionId, DeliveryStatus)]) -> BroadcastCounts {
    let mut counts = BroadcastCounts::default();
    for (_, status) in statuses {
        match status {
            DeliveryStatus::Pending => counts.pending += 1,
            DeliveryStatus::Sent => counts.sent += 1,
            DeliveryStatus::Failed(SendFailure::Closed) => counts.closed += 1,
            DeliveryStatus::Failed(SendFailure::TimedOut) => counts.timed_out += 1,
            DeliveryStatus::Failed(SendFailure::QueueFull) => counts.queue_full += 1,
            other => panic!("unexpected status {other:?}"),
        }
    }
    counts
}

/// The real hub and tracker beside the model.
pub struct Harness {
    hub: Hub<u8, u8>,
    tracker: BroadcastTracker,
    model: Model,
    /// Every session id ever registered, in order.
    ids: Vec<SessionId>,
    /// Every broadcast ever made, with the number of slots it has.
    broadcasts: Vec<(BroadcastId, usize)>,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    /// A closed hub with small limits, and an empty model.
    pub fn new() -> Self {
        let limits = ConnectionLimits::new(MAX_CONNECTIONS, MAX_PER_IP).expect("valid limits");
        Harness {
            hub: Hub::new(limits),
            tracker: BroadcastTracker::new(),
            model: Model::default(),
            ids: Vec::new(),
            broadcasts: Vec::new(),
        }
    }

    fn who(&self, who: u8) -> Option<SessionId> {
        if self.ids.is_empty() {
            return None;
        }
        Some(self.ids[usize::from(who) % self.ids.len()])
    }

    /// Applies `op` to hub and model, checks their answers agree, then checks
    /// the whole state. Panics on any disagreement.
    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::SetState { to } => self.set_state(STATES[usize::from(to % 4)]),
            Op::Register { host } => self.register(host),
            Op::Remove { who } => {
                if let Some(id) = self.who(who) {
                    let real = self.hub.remove(id).is_some();
                    assert_eq!(real, self.model.remove(id), "remove {id}");
                }
            }
            Op::Join { ch, who } => self.join(ch % CHANNELS, who),
            Op::Exit { ch, who } => {
                if let Some(id) = self.who(who) {
                    let ch = ch % CHANNELS;
                    assert_eq!(
                        self.hub.exit(&ch, id),
                        self.model.leave(ch, id),
                        "exit {ch} {id}"
                    );
                }
            }
            Op::Kick { ch, who } => {
                if let Some(id) = self.who(who) {
                    let ch = ch % CHANNELS;
                    let kicked = self.hub.kick(&ch, id);
                    let expected = self.model.leave(ch, id);
                    assert_eq!(kicked.is_some(), expected, "kick {ch} {id}");
                    if let Some(kicked) = kicked {
                        assert_eq!((kicked.channel, kicked.session), (ch, id));
                    }
                }
            }
            Op::BroadcastEveryone => {
                let expected: Vec<_> = self
                    .model
                    .sessions
                    .keys()
                    .map(|&id| (id, DeliveryStatus::Pending))
                    .collect();
                self.broadcast(Recipients::Everyone, expected, false);
            }
            Op::BroadcastChannel { ch } => {
                let ch = ch % CHANNELS;
                let expected = self
                    .model
                    .channels
                    .get(&ch)
                    .map(|m| m.iter().map(|&id| (id, DeliveryStatus::Pending)).collect())
                    .unwrap_or_default();
                self.broadcast(Recipients::Channel(&ch), expected, false);
            }
            Op::BroadcastList { ref who } => {
                let list: Vec<SessionId> = who.iter().filter_map(|&w| self.who(w)).collect();
                let mut seen = BTreeSet::new();
                let expected: Vec<_> = list
                    .iter()
                    .filter(|id| seen.insert(**id))
                    .map(|&id| {
                        let status = if self.model.sessions.contains_key(&id) {
                            DeliveryStatus::Pending
                        } else {
                            DeliveryStatus::Failed(SendFailure::Closed)
                        };
                        (id, status)
                    })
                    .collect();
                self.broadcast(Recipients::Sessions(&list), expected, true);
            }
            Op::Outcome {
                which,
                slot,
                outcome,
            } => self.outcome(which, slot, OUTCOMES[usize::from(outcome % 4)]),
            Op::Forget { which } => {
                if !self.broadcasts.is_empty() {
                    let (id, _) = self.broadcasts[usize::from(which) % self.broadcasts.len()];
                    let real = self.tracker.forget(id);
                    let expected = self.model.broadcasts.remove(&id);
                    assert_eq!(real.is_some(), expected.is_some(), "forget {id}");
                    if let (Some(real), Some(expected)) = (real, expected) {
                        check_report(&real, &expected);
                    }
                }
            }
            Op::RegisterEndpoint { ty, no, who } => self.register_endpoint(endpoint(ty, no), who),
            Op::UnregisterEndpoint { ty, no } => {
                let ep = endpoint(ty, no);
                assert_eq!(
                    self.hub.unregister_endpoint(ep),
                    self.model.endpoints.remove(&ep)
                );
            }
            Op::Route { ty, no } => {
                let ep = endpoint(ty, no);
                let expected = self
                    .model
                    .endpoints
                    .get(&ep)
                    .copied()
                    .ok_or(RouteError::UnknownEndpoint(ep));
                assert_eq!(self.hub.router().route_one(ep), expected);
                let of_type: Vec<_> = self
                    .model
                    .endpoints
                    .iter()
                    .filter(|(e, _)| e.ty == ep.ty)
                    .map(|(&e, &s)| (e, s))
                    .collect();
                match self.hub.router().route_type(ep.ty) {
                    Ok(route) => assert_eq!(route.collect::<Vec<_>>(), of_type),
                    Err(err) => {
                        assert_eq!(err, RouteError::UnknownType(ep.ty));
                        assert!(of_type.is_empty());
                    }
                }
            }
        }
        self.check();
    }

    fn set_state(&mut self, to: ServerState) {
        let from = self.model.state;
        let real = self.hub.set_state(to);
        let expected = if !Model::can_become(from, to) {
            Err(StateError::InvalidTransition { from, to })
        } else if to == ServerState::Closed && !self.model.sessions.is_empty() {
            Err(StateError::SessionsRemain {
                count: self.model.sessions.len(),
            })
        } else {
            self.model.state = to;
            Ok(from)
        };
        assert_eq!(real, expected, "set_state {from} → {to}");
    }

    fn register(&mut self, host: u8) {
        let host = host % (HOSTS + 1);
        let real = self.hub.register(peer(host), host);
        let expected = if self.model.state != ServerState::Running {
            Err(RegisterError::NotRunning {
                state: self.model.state,
            })
        } else if self.model.sessions.len() >= MAX_CONNECTIONS {
            Err(RegisterError::Refused(AdmitError::TooManyConnections {
                max: MAX_CONNECTIONS,
            }))
        } else if host != HOSTS && self.model.open_from(host) >= MAX_PER_IP {
            Err(RegisterError::Refused(AdmitError::TooManyFromIp {
                ip: IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)),
                max: MAX_PER_IP,
            }))
        } else {
            Ok(())
        };
        match (real, expected) {
            (Ok(id), Ok(())) => {
                assert!(
                    self.ids.last().is_none_or(|&last| id > last),
                    "ids increase"
                );
                self.ids.push(id);
                self.model.sessions.insert(id, host);
            }
            (real, expected) => assert_eq!(real.map(|_| ()), expected, "register from host {host}"),
        }
    }

    fn join(&mut self, ch: u8, who: u8) {
        let Some(id) = self.who(who) else { return };
        let real = self.hub.join(ch, id);
        if self.model.sessions.contains_key(&id) {
            let new = self.model.channels.entry(ch).or_default().insert(id);
            assert_eq!(real, Ok(new), "join {ch} {id}");
        } else {
            assert!(real.is_err(), "join of unregistered {id}");
        }
    }

    fn broadcast(
        &mut self,
        to: Recipients<'_, u8>,
        expected: Vec<(SessionId, DeliveryStatus)>,
        ordered: bool,
    ) {
        let record = self.hub.broadcast(to);
        let actual: Vec<_> = record.report().statuses().collect();
        if ordered {
            assert_eq!(actual, expected, "an explicit list keeps its order");
        } else {
            let as_set = |v: &[(SessionId, DeliveryStatus)]| {
                v.iter().map(|&(id, _)| id).collect::<BTreeSet<_>>()
            };
            assert_eq!(actual.len(), expected.len(), "one slot per recipient");
            assert_eq!(as_set(&actual), as_set(&expected));
            assert!(actual.iter().all(|&(_, s)| s == DeliveryStatus::Pending));
        }
        let frame = bytes::Bytes::from_static(b"\x00\x01x");
        let deliveries: Vec<_> = record.deliveries(&frame).map(|d| d.session).collect();
        let pending: Vec<_> = actual
            .iter()
            .filter(|(_, s)| *s == DeliveryStatus::Pending)
            .map(|&(id, _)| id)
            .collect();
        assert_eq!(deliveries, pending, "a delivery per pending recipient");
        let id = record.id();
        self.broadcasts.push((id, actual.len()));
        match self.tracker.track(record) {
            Some(done) => {
                assert!(
                    pending.is_empty(),
                    "only a complete record comes back at once"
                );
                check_report(&done, &actual);
            }
            None => {
                self.model.broadcasts.insert(id, actual);
            }
        }
    }

    fn outcome(&mut self, which: u8, slot: u16, outcome: SendOutcome) {
        if self.broadcasts.is_empty() {
            return;
        }
        let (id, len) = self.broadcasts[usize::from(which) % self.broadcasts.len()];
        let slot = usize::from(slot) % (len + 1);
        let ticket = DeliveryTicket {
            broadcast: id,
            slot,
        };
        let real = self.tracker.record(ticket, outcome);
        let Some(model) = self.model.broadcasts.get_mut(&id) else {
            assert!(
                real.is_err(),
                "an outcome for a broadcast no longer tracked"
            );
            return;
        };
        match model.get_mut(slot) {
            None => assert!(real.is_err(), "slot out of range"),
            Some((_, status)) if *status != DeliveryStatus::Pending => {
                assert!(real.is_err(), "a second outcome for a slot")
            }
            Some((_, status)) => {
                *status = DeliveryStatus::from(outcome);
                let done = counts_of(model).pending == 0;
                let real = real.expect("a first outcome is recorded");
                assert_eq!(
                    real.is_some(),
                    done,
                    "the last outcome completes the broadcast"
                );
                if let Some(report) = real {
                    let model = self.model.broadcasts.remove(&id).expect("live");
                    check_report(&report, &model);
                }
            }
        }
    }

    fn register_endpoint(&mut self, ep: Endpoint, who: u8) {
        let Some(id) = self.who(who) else { return };
        let real = self.hub.register_endpoint(ep, id);
        let expected = if !self.model.sessions.contains_key(&id) {
            Err(EndpointError::UnknownSession(id))
        } else if let Some(&holder) = self.model.endpoints.get(&ep) {
            Err(EndpointError::DuplicateEndpoint {
                endpoint: ep,
                holder,
            })
        } else {
            self.model.endpoints.insert(ep, id);
            Ok(())
        };
        assert_eq!(real, expected, "register endpoint {ep} for {id}");
    }

    /// Compares every observable part of the hub and tracker with the model.
    pub fn check(&self) {
        let (hub, model) = (&self.hub, &self.model);
        assert_eq!(hub.state(), model.state);
        assert_eq!(hub.len(), model.sessions.len());
        assert_eq!(
            hub.ids().collect::<BTreeSet<_>>(),
            model.sessions.keys().copied().collect()
        );
        for (&id, &host) in &model.sessions {
            let info = hub.session(id).expect("registered");
            assert_eq!(*info.meta(), host);
            assert_eq!(info.peer(), &peer(host));
            let mut in_channels: Vec<u8> = hub.channels_of(id).copied().collect();
            in_channels.sort();
            let expected: Vec<u8> = model
                .channels
                .iter()
                .filter(|(_, m)| m.contains(&id))
                .map(|(&ch, _)| ch)
                .collect();
            assert_eq!(in_channels, expected, "channels of {id}");
        }
        for &id in &self.ids {
            assert_eq!(hub.contains(id), model.sessions.contains_key(&id));
        }
        assert_eq!(hub.channels().len(), model.channels.len());
        for ch in 0..CHANNELS {
            match (hub.channel(&ch), model.channels.get(&ch)) {
                (None, None) => {}
                (Some(real), Some(members)) => {
                    assert_eq!(real.len(), members.len());
                    assert_eq!(real.members().collect::<BTreeSet<_>>(), *members);
                }
                (real, expected) => panic!(
                    "channel {ch}: hub has {:?}, model {expected:?}",
                    real.map(|c| c.len())
                ),
            }
        }
        assert_eq!(hub.router().len(), model.endpoints.len());
        for (&ep, &holder) in &model.endpoints {
            assert_eq!(hub.router().route_one(ep), Ok(holder));
        }
        assert_eq!(
            self.tracker.len(),
            model.broadcasts.len(),
            "live broadcasts"
        );
        for (&id, statuses) in &model.broadcasts {
            check_report(self.tracker.report(id).expect("live broadcast"), statuses);
        }
    }
}

fn check_report(report: &BroadcastReport, model: &[(SessionId, DeliveryStatus)]) {
    assert_eq!(report.statuses().collect::<Vec<_>>(), model);
    assert_eq!(report.counts(), counts_of(model));
    assert_eq!(report.is_complete(), counts_of(model).pending == 0);
    let timed_out: Vec<SessionId> = model
        .iter()
        .filter(|(_, s)| *s == DeliveryStatus::Failed(SendFailure::TimedOut))
        .map(|&(id, _)| id)
        .collect();
    assert_eq!(report.timed_out(), timed_out);
    assert_eq!(report.heap_bytes(), model.len() * 9);
}
