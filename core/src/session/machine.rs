//! [`Session`]: one connection's protocol state, driven by explicit calls.

use super::config::SessionConfig;
use super::event::{CloseReason, Event};
use super::input::ReadBuffer;
use super::queue::{Deadline, SendQueue, Tag, PACK_FRAME_MAX};
use super::send::{SendDeadline, SendError, UntrackedFinished};
use super::spare::SpareBuffers;
use super::stats::SessionStats;
use super::timer::Timer;
use super::{SendFailure, SendId, SendOutcome};
use crate::frame::{Decoder, EncodedFrame, Encoder, FrameError};
use crate::limits::{RateExceeded, RateLimiter, RatePolicy};
use bytes::BytesMut;
use std::collections::VecDeque;
use std::fmt;
use std::io::IoSlice;
use std::time::{Duration, Instant};

/// Borrows a session's [`Outcomes`] without borrowing its queue.
macro_rules! outcomes {
    ($s:ident) => {
        Outcomes {
            events: &mut $s.events,
            stats: &mut $s.stats,
            untracked: &mut $s.untracked,
        }
    };
}

/// One connection's protocol state: the send queue and the outcome of every
/// send, send deadlines, heartbeat, liveness and idle rules, the inbound rate
/// limit, and graceful close. It does no IO and reads no clock; a runtime (or
/// your own loop) moves bytes and time in and out through four kinds of
/// methods:
///
/// - **input** — [`read_buf`](Self::read_buf) or [`read_space`](Self::read_space),
///   then [`on_read`](Self::on_read); [`on_eof`](Self::on_eof);
///   [`on_written`](Self::on_written); [`handle_timeout`](Self::handle_timeout).
/// - **output** — [`poll_event`](Self::poll_event),
///   [`chunks_vectored`](Self::chunks_vectored) / [`chunk`](Self::chunk),
///   [`poll_timeout`](Self::poll_timeout), [`wants_read`](Self::wants_read),
///   [`wants_write`](Self::wants_write).
/// - **commands** — [`reply`](Self::reply), [`reply_tracked`](Self::reply_tracked),
///   [`reply_encoded`](Self::reply_encoded) (never refused for a full queue),
///   [`send`](Self::send), [`send_with`](Self::send_with),
///   [`send_encoded`](Self::send_encoded), [`set_heartbeat`](Self::set_heartbeat),
///   [`close`](Self::close), [`abort`](Self::abort).
/// - **getters** — [`stats`](Self::stats), [`is_closed`](Self::is_closed),
///   [`queued_bytes`](Self::queued_bytes), [`config`](Self::config), …
///
/// Every method that takes `now` treats an instant earlier than one already
/// seen as that later instant: time never goes backwards inside a session.
///
/// # The drive loop
///
/// Every driver follows this order, stated here once: castnet's engine
/// (under castnet-tokio and castnet-smol) does, and so does the
/// `custom_event_loop` example of castnet-examples
/// (`examples/src/bin/custom_event_loop.rs`), an echo server on `mio` that
/// shows in about 200 lines how to embed the core in a loop of your own.
/// Each time the loop wakes up for a session (its socket readable or
/// writable, a command for it, or its `poll_timeout` deadline), at the
/// loop's own `now`:
///
/// 1. **Read**, while `wants_read()` and the socket has bytes (up to a
///    budget, so other sessions get their turn): into `read_buf()` or
///    `read_space()`, then `on_read(n, now)`. A read of 0 bytes at end of
///    stream is remembered, and reported in step 5.
/// 2. **Timers**: `handle_timeout(now)`. Cheap when nothing is due; called
///    before every write, it never lets an expired send slip out late.
/// 3. **Events**: `poll_event()` until `None`: frames (a handler that runs
///    in the loop answers with `reply`, straight into the queue), send
///    outcomes, `Writable`, and `Closed` last.
/// 4. **Commands** from elsewhere: `send`, `set_heartbeat`, `close`,
///    `abort`. If they made events, back to 3.
/// 5. **End of stream**, if step 1 met it: `on_eof(now)`, then back to 3.
///    Only now, once every frame before it has been answered: end of
///    stream begins a graceful close, which refuses replies.
/// 6. **Write**, while `wants_write()`: one vectored write of
///    `chunks_vectored`, then `on_written(n, now)` with however many bytes
///    the OS took, until the queue is empty or the socket would block.
/// 7. **Again** from 2 if `poll_timeout()` is at or before `now`: the write
///    completed sends, or a close, whose events wait.
/// 8. **Buffers**: with [`SpareBuffers`], `borrow_buffers` before steps 1
///    and 3 and `return_buffers` here, so an idle session holds none.
/// 9. **Wait** for: readable if `wants_read()`, writable if
///    `wants_write()`, a command, or `poll_timeout()`; on waking, compare
///    `now` with the deadline yourself rather than trusting the timer to
///    have fired on time. After `Closed`, drop the socket (a `Local` or
///    `PeerEof` close wrote everything queued: shut its write side first).
///
/// A fatal decode error (a header over the codec's maximum, a partial frame
/// at end of stream) stops reading at once: `wants_read()` turns false and
/// nothing more is decoded. The frames decoded before it are still
/// delivered, and sends are still accepted until every event from before
/// the error has been taken; the `poll_event` call that finds none of them
/// left begins a graceful close with `CloseReason::Frame(error)`, as
/// `close` does (the queue drains within `linger`). So a loop that replies
/// to each frame before it polls the next gets every reply written.
///
/// A loop that queues replies through [`reply`](Self::reply) stops reading
/// while `wants_read()` is false, and this is how backpressure reaches TCP:
/// a reply is never refused for a full queue, so instead the session stops
/// wanting input from the moment its queue reaches either bound until it
/// has drained to half of it ([`is_backpressured`](Self::is_backpressured));
/// what the peer sends meanwhile waits in the kernel, its TCP window
/// closes, and a peer that asks faster than it reads is slowed down (or,
/// with a `slow_consumer_timeout`, closed). When a write brings the queue
/// down to half, `wants_read()` turns true again: resume reading then, even
/// though the socket reports nothing new (an edge-triggered poller will not
/// repeat a readiness that was never used up).
///
/// `poll_timeout` returns `now` while events are waiting, so a loop that
/// forgets step 3 does not sleep on them. Queued bytes are reported by
/// `wants_write` instead: they wait for the socket, not for a timer.
///
/// ```
/// use bytes::{BufMut, Bytes};
/// use castnet_core::session::SpareBuffers;
/// use castnet_core::{Event, PacketN, Session, SessionConfig};
/// use std::io::IoSlice;
/// use std::time::Instant;
///
/// /// One wake-up of one session, answering "ping" with "pong". `inbox`
/// /// stands for its socket's receive side, `wire` for what its writes reach.
/// fn wake(
///     s: &mut Session<PacketN>,
///     spare: &mut SpareBuffers,
///     inbox: &mut Vec<u8>,
///     wire: &mut Vec<u8>,
///     now: Instant,
/// ) -> Vec<Bytes> {
///     s.borrow_buffers(spare);
///     if s.wants_read() && !inbox.is_empty() {
///         s.read_buf().put_slice(inbox); // 1. read
///         s.on_read(inbox.len(), now);
///         inbox.clear();
///     }
///     let mut frames = Vec::new();
///     loop {
///         s.handle_timeout(now); // 2. timers
///         while let Some(event) = s.poll_event() {
///             match event {
///                 // 3. events: the reply goes into the queue at once.
///                 Event::Frame(f) => {
///                     if f.as_ref() == b"ping" {
///                         s.reply(Bytes::from_static(b"pong"), now).unwrap();
///                     }
///                     frames.push(f);
///                 }
///                 Event::Closed(reason) => println!("closed: {reason}"),
///                 _ => {} // Sent, Failed, Writable, …
///             }
///         }
///         // 4, 5: no commands and no end of stream here.
///         while s.wants_write() {
///             // 6. write; a real socket may take fewer bytes, and
///             // `on_written` accepts any count.
///             let mut slices = [IoSlice::new(&[]); 64];
///             let k = s.chunks_vectored(&mut slices);
///             let n: usize = slices[..k].iter().map(|b| { wire.extend_from_slice(b); b.len() }).sum();
///             s.on_written(n, now);
///         }
///         if s.poll_timeout().is_none_or(|at| at > now) {
///             break; // 7. nothing due: done
///         }
///     }
///     s.return_buffers(spare); // 8. an idle session holds no buffer
///     frames
/// }
///
/// let t0 = Instant::now(); // the loop's clock; the core never reads one
/// let mut spare = SpareBuffers::new(); // one per loop, lent to each session in turn
/// let mut client = Session::new(PacketN::default(), SessionConfig::default(), t0);
/// let mut server = Session::new(PacketN::default(), SessionConfig::default(), t0);
/// let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
///
/// client.send(Bytes::from_static(b"ping"), t0).unwrap();
/// wake(&mut client, &mut spare, &mut Vec::new(), &mut to_server, t0);
/// assert_eq!(wake(&mut server, &mut spare, &mut to_server, &mut to_client, t0), [Bytes::from_static(b"ping")]);
/// assert_eq!(wake(&mut client, &mut spare, &mut to_client, &mut to_server, t0), [Bytes::from_static(b"pong")]);
/// assert_eq!(client.stats().sent, 1);
///
/// // 9. Nothing is due (no timer is armed and the buffers went back to
/// // `spare`): the loop sleeps until the peer or a command wakes it.
/// assert_eq!(client.poll_timeout(), None);
/// client.close(t0);
/// assert!(matches!(client.poll_event(), Some(Event::Closed(_))));
/// assert!(client.is_closed());
/// ```
///
/// # Reading without `unsafe`
///
/// Runtimes read in one of two ways, both safe and without a copy:
///
/// - into a `BytesMut` (Tokio's `read_buf` / `try_read_buf`): use
///   [`read_buf`](Self::read_buf), which reserves room and lets the reader
///   append;
/// - into a `&mut [u8]` (`std::io::Read`, smol's `AsyncReadExt::read`): use
///   [`read_space`](Self::read_space), which hands out zeroed room (zeroing
///   is the price of not touching uninitialised memory) and keeps the first
///   `n` bytes at `on_read(n)`.
///
/// Room is made only when asked for, and the buffer is released once
/// decoding empties it and the session has been idle for
/// [`keep_buffers`](SessionConfig::keep_buffers) (at once when that is zero):
/// a busy session reads into the same allocation turn after turn, an idle
/// one holds no read buffer. Ask for room when the socket is readable, not
/// before waiting.
pub struct Session<C: Decoder> {
    codec: C,
    config: SessionConfig,
    /// The latest instant seen.
    now: Instant,
    /// Where the first-frame deadline counts from: the start, or the end of
    /// the last backpressure pause (the session was not listening).
    first_frame_from: Instant,
    state: State,

