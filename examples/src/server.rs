//! What every benchmark server does around its serving loop: build its
//! runtime, announce the bound address, and stop on SIGINT/SIGTERM.
//!
//! The order matters: install [`Shutdown`] first, then bind, then
//! [`announce_listening`]. A test or script that reads the `listening on`
//! line and signals right away must find the handlers already in place,
//! otherwise the default action kills the process instead of a clean exit 0.

use bytes::Bytes;
use castnet_core::frame::{Decoder, Encoder};
use castnet_engine::{Handler, Runtime};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;

/// Prints the one line `listening on ADDR` that `docs/bench-protocol.md` asks
/// for, and flushes it, so whoever started the server can read the bound
/// address (port 0 resolves to the real port here).
///
/// This is the protocol's handshake line on stdout, not a log message.
pub fn announce_listening(addr: SocketAddr) -> io::Result<()> {
    announce(&format!("listening on {addr}"))
}

/// Prints one handshake line on stdout (not a log message) and flushes it,
/// for whoever started the process to read.
pub fn announce(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

/// A multi-threaded Tokio runtime with `workers` worker threads and every
/// driver enabled: what `#[tokio::main]` builds, with the count from
/// `--workers`.
pub fn tokio_runtime(workers: usize) -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .enable_all()
        .build()
}

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopSignal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

/// SIGINT and SIGTERM handlers, installed when this is created.
///
/// Create it inside a Tokio runtime before announcing the address, then
/// `wait` for it to stop serving.
#[derive(Debug)]
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Shutdown {
    /// Installs the handlers. Must run inside a Tokio runtime with its IO
    /// driver enabled.
    pub fn install() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Shutdown {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Shutdown {})
        }
    }

    /// Waits for SIGINT or SIGTERM and says which came.
    pub async fn wait(mut self) -> StopSignal {
        self.wait_mut().await
    }

    #[cfg(unix)]
    async fn wait_mut(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.interrupt.recv() => StopSignal::Interrupt,
            _ = self.terminate.recv() => StopSignal::Terminate,
        }
    }

    #[cfg(not(unix))]
    async fn wait_mut(&mut self) -> StopSignal {
        // Ctrl-C is the only portable stop request; if the handler cannot be
        // installed there is nothing to wait for, so stop at once.
        let _ = tokio::signal::ctrl_c().await;
        StopSignal::Interrupt
    }

    /// For servers that do not run on Tokio (smol, blocking std threads):
    /// installs the handlers on a helper thread that runs a small Tokio
    /// runtime of its own, and returns once they are in place.
    pub fn install_blocking() -> io::Result<BlockingShutdown> {
        let (installed_tx, installed_rx) = mpsc::sync_channel(1);
        let (stop_tx, stop_rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("castnet-signals".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = installed_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Shutdown::install() {
                        Ok(shutdown) => {
                            let _ = installed_tx.send(Ok(()));
                            let _ = stop_tx.send(shutdown.wait().await);
                        }
                        Err(e) => {
                            let _ = installed_tx.send(Err(e));
                        }
                    }
                });
            })?;
        installed_rx
            .recv()
            .map_err(|_| io::Error::other("signal thread ended before installing handlers"))??;
        Ok(BlockingShutdown { stop: stop_rx })
    }
}

/// For a server on its own `mio` loop: installs the signal handlers and a
/// helper thread that wakes `registry`'s poll with `token` on SIGINT or
/// SIGTERM. Keep the returned waker for as long as the poll runs: dropping
/// the last one closes it, and the wake-up could be lost.
pub fn wake_on_signal(registry: &mio::Registry, token: mio::Token) -> io::Result<Arc<mio::Waker>> {
    let waker = Arc::new(mio::Waker::new(registry, token)?);
    let shutdown = Shutdown::install_blocking()?;
    let signal = Arc::clone(&waker);
    std::thread::spawn(move || {
        shutdown.wait();
        let _ = signal.wake();
    });
    Ok(waker)
}

/// The blocking side of [`Shutdown::install_blocking`].
#[derive(Debug)]
pub struct BlockingShutdown {
    stop: mpsc::Receiver<StopSignal>,
}

impl BlockingShutdown {
    /// Blocks until SIGINT or SIGTERM arrives.
    pub fn wait(self) -> StopSignal {
        // The helper thread only ends after sending, so a closed channel
        // cannot happen; treat it as a stop request all the same.
        self.stop.recv().unwrap_or(StopSignal::Terminate)
    }

