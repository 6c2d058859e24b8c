//! What the scenarios share: the hard bound, bounded waits, servers on
//! 127.0.0.1, a recording handler, echo handlers.

use crate::rt::{self, spawn, Task, TestRuntime};
use bytes::Bytes;
use castnet_core::frame::PacketN;
use castnet_core::session::{CloseReason, SendId, SendOutcome, SessionConfig};
use castnet_core::SessionId;
use castnet_engine::{handler_fn, Config, Conn, Handler, LocalAddr, Session, TrySendError};
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The hard bound on every scenario, enforced from outside the runtime (see
/// [`run`]).
pub const LIMIT: Duration = Duration::from_secs(30);

/// The bound on one wait inside a scenario (a callback, a condition), short
/// of [`LIMIT`] so that the wait's own message names what did not happen.
pub const WAIT: Duration = Duration::from_secs(15);

/// A server on runtime `T` with the default codec.
pub type Server<T, K = String> = castnet_engine::Server<<T as TestRuntime>::Rt, PacketN, K>;

/// Runs one scenario on runtime `T`: on a thread of its own, driven by
/// [`TestRuntime::block_on`], failing the test if it panics or has not
/// finished within [`LIMIT`] (whatever it is blocked on).
pub fn run<T, F>(scenario: impl FnOnce() -> F + Send + 'static)
where
    T: TestRuntime,
    F: Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("scenario-{}", T::NAME))
        .spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| T::block_on(scenario())));
            let _ = tx.send(result);
        })
        .expect("a scenario thread");
    match rx.recv_timeout(LIMIT) {
        Ok(result) => {
            let _ = thread.join();
            if let Err(panic) = result {
                resume_unwind(panic);
            }
        }
        Err(_) => panic!(
            "the scenario did not finish within {LIMIT:?} on {}",
            T::NAME
        ),
    }
}

/// Serialises the scenarios that look at process-wide state (the descriptor
/// table): each holds this while it runs.
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls `cond` until it holds, within [`WAIT`]. Only for state that has no
/// event to await (counters, descriptor tables): a short sleep between
/// polls.
pub async fn wait_until<T: TestRuntime>(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting until {what}");
        rt::sleep::<T>(Duration::from_millis(2)).await;
    }
}

/// `future`'s output, failing with `what` if it takes longer than [`WAIT`].
pub async fn within<T: TestRuntime, F: Future>(what: &str, future: F) -> F::Output {
    match rt::timeout::<T, _>(WAIT, future).await {
        Some(output) => output,
        None => panic!("timed out waiting for {what}"),
    }
}

/// A socket path in the temporary directory, unique to this process, runtime
/// and name.
pub fn socket_path<T: TestRuntime>(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "castnet-{}-{}-{name}.sock",
        std::process::id(),
        T::NAME
    ))
}

/// A handler that echoes every frame with [`Conn::send`].
pub fn echo() -> impl Handler<PacketN> {
    handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
        let _ = cx.send(frame);
    })
}

/// A handler that echoes every frame through its session's handle
/// ([`Session::try_send`]): what a handler handing work elsewhere does.
pub fn echo_via_handle() -> impl Handler<PacketN> {
    handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
        let _ = cx.session().try_send(frame);
    })
}

/// Dials `addr` on runtime `T`.
pub async fn dial<T: TestRuntime>(addr: SocketAddr, config: Config) -> Session<PacketN> {
    castnet_engine::dial_with(&T::Rt::default(), addr, config)
        .await
        .expect("dial")
}

/// A server on 127.0.0.1 serving with a handler on a task of its own.
pub struct Running<T: TestRuntime, K = String> {
    /// The server.
    pub server: Server<T, K>,
    serve: Task<io::Result<()>>,
}

impl<T, K> Running<T, K>
where
    T: TestRuntime,
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
{
    /// Binds 127.0.0.1 on a free port and serves with `handler`.
    pub async fn start<H, S>(config: Config, handler: H) -> Self
    where
        H: Handler<PacketN, S>,
        S: Default + Send + 'static,
    {
        let server =
            Server::<T, K>::bind_with(T::Rt::default(), "127.0.0.1:0", config).expect("bind");
        Self::serve(server, handler)
    }

    /// Serves `server` with `handler`.
    pub fn serve<H, S>(server: Server<T, K>, handler: H) -> Self
    where
        H: Handler<PacketN, S>,
        S: Default + Send + 'static,
    {
        let s = server.clone();
        let serve = spawn::<T, _>(async move { s.serve(handler).await });
        Running { server, serve }
    }

    /// The TCP address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        match self.server.local_addr() {
            LocalAddr::Tcp(a) => *a,
            other => panic!("not a TCP server: {other}"),
        }
    }

    /// A castnet client dialled with the default config.
    pub async fn dial(&self) -> Session<PacketN> {
        dial::<T>(self.addr(), Config::default()).await
    }

    /// Dials the server and waits for its side to open (reported by a
    /// [`Recorder`] on `seen`): the client, and the id of the server's
    /// session.
    pub async fn connect(&self, seen: &SeenRx<T>) -> (Session<PacketN>, SessionId) {
        let client = self.dial().await;
        (client, seen.open().await)
    }

    /// [`connect`](Self::connect)s `n` clients: the clients, and the
    /// server's sessions in the same order.
    pub async fn connect_many(
        &self,
        seen: &SeenRx<T>,
        n: usize,
    ) -> (Vec<Session<PacketN>>, Vec<Session<PacketN>>) {
        let (mut clients, mut sessions) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (client, id) = self.connect(seen).await;
            clients.push(client);
            sessions.push(self.server.session(id).expect("open"));
        }
        (clients, sessions)
    }

    /// Stops the server and checks that `serve` returned cleanly.
    pub async fn stop(self) -> Server<T, K> {
        self.server.stop().await;
        within::<T, _>("serve to return after stop", self.serve.join())
            .await
            .expect("serve failed");
        self.server
    }
}

