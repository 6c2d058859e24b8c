//! `baseline_fanout`: the broadcast server a plain Tokio user writes, for
//! castnet to be measured against (`docs/bench-protocol.md`).
//!
//! One `tokio::sync::broadcast` channel. Each connection task reads frames
//! with a `FramedRead` and sends each into the channel, and writes every
//! channel message (its own included) to its socket with a `FramedWrite`.
//! Each recipient's encoder copies the payload into its own write buffer:
//! the payload is shared, the encoding is not.
//!
//! A slow client does not stall the others: the channel keeps the last
//! `--capacity` messages, and a receiver that falls further behind gets
//! `RecvError::Lagged(n)`, skips those `n` messages and goes on, as the
//! broadcast documentation suggests. The skipped total is printed on exit.
//!
//! `--flush batch` (default) feeds every message already waiting in the
//! channel and flushes once; `--flush every` sends (and flushes) each.
//!
//! `--runtime smol` runs the same tasks on smol (`tokio::sync::broadcast`
//! needs no Tokio runtime), over async-io's sockets through
//! `tokio_util::compat`, each connection read and written through two
//! descriptors of its socket: the plain smol server castnet-smol is measured
//! against.
//!
//! `--runtime std` is the thread-per-connection server a plain std user
//! writes (`baseline::threads`), what castnet-std is measured against: per
//! connection a reader thread reads frames (`BufReader`) and publishes each,
//! as one shared `Arc<Vec<u8>>`, to every connection's writer thread through
//! that writer's bounded `sync_channel` of `--capacity` messages; the writer
//! encodes each into its `BufWriter` and flushes whenever its channel is
//! momentarily empty. The subscriber list is a `Mutex<Vec<_>>`, held while
//! a frame is handed to every subscriber. A publisher never waits for a slow
//! subscriber: it `try_send`s, and a subscriber whose channel is full skips
//! that message (the newest, where `tokio::sync::broadcast` makes a lagging
//! receiver skip the oldest; neither disconnects it). The skipped total is
//! printed on exit, as on Tokio. `--flush` and `--workers` do not apply.
// A server binary: prints its `listening on` line and its last words.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, BufReader};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_io::Async;
use bytes::Bytes;
use castnet_examples::baseline::threads::{self, Framing};
use castnet_examples::baseline::{length_delimited, serve_smol, FlushMode};
use castnet_examples::flags::{RuntimeKind, ServerArgs};
use castnet_examples::server::{announce_listening, tokio_runtime, Shutdown};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};
use tokio_util::compat::FuturesAsyncReadCompatExt;

