//! The connection owner: the one owner of a core
//! [`Session`](castnet_core::Session), as a synchronous object a runtime
//! drives.
//!
//! A runtime fills the owner's read buffer ([`Owner::read_buf`],
//! [`Owner::on_read`]), runs a [`turn`](Owner::turn) at its `now` (due
//! timers; every event handed to the sink, whose replies go straight into
//! the core session; commands from handles; broadcast lanes), writes what is
//! queued ([`Owner::write`]), then waits for what the owner says it wants:
//! readable while [`wants_read`](Owner::wants_read), writable while
//! [`wants_write`](Owner::wants_write), the inbox, the lanes and the sink
//! ([`poll_wake`](Owner::poll_wake)), and the deadline [`Owner::after_write`]
//! returns. The owner compares `now >= deadline` itself rather than trusting
//! that a timer fired on time. That is the drive loop of
//! `castnet_core::Session`'s docs, where the order is stated once (the
//! runtime reads, the turn runs steps 2 to 5, the write step 6).
//!
//! Nothing here knows which runtime drives it; a transport layer (TLS)
//! would sit between the socket and these calls, inside the same loop.

use crate::handle::{Command, Done, Session, Shared, TrackedSend};
use crate::heartbeat::PeerHeartbeat;
use crate::lane::{Lane, Subscription};
use crate::pending::Pending;
use crate::stats::StatsCell;
use bytes::Bytes;
use castnet_core::frame::{Encoder, FrameError};
use castnet_core::hub::{PeerAddr, PublisherWait};
use castnet_core::session::SpareBuffers;
use castnet_core::session::{CloseReason, Event, SendDeadline, Session as CoreSession};
use castnet_core::session::{SendFailure, SendId, SendOutcome, SessionStats};
use castnet_core::timer::{TimerError, TimerId, Timers};
use castnet_core::{Decoder, EncodedFrame, SessionId};
use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

thread_local! {
    /// The buffers of the connections this thread drives (see
    /// `castnet_core::session::SpareBuffers`): lent to the owner that reads
    /// or runs a turn, given back once its frames are handled and its writes
    /// done, so that a connection between reads holds none. A buffer moves
    /// between threads harmlessly: a task that reads on one thread and runs
    /// its turn on another gives it back there.
    ///
    /// Measured (examples/bench/idle_rss.sh, 5,000 connections after one
    /// echo each, then 5 s idle; echo_server, one worker): against buffers
    /// each session keeps for `keep_buffers` after its last traffic, server
    /// RSS per connection goes from 7.7 KB to 3.8 KB. The buffers of 5,000
    /// connections busy at once, even once freed, stay resident between the
    /// allocations that outlive them. Freeing them at once instead
    /// (`keep_buffers` zero) gives the same RSS but allocates per read and
    /// per write: 13% more instructions per 64-byte echo (callgrind, 50
    /// connections, pipeline 16), where sharing them costs none (832 per
    /// frame against 839 with buffers kept per session).
    static SPARE_BUFFERS: RefCell<SpareBuffers> = const { RefCell::new(SpareBuffers::new()) };
}

/// Largest number of slices handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Inbox commands applied per turn before IO gets a turn.
const INBOX_BUDGET: usize = 4096;

