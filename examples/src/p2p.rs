//! A P2P router on castnet-tokio: nodes connect to a router over TCP,
//! register `(type, no)` endpoints, and send each other
//! [`Envelope`]s that the router forwards by destination. This wires
//! `castnet_core::route` ([`EnvelopeCodec`], [`Router`]) into a runtime; the
//! `p2p_router` binary runs it.
//!
//! The protocol, all of it envelopes ([`EnvelopeCodec`] over the default
//! PacketN framing):
//!
//! - Envelopes to or from [`ROUTER`], the endpoint `(0, 0)`, are control
//!   messages ([`Control`]): a node registers the envelope's source endpoint
//!   with [`Control::Register`], and the router answers [`Control::Ack`] or
//!   [`Control::Refused`] with a typed [`Refusal`] (an endpoint already taken).
//! - Any other envelope is forwarded to the node holding its destination
//!   ([`Router::route`], then [`Server::send_to`]), intact. The sender must
//!   hold the source endpoint it names; an unknown destination comes back as
//!   [`Refusal::UnknownDestination`].
//! - Liveness: the router pings every node every `ping_interval` (one
//!   detached broadcast) and each node answers with a pong. The router
//!   closes a node that sends nothing, pongs included, within its
//!   `peer_timeout`, and releases its endpoints when any node's connection
//!   closes ([`Router::unregister_session`]), so another node can take them.

use crate::server::{Serving, Shutdown};
use bytes::{BufMut, Bytes, BytesMut};
use castnet_core::route::{Endpoint, EndpointError, Envelope, EnvelopeCodec, Router};
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_core::SessionId;
use castnet_tokio::{dial, Config, Conn, Handler, SendError, Server, Session};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The router's own endpoint: control messages go to it and come from it.
/// Type 0 is the router's; nodes cannot register `(0, 0)`.
pub const ROUTER: Endpoint = Endpoint::new(0, 0);

/// A control message: the payload of an envelope to or from [`ROUTER`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Node to router: give me the envelope's source endpoint.
    Register,
    /// Router to node: the endpoint (the envelope's destination) is yours.
    Ack,
    /// Router to node: a request or an envelope was refused.
    Refused(Refusal),
    /// Router to node: are you there? (a sequence number)
    Ping(u32),
    /// Node to router: the answer to the ping with this number.
    Pong(u32),
}

/// Why the router refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Registration: another node (or the router) holds the endpoint.
    #[error("endpoint {0} is already taken")]
    EndpointTaken(Endpoint),
    /// Forwarding: no node holds the destination.
    #[error("no node holds endpoint {0}")]
    UnknownDestination(Endpoint),
    /// Forwarding: the sender has not registered the source it names.
    #[error("this connection has not registered endpoint {0}")]
    NotRegistered(Endpoint),
    /// Forwarding: the destination's queue is full, or it is closing.
    #[error("endpoint {0} cannot take the envelope now")]
    Unreachable(Endpoint),
    /// A control message the router does not understand.
    #[error("malformed control message")]
    BadControl,
}

const REGISTER: u8 = 1;
const ACK: u8 = 2;
const REFUSED: u8 = 3;
const PING: u8 = 4;
const PONG: u8 = 5;

impl Refusal {
    fn code_and_endpoint(self) -> (u8, Endpoint) {
        match self {
            Refusal::EndpointTaken(e) => (1, e),
            Refusal::UnknownDestination(e) => (2, e),
            Refusal::NotRegistered(e) => (3, e),
            Refusal::Unreachable(e) => (4, e),
            Refusal::BadControl => (5, ROUTER),
        }
    }

    fn from_code(code: u8, endpoint: Endpoint) -> Option<Refusal> {
        Some(match code {
            1 => Refusal::EndpointTaken(endpoint),
            2 => Refusal::UnknownDestination(endpoint),
            3 => Refusal::NotRegistered(endpoint),
            4 => Refusal::Unreachable(endpoint),
            5 => Refusal::BadControl,
            _ => return None,
        })
    }
}

