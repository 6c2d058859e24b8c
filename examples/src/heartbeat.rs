//! Liveness, for the `heartbeat` binary: a castnet-tokio server on
//! [`Utf8LinesCodec`] lines that knows which of its clients are alive, and
//! clients that know whether the server is.
//!
//! - **Peer heartbeats, both ways.** Server and clients each have a peer
//!   timeout ([`Settings::peer_timeout`]) and send the line [`HEARTBEAT`]
//!   whenever they have written nothing for [`Settings::heartbeat`]
//!   (`set_heartbeat`). Each side names the other's heartbeats with
//!   [`Config::peer_heartbeat`]: they keep the session alive but never
//!   reach the server's handler nor a client's `recv`. A client that sends
//!   nothing at all is closed by the server with
//!   [`CloseReason::PeerTimeout`]; the client learns its connection ended
//!   through [`Session::close_reason`].
//! - **An application idle kick.** Heartbeats prove a peer is there, not
//!   that it does anything: [`Watch`] arms a timer ([`Conn::run_after`])
//!   when a session opens and again at each of its lines, and when it fires
//!   ([`Handler::on_timer`]) answers `bye: idle` and closes the session.
//! - **A server tick.** [`Handler::on_tick`] logs how many sessions are
//!   alive, every [`Settings::tick`].
//!
//! The protocol: a client's first line is its name; every line is answered
//! `ok LINE`.

use crate::server::Serving;
use castnet_core::frame::{LinesCodec, Utf8LinesCodec};
use castnet_core::session::{CloseReason, SessionConfig};
use castnet_tokio::{Config, Conn, Handler, PeerHeartbeat, Server, Session, TimerId};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The heartbeat line, both ways.
pub const HEARTBEAT: &str = "hb";

/// The timings of a server and its clients.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Either side closes a connection that brought nothing for this long.
    pub peer_timeout: Duration,
    /// Either side sends [`HEARTBEAT`] after writing nothing for this long
    /// (a client only when it asks to, see [`connect`]).
    pub heartbeat: Duration,
    /// The server closes a session that sent no line (heartbeats are no
    /// lines) for this long.
    pub idle_kick: Duration,
    /// How often the server's tick logs the sessions alive.
    pub tick: Duration,
}

impl Default for Settings {
    /// Peer timeout 1 s, heartbeats every 200 ms, idle kick after 6 s, a
    /// tick a second.
    fn default() -> Self {
        Settings {
            peer_timeout: Duration::from_secs(1),
            heartbeat: Duration::from_millis(200),
            idle_kick: Duration::from_secs(6),
            tick: Duration::from_secs(1),
        }
    }
}

impl Settings {
    /// A config for either side: lines, the peer timeout, and the peer's
    /// heartbeats kept from the application.
    pub fn config(&self) -> io::Result<Config<Utf8LinesCodec>> {
        let session = SessionConfig::builder()
            .peer_timeout(Some(self.peer_timeout))
            .build()
            .map_err(io::Error::other)?;
        let codec = LinesCodec::builder().max_line_len(1024).build_utf8();
        Ok(Config::new(codec)
            .session(session)
            .peer_heartbeat(PeerHeartbeat::payload(HEARTBEAT)))
    }
}

/// The token of the idle-kick timer.
const IDLE: u64 = 1;

/// A session's own state: its name (its first line) and its idle timer.
#[derive(Debug, Default)]
pub struct Visitor {
    name: Option<String>,
    idle: Option<TimerId>,
}

/// What the server saw, for the tour and the tests.
#[derive(Debug, Default)]
pub struct Seen {
    lines: AtomicU64,
    heartbeat_lines: AtomicU64,
    ticks: AtomicU64,
    closes: Mutex<Vec<(String, CloseReason)>>,
}

impl Seen {
    /// Lines the handler got.
    pub fn lines(&self) -> u64 {
        self.lines.load(Relaxed)
    }

    /// Heartbeats the handler got: zero, since the config names them.
    pub fn heartbeat_lines(&self) -> u64 {
        self.heartbeat_lines.load(Relaxed)
    }

    /// How many times the tick ran.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Relaxed)
    }

    /// Why the session named `name` closed, if it did.
    pub fn close_reason(&self, name: &str) -> Option<CloseReason> {
        let closes = self.closes.lock().unwrap_or_else(PoisonError::into_inner);
        closes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, why)| why.clone())
    }
}

/// The server's handler.
pub struct Watch {
    server: Server<Utf8LinesCodec>,
    settings: Settings,
    seen: Arc<Seen>,
}

type Cx<'a> = Conn<'a, Utf8LinesCodec, Visitor>;

