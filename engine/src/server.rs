//! [`Server`]: accept, admit, serve, channels, broadcast, graceful stop.

use crate::accept::{AcceptError, Backoff};
use crate::config::Config;
use crate::connect::{start, Role};
use crate::drive::Tick;
use crate::handle::{BroadcastShared, Session, TrySendError};
use crate::handler::{Handler, HandlerSink, Leave};
use crate::lane::Lane;
use crate::owner::Conn;
use crate::runtime::{Listener, Runtime, Stream, UnixPath};
use crate::stats::{Stats, StatsCell};
use crate::sync::{AtomicBool, AtomicUsize, Mutex, MutexGuard};
use crate::wait::Signal;
use bytes::Bytes;
use castnet_core::frame::{Encoder, FrameError};
use castnet_core::hub::{BroadcastReport, Hub, PeerAddr, Recipients, RegisterError, ServerState};
use castnet_core::{Decoder, SessionId};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;
use std::task::Poll;

type KickHook<C, K> = Box<dyn Fn(&Session<C>, &K) + Send + Sync>;

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalAddr {
    /// A TCP address (with the real port when bound to port 0).
    Tcp(SocketAddr),
    /// A Unix-socket path.
    Unix(PathBuf),
}

impl std::fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalAddr::Tcp(a) => a.fmt(f),
            LocalAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

struct Inner<R: Runtime, C: Decoder, K> {
    runtime: R,
    hub: Mutex<Hub<K, Option<Session<C>>>>,
    kick_hooks: Mutex<HashMap<(K, SessionId), KickHook<C, K>>>,
    /// Each channel's broadcast lane, for its detached broadcasts; there
    /// while the channel has members. Locked after the hub, never before.
    channel_lanes: Mutex<HashMap<K, Arc<Lane>>>,
    config: Config<C>,
    stats: Arc<StatsCell>,
    listener: Mutex<Option<Listener<R>>>,
    local: LocalAddr,
    /// Set by `stop`; the accept loop and `wait_idle` watch it.
    stopping: AtomicBool,
    /// Connection owners and `serve` calls still running; `stop` waits for
    /// zero.
    running: AtomicUsize,
    /// Signalled when `stopping` is set and when `running` reaches zero.
    changed: Signal,
    /// Where detached broadcasts to everyone go, once each.
    lane: Arc<Lane>,
}

/// A castnet server: accepts connections, admits them through the
/// connection limits, runs one owner per connection on runtime `R`, and
/// keeps the registry, channels and broadcasts.
///
/// `R` is the runtime (each binding names its own: `castnet_tokio::Server`
/// is this type on Tokio), `C` the codec
/// ([`PacketN`](castnet_core::frame::PacketN) by default), `K` the channel
/// key type (`String` by default). Clone it freely: clones share the same
/// server.
pub struct Server<R: Runtime, C: Decoder = castnet_core::frame::PacketN, K = String> {
    inner: Arc<Inner<R, C, K>>,
}

impl<R: Runtime, C: Decoder, K> Clone for Server<R, C, K> {
    fn clone(&self) -> Self {
        Server {
            inner: self.inner.clone(),
        }
    }
}

/// Counts one running connection owner or `serve` call while it lives.
struct Running<R: Runtime, C: Decoder, K>(Arc<Inner<R, C, K>>);

impl<R: Runtime, C: Decoder, K> Running<R, C, K> {
    fn new(inner: &Arc<Inner<R, C, K>>) -> Self {
        inner.running.fetch_add(1, AcqRel);
        Running(inner.clone())
    }
}

impl<R: Runtime, C: Decoder, K> Drop for Running<R, C, K> {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, AcqRel) == 1 {
            self.0.changed.notify_all();
        }
    }
}