    queue: SendQueue,
    next_id: u64,
    /// A send was refused `QueueFull` and no `Writable` has followed yet.
    writable_owed: bool,
    /// Since when the queue has kept reading paused: set when it reaches
    /// either bound, cleared at the low-water mark (see `is_backpressured`).
    backpressured: Option<Instant>,
    heartbeat: Option<Heartbeat>,
    last_write: Instant,

    input: ReadBuffer,
    input_end: InputEnd,
    limiter: Option<RateLimiter>,
    reading: Reading,
    /// A decoded frame (or discard report) waiting for rate tokens.
    parked: Option<Event<C::Item>>,
    first_frame_seen: bool,
    last_read: Instant,
    /// The last byte read or written, for the idle timeout.
    last_traffic: Instant,

    events: VecDeque<Event<C::Item>>,
    /// A fatal decode error whose graceful close waits for the events before
    /// it to be polled.
    failed_close: Option<FailedClose>,
    /// Untracked sends ended since the last `take_untracked_finished`.
    untracked: UntrackedFinished,
    stats: SessionStats,
}

#[derive(Debug)]
enum State {
    Open,
    /// Sends are refused; the queue drains until `linger_until`.
    Closing {
        reason: CloseReason,
        linger_until: Option<Instant>,
    },
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputEnd {
    Open,
    /// `on_eof` was called; what is buffered is still to be decoded.
    EofPending,
    Ended,
    /// A fatal decode error: nothing more is read or decoded.
    Failed,
}

/// The graceful close a fatal decode error calls for, once the events
/// decoded before it have been taken (so replies to them are accepted).
#[derive(Debug)]
struct FailedClose {
    error: FrameError,
    /// Events queued before the error and not yet polled.
    before: usize,
    /// When the error was found: the close is due from then on, once
    /// `before` is 0.
    at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Active,
    /// Paused by the rate limit (`None`: no representable resume instant).
    Paused {
        resume_at: Option<Instant>,
    },
}

#[derive(Debug, Clone)]
struct Heartbeat {
    interval: Duration,
    frame: EncodedFrame,
}

/// A refusal decided before the message is touched.
enum Refusal {
    QueueFull,
    Closed,
}

impl Refusal {
    fn with<I>(self, item: I) -> SendError<I> {
        match self {
            Refusal::QueueFull => SendError::QueueFull(item),
            Refusal::Closed => SendError::Closed(item),
        }
    }
}

impl<C: Decoder> Session<C> {
    /// A new, open session started at `now`.
    pub fn new(codec: C, config: SessionConfig, now: Instant) -> Self {
        // A `SessionConfig` is validated when built, so the limiter exists
        // whenever a limit is configured.
        let limiter = config
            .rate_limit()
            .and_then(|limit| RateLimiter::new(limit, now).ok());
        let keep_spare = !config.keep_buffers().is_zero();
        Session {
            codec,
            config,
            now,
            first_frame_from: now,
            state: State::Open,
            queue: SendQueue::new(keep_spare),
            next_id: 0,
            writable_owed: false,
            backpressured: None,
            heartbeat: None,
            last_write: now,
            input: ReadBuffer::default(),
            input_end: InputEnd::Open,
            limiter,
            reading: Reading::Active,
            parked: None,
            first_frame_seen: false,
            last_read: now,
            last_traffic: now,
            events: VecDeque::new(),
            failed_close: None,
            untracked: UntrackedFinished::default(),
            stats: SessionStats::default(),
        }
    }