    /// The signal, if one has arrived, without blocking.
    pub fn triggered(&self) -> Option<StopSignal> {
        self.stop.try_recv().ok()
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn blocking_shutdown_returns_when_the_process_gets_sigterm() {
        let shutdown = Shutdown::install_blocking().unwrap();
        assert_eq!(shutdown.triggered(), None);
        // The handler is installed, so this does not kill the test process.
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let signal = loop {
            if let Some(signal) = shutdown.triggered() {
                break signal;
            }
            assert!(Instant::now() < deadline, "SIGTERM not seen within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(signal, StopSignal::Terminate);
    }
}

/// What a bench server needs of its codec: byte frames in, byte frames
/// out. [`PacketN`](castnet_core::frame::PacketN) (`--header 1|2|4|8`) and
/// [`VarintCodec`](castnet_core::frame::VarintCodec) (`--header varint`)
/// are both; each server is compiled once for each.
pub trait BenchCodec:
    Decoder<Item = Bytes> + Encoder<Bytes> + Clone + Send + Sync + 'static
{
}

impl<C> BenchCodec for C where
    C: Decoder<Item = Bytes> + Encoder<Bytes> + Clone + Send + Sync + 'static
{
}

/// A castnet bench server's handler, built once its server is bound (it
/// may keep the server, for broadcasts), on whichever runtime serves and
/// whichever codec `--header` picks.
pub trait BenchApp {
    /// The handler serving every connection of `server`.
    fn handler<R: Runtime + Default, C: BenchCodec>(
        server: &castnet_engine::Server<R, C>,
    ) -> impl Handler<C>;
}

/// The whole life of a castnet bench server, shared by `echo_server` and
/// `fanout_server`: parse the flags, build the codec `--header` names
/// (PacketN, or the varint codec) and the runtime the `--runtime` flag names
/// (`tokio`, `smol` or `std`, with `--workers` threads), install the signal
/// handlers, bind, announce, serve with `A`'s handler, and stop gracefully
/// on SIGINT/SIGTERM. Returns the process exit code.
pub fn run_castnet_server<A: BenchApp>(name: &str) -> std::process::ExitCode {
    use crate::flags::{Codec, ServerArgs};
    use clap::Parser;
    use std::process::ExitCode;

    let args = ServerArgs::parse();
    crate::init_tracing();
    let served = match args.codec() {
        Ok(Codec::Packet(codec)) => run_with::<A, _>(&args, codec),
        Ok(Codec::Varint(codec)) => run_with::<A, _>(&args, codec),
        Err(e) => {
            tracing::error!(error = %e, "bad codec flags");
            return ExitCode::from(2);
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} failed");
            ExitCode::FAILURE
        }
    }
}

/// [`run_castnet_server`] once the codec is known: on the runtime
/// `--runtime` names, until a signal.
fn run_with<A: BenchApp, C: BenchCodec>(
    args: &crate::flags::ServerArgs,
    codec: C,
) -> io::Result<()> {
    use crate::flags::RuntimeKind;

    let config = castnet_engine::Config::new(codec);
    match args.runtime {
        RuntimeKind::Tokio => tokio_runtime(args.workers).and_then(|rt| {
            rt.block_on(async {
                let stop = Shutdown::install()?.wait();
                serve::<castnet_tokio::Tokio, A, C>(args.addr, config, stop).await
            })
        }),
        RuntimeKind::Smol => {
            // smol's global executor reads its thread count once, at its
            // first spawn, from this variable; nothing else runs yet.
            std::env::set_var("SMOL_THREADS", args.workers.max(1).to_string());
            Shutdown::install_blocking().and_then(|shutdown| {
                smol::block_on(async {
                    let stop = smol::unblock(move || shutdown.wait());
                    serve::<castnet_smol::Smol, A, C>(args.addr, config, stop).await
                })
            })
        }
        RuntimeKind::Std => {
            // castnet-std's loop count is read once, at its first use.
            std::env::set_var("CASTNET_STD_THREADS", args.workers.max(1).to_string());
            Shutdown::install_blocking().and_then(|shutdown| {
                let (tx, rx) = async_channel::bounded(1);
                std::thread::spawn(move || tx.send_blocking(shutdown.wait()));
                let stop = async move { rx.recv().await.unwrap_or(StopSignal::Terminate) };
                castnet_std::block_on(serve::<castnet_std::Std, A, C>(args.addr, config, stop))
            })
        }
    }
}

/// Binds, announces, serves until `stop`, then stops gracefully.
async fn serve<R, A, C>(
    addr: SocketAddr,
    config: castnet_engine::Config<C>,
    stop: impl std::future::Future<Output = StopSignal>,
) -> io::Result<()>
where
    R: Runtime + Default,
    A: BenchApp,
    C: BenchCodec,
{
    let server: castnet_engine::Server<R, C> = castnet_engine::Server::bind(addr, config).await?;
    if let castnet_engine::LocalAddr::Tcp(addr) = server.local_addr() {
        announce_listening(*addr)?;
    }
    let handler = A::handler(&server);
    let (done_tx, done_rx) = async_channel::bounded(1);
    {
        let server = server.clone();
        server.runtime().clone().spawn(async move {
            let _ = done_tx.send(server.serve(handler).await).await;
        });
    }
    let signal = stop.await;
    tracing::info!(?signal, "stopping");
    server.stop().await;
    tracing::info!(stats = ?server.stats(), "final counters");
    done_rx
        .recv()
        .await
        .map_err(|_| io::Error::other("serve ended without a result"))?
}

/// A castnet-tokio server serving its handler on a Tokio task: how the
/// tours (`p2p_router`, `custom_codec`) run theirs beside their clients.
pub struct Serving<C: castnet_core::Decoder> {
    server: castnet_tokio::Server<C>,
    task: tokio::task::JoinHandle<io::Result<()>>,
}

impl<C> Serving<C>
where
    C: castnet_core::Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    /// Serves `handler` (with per-session state `S`) on `server` (bound
    /// already) on a new Tokio task.
    pub fn start<H, S>(server: castnet_tokio::Server<C>, handler: H) -> Self
    where
        H: Handler<C, S>,
        S: Default + Send + 'static,
    {
        let task = tokio::spawn({
            let server = server.clone();
            async move { server.serve(handler).await }
        });
        Serving { server, task }
    }

    /// The server.
    pub fn server(&self) -> &castnet_tokio::Server<C> {
        &self.server
    }

    /// Where it listens (a TCP address).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.server.local_addr() {
            castnet_tokio::LocalAddr::Tcp(addr) => Ok(*addr),
            other => Err(io::Error::other(format!("not a TCP address: {other}"))),
        }
    }

    /// Stops the server gracefully and waits for its task.
    pub async fn stop(self) -> io::Result<()> {
        self.server.stop().await;
        self.task.await.map_err(io::Error::other)?
    }
}