/// What a [`Recorder`] saw, in order.
#[derive(Debug, Clone)]
pub enum Seen {
    /// `on_open`.
    Open(SessionId),
    /// `on_frame`.
    Frame(SessionId, Bytes),
    /// `on_sent`.
    Sent(SessionId, SendId, SendOutcome),
    /// `on_close`.
    Close(SessionId, CloseReason),
}

/// How a [`Recorder`] answers frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Not at all.
    No,
    /// With [`Conn::send`]: never refused for a full queue.
    Conn,
    /// With [`Conn::send_tracked`] (its outcome reaches `on_sent`).
    ConnTracked,
    /// With the handle's [`Session::try_send`].
    Handle,
    /// With the handle's `try_send`, aborting the session when the echo is
    /// refused for a full queue (a disconnect policy written by hand).
    HandleOrAbort,
}

/// A handler that reports every callback, and echoes as asked.
pub struct Recorder {
    tx: async_channel::Sender<Seen>,
    echo: Echo,
}

/// The receiving end of a [`Recorder`], whose waits are bounded by [`WAIT`].
pub struct SeenRx<T> {
    rx: async_channel::Receiver<Seen>,
    /// Closes that [`open`](SeenRx::open) or [`close_of`](SeenRx::close_of)
    /// passed over while looking for something else: sessions on different
    /// tasks close in any order.
    closes: RefCell<Vec<(SessionId, CloseReason)>>,
    rt: PhantomData<fn() -> T>,
}

impl Recorder {
    /// A recorder that echoes as `echo` says, and what it reports.
    pub fn new<T: TestRuntime>(echo: Echo) -> (Self, SeenRx<T>) {
        let (tx, rx) = async_channel::unbounded();
        let seen = SeenRx {
            rx,
            closes: RefCell::default(),
            rt: PhantomData,
        };
        (Recorder { tx, echo }, seen)
    }
}

impl Handler<PacketN> for Recorder {
    fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
        let _ = self.tx.try_send(Seen::Open(cx.id()));
    }

    fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
        let id = cx.id();
        match self.echo {
            Echo::No => {}
            Echo::Conn => {
                let _ = cx.send(frame.clone());
            }
            Echo::ConnTracked => {
                let _ = cx.send_tracked(frame.clone());
            }
            Echo::Handle => {
                let _ = cx.session().try_send(frame.clone());
            }
            Echo::HandleOrAbort => {
                if let Err(TrySendError::QueueFull(_)) = cx.session().try_send(frame.clone()) {
                    cx.session().abort();
                }
            }
        }
        let _ = self.tx.try_send(Seen::Frame(id, frame));
    }

    const REPORT_SENT: bool = true;

    fn on_sent(&self, cx: &mut Conn<'_, PacketN>, id: SendId, outcome: SendOutcome) {
        let _ = self.tx.try_send(Seen::Sent(cx.id(), id, outcome));
    }

    fn on_close(&self, s: &Session<PacketN>, _: (), reason: &CloseReason) {
        let _ = self.tx.try_send(Seen::Close(s.id(), reason.clone()));
    }
}

impl<T: TestRuntime> SeenRx<T> {
    /// The next callback seen.
    pub async fn next(&self) -> Seen {
        within::<T, _>("the next handler callback", self.rx.recv())
            .await
            .expect("recorder gone")
    }

    /// Waits for the `Open` of the next session and returns its id.
    pub async fn open(&self) -> SessionId {
        loop {
            match self.next().await {
                Seen::Open(id) => return id,
                Seen::Close(who, reason) => self.closes.borrow_mut().push((who, reason)),
                _ => {}
            }
        }
    }

    /// Waits for the `Close` of session `id` (or finds it among those
    /// passed over before) and returns its reason.
    pub async fn close_of(&self, id: SessionId) -> CloseReason {
        let stashed = {
            let mut closes = self.closes.borrow_mut();
            let at = closes.iter().position(|(who, _)| *who == id);
            at.map(|i| closes.remove(i).1)
        };
        if let Some(reason) = stashed {
            return reason;
        }
        loop {
            if let Seen::Close(who, reason) = self.next().await {
                if who == id {
                    return reason;
                }
                self.closes.borrow_mut().push((who, reason));
            }
        }
    }
}

/// A castnet client's round trip through an echo server: proves a
/// connection still works.
pub async fn round_trip<T: TestRuntime>(client: &Session<PacketN>, payload: &'static str) {
    client.send(payload).await.expect("send");
    let back = within::<T, _>("an echo", client.recv())
        .await
        .expect("connection ended");
    assert_eq!(&back[..], payload.as_bytes());
}

/// A server whose sessions queue at most `frames` frames, with a small
/// socket send buffer (see [`small_send_buffer`]), recording what happens
/// (no echo).
pub async fn recorded_with_queue_bound<T: TestRuntime>(frames: usize) -> (Running<T>, SeenRx<T>) {
    let session = SessionConfig::builder()
        .max_queue_frames(frames)
        .build()
        .unwrap();
    let (recorder, seen) = Recorder::new::<T>(Echo::No);
    let running = Running::<T>::start(small_send_buffer(session), recorder).await;
    (running, seen)
}

/// A config whose connections have a small socket send buffer, so a peer
/// that does not read stalls them after a few KiB.
pub fn small_send_buffer(session: SessionConfig) -> Config {
    let mut socket = castnet_engine::SocketOptions::default();
    socket.send_buffer_size = Some(4096);
    Config::default().session(session).socket(socket)
}
