//! [`Config`]: everything a server or client is configured with.

use crate::heartbeat::PeerHeartbeat;
use crate::socket::SocketOptions;
use castnet_core::frame::PacketN;
use castnet_core::limits::ConnectionLimits;
use castnet_core::session::SessionConfig;
use std::time::Duration;

/// Configuration of a server or a client: the codec, the per-session rules,
/// socket options and (servers) connection limits.
///
/// ```
/// use std::time::Duration;
/// use castnet_core::frame::{HeaderLen, PacketN};
/// use castnet_core::session::SessionConfig;
/// use castnet_engine::Config;
///
/// let config = Config::new(PacketN::builder().header_len(HeaderLen::Two).build().unwrap())
///     .session(SessionConfig::builder().peer_timeout(Some(Duration::from_secs(30))).build().unwrap());
/// # let _ = config;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config<C = PacketN> {
    /// The codec; each connection gets a clone, and senders clone it to
    /// encode in their own task.
    pub codec: C,
    /// Per-session rules: queue bounds, send timeout, heartbeat-related
    /// timeouts, linger, rate limit.
    pub session: SessionConfig,
    /// Socket options.
    pub socket: SocketOptions,
    /// Connection limits (servers only).
    pub limits: ConnectionLimits,
    /// Frames waiting for [`Session::recv`](crate::Session::recv) at which
    /// the connection stops reading (default 1024). Frames already read are
    /// never dropped, so up to one read's worth more may wait.
    pub recv_buffer: usize,
    /// Bounds of each broadcast ring of a server (its own, and one per
    /// channel), the logs that detached broadcasts
    /// ([`Server::broadcast_detached`](crate::Server::broadcast_detached),
    /// [`Channel::broadcast_detached`](crate::Channel::broadcast_detached)
    /// and their `_from` forms) go through: this many frames (default 4096)
    /// and this many bytes beyond the newest frame (default 32 MiB).
    ///
    /// The bound is soft for frames that a session keeping up has not taken
    /// yet: they are kept, and a handler publishing with a `_from` form is
    /// paused until the readers have run. A session that stays full for
    /// [`slow_reader_grace`](Self::slow_reader_grace) is no longer waited
    /// for: it misses the oldest frames (counted in
    /// [`Stats::broadcast_missed`](crate::Stats::broadcast_missed), and
    /// logged once per session at WARN) until it catches up. Publishers that
    /// cannot be paused (the plain forms) are held by a hard bound of twice
    /// these: beyond it the oldest frames are dropped whoever has not taken
    /// them, so a ring never holds more than twice its bounds.
    pub broadcast_ring: (usize, usize),
    /// How long a session whose send queue is full may hold a broadcast
    /// ring's frames (default 1 s): after that it is a slow reader, which
    /// misses frames rather than pausing the handlers that publish, until
    /// it catches up again. See [`broadcast_ring`](Self::broadcast_ring).
    pub slow_reader_grace: Duration,
    /// The most timers a session's handler may have live at once
    /// ([`Conn::run_after`](crate::Conn::run_after),
    /// [`Conn::run_every`](crate::Conn::run_every); default 1024). One more
    /// is refused with
    /// [`TimerError::Full`](castnet_core::timer::TimerError::Full).
    pub max_timers: usize,
    /// Which received frames are the peer's heartbeats: those are not
    /// delivered (to the handler or to `recv`), though they keep the
    /// session alive. `None` (the default): every frame is delivered. See
    /// [`PeerHeartbeat`].
    pub peer_heartbeat: Option<PeerHeartbeat<C>>,
}

impl Default for Config<PacketN> {
    fn default() -> Self {
        Config::new(PacketN::default())
    }
}

impl<C> Config<C> {
    /// Defaults with this codec.
    pub fn new(codec: C) -> Self {
        Config {
            codec,
            session: SessionConfig::default(),
            socket: SocketOptions::default(),
            limits: ConnectionLimits::default(),
            recv_buffer: 1024,
            broadcast_ring: (4096, 32 << 20),
            slow_reader_grace: Duration::from_secs(1),
            max_timers: 1024,
            peer_heartbeat: None,
        }
    }

    /// Sets the per-session rules.
    pub fn session(mut self, session: SessionConfig) -> Self {
        self.session = session;
        self
    }

    /// Sets the socket options.
    pub fn socket(mut self, socket: SocketOptions) -> Self {
        self.socket = socket;
        self
    }

    /// Sets the connection limits.
    pub fn limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the broadcast ring's bounds: `frames` (at least one) and `bytes`.
    pub fn broadcast_ring(mut self, frames: usize, bytes: usize) -> Self {
        self.broadcast_ring = (frames.max(1), bytes);
        self
    }

    /// Sets how long a full session may hold the broadcast rings before it
    /// is no longer waited for.
    pub fn slow_reader_grace(mut self, grace: Duration) -> Self {
        self.slow_reader_grace = grace;
        self
    }

    /// Sets how many timers a session's handler may have live at once.
    pub fn max_timers(mut self, timers: usize) -> Self {
        self.max_timers = timers;
        self
    }

    /// Sets which received frames are the peer's heartbeats, kept from the
    /// handler and from `recv` (see [`PeerHeartbeat`]).
    ///
    /// ```
    /// use castnet_engine::{Config, PeerHeartbeat};
    ///
    /// let config = Config::default().peer_heartbeat(PeerHeartbeat::payload("hb"));
    /// # let _ = config;
    /// ```
    pub fn peer_heartbeat(mut self, heartbeat: PeerHeartbeat<C>) -> Self {
        self.peer_heartbeat = Some(heartbeat);
        self
    }

    /// Sets how many received frames wait for `recv` before reading pauses.
    pub fn recv_buffer(mut self, frames: usize) -> Self {
        self.recv_buffer = frames.max(1);
        self
    }
}
