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
//!   binding's `Server`, `Channel`, `dial`, `dial_timeout` and `dial_unix`
//!   with [`runtime_api!`]. castnet-tokio's source is a complete example in
//!   about 170 lines.
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

pub mod blocking;
mod config;
mod connect;
mod drive;
mod facade;
mod handle;
mod handler;
mod handoff;
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
pub use connect::{dial_timeout_with, dial_unix_with, dial_with};
pub use handle::{SendError, SendWork, SendWorkError, Session, TrySendError};
pub use handler::{handler_fn, FnHandler, Handler};
pub use handoff::Handoff;
pub use owner::Conn;
pub use runtime::{AsyncListener, AsyncStream, AsyncTimer, Runtime};
pub use server::{BroadcastWork, Channel, LocalAddr, Server};
pub use socket::{recv_buf, SocketOptions};
pub use stats::Stats;
