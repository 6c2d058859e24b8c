//! Runnable castnet programs and the pieces they share.
//!
//! The binaries speak the wire protocol of `BENCH-PROTOCOL.md` (PacketN
//! frames: an N-byte length header, then the payload):
//!
//! - `netbench`: the load generator (echo, fan-out and idle modes, latency
//!   histogram, byte-for-byte verification). Its engine is [`netbench`].
//! - `baseline_echo`, `baseline_fanout`: what castnet is measured against,
//!   written the way a plain Tokio user writes them (tokio-util `Framed` +
//!   `LengthDelimitedCodec`, a `tokio::sync::broadcast` fan-out).
//!
//! Every benchmark server parses the same flags ([`flags::ServerArgs`]),
//! announces itself with [`server::announce_listening`] and stops on
//! SIGINT/SIGTERM through [`server::Shutdown`], so an independent load
//! generator can drive any of them the same way.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod baseline;
pub mod flags;
pub mod netbench;
pub mod server;
