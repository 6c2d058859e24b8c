//! Runnable castnet programs and the pieces they share.
//!
//! Run any of them with `cargo run --release -p castnet-examples --bin NAME`:
//!
//! - `demo`: the tour of castnet (echo, `async_send` outcomes, channels with
//!   a kick callback, broadcast with its report, sessions by id, detached
//!   broadcasts, a slow consumer, heartbeats, a graceful stop), a server and
//!   clients on 127.0.0.1, a few seconds. Start here.
//! - `echo_server`, `fanout_server`: castnet's bench servers, on
//!   `castnet-tokio`, `castnet-smol` or `castnet-std` (`--runtime
//!   tokio|smol|std`).
//! - `custom_event_loop`: an echo server that drives `castnet-core` from its
//!   own single-threaded mio loop, with no castnet runtime: the template for
//!   embedding the core in any loop. It takes the flags of [`flags::ListenArgs`].
//! - `custom_codec`, `p2p_router`: the tours below.
//! - `baseline_echo`, `baseline_fanout`: what castnet is measured against,
//!   written the way a plain Tokio user writes them (tokio-util `Framed` +
//!   `LengthDelimitedCodec`, a `tokio::sync::broadcast` fan-out), on Tokio
//!   or, with `--runtime smol`, the same code on smol; with `--runtime std`,
//!   a thread-per-connection server on blocking `std::net`, as a plain std
//!   user writes it ([`baseline::threads`]).
//! - `netbench`: the load generator (echo, fan-out and idle modes, latency
//!   histogram, byte-for-byte verification). Its engine is [`netbench`].
//!
//! The tours, each run with no arguments, narrate through `tracing` and exit:
//!
//! - `demo`: the server API on PacketN frames (echo, channels, broadcasts,
//!   sessions by id, heartbeats, a graceful stop).
//! - `custom_codec`: a text command server on castnet's line codec and a
//!   binary protocol with a codec of its own ([`custom_codec`]).
//! - `p2p_router`: nodes routing envelopes by `(type, no)` endpoints through a
//!   router, with registration and ping/pong liveness ([`p2p`]).
//! - `chat`: rooms as channels on a line protocol (`/nick`, `/join`,
//!   `/leave`, `/kick`, `/quit`), each session's nick and room in the
//!   handler's per-session state ([`chat`]).
//! - `heartbeat`: liveness both ways: peer heartbeats kept from the handler,
//!   a silent client closed by the peer timeout, an idle kick by timer, a
//!   server tick ([`heartbeat`]).
//! - `json_messages`: typed messages (castnet-tokio's `json` feature):
//!   serde requests answered with serde responses, a malformed request
//!   answered with a typed error, a typed notice broadcast to every session
//!   ([`json_messages`]).
//!
//! The bench servers speak the wire protocol described in the repository's
//! `docs/bench-protocol.md` (PacketN or varint frames: a length header, then
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
pub mod chat;
pub mod custom_codec;
pub mod flags;
pub mod heartbeat;
pub mod json_messages;
pub mod netbench;
pub mod p2p;
pub mod server;
pub mod tour;

/// Logs to stderr through `tracing`, filtered by `RUST_LOG` (default `warn`),
/// so the one `listening on` line stays alone on stdout. Colours only when
/// stderr is a terminal: a log file or a pipe gets plain text.
pub fn init_tracing() {
    init_tracing_at("warn");
}

/// [`init_tracing`] with another default filter: a tour that narrates at
/// INFO (`demo`, `p2p_router`, `custom_codec`, `chat`, `heartbeat`,
/// `json_messages`) passes `"info"`. `RUST_LOG`
/// still overrides it.
pub fn init_tracing_at(default_filter: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
