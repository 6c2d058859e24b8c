//! # castnet-engine
//!
//! Everything castnet does that does not depend on a runtime: the
//! [`Session`] handle, [`Server`] (registry, admission, channels,
//! broadcasts, graceful stop), [`Channel`], [`Handler`] and its connection
//! context [`Conn`], [`Config`], [`Stats`], and the connection owner that a
//! runtime drives.
//!
//! Runtimes plug in through one small trait, [`Runtime`] (spawn a task, a
//! timer, wrap a std socket, connect, the clock), in the spirit of quinn's.
//! You normally use a binding — `castnet-tokio`, `castnet-smol` or
//! `castnet-std` — which implements it and re-exports this crate's API
//! under that runtime's name; implement [`Runtime`] yourself to run castnet
//! on another executor.
//!
//! ## When to depend on this crate
//!
//! - To write code that works on every runtime: handlers, and functions
//!   generic over `R: Runtime`, as below. Applications then pick a binding.
//! - To add a runtime: implement [`Runtime`], [`AsyncStream`],
//!   [`AsyncListener`] and [`AsyncTimer`] for its types, and declare the
//!   binding's `Server`, `Channel`, `dial`, `dial_timeout`, `dial_unix`,
//!   `dial_handler` and `dial_unix_handler` with [`runtime_api!`].
//!   castnet-tokio's source is a complete example in about 210 lines, a
//!   third of them its front-page docs.
//!
//! Otherwise, depend on a binding: it re-exports everything here.
//!
//! ## A first example
//!
//! An echo server written once, for any runtime: `serve_echo::<castnet_tokio::Tokio>`,
//! `serve_echo::<castnet_smol::Smol>` and `serve_echo::<castnet_std::Std>` are
//! the same server on Tokio, smol and castnet-std's own loops.
//!
//! ```
//! use bytes::Bytes;
//! use castnet_core::frame::PacketN;
//! use castnet_engine::{handler_fn, Config, Conn, Runtime, Server};
//!
//! async fn serve_echo<R: Runtime + Default>(addr: &str) -> std::io::Result<()> {
//!     let server: Server<R> = Server::bind(addr, Config::default()).await?;
//!     server
//!         .serve(handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
//!             let _ = cx.send(frame); // never refused for a full queue: reading pauses instead
//!         }))
//!         .await
//! }
//! ```
//!
//! ## How a connection runs
//!
//! Each connection has one owner: a synchronous object holding the
//! connection's `castnet_core::Session`. A runtime reads into it, runs a
//! turn at its `now`, writes what it queued, and waits for what it says it
//! wants (readable, writable, a command from a handle, broadcast frames, a
//! deadline). Handler callbacks run in that turn and get the connection
//! itself ([`Conn`]): a reply goes straight into the session's queue and is
//! never refused for a full queue; while the queue is over its bound the
//! owner stops reading from that peer instead, so backpressure reaches TCP.
//! Handles ([`Session`]) reach the owner from any task or thread through an
//! inbox; their `send` waits for room, `try_send` refuses with the message
//! back, and `async_send` resolves with the outcome.
//!
//! ## Typed messages
//!
//! With the features `json`, `msgpack` or `xml` (on this crate or on a
//! runtime binding: `castnet-tokio = { features = ["json"] }`), `Json<T>`,
//! `MsgPack<T>` and `Xml<T>` go wherever bytes go: a handle's `send`,
//! `try_send` and `async_send`, [`Conn::send`] and every broadcast, which
//! serialises the value once whatever the number of sessions. A value that
//! cannot be serialised is refused with `FrameError::Serialize` and nothing
//! is queued. `TypedFrame` reads frames back, or a `Typed` codec
//! (`Config::new(Typed::<PacketN, Json<Move>>::default())`) hands the handler
//! and `recv` every frame as a `Result<Move, DecodeError>`; a malformed one
//! is a `DecodeError` to deal with, and the session stays open.
//!
//! ```
//! # #[cfg(feature = "json")] {
//! use bytes::Bytes;
//! use castnet_engine::core::PacketN;
//! use castnet_engine::{handler_fn, Conn, Json, TypedFrame};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Move { x: i32, y: i32 }
//!
//! #[derive(Serialize)]
//! enum Reply<'a> { Moved { x: i32, y: i32 }, Malformed(&'a str) }
//!
//! let handler = handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
//!     match frame.json::<Move>() {
//!         Ok(m) => { let _ = cx.send(Json(Reply::Moved { x: m.x + 1, y: m.y })); }
//!         Err(e) => { let _ = cx.send(Json(Reply::Malformed(&e.to_string()))); }
//!     }
//! });
//! # let _ = handler;
//! # }
//! ```
//!
//! ## Logging
//!
//! castnet logs through `tracing`, under the `castnet_engine` target, at
//! levels chosen so that a server left at INFO stays readable under load:
//!
//! - **WARN**: something an operator may have to act on. A session closed
//!   because its peer broke the protocol or a limit: an undecodable or
//!   oversized frame, the inbound rate limit (`Close` policy), the
//!   slow-consumer timeout. The accept loop running out of file
//!   descriptors or memory (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`): it
//!   backs off (10 ms, doubling to 1 s, reset by the next accepted
//!   connection) and warns once when a back-off starts, at most once a
//!   minute, with the retries at DEBUG. An accept retried after another
//!   passing error (a connection reset or aborted before it was accepted,
//!   an interrupted call), each time. A session that missed broadcast
//!   frames (once per session).
//! - **INFO**: a session closed by a timeout the configuration asked for
//!   (peer, idle or first-frame timeout, a linger cut short); the server
//!   serving and stopped; the accept loop accepting again after a warned
//!   back-off.
//! - **DEBUG**: routine closes (closed here, aborted, the peer hung up or
//!   reset the connection), refused connections (limits), discarded
//!   oversized frames, and every connection's `session` span (`id`,
//!   `peer`).
//!
//! Every close at INFO or WARN names the session (`session`), its peer
//! (`peer`) and the reason (`reason`) in the event itself, whatever spans
//! are enabled.
//!
//! ## Per-session state
//!
//! A [`Handler<C, S>`](Handler) names the type `S` of each session's own
//! state: made with `S::default()` before `on_open`, reached through
//! [`Conn::state`] in every callback, handed to `on_close` by value. It
//! lives with the connection's owner, so it needs no lock.
//!
//! ## Timers and the server tick
//!
//! [`Conn::run_after`] and [`Conn::run_every`] arm timers on the session's
//! owner, which come back as [`Handler::on_timer`] with the token they were
//! armed with; [`Conn::cancel_timer`] and [`Conn::cancel_timers`] disarm
//! them. At most [`Config::max_timers`] (1024 by default) are live per
//! session, and none fires once the session is closing. A handler's
//! [`tick_interval`](Handler::tick_interval) and
//! [`on_tick`](Handler::on_tick) give [`Server::serve`] a tick that
//! chooses its next interval each time and stops with the server. Both are
//! built on `castnet_core::timer`.
//!
//! ## Replies are never dropped for time
//!
//! [`Conn::send`] queues with no send deadline: a peer that reads late,
//! however late, gets every reply, and one that stops reading is held back
//! by backpressure (and closed by `SessionConfig::slow_consumer_timeout`
//! if set). Sends through a [`Session`] handle, [`Conn::send_tracked`] and
//! broadcasts keep the session's send timeout. After a graceful close the
//! socket reads and discards what the peer still sends, for at most
//! [`SocketOptions::close_drain`] and 8 MiB, so the close does not reset
//! the connection and destroy replies still on their way.
//!
//! ## Clients
//!
//! [`dial_with`] returns a [`Session`] whose frames arrive through
//! [`Session::recv`]; once it returns `None`, [`Session::close_reason`]
//! (or what [`Session::closed`] resolves to) says why the session closed.
//! [`dial_handler_with`] runs a dialled session with a [`Handler`] instead,
//! callbacks and per-session state included, as a server runs its own.
//!
//! ## Heartbeats
//!
//! A session sends heartbeats with `set_heartbeat` (on its [`Session`] or
//! [`Conn`]); they are frames on the wire, and by default the receiving side
//! delivers them like any other frame. Name them with
//! [`Config::peer_heartbeat`] (or [`Conn::set_peer_heartbeat`]) and the
//! receiving side keeps them from its handler and from `recv`: they still
//! keep the session alive (the peer timeout counts any bytes received) and
//! are counted in [`Stats::heartbeats_received`].
//!
//! ## Where to go next
//!
//! - [`Handler`] and [`Conn`] for callbacks, [`Session`] for handles,
//!   [`Server`] and [`Channel`] for the registry, channels and broadcasts,
//!   [`Config`] for every setting, [`blocking`] for synchronous callers.
//! - The repository's `docs/architecture.md` (the owner's drive order,
//!   backpressure, broadcast lanes, shutdown) and
//!   `docs/security-and-limits.md` (every default and how to tune it).
// One `unsafe` block: `recv_buf` (reading into spare capacity).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod accept;
pub mod blocking;
mod close_log;
mod config;
mod connect;
mod drive;
mod facade;
mod handle;
mod handler;
mod handoff;
mod heartbeat;
mod inbox;
mod lane;
mod owner;
mod pending;
mod recv;
mod runtime;
mod server;
mod socket;
mod stats;
mod sync;
mod wait;

#[cfg(all(test, castnet_loom))]
mod loom_models;

pub use blocking::block_on_until;
pub use castnet_core as core;
/// Typed messages: `Json`, `MsgPack`, `Xml`, `TypedFrame` and their errors,
/// each with its feature (castnet-core's `frame::typed`).
pub use castnet_core::frame::typed::*;
pub use castnet_core::hub::PeerAddr;
pub use castnet_core::timer::{TimerError, TimerId};
pub use config::Config;
pub use connect::{
    dial_handler_with, dial_timeout_with, dial_unix_handler_with, dial_unix_with, dial_with,
};
pub use handle::{SendError, SendWork, SendWorkError, Session, TrySendError};
pub use handler::{handler_fn, FnHandler, Handler};
pub use handoff::Handoff;
pub use heartbeat::PeerHeartbeat;
pub use owner::Conn;
pub use runtime::{AsyncListener, AsyncStream, AsyncTimer, Runtime};
pub use server::{BroadcastWork, Channel, ChannelKey, LocalAddr, Server};
pub use socket::{recv_buf, SocketOptions};
pub use stats::Stats;