/// What the owner does with what the core reports.
pub(crate) trait Sink<C: Decoder>: Send {
    /// The session's user state (see [`Conn::state`]): made with `Default`
    /// when the owner is created, handed to every callback, and given to
    /// [`Sink::closed`] by value.
    type State: Default + Send + 'static;
    /// The session starts: called first, on the owner.
    fn open(&mut self, _cx: &mut Conn<'_, C, Self::State>) {}
    /// A decoded frame. Returning `false` asks the owner to stop reading
    /// until [`Sink::poll_ready`] is ready (the receiver is full).
    fn frame(&mut self, cx: &mut Conn<'_, C, Self::State>, frame: C::Item) -> bool;
    /// Ready once frames can be delivered again.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
    /// Whether every send's outcome goes to [`Sink::sent`]. When false,
    /// sends nobody awaits are queued untracked (no event per frame).
    fn tracks_sends(&self) -> bool {
        false
    }
    /// A send finished.
    fn sent(&mut self, _cx: &mut Conn<'_, C, Self::State>, _id: SendId, _outcome: SendOutcome) {}
    /// A timer set through [`Conn`] came due, with its token.
    fn timer(&mut self, _cx: &mut Conn<'_, C, Self::State>, _token: u64) {}
    /// The session closed. Called exactly once, last, with the state.
    fn closed(&mut self, session: Option<&Session<C>>, state: Self::State, reason: &CloseReason);
}

/// The connection, as a handler's callbacks see it: they run on its owner,
/// between reads and writes, and what they send goes straight into the
/// session's queue, with no channel hop.
///
/// A reply sent here is never refused for a full queue. Instead, while the
/// session's send queue is over its bound, the owner stops reading from that
/// peer and resumes once the queue has drained below half of it: a client
/// that writes thousands of frames before it reads gets every reply, at the
/// pace it reads them, and memory stays bounded by the queue bound plus the
/// replies to one read. A peer that stays stuck at the bound is kept waiting
/// or disconnected after
/// [`SessionConfig::slow_consumer_timeout`](castnet_core::SessionConfig),
/// as configured.
///
/// For sends from anywhere else (another task, another session's handler),
/// use the [`Session`] handle from [`session`](Self::session): there `send`
/// waits for room, `try_send` refuses with the message back, and
/// `async_send` resolves with the outcome.
///
/// Order: replies made with `Conn::send` go out in the order they were
/// made. A send through the handle, even from inside a callback, travels
/// through the owner's inbox and is queued after the callback returns, so it
/// is not ordered against `Conn::send` replies of the same callback: use one
/// or the other for frames whose order matters.
///
/// A handler that relays what it receives to many sessions publishes with
/// [`Channel::broadcast_detached_from`](crate::Channel::broadcast_detached_from)
/// or [`Server::broadcast_detached_from`](crate::Server::broadcast_detached_from),
/// passing this context: when the broadcast ring would otherwise have to
/// drop frames that a live reader has simply not had its turn to take, the
/// connection pauses (its handler gets no further frames and its peer is not
/// read) until the readers have run. Readers that stay full for
/// [`Config::slow_reader_grace`](crate::Config::slow_reader_grace) are no
/// longer waited for.
///
/// ## Per-session state
///
/// `S` is the session's own state, chosen by the handler
/// ([`Handler<C, S>`](crate::Handler)): made with `S::default()` before
/// `on_open`, reached in every callback through [`state`](Self::state), and
/// handed to `on_close` by value. It lives with the connection's owner and
/// only callbacks touch it, so it needs no lock: a chat server keeps each
/// member's name here instead of in a `Mutex<HashMap<SessionId, _>>`.
/// Stateless handlers use the default, `()`.
pub struct Conn<'a, C: Decoder, S = ()> {
    core: &'a mut CoreSession<C>,
    state: &'a mut S,
    peer_heartbeat: &'a mut Option<PeerHeartbeat<C>>,
    shared: &'a Shared<C>,
    handle: Option<&'a Session<C>>,
    pending: &'a mut Pending,
    /// Replies queued since the quota was last charged.
    uncharged: &'a mut (usize, usize),
    /// Lanes this connection published into under pressure.
    paused: &'a mut Paused,
    /// The handler's timers.
    timers: &'a mut Timers<u64>,
    now: Instant,
}

impl<C: Decoder, S> Conn<'_, C, S> {
    /// This session's state (see the type's docs), to read or change.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::PacketN;
    /// use castnet_engine::{Conn, Handler};
    ///
    /// /// Numbers each reply with how many frames this session sent so far.
    /// struct Count;
    ///
    /// impl Handler<PacketN, u64> for Count {
    ///     fn on_frame(&self, cx: &mut Conn<'_, PacketN, u64>, _frame: Bytes) {
    ///         *cx.state() += 1;
    ///         let n = *cx.state();
    ///         let _ = cx.send(n.to_string());
    ///     }
    /// }
    /// ```
    pub fn state(&mut self) -> &mut S {
        self.state
    }

    /// Replaces this session's state with `state`.
    pub fn set_state(&mut self, state: S) {
        *self.state = state;
    }

    /// Replaces this session's state with `state` and returns the old one.
    pub fn replace_state(&mut self, state: S) -> S {
        std::mem::replace(self.state, state)
    }

    /// This session's id.
    pub fn id(&self) -> SessionId {
        self.shared.id
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> &PeerAddr {
        &self.shared.peer
    }

    /// The session's handle: clone it to send from elsewhere, join it to a
    /// channel, or keep it in your own state.
    pub fn session(&self) -> &Session<C> {
        self.handle
            .expect("handler callbacks always run with their session's handle")
    }

    /// True once the session no longer accepts sends (closing or closed).
    pub fn is_closed(&self) -> bool {
        self.core.is_closed() || self.core.is_closing()
    }

    /// The time of this turn, as the runtime read it.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Queues `msg` after everything queued before. Never refused for a
    /// full queue (see the type's docs) and never dropped for time: a reply
    /// waits for its peer to read, however late, since a reply missing from
    /// the middle of the stream is a gap the peer cannot see (a peer that
    /// stops reading is held back, and closed by
    /// `SessionConfig::slow_consumer_timeout` if set). Refused with the
    /// message back once the session is closing, or when the codec refuses
    /// it (nothing queued).
    pub fn send<M>(&mut self, msg: M) -> Result<(), crate::SendError<M>>
    where
        C: Encoder<M>,
    {
        let before = self.core.queued_bytes();
        match self.core.reply(msg, self.now) {
            Ok(()) => {
                self.charge(before);
                Ok(())
            }
            Err(e) => Err(reply_error(e)),
        }
    }

    /// As [`send`](Self::send), with the session's send timeout, and
    /// returns the send's id: with
    /// [`Handler::REPORT_SENT`](crate::Handler::REPORT_SENT) set,
    /// [`Handler::on_sent`](crate::Handler::on_sent) reports how it ended.
    pub fn send_tracked<M>(&mut self, msg: M) -> Result<SendId, crate::SendError<M>>
    where
        C: Encoder<M>,
    {
        let before = self.core.queued_bytes();
        match self
            .core
            .reply_tracked(msg, SendDeadline::Default, self.now)
        {
            Ok(id) => {
                let len = self.charge(before);
                self.pending.insert(id.get(), (len, Done::NOBODY));
                Ok(id)
            }
            Err(e) => Err(reply_error(e)),
        }
    }

    /// Counts a reply just queued (the queue grew from `before` bytes) for
    /// the shared quota, which the owner charges once per turn. Returns its
    /// length.
    fn charge(&mut self, before: usize) -> usize {
        let len = self.core.queued_bytes().saturating_sub(before);
        self.uncharged.0 += len;
        self.uncharged.1 += 1;
        len
    }

    /// Calls [`Handler::on_timer`](crate::Handler::on_timer) with `token`
    /// once, `delay` from now (this turn's [`now`](Self::now)), on this
    /// connection's owner. Returns the timer's id, for
    /// [`cancel_timer`](Self::cancel_timer).
    ///
    /// Refused with [`TimerError::Full`] when the session already has
    /// [`Config::max_timers`](crate::Config::max_timers) timers live, and
    /// with [`TimerError::Closed`] once the session is closing (see
    /// [`is_closed`](Self::is_closed)): a session's timers are cancelled
    /// when it starts closing, so no timer fires during its linger or after
    /// `on_close`.
    pub fn run_after(&mut self, delay: Duration, token: u64) -> Result<TimerId, TimerError> {
        let now = self.now;
        self.open_timers()?.after(now, delay, token)
    }

    /// Calls [`Handler::on_timer`](crate::Handler::on_timer) with `token`
    /// every `interval` (above zero, else [`TimerError::ZeroInterval`]),
    /// first `interval` from now, until cancelled or the session closes.
    /// Deadlines stay on the `now + k·interval` grid however late a turn
    /// runs; after a stall the periods missed are skipped, not fired in a
    /// burst. Refused as [`run_after`](Self::run_after) is.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::PacketN;
    /// use castnet_engine::{Conn, Handler};
    /// use std::time::Duration;
    ///
    /// /// Sends "ping" every 5 s until the peer says "stop".
    /// struct Pinger;
    ///
    /// impl Handler<PacketN> for Pinger {
    ///     fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
    ///         let _ = cx.run_every(Duration::from_secs(5), 0);
    ///     }
    ///     fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
    ///         if &frame[..] == b"stop" {
    ///             // The id run_every returned would name it as well.
    ///             cx.cancel_timers();
    ///         }
    ///     }
    ///     fn on_timer(&self, cx: &mut Conn<'_, PacketN>, _token: u64) {
    ///         let _ = cx.send("ping");
    ///     }
    /// }
    /// ```
    pub fn run_every(&mut self, interval: Duration, token: u64) -> Result<TimerId, TimerError> {
        let now = self.now;
        self.open_timers()?.every(now, interval, token)
    }

    /// Cancels a timer of this session; `false` when it is not live (a
    /// one-shot timer that fired, one cancelled already, or every timer
    /// once the session is closing).
    pub fn cancel_timer(&mut self, id: TimerId) -> bool {
        self.timers.cancel(id).is_some()
    }

    /// Cancels every timer of this session.
    pub fn cancel_timers(&mut self) {
        self.timers.clear();
    }

    /// The timers, once they are closed if the session is closing.
    fn open_timers(&mut self) -> Result<&mut Timers<u64>, TimerError> {
        if self.is_closed() {
            self.timers.close();
        }
        if self.timers.is_closed() {
            return Err(TimerError::Closed);
        }
        Ok(self.timers)
    }

    /// Starts, changes or (with `None`) stops the heartbeat: `payload` is
    /// sent whenever nothing was written for `interval`.
    pub fn set_heartbeat<M>(&mut self, heartbeat: Option<(Duration, M)>) -> Result<(), FrameError>
    where
        C: Encoder<M>,
    {
        self.core.set_heartbeat(heartbeat, self.now)
    }

    /// Sets (or, with `None`, clears) which frames from the peer are its
    /// heartbeats, for this session only: from the next frame on, those are
    /// not handed to the handler (see [`PeerHeartbeat`]). Starts as
    /// [`Config::peer_heartbeat`](crate::Config::peer_heartbeat) says.
    pub fn set_peer_heartbeat(&mut self, heartbeat: Option<PeerHeartbeat<C>>) {
        *self.peer_heartbeat = heartbeat;
    }

    /// Publishes `frame` on `lane` as this connection's handler: under
    /// pressure, the connection pauses until the lane is relieved. Returns
    /// how many sessions follow the lane.
    pub(crate) fn publish_to(&mut self, lane: &Arc<Lane>, frame: Bytes) -> usize {
        let (followers, pressure) = lane.publish(frame, self.now);
        if pressure {
            self.paused.add(lane);
        }
        followers
    }

    /// Graceful close: no new sends; what is queued is written (up to the
    /// linger time), then the connection closes.
    pub fn close(&mut self) {
        self.shared.mark_closed();
        self.core.close(self.now);
    }

    /// Immediate close: every pending send fails `Closed`.
    pub fn abort(&mut self) {
        self.shared.mark_closed();
        self.core.abort();
    }
}

fn reply_error<M>(e: castnet_core::SendError<M>) -> crate::SendError<M> {
    match e {
        castnet_core::SendError::Frame(e) => crate::SendError::Frame(e),
        other => match other.into_inner() {
            Some(m) => crate::SendError::Closed(m),
            None => unreachable!("only codec refusals consume the message"),
        },
    }
}

/// The lanes a connection's handler published into under pressure: while
/// there is one, the owner hands the handler no further events and does not
/// read from the peer (what was read waits in the core session's event
/// queue: at most one read's worth).
#[derive(Default)]
pub(crate) struct Paused {
    lanes: Vec<(Arc<Lane>, PublisherWait)>,
}

impl Paused {
    fn add(&mut self, lane: &Arc<Lane>) {
        if !self.lanes.iter().any(|(l, _)| Arc::ptr_eq(l, lane)) {
            self.lanes.push((lane.clone(), PublisherWait::default()));
        }
    }

    fn is_paused(&self) -> bool {
        !self.lanes.is_empty()
    }

    /// Forgets the lanes no longer under pressure at `now`.
    fn recheck(&mut self, now: Instant) {
        self.lanes.retain(|(lane, _)| lane.pressure(now));
    }

    /// When to re-check at the latest: the earliest grace expiry of a
    /// stalled reader on any of the lanes.
    fn deadline(&self) -> Option<Instant> {
        self.lanes
            .iter()
            .filter_map(|(lane, _)| lane.next_expiry())
            .min()
    }

    /// Parks on every lane; true when one of them is relieved already.
    fn poll(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut relieved = false;
        for (lane, wait) in &mut self.lanes {
            relieved |= lane.poll_relief(wait, cx, now).is_ready();
        }
        relieved
    }
}

/// What woke a waiting owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// Nothing yet.
    No,
    /// A command, the sink or the handles.
    Yes,
    /// New broadcast frames (and perhaps more): the driver lets other
    /// runnable tasks publish first, then takes them all in one pull.
    Lanes,
}

/// What the owner keeps about its sends besides the core session.
struct Sends {
    /// Tracked sends in flight, for their outcomes.
    pending: Pending,
    /// Broadcast lanes followed: the server's, then each channel's.
    lanes: Vec<Subscription>,
    /// Every send is tracked (the sink wants every outcome).
    track: bool,
}

/// The one owner of a connection's core session.
pub(crate) struct Owner<C: Decoder, S: Sink<C>> {
    core: CoreSession<C>,
    shared: Arc<Shared<C>>,
    /// A handle for the sink's callbacks; `None` for a client, whose
    /// session closes once its users dropped every handle.
    handle: Option<Session<C>>,
    inbox: crate::inbox::Receiver<Command>,
    sends: Sends,
    sink: S,
    /// The session's user state, until `finish` hands it to the sink.
    state: Option<S::State>,
    /// Frames from the peer that are its heartbeats: not handed to the sink.
    peer_heartbeat: Option<PeerHeartbeat<C>>,
    stats: Arc<StatsCell>,
    /// What this session last added to the shared counters.
    published: SessionStats,
    /// This session's share of `StatsCell::read_buffer_bytes`.
    buffer_held: usize,
    /// Outcomes of one turn: the quota comes back in one step, then waiters
    /// learn their outcome (so room is free by the time they see it).
    finished: Vec<(Done, SendOutcome)>,
    /// Replies made through `Conn` and not charged to the quota yet.
    uncharged: (usize, usize),
    /// Lanes the handler published into under pressure.
    paused: Paused,
    /// The handler's timers ([`Conn::run_after`]); closed once the session
    /// is closing.
    timers: Timers<u64>,
    /// The session has been warned about (logged) missing broadcast frames.
    warned_missed: bool,
    opened: bool,
    sink_full: bool,
    eof_seen: bool,
    handles_alive: bool,
    closed: Option<CloseReason>,
    done: bool,
}

impl<C, S> Owner<C, S>
where
    C: Decoder,
    S: Sink<C>,
{
    pub(crate) fn new(
        core: CoreSession<C>,
        shared: Arc<Shared<C>>,
        handle: Option<Session<C>>,
        inbox: crate::inbox::Receiver<Command>,
        sink: S,
        stats: Arc<StatsCell>,
        lanes: Vec<Subscription>,
    ) -> Self {
        let track = sink.tracks_sends();
        Owner {
            core,
            shared,
            handle,
            inbox,
            sends: Sends {
                pending: Pending::new(),
                lanes,
                track,
            },
            sink,
            state: Some(S::State::default()),
            peer_heartbeat: None,
            stats,
            published: SessionStats::default(),
            buffer_held: 0,
            finished: Vec::new(),
            uncharged: (0, 0),
            paused: Paused::default(),
            timers: Timers::new(0),
            warned_missed: false,
            opened: false,
            sink_full: false,
            eof_seen: false,
            handles_alive: true,
            closed: None,
            done: false,
        }
    }

    /// Lets the handler have up to `max` timers live (none by default).
    pub(crate) fn with_max_timers(mut self: Box<Self>, max: usize) -> Box<Self> {
        self.timers = Timers::new(max);
        self
    }

    /// Which frames from the peer are its heartbeats (not handed to the
    /// sink).
    pub(crate) fn set_peer_heartbeat(&mut self, heartbeat: Option<PeerHeartbeat<C>>) {
        self.peer_heartbeat = heartbeat;
    }

    /// The context the sink's callbacks get.
    fn conn(&mut self, now: Instant) -> (&mut S, Conn<'_, C, S::State>) {
        let cx = Conn {
            core: &mut self.core,
            state: self
                .state
                .as_mut()
                .expect("callbacks run only before the state goes to `closed`"),
            peer_heartbeat: &mut self.peer_heartbeat,
            shared: &self.shared,
            handle: self.handle.as_ref(),
            pending: &mut self.sends.pending,
            uncharged: &mut self.uncharged,
            paused: &mut self.paused,
            timers: &mut self.timers,
            now,
        };
        (&mut self.sink, cx)
    }

    /// Whether the runtime should read: the core wants input (open, not
    /// paused by its rate limit or by a full send queue), the sink can take
    /// frames and the handler is not paused by a lane's pressure.
    pub(crate) fn wants_read(&self) -> bool {
        !self.sink_full && !self.paused.is_paused() && self.core.wants_read()
    }

    /// Whether bytes wait for the socket.
    pub(crate) fn wants_write(&self) -> bool {
        self.core.wants_write()
    }

    /// Room to read into, appending (see `castnet_core::Session::read_buf`),
    /// in the thread's spare read buffer when the session holds none (or
    /// only a partial frame, which the core copies into it).
    pub(crate) fn read_buf(&mut self) -> &mut bytes::BytesMut {
        SPARE_BUFFERS.with_borrow_mut(|spare| self.core.borrow_buffers(spare));
        self.core.read_buf()
    }

    /// Gives the thread the buffers the session no longer needs: once what
    /// was read is handled and what was queued is written, a connection
    /// holds none (one with a partial frame, or bytes still to write,
    /// keeps those).
    pub(crate) fn return_buffers(&mut self) {
        SPARE_BUFFERS.with_borrow_mut(|spare| self.core.return_buffers(spare));
    }

    /// `n` bytes were appended to [`read_buf`](Self::read_buf) (0: the read
    /// would block after all, which releases the room made).
    pub(crate) fn on_read(&mut self, n: usize, now: Instant) {
        self.core.on_read(n, now);
    }

    /// The peer ended its side. Reported to the core only once every frame
    /// before it was handled and every reply to it queued.
    pub(crate) fn on_eof(&mut self) {
        self.eof_seen = true;
    }

    /// Reading or writing failed.
    pub(crate) fn on_io_error(&mut self, error: &io::Error) {
        tracing::debug!(%error, "connection failed");
        self.core.on_io_error(error.kind());
    }

    /// One turn at `now`: due timers, every event to the sink (and the
    /// replies it makes), inbox commands, broadcast lanes. Returns `false`
    /// once the session has closed: the runtime then ends the connection
    /// with [`finish`](Self::finish).
    pub(crate) fn turn(&mut self, now: Instant) -> bool {
        if !self.opened {
            self.opened = true;
            let (sink, mut cx) = self.conn(now);
            sink.open(&mut cx);
        }
        if self.core.poll_timeout().is_some_and(|at| now >= at) {
            self.core.handle_timeout(now);
        }
        // Memory for the replies this turn may queue.
        SPARE_BUFFERS.with_borrow_mut(|spare| self.core.borrow_buffers(spare));
        if self.paused.is_paused() {
            self.paused.recheck(now);
        }
        self.fire_timers(now);

        // Events, then the commands they may have caused, until both are dry
        // (or the handler is paused: the events wait in the core).
        let (mut freed_bytes, mut freed_frames) = (0, 0);
        loop {
            while !self.paused.is_paused() {
                let Some(event) = self.core.poll_event() else {
                    break;
                };
                match event {
                    // The peer's heartbeats: their bytes kept the session
                    // alive already; nobody is handed them.
                    Event::Frame(frame)
                        if (self.peer_heartbeat.as_ref())
                            .is_some_and(|hb| hb.is_heartbeat(&frame)) =>
                    {
                        self.stats.heartbeats_received.fetch_add(1, Relaxed);
                    }
                    Event::Frame(frame) => {
                        let (sink, mut cx) = self.conn(now);
                        self.sink_full |= !sink.frame(&mut cx, frame);
                    }
                    Event::Closed(reason) => self.closed = Some(reason),
                    event => {
                        if let Some((id, outcome)) = event.outcome() {
                            if let Some((len, done)) = self.sends.pending.remove(id.get()) {
                                freed_bytes += len;
                                freed_frames += 1;
                                if done.is_awaited() {
                                    self.finished.push((done, outcome));
                                }
                                let (sink, mut cx) = self.conn(now);
                                sink.sent(&mut cx, id, outcome);
                            }
                        } else if let Event::FrameDiscarded(error) = &event {
                            tracing::debug!(%error, "oversized frame discarded");
                        }
                    }
                }
            }
            // The replies the sink made, charged before anything releases
            // them.
            let (bytes, frames) = std::mem::take(&mut self.uncharged);
            self.shared.quota.charge_many(bytes, frames);
            if self.closed.is_some() {
                break;
            }
            let mut applied = 0;
            while applied < INBOX_BUDGET {
                match self.inbox.try_recv() {
                    Some(cmd) => self.apply(cmd, now),
                    None => break,
                }
                applied += 1;
            }
            // A paused handler gets nothing more this turn.
            if self.paused.is_paused() {
                break;
            }
            // End of stream is reported only now, after every frame that came
            // before it was handled and every reply to it queued.
            if self.eof_seen && applied == 0 {
                self.eof_seen = false;
                self.core.on_eof(now);
                continue;
            }
            // Another pass only if the commands made events (a close, an
            // empty frame sent at once) or the end of stream waits for its
            // turn; more inbox commands are taken after the write.
            if applied == 0 || !(self.core.has_events() || self.eof_seen) {
                break;
            }
        }
        self.shared.release(freed_bytes, freed_frames);
        for (done, outcome) in self.finished.drain(..) {
            done.complete(outcome);
        }
        if self.closed.is_some() {
            return false;
        }

        // Detached broadcasts: take what the queue has room for.
        if !self.sends.lanes.is_empty() {
            for i in 0..self.sends.lanes.len() {
                self.pull(i, now);
            }
            // Channels left: gone once they gave what came before leaving.
            self.sends.lanes.retain(|lane| !lane.is_done());
        }
        true
    }

    /// The handler's timers due at `now`, in deadline order, unless the
    /// handler is paused (they wait, as frames do). Timers set by these
    /// callbacks wait for the next turn, even when due at once. A session
    /// that is closing closes its timers instead: none fires after that.
    fn fire_timers(&mut self, now: Instant) {
        if self.timers.next_deadline().is_none_or(|at| at > now) {
            return;
        }
        let before = self.timers.mark();
        loop {
            if self.core.is_closed() || self.core.is_closing() {
                self.timers.close();
                return;
            }
            if self.paused.is_paused() {
                return;
            }
            let Some(fired) = self.timers.pop_expired(now, before) else {
                return;
            };
            let (sink, mut cx) = self.conn(now);
            sink.timer(&mut cx, fired.token);
        }
    }

    /// Writes queued frames until the queue is empty or `write` would block,
    /// as the core session's slices, in one vectored write each. Small
    /// untracked frames (replies, broadcast frames) already come as one
    /// slice per packed run: core copies them together as they are queued
    /// (see `Session::send_untracked`), so nothing is copied here.
    pub(crate) fn write(
        &mut self,
        now: Instant,
        mut write: impl FnMut(&[IoSlice<'_>]) -> io::Result<usize>,
    ) {
        while self.core.wants_write() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = self.core.chunks_vectored(&mut slices);
            if n == 0 {
                break;
            }
            match write(&slices[..n]) {
                Ok(0) => {
                    self.on_io_error(&io::ErrorKind::WriteZero.into());
                    return;
                }
                Ok(written) => self.core.on_written(written, now),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.on_io_error(&e);
                    return;
                }
            }
        }
    }

    /// After the write: untracked sends that ended this turn (written, timed
    /// out, refused) free their room in one step (no event comes for them),
    /// and the counters are published. Returns when the owner next has
    /// something to do without being woken (`<= now`: at once). While the
    /// handler is paused, the events it is not handed do not count, and the
    /// lanes say when to re-check.
    pub(crate) fn after_write(&mut self) -> Option<Instant> {
        self.return_buffers();
        let untracked = self.core.take_untracked_finished();
        self.shared.release(untracked.bytes, untracked.frames);
        self.publish();
        if self.paused.is_paused() {
            earliest(self.core.poll_timer(), self.paused.deadline())
        } else {
            earliest(self.core.poll_timeout(), self.timers.next_deadline())
        }
    }

    /// Registers `cx` with everything besides the socket and the clock that
    /// can give the owner work: the inbox (a command is applied at once, at
    /// `now()`), the sink's readiness, the broadcast lanes while the queue
    /// has room for their frames, and the relief of the lanes the handler is
    /// paused on.
    pub(crate) fn poll_wake(
        &mut self,
        cx: &mut Context<'_>,
        mut now: impl FnMut() -> Instant,
    ) -> Woken {
        let mut woken = Woken::No;
        if self.handles_alive {
            match self.inbox.poll_recv(cx) {
                Poll::Ready(Some(cmd)) => {
                    self.apply(cmd, now());
                    woken = Woken::Yes;
                }
                // Every handle is gone (a server keeps one per session, so
                // this is a client nobody holds): nobody can send or receive
                // any more, so close gracefully.
                Poll::Ready(None) => {
                    self.handles_alive = false;
                    self.core.close(now());
                    woken = Woken::Yes;
                }
                Poll::Pending => {}
            }
        }
        if self.sink_full && self.sink.poll_ready(cx).is_ready() {
            self.sink_full = false;
            woken = Woken::Yes;
        }
        if self.paused.is_paused() && self.paused.poll(cx, now()) {
            woken = Woken::Yes;
        }
        // Wait for the lanes only while their frames could be taken.
        if !self.sends.lanes.is_empty() && self.has_room() {
            let mut ready = false;
            for lane in &mut self.sends.lanes {
                ready |= lane.poll_unread(cx).is_ready();
            }
            if ready && woken == Woken::No {
                woken = Woken::Lanes;
            }
        }
        woken
    }

    /// Why the session closed, once [`turn`](Self::turn) returned `false`.
    pub(crate) fn close_reason(&self) -> Option<&CloseReason> {
        self.closed.as_ref()
    }

    /// Ends the connection after [`turn`](Self::turn) returned `false`:
    /// whatever is still in the inbox or pending ends `Closed`, the sink
    /// hears the reason, and waiters on the handle learn it finished.
    pub(crate) fn finish(&mut self) {
        self.shared.mark_closed();
        drop(std::mem::take(&mut self.sends.lanes));
        self.inbox.close();
        while let Some(cmd) = self.inbox.try_recv() {
            match cmd {
                Command::Send(send) => self.shared.end_unqueued_closed(send.frame.len(), send.done),
                Command::Quiet(frame) => self.shared.end_unqueued_closed(frame.len(), Done::NOBODY),
                _ => {}
            }
        }
        for (len, done) in self.sends.pending.drain() {
            self.shared.end_unqueued_closed(len, done);
        }
        let untracked = self.core.take_untracked_finished();
        self.shared.release(untracked.bytes, untracked.frames);
        self.publish();
        self.timers.close();
        let reason = self.closed.take().unwrap_or(CloseReason::Aborted);
        crate::close_log::log_close(self.shared.id, &self.shared.peer, &reason);
        // Known before `recv` ends (the sink closes it) and before `closed`.
        self.shared.set_close_reason(reason.clone());
        let state = self.state.take().unwrap_or_default();
        self.sink.closed(self.handle.as_ref(), state, &reason);
        self.done = true;
        self.shared.mark_finished();
    }

    fn apply(&mut self, cmd: Command, now: Instant) {
        let Sends {
            pending,
            lanes,
            track,
        } = &mut self.sends;
        let core = &mut self.core;
        let shared = &*self.shared;
        match cmd {
            Command::Follow(lane) => lanes.push(lane),
            // Every subscription to that lane: one left earlier and still
            // draining already stops sooner, so only the latest changes.
            Command::Unfollow(lane, until) => lanes
                .iter_mut()
                .filter(|sub| sub.is_to(&lane))
                .for_each(|sub| sub.leave_at(until)),
            Command::Quiet(frame) if !*track => {
                let len = frame.len();
                if let Err(err) = core.send_untracked(frame, SendDeadline::Default, now) {
                    refused(shared, len, Done::NOBODY, err.failure());
                }
            }
            Command::Quiet(frame) => {
                send_tracked(core, shared, pending, frame, None, Done::NOBODY, now)
            }
            Command::Send(send) => {
                let TrackedSend {
                    frame,
                    timeout,
                    done,
                } = *send;
                send_tracked(core, shared, pending, frame, timeout, done, now)
            }
            Command::SetHeartbeat(hb) => core.set_heartbeat_frame(*hb, now),
            Command::Close => core.close(now),
            Command::Abort => core.abort(),
        }
    }

    /// True when both the shared quota and the core would take another frame.
    fn has_room(&self) -> bool {
        self.core.accepts_sends() && !self.shared.quota.is_full()
    }

    /// Moves unread detached-broadcast frames of lane `i` into the core's
    /// queue, untracked, while there is room (without room, the lane learns
    /// that this reader is stalled); counts what the session fell behind
    /// on, and warns about it once per session.
    fn pull(&mut self, i: usize, now: Instant) {
        if !self.has_room() {
            self.sends.lanes[i].stall(now);
            return;
        }
        let (core, shared) = (&mut self.core, &*self.shared);
        let read = self.sends.lanes[i].pull(now, |frame| {
            if shared.quota.try_acquire(frame.len()).is_err() {
                return false;
            }
            let shared_frame = EncodedFrame::contiguous(frame.clone());
            match core.send_untracked(shared_frame, SendDeadline::Default, now) {
                Ok(()) => true,
                Err(_) => {
                    // Not queued after all: give the room back.
                    shared.release(frame.len(), 1);
                    false
                }
            }
        });
        if read.missed > 0 {
            self.stats.broadcast_missed.fetch_add(read.missed, Relaxed);
            if !std::mem::replace(&mut self.warned_missed, true) {
                tracing::warn!(
                    session = self.shared.id.get(),
                    peer = %self.shared.peer,
                    missed = read.missed,
                    "session stayed behind a broadcast ring and missed frames \
                     (further misses of this session are only counted)"
                );
            }
        }
    }

    /// Adds what the core counted since the last call to the shared
    /// counters, and moves the read-buffer gauge by how much this session's
    /// read buffer grew or shrank.
    fn publish(&mut self) {
        let now = self.core.stats();
        if now != self.published {
            self.stats.add_delta(&self.published, &now);
            self.published = now;
        }
        self.set_buffer_gauge(self.core.read_buffer_capacity());
    }

    fn set_buffer_gauge(&mut self, bytes: usize) {
        let gauge = &self.stats.read_buffer_bytes;
        if bytes > self.buffer_held {
            gauge.fetch_add((bytes - self.buffer_held) as u64, Relaxed);
        } else if bytes < self.buffer_held {
            gauge.fetch_sub((self.buffer_held - bytes) as u64, Relaxed);
        }
        self.buffer_held = bytes;
    }
}

impl<C: Decoder, S: Sink<C>> Drop for Owner<C, S> {
    /// However the owner goes (a callback panicked, the runtime dropped the
    /// task), handles learn that it finished (closed `Aborted`) and the gauge
    /// is given back.
    fn drop(&mut self) {
        if !self.done {
            // Ended without closing (a callback panicked, the runtime went).
            self.shared.set_close_reason(CloseReason::Aborted);
            self.shared.mark_finished();
        }
        self.set_buffer_gauge(0);
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Queues a send whose outcome is reported.
fn send_tracked<C: Decoder>(
    core: &mut CoreSession<C>,
    shared: &Shared<C>,
    pending: &mut Pending,
    frame: EncodedFrame,
    timeout: Option<Duration>,
    done: Done,
    now: Instant,
) {
    let len = frame.len();
    let deadline = match timeout {
        Some(t) => SendDeadline::After(t),
        None => SendDeadline::Default,
    };
    match core.send_encoded(frame, deadline, now) {
        Ok(id) => pending.insert(id.get(), (len, done)),
        Err(err) => refused(shared, len, done, err.failure()),
    }
}

/// The shared quota admitted a send but the core refused it (closing, or its
/// own frames such as heartbeats filled the queue): it ends here, once. The
/// core counted a full queue.
fn refused<C: Decoder>(shared: &Shared<C>, len: usize, done: Done, why: Option<SendFailure>) {
    let why = match why {
        Some(SendFailure::QueueFull) => SendFailure::QueueFull,
        _ => SendFailure::Closed,
    };
    shared.end_refused(len, 1, why);
    done.complete(SendOutcome::Failed(why));
}