impl<R, C> Server<R, C>
where
    R: Runtime + Default,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    /// Binds a TCP listener (socket options from `config.socket`). A host
    /// name is resolved with the system resolver. The codec comes from
    /// `config`, and channels are keyed by `String`, so nothing needs
    /// spelling out:
    ///
    /// ```no_run
    /// # async fn example<R: castnet_engine::Runtime + Default>() -> std::io::Result<()> {
    /// use castnet_engine::{Config, Server};
    ///
    /// let server = Server::<R>::bind("127.0.0.1:7000", Config::default()).await?;
    /// # let _ = server;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// For another channel key type, use [`bind_with`](Self::bind_with)
    /// (`Server::<R, C, K>::bind_with(R::default(), ..)`).
    ///
    /// A failure keeps its [`io::ErrorKind`] and names the address, e.g.
    /// `bind 127.0.0.1:80: Permission denied (os error 13)`.
    pub async fn bind(addr: impl ToSocketAddrs, config: Config<C>) -> io::Result<Self> {
        Self::bind_with(R::default(), addr, config)
    }

    /// Binds a Unix-socket listener at `path` (removed again on stop);
    /// channels are keyed by `String` (see [`bind`](Self::bind)).
    pub async fn bind_unix(path: impl AsRef<Path>, config: Config<C>) -> io::Result<Self> {
        Self::bind_unix_with(R::default(), path, config)
    }
}

