//! castnet's fan-out server (`BENCH-PROTOCOL.md`): every frame any client
//! sends is broadcast, encoded once, to every connected client, the sender
//! included, in per-sender order.
//!
//! ```text
//! cargo run --release -p castnet-examples --bin fanout_server -- --addr 127.0.0.1:7001
//! ```
//!
//! Slow-client policy: a client whose send queue is full (it does not read)
//! misses the frames broadcast meanwhile (its deliveries fail `QueueFull`);
//! nobody else waits for it.

use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_examples::flags::{RuntimeKind, ServerArgs};
use castnet_examples::server::{announce_listening, tokio_runtime, Shutdown};
use castnet_tokio::{Handler, LocalAddr, Server, Session};
use clap::Parser;
use std::process::ExitCode;

struct Fanout {
    server: Server,
}

impl Handler<PacketN> for Fanout {
    fn on_frame(&self, _from: &Session<PacketN>, frame: Bytes) {
        // Fire and forget: outcomes are counted in the server's stats.
        if let Err(e) = self.server.broadcast(frame) {
            tracing::debug!(error = %e, "broadcast refused");
        }
    }
}

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
            tracing::error!(error = %e, "fanout_server failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServerArgs, codec: PacketN) -> std::io::Result<()> {
    let shutdown = Shutdown::install()?;
    let server: Server = Server::bind(args.addr, castnet_tokio::Config::new(codec)).await?;
    if let LocalAddr::Tcp(addr) = server.local_addr() {
        announce_listening(*addr)?;
    }
    let serving = {
        let server = server.clone();
        tokio::spawn(async move {
            let handler = Fanout {
                server: server.clone(),
            };
            server.serve(handler).await
        })
    };
    let signal = shutdown.wait().await;
    tracing::info!(?signal, "stopping");
    server.stop().await;
    let stats = server.stats();
    tracing::info!(?stats, "final counters");
    serving.await.map_err(std::io::Error::other)?
}