    // ----- getters -----

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// True once the session has ended (its `Closed` event may still be
    /// waiting in [`poll_event`](Self::poll_event)).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// True between a graceful close and the end of its drain.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        matches!(self.state, State::Closing { .. })
    }

    /// True when a send now would be queued: the session is open and its
    /// queue is under both bounds. A runtime that moves frames in on its own
    /// schedule (a broadcast ring, say) checks this before it takes one.
    #[must_use]
    pub fn accepts_sends(&self) -> bool {
        matches!(self.state, State::Open) && self.has_room()
    }

    /// Whether the runtime should read: false once closed, after end of
    /// stream or a fatal decode error, while the rate limit pauses reading,
    /// and while the send queue is backpressured
    /// ([`is_backpressured`](Self::is_backpressured)).
    #[must_use]
    pub fn wants_read(&self) -> bool {
        !self.is_closed()
            && self.input_end == InputEnd::Open
            && !self.is_paused()
            && self.backpressured.is_none()
    }

    /// True while the send queue keeps reading paused: from the moment it
    /// holds at least `max_queue_bytes` bytes or `max_queue_frames` frames
    /// (which only replies, never refused for a full queue, can take it
    /// past) until it is down to at most half of each bound, rounded down
    /// (the low-water mark; so a bound of 1 resumes only once the queue is
    /// empty). Meanwhile [`wants_read`](Self::wants_read) is false, so a peer
    /// that does not read what it is sent is not read either and TCP flow
    /// control slows it down; liveness (peer, idle and first-frame timeouts)
    /// is not judged, and those clocks restart when reading resumes. See
    /// also [`SessionConfigBuilder::slow_consumer_timeout`].
    ///
    /// [`SessionConfigBuilder::slow_consumer_timeout`]: super::SessionConfigBuilder::slow_consumer_timeout
    #[must_use]
    pub fn is_backpressured(&self) -> bool {
        self.backpressured.is_some()
    }

    /// Whether bytes are queued for the socket.
    #[must_use]
    pub fn wants_write(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Unwritten bytes in the queue.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.queue.bytes()
    }

    /// Frames in the queue, the partly written one included.
    #[must_use]
    pub fn queued_frames(&self) -> usize {
        self.queue.len()
    }

    /// Bytes the read buffer holds allocated: 0 for an idle session, since
    /// the buffer is released once decoding empties it and
    /// [`keep_buffers`](SessionConfig::keep_buffers) passes without traffic.
    #[must_use]
    pub fn read_buffer_capacity(&self) -> usize {
        self.input.capacity()
    }

    // ----- input -----

    /// The read buffer with at least `read_chunk` bytes of spare capacity, for
    /// a reader that appends to a `BytesMut` (Tokio's `read_buf`). Report what
    /// was appended with [`on_read`](Self::on_read).
    pub fn read_buf(&mut self) -> &mut BytesMut {
        self.input.append(self.config.read_chunk())
    }

    /// Zeroed room (at least `read_chunk` bytes) for a reader that fills a
    /// `&mut [u8]` (`std::io::Read::read`). Then call
    /// [`on_read(n, now)`](Self::on_read), with 0 if the read failed or would
    /// block: only the first `n` bytes are kept. Zeroing costs about as
    /// much as the copy a read does, every call: a loop reading this way may
    /// prefer a smaller [`read_chunk`](super::SessionConfigBuilder::read_chunk)
    /// than the default.
    pub fn read_space(&mut self) -> &mut [u8] {
        self.input.space(self.config.read_chunk())
    }

    /// Takes from `spare` what the session lacks (see [`SpareBuffers`]): a
    /// read buffer when it holds none, and memory for its next packed run of
    /// small frames. Cheap enough to call before every read and every turn.
    ///
    /// A session that no longer reads takes no read buffer, and one that no
    /// longer accepts sends takes no run memory.
    pub fn borrow_buffers(&mut self, spare: &mut SpareBuffers) {
        if self.input_end == InputEnd::Open && !self.is_closed() {
            self.input.borrow(&mut spare.read);
        }
        if matches!(self.state, State::Open) {
            self.queue.borrow_spare(&mut spare.run);
        }
    }

    /// Gives back what the session holds and no longer needs (see
    /// [`SpareBuffers`]), into `spare` where that has room and freed
    /// otherwise. It keeps a read buffer that holds a partial frame, or
    /// whose frames wait in [`poll_event`](Self::poll_event), and the runs
    /// waiting to be written. Call it once the turn's events are polled and
    /// its writes done.
    pub fn return_buffers(&mut self, spare: &mut SpareBuffers) {
        if self.events.is_empty() {
            self.input
                .give_back(&mut spare.read, self.config.read_chunk());
        }
        self.queue.return_spare(&mut spare.run);
    }

    /// Reports `n` bytes read into [`read_buf`](Self::read_buf) or
    /// [`read_space`](Self::read_space), and decodes what it can. Frames and
    /// discard reports come out of [`poll_event`](Self::poll_event). A fatal
    /// decode error stops reading and closes the session gracefully once the
    /// frames decoded before it are polled (see the drive loop in the
    /// type's docs). `n == 0` only withdraws the room of `read_space`; end
    /// of stream is [`on_eof`](Self::on_eof). Bytes reported after a fatal
    /// decode error are dropped.
    pub fn on_read(&mut self, n: usize, now: Instant) {
        let now = self.tick(now);
        let n = self.input.commit(n);
        if self.is_closed() || self.input_end == InputEnd::Failed {
            self.input.clear();
            return;
        }
        if n > 0 {
            self.stats.bytes_in += n as u64;
            self.last_read = now;
            self.last_traffic = now;
        }
        self.pump(now);
    }