impl<R, C, K> Server<R, C, K>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Binds a TCP listener (socket options from `config.socket`) on
    /// `runtime`, with any channel key type `K`; [`bind`](Self::bind) where
    /// the runtime is a unit type and keys are `String`s. A host name is
    /// resolved with the system resolver; each of its addresses is tried in
    /// turn, and the error of the last one is returned, naming it (`bind
    /// ADDR: ...`, with the error's kind kept).
    pub fn bind_with(runtime: R, addr: impl ToSocketAddrs, config: Config<C>) -> io::Result<Self> {
        let mut last = None;
        for addr in addr.to_socket_addrs()? {
            match config.socket.bind_tcp(addr) {
                Ok(listener) => {
                    let local = LocalAddr::Tcp(listener.local_addr()?);
                    let listener = Listener::Tcp(runtime.wrap_tcp_listener(listener)?);
                    return Ok(Self::with_listener(runtime, listener, local, config));
                }
                Err(e) => last = Some(bind_error(&addr, e)),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind")))
    }

    /// Binds a Unix-socket listener at `path` (removed again on stop) on
    /// `runtime`, with any channel key type `K`. A failure names the path
    /// (`bind unix:PATH: ...`).
    pub fn bind_unix_with(
        runtime: R,
        path: impl AsRef<Path>,
        config: Config<C>,
    ) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let local = LocalAddr::Unix(path.clone());
        let listener = config
            .socket
            .bind_unix(&path)
            .map_err(|e| bind_error(&local, e))?;
        let listener = Listener::Unix {
            listener: runtime.wrap_unix_listener(listener)?,
            _path: UnixPath(path),
        };
        Ok(Self::with_listener(runtime, listener, local, config))
    }

    fn with_listener(
        runtime: R,
        listener: Listener<R>,
        local: LocalAddr,
        config: Config<C>,
    ) -> Self {
        let mut hub = Hub::new(config.limits);
        hub.set_state(ServerState::Starting)
            .expect("a new hub can start");
        let lane = Arc::new(Lane::new(
            config.broadcast_ring.0,
            config.broadcast_ring.1,
            config.slow_reader_grace,
        ));
        Server {
            inner: Arc::new(Inner {
                runtime,
                lane,
                hub: Mutex::new(hub),
                kick_hooks: Mutex::new(HashMap::new()),
                channel_lanes: Mutex::new(HashMap::new()),
                config,
                stats: Arc::new(StatsCell::default()),
                listener: Mutex::new(Some(listener)),
                local,
                stopping: AtomicBool::new(false),
                running: AtomicUsize::new(0),
                changed: Signal::new(),
            }),
        }
    }

    /// The runtime the server runs on.
    pub fn runtime(&self) -> &R {
        &self.inner.runtime
    }

    /// Where the server listens.
    pub fn local_addr(&self) -> &LocalAddr {
        &self.inner.local
    }

    /// The server's state: closed, starting, running or stopping.
    pub fn state(&self) -> ServerState {
        self.hub().state()
    }

    fn is_stopping(&self) -> bool {
        self.inner.stopping.load(Acquire)
    }

    /// Accepts and serves connections with `handler` until [`stop`](Self::stop)
    /// is called. Each connection runs on its own task; `handler`'s callbacks
    /// run on that task. The server's tick
    /// ([`Handler::on_tick`](crate::Handler::on_tick)) runs on this one,
    /// from the first [`Handler::tick_interval`](crate::Handler::tick_interval)
    /// until it returns `None` or the server stops. Each session has its own state `S` (see
    /// [`Handler`]'s "Per-session state"), inferred from the handler:
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::PacketN;
    /// use castnet_engine::{handler_fn, Conn, Handler, Runtime, Server};
    ///
    /// /// Frames seen by this session, in its state.
    /// struct Count;
    ///
    /// impl Handler<PacketN, u64> for Count {
    ///     fn on_frame(&self, cx: &mut Conn<'_, PacketN, u64>, _: Bytes) {
    ///         *cx.state() += 1;
    ///     }
    /// }
    ///
    /// async fn run<R: Runtime>(server: Server<R>) -> std::io::Result<()> {
    ///     server.serve(Count).await // the state is `u64`, from the impl
    /// }
    ///
    /// async fn run_stateless<R: Runtime>(server: Server<R>) -> std::io::Result<()> {
    ///     server
    ///         .serve(handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
    ///             let _ = cx.send(frame); // the state is `()`
    ///         }))
    ///         .await
    /// }
    /// ```
    pub async fn serve<H, S>(&self, handler: H) -> io::Result<()>
    where
        H: Handler<C, S>,
        S: Default + Send + 'static,
    {
        let (_running, listener) = {
            let mut slot = self
                .inner
                .listener
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let listener = slot
                .take()
                .ok_or_else(|| io::Error::other("serve called twice, or after stop"))?;
            // Counted under the listener's lock: a `stop` that finds the
            // slot empty waits for this, so it returns only once the
            // listener is closed (it is declared after the count, so it is
            // dropped first).
            (Running::new(&self.inner), listener)
        };
        if self.hub().set_state(ServerState::Running).is_err() {
            return Err(io::Error::other("server is stopping"));
        }
        tracing::info!(addr = %self.inner.local, "serving");
        let handler = Arc::new(handler);
        let mut backoff = Backoff::default();
        let rt = &self.inner.runtime;
        let mut tick = Tick::<R>::start(rt.now(), handler.tick_interval());
        let mut stopping = None;
        while let Some(accepted) = std::future::poll_fn(|cx| {
            let stop = self
                .inner
                .changed
                .poll_until(&mut stopping, cx, || self.is_stopping().then_some(()));
            if stop.is_ready() {
                return Poll::Ready(None);
            }
            tick.poll(cx, rt, |now| handler.on_tick(now));
            listener.poll_accept(cx).map(Some)
        })
        .await
        {
            match accepted {
                Ok((stream, peer)) => {
                    backoff.succeeded(&self.inner.local);
                    self.admit(stream, peer, &handler)
                }
                Err(e) => match AcceptError::of(&e) {
                    // Out of descriptors or memory: the connection waits in
                    // the backlog; pause longer each time, log once.
                    AcceptError::Exhausted => {
                        let delay = backoff.failed(&e, &self.inner.local);
                        self.pause(delay).await;
                    }
                    AcceptError::Transient => {
                        tracing::warn!(error = %e, "accept failed; retrying");
                        self.pause(std::time::Duration::from_millis(10)).await;
                    }
                    AcceptError::Fatal => return Err(e),
                },
            }
        }
        Ok(())
    }

    /// Sleeps for `d`, or until the server is stopping.
    async fn pause(&self, d: std::time::Duration) {
        use crate::runtime::AsyncTimer;
        let mut timer = self.inner.runtime.timer(self.inner.runtime.now() + d);
        let mut stopping = None;
        std::future::poll_fn(|cx| {
            let stop = self
                .inner
                .changed
                .poll_until(&mut stopping, cx, || self.is_stopping().then_some(()));
            if stop.is_ready() {
                return Poll::Ready(());
            }
            timer.poll_fired(cx)
        })
        .await
    }

    fn admit<H, S>(&self, stream: Stream<R>, peer: PeerAddr, handler: &Arc<H>)
    where
        H: Handler<C, S>,
        S: Default + Send + 'static,
    {
        let stats = &self.inner.stats;
        if let Stream::Tcp(s) = &stream {
            use crate::runtime::AsyncStream;
            if let Err(e) = self.inner.config.socket.apply_tcp(&s.socket()) {
                stats.connections_refused.fetch_add(1, Relaxed);
                tracing::debug!(error = %e, %peer, "socket options failed; closing");
                return;
            }
        }
        // Register first, under the hub lock, so limits are checked and the
        // id is known before the owner exists; the handle is filled in below.
        let mut hub = self.hub();
        let id = match hub.register(peer.clone(), None) {
            Ok(id) => id,
            Err(e) => {
                drop(hub);
                stats.connections_refused.fetch_add(1, Relaxed);
                log_refusal(&e, &peer);
                return; // dropping the stream closes it
            }
        };
        let server = self.clone();
        let handler = handler.clone();
        let (session, owner) = start(
            id,
            peer.clone(),
            &self.inner.config,
            stats.clone(),
            Role::Server(self.inner.lane.subscribe()),
            self.inner.runtime.now(),
            move |_| {
                let member = Member {
                    server,
                    id,
                    left: false,
                };
                HandlerSink::new(handler, member)
            },
        );
        if let Some(info) = hub.session_mut(id) {
            *info.meta_mut() = Some(session);
        }
        // Counted before the hub lock is released: a `stop` that finds this
        // session also waits for its owner, spawned just below.
        let running = Running::new(&self.inner);
        drop(hub);
        stats.connections_accepted.fetch_add(1, Relaxed);
        stats.connections_open.fetch_add(1, Relaxed);
        // `on_open` runs first on the connection's task: never on the
        // accept loop, which user code must not slow down or bring down.
        let rt = self.inner.runtime.clone();
        let span = tracing::debug_span!("session", id = id.get(), %peer);
        let drain = self.inner.config.socket.close_drain;
        let task = async move {
            let closed = crate::drive::drive(rt.clone(), stream, owner).await;
            let to_drain = closed.needs_drain(drain);
            // The session is over: `stop` need not wait for a drain.
            drop(running);
            if let Some(closed) = to_drain {
                closed.drain(&rt, drain).await;
            }
        };
        self.inner
            .runtime
            .spawn(tracing::Instrument::instrument(task, span));
    }

    /// The session with this id, if it is open.
    pub fn session(&self, id: SessionId) -> Option<Session<C>> {
        self.hub().session(id).and_then(|info| info.meta().clone())
    }

    /// Every open session.
    pub fn sessions(&self) -> Vec<Session<C>> {
        self.hub()
            .sessions()
            .filter_map(|(_, info)| info.meta().clone())
            .collect()
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.hub().len()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.inner.stats.snapshot()
    }

    /// `try_send` to the session with this id (cbufftcpserver's `SendTo`).
    pub fn send_to<M>(&self, id: SessionId, msg: M) -> Result<(), TrySendError<M>>
    where
        C: Encoder<M>,
    {
        match self.session(id) {
            Some(session) => session.try_send(msg),
            None => Err(TrySendError::Closed(msg)),
        }
    }

    /// Closes the session with this id gracefully; `false` if it is not open.
    pub fn close(&self, id: SessionId) -> bool {
        self.session(id).map(|s| s.close()).is_some()
    }

    /// Closes each of these sessions gracefully; returns how many were open.
    pub fn close_many(&self, ids: &[SessionId]) -> usize {
        ids.iter().filter(|id| self.close(**id)).count()
    }

    /// The channel named `key` (it exists while it has members). The key
    /// can be given by value, by reference (`&K`, as with `HashMap::get`)
    /// or, for `String` keys, as a `&str` (see [`ChannelKey`]):
    ///
    /// ```
    /// # fn example<R: castnet_engine::Runtime>(server: &castnet_engine::Server<R>) {
    /// let room = String::from("room");
    /// assert_eq!(server.channel(&room).key(), "room");
    /// assert_eq!(server.channel("room").key(), "room");
    /// assert_eq!(server.channel(room).key(), "room");
    /// # }
    /// ```
    pub fn channel(&self, key: impl ChannelKey<K>) -> Channel<R, C, K> {
        Channel {
            server: self.clone(),
            key: key.into_key(),
        }
    }

    /// Sends `msg` to every open session, encoded once.
    pub fn broadcast<M>(&self, msg: M) -> Result<BroadcastWork, FrameError>
    where
        C: Encoder<M>,
    {
        self.broadcast_to_recipients(Recipients::Everyone, msg)
    }

    /// Sends `msg`, encoded once, to these sessions (e.g. the ones a
    /// previous broadcast's report lists as timed out).
    pub fn broadcast_to<M>(&self, ids: &[SessionId], msg: M) -> Result<BroadcastWork, FrameError>
    where
        C: Encoder<M>,
    {
        self.broadcast_to_recipients(Recipients::<K>::Sessions(ids), msg)
    }

    /// Sends `msg`, encoded once, to every open session *without* keeping a
    /// report: no per-recipient record, nothing to await. For fire-and-forget
    /// fan-out (game state, presence, tickers).
    ///
    /// The frame is pushed once onto the server's broadcast ring, whatever
    /// the number of sessions, and each session's owner takes it into its own
    /// send queue when it next runs: a broadcast costs the caller O(1), and
    /// frames from one caller arrive everywhere in the order they were
    /// broadcast. Sessions accepted after the call do not get it. A session
    /// whose queue stays full while the ring moves on misses the oldest
    /// frames (counted in [`Stats::broadcast_missed`]; the ring's size is
    /// [`Config::broadcast_ring`](crate::Config::broadcast_ring)). Returns how
    /// many sessions were following the ring.
    ///
    /// The caller is never paused: frames that sessions keeping up have not
    /// taken yet are kept up to twice the ring's bounds, then dropped. From
    /// a handler, prefer [`broadcast_detached_from`](Self::broadcast_detached_from).
    pub fn broadcast_detached<M>(&self, msg: M) -> Result<usize, FrameError>
    where
        C: Encoder<M>,
    {
        let frame = self.encode_once(msg)?;
        Ok(self.inner.lane.publish(frame, self.inner.runtime.now()).0)
    }

    /// [`broadcast_detached`](Self::broadcast_detached) from a handler,
    /// with its connection `cx`: a publisher that cannot overrun the
    /// sessions that keep up. When the ring would have to drop frames a
    /// session has simply not had its turn to take, this connection pauses
    /// (its handler gets no further frames and its peer is not read) until
    /// the readers have run; a session that stays full longer than
    /// [`Config::slow_reader_grace`](crate::Config::slow_reader_grace) is no
    /// longer waited for, and misses frames instead. This broadcast itself is
    /// always made.
    pub fn broadcast_detached_from<M, S>(
        &self,
        cx: &mut Conn<'_, C, S>,
        msg: M,
    ) -> Result<usize, FrameError>
    where
        C: Encoder<M>,
    {
        let frame = self.encode_once(msg)?;
        Ok(cx.publish_to(&self.inner.lane, frame))
    }

    fn encode_once<M>(&self, msg: M) -> Result<Bytes, FrameError>
    where
        C: Encoder<M>,
    {
        Ok(self
            .inner
            .config
            .codec
            .clone()
            .encode_frame(msg)?
            .into_contiguous())
    }

    fn broadcast_to_recipients<M>(
        &self,
        to: Recipients<'_, K>,
        msg: M,
    ) -> Result<BroadcastWork, FrameError>
    where
        C: Encoder<M>,
    {
        let frame = self.encode_once(msg)?;
        // Under the hub lock: the recipient snapshot and the record. The
        // frame is handed out after the lock is released.
        let (record, sessions) = {
            let hub = self.hub();
            let record = hub.broadcast(to);
            let sessions: Vec<(Session<C>, _)> = record
                .deliveries(&frame)
                .filter_map(|d| Some((hub.session(d.session)?.meta().clone()?, d.ticket)))
                .collect();
            (record, sessions)
        };
        let shared = Arc::new(BroadcastShared::new(record));
        for (session, ticket) in sessions {
            session.deliver(frame.clone(), shared.clone(), ticket);
        }
        Ok(BroadcastWork { shared })
    }

    /// Stops gracefully: no new connections; every open session closes after
    /// its queue drains (up to its linger time), so every accepted send
    /// resolves; returns when every connection's owner has ended. A socket
    /// whose peer had not ended its side may stay open a little longer,
    /// reading and discarding until the peer does (for at most
    /// [`SocketOptions::close_drain`](crate::SocketOptions::close_drain)),
    /// so that closing does not reset what it still has to receive.
    pub async fn stop(&self) {
        if !self.begin_stop() {
            return;
        }
        let mut listener = None;
        std::future::poll_fn(|cx| {
            self.inner.changed.poll_until(&mut listener, cx, || {
                (self.inner.running.load(Acquire) == 0).then_some(())
            })
        })
        .await;
        let _ = self.hub().set_state(ServerState::Closed);
        tracing::info!(addr = %self.inner.local, "stopped");
    }

    /// The part of `stop` that does not wait: refuses new connections and
    /// closes every session. `false` when the server is closed already.
    fn begin_stop(&self) -> bool {
        {
            let mut hub = self.hub();
            if hub.state() == ServerState::Closed {
                return false;
            }
            let _ = hub.set_state(ServerState::Stopping);
        }
        self.inner
            .stopping
            .store(true, std::sync::atomic::Ordering::Release);
        self.inner.changed.notify_all();
        // A listener never served is dropped here, refusing new connections.
        drop(
            self.inner
                .listener
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        for session in self.sessions() {
            session.close();
        }
        true
    }

    fn hub(&self) -> MutexGuard<'_, Hub<K, Option<Session<C>>>> {
        self.inner.hub.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The channels' broadcast lanes. Lock order: the hub first, then this.
    fn channel_lanes(&self) -> MutexGuard<'_, HashMap<K, Arc<Lane>>> {
        self.inner
            .channel_lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// After `id` left channel `key` (the hub lock held): it stops following
    /// the channel's lane once it has what was broadcast before it left, and
    /// the lane goes with the channel's last member.
    fn left_channel(&self, hub: &Hub<K, Option<Session<C>>>, key: &K, id: SessionId) {
        let mut lanes = self.channel_lanes();
        let Some(lane) = lanes.get(key) else {
            return;
        };
        if let Some(session) = hub.session(id).and_then(|info| info.meta().as_ref()) {
            session.unfollow(lane.clone(), lane.head());
        }
        drop_lane_if_gone(&mut lanes, hub, key);
    }

    /// The kick callbacks. Lock order: the hub first, then this, so that
    /// membership and its callback change together.
    fn kick_hooks(&self) -> MutexGuard<'_, HashMap<(K, SessionId), KickHook<C, K>>> {
        self.inner
            .kick_hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn leave_everything(&self, id: SessionId) {
        let mut hub = self.hub();
        let keys: Vec<K> = hub.channels_of(id).cloned().collect();
        hub.remove(id);
        if !keys.is_empty() {
            // The session's own task is ending and drops its subscriptions;
            // the lanes of channels it was the last member of go now.
            let mut lanes = self.channel_lanes();
            for key in &keys {
                drop_lane_if_gone(&mut lanes, &hub, key);
            }
        }
        // Dropped after both locks are released: a callback's captures may
        // run code of their own when dropped.
        let mut unused = Vec::new();
        if !keys.is_empty() {
            let mut hooks = self.kick_hooks();
            unused.extend(keys.into_iter().filter_map(|k| hooks.remove(&(k, id))));
        }
        drop(hub);
        drop(unused);
    }
}

/// A bind failure that names what was bound: `bind ADDR: ERROR`, with the
/// error's kind (and the OS error, as its source) kept.
fn bind_error(addr: &dyn std::fmt::Display, error: io::Error) -> io::Error {
    #[derive(Debug, thiserror::Error)]
    #[error("bind {addr}: {source}")]
    struct BindError {
        addr: String,
        source: io::Error,
    }
    io::Error::new(
        error.kind(),
        BindError {
            addr: addr.to_string(),
            source: error,
        },
    )
}

fn log_refusal(e: &RegisterError, peer: &PeerAddr) {
    tracing::debug!(error = %e, %peer, "connection refused");
}

/// A server's session leaves the server (registry, channels, open count)
/// once, when it closes or, if it never got to close (a callback panicked,
/// the runtime dropped the task), when its owner goes.
struct Member<R, C, K>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    server: Server<R, C, K>,
    id: SessionId,
    left: bool,
}

