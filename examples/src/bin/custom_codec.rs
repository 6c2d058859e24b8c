//! Codecs on castnet-tokio servers: a text command server on castnet's line
//! codec (`SET key value`, `GET key`, `QUIT`), and a binary protocol with a
//! codec written for it (`TaggedCodec`: a 1-byte kind and a 2-byte request
//! id ahead of each payload, decoded into a struct; replies carry their
//! request's id). Both live in `castnet_examples::custom_codec`.
//!
//! With no arguments, one process starts both servers on 127.0.0.1, runs
//! clients against them, narrates (tracing, INFO) and exits 0:
//!
//! ```text
//! cargo run -p castnet-examples --bin custom_codec
//! ```
//!
//! It shows commands and their answers, tagged requests answered by id
//! (pipelined), and a malformed frame (invalid UTF-8, an unknown kind byte,
//! an oversized length) closing its own connection with a typed error while
//! the other clients go on.
//!
//! Or run one server until SIGINT/SIGTERM (it prints `listening on ADDR`)
//! and talk to it yourself, e.g. with `nc 127.0.0.1 7200`:
//!
//! ```text
//! cargo run -p castnet-examples --bin custom_codec -- --serve lines --addr 127.0.0.1:7200
//! cargo run -p castnet-examples --bin custom_codec -- --serve tagged --addr 127.0.0.1:7201
//! ```

use castnet_core::frame::Utf8LinesCodec;
use castnet_examples::custom_codec::{
    lines_codec, start_lines, start_tagged, Kind, Running, Tagged, TaggedCodec,
};
use castnet_examples::server::{announce_listening, Shutdown};
use castnet_examples::tour::{exit_code, within};
use castnet_tokio::{dial, Config, Session};
use clap::{Parser, ValueEnum};
use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    /// The text command server.
    Lines,
    /// The tagged binary protocol.
    Tagged,
}

/// A line protocol and a user-written codec on castnet servers. Without
/// --serve: both servers and their clients in one process, narrated.
#[derive(Debug, Parser)]
struct Args {
    /// Run this server until SIGINT/SIGTERM instead of the tour.
    #[arg(long, value_enum)]
    serve: Option<Protocol>,
    /// With --serve: where to listen.
    #[arg(long, default_value = "127.0.0.1:7200")]
    addr: String,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    castnet_examples::init_tracing_at(if args.serve.is_none() { "info" } else { "warn" });
    let run = match args.serve {
        Some(Protocol::Lines) => serve(start_lines(&args.addr).await).await,
        Some(Protocol::Tagged) => serve(start_tagged(&args.addr).await).await,
        None => within(Duration::from_secs(20), tour()).await,
    };
    exit_code("custom_codec", run)
}

async fn serve<C>(server: std::io::Result<Running<C>>) -> Result<()>
where
    C: castnet_core::Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    let shutdown = Shutdown::install()?;
    let server = server?;
    announce_listening(server.local_addr()?)?;
    shutdown.wait().await;
    Ok(server.stop().await?)
}

/// The next frame on `session`, within a second.
async fn next<C: castnet_core::Decoder>(session: &Session<C>) -> Result<C::Item> {
    timeout(Duration::from_secs(1), session.recv())
        .await
        .map_err(|_| "no answer within a second")?
        .ok_or_else(|| "the connection closed".into())
}

/// Writes `bytes` on a raw socket and reads until the server closes it.
async fn malformed(addr: std::net::SocketAddr, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut raw = TcpStream::connect(addr).await?;
    raw.write_all(bytes).await?;
    let mut rest = Vec::new();
    timeout(Duration::from_secs(2), raw.read_to_end(&mut rest))
        .await
        .map_err(|_| "the server kept a malformed connection open")??;
    Ok(rest)
}

async fn tour() -> Result<()> {
    let lines = start_lines("127.0.0.1:0").await?;
    let tagged = start_tagged("127.0.0.1:0").await?;
    tracing::info!(
        lines = %lines.local_addr()?,
        tagged = %tagged.local_addr()?,
        "1. two servers listening: text commands and tagged frames"
    );

    // --- the line protocol -----------------------------------------------
    let alice: Session<Utf8LinesCodec> =
        dial(lines.local_addr()?, Config::new(lines_codec())).await?;
    for command in ["SET colour blue", "GET colour", "GET size", "FLY away"] {
        alice.send(command).await?;
        let answer = next(&alice).await?;
        tracing::info!("2. lines: {command:?} -> {answer:?}");
    }
    let rest = malformed(lines.local_addr()?, b"GET colour\n\xff\xfe\n").await?;
    tracing::info!(
        "3. lines: a client sent invalid UTF-8 after a command: it got {:?}, then the server closed it",
        String::from_utf8_lossy(&rest)
    );
    alice.send("GET colour").await?;
    tracing::info!(
        "   the other client goes on: \"GET colour\" -> {:?}",
        next(&alice).await?
    );
    alice.send("QUIT").await?;
    tracing::info!("   \"QUIT\" -> {:?}", next(&alice).await?);
    alice.closed().await;

    // --- the tagged protocol ---------------------------------------------
    let bob: Session<TaggedCodec> =
        dial(tagged.local_addr()?, Config::new(TaggedCodec::default())).await?;
    let requests = [
        Tagged::new(Kind::Echo, 7, "ping"),
        Tagged::new(Kind::Upper, 8, "make me loud"),
        Tagged::new(Kind::Reply, 9, "a reply is no request"),
    ];
    for request in &requests {
        bob.send(request.clone()).await?; // pipelined: all sent, then read
    }
    for request in &requests {
        let reply = next(&bob).await?;
        tracing::info!(
            "4. tagged: {:?} #{} {:?} -> {:?} #{} {:?}",
            request.kind,
            request.id,
            String::from_utf8_lossy(&request.payload),
            reply.kind,
            reply.id,
            String::from_utf8_lossy(&reply.payload)
        );
        if reply.id != request.id {
            return Err("a reply did not carry its request's id".into());
        }
    }
    for (what, bytes) in [
        ("an unknown kind byte", &b"\x07\x00\x01\x00\x00"[..]),
        ("a length over the maximum", &b"\x01\x00\x02\xff\xff"[..]),
    ] {
        malformed(tagged.local_addr()?, bytes).await?;
        tracing::info!("5. tagged: a client sent {what}; the server closed it");
    }
    bob.send(Tagged::new(Kind::Echo, 10, "still here?")).await?;
    let reply = next(&bob).await?;
    tracing::info!(
        "   the other client goes on: #{} {:?}",
        reply.id,
        String::from_utf8_lossy(&reply.payload)
    );
    bob.close();

    lines.stop().await?;
    tagged.stop().await?;
    tracing::info!("6. servers stopped; done.");
    Ok(())
}
