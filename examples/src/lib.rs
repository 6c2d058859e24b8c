//! Runnable castnet programs and the pieces they share.
//!
//! Run any of them with `cargo run --release -p castnet-examples --bin NAME`:
//!
//! - `demo`: the tour of castnet (echo, `async_send` outcomes, channels with
//!   a kick callback, broadcast with its report, a slow consumer, heartbeats,
//!   a graceful stop), a server and clients on 127.0.0.1, about 4 s. Start
//!   here.
//! - `echo_server`, `fanout_server`: castnet's bench servers, on
//!   `castnet-tokio`, `castnet-smol` or `castnet-std` (`--runtime
//!   tokio|smol|std`).
//! - `custom_event_loop`: an echo server that drives `castnet-core` from its
//!   own single-threaded mio loop, with no castnet runtime: the template for
//!   embedding the core in any loop. It takes the flags of [`flags::ListenArgs`].
//! - `baseline_echo`, `baseline_fanout`: what castnet is measured against,
//!   written the way a plain Tokio user writes them (tokio-util `Framed` +
//!   `LengthDelimitedCodec`, a `tokio::sync::broadcast` fan-out), on Tokio
//!   or, with `--runtime smol`, the same code on smol; with `--runtime std`,
//!   a thread-per-connection server on blocking `std::net`, as a plain std
//!   user writes it ([`baseline::threads`]).
//! - `netbench`: the load generator (echo, fan-out and idle modes, latency
//!   histogram, byte-for-byte verification). Its engine is [`netbench`].
//!
//! The bench servers speak the wire protocol described in the repository's
//! `docs/bench-protocol.md` (PacketN frames: an N-byte length header, then
//! the payload). Every one parses the same flags ([`flags::ServerArgs`]),
//! announces itself with [`server::announce_listening`] and stops on
//! SIGINT/SIGTERM through [`server::Shutdown`], so an independent load
//! generator can drive any of them the same way. `examples/bench/compare.sh`
//! and `examples/bench/idle_rss.sh` run them side by side.
//!
//! Logs go to stderr through `tracing` ([`init_tracing`]), filtered by
//! `RUST_LOG` (default `warn`): `RUST_LOG=info` shows servers starting and
//! stopping and their final counters, `RUST_LOG=debug` every connection's
//! close.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod baseline;
pub mod flags;
pub mod netbench;
pub mod server;

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default `warn`),
/// so the one `listening on` line stays alone on stdout.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
