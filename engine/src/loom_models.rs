//! loom models of the state a connection's handles, its owner and the
//! server share. Built with `--cfg castnet_loom`, which swaps the
//! primitives in [`crate::sync`] for loom's:
//!
//! ```text
//! RUSTFLAGS="--cfg castnet_loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --release -p castnet-engine --lib loom
//! ```
//!
//! Every model runs the engine's own code: [`Session`] handles, the real
//! owner (turned by hand, or by the real connection loop, [`drive`]) and the
//! real [`Server::serve`] and [`Server::stop`], on [`LoomRt`], a runtime
//! whose tasks are loom threads and whose sockets take every write at once.
//! Nothing here re-implements a protocol, so a model breaks when the
//! engine's code does. Each was checked to fail with its protocol broken
//! once; the comment on each test says what was broken and what loom said.
//!
//! castnet-std's hand-off between handle threads and its loop threads is
//! modelled with its code, in rt-std (`handoff::loom_models`); the CI step
//! runs the loom tests of every package that has some.

use crate::config::Config;
use crate::connect::{start, Role};
use crate::drive::drive;
use crate::handle::Session;
use crate::handler::handler_fn;
use crate::owner::{Conn, Owner};
use crate::recv::RecvSink;
use crate::runtime::{AsyncListener, AsyncStream, AsyncTimer, Runtime};
use crate::server::Server;
use crate::stats::StatsCell;
use crate::wait::Completion;
use bytes::{Bytes, BytesMut};
use castnet_core::frame::PacketN;
use castnet_core::hub::{PeerAddr, ServerState};
use castnet_core::session::{SendFailure, SendOutcome};
use castnet_core::SessionId;
use loom::future::block_on;
use loom::thread;
use std::future::Future;
use std::io::{self, IoSlice};
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Acquire, SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

const PING: &[u8] = b"ping";
/// `PING` on the wire: the default 4-byte header, then the payload.
const PING_ON_WIRE: usize = 4 + PING.len();

/// What the fake sockets saw, for the assertions. Plain std atomics: only
/// counted, never waited on, so outside the model.
#[derive(Default)]
struct Wire {
    written: std::sync::atomic::AtomicUsize,
    open: std::sync::atomic::AtomicUsize,
}

impl Wire {
    fn written(&self) -> usize {
        self.written.load(SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(SeqCst)
    }
}

/// A connected socket whose peer never writes and takes every byte at once.
struct Socket(Arc<Wire>);

impl Socket {
    fn new(wire: &Arc<Wire>) -> Self {
        wire.open.fetch_add(1, SeqCst);
        Socket(wire.clone())
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, SeqCst);
    }
}

impl AsyncStream for Socket {
    fn poll_read_buf(&mut self, _: &mut Context<'_>, _: &mut BytesMut) -> Poll<io::Result<usize>> {
        Poll::Pending
    }

    /// Nothing ever arrives, so nothing is registered: only the owner's
    /// other wake-ups (its inbox) can wake it.
    fn poll_read_ready(&self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Pending
    }

    fn poll_write_ready(&self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn try_write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.0.written.fetch_add(n, SeqCst);
        Ok(n)
    }

    fn shutdown_write(&self) -> io::Result<()> {
        Ok(())
    }

    fn socket(&self) -> socket2::SockRef<'_> {
        unreachable!("the models use Unix sockets, which get no socket options")
    }
}

/// A listener with at most one connection waiting, and none after it.
struct Listener(std::sync::Mutex<Option<Socket>>);

impl AsyncListener for Listener {
    type Stream = Socket;

    fn poll_accept(&self, _: &mut Context<'_>) -> Poll<io::Result<(Socket, PeerAddr)>> {
        match self.0.lock().unwrap().take() {
            Some(socket) => Poll::Ready(Ok((socket, PeerAddr::Unix(None)))),
            None => Poll::Pending,
        }
    }
}

/// Never fires: no model may need a deadline (an owner waiting for one
/// would show as a deadlock).
struct NeverTimer;

impl AsyncTimer for NeverTimer {
    fn reset(&mut self, _: Instant) {}

