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
//! You normally use a binding — `castnet-tokio` or `castnet-smol` — which
//! implements it and re-exports this crate's API under that runtime's name;
//! implement [`Runtime`] yourself to run castnet on another executor.
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
//! ## Per-session state
//!
//! A [`Handler<C, S>`](Handler) names the type `S` of each session's own
//! state: made with `S::default()` before `on_open`, reached through
//! [`Conn::state`] in every callback, handed to `on_close` by value. It
//! lives with the connection's owner, so it needs no lock.
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
// One `unsafe` block: `recv_buf` (reading into spare capacity).
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod blocking;
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
pub use castnet_core::hub::PeerAddr;
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
pub use server::{BroadcastWork, Channel, LocalAddr, Server};
pub use socket::{recv_buf, SocketOptions};
pub use stats::Stats;