    /// Reports that the peer ended its side of the stream. What is buffered is
    /// decoded; then the session closes gracefully with
    /// [`CloseReason::PeerEof`]: queued frames still drain, within the linger
    /// time. A partial frame is a fatal `UnexpectedEof`, handled as any fatal
    /// decode error: the frames before it are delivered, then the close
    /// begins with `Frame(UnexpectedEof)`.
    pub fn on_eof(&mut self, now: Instant) {
        let now = self.tick(now);
        self.input.commit(0);
        if self.is_closed() {
            return;
        }
        if self.input_end == InputEnd::Open {
            self.input_end = InputEnd::EofPending;
        }
        self.pump(now);
    }

    /// Reports that the OS accepted the next `n` queued bytes. `n` may stop
    /// anywhere, mid-header included; each frame completed emits `Sent` (in
    /// queue order). Ignored once closed.
    ///
    /// # Panics
    ///
    /// If `n` exceeds [`queued_bytes`](Self::queued_bytes): the runtime
    /// claims to have written bytes it was never given.
    pub fn on_written(&mut self, n: usize, now: Instant) {
        let now = self.tick(now);
        if n == 0 || self.is_closed() {
            return;
        }
        assert!(
            n <= self.queue.bytes(),
            "on_written({n}) but only {} bytes are queued",
            self.queue.bytes()
        );
        self.last_write = now;
        self.last_traffic = now;
        self.stats.bytes_out += n as u64;
        let mut out = outcomes!(self);
        self.queue
            .advance(n, |tag, outcome| out.record(tag, outcome));
        self.after_dequeue(now);
    }