impl Watch {
    /// (Re)arms the session's idle kick.
    fn arm_idle(&self, cx: &mut Cx<'_>) {
        if let Some(old) = cx.state().idle.take() {
            cx.cancel_timer(old);
        }
        cx.state().idle = cx.run_after(self.settings.idle_kick, IDLE).ok();
    }
}

impl Handler<Utf8LinesCodec, Visitor> for Watch {
    fn on_open(&self, cx: &mut Cx<'_>) {
        // The server's side of liveness: its clients hear from it.
        let _ = cx.set_heartbeat(Some((self.settings.heartbeat, HEARTBEAT)));
        self.arm_idle(cx);
    }

    fn on_frame(&self, cx: &mut Cx<'_>, line: String) {
        self.seen.lines.fetch_add(1, Relaxed);
        if line == HEARTBEAT {
            self.seen.heartbeat_lines.fetch_add(1, Relaxed);
        }
        if cx.state().name.is_none() {
            tracing::info!(session = %cx.id(), name = %line, "heartbeat: a client named itself");
            cx.state().name = Some(line.clone());
        }
        self.arm_idle(cx);
        let _ = cx.send(format!("ok {line}"));
    }

    fn on_timer(&self, cx: &mut Cx<'_>, token: u64) {
        if token == IDLE {
            let name = cx.state().name.clone().unwrap_or_default();
            tracing::info!(%name, idle = ?self.settings.idle_kick, "heartbeat: idle kick");
            let _ = cx.send("bye: idle");
            cx.close(); // graceful: the bye is written first
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        Some(self.settings.tick)
    }

    fn on_tick(&self, _now: Instant) -> Option<Duration> {
        let tick = self.seen.ticks.fetch_add(1, Relaxed) + 1;
        let alive = self.server.session_count();
        let heartbeats = self.server.stats().heartbeats_received;
        tracing::info!(tick, alive, heartbeats, "heartbeat: tick, sessions alive");
        Some(self.settings.tick)
    }

    fn on_close(&self, session: &Session<Utf8LinesCodec>, who: Visitor, reason: &CloseReason) {
        let name = who.name.unwrap_or_default();
        tracing::info!(session = %session.id(), %name, %reason, "heartbeat: session closed");
        self.seen
            .closes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((name, reason.clone()));
    }
}

/// A server of [`Watch`] running on a Tokio task.
pub struct Running {
    serving: Serving<Utf8LinesCodec>,
    seen: Arc<Seen>,
}

impl Running {
    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.serving.local_addr()
    }

    /// What its handler saw so far.
    pub fn seen(&self) -> &Seen {
        &self.seen
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.serving.server().session_count()
    }

    /// Why the server closed the session named `name`, once its `on_close`
    /// ran (which may be a moment after the client saw the end); `None` if
    /// that takes over 10 s.
    pub async fn close_reason(&self, name: &str) -> Option<CloseReason> {
        let seen = || self.seen.close_reason(name).is_some();
        crate::tour::wait_until(Duration::from_secs(10), seen).await?;
        self.seen.close_reason(name)
    }

    /// Heartbeats received from clients (kept from the handler).
    pub fn heartbeats_received(&self) -> u64 {
        self.serving.server().stats().heartbeats_received
    }

    /// Stops gracefully and waits for the serving task.
    pub async fn stop(self) -> io::Result<()> {
        self.serving.stop().await
    }

    /// The server and its serving task alone.
    pub fn into_serving(self) -> Serving<Utf8LinesCodec> {
        self.serving
    }
}

/// Starts a [`Watch`] server on `addr`.
pub async fn start(addr: &str, settings: Settings) -> io::Result<Running> {
    let server: Server<Utf8LinesCodec> = Server::bind(addr, settings.config()?).await?;
    let seen = Arc::new(Seen::default());
    let watch = Watch {
        server: server.clone(),
        settings,
        seen: seen.clone(),
    };
    Ok(Running {
        serving: Serving::start(server, watch),
        seen,
    })
}

/// Connects a client named `name` (its first line, sent here) and, if
/// `beating`, sends heartbeats. Its `recv` never yields the server's
/// heartbeats; its first line is the answer to its name.
pub async fn connect(
    addr: SocketAddr,
    settings: &Settings,
    name: &str,
    beating: bool,
) -> io::Result<Session<Utf8LinesCodec>> {
    let session = castnet_tokio::dial(addr, settings.config()?).await?;
    if beating {
        session
            .set_heartbeat(Some((settings.heartbeat, HEARTBEAT)))
            .map_err(io::Error::other)?;
    }
    session
        .send(name.to_owned())
        .await
        .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e.to_string()))?;
    Ok(session)
}
