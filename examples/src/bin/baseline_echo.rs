//! `baseline_echo`: the echo server a plain Tokio user writes, for castnet to
//! be measured against (`docs/bench-protocol.md`).
//!
//! One task per connection, tokio-util `Framed` with a `LengthDelimitedCodec`
//! configured from the flags, every frame sent back as it came. Two flush
//! policies (`--flush`):
//!
//! - `batch` (default): `feed` each frame, keep echoing while more frames are
//!   already readable, `flush` when the read side would wait. The strong
//!   baseline.
//! - `every`: `framed.send(frame)` per frame, the textbook loop; one write
//!   syscall per frame.
//!
//! TCP_NODELAY is set on every connection, as any request/response server
//! does, so Nagle's algorithm does not delay small echoes.
//!
//! `--runtime smol` runs the same loop on smol, over async-io's sockets
//! through `tokio_util::compat`: the plain smol server castnet-smol is
//! measured against.
//!
//! `--runtime std` is the thread-per-connection server a plain std user
//! writes (`baseline::threads`), what castnet-std is measured against: per
//! connection a reader thread (`BufReader`, one frame at a time) sends each
//! frame over a `sync_channel` of [`ECHO_QUEUE`] frames to a writer thread
//! (`BufWriter`, flushed whenever the channel is momentarily empty). A client
//! that does not read its echoes fills the channel, and the reader then
//! blocks instead of reading more: backpressure, as `Framed` gives. `--flush`
//! and `--workers` do not apply.
// A server binary: prints its `listening on` line and its last words.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, BufReader};
use std::process::ExitCode;
use std::sync::{mpsc, Arc};
use std::time::Duration;

use bytes::Bytes;

use castnet_examples::baseline::threads::{self, Framing};
use castnet_examples::baseline::{length_delimited, serve_smol, FlushMode};
use castnet_examples::flags::{RuntimeKind, ServerArgs};
use castnet_examples::server::{announce_listening, tokio_runtime, Shutdown};
use clap::Parser;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::compat::FuturesAsyncReadCompatExt;

/// Echo server on tokio-util's `Framed` + `LengthDelimitedCodec`.
#[derive(Debug, Parser)]
#[command(name = "baseline_echo", version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// When to flush echoed frames.
    #[arg(long, value_enum, default_value_t = FlushMode::Batch)]
    flush: FlushMode,
}

/// Frames a `--runtime std` connection's reader may hand its writer before
/// it waits for the writer: bounds what a client that does not read can
/// make the server hold, beyond the socket buffers.
const ECHO_QUEUE: usize = 64;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // tokio-util has no varint framing: `--header varint` is a usage error.
    cli.server.require_fixed_header::<Cli>();
    let result = match cli.server.runtime {
        RuntimeKind::Std => {
            let framing = Framing::new(&cli.server);
            threads::serve_threads(&cli.server, "baseline_echo", move |socket| {
                echo_threads(socket, framing)
            })
        }
        RuntimeKind::Smol => {
            let (codec, flush) = (length_delimited(&cli.server), cli.flush);
            serve_smol(&cli.server, "baseline_echo", move |socket| {
                let codec = codec.clone();
                async move {
                    let _ = echo(socket.compat(), codec, flush).await;
                }
            })
        }
        RuntimeKind::Tokio => {
            tokio_runtime(cli.server.workers).and_then(|rt| rt.block_on(serve(&cli)))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baseline_echo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts a connection's writer thread, then its reader thread. If the
/// reader cannot start, its end of the channel is dropped and the writer
/// ends at once.
fn echo_threads(socket: std::net::TcpStream, framing: Framing) -> io::Result<()> {
    let socket = Arc::new(socket);
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(ECHO_QUEUE);
    let out = Arc::clone(&socket);
    threads::spawn(move || threads::write_frames(&out, framing, rx))?;
    threads::spawn(move || {
        let mut input = BufReader::new(&*socket);
        // Ends at the client's end of stream, at a bad frame, or when the
        // writer has gone (its socket failed); the writer then writes what
        // is queued and the socket closes with the last of the two.
        while let Ok(Some(frame)) = framing.read_frame(&mut input) {
            if tx.send(frame).is_err() {
                break;
            }
        }
    })?;
    Ok(())
}

async fn serve(cli: &Cli) -> io::Result<()> {
    let shutdown = Shutdown::install()?;
    let listener = TcpListener::bind(cli.server.addr).await?;
    announce_listening(listener.local_addr()?)?;
    let codec = length_delimited(&cli.server);
    let accept = tokio::spawn(accept_loop(listener, codec, cli.flush));
    shutdown.wait().await;
    // Stop accepting; dropping the runtime then cancels every connection.
    accept.abort();
    Ok(())
}

async fn accept_loop(listener: TcpListener, codec: LengthDelimitedCodec, flush: FlushMode) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                let codec = codec.clone();
                tokio::spawn(async move {
                    // A client leaving, even mid-frame, is the normal end of a
                    // benchmark connection: nothing to report.
                    if socket.set_nodelay(true).is_ok() {
                        let _ = echo(socket, codec, flush).await;
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // rather than spin, and keep serving the connections we have.
                eprintln!("baseline_echo: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn echo<S>(socket: S, codec: LengthDelimitedCodec, flush: FlushMode) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut framed = Framed::new(socket, codec);
    match flush {
        FlushMode::Every => {
            while let Some(frame) = framed.next().await {
                framed.send(frame?.freeze()).await?;
            }
        }
        FlushMode::Batch => {
            while let Some(frame) = framed.next().await {
                framed.feed(frame?.freeze()).await?;
                // Echo whatever else is ready without waiting; Tokio's task
                // budget makes `now_or_never` yield `None` eventually.
                while let Some(next) = framed.next().now_or_never() {
                    match next {
                        Some(frame) => framed.feed(frame?.freeze()).await?,
                        None => return SinkExt::<Bytes>::flush(&mut framed).await,
                    }
                }
                SinkExt::<Bytes>::flush(&mut framed).await?;
            }
        }
    }
    Ok(())
}
