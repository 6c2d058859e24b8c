//! [`SessionConfig`]: a session's bounds and timeouts, validated once.

use crate::frame::ConfigError;
use crate::limits::RateLimit;
use std::time::Duration;

/// A session's bounds and timeouts. Built by [`SessionConfig::builder`], which
/// validates every option, so a `SessionConfig` is always usable.
///
/// | option | default |
/// |---|---|
/// | `send_timeout` | 5 s (go-libnet's `AsyncSend`) |
/// | `max_queue_bytes` / `max_queue_frames` | 1 MiB / 1024 |
/// | `linger` | 5 s |
/// | `peer_timeout`, `first_frame_timeout`, `idle_timeout` | none |
/// | `read_chunk` | 64 KiB |
/// | `keep_buffers` | 1 s |
/// | `rate_limit` | none |
/// | `slow_consumer_timeout` | none |
///
/// ```
/// use std::time::Duration;
/// use castnet_core::SessionConfig;
///
/// let config = SessionConfig::builder()
///     .peer_timeout(Some(Duration::from_secs(30)))
///     .max_queue_frames(256)
///     .build()
///     .unwrap();
/// assert_eq!(config.send_timeout(), Some(Duration::from_secs(5)));
///
/// // Zero makes no sense as a timeout: `None` disables one.
/// assert!(SessionConfig::builder().idle_timeout(Some(Duration::ZERO)).build().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    send_timeout: Option<Duration>,
    max_queue_bytes: usize,
    max_queue_frames: usize,
    linger: Duration,
    peer_timeout: Option<Duration>,
    first_frame_timeout: Option<Duration>,
    idle_timeout: Option<Duration>,
    read_chunk: usize,
    keep_buffers: Duration,
    rate_limit: Option<RateLimit>,
    slow_consumer_timeout: Option<Duration>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            send_timeout: Some(Duration::from_secs(5)),
            max_queue_bytes: 1024 * 1024,
            max_queue_frames: 1024,
            linger: Duration::from_secs(5),
            peer_timeout: None,
            first_frame_timeout: None,
            idle_timeout: None,
            read_chunk: 64 * 1024,
            keep_buffers: Duration::from_secs(1),
            rate_limit: None,
            slow_consumer_timeout: None,
        }
    }
}

impl SessionConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder {
            config: SessionConfig::default(),
        }
    }

    /// How long a send may wait for its first byte to be written, unless the
    /// send says otherwise. `None`: sends wait until written or closed.
    pub fn send_timeout(&self) -> Option<Duration> {
        self.send_timeout
    }

    /// `send` refuses with `QueueFull` while this many bytes are queued.
    pub fn max_queue_bytes(&self) -> usize {
        self.max_queue_bytes
    }

    /// `send` refuses with `QueueFull` while this many frames are queued.
    pub fn max_queue_frames(&self) -> usize {
        self.max_queue_frames
    }

    /// How long a graceful close waits for the queue to drain.
    pub fn linger(&self) -> Duration {
        self.linger
    }

    /// Close with `PeerTimeout` when nothing is received for this long.
    pub fn peer_timeout(&self) -> Option<Duration> {
        self.peer_timeout
    }

    /// Close with `FirstFrameTimeout` when no frame arrives this long after
    /// the session starts.
    pub fn first_frame_timeout(&self) -> Option<Duration> {
        self.first_frame_timeout
    }

    /// Close with `IdleTimeout` when no byte moves either way for this long.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// How much room [`read_buf`](super::Session::read_buf) and
    /// [`read_space`](super::Session::read_space) make for one read.
    pub fn read_chunk(&self) -> usize {
        self.read_chunk
    }

    /// How long a session with no traffic keeps its emptied buffers (the
    /// read buffer and one packed-run buffer) for reuse before it frees
    /// them. Zero frees each as soon as it is empty.
    pub fn keep_buffers(&self) -> Duration {
        self.keep_buffers
    }

    /// The inbound rate limit.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// Close with `SlowConsumer` once the send queue has kept reading paused
    /// this long. `None`: keep waiting.
    pub fn slow_consumer_timeout(&self) -> Option<Duration> {
        self.slow_consumer_timeout
    }
}

/// Builds a [`SessionConfig`]; [`build`](Self::build) validates.
#[derive(Debug, Clone)]
pub struct SessionConfigBuilder {
    config: SessionConfig,
}