impl Control {
    /// The payload: a kind byte, then a refusal's code and endpoint (type,
    /// then big-endian number) or a ping's big-endian sequence number.
    pub fn to_payload(self) -> Bytes {
        let mut out = BytesMut::with_capacity(5);
        match self {
            Control::Register => out.put_u8(REGISTER),
            Control::Ack => out.put_u8(ACK),
            Control::Refused(refusal) => {
                let (code, endpoint) = refusal.code_and_endpoint();
                out.put_u8(REFUSED);
                out.put_u8(code);
                out.put_u8(endpoint.ty);
                out.put_u16(endpoint.no);
            }
            Control::Ping(seq) => {
                out.put_u8(PING);
                out.put_u32(seq);
            }
            Control::Pong(seq) => {
                out.put_u8(PONG);
                out.put_u32(seq);
            }
        }
        out.freeze()
    }

    /// Reads a control payload; `None` if it is not one.
    pub fn parse(payload: &[u8]) -> Option<Control> {
        let seq = |rest: &[u8]| Some(u32::from_be_bytes(rest.try_into().ok()?));
        match payload.split_first()? {
            (&REGISTER, []) => Some(Control::Register),
            (&ACK, []) => Some(Control::Ack),
            (&REFUSED, &[code, ty, hi, lo]) => {
                Refusal::from_code(code, Endpoint::new(ty, u16::from_be_bytes([hi, lo])))
                    .map(Control::Refused)
            }
            (&PING, rest) => seq(rest).map(Control::Ping),
            (&PONG, rest) => seq(rest).map(Control::Pong),
            _ => None,
        }
    }

    /// This control message in an envelope from `src` to `dst`.
    pub fn envelope(self, src: Endpoint, dst: Endpoint) -> Envelope {
        Envelope::new(src, dst, self.to_payload())
    }
}

/// How often the router pings, and how long it waits for a node to say
/// anything before it closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// Every node is pinged this often.
    pub ping_interval: Duration,
    /// A node that sends nothing (pongs included) for this long is closed.
    pub peer_timeout: Duration,
}

impl Default for Liveness {
    /// A ping every 500 ms; closed after 1.5 s of silence (three pings).
    fn default() -> Self {
        Liveness {
            ping_interval: Duration::from_millis(500),
            peer_timeout: Duration::from_millis(1500),
        }
    }
}

impl Liveness {
    fn session_config(&self) -> io::Result<SessionConfig> {
        SessionConfig::builder()
            .peer_timeout(Some(self.peer_timeout))
            .build()
            .map_err(io::Error::other)
    }
}

type Routes = Arc<Mutex<Router>>;

fn lock(routes: &Routes) -> MutexGuard<'_, Router> {
    routes
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The router's handler: control messages, forwarding, and releasing a
/// closed node's endpoints.
struct Routing {
    server: Server<EnvelopeCodec>,
    routes: Routes,
}

impl Routing {
    fn control(&self, cx: &mut Conn<'_, EnvelopeCodec>, env: &Envelope) {
        let node = env.src();
        let answer = match Control::parse(&env.payload) {
            Some(Control::Register) => match lock(&self.routes).register(node, cx.id()) {
                Ok(()) => {
                    tracing::info!(session = %cx.id(), endpoint = %node, "router: registered");
                    Control::Ack
                }
                Err(EndpointError::DuplicateEndpoint { holder, .. }) => {
                    tracing::info!(session = %cx.id(), endpoint = %node, %holder, "router: refused, endpoint taken");
                    Control::Refused(Refusal::EndpointTaken(node))
                }
                Err(_) => Control::Refused(Refusal::EndpointTaken(node)),
            },
            Some(Control::Ping(seq)) => Control::Pong(seq),
            // A pong's arrival is what keeps the node open.
            Some(Control::Pong(_)) => return,
            _ => Control::Refused(Refusal::BadControl),
        };
        let _ = cx.send(answer.envelope(ROUTER, node));
    }

    fn forward(&self, cx: &mut Conn<'_, EnvelopeCodec>, env: Envelope) {
        let (src, dst) = (env.src(), env.dst());
        let to = {
            let routes = lock(&self.routes);
            if !routes.endpoints_of(cx.id()).contains(&src) {
                Err(Refusal::NotRegistered(src))
            } else {
                routes
                    .route(&env)
                    .map_err(|_| Refusal::UnknownDestination(dst))
            }
        };
        let refusal = match to {
            // To an endpoint of its own: straight back on this connection.
            Ok(id) if id == cx.id() => cx.send(env).err().map(|_| Refusal::Unreachable(dst)),
            Ok(id) => self
                .server
                .send_to(id, env)
                .err()
                .map(|_| Refusal::Unreachable(dst)),
            Err(refusal) => Some(refusal),
        };
        if let Some(refusal) = refusal {
            tracing::debug!(session = %cx.id(), %src, %dst, %refusal, "router: refused an envelope");
            let _ = cx.send(Control::Refused(refusal).envelope(ROUTER, src));
        }
    }
}

