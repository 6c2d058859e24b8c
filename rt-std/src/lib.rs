//! # castnet-std
//!
//! castnet for synchronous code: servers ([`Server`]), clients ([`dial`])
//! and session handles ([`Session`]) whose calls block, with no async
//! runtime. The vocabulary is castnet-tokio's and castnet-smol's: `send`
//! waits for queue room, `try_send` refuses at once with the message back,
//! `async_send` returns a [`SendWork`] to [`wait`](SendWork::wait) on,
//! `recv` waits for a frame, `serve` runs until [`Server::stop`].
//!
//! ## When to pick it
//!
//! Your program has no async runtime and should not need one: a CLI, a
//! game server with its own main loop, a service built on threads.
//! Connections still run on event loops, with the same handlers,
//! backpressure and broadcast as castnet-tokio and castnet-smol (pick those
//! if you run Tokio or smol; `castnet-core` for a loop of your own).
//!
//! ## A first server
//!
//! ```no_run
//! use bytes::Bytes;
//! use castnet_std::{handler_fn, Config, Conn, Server};
//! use castnet_std::core::PacketN;
//!
//! fn main() -> std::io::Result<()> {
//!     let server = Server::bind("127.0.0.1:7000", Config::default())?;
//!     // `serve` blocks; `server.stop()` from another thread ends it.
//!     server.serve(handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
//!         let _ = cx.send(frame); // echo; reading pauses while the peer lags
//!     }))
//! }
//! ```
//!
//! ## A first client
//!
//! ```no_run
//! use bytes::Bytes;
//! use castnet_std::{dial, Config};
//! use std::time::Duration;
//!
//! fn main() -> std::io::Result<()> {
//!     let session = dial("127.0.0.1:7000", Config::default())?;
//!     session.send(Bytes::from_static(b"hello")).expect("open"); // blocks while the queue is full
//!     let echo = session.recv_timeout(Duration::from_secs(5)); // Ok(frame) or why not
//!     assert!(echo.is_ok());
//!     session.close(); // graceful: queued frames are written first
//!     Ok(())
//! }
//! ```
//!
//! ## Features
//!
//! `json`, `msgpack` and `xml` (off by default) add typed messages:
//! `Json(value)` and the others go through every send and broadcast, and
//! `TypedFrame` or a `Typed` codec reads them back.
//!
//! ## Where to go next
//!
//! [`Server`] (and through `Deref` the engine server's registry, channels
//! and broadcasts), [`Session`] (the blocking calls, `closed()` with the
//! close reason), [`Handler`] (callbacks, per-session state, timers, the
//! server tick), [`dial_handler`], [`Config`]; the README's quick start;
//! the repository's `docs/`. Logs go through `tracing` (the README's "Logs").
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
//! connection (what plain std code does: castnet-examples' `baseline_echo
//! --runtime std`), lost on every count we measured on a 2-core machine
//! (`PIN=1 bash examples/bench/compare.sh`; the README's "Performance"):
//! ×1.70 to ×2.07 its frames/s on 64-byte echo (three runs), where the
//! load generator was the limit, at ×0.54 to ×0.47 its CPU per frame (a
//! server that echoes bytes and does nothing else reached ×2.04 at ×0.36
//! in the run that gave ×1.70); ×2.5 to
//! ×3.7 on 4 KiB echo; ×25 to ×29 on fan-out;
//! about 3.6 KB per idle connection against 31 KB and two kernel stacks,
//! whose threads end the process near 8,000 connections.
//!
//! Blocking calls ([`Session::send`], [`Server::serve`], [`dial`], ...)
//! must not be made on a loop thread (in a handler callback): they panic
//! there rather than stall every connection of the loop. A handler replies
//! through its [`Conn`].
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod reactor;
mod runtime;

pub use castnet_engine::blocking::{
    block_on, block_on_until, RecvTimeoutError, SendTimeoutError, SendWork, Session,
};
pub use castnet_engine::core::frame::typed::*;
pub use castnet_engine::{
    core, handler_fn, ChannelKey, Config, Conn, FnHandler, Handler, LocalAddr, PeerAddr,
    PeerHeartbeat, SendError, SendWorkError, SocketOptions, Stats, TimerError, TimerId,
    TrySendError,
};
pub use reactor::Io;
pub use runtime::{Std, Timer};

use castnet_engine::core::{Decoder, PacketN, SessionId};
use std::{hash::Hash, io, net::ToSocketAddrs, path::Path};

/// A channel of a [`Server`]; see [`castnet_engine::Channel`]. Its
/// [`BroadcastWork`] is waited for with [`block_on`].
pub type Channel<C = PacketN, K = String> = castnet_engine::Channel<Std, C, K>;

/// The progress of a broadcast; see [`castnet_engine::BroadcastWork`]:
/// [`report`](castnet_engine::BroadcastWork::report) for a snapshot, or
/// `block_on(work.wait())` to wait for every delivery.
pub type BroadcastWork = castnet_engine::BroadcastWork;

/// A castnet server on castnet-std's loops; see [`castnet_engine::Server`]
/// for everything that does not wait, reached through `Deref`. Channels are
/// keyed by `String`; for another key type convert an engine server:
/// `Server::from(castnet_engine::Server::<Std, PacketN, u64>::bind_with(Std, addr, config)?)`.
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

impl<C: Decoder + Clone + Send + Sync + 'static> Server<C>
where
    C::Item: Send,
{
    /// Binds a TCP listener (socket options from `config.socket`).
    pub fn bind(addr: impl ToSocketAddrs, config: Config<C>) -> io::Result<Self> {
        castnet_engine::Server::bind_with(Std, addr, config).map(Server)
    }

    /// Binds a Unix-socket listener at `path` (removed again on stop).
    pub fn bind_unix(path: impl AsRef<Path>, config: Config<C>) -> io::Result<Self> {
        castnet_engine::Server::bind_unix_with(Std, path, config).map(Server)
    }
}

impl<C: Decoder, K> From<castnet_engine::Server<Std, C, K>> for Server<C, K> {
    fn from(server: castnet_engine::Server<Std, C, K>) -> Self {
        Server(server)
    }
}

impl<C, K> Server<C, K>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Accepts connections and runs `handler` for each, blocking until
    /// [`stop`](Self::stop) is called (from another thread, or a clone of
    /// this server in a handler) or the listener fails.
    pub fn serve<H: Handler<C, S>, S: Default + Send + 'static>(
        &self,
        handler: H,
    ) -> io::Result<()> {
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
        castnet_engine::Runtime::spawn(&Std, async move { server.stop().await });
    }

    /// A session of this server, by id, with blocking calls.
    pub fn session(&self, id: SessionId) -> Option<Session<C>> {
        self.0.session(id).map(Session::from)
    }

    /// Every open session, with blocking calls.
    pub fn sessions(&self) -> Vec<Session<C>> {
        self.0.sessions().into_iter().map(Session::from).collect()
    }
}

castnet_engine::runtime_api!(blocking Std);
