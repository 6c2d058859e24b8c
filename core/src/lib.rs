//! # castnet-core
//!
//! The sans-IO core of castnet: codecs, the per-connection session state
//! machine, the hub (session registry, channels, broadcast bookkeeping),
//! limits, P2P routing and application timers. Nothing here touches a
//! socket, reads a clock, spawns a thread or depends on an async runtime:
//! every input is an explicit call, and time arrives as a `now: Instant`
//! argument. The runtime crates (`castnet-tokio`, `castnet-smol`,
//! `castnet-std`) and your own event loop drive these state machines.
//!
//! ## Features
//!
//! None is on by default. `json`, `msgpack` and `xml` add typed messages
//! (`Json<T>`, `MsgPack<T>`, `Xml<T>`, sent through any codec that encodes
//! `Bytes`) and `TypedFrame` to read them from frames (see [`frame`]), with
//! `serde` and `serde_json`, `rmp-serde` or `quick-xml`.
//!
//! ## When to use it directly
//!
//! - You have an event loop of your own (a game loop, a poller, io_uring)
//!   and want castnet's framing, send queue, backpressure, timeouts and
//!   graceful close without an async runtime: drive a [`Session`] per
//!   connection.
//! - You only need the codecs: [`PacketN`] and the others implement
//!   [`Decoder`] and [`Encoder`] over `bytes::BytesMut`, and
//!   `castnet_tokio::codec::Compat` runs them inside tokio-util's `Framed`.
//! - You want to test protocol rules with exact time: every rule here runs
//!   on the instants you pass in.
//!
//! For servers and clients on Tokio, smol or plain threads, use
//! `castnet-tokio`, `castnet-smol` or `castnet-std` instead: they drive this
//! crate for you and add handles usable from any thread, a server registry,
//! channels and broadcast.
//!
//! ## A first example
//!
//! Two sessions talking through byte vectors that stand in for a socket:
//!
//! ```
//! use bytes::{BufMut, Bytes};
//! use castnet_core::{Event, PacketN, Session, SessionConfig};
//! use std::io::IoSlice;
//! use std::time::Instant;
//!
//! let now = Instant::now(); // your clock: the core never reads one
//! let mut client = Session::new(PacketN::default(), SessionConfig::default(), now);
//! let mut server = Session::new(PacketN::default(), SessionConfig::default(), now);
//!
//! // The client queues a frame and "writes" what its queue holds.
//! client.send(Bytes::from_static(b"ping"), now).unwrap();
//! let mut wire = Vec::new();
//! while client.wants_write() {
//!     let mut slices = [IoSlice::new(&[]); 8];
//!     let k = client.chunks_vectored(&mut slices);
//!     let n: usize = slices[..k].iter().map(|s| { wire.extend_from_slice(s); s.len() }).sum();
//!     client.on_written(n, now);
//! }
//! assert_eq!(wire, b"\x00\x00\x00\x04ping"); // 4-byte big-endian length, then the payload
//!
//! // The server "reads" those bytes and gets the frame as an event.
//! server.read_buf().put_slice(&wire);
//! server.on_read(wire.len(), now);
//! match server.poll_event() {
//!     Some(Event::Frame(frame)) => assert_eq!(frame, Bytes::from_static(b"ping")),
//!     other => panic!("expected a frame, got {other:?}"),
//! }
//! ```
//!
//! ## Where to go next
//!
//! - [`Session`]'s docs, section "The drive loop": the order every driver
//!   follows, with a complete ping-pong example.
//! - `examples/src/bin/custom_event_loop.rs` in the repository: an echo
//!   server on one `mio` thread, built on this crate alone.
//! - [`frame`] for the codecs ([`PacketN`], [`VarintCodec`], ...) and
//!   writing your own, [`SessionConfig`] for every bound and timeout,
//!   [`limits`] for connection and rate limits, [`hub`] for the registry,
//!   channels and broadcast bookkeeping, [`timer`] for application timers
//!   ([`Timers`], [`Ticker`]) in a loop of your own, [`route`] for P2P
//!   envelopes and their router.
//! - The repository's `docs/architecture.md` and
//!   `docs/security-and-limits.md`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod frame;
pub mod hub;
pub mod limits;
pub mod route;
pub mod session;
pub mod sync;
pub mod timer;

#[cfg(feature = "json")]
pub use frame::Json;
#[cfg(feature = "msgpack")]
pub use frame::MsgPack;
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
pub use frame::TypedFrame;
#[cfg(feature = "xml")]
pub use frame::Xml;
pub use frame::{
    ByteOrder, ConfigError, Decoder, EncodedFrame, Encoder, FrameError, HeaderLen, OversizePolicy,
    PacketN,
};
pub use frame::{
    DelimiterCodec, FixedLengthCodec, LengthFieldCodec, LineEnding, LinesCodec, RawCodec,
    Utf8LinesCodec, VarintCodec,
};
pub use hub::SessionId;
pub use hub::{BroadcastRecord, BroadcastReport, Hub, Kicked, Recipients, ServerState};
pub use limits::{ConnectionCounter, ConnectionLimits};
pub use limits::{Rate, RateLimit, RatePolicy};
pub use route::{Endpoint, Envelope, EnvelopeCodec, Router};
pub use session::{
    CloseReason, Event, SendDeadline, SendError, Session, SessionConfig, SessionConfigBuilder,
    SessionStats,
};
pub use session::{SendFailure, SendId, SendOutcome};
pub use timer::{Ticker, TimerError, TimerId, Timers};