impl Handler<EnvelopeCodec> for Routing {
    fn on_frame(&self, cx: &mut Conn<'_, EnvelopeCodec>, env: Envelope) {
        if env.dst() == ROUTER {
            self.control(cx, &env);
        } else {
            self.forward(cx, env);
        }
    }

    fn on_close(&self, session: &Session<EnvelopeCodec>, _: (), reason: &CloseReason) {
        let released = lock(&self.routes).unregister_session(session.id());
        if !released.is_empty() {
            let released: Vec<String> = released.iter().map(Endpoint::to_string).collect();
            tracing::info!(session = %session.id(), %reason, "router: node closed, released {}", released.join(" "));
        }
    }
}

/// A running router: a castnet-tokio [`Server`] speaking [`EnvelopeCodec`],
/// its routing table, and the task that pings every node.
pub struct RouterNode {
    serving: Serving<EnvelopeCodec>,
    routes: Routes,
    pinging: JoinHandle<()>,
}

impl RouterNode {
    /// Binds `addr` and starts routing (inside a Tokio runtime).
    pub async fn start(addr: &str, liveness: Liveness) -> io::Result<RouterNode> {
        let config = Config::new(EnvelopeCodec::default()).session(liveness.session_config()?);
        let server: Server<EnvelopeCodec> = Server::bind(addr, config).await?;
        let mut table = Router::new();
        // The router holds its own endpoint, so no node can take it.
        table
            .register(ROUTER, SessionId::allocate())
            .map_err(io::Error::other)?;
        let routes = Arc::new(Mutex::new(table));
        let handler = Routing {
            server: server.clone(),
            routes: routes.clone(),
        };
        let pinging = tokio::spawn(ping_every_node(server.clone(), liveness.ping_interval));
        Ok(RouterNode {
            serving: Serving::start(server, handler),
            routes,
            pinging,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.serving.local_addr()
    }

    /// The session holding `endpoint`, if a node has registered it.
    pub fn holder(&self, endpoint: Endpoint) -> Option<SessionId> {
        lock(&self.routes).route_one(endpoint).ok()
    }

    /// Stops gracefully: pings end, every node's connection drains and
    /// closes.
    pub async fn stop(self) -> io::Result<()> {
        self.pinging.abort();
        self.serving.stop().await
    }
}

/// One ping to every node per interval: a detached broadcast is a single
/// push whatever the number of nodes.
async fn ping_every_node(server: Server<EnvelopeCodec>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for seq in 0u32.. {
        ticks.tick().await;
        let ping = Control::Ping(seq).envelope(ROUTER, ROUTER);
        match server.broadcast_detached(ping) {
            Ok(nodes) => tracing::trace!(seq, nodes, "router: ping"),
            Err(e) => tracing::warn!(error = %e, "router: ping not encoded"),
        }
    }
}

/// What a [`Service`] receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// An envelope another node sent to this one.
    Message(Envelope),
    /// The router refused something this node sent.
    Refused(Refusal),
}

/// Why a node could not join the router.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Connecting or sending failed.
    #[error("connecting to the router: {0}")]
    Io(#[from] io::Error),
    /// The router refused the registration.
    #[error("registration refused: {0}")]
    Refused(Refusal),
    /// The connection closed before the router answered.
    #[error("the router closed the connection before answering")]
    Closed,
}

/// A node connected to a router, holding one endpoint: it sends envelopes
/// from that endpoint, receives what others send to it, and answers the
/// router's pings on a task of its own.
pub struct Service {
    endpoint: Endpoint,
    session: Session<EnvelopeCodec>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    answering: Arc<AtomicBool>,
}

impl Service {
    /// Connects to the router at `router`, registers `endpoint` and waits
    /// for the answer. `liveness` is the router's: the node closes its end
    /// when the router sends nothing, pings included, for its peer timeout.
    pub async fn join(
        router: SocketAddr,
        endpoint: Endpoint,
        liveness: Liveness,
    ) -> Result<Service, JoinError> {
        let config = Config::new(EnvelopeCodec::default()).session(liveness.session_config()?);
        let session = dial(router, config).await?;
        session
            .send(Control::Register.envelope(endpoint, ROUTER))
            .await
            .map_err(|_| JoinError::Closed)?;
        loop {
            let env = session.recv().await.ok_or(JoinError::Closed)?;
            match control_from_router(&env) {
                Some(Control::Ack) => break,
                Some(Control::Refused(refusal)) => {
                    session.close();
                    return Err(JoinError::Refused(refusal));
                }
                Some(Control::Ping(seq)) => {
                    let _ = session.try_send(Control::Pong(seq).envelope(endpoint, ROUTER));
                }
                _ => {}
            }
        }
        let (to_user, incoming) = mpsc::unbounded_channel();
        let answering = Arc::new(AtomicBool::new(true));
        tokio::spawn(receive(
            session.clone(),
            endpoint,
            to_user,
            answering.clone(),
        ));
        Ok(Service {
            endpoint,
            session,
            incoming,
            answering,
        })
    }

