//! An echo server that drives castnet's sans-IO core from its own event
//! loop: one thread, one `mio::Poll`, one `castnet_core::Session` per
//! connection, and no castnet runtime, no engine, no async runtime. Read it
//! as the template for embedding the core in any loop (a game loop, an
//! io_uring ring, a C event library): everything castnet's runtimes do for a
//! connection is here, in the order `Session`'s docs ("The drive loop") set.
//!
//! ```text
//! cargo run --release -p castnet-examples --bin custom_event_loop -- --addr 127.0.0.1:7000
//! ```
//!
//! It speaks the bench protocol (`docs/bench-protocol.md`) as `echo_server`
//! does (`--addr`, `--header 1|2|4|8|varint`, `--endian be|le`, ignored for
//! varint, `--max-frame`; no `--runtime` and no `--workers`, it is one
//! thread), prints `listening on ADDR` once it accepts, and on
//! SIGINT/SIGTERM stops accepting, closes every session gracefully (queued
//! echoes drain within the linger time) and exits 0.
//!
//! The core decides; the loop only moves bytes and time:
//!
//! - **Readiness.** Each socket is registered once, edge-triggered, for
//!   both directions; `readable` / `writable` remember an edge until a read
//!   or a write reports `WouldBlock`.
//! - **Time.** The poll sleeps until the earliest `poll_timeout()` of any
//!   session (a `BTreeSet` of deadlines), and after each wake-up the loop
//!   compares deadlines with its own clock, so a poll that returns early or
//!   late is harmless.
//! - **Backpressure.** Replies are never refused for a full queue: the
//!   session stops wanting input instead (`wants_read()` is false) until its
//!   queue has drained to half its bound, and the loop leaves the socket
//!   unread meanwhile, so the peer's TCP window closes.
//! - **Hostile peers.** An oversized header or a truncated tail is a fatal
//!   decode error: the core stops reading, still hands out the frames before
//!   it (each is echoed), drains the queue within the linger time and then
//!   reports `Closed`. The loop drops the socket only then.
//! - **Closing.** After an orderly close (`CloseReason::is_orderly`: a
//!   local close, the peer's end, a decode error), the loop sends its FIN and reads and discards
//!   what the peer still sends, until the peer's end of stream, for at most
//!   `CLOSE_DRAIN` and `DRAIN_BYTES`: closing a socket with unread input
//!   resets the connection, and the reset throws away the echoes still in
//!   the kernel's send buffer (castnet's runtimes do the same).
//! - **Buffers.** One `SpareBuffers` for the loop, lent to the session being
//!   driven and given back after its write, so an idle connection holds no
//!   buffer.
//! - **Reading.** Into a scratch buffer the loop zeroed once, then copied
//!   into `read_buf()`: no `unsafe`, and cheaper than `read_space()`, which
//!   zeroes the room it hands out on every read (all the spare capacity of a
//!   buffer grown for a large frame included). Measured with callgrind,
//!   instructions per echoed frame: 612 against 649 for `read_space` with a
//!   4 KiB `read_chunk` (64 B echo), 1,744 against 2,809 with 16 KiB (4 KiB
//!   echo); in interleaved runs, 8% and 12% less server CPU per frame.
//!
//! Signals arrive through the examples' shared handler, on a helper thread
//! that wakes the poll with a `mio::Waker`; the serving loop is mio alone.

use castnet_core::session::{CloseReason, Event, Session, SessionConfig, SpareBuffers};
use castnet_examples::flags::{Codec, ListenArgs};
use castnet_examples::server::{announce_listening, wake_on_signal, BenchCodec};
use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::{BTreeSet, HashMap};
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown as Half;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(0);
const SIGNAL: Token = Token(1);
/// Bytes read from one connection per wake-up before the others get a turn.
const READ_BUDGET: usize = 256 * 1024;
/// Largest number of slices handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Longest a closed connection reads and discards its peer's input.
const CLOSE_DRAIN: Duration = Duration::from_secs(2);
/// Most bytes a closed connection discards before it closes regardless.
const DRAIN_BYTES: usize = 8 << 20;

fn main() -> ExitCode {
    let args = ListenArgs::parse();
    castnet_examples::init_tracing();
    // The loop is generic over its codec: one instance per `--header` kind.
    let served = match args.codec() {
        Ok(Codec::Packet(codec)) => EventLoop::bind(args.addr, codec).and_then(EventLoop::run),
        Ok(Codec::Varint(codec)) => EventLoop::bind(args.addr, codec).and_then(EventLoop::run),
        Err(e) => {
            tracing::error!(error = %e, "bad codec flags");
            return ExitCode::from(2);
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "custom_event_loop failed");
            ExitCode::FAILURE
        }
    }
}