/// Fan-out server on `tokio::sync::broadcast` and tokio-util codecs.
#[derive(Debug, Parser)]
#[command(name = "baseline_fanout", version)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// When to flush delivered frames.
    #[arg(long, value_enum, default_value_t = FlushMode::Batch)]
    flush: FlushMode,
    /// Messages the broadcast channel keeps for slow receivers (std: each
    /// subscriber's channel).
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    capacity: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // tokio-util has no varint framing: `--header varint` is a usage error.
    cli.server.require_fixed_header::<Cli>();
    let lagged = Arc::new(AtomicU64::new(0));
    let result = match cli.server.runtime {
        RuntimeKind::Std => serve_threads_fanout(&cli, Arc::clone(&lagged)),
        RuntimeKind::Smol => serve_smol_fanout(&cli, Arc::clone(&lagged)),
        RuntimeKind::Tokio => tokio_runtime(cli.server.workers)
            .and_then(|rt| rt.block_on(serve(&cli, Arc::clone(&lagged)))),
    };
    let skipped = lagged.load(Ordering::Relaxed);
    if skipped > 0 {
        eprintln!("baseline_fanout: lagging receivers skipped {skipped} messages");
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baseline_fanout: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(cli: &Cli, lagged: Arc<AtomicU64>) -> io::Result<()> {
    let shutdown = Shutdown::install()?;
    let listener = TcpListener::bind(cli.server.addr).await?;
    announce_listening(listener.local_addr()?)?;
    let codec = length_delimited(&cli.server);
    let capacity = usize::try_from(cli.capacity).unwrap_or(usize::MAX);
    let (tx, _) = broadcast::channel::<Bytes>(capacity);
    let accept = tokio::spawn(accept_loop(listener, codec, tx, cli.flush, lagged));
    shutdown.wait().await;
    accept.abort();
    Ok(())
}

fn serve_smol_fanout(cli: &Cli, lagged: Arc<AtomicU64>) -> io::Result<()> {
    let codec = length_delimited(&cli.server);
    let capacity = usize::try_from(cli.capacity).unwrap_or(usize::MAX);
    let (tx, _) = broadcast::channel::<Bytes>(capacity);
    let flush = cli.flush;
    serve_smol(&cli.server, "baseline_fanout", move |socket| {
        // Subscribe before spawning, as the Tokio flavour does.
        let rx = tx.subscribe();
        let (tx, codec, lagged) = (tx.clone(), codec.clone(), Arc::clone(&lagged));
        async move {
            let Ok(writer) = socket.get_ref().try_clone().and_then(Async::new) else {
                return;
            };
            let (rd, wr) = (socket.compat(), writer.compat());
            let _ = client(rd, wr, codec, tx, rx, flush, &lagged).await;
        }
    })
}

/// One published frame, shared by every subscriber's channel.
type Message = Arc<Vec<u8>>;

/// `--runtime std`: the writer channel of every connection, by connection
/// number.
#[derive(Default)]
struct Subscribers {
    list: Mutex<Vec<(u64, SyncSender<Message>)>>,
    next_id: AtomicU64,
}

impl Subscribers {
    fn subscribe(&self, tx: SyncSender<Message>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, tx));
        id
    }

    fn unsubscribe(&self, id: u64) {
        self.lock().retain(|(each, _)| *each != id);
    }

    /// Hands `message` to every subscriber without waiting: a full channel
    /// skips it (counted in `lagged`), a closed one leaves the list.
    fn publish(&self, message: &Message, lagged: &AtomicU64) {
        self.lock()
            .retain(|(_, tx)| match tx.try_send(Arc::clone(message)) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    lagged.fetch_add(1, Ordering::Relaxed);
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, SyncSender<Message>)>> {
        // Nothing panics while holding it; a poisoned list is still whole.
        self.list.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn serve_threads_fanout(cli: &Cli, lagged: Arc<AtomicU64>) -> io::Result<()> {
    let framing = Framing::new(&cli.server);
    let capacity = usize::try_from(cli.capacity).unwrap_or(usize::MAX);
    let subscribers = Arc::new(Subscribers::default());
    threads::serve_threads(&cli.server, "baseline_fanout", move |socket| {
        let socket = Arc::new(socket);
        let (tx, rx) = mpsc::sync_channel::<Message>(capacity);
        // Subscribed before its threads start, as the Tokio flavour does.
        let id = subscribers.subscribe(tx);
        let out = Arc::clone(&socket);
        let (subs, lagged) = (Arc::clone(&subscribers), Arc::clone(&lagged));
        let started =
            threads::spawn(move || threads::write_frames(&out, framing, rx)).and_then(|_| {
                threads::spawn(move || {
                    let mut input = BufReader::new(&*socket);
                    // Ends at the client's end of stream, at a bad frame, or
                    // when the writer hung up (its socket failed).
                    while let Ok(Some(frame)) = framing.read_frame(&mut input) {
                        subs.publish(&Arc::new(frame), &lagged);
                    }
                    // The writer ends once its channel is gone; what it
                    // still holds is dropped with the connection, as on Tokio.
                    subs.unsubscribe(id);
                    threads::hang_up(&socket);
                })
            });
        if started.is_err() {
            subscribers.unsubscribe(id);
        }
        started.map(drop)
    })
}

async fn accept_loop(
    listener: TcpListener,
    codec: LengthDelimitedCodec,
    tx: broadcast::Sender<Bytes>,
    flush: FlushMode,
    lagged: Arc<AtomicU64>,
) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                // Subscribe before spawning: the client gets everything
                // broadcast from the moment it was accepted.
                let rx = tx.subscribe();
                let (tx, codec, lagged) = (tx.clone(), codec.clone(), Arc::clone(&lagged));
                tokio::spawn(async move {
                    // A client leaving is the normal end of a connection.
                    if socket.set_nodelay(true).is_ok() {
                        let (rd, wr) = socket.into_split();
                        let _ = client(rd, wr, codec, tx, rx, flush, &lagged).await;
                    }
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off briefly
                // rather than spin, and keep serving the connections we have.
                eprintln!("baseline_fanout: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn client<R, W>(
    rd: R,
    wr: W,
    codec: LengthDelimitedCodec,
    tx: broadcast::Sender<Bytes>,
    mut rx: broadcast::Receiver<Bytes>,
    flush: FlushMode,
    lagged: &AtomicU64,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut frames = FramedRead::new(rd, codec.clone());
    let mut out = FramedWrite::new(wr, codec);
    loop {
        tokio::select! {
            frame = frames.next() => match frame {
                // `send` fails only when nobody listens; this task does.
                Some(frame) => { let _ = tx.send(frame?.freeze()); }
                None => return Ok(()),
            },
            message = rx.recv() => match message {
                Ok(message) => match flush {
                    FlushMode::Every => out.send(message).await?,
                    FlushMode::Batch => {
                        out.feed(message).await?;
                        loop {
                            match rx.try_recv() {
                                Ok(message) => out.feed(message).await?,
                                Err(TryRecvError::Lagged(n)) => {
                                    lagged.fetch_add(n, Ordering::Relaxed);
                                }
                                Err(_) => break,
                            }
                        }
                        SinkExt::<Bytes>::flush(&mut out).await?;
                    }
                },
                Err(RecvError::Lagged(n)) => {
                    lagged.fetch_add(n, Ordering::Relaxed);
                }
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}