    /// The endpoint this node holds.
    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// Sends `payload` to `dst` through the router (waits while the send
    /// queue is full).
    pub async fn send(
        &self,
        dst: Endpoint,
        payload: impl Into<Bytes>,
    ) -> Result<(), SendError<Envelope>> {
        let env = Envelope::new(self.endpoint, dst, payload.into());
        self.session.send(env).await
    }

    /// The next envelope or refusal; `None` once the connection closed.
    pub async fn recv(&mut self) -> Option<Incoming> {
        self.incoming.recv().await
    }

    /// Stops answering pings, as a node that hangs would: the router closes
    /// the connection after its peer timeout.
    pub fn stop_answering_pings(&self) {
        self.answering.store(false, Ordering::Relaxed);
    }

    /// Closes the connection gracefully.
    pub fn close(&self) {
        self.session.close();
    }
}

fn control_from_router(env: &Envelope) -> Option<Control> {
    (env.src() == ROUTER)
        .then(|| Control::parse(&env.payload))
        .flatten()
}

/// A node's receiving task: answers pings while `answering`, hands every
/// other envelope (and refusals) to the node's user.
async fn receive(
    session: Session<EnvelopeCodec>,
    endpoint: Endpoint,
    to_user: mpsc::UnboundedSender<Incoming>,
    answering: Arc<AtomicBool>,
) {
    while let Some(env) = session.recv().await {
        let incoming = match control_from_router(&env) {
            Some(Control::Ping(seq)) => {
                if answering.load(Ordering::Relaxed) {
                    let _ = session.try_send(Control::Pong(seq).envelope(endpoint, ROUTER));
                }
                continue;
            }
            Some(Control::Refused(refusal)) => Incoming::Refused(refusal),
            _ => Incoming::Message(env),
        };
        if to_user.send(incoming).is_err() {
            break; // the Service was dropped
        }
    }
    tracing::debug!(%endpoint, "node: connection to the router closed");
}

/// Runs a router on `addr` until SIGINT or SIGTERM: prints `listening on
/// ADDR` once it accepts nodes, then stops gracefully.
pub async fn run_router(addr: &str, liveness: Liveness) -> io::Result<()> {
    let shutdown = Shutdown::install()?;
    let router = RouterNode::start(addr, liveness).await?;
    crate::server::announce_listening(router.local_addr()?)?;
    let signal = shutdown.wait().await;
    tracing::info!(?signal, "router: stopping");
    router.stop().await
}

/// Runs an echo node: joins the router at `router` as `endpoint`, prints
/// `registered ENDPOINT`, and sends every envelope it receives back to its
/// sender, until SIGINT or SIGTERM (or until the router closes the link, an
/// error).
pub async fn run_echo_node(
    router: SocketAddr,
    endpoint: Endpoint,
    liveness: Liveness,
) -> io::Result<()> {
    let shutdown = Shutdown::install()?;
    let mut node = Service::join(router, endpoint, liveness)
        .await
        .map_err(io::Error::other)?;
    crate::server::announce(&format!("registered {endpoint}"))?;
    let echo = async {
        while let Some(incoming) = node.recv().await {
            match incoming {
                Incoming::Message(env) => {
                    let reply = env.reply(env.payload.clone());
                    if node.session.send(reply).await.is_err() {
                        break;
                    }
                }
                Incoming::Refused(refusal) => tracing::warn!(%refusal, "node: refused"),
            }
        }
    };
    tokio::select! {
        () = echo => Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the router closed the link")),
        signal = shutdown.wait() => {
            tracing::info!(?signal, %endpoint, "node: leaving");
            node.close();
            Ok(())
        }
    }
}