impl<R, C, K> Leave for Member<R, C, K>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    fn leave(&mut self) {
        if !std::mem::replace(&mut self.left, true) {
            self.server.leave_everything(self.id);
            self.server
                .inner
                .stats
                .connections_open
                .fetch_sub(1, Relaxed);
        }
    }
}

impl<R, C, K> Drop for Member<R, C, K>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        self.leave();
    }
}

/// What names a channel whose key type is `K`, for [`Server::channel`]:
/// the key itself, a reference to it (`&K`, cloned), or, for `String`
/// keys, a `&str`.
pub trait ChannelKey<K> {
    /// The key, owned.
    fn into_key(self) -> K;
}

impl<K> ChannelKey<K> for K {
    fn into_key(self) -> K {
        self
    }
}

impl<K: Clone> ChannelKey<K> for &K {
    fn into_key(self) -> K {
        self.clone()
    }
}

impl ChannelKey<String> for &str {
    fn into_key(self) -> String {
        self.to_owned()
    }
}

/// A channel of a [`Server`]: a named group of sessions (go-libnet's
/// `Channel`). Membership lives in the server; this handle is cheap.
pub struct Channel<R: Runtime, C: Decoder, K> {
    server: Server<R, C, K>,
    key: K,
}

impl<R, C, K> Channel<R, C, K>
where
    R: Runtime,
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// The channel's key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Adds `session`; `on_kick` is called if it is later kicked (go-libnet's
    /// kick callback). Returns `false` if it was already a member (the
    /// earlier callback stays) or is no longer open.
    pub fn join<F>(&self, session: &Session<C>, on_kick: F) -> bool
    where
        F: Fn(&Session<C>, &K) + Send + Sync + 'static,
    {
        let mut hub = self.server.hub();
        let joined = hub.join(self.key.clone(), session.id()).unwrap_or(false);
        if joined {
            self.server
                .kick_hooks()
                .insert((self.key.clone(), session.id()), Box::new(on_kick));
            // Subscribed here, under the hub lock: every detached broadcast
            // made after `join` returns reaches the session.
            let config = &self.server.inner.config;
            let (frames, bytes) = config.broadcast_ring;
            let grace = config.slow_reader_grace;
            let lane = self
                .server
                .channel_lanes()
                .entry(self.key.clone())
                .or_insert_with(|| Arc::new(Lane::new(frames, bytes, grace)))
                .subscribe();
            session.follow(lane);
        }
        joined
    }

    /// Removes `session` quietly; `false` if it was not a member.
    pub fn exit(&self, session: &Session<C>) -> bool {
        let mut hub = self.server.hub();
        let left = hub.exit(&self.key, session.id());
        if left {
            self.server.left_channel(&hub, &self.key, session.id());
        }
        let hook = self
            .server
            .kick_hooks()
            .remove(&(self.key.clone(), session.id()));
        drop(hub);
        drop(hook);
        left
    }

    /// Removes `session` and calls its kick callback (on this task, with no
    /// lock held, so the callback may use the server and its channels). The
    /// session stays open. `false` if it was not a member.
    pub fn kick(&self, session: &Session<C>) -> bool {
        let mut hub = self.server.hub();
        let Some(kicked) = hub.kick(&self.key, session.id()) else {
            return false;
        };
        self.server
            .left_channel(&hub, &kicked.channel, kicked.session);
        let hook = self
            .server
            .kick_hooks()
            .remove(&(kicked.channel.clone(), kicked.session));
        drop(hub);
        if let Some(hook) = hook {
            hook(session, &kicked.channel);
        }
        true
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.server.hub().channel(&self.key).map_or(0, |c| c.len())
    }

    /// True when the channel has no members.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when `session` is a member.
    pub fn contains(&self, session: &Session<C>) -> bool {
        self.server
            .hub()
            .channel(&self.key)
            .is_some_and(|c| c.contains(session.id()))
    }

    /// The members' sessions, in join order: the longest-standing member
    /// first (a session that left and joined again counts from its latest
    /// join).
    pub fn members(&self) -> Vec<Session<C>> {
        let hub = self.server.hub();
        let Some(channel) = hub.channel(&self.key) else {
            return Vec::new();
        };
        channel
            .members_in_join_order()
            .into_iter()
            .filter_map(|id| hub.session(id).and_then(|info| info.meta().clone()))
            .collect()
    }

    /// Sends `msg`, encoded once, to every member.
    pub fn broadcast<M>(&self, msg: M) -> Result<BroadcastWork, FrameError>
    where
        C: Encoder<M>,
    {
        self.server
            .broadcast_to_recipients(Recipients::Channel(&self.key), msg)
    }

    /// [`Server::broadcast_detached`] to the members: encoded once and
    /// pushed once onto the channel's own broadcast ring, whatever the number
    /// of members; no report kept. Members that join after the call do not
    /// get it; a member that exits or is kicked still gets what was broadcast
    /// before, and nothing after. Returns how many sessions follow the ring
    /// (the members, and any that left a moment ago and are still taking what
    /// came before). The caller is never paused (see
    /// [`Server::broadcast_detached`]); from a handler, prefer
    /// [`broadcast_detached_from`](Self::broadcast_detached_from).
    pub fn broadcast_detached<M>(&self, msg: M) -> Result<usize, FrameError>
    where
        C: Encoder<M>,
    {
        let frame = self.server.encode_once(msg)?;
        let lane = self.server.channel_lanes().get(&self.key).cloned();
        let now = self.server.inner.runtime.now();
        Ok(lane.map_or(0, |lane| lane.publish(frame, now).0))
    }

    /// [`broadcast_detached`](Self::broadcast_detached) from a handler, with
    /// its connection `cx`: when the channel's ring would have to drop
    /// frames a member has simply not had its turn to take, this connection
    /// pauses until the members have run (see
    /// [`Server::broadcast_detached_from`]). A chat room relaying every
    /// frame it gets to its members thus never overruns the members that
    /// keep up, however much one client writes at once.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::PacketN;
    /// use castnet_engine::{Conn, Handler, Runtime, Server};
    ///
    /// struct Room<R: Runtime> {
    ///     server: Server<R>,
    /// }
    ///
    /// impl<R: Runtime> Handler<PacketN> for Room<R> {
    ///     fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
    ///         let room = self.server.channel("room".to_string());
    ///         room.join(cx.session(), |_, _| {});
    ///     }
    ///     fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
    ///         let room = self.server.channel("room".to_string());
    ///         let _ = room.broadcast_detached_from(cx, frame);
    ///     }
    /// }
    /// ```
    pub fn broadcast_detached_from<M, S>(
        &self,
        cx: &mut Conn<'_, C, S>,
        msg: M,
    ) -> Result<usize, FrameError>
    where
        C: Encoder<M>,
    {
        let frame = self.server.encode_once(msg)?;
        let lane = self.server.channel_lanes().get(&self.key).cloned();
        Ok(lane.map_or(0, |lane| cx.publish_to(&lane, frame)))
    }
}

