//! # castnet-std
//!
//! castnet for synchronous code: servers ([`Server`]), clients ([`dial`])
//! and session handles ([`Session`]) whose calls block, with no async
//! runtime. The vocabulary is castnet-tokio's and castnet-smol's: `send`
//! waits for queue room, `try_send` refuses at once with the message back,
//! `async_send` returns a [`SendWork`] to [`wait`](SendWork::wait) on,
//! `recv` waits for a frame, `serve` runs until [`Server::stop`].
//!
//! ```no_run
//! use bytes::Bytes;
//! use castnet_std::{handler_fn, Config, Conn, Server};
//! use castnet_std::core::PacketN;
//!
//! fn main() -> std::io::Result<()> {
//!     let server: Server = Server::bind("127.0.0.1:7000", Config::default())?;
//!     // `serve` blocks; `server.stop()` from another thread ends it.
//!     server.serve(handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
//!         let _ = cx.send(frame); // echo; reading pauses while the peer lags
//!     }))
//! }
//! ```
//!
//! ## Design: a few event loops, not a thread per connection
//!
//! Connections run on a few loop threads (`CASTNET_STD_THREADS`, default
//! one per core), each with its own `mio` poller (epoll, kqueue), as gnet
//! and gev run theirs. A loop drives the connection owners of
//! `castnet-engine` (the same code castnet-tokio and castnet-smol run), so
//! handlers get the same [`Conn`] context and the same backpressure.
//!
//! The other way, a reader thread and a writer thread fed by a channel per
//! connection (what plain std code does; castnet-examples' `baseline_echo
//! --runtime std`), lost on every count we measured on a 2-core machine,
//! one process of each, interleaved:
//!
//! | | castnet-std (one loop) | thread pair per connection |
//! |---|---|---|
//! | echo 64 B × 50 conns × pipeline 16 | 1,151,497–1,174,300 frames/s | 391,662–694,593 frames/s |
//! | server CPU per echoed frame | 0.44 µs | 1.68–2.21 µs |
//! | RSS per idle connection | 3.5 KB (10,000 connections) | 31 KB (7,000), and two kernel stacks |
//! | connections it can hold | bounded by descriptors | two threads each: the default `vm.max_map_count` ends the process near 8,000 |
//!
//! Its frames/s there were capped by the load generator sharing the two
//! cores: what the loops save shows in the CPU each frame costs, a quarter
//! of the thread pair's.
//!
//! Blocking calls ([`Session::send`], [`Session::recv`], [`Server::serve`],
//! [`dial`], ...) block the calling thread only, and must not be made on a
//! loop thread (inside a handler callback): they panic there, since they
//! would stall every connection of the loop. A handler replies through its
//! [`Conn`].
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod handoff;
mod reactor;
mod runtime;

pub use castnet_engine::{
    core, handler_fn, Config, Conn, FnHandler, Handler, LocalAddr, PeerAddr, SendError,
    SendWorkError, SocketOptions, Stats, TrySendError,
};
pub use reactor::Io;
pub use runtime::{block_on, block_on_until, Std, Timer};

use castnet_engine::core::frame::FrameError;
use castnet_engine::core::SessionId;
use castnet_engine::core::{Decoder, Encoder, PacketN};
use std::hash::Hash;
use std::io;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::time::{Duration, Instant};

/// A channel of a [`Server`]; see [`castnet_engine::Channel`]. Its
/// [`BroadcastWork`] is waited for with [`block_on`].
pub type Channel<C = PacketN, K = String> = castnet_engine::Channel<Std, C, K>;

/// The progress of a broadcast; see [`castnet_engine::BroadcastWork`]:
/// [`report`](castnet_engine::BroadcastWork::report) for a snapshot, or
/// `block_on(work.wait())` to wait for every delivery.
pub type BroadcastWork = castnet_engine::BroadcastWork;

/// A handle to one connection, with blocking calls. Clone it freely; every
/// clone talks to the same connection, from any thread. Everything that
/// does not wait ([`try_send`](castnet_engine::Session::try_send),
/// [`close`](castnet_engine::Session::close), `id`, `peer_addr`, ...) is
/// the engine handle's, through `Deref`.
#[derive(Clone, Debug)]
pub struct Session<C: Decoder = PacketN>(castnet_engine::Session<C>);

impl<C: Decoder> From<castnet_engine::Session<C>> for Session<C> {
    /// The blocking form of a handle, for one from a handler's
    /// [`Conn::session`] or a [`Channel`]'s members.
    fn from(session: castnet_engine::Session<C>) -> Self {
        Session(session)
    }
}

