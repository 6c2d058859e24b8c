//! Creating a connection's handle and owner, and the client side: dialling.

use crate::config::Config;
use crate::handle::{Session, Shared};
use crate::handler::{Handler, HandlerSink};
use crate::owner::{Conn, Owner, Sink};
use crate::recv::{recv_queue, RecvSink};
use crate::runtime::{AsyncStream, Runtime, Stream};
use crate::stats::StatsCell;
use crate::sync::AtomicBool;
use crate::wait::Signal;
use castnet_core::hub::PeerAddr;
use castnet_core::session::{CloseReason, Session as CoreSession};
use castnet_core::sync::{QueueBound, SendQuota};
use castnet_core::{Decoder, SessionId};
use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;
use std::path::Path;
use std::sync::Arc;
use tracing::Instrument;

/// A dialled session's frames go to `recv`.
impl<C> Sink<C> for RecvSink<C::Item>
where
    C: Decoder,
    C::Item: Send,
{
    type State = ();

    fn frame(&mut self, _cx: &mut Conn<'_, C>, frame: C::Item) -> bool {
        self.deliver(frame)
    }

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.poll_room(cx)
    }

    fn closed(&mut self, _session: Option<&Session<C>>, _state: (), _reason: &CloseReason) {
        self.close();
    }
}

/// Which side a connection is on.
pub(crate) enum Role {
    /// A dialled session: frames go to `recv`.
    Client,
    /// A dialled session run by a handler: its owner keeps a handle for the
    /// callbacks, as a server's does.
    ClientHandler,
    /// A server's session: frames go to its handler, and it follows the
    /// server's broadcast lane.
    Server(crate::lane::Subscription),
}

/// Creates the handle and the owner of one connection. `make_sink` builds
/// the sink from the recv channel, if any.
pub(crate) fn start<C, S>(
    id: SessionId,
    peer: PeerAddr,
    config: &Config<C>,
    stats: Arc<StatsCell>,
    role: Role,
    now: std::time::Instant,
    make_sink: impl FnOnce(Option<RecvSink<C::Item>>) -> S,
) -> (Session<C>, Box<Owner<C, S>>)
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    S: Sink<C>,
{
    let (tx, inbox) = crate::inbox::inbox();
    let (frames_tx, frames_rx, lanes, server) = match role {
        Role::Client => {
            let (sink, queue) = recv_queue(config.recv_buffer);
            (Some(sink), Some(queue), Vec::new(), false)
        }
        Role::ClientHandler => (None, None, Vec::new(), true),
        Role::Server(lane) => (None, None, vec![lane], true),
    };
    let shared = Arc::new(Shared {
        id,
        peer,
        codec: config.codec.clone(),
        quota: SendQuota::new(QueueBound {
            max_bytes: config.session.max_queue_bytes() as u64,
            max_frames: config.session.max_queue_frames() as u64,
        }),
        room: Signal::new(),
        closed: AtomicBool::new(false),
        finished: Signal::new(),
        finished_flag: AtomicBool::new(false),
        close_reason: std::sync::OnceLock::new(),
        frames: frames_rx,
        stats: stats.clone(),
    });
    let session = Session {
        shared: shared.clone(),
        inbox: tx,
    };
    let sink = make_sink(frames_tx);
    let core = CoreSession::new(config.codec.clone(), config.session.clone(), now);
    // A handler-run session's owner keeps a handle for its handler; a
    // client that receives through `recv` does not, so it closes once its
    // users dropped every handle.
    let handle = server.then(|| session.clone());
    let mut owner = Box::new(Owner::new(core, shared, handle, inbox, sink, stats, lanes))
        .with_max_timers(config.max_timers);
    owner.set_peer_heartbeat(config.peer_heartbeat.clone());
    (session, owner)
}

/// Connects to a TCP server on `runtime` and returns the session; frames
/// from the server arrive through [`Session::recv`], and once it returns
/// `None`, [`Session::close_reason`] says why the session closed. Each
/// resolved address is tried in turn. Dropping every handle closes the
/// session gracefully.
pub async fn dial_with<R, C>(
    runtime: &R,
    addr: impl ToSocketAddrs,
    config: Config<C>,
) -> io::Result<Session<C>>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    let (stream, peer) = connect_tcp(runtime, addr, &config).await?;
    Ok(spawn_client(
        runtime,
        stream,
        peer,
        &config,
        Role::Client,
        |sink| sink.expect("client sessions receive through recv"),
    ))
}