    /// Fires every timer due at `now`: send deadlines (`Failed(TimedOut)`),
    /// the close of a fatal decode error whose earlier events were all
    /// polled, the linger deadline, first-frame, peer and idle timeouts (each closes
    /// the session), the heartbeat, and the end of a rate-limit pause.
    ///
    /// Idempotent; accepts `now` exactly at a deadline or long after it; a
    /// `now` earlier than one already seen changes nothing. Afterwards no
    /// deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.tick(now);
        for timer in Timer::ALL {
            if self.deadline(timer).is_some_and(|at| at <= now) {
                self.fire(timer, now);
            }
        }
    }

    // ----- output -----

    /// Whether [`poll_event`](Self::poll_event) has an event to give.
    #[must_use]
    #[inline]
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// The next event, in the order things happened; `Closed` is last.
    ///
    /// After a fatal decode error, the call that finds no event from before
    /// the error left begins the graceful close the error calls for (at the
    /// latest `now` seen), so the events it returns from then on may include
    /// `Closed`.
    #[must_use]
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event<C::Item>> {
        if self.failed_close.is_some() {
            self.count_polled_before_failure();
        }
        self.events.pop_front()
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout)
    /// has something to do; the latest `now` seen while events wait to be
    /// polled (or a deadline is already due); `None` when nothing is armed.
    ///
    /// O(1): the minimum over a fixed set of slots (rate-limit resume, earliest
    /// send deadline, the close a fatal decode error calls for, linger, first
    /// frame, peer timeout, idle timeout, heartbeat), each computed from the current state, so a changed setting
    /// shows at once.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.events.is_empty() {
            return Some(self.now);
        }
        self.poll_timer()
    }

    /// When a timer is next due: [`poll_timeout`](Self::poll_timeout)
    /// leaving out the events waiting to be polled. For a driver that holds
    /// its events back for a while (its handler is paused) and must not
    /// spin on them; `None` when nothing is armed.
    #[must_use]
    pub fn poll_timer(&self) -> Option<Instant> {
        Timer::ALL
            .into_iter()
            .filter_map(|timer| self.deadline(timer))
            .min()
            .map(|at| at.max(self.now))
    }

    /// The first contiguous run of queued bytes, for a writer without
    /// vectored IO (empty when nothing is queued).
    #[must_use]
    pub fn chunk(&self) -> &[u8] {
        self.queue.chunk()
    }

    /// Fills `dst` with the queued bytes of as many frames as fit, in order,
    /// and returns how many slices it filled. A frame's header and payload
    /// are separate slices, never copied together, except for small
    /// untracked frames, which [`send_untracked`](Self::send_untracked)
    /// packs into shared runs (one slice each). Write them, then report the
    /// count the OS took with [`on_written`](Self::on_written).
    #[must_use]
    pub fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.queue.chunks_vectored(dst)
    }

    // ----- commands -----

    /// Queues `item` with the default send deadline. See
    /// [`send_with`](Self::send_with).
    pub fn send<I>(&mut self, item: I, now: Instant) -> Result<SendId, SendError<I>>
    where
        C: Encoder<I>,
    {
        self.send_with(item, SendDeadline::Default, now)
    }

    /// Queues `item` and returns its `SendId`, which ends exactly once, as
    /// `Sent` or `Failed(Closed | TimedOut)`.
    ///
    /// Refusals, checked in this order before the item is encoded:
    /// [`SendError::Closed`] once the session is closing or closed;
    /// [`SendError::QueueFull`] while queued bytes ≥ `max_queue_bytes` or
    /// queued frames ≥ `max_queue_frames` (so a frame larger than the byte
    /// bound is still accepted into an empty queue, and the queue never holds
    /// more than the bound plus one frame); both hand `item` back. Then
    /// [`SendError::Frame`] if the codec refuses it (nothing is queued; the
    /// item is consumed).
    pub fn send_with<I>(
        &mut self,
        item: I,
        deadline: SendDeadline,
        now: Instant,
    ) -> Result<SendId, SendError<I>>
    where
        C: Encoder<I>,
    {
        let now = self.tick(now);
        let frame = self.admit_item(item, true)?;
        Ok(self.enqueue(frame, deadline, now))
    }

    /// Queues a frame that is already encoded, such as one broadcast frame
    /// whose `Bytes` many sessions share: nothing is copied. Refusals are
    /// those of [`send_with`](Self::send_with), and hand the frame back.
    pub fn send_encoded(
        &mut self,
        frame: EncodedFrame,
        deadline: SendDeadline,
        now: Instant,
    ) -> Result<SendId, SendError<EncodedFrame>> {
        let now = self.tick(now);
        if let Err(refusal) = self.check_room() {
            return Err(refusal.with(frame));
        }
        Ok(self.enqueue(frame, deadline, now))
    }

    /// Queues an encoded frame that nobody waits on: it gets no [`SendId`]
    /// and no `Sent`/`Failed` event, which saves an event per frame on paths
    /// such as fire-and-forget replies and broadcast fan-out. Everything
    /// else is as for [`send_encoded`](Self::send_encoded): the same
    /// refusals, deadline and close rules, and the same counters in
    /// [`stats`](Self::stats). When it ends, however it ends, its length (as
    /// queued) is added to
    /// [`take_untracked_finished`](Self::take_untracked_finished), so a
    /// runtime can return the room it took in one step per turn.
    ///
    /// A frame of at most 1 KiB is copied into a packed run (of up to
    /// 16 KiB) with the untracked frames queued just before it at the same
    /// deadline (typically the replies of one turn), so many small frames
    /// cost the writer one slice and the queue one entry.
    /// Order, deadlines, counters and the frames-and-bytes bound are exactly
    /// as if each were queued alone; the one difference is that a run whose
    /// first byte was written is not cut, so none of its frames times out
    /// after that.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::{EncodedFrame, PacketN};
    /// use castnet_core::session::{SendDeadline, Session, SessionConfig};
    /// use std::time::Instant;
    ///
    /// let now = Instant::now();
    /// let mut s = Session::new(PacketN::default(), SessionConfig::default(), now);
    /// let frame = EncodedFrame::contiguous(Bytes::from_static(b"\0\0\0\x02hi"));
    /// s.send_untracked(frame, SendDeadline::Default, now).unwrap();
    /// s.on_written(6, now);
    /// assert!(s.poll_event().is_none(), "no event for an untracked send");
    /// let done = s.take_untracked_finished();
    /// assert_eq!((done.frames, done.bytes), (1, 6));
    /// assert_eq!(s.stats().sent, 1);
    /// ```
    pub fn send_untracked(
        &mut self,
        frame: EncodedFrame,
        deadline: SendDeadline,
        now: Instant,
    ) -> Result<(), SendError<EncodedFrame>> {
        let now = self.tick(now);
        if let Err(refusal) = self.check_room() {
            return Err(refusal.with(frame));
        }
        self.enqueue_untracked(frame, deadline, now);
        Ok(())
    }

    /// Queues `item` as a reply from the session's owner (a handler that
    /// runs where the session is driven): encoded with the session's codec
    /// and queued untracked, as [`send_untracked`](Self::send_untracked)
    /// queues a frame (no [`SendId`], no event, counted in
    /// [`take_untracked_finished`](Self::take_untracked_finished), packed
    /// into runs with the untracked frames before it), but with no send
    /// deadline ([`SendDeadline::Never`]).
    ///
    /// A reply is part of the stream its peer asked for: one dropped for
    /// time would leave a gap that peer cannot see, while the replies after
    /// it still arrive. So a peer that reads late, however late, gets every
    /// reply; one that stops reading is held back by the backpressure below
    /// and, if configured, closed by `slow_consumer_timeout`. A reply with a
    /// deadline of its own is [`reply_tracked`](Self::reply_tracked).
    ///
    /// Unlike the `send*` methods, a reply is never refused for a full
    /// queue: the owner cannot wait for room without stalling the very
    /// loop that drains the queue. Instead the session stops reading while
    /// its queue is at or over either bound (see
    /// [`is_backpressured`](Self::is_backpressured)), so the peer that asks
    /// for replies faster than it reads them is slowed down by TCP.
    ///
    /// Refusals: [`SendError::Closed`] once the session is closing or
    /// closed (the item is handed back), [`SendError::Frame`] if the codec
    /// refuses it (nothing is queued).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::{PacketN, Session, SessionConfig};
    /// use std::time::Instant;
    ///
    /// let now = Instant::now();
    /// let config = SessionConfig::builder().max_queue_frames(2).build().unwrap();
    /// let mut s = Session::new(PacketN::default(), config, now);
    /// for _ in 0..3 {
    ///     s.reply(Bytes::from_static(b"hi"), now).unwrap(); // over the bound
    /// }
    /// assert!(s.is_backpressured() && !s.wants_read());
    /// let n = s.queued_bytes();
    /// s.on_written(n, now);
    /// assert!(s.wants_read());
    /// assert_eq!(s.take_untracked_finished().frames, 3);
    /// ```
    pub fn reply<I>(&mut self, item: I, now: Instant) -> Result<(), SendError<I>>
    where
        C: Encoder<I>,
    {
        let now = self.tick(now);
        if let Err(refusal) = self.check_open() {
            return Err(refusal.with(item));
        }
        match self.codec.encoded_len(&item) {
            // A small frame is encoded straight into its packed run.
            Some(len) if len != 0 && len <= PACK_FRAME_MAX => {
                let deadline = self.queue_deadline(SendDeadline::Never, now);
                let codec = &mut self.codec;
                let mut out = outcomes!(self);
                self.queue
                    .pack(
                        len,
                        deadline,
                        |buf| codec.encode_to_vec(item, buf),
                        |tag, outcome| out.record(tag, outcome),
                    )
                    .map_err(SendError::Frame)?;
                self.stats.sends_accepted += 1;
                self.check_backpressure(now);
            }
            _ => {
                let frame = self.codec.encode_frame(item).map_err(SendError::Frame)?;
                self.enqueue_untracked(frame, SendDeadline::Never, now);
            }
        }
        Ok(())
    }

    /// [`reply`](Self::reply) with a [`SendId`] and a deadline of its own:
    /// the id ends exactly once, as `Sent` or `Failed(Closed | TimedOut)`,
    /// as for [`send_with`](Self::send_with). Never refused for a full
    /// queue; refused with [`SendError::Closed`] once closing or closed, or
    /// [`SendError::Frame`] if the codec refuses the item.
    pub fn reply_tracked<I>(
        &mut self,
        item: I,
        deadline: SendDeadline,
        now: Instant,
    ) -> Result<SendId, SendError<I>>
    where
        C: Encoder<I>,
    {
        let now = self.tick(now);
        let frame = self.admit_item(item, false)?;
        Ok(self.enqueue(frame, deadline, now))
    }

    /// [`reply`](Self::reply) with a frame that is already encoded: queued
    /// untracked with no send deadline, never refused for a full
    /// queue; refused with [`SendError::Closed`] (the frame handed back)
    /// once the session is closing or closed.
    pub fn reply_encoded(
        &mut self,
        frame: EncodedFrame,
        now: Instant,
    ) -> Result<(), SendError<EncodedFrame>> {
        let now = self.tick(now);
        if let Err(refusal) = self.check_open() {
            return Err(refusal.with(frame));
        }
        self.enqueue_untracked(frame, SendDeadline::Never, now);
        Ok(())
    }

    /// The untracked sends (see [`send_untracked`](Self::send_untracked))
    /// that ended since the last call, written or failed, and their total
    /// length; resets the count.
    pub fn take_untracked_finished(&mut self) -> UntrackedFinished {
        std::mem::take(&mut self.untracked)
    }

    /// Starts, changes or (`None`, or a zero interval) stops the heartbeat,
    /// effective at once: `payload` goes out whenever nothing has been written
    /// for `interval`, so a busy link sends none. A heartbeat is a frame with
    /// no `SendId`; it is counted in `heartbeats_sent`.
    ///
    /// On a closing or closed session this does nothing (never a panic). If
    /// the codec cannot encode `payload`, the previous setting stays and the
    /// error is returned. To stop without naming the item type, use
    /// [`clear_heartbeat`](Self::clear_heartbeat).
    pub fn set_heartbeat<I>(
        &mut self,
        heartbeat: Option<(Duration, I)>,
        now: Instant,
    ) -> Result<(), FrameError>
    where
        C: Encoder<I>,
    {
        let heartbeat = match heartbeat {
            Some((interval, payload)) if !interval.is_zero() => {
                Some((interval, self.codec.encode_frame(payload)?))
            }
            _ => None,
        };
        self.set_heartbeat_frame(heartbeat, now);
        Ok(())
    }

    /// [`set_heartbeat`](Self::set_heartbeat) with a frame that is already
    /// encoded: what a runtime uses when the payload was encoded in another
    /// task. `None` or a zero interval stops the heartbeat; on a closing or
    /// closed session this does nothing.
    pub fn set_heartbeat_frame(
        &mut self,
        heartbeat: Option<(Duration, EncodedFrame)>,
        now: Instant,
    ) {
        self.tick(now);
        if !matches!(self.state, State::Open) {
            return;
        }
        self.heartbeat = match heartbeat {
            Some((interval, frame)) if !interval.is_zero() => Some(Heartbeat { interval, frame }),
            _ => None,
        };
    }

    /// Stops the heartbeat: `set_heartbeat(None, now)`.
    pub fn clear_heartbeat(&mut self, now: Instant) {
        self.tick(now);
        self.heartbeat = None;
    }

    /// Closes gracefully: new sends are refused with `Closed`, the queue
    /// drains, then `Closed(Local)`; if the linger time runs out first, what
    /// is left fails `Closed` and the reason is `LingerExpired`. Inbound
    /// frames are still delivered meanwhile. Does nothing if already closing
    /// or closed.
    pub fn close(&mut self, now: Instant) {
        let now = self.tick(now);
        if matches!(self.state, State::Open) {
            self.begin_close(CloseReason::Local, now);
        }
    }

    /// Ends the session now: every pending send fails `Closed`, then
    /// `Closed(Aborted)`. Does nothing if already closed.
    pub fn abort(&mut self) {
        if !self.is_closed() {
            self.finish(CloseReason::Aborted);
        }
    }

    /// Reports that the connection failed (a read or write error other than
    /// "would block"): the session ends now, as with [`abort`](Self::abort),
    /// with [`CloseReason::Io`]. Does nothing if already closed.
    pub fn on_io_error(&mut self, kind: std::io::ErrorKind) {
        if !self.is_closed() {
            self.finish(CloseReason::Io(kind));
        }
    }

    // ----- internals -----

    fn tick(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn is_paused(&self) -> bool {
        matches!(self.reading, Reading::Paused { .. })
    }

    /// The deadline of one timer slot, or `None` when it is not armed.
    #[inline]
    fn deadline(&self, timer: Timer) -> Option<Instant> {
        let open = matches!(self.state, State::Open);
        // Liveness is judged only while the session listens to the peer.
        let listening = open
            && !self.is_paused()
            && self.input_end != InputEnd::Failed
            && self.backpressured.is_none();
        let after = |from: Instant, d: Option<Duration>| d.and_then(|d| from.checked_add(d));
        match timer {
            Timer::RateResume => match self.reading {
                Reading::Paused { resume_at } => resume_at,
                Reading::Active => None,
            },
            Timer::SendDeadline => self.queue.earliest_deadline(),
            Timer::FailedClose => match &self.failed_close {
                Some(FailedClose { before: 0, at, .. }) => Some(*at),
                _ => None,
            },
            Timer::Linger => match self.state {
                State::Closing { linger_until, .. } => linger_until,
                _ => None,
            },
            Timer::SlowConsumer => after(self.backpressured?, self.config.slow_consumer_timeout()),
            Timer::FirstFrame if listening && !self.first_frame_seen => {
                after(self.first_frame_from, self.config.first_frame_timeout())
            }
            Timer::Peer if listening => after(self.last_read, self.config.peer_timeout()),
            Timer::Idle if listening => after(self.last_traffic, self.config.idle_timeout()),
            Timer::Heartbeat if open && self.queue.is_empty() => {
                let hb = self.heartbeat.as_ref()?;
                self.last_write.checked_add(hb.interval)
            }
            Timer::Buffers if self.holds_idle_buffers() => {
                self.last_traffic.checked_add(self.config.keep_buffers())
            }
            Timer::FirstFrame | Timer::Peer | Timer::Idle | Timer::Heartbeat | Timer::Buffers => {
                None
            }
        }
    }

    fn fire(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::RateResume => self.resume(now),
            Timer::SendDeadline => {
                let mut out = outcomes!(self);
                self.queue
                    .expire(now, |tag, outcome| out.record(tag, outcome));
                self.after_dequeue(now);
            }
            Timer::FailedClose => self.begin_failed_close(),
            Timer::Linger => {
                let reason = match &self.state {
                    State::Closing {
                        reason: CloseReason::Local,
                        ..
                    } => CloseReason::LingerExpired,
                    State::Closing { reason, .. } => reason.clone(),
                    _ => return,
                };
                self.finish(reason);
            }
            Timer::SlowConsumer => self.finish(CloseReason::SlowConsumer),
            Timer::FirstFrame => self.finish(CloseReason::FirstFrameTimeout),
            Timer::Peer => self.finish(CloseReason::PeerTimeout),
            Timer::Idle => self.finish(CloseReason::IdleTimeout),
            Timer::Buffers => {
                self.input.release_if_empty();
                self.queue.release_spare();
            }
            Timer::Heartbeat => {
                if let Some(hb) = &self.heartbeat {
                    let frame = hb.frame.clone();
                    let mut out = outcomes!(self);
                    self.queue
                        .push(Tag::Heartbeat, frame, Deadline::None, |tag, outcome| {
                            out.record(tag, outcome)
                        });
                    self.check_backpressure(now);
                }
            }
        }
    }

    /// Whether emptied buffers are kept for reuse (freed by `Timer::Buffers`).
    fn holds_idle_buffers(&self) -> bool {
        self.input.is_idle() || self.queue.holds_spare()
    }

    /// Whether the memory of a written packed run is kept for the next.
    #[cfg(test)]
    pub(super) fn holds_spare_run(&self) -> bool {
        self.queue.holds_spare()
    }

    fn check_room(&mut self) -> Result<(), Refusal> {
        if !matches!(self.state, State::Open) {
            self.stats.refused_closed += 1;
            return Err(Refusal::Closed);
        }
        if !self.has_room() {
            self.stats.refused_queue_full += 1;
            self.writable_owed = true;
            return Err(Refusal::QueueFull);
        }
        Ok(())
    }

    fn has_room(&self) -> bool {
        self.queue.len() < self.config.max_queue_frames()
            && self.queue.bytes() < self.config.max_queue_bytes()
    }

    fn enqueue(&mut self, frame: EncodedFrame, deadline: SendDeadline, now: Instant) -> SendId {
        let id = SendId(self.next_id);
        self.next_id += 1;
        self.enqueue_tagged(Tag::Tracked(id), frame, deadline, now);
        id
    }

    fn enqueue_tagged(
        &mut self,
        tag: Tag,
        frame: EncodedFrame,
        deadline: SendDeadline,
        now: Instant,
    ) {
        self.stats.sends_accepted += 1;
        let deadline = self.queue_deadline(deadline, now);
        let mut out = outcomes!(self);
        self.queue.push(tag, frame, deadline, |tag, outcome| {
            out.record(tag, outcome)
        });
        self.check_backpressure(now);
    }

    /// Queues an accepted untracked frame, packed where the queue's rules
    /// allow.
    fn enqueue_untracked(&mut self, frame: EncodedFrame, deadline: SendDeadline, now: Instant) {
        self.stats.sends_accepted += 1;
        let deadline = self.queue_deadline(deadline, now);
        let mut out = outcomes!(self);
        self.queue
            .push_untracked(frame, deadline, |tag, outcome| out.record(tag, outcome));
        self.check_backpressure(now);
    }

    /// The one refusal of a reply: the session is closing or closed.
    /// The refusals of a send of `item` (a full queue only when `bounded`:
    /// the owner's replies are not refused for one), then its encoding.
    fn admit_item<I>(&mut self, item: I, bounded: bool) -> Result<EncodedFrame, SendError<I>>
    where
        C: Encoder<I>,
    {
        let admitted = if bounded {
            self.check_room()
        } else {
            self.check_open()
        };
        if let Err(refusal) = admitted {
            return Err(refusal.with(item));
        }
        self.codec.encode_frame(item).map_err(SendError::Frame)
    }

    fn check_open(&mut self) -> Result<(), Refusal> {
        if matches!(self.state, State::Open) {
            return Ok(());
        }
        self.stats.refused_closed += 1;
        Err(Refusal::Closed)
    }

    /// Where a send's deadline goes in the queue's index.
    fn queue_deadline(&self, deadline: SendDeadline, now: Instant) -> Deadline {
        match deadline {
            // The default timeout is constant and `now` never goes back, so
            // these deadlines arrive in order.
            SendDeadline::Default => self
                .config
                .send_timeout()
                .and_then(|d| now.checked_add(d))
                .map_or(Deadline::None, Deadline::InOrder),
            SendDeadline::After(d) => now.checked_add(d).map_or(Deadline::None, Deadline::Any),
            SendDeadline::At(at) => Deadline::Any(at.max(now)),
            SendDeadline::Never => Deadline::None,
        }
    }

    /// After frames left the queue: finish a drained close, or announce room
    /// and resume reading at the low-water mark.
    fn after_dequeue(&mut self, now: Instant) {
        if self.queue.is_empty() {
            if let State::Closing { reason, .. } = &self.state {
                let reason = reason.clone();
                self.finish(reason);
                return;
            }
        }
        if self.writable_owed && self.has_room() {
            self.writable_owed = false;
            self.events.push_back(Event::Writable);
        }
        self.check_backpressure(now);
    }

    /// Pauses reading when the queue reaches either bound and resumes it at
    /// the low-water mark (see [`is_backpressured`](Self::is_backpressured)).
    /// Called after every enqueue and every dequeue.
    #[inline]
    fn check_backpressure(&mut self, now: Instant) {
        match self.backpressured {
            None if !self.has_room() => {
                self.backpressured = Some(now);
                self.stats.read_pauses += 1;
            }
            Some(_) if self.under_low_water() => {
                self.backpressured = None;
                // The session was not listening: liveness starts over.
                self.last_read = now;
                self.last_traffic = now;
                self.first_frame_from = now;
            }
            _ => {}
        }
    }

    /// At or below half of both bounds, rounded down.
    fn under_low_water(&self) -> bool {
        self.queue.len() <= self.config.max_queue_frames() / 2
            && self.queue.bytes() <= self.config.max_queue_bytes() / 2
    }

    fn begin_close(&mut self, reason: CloseReason, now: Instant) {
        self.writable_owed = false;
        self.heartbeat = None;
        if self.queue.is_empty() {
            self.finish(reason);
        } else {
            self.state = State::Closing {
                reason,
                linger_until: now.checked_add(self.config.linger()),
            };
        }
    }

    /// A fatal decode error: reading stops for good and what is buffered is
    /// dropped, but the session stays open until the events decoded before
    /// the error are polled, so replies to those frames are still accepted
    /// (a runtime that replies as it polls gets every reply written); then
    /// the graceful close begins (`begin_failed_close`).
    #[cold]
    fn fail_input(&mut self, error: FrameError, now: Instant) {
        self.input_end = InputEnd::Failed;
        self.input.clear();
        self.failed_close = Some(FailedClose {
            error,
            before: self.events.len(),
            at: now,
        });
    }

    /// `poll_event` is taking one event: counts it if it came before the
    /// fatal decode error, or begins the close if none is left.
    #[cold]
    fn count_polled_before_failure(&mut self) {
        if let Some(failed) = &mut self.failed_close {
            match failed.before {
                0 => self.begin_failed_close(),
                _ => failed.before -= 1,
            }
        }
    }

    /// The graceful close of a fatal decode error, as `close` does, with
    /// reason `Frame(error)`. A close already under way (a local close, say)
    /// keeps its linger deadline but now reports the error, which is the
    /// more useful reason.
    fn begin_failed_close(&mut self) {
        let Some(FailedClose { error, .. }) = self.failed_close.take() else {
            return;
        };
        let reason = CloseReason::Frame(error);
        match &mut self.state {
            State::Open => self.begin_close(reason, self.now),
            State::Closing {
                reason: current, ..
            } => *current = reason,
            State::Closed => {}
        }
    }

    /// Ends the session: what is queued fails `Closed`, buffers are freed,
    /// and `Closed(reason)` is the last event.
    fn finish(&mut self, reason: CloseReason) {
        let mut out = outcomes!(self);
        self.queue.drain(|tag, outcome| out.record(tag, outcome));
        self.state = State::Closed;
        self.writable_owed = false;
        self.backpressured = None;
        self.heartbeat = None;
        self.input.clear();
        self.reading = Reading::Active;
        self.parked = None;
        self.failed_close = None;
        self.events.push_back(Event::Closed(reason));
    }

    /// Decodes what is buffered (and, after `on_eof`, finishes the stream),
    /// unless reading is paused or the session is closed.
    fn pump(&mut self, now: Instant) {
        if self.is_paused() || self.is_closed() || self.input_end == InputEnd::Failed {
            return;
        }
        let mut finished = self.decode_buffered(false, now);
        if finished && self.input_end == InputEnd::EofPending {
            finished = self.decode_buffered(true, now);
            if finished {
                self.input_end = InputEnd::Ended;
                if matches!(self.state, State::Open) {
                    self.begin_close(CloseReason::PeerEof, now);
                }
            }
        }
        if finished && self.input_end == InputEnd::Open {
            // Under `Pause`, bytes consumed beyond the byte budget (headers,
            // skipped frames) stop reading until the debt is repaid.
            if let Some(limiter) = &mut self.limiter {
                if limiter.policy() == RatePolicy::Pause {
                    if let Err(RateExceeded { retry_at }) = limiter.check_bytes(now) {
                        self.pause(retry_at);
                    }
                }
            }
        }
        self.input.forget_if_exhausted();
        // A kept buffer is read into again in place; a large one is not kept.
        if self.config.keep_buffers().is_zero()
            || self.input.capacity() > 4 * self.config.read_chunk()
        {
            self.input.release_if_empty();
        }
    }

    /// Runs the decoder over the buffer (`decode_eof` when `at_eof`). Returns
    /// true when the decoder wants more input, false when it stopped because
    /// the session paused, closed or hit a fatal decode error.
    fn decode_buffered(&mut self, at_eof: bool, now: Instant) -> bool {
        // Unconfirmed room is withdrawn once; decoding only consumes.
        self.input.commit(0);
        loop {
            let buf = self.input.committed();
            if buf.is_empty() && !at_eof {
                return true;
            }
            let before = buf.len();
            let result = if at_eof {
                self.codec.decode_eof(buf)
            } else {
                self.codec.decode(buf)
            };
            let consumed = before - buf.len();
            if let Some(limiter) = &mut self.limiter {
                limiter.charge_bytes(consumed as u64, now);
            }
            let event = match result {
                Ok(Some(item)) => {
                    self.first_frame_seen = true;
                    Event::Frame(item)
                }
                Ok(None) => return true,
                Err(error) if error.is_recoverable() => Event::FrameDiscarded(error),
                Err(error) => {
                    self.fail_input(error, now);
                    return false;
                }
            };
            if !self.admit(event, now) {
                return false;
            }
            // A decoder that reports without consuming would loop forever.
            if consumed == 0 {
                return true;
            }
        }
    }

    /// Delivers an inbound frame or discard report if the rate limit admits
    /// it; otherwise parks it (`Pause`) or closes (`Close`). Returns whether
    /// decoding may go on.
    ///
    /// Inlined into the decode loop (once per frame); a refusal is handled
    /// out of line.
    #[inline(always)]
    fn admit(&mut self, event: Event<C::Item>, now: Instant) -> bool {
        if let Some(limiter) = &mut self.limiter {
            if let Err(RateExceeded { retry_at }) = limiter.admit_frame(now) {
                let policy = limiter.policy();
                self.refuse(event, policy, retry_at);
                return false;
            }
        }
        match &event {
            Event::Frame(_) => self.stats.frames_in += 1,
            Event::FrameDiscarded(_) => self.stats.frames_discarded += 1,
            _ => {}
        }
        self.events.push_back(event);
        true
    }

    /// The rate limit refused `event`: park it until `retry_at` (`Pause`),
    /// or close (`Close`).
    #[cold]
    fn refuse(&mut self, event: Event<C::Item>, policy: RatePolicy, retry_at: Option<Instant>) {
        match policy {
            RatePolicy::Pause => {
                self.parked = Some(event);
                self.pause(retry_at);
            }
            RatePolicy::Close => self.finish(CloseReason::RateLimited),
        }
    }

    fn pause(&mut self, resume_at: Option<Instant>) {
        self.reading = Reading::Paused { resume_at };
        self.events.push_back(Event::RatePaused { resume_at });
    }

    /// The rate-limit pause is over: deliver the parked frame, decode on. The
    /// peer and idle clocks restart, since the session was not listening.
    fn resume(&mut self, now: Instant) {
        self.reading = Reading::Active;
        self.last_read = now;
        self.last_traffic = now;
        if let Some(event) = self.parked.take() {
            // Its bytes were charged when it was decoded; only admit it.
            if !self.admit(event, now) {
                return;
            }
        }
        self.pump(now);
    }
}

