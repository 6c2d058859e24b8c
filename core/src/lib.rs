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
