//! castnet's echo server (`BENCH-PROTOCOL.md`): every frame a client sends
//! comes back to it unchanged, in order.
//!
//! ```text
//! cargo run --release -p castnet-examples --bin echo_server -- --addr 127.0.0.1:7000
//! ```
//!
//! A client that does not read its echoes fills its own send queue (1 MiB or
//! 1024 frames by default); it is then disconnected rather than have echoes
//! silently dropped. Other clients are unaffected.

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_examples::server::run_castnet_server;
use castnet_tokio::{handler_fn, Session, TrySendError};
use std::process::ExitCode;

fn main() -> ExitCode {
    run_castnet_server("echo_server", |_| {
        handler_fn(
            |session: &Session<PacketN>, frame: Bytes| match session.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::QueueFull(_)) => {
                    tracing::warn!(id = %session.id(), "client does not read its echoes; disconnecting");
                    session.abort();
                }
                Err(e) => tracing::debug!(error = %e, "echo not sent"),
            },
        )
    })
}