/// The parts of a session that a frame leaving the queue updates, borrowed
/// field by field so the queue can be borrowed beside them.
struct Outcomes<'a, T> {
    events: &'a mut VecDeque<Event<T>>,
    stats: &'a mut SessionStats,
    untracked: &'a mut UntrackedFinished,
}

impl<T> Outcomes<'_, T> {
    /// Counts the frames of one entry leaving the queue (one, or a packed
    /// run's), and reports a tracked one to whoever waits on it.
    fn record(&mut self, tag: Tag, outcome: SendOutcome) {
        let stats = &mut *self.stats;
        let (frames, id) = match tag {
            Tag::Heartbeat => {
                if outcome == SendOutcome::Sent {
                    stats.frames_out += 1;
                    stats.heartbeats_sent += 1;
                }
                return;
            }
            Tag::Untracked { frames, bytes } => {
                self.untracked.frames += frames as usize;
                self.untracked.bytes += bytes;
                (u64::from(frames), None)
            }
            Tag::Tracked(id) => (1, Some(id)),
        };
        match outcome {
            SendOutcome::Sent => {
                stats.frames_out += frames;
                stats.sent += frames;
                if let Some(id) = id {
                    self.events.push_back(Event::Sent(id));
                }
            }
            SendOutcome::Failed(why) => {
                match why {
                    SendFailure::Closed => stats.failed_closed += frames,
                    SendFailure::TimedOut => stats.failed_timed_out += frames,
                    SendFailure::QueueFull => {}
                }
                if let Some(id) = id {
                    self.events.push_back(Event::Failed(id, why));
                }
            }
        }
    }
}

impl<C: Decoder> fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("queued_frames", &self.queue.len())
            .field("queued_bytes", &self.queue.bytes())
            .field("reading", &self.reading)
            .field("backpressured", &self.backpressured)
            .field("pending_events", &self.events.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}