/// One connection: its socket, its session, and what the loop knows of both.
struct Conn<C: BenchCodec> {
    stream: TcpStream,
    session: Session<C>,
    /// Readiness seen and not yet used up (edge-triggered: until `WouldBlock`).
    readable: bool,
    writable: bool,
    /// The peer ended its side: reported to the session once every frame
    /// before it has been answered, so those replies are still accepted.
    eof: bool,
    /// This connection's entry in the loop's deadlines.
    deadline: Option<Instant>,
    /// Closed, FIN sent, discarding input: until when, and how many more
    /// bytes.
    drain: Option<(Instant, usize)>,
}

struct EventLoop<C: BenchCodec> {
    poll: Poll,
    _waker: Arc<Waker>,
    /// `None` once stopping.
    listener: Option<TcpListener>,
    conns: HashMap<Token, Conn<C>>,
    deadlines: BTreeSet<(Instant, Token)>,
    /// Connections to drive again without waiting for the socket: their read
    /// budget ran out, or their backpressure lifted with input still unread.
    again: Vec<Token>,
    spare: SpareBuffers,
    scratch: Vec<u8>,
    codec: C,
    config: SessionConfig,
    next_token: usize,
}

impl<C: BenchCodec> EventLoop<C> {
    /// Installs the signal handlers, binds and announces (in that order, so
    /// a signal sent right after the `listening on` line stops us cleanly).
    fn bind(addr: std::net::SocketAddr, codec: C) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = wake_on_signal(poll.registry(), SIGNAL)?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        announce_listening(listener.local_addr()?)?;
        let config = SessionConfig::default();
        Ok(EventLoop {
            poll,
            _waker: waker,
            listener: Some(listener),
            conns: HashMap::new(),
            deadlines: BTreeSet::new(),
            again: Vec::new(),
            spare: SpareBuffers::new(),
            scratch: vec![0; config.read_chunk()],
            codec,
            config,
            next_token: 2,
        })
    }

    fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while self.listener.is_some() || !self.conns.is_empty() {
            // 9. Wait for the sockets or the earliest deadline (not at all
            // when a connection still has input to read).
            let timeout = match self.again.is_empty() {
                false => Some(Duration::ZERO),
                true => (self.deadlines.first())
                    .map(|&(at, _)| at.saturating_duration_since(Instant::now())),
            };
            match self.poll.poll(&mut events, timeout) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => result?,
            }
            let now = Instant::now();
            let mut due = std::mem::take(&mut self.again);
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(now),
                    SIGNAL => due.extend(self.stop(now)),
                    token => {
                        if let Some(conn) = self.conns.get_mut(&token) {
                            // Errors and hang-ups surface as the next read or write fails.
                            let (closed, failed) = (event.is_read_closed(), event.is_error());
                            conn.readable |= event.is_readable() || closed || failed;
                            conn.writable |=
                                event.is_writable() || event.is_write_closed() || failed;
                            due.push(token);
                        }
                    }
                }
            }
            // Deadlines as this loop's clock sees them, not as the poll's
            // timeout rounded them.
            while let Some(&(at, token)) = self.deadlines.first() {
                if at > now {
                    break;
                }
                self.deadlines.pop_first();
                if let Some(conn) = self.conns.get_mut(&token) {
                    conn.deadline = None;
                }
                due.push(token);
            }
            for token in due {
                self.wake(token, now);
            }
        }
        Ok(())
    }

    fn accept(&mut self, now: Instant) {
        while let Some(listener) = &self.listener {
            let mut stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // Out of descriptors, say: the next connection tries again.
                Err(e) => return tracing::warn!(error = %e, "accept failed"),
            };
            let token = Token(self.next_token);
            self.next_token += 1;
            let _ = stream.set_nodelay(true);
            let both = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self.poll.registry().register(&mut stream, token, both) {
                tracing::warn!(error = %e, "register failed");
                continue;
            }
            let session = Session::new(self.codec.clone(), self.config.clone(), now);
            let conn = Conn {
                stream,
                session,
                readable: false,
                writable: false,
                eof: false,
                deadline: None,
                drain: None,
            };
            self.conns.insert(token, conn);
            // A first-frame or idle timeout would be armed from the start.
            self.schedule(token);
        }
    }

    /// Stops accepting and closes every session gracefully; returns the
    /// connections to drive now.
    fn stop(&mut self, now: Instant) -> Vec<Token> {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        for conn in self.conns.values_mut() {
            conn.session.close(now);
        }
        self.conns.keys().copied().collect()
    }

    /// Drives one connection, then drops it once closed, or files its next
    /// deadline and whether it should run again without waiting.
    fn wake(&mut self, token: Token, now: Instant) {
        let Some(conn) = self.conns.get_mut(&token) else {
            return;
        };
        if conn.drain.is_none() {
            let Some(reason) = drive(conn, &mut self.spare, &mut self.scratch, now) else {
                return self.schedule(token);
            };
            tracing::debug!(%reason, "session closed");
            if reason.is_orderly() {
                // Everything queued was written: tell the peer we are done.
                let _ = conn.stream.shutdown(Half::Write);
                if !matches!(reason, CloseReason::PeerEof) {
                    conn.drain = Some((now + CLOSE_DRAIN, DRAIN_BYTES));
                }
            }
        }
        if discard(conn, &mut self.scratch, now) {
            let mut conn = self.conns.remove(&token).expect("driven just now");
            if let Some(at) = conn.deadline {
                self.deadlines.remove(&(at, token));
            }
            let _ = self.poll.registry().deregister(&mut conn.stream);
        } else {
            self.schedule(token);
        }
    }

    /// Files the connection's next deadline, and whether it has input left
    /// to read without waiting for the socket.
    fn schedule(&mut self, token: Token) {
        let conn = self.conns.get_mut(&token).expect("a live connection");
        let next = match conn.drain {
            Some((until, _)) => Some(until),
            None => conn.session.poll_timeout(),
        };
        if next != conn.deadline {
            if let Some(at) = conn.deadline {
                self.deadlines.remove(&(at, token));
            }
            if let Some(at) = next {
                self.deadlines.insert((at, token));
            }
            conn.deadline = next;
        }
        if conn.readable && conn.drain.is_none() && conn.session.wants_read() {
            self.again.push(token);
        }
    }
}