impl<C: Decoder> std::ops::Deref for Session<C> {
    type Target = castnet_engine::Session<C>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// [`Session::send_timeout`] failed; the message comes back where it can.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendTimeoutError<M> {
    /// The queue stayed full for the whole timeout.
    #[error("send queue still full after the timeout")]
    Timeout(M),
    /// The session is closed or closing.
    #[error("session closed")]
    Closed(M),
    /// The codec refused the message. Nothing was queued.
    #[error(transparent)]
    Frame(FrameError),
}

/// [`Session::recv_timeout`] got no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvTimeoutError {
    /// No frame came within the timeout; the session may still be open.
    #[error("no frame within the timeout")]
    Timeout,
    /// The session closed and every frame was taken.
    #[error("session closed")]
    Closed,
}

impl<C: Decoder> Session<C> {
    /// Queues `msg`, blocking while the send queue is full (backpressure).
    pub fn send<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        block_on(self.0.send(msg))
    }

    /// [`send`](Self::send) that gives up after `timeout` of a full queue,
    /// with the message back.
    pub fn send_timeout<M>(&self, mut msg: M, timeout: Duration) -> Result<(), SendTimeoutError<M>>
    where
        C: Encoder<M> + Clone,
    {
        let deadline = Instant::now() + timeout;
        loop {
            match self.0.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::QueueFull(m)) => msg = m,
                Err(TrySendError::Closed(m)) => return Err(SendTimeoutError::Closed(m)),
                Err(TrySendError::Frame(e)) => return Err(SendTimeoutError::Frame(e)),
                Err(e) => unreachable!("a TrySendError castnet-std does not know: {e}"),
            }
            if block_on_until(self.0.room(), Some(deadline)).is_none() {
                // One last try: room may have come with the deadline.
                return match self.0.try_send(msg) {
                    Ok(()) => Ok(()),
                    Err(TrySendError::Closed(m)) => Err(SendTimeoutError::Closed(m)),
                    Err(TrySendError::Frame(e)) => Err(SendTimeoutError::Frame(e)),
                    Err(e) => Err(SendTimeoutError::Timeout(
                        e.into_inner().expect("a full queue hands the message back"),
                    )),
                };
            }
        }
    }

    /// Queues `msg` and returns a [`SendWork`] to wait for how the send
    /// ended (go-libnet's `AsyncSend`).
    pub fn async_send<M>(&self, msg: M) -> SendWork
    where
        C: Encoder<M> + Clone,
    {
        SendWork(self.0.async_send(msg))
    }

    /// [`async_send`](Self::async_send) with this send timeout instead of the
    /// session's default.
    pub fn async_send_timeout<M>(&self, msg: M, timeout: Option<Duration>) -> SendWork
    where
        C: Encoder<M> + Clone,
    {
        SendWork(self.0.async_send_timeout(msg, timeout))
    }

    /// The next frame from the peer, blocking; `None` once the session has
    /// closed and every frame was taken (see
    /// [`castnet_engine::Session::recv`]).
    pub fn recv(&self) -> Option<C::Item> {
        block_on(self.0.recv())
    }

    /// [`recv`](Self::recv) that gives up after `timeout`. Nothing is lost
    /// on a timeout: the next call gets the next frame.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<C::Item, RecvTimeoutError> {
        match block_on_until(self.0.recv(), Some(Instant::now() + timeout)) {
            Some(Some(frame)) => Ok(frame),
            Some(None) => Err(RecvTimeoutError::Closed),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Receives frames and calls `handler` for each until the session closes
    /// (go-libnet's `Process`). Returns the number of frames handled.
    pub fn process<F>(&self, mut handler: F) -> usize
    where
        F: FnMut(&Session<C>, C::Item),
    {
        let mut n = 0;
        while let Some(frame) = self.recv() {
            handler(self, frame);
            n += 1;
        }
        n
    }

    /// Receives one frame and calls `handler` with it; `false` if the
    /// session closed first (go-libnet's `ProcessOnce`).
    pub fn process_once<F>(&self, handler: F) -> bool
    where
        F: FnOnce(&Session<C>, C::Item),
    {
        match self.recv() {
            Some(frame) => {
                handler(self, frame);
                true
            }
            None => false,
        }
    }

    /// Blocks until the connection's owner has finished (after a close, an
    /// abort, an error or the peer leaving).
    pub fn closed(&self) {
        block_on(self.0.closed())
    }

    /// The engine's handle (what handlers and channels deal in).
    pub fn inner(&self) -> &castnet_engine::Session<C> {
        &self.0
    }
}