    fn poll_fired(&mut self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// The models' runtime: each task is a loom thread blocking on it, the
/// clock stands still, and the listener it wraps holds `incoming`.
#[derive(Clone)]
struct LoomRt {
    now: Instant,
    incoming: Arc<std::sync::Mutex<Option<Socket>>>,
}

impl LoomRt {
    fn new(incoming: Option<Socket>) -> Self {
        LoomRt {
            now: Instant::now(),
            incoming: Arc::new(std::sync::Mutex::new(incoming)),
        }
    }
}

impl Runtime for LoomRt {
    type TcpStream = Socket;
    type UnixStream = Socket;
    type TcpListener = Listener;
    type UnixListener = Listener;
    type Timer = NeverTimer;

    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        thread::spawn(move || block_on(future));
    }

    fn timer(&self, _: Instant) -> NeverTimer {
        NeverTimer
    }

    fn wrap_tcp_listener(&self, _: std::net::TcpListener) -> io::Result<Listener> {
        unreachable!("the models bind Unix sockets")
    }

    /// The real socket only holds the path; connections come from the model.
    fn wrap_unix_listener(&self, _: std::os::unix::net::UnixListener) -> io::Result<Listener> {
        let incoming = self.incoming.lock().unwrap().take();
        Ok(Listener(std::sync::Mutex::new(incoming)))
    }

    fn connect_tcp(
        &self,
        _: std::net::SocketAddr,
    ) -> impl Future<Output = io::Result<Socket>> + Send {
        std::future::ready(Err(io::Error::other("the models do not dial")))
    }

    fn connect_unix(&self, _: &Path) -> impl Future<Output = io::Result<Socket>> + Send {
        std::future::ready(Err(io::Error::other("the models do not dial")))
    }

    async fn yield_now(&self) {
        thread::yield_now()
    }

    fn now(&self) -> Instant {
        self.now
    }
}

type ClientOwner = Box<Owner<PacketN, RecvSink<Bytes>>>;

/// A dialled session's handle and owner, as `dial` makes them.
fn client(rt: &LoomRt) -> (Session<PacketN>, ClientOwner) {
    start(
        SessionId::allocate(),
        PeerAddr::Unix(None),
        &Config::default(),
        Arc::new(StatsCell::default()),
        Role::Client,
        rt.now,
        |sink| sink.expect("a client's frames go to recv"),
    )
}

/// A server bound to a socket path of its own (`name`), with one
/// connection waiting to be accepted, and the wire that connection writes to.
fn server_with_a_connection(name: &str) -> (Server<LoomRt>, Arc<Wire>) {
    let wire = Arc::new(Wire::default());
    let rt = LoomRt::new(Some(Socket::new(&wire)));
    let path = std::env::temp_dir().join(format!("castnet-loom-{}-{name}", std::process::id()));
    // Left behind by a model that failed half-way.
    let _ = std::fs::remove_file(&path);
    // No close drain: its socket would outlive `stop` by design, for as
    // long as the drain lasts.
    let mut config = Config::default();
    config.socket.close_drain = std::time::Duration::ZERO;
    let server = Server::bind_unix_with(rt, &path, config).expect("bind a Unix socket");
    (server, wire)
}

fn ignore_frames() -> impl crate::Handler<PacketN> {
    handler_fn(|_: &mut Conn<'_, PacketN>, _: Bytes| {})
}

fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// Both futures' outputs, polled in turn on one thread.
async fn join<A: Future + Unpin, B: Future>(mut a: A, b: B) -> (A::Output, B::Output) {
    let mut b = std::pin::pin!(b);
    let (mut out_a, mut out_b) = (None, None);
    std::future::poll_fn(|cx| {
        if out_a.is_none() {
            if let Poll::Ready(v) = Pin::new(&mut a).poll(cx) {
                out_a = Some(v);
            }
        }
        if out_b.is_none() {
            if let Poll::Ready(v) = b.as_mut().poll(cx) {
                out_b = Some(v);
            }
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Takes what the cell holds, if anything, the way a `SendWork` would.
fn has_outcome(cell: &Completion<SendOutcome>) -> bool {
    let mut listener = None;
    cell.poll_take(&mut listener, &mut Context::from_waker(Waker::noop()))
        .is_ready()
}

/// The owner's side of the completion models, turned by hand in the
/// connection loop's order: a turn (applying the send if it has arrived);
/// with `write`, the write and the turn that reports what it finished; then
/// the end of the connection, where whatever is still in the inbox or
/// pending fails `Closed`.
fn own_then_finish(rt: &LoomRt, owner: &mut ClientOwner, wire: &Arc<Wire>, write: bool) {
    let socket = Socket::new(wire);
    if owner.turn(rt.now) && write {
        owner.write(rt.now, |bufs| socket.try_write_vectored(bufs));
        let _ = owner.after_write();
        let _ = owner.turn(rt.now);
    }
    owner.finish();
}

/// Model 1: an `async_send`'s completion cell, awaited by its handle while
/// the owner reports the outcome and closes. Every interleaving delivers
/// exactly one outcome (`Sent` with the frame on the wire, or `Closed`
/// without), wakes the waiter, and gives the send's room back once.
///
/// Broken once, each model failing: `Completion::complete` notifying before
/// it stores the value. loom: `deadlock; threads = [(Id(0), Blocked),
/// (Id(1), Blocked)]` (the waiter woke between the two, found nothing,
/// listened again and slept through the store). And `Done::report` putting
/// the waiter back after completing it, so its drop reported `Closed` too:
/// "a second outcome was delivered".
fn awaited_send_model(write: bool) {
    loom::model(move || {
        let rt = LoomRt::new(None);
        let wire = Arc::new(Wire::default());
        let (session, mut owner) = client(&rt);
        let shared = session.shared.clone();
        // A frame admitted elsewhere: a room given back twice takes it.
        shared.quota.try_acquire(0).unwrap();
        let waiter = thread::spawn(move || {
            let work = session.async_send(PING);
            // `None` when refused at once (the owner finished first).
            let cell = work.cell();
            (block_on(work), cell)
        });
        own_then_finish(&rt, &mut owner, &wire, write);
        let (outcome, cell) = waiter.join().unwrap();
        match outcome {
            Ok(()) => assert_eq!(wire.written(), PING_ON_WIRE),
            Err(e) => {
                assert_eq!(e.failure(), Some(SendFailure::Closed));
                assert_eq!(wire.written(), 0, "a frame on the wire reported Closed");
            }
        }
        if let Some(cell) = cell {
            assert_eq!(Arc::strong_count(&cell), 1, "the send is still held");
            assert!(!has_outcome(&cell), "a second outcome was delivered");
        }
        assert_eq!(shared.quota.in_use(), (0, 1), "the room came back once");
    });
}

#[test]
fn loom_an_awaited_send_ends_once_when_written_then_closed() {
    awaited_send_model(true);
}

#[test]
fn loom_an_awaited_send_ends_once_when_closed_while_pending() {
    awaited_send_model(false);
}

/// Model 1, with the waiter dropped and an abort from another handle: the
/// waiter polls once and drops its `SendWork` while another handle aborts
/// the session and the owner reports and closes. The outcome is taken by
/// the waiter or left in the cell for nobody, never both and never neither;
/// nothing keeps the cell alive afterwards; the room comes back once.
///
/// Broken once: `Done::report` putting the waiter back after completing it,
/// so its drop reported `Closed` as well. loom: "delivered once: taken
/// true, left true". And `Sender::send` checking `closed` before it takes
/// the queue's lock: "the send is still held" (2 holders, not 1: the send
/// stranded behind the owner's final drain).
#[test]
fn loom_a_dropped_waiter_and_an_abort_race_the_outcome() {
    loom::model(|| {
        let rt = LoomRt::new(None);
        let wire = Arc::new(Wire::default());
        let (session, mut owner) = client(&rt);
        let shared = session.shared.clone();
        shared.quota.try_acquire(0).unwrap();
        // Handed to the owner before the race: this model is about the cell.
        let mut work = session.async_send(PING);
        let cell = work.cell().expect("an open session takes the send");
        let aborter = thread::spawn(move || session.abort());
        let waiter = thread::spawn(move || {
            let taken = poll_once(&mut work).is_ready();
            drop(work);
            taken
        });
        own_then_finish(&rt, &mut owner, &wire, true);
        aborter.join().unwrap();
        let taken = waiter.join().unwrap();
        assert_eq!(Arc::strong_count(&cell), 1, "the send is still held");
        let left = has_outcome(&cell);
        assert!(taken != left, "delivered once: taken {taken}, left {left}");
        assert_eq!(shared.quota.in_use(), (0, 1), "the room came back once");
    });
}

/// Model 2: the inbox's wake-up handshake, through the real connection
/// loop. The owner runs a turn, finds its inbox empty, registers and sleeps
/// while a handle sends and waits for the outcome; then the last handle
/// goes, which must wake the owner to close. A lost wake-up leaves both
/// asleep.
///
/// Broken once: `Receiver::poll_recv` registering without looking again
/// (look, then register). loom: `deadlock; threads = [(Id(0), Blocked),
/// (Id(1), Blocked)]`: the send landed between the look and the
/// registration, its wake found no waker, and the handle waits for an
/// outcome from an owner asleep on a non-empty inbox.
#[test]
fn loom_a_send_wakes_an_owner_going_to_sleep() {
    loom::model(|| {
        let rt = LoomRt::new(None);
        let wire = Arc::new(Wire::default());
        let (session, owner) = client(&rt);
        let socket = Socket::new(&wire);
        let owner = {
            let rt = rt.clone();
            thread::spawn(move || block_on(drive(rt, socket, owner)))
        };
        let outcome = block_on(session.async_send(PING));
        assert!(outcome.is_ok(), "nothing closed the session: {outcome:?}");
        assert_eq!(wire.written(), PING_ON_WIRE);
        // The last handle: a client nobody holds closes.
        drop(session);
        owner.join().unwrap();
        assert_eq!(wire.open(), 0, "the connection outlived its owner");
    });
}

/// Model 3: `stop` racing the accept loop admitting a connection. After
/// `stop` returns, no session is registered (the hub is `Closed`, which it
/// refuses while sessions remain), none is open, and no accepted
/// connection's socket is left.
///
/// Broken once: `begin_stop` closing the sessions it finds before it sets
/// the hub `Stopping`. loom: `deadlock; threads = [(Id(0), Blocked),
/// (Id(1), Terminated), (Id(2), Blocked)]`: a connection admitted between
/// the sweep and the state change is never closed, and `stop` waits for its
/// owner forever. (Counting the new owner only after `admit` releases the
/// hub lock passes: the `serve` call's own count covers the admission.)
#[test]
fn loom_stop_racing_a_new_connection() {
    loom::model(|| {
        let (server, wire) = server_with_a_connection("stop-accept");
        let serving = {
            let server = server.clone();
            thread::spawn(move || block_on(server.serve(ignore_frames())))
        };
        block_on(server.stop());
        assert_eq!(
            server.state(),
            ServerState::Closed,
            "stop returned with sessions registered"
        );
        assert_eq!(server.session_count(), 0);
        assert_eq!(server.stats().connections_open, 0);
        assert_eq!(wire.open(), 0, "a connection outlived stop");
        // Served until stopped, or refused to start: the server was stopping.
        let _ = serving.join().unwrap();
    });
}

/// Model 3: `stop` racing a send to an open session. The connection is
/// accepted first (the accept loop polled once, by hand); then a handle's
/// `async_send` races `stop`. When `stop` returns the session's owner has
/// finished; the send ends `Sent` (its frame written, as graceful close
/// drains the queue) or `Closed` (nothing written), and its room comes back.
///
/// Broken once: `Sender::send` checking `closed` before it takes the
/// queue's lock. loom: `deadlock; threads = [(Id(0), Blocked), (Id(1),
/// Terminated), (Id(2), Blocked)]`: the send was queued behind the final
/// drain of the owner (Id(1), ended), so the sender (Id(2)) never hears.
#[test]
fn loom_stop_racing_a_send() {
    loom::model(|| {
        let (server, wire) = server_with_a_connection("stop-send");
        let mut serve = std::pin::pin!(server.serve(ignore_frames()));
        assert!(poll_once(&mut serve).is_pending());
        let session = server.sessions().pop().expect("the connection is in");
        let sender = {
            let session = session.clone();
            thread::spawn(move || block_on(session.async_send(PING)))
        };
        // The accept loop goes on on this thread, beside `stop`: its own
        // thread would only add interleavings this model is not about.
        let (served, ()) = block_on(join(serve, server.stop()));
        assert_eq!(server.state(), ServerState::Closed);
        assert!(
            session.shared.finished_flag.load(Acquire),
            "the session's owner outlived stop"
        );
        match sender.join().unwrap() {
            Ok(()) => assert_eq!(wire.written(), PING_ON_WIRE),
            Err(e) => {
                assert_eq!(e.failure(), Some(SendFailure::Closed));
                assert_eq!(wire.written(), 0, "a frame on the wire reported Closed");
            }
        }
        assert_eq!(session.shared.quota.in_use(), (0, 0));
        served.expect("served until stopped");
        assert_eq!(wire.open(), 0, "a connection outlived stop");
    });
}
