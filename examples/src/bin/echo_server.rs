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
use castnet_examples::flags::{RuntimeKind, ServerArgs};
use castnet_examples::server::{announce_listening, tokio_runtime, Shutdown};
use castnet_tokio::{handler_fn, Config, LocalAddr, Server, Session, TrySendError};
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = ServerArgs::parse();
    args.require_runtime::<ServerArgs>(RuntimeKind::Tokio);
    castnet_examples::init_tracing();
    let codec = match args.packet_codec() {
        Ok(codec) => codec,
        Err(e) => {
            tracing::error!(error = %e, "bad codec flags");
            return ExitCode::from(2);
        }
    };
    let result = tokio_runtime(args.workers).and_then(|rt| rt.block_on(serve(args, codec)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "echo_server failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServerArgs, codec: PacketN) -> std::io::Result<()> {
    let shutdown = Shutdown::install()?;
    let server: Server = Server::bind(args.addr, Config::new(codec)).await?;
    if let LocalAddr::Tcp(addr) = server.local_addr() {
        announce_listening(*addr)?;
    }
    let serving = {
        let server = server.clone();
        tokio::spawn(async move {
            server
                .serve(handler_fn(|session: &Session<PacketN>, frame: Bytes| {
                    match session.try_send(frame) {
                        Ok(()) => {}
                        Err(TrySendError::QueueFull(_)) => {
                            tracing::warn!(id = %session.id(), "client does not read its echoes; disconnecting");
                            session.abort();
                        }
                        Err(e) => tracing::debug!(error = %e, "echo not sent"),
                    }
                }))
                .await
        })
    };
    let signal = shutdown.wait().await;
    tracing::info!(?signal, "stopping");
    server.stop().await;
    serving.await.map_err(std::io::Error::other)?
}