/// How one [`Session::async_send`] ended, once it has: wait for it with
/// [`wait`](Self::wait) or [`wait_timeout`](Self::wait_timeout). Dropping it
/// does not cancel the send.
#[must_use = "dropping a SendWork ignores the outcome (the send goes on)"]
pub struct SendWork(castnet_engine::SendWork);

impl std::fmt::Debug for SendWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendWork")
    }
}

impl SendWork {
    /// Blocks until the send ended: `Ok(())` once every byte was handed to
    /// the OS, or how it failed.
    pub fn wait(self) -> Result<(), SendWorkError> {
        block_on(self.0)
    }

    /// As [`wait`](Self::wait), for at most `timeout`: `None` if the send
    /// has not ended yet (wait again later; nothing is lost).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<(), SendWorkError>> {
        block_on_until(&mut self.0, Some(Instant::now() + timeout))
    }
}

/// A castnet server on castnet-std's loops; see
/// [`castnet_engine::Server`] for everything that does not wait (sessions,
/// channels, broadcasts, stats), reached through `Deref`.
pub struct Server<C: Decoder = PacketN, K = String>(castnet_engine::Server<Std, C, K>);

impl<C: Decoder, K> Clone for Server<C, K> {
    fn clone(&self) -> Self {
        Server(self.0.clone())
    }
}

impl<C: Decoder, K> std::ops::Deref for Server<C, K> {
    type Target = castnet_engine::Server<Std, C, K>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<C, K> Server<C, K>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Binds a TCP listener (socket options from `config.socket`).
    pub fn bind(addr: impl ToSocketAddrs, config: Config<C>) -> io::Result<Self> {
        castnet_engine::Server::bind_with(Std, addr, config).map(Server)
    }

    /// Binds a Unix-socket listener at `path` (removed again on stop).
    pub fn bind_unix(path: impl AsRef<Path>, config: Config<C>) -> io::Result<Self> {
        castnet_engine::Server::bind_unix_with(Std, path, config).map(Server)
    }

    /// Accepts connections and runs `handler` for each, blocking until
    /// [`stop`](Self::stop) is called (from another thread, or a clone of
    /// this server in a handler) or the listener fails.
    pub fn serve<H: Handler<C>>(&self, handler: H) -> io::Result<()> {
        block_on(self.0.serve(handler))
    }

    /// Stops gracefully and blocks until every connection's owner has ended
    /// (see [`castnet_engine::Server::stop`]). From a handler, use
    /// [`begin_stop`](Self::begin_stop) instead.
    pub fn stop(&self) {
        block_on(self.0.stop())
    }

    /// Starts a graceful stop without waiting for it: what a handler (on a
    /// loop thread, where blocking is not allowed) calls.
    pub fn begin_stop(&self) {
        let server = self.0.clone();
        Std::spawn_detached(async move { server.stop().await });
    }

    /// A session of this server, by id, with blocking calls.
    pub fn session(&self, id: SessionId) -> Option<Session<C>> {
        self.0.session(id).map(Session)
    }

    /// Every open session, with blocking calls.
    pub fn sessions(&self) -> Vec<Session<C>> {
        self.0.sessions().into_iter().map(Session).collect()
    }
}

impl Std {
    fn spawn_detached(future: impl std::future::Future<Output = ()> + Send + 'static) {
        castnet_engine::Runtime::spawn(&Std, future)
    }
}

/// Connects to a TCP server, blocking; frames from the server arrive
/// through [`Session::recv`].
pub fn dial<C>(addr: impl ToSocketAddrs, config: Config<C>) -> io::Result<Session<C>>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    block_on(castnet_engine::dial_with(&Std, addr, config)).map(Session)
}

/// [`dial`] that gives up with [`io::ErrorKind::TimedOut`] after `timeout`.
pub fn dial_timeout<C>(
    addr: impl ToSocketAddrs,
    timeout: Duration,
    config: Config<C>,
) -> io::Result<Session<C>>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    block_on(castnet_engine::dial_timeout_with(
        &Std, addr, timeout, config,
    ))
    .map(Session)
}

/// Connects to a Unix-socket server at `path`, blocking.
pub fn dial_unix<C>(path: impl AsRef<Path>, config: Config<C>) -> io::Result<Session<C>>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    block_on(castnet_engine::dial_unix_with(&Std, path, config)).map(Session)
}