/// One broadcast in flight: await it for the final [`BroadcastReport`]
/// (who got it, who was closed, who timed out, whose queue was full), or
/// look at [`report`](Self::report) any time. go-libnet's `[]BroadcastWork`.
#[must_use = "drop it to ignore the outcome; the broadcast goes on"]
pub struct BroadcastWork {
    shared: Arc<BroadcastShared>,
}

impl BroadcastWork {
    /// Where every recipient stands now (pending ones included).
    pub fn report(&self) -> BroadcastReport {
        self.shared
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .report()
            .clone()
    }

    /// Waits until every recipient's outcome is in, and returns the report.
    pub async fn wait(self) -> BroadcastReport {
        let mut listener = None;
        std::future::poll_fn(|cx| {
            self.shared.complete.poll_until(&mut listener, cx, || {
                self.shared.is_complete().then(|| self.report())
            })
        })
        .await
    }
}

impl std::future::IntoFuture for BroadcastWork {
    type Output = BroadcastReport;
    type IntoFuture = Pin<Box<dyn Future<Output = BroadcastReport> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.wait())
    }
}

/// A channel's lane goes with the channel (its last member left).
fn drop_lane_if_gone<K, M>(lanes: &mut HashMap<K, Arc<Lane>>, hub: &Hub<K, M>, key: &K)
where
    K: std::hash::Hash + Eq + Clone,
{
    if hub.channel(key).is_none() {
        lanes.remove(key);
    }
}
