//! Starting a connection task, and the client side: `dial`.

use crate::config::Config;
use crate::driver::{self, Sink};
use crate::recv::{recv_queue, RecvSink};
use crate::session::{Session, Shared};
use crate::socket::Stream;
use crate::stats::StatsCell;
use castnet_core::hub::PeerAddr;
use castnet_core::session::Session as CoreSession;
use castnet_core::sync::{QueueBound, SendQuota};
use castnet_core::{Decoder, SessionId};
use std::future::Future;
use std::io;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpStream, ToSocketAddrs, UnixStream};
use tokio::sync::{mpsc, Notify};
use tracing::Instrument;

/// Which side a connection is on.
pub(crate) enum Role {
    /// A dialled session: frames go to `recv`.
    Client,
    /// A server's session: frames go to its handler, and it follows the
    /// server's broadcast lane.
    Server(crate::lane::Subscription),
}

/// Creates the handle and the owner task of one connection. `make_sink` builds
/// the sink from the handle (a handler needs it) and the recv channel, if any.
pub(crate) fn start<C, S>(
    stream: Stream,
    id: SessionId,
    peer: PeerAddr,
    config: &Config<C>,
    stats: Arc<StatsCell>,
    role: Role,
    make_sink: impl FnOnce(Session<C>, Option<RecvSink<C::Item>>) -> S,
) -> (Session<C>, impl Future<Output = ()> + Send + 'static)
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    S: Sink<C> + 'static,
{
    let (tx, inbox) = mpsc::unbounded_channel();
    let (frames_tx, frames_rx, lane) = match role {
        Role::Client => {
            let (sink, queue) = recv_queue(config.recv_buffer);
            (Some(sink), Some(queue), Vec::new())
        }
        Role::Server(lane) => (None, None, vec![lane]),
    };
    let shared = Arc::new(Shared {
        id,
        peer: peer.clone(),
        codec: config.codec.clone(),
        quota: SendQuota::new(QueueBound {
            max_bytes: config.session.max_queue_bytes() as u64,
            max_frames: config.session.max_queue_frames() as u64,
        }),
        room: Notify::new(),
        closed: AtomicBool::new(false),
        finished: Notify::new(),
        finished_flag: AtomicBool::new(false),
        frames: frames_rx,
        stats: stats.clone(),
    });
    let session = Session {
        shared: shared.clone(),
        inbox: tx,
    };
    let sink = make_sink(session.clone(), frames_tx);
    let core = CoreSession::new(
        config.codec.clone(),
        config.session.clone(),
        tokio::time::Instant::now().into_std(),
    );
    let span = tracing::debug_span!("session", id = id.get(), %peer);
    let task = driver::drive(stream, core, shared, inbox, sink, stats, lane).instrument(span);
    (session, task)
}

/// Connects to a TCP server and returns the session. Frames from the server
/// arrive through [`Session::recv`].
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use castnet_tokio::{dial, Config};
///
/// let session = dial("127.0.0.1:7000", Config::default()).await?;
/// session.send("hello").await.ok();
/// let reply = session.recv().await;
/// # let _ = reply; Ok(()) }
/// ```
pub async fn dial<C>(addr: impl ToSocketAddrs, config: Config<C>) -> io::Result<Session<C>>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    let stream = TcpStream::connect(addr).await?;
    config.socket.apply_tcp(&stream)?;
    let peer = PeerAddr::Ip(stream.peer_addr()?);
    Ok(spawn_client(Stream::Tcp(stream), peer, &config))
}

/// [`dial`] that gives up with [`io::ErrorKind::TimedOut`] after `timeout`.
pub async fn dial_timeout<C>(
    addr: impl ToSocketAddrs,
    timeout: Duration,
    config: Config<C>,
) -> io::Result<Session<C>>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    match tokio::time::timeout(timeout, dial(addr, config)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "dial timed out")),
    }
}

/// Connects to a Unix-socket server at `path`.
pub async fn dial_unix<C>(path: impl AsRef<Path>, config: Config<C>) -> io::Result<Session<C>>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    let path = path.as_ref();
    let stream = UnixStream::connect(path).await?;
    let peer = PeerAddr::Unix(Some(path.to_path_buf()));
    Ok(spawn_client(Stream::Unix(stream), peer, &config))
}

fn spawn_client<C>(stream: Stream, peer: PeerAddr, config: &Config<C>) -> Session<C>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    let stats = Arc::new(StatsCell::default());
    let (session, task) = start(
        stream,
        SessionId::allocate(),
        peer,
        config,
        stats,
        Role::Client,
        |_, sink| sink.expect("client sessions receive through recv"),
    );
    tokio::spawn(task);
    session
}