/// Connects to a TCP server on `runtime` and runs the session with
/// `handler`, as a server runs its sessions: `on_open` first, then
/// `on_frame` for every frame (with the session's state `S`), `on_sent`
/// when asked for, and `on_close` last, on the connection's task. Returns
/// the session's handle, to send from elsewhere, close it, or await
/// [`Session::closed`]; [`Session::recv`] returns `None` at once, since
/// frames go to the handler.
///
/// Unlike a session dialled with [`dial_with`], this one does not close
/// when its handles are dropped: its handler holds it. It ends when
/// either side closes it ([`Conn::close`], [`Session::close`]) or the
/// connection fails.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_core::session::CloseReason;
/// use castnet_engine::{Config, Conn, Handler, Runtime, Session};
///
/// /// Says hello, counts the answers, and hangs up after the third.
/// struct Caller;
///
/// impl Handler<PacketN, u32> for Caller {
///     fn on_open(&self, cx: &mut Conn<'_, PacketN, u32>) {
///         let _ = cx.send("hello");
///     }
///     fn on_frame(&self, cx: &mut Conn<'_, PacketN, u32>, _: Bytes) {
///         *cx.state() += 1;
///         if *cx.state() == 3 {
///             cx.close();
///         }
///     }
///     fn on_close(&self, _: &Session<PacketN>, answers: u32, why: &CloseReason) {
///         tracing::info!(answers, %why, "hung up");
///     }
/// }
///
/// async fn call<R: Runtime>(rt: &R) -> std::io::Result<CloseReason> {
///     let session =
///         castnet_engine::dial_handler_with(rt, "127.0.0.1:7000", Config::default(), Caller)
///             .await?;
///     Ok(session.closed().await)
/// }
/// ```
pub async fn dial_handler_with<R, C, H, S>(
    runtime: &R,
    addr: impl ToSocketAddrs,
    config: Config<C>,
    handler: H,
) -> io::Result<Session<C>>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    H: Handler<C, S>,
    S: Default + Send + 'static,
{
    let (stream, peer) = connect_tcp(runtime, addr, &config).await?;
    Ok(spawn_handler_client(
        runtime, stream, peer, &config, handler,
    ))
}

/// Connects to a Unix-socket server at `path` on `runtime`.
pub async fn dial_unix_with<R, C>(
    runtime: &R,
    path: impl AsRef<Path>,
    config: Config<C>,
) -> io::Result<Session<C>>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    let (stream, peer) = connect_unix(runtime, path.as_ref()).await?;
    Ok(spawn_client(
        runtime,
        stream,
        peer,
        &config,
        Role::Client,
        |sink| sink.expect("client sessions receive through recv"),
    ))
}

/// [`dial_handler_with`] to a Unix-socket server at `path`.
pub async fn dial_unix_handler_with<R, C, H, S>(
    runtime: &R,
    path: impl AsRef<Path>,
    config: Config<C>,
    handler: H,
) -> io::Result<Session<C>>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    H: Handler<C, S>,
    S: Default + Send + 'static,
{
    let (stream, peer) = connect_unix(runtime, path.as_ref()).await?;
    Ok(spawn_handler_client(
        runtime, stream, peer, &config, handler,
    ))
}

/// Connects to the first address of `addr` that answers, with the
/// config's socket options.
async fn connect_tcp<R: Runtime, C>(
    runtime: &R,
    addr: impl ToSocketAddrs,
    config: &Config<C>,
) -> io::Result<(Stream<R>, PeerAddr)> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match runtime.connect_tcp(addr).await {
            Ok(stream) => {
                config.socket.apply_tcp(&stream.socket())?;
                return Ok((Stream::Tcp(stream), PeerAddr::Ip(addr)));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to dial")))
}

async fn connect_unix<R: Runtime>(runtime: &R, path: &Path) -> io::Result<(Stream<R>, PeerAddr)> {
    let stream = runtime.connect_unix(path).await?;
    Ok((
        Stream::Unix(stream),
        PeerAddr::Unix(Some(path.to_path_buf())),
    ))
}

fn spawn_handler_client<R, C, H, S>(
    runtime: &R,
    stream: Stream<R>,
    peer: PeerAddr,
    config: &Config<C>,
    handler: H,
) -> Session<C>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    H: Handler<C, S>,
    S: Default + Send + 'static,
{
    let handler = Arc::new(handler);
    spawn_client(runtime, stream, peer, config, Role::ClientHandler, |_| {
        HandlerSink::new(handler, ())
    })
}

fn spawn_client<R, C, K>(
    runtime: &R,
    stream: Stream<R>,
    peer: PeerAddr,
    config: &Config<C>,
    role: Role,
    make_sink: impl FnOnce(Option<RecvSink<C::Item>>) -> K,
) -> Session<C>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Sink<C> + 'static,
{
    let stats = Arc::new(StatsCell::default());
    let id = SessionId::allocate();
    let span = tracing::debug_span!("session", id = id.get(), %peer);
    let (session, owner) = start(id, peer, config, stats, role, runtime.now(), make_sink);
    let drain = config.socket.close_drain;
    let rt = runtime.clone();
    let task = async move {
        let closed = crate::drive::drive(rt.clone(), stream, owner).await;
        if let Some(closed) = closed.needs_drain(drain) {
            closed.drain(&rt, drain).await;
        }
    };
    runtime.spawn(task.instrument(span));
    session
}

/// [`dial_with`] that gives up with [`io::ErrorKind::TimedOut`] after
/// `timeout`.
pub async fn dial_timeout_with<R, C>(
    runtime: &R,
    addr: impl ToSocketAddrs,
    timeout: std::time::Duration,
    config: Config<C>,
) -> io::Result<Session<C>>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    use crate::runtime::AsyncTimer;
    let mut timer = runtime.timer(runtime.now() + timeout);
    let mut dial = std::pin::pin!(dial_with(runtime, addr, config));
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(result) = dial.as_mut().poll(cx) {
            return std::task::Poll::Ready(result);
        }
        timer
            .poll_fired(cx)
            .map(|()| Err(io::Error::new(io::ErrorKind::TimedOut, "dial timed out")))
    })
    .await
}