impl SessionConfigBuilder {
    /// The default send timeout; `None` for none.
    pub fn send_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.send_timeout = timeout;
        self
    }

    /// The queue's byte bound (at least 1). Checked before a frame is added,
    /// so the queue may exceed it by one frame, and a frame larger than the
    /// bound is still accepted into an empty queue.
    pub fn max_queue_bytes(mut self, bytes: usize) -> Self {
        self.config.max_queue_bytes = bytes;
        self
    }

    /// The queue's frame bound (at least 1).
    pub fn max_queue_frames(mut self, frames: usize) -> Self {
        self.config.max_queue_frames = frames;
        self
    }

    /// How long `close` drains the queue (zero: fail what is queued at the
    /// next `handle_timeout`).
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }

    /// Liveness: close when nothing arrives for this long. With a heartbeat
    /// on the peer's side, this side detects a dead peer without sending
    /// anything itself ("passive" liveness).
    pub fn peer_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.peer_timeout = timeout;
        self
    }

    /// Close a session whose peer sends no frame this soon after it starts.
    pub fn first_frame_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.first_frame_timeout = timeout;
        self
    }

    /// Close a session with no traffic either way for this long. Heartbeats
    /// are traffic: with a heartbeat shorter than this, a session is never
    /// idle (use `peer_timeout` for liveness).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.idle_timeout = timeout;
        self
    }

    /// Room made for one read (at least 1). One read takes everything a
    /// pipelining peer sent, up to this, in one system call; with
    /// [`SpareBuffers`](crate::session::SpareBuffers) lent per thread, the
    /// room is the thread's, and a session keeps only a partial frame of
    /// at most an eighth of it in an allocation of its own (longer ones
    /// keep the buffer they are in).
    pub fn read_chunk(mut self, bytes: usize) -> Self {
        self.config.read_chunk = bytes;
        self
    }

    /// How long emptied buffers are kept for reuse once traffic stops
    /// (zero: freed as soon as they are empty).
    ///
    /// A session that moves data steadily then reads into the same
    /// allocation and packs its small frames into the same run buffer turn
    /// after turn, instead of allocating and freeing them every time; an
    /// idle one gives them back after this long. A read buffer that grew
    /// past four `read_chunk`s (a large frame) is always freed at once.
    /// A runtime that lends a session its thread's
    /// [`SpareBuffers`](crate::session::SpareBuffers) (castnet's engine
    /// does) takes them back after each turn instead.
    pub fn keep_buffers(mut self, keep: Duration) -> Self {
        self.config.keep_buffers = keep;
        self
    }

    /// An inbound rate limit; `None` for none.
    pub fn rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.config.rate_limit = limit;
        self
    }

    /// Close a session whose send queue keeps reading paused this long
    /// ([`CloseReason::SlowConsumer`]; what is queued fails `Closed`);
    /// `None` (the default) keeps waiting. Reading pauses from the moment the
    /// queue reaches its bound (only replies,
    /// [`Session::reply`](super::Session::reply), take it past) until it is
    /// down to half of it: see
    /// [`Session::is_backpressured`](super::Session::is_backpressured).
    ///
    /// [`CloseReason::SlowConsumer`]: super::CloseReason::SlowConsumer
    pub fn slow_consumer_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.slow_consumer_timeout = timeout;
        self
    }

    /// The configuration, or the first option that cannot work.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let c = &self.config;
        at_least_one("max_queue_bytes", c.max_queue_bytes)?;
        at_least_one("max_queue_frames", c.max_queue_frames)?;
        at_least_one("read_chunk", c.read_chunk)?;
        for (what, timeout) in [
            ("send_timeout", c.send_timeout),
            ("peer_timeout", c.peer_timeout),
            ("first_frame_timeout", c.first_frame_timeout),
            ("idle_timeout", c.idle_timeout),
            ("slow_consumer_timeout", c.slow_consumer_timeout),
        ] {
            if timeout == Some(Duration::ZERO) {
                return Err(ConfigError::OutOfRange {
                    what,
                    detail: "zero; use None to disable it".to_owned(),
                });
            }
        }
        if let Some(limit) = c.rate_limit {
            limit.validate()?;
        }
        Ok(self.config)
    }
}

fn at_least_one(what: &'static str, value: usize) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(ConfigError::OutOfRange {
            what,
            detail: "must be at least 1".to_owned(),
        });
    }
    Ok(())
}