/// Reads and throws away what the peer of a closed connection still sends;
/// true once the socket is to close: the peer ended its side, the drain's
/// time or bytes ran out, or the connection is not draining at all.
fn discard<C: BenchCodec>(conn: &mut Conn<C>, scratch: &mut [u8], now: Instant) -> bool {
    let Some((until, left)) = &mut conn.drain else {
        return true;
    };
    while conn.readable && now < *until {
        match conn.stream.read(scratch) {
            Ok(n) if n > 0 && n < *left => *left -= n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.readable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => return true,
        }
    }
    now >= *until
}

/// One wake-up of one connection, in the order of the drive loop in
/// `Session`'s docs. Returns the close reason once the session has ended.
fn drive<C: BenchCodec>(
    conn: &mut Conn<C>,
    spare: &mut SpareBuffers,
    scratch: &mut [u8],
    now: Instant,
) -> Option<CloseReason> {
    let s = &mut conn.session;
    // Lend the loop's buffers to the read and the replies (back in step 8).
    s.borrow_buffers(spare);
    // 1. Read, while the session wants input and the socket has it.
    let mut budget = READ_BUDGET;
    while conn.readable && s.wants_read() && budget > 0 {
        match conn.stream.read(scratch) {
            Ok(0) => (conn.readable, conn.eof) = (false, true),
            Ok(n) => {
                s.read_buf().extend_from_slice(&scratch[..n]);
                s.on_read(n, now);
                budget = budget.saturating_sub(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.readable = false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => s.on_io_error(e.kind()),
        }
    }
    let mut closed = None;
    loop {
        // 2. Timers.
        s.handle_timeout(now);
        // 3. Events: every frame is echoed; `Closed` comes last.
        while let Some(event) = s.poll_event() {
            match event {
                Event::Frame(frame) => {
                    // Refused only once the session is closing.
                    let _ = s.reply(frame, now);
                }
                Event::Closed(reason) => closed = Some(reason),
                _ => {}
            }
        }
        // 4. Commands from elsewhere: an echo server has none.
        // 5. End of stream, now that the frames before it are answered.
        if std::mem::take(&mut conn.eof) && closed.is_none() {
            s.on_eof(now);
            continue;
        }
        // 6. Write, until the queue is empty or the socket is full.
        while conn.writable && s.wants_write() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = s.chunks_vectored(&mut slices);
            match conn.stream.write_vectored(&slices[..n]) {
                Ok(0) => s.on_io_error(io::ErrorKind::WriteZero),
                Ok(written) => s.on_written(written, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => conn.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => s.on_io_error(e.kind()),
            }
        }
        // 7. Again if the write completed something (a drained close, say).
        if closed.is_some() || s.poll_timeout().is_none_or(|at| at > now) {
            break;
        }
    }
    // 8. Give the buffers back: an idle connection holds none.
    s.return_buffers(spare);
    closed
}
