//! A reference model of one `Session`, and a harness that applies each
//! operation to the real session and to the model, then checks that the
//! events are exactly the model's. [`run`] adds the end-of-run invariants:
//! every `SendId` ends exactly once, and the bytes handed to `on_written`
//! decode to exactly the completed frames (user frames reported `Sent`, and
//! heartbeats), in order.
//!
//! The model is a plain queue of frames with written counts and deadlines in
//! milliseconds (small untracked frames sharing a deadline packed into runs,
//! by the rules documented on `Session::send_untracked`), with read backpressure
//! (replies are never refused; reading pauses at either queue bound and
//! resumes at half of both), written from the rules of
//! the issue rather than from the session's code. Shared by the proptest
//! `tests/session_model.rs` and the cargo-fuzz target `session_ops`
//! (`fuzz/src/targets/session_ops.rs`, which includes this file by path and
//! whose seeds `tests/fuzz_corpus.rs` replays), so all three exercise one
//! model. Failures are panics.

use bytes::{BufMut, Bytes, BytesMut};
use castnet_core::frame::{Decoder, FrameError};
use castnet_core::session::SpareBuffers;
use castnet_core::{
    CloseReason, EncodedFrame, Event, PacketN, SendDeadline, SendFailure, Session, SessionConfig,
};
use std::collections::{BTreeMap, VecDeque};
use std::io::IoSlice;
use std::time::{Duration, Instant};

/// An untracked frame (header included) of at most this many bytes joins a
/// packed run (`Session::send_untracked` documents both limits)...
const PACK_FRAME_MAX: usize = 1024;
/// ...of at most this many bytes.
const PACK_RUN_MAX: usize = 16 * 1024;

/// A send's deadline, in milliseconds after the send.
#[derive(Debug, Clone)]
pub enum Deadline {
    Default,
    After(u64),
    Never,
}

/// Which send method is used.
#[derive(Debug, Clone, Copy)]
pub enum SendHow {
    /// `send_with`: the session encodes it.
    Codec,
    /// `send_encoded` with a shared frame.
    PreEncoded,
    /// `send_untracked`: no id, no event; counted in the finished total.
    Untracked,
}

/// Which reply method is used: never refused for a full queue.
#[derive(Debug, Clone)]
pub enum ReplyHow {
    /// `reply`: encoded by the session, untracked, no deadline.
    Untracked,
    /// `reply_encoded`: pre-encoded, untracked, no deadline.
    Encoded,
    /// `reply_tracked`, with a `SendId` and this deadline.
    Tracked(Deadline),
}

/// One operation on the session (and the model).
#[derive(Debug, Clone)]
pub enum Op {
    /// A send of an 8-byte name and `len` more bytes.
    Send {
        len: usize,
        deadline: Deadline,
        how: SendHow,
    },
    /// A reply of an 8-byte name and `len` more bytes, as a handler running
    /// on the session's owner makes it.
    Reply {
        len: usize,
        how: ReplyHow,
    },
    /// One vectored write of at most `max` bytes from `slices` chunks.
    Write {
        max: usize,
        slices: usize,
    },
    /// The peer's next `len` bytes, through `read_space` or `read_buf`.
    Feed {
        len: usize,
        into_slice: bool,
    },
    /// `read_space` then a read that would block: `on_read(0)`.
    FeedNothing,
    Eof,
    /// `handle_timeout` this many milliseconds later.
    Advance(u64),
    /// `handle_timeout` with an instant before the latest one seen.
    Backwards(u64),
    /// Set (interval in milliseconds) or clear the heartbeat.
    Heartbeat(Option<u64>),
    Close,
    Abort,
}

/// The session's configuration, in milliseconds.
#[derive(Debug, Clone)]
pub struct Cfg {
    pub max_frames: usize,
    pub max_bytes: usize,
    pub send_timeout: Option<u64>,
    pub linger: u64,
    pub peer_timeout: Option<u64>,
    /// `SessionConfig::keep_buffers` in ms (0: freed at once). Buffers are
    /// not modelled (freeing them is no event); a closed session must hold
    /// none, and nothing may be due right after `handle_timeout`.
    pub keep_buffers: u64,
    /// Lend the session a `SpareBuffers` before each read and send, and
    /// take it back after each write, as castnet's engine does with its
    /// thread's buffers. Invisible to the model: lending must change
    /// nothing the session does.
    pub share_buffers: bool,
    /// `SessionConfig::slow_consumer_timeout` in ms.
    pub slow_consumer: Option<u64>,
}

/// Events in a comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Frame(Vec<u8>),
    Sent(u64),
    Failed(u64, SendFailure),
    Writable,
    Closed(&'static str),
}

fn ev(event: Event<Bytes>) -> Ev {
    match event {
        Event::Frame(f) => Ev::Frame(f.to_vec()),
        Event::Sent(id) => Ev::Sent(id.get()),
        Event::Failed(id, why) => Ev::Failed(id.get(), why),
        Event::Writable => Ev::Writable,
        Event::Closed(reason) => Ev::Closed(match reason {
            CloseReason::Local => "local",
            CloseReason::LingerExpired => "linger",
            CloseReason::Aborted => "aborted",
            CloseReason::PeerEof => "eof",
            CloseReason::PeerTimeout => "peer timeout",
            CloseReason::SlowConsumer => "slow consumer",
            CloseReason::Frame(FrameError::FrameTooLarge { .. }) => "too large",
            CloseReason::Frame(FrameError::UnexpectedEof { .. }) => "unexpected eof",
            other => panic!("no rule in the model closes with {other:?}"),
        }),
        other => panic!("no rule in the model emits {other:?}"),
    }
}

/// One queue entry: a frame, or a packed run of small untracked frames.
#[derive(Debug)]
struct MFrame {
    seq: u64,
    /// `None` for a heartbeat or an untracked send.
    id: Option<u64>,
    untracked: bool,
    /// A run that may take more small untracked frames (while unwritten).
    packed: bool,
    /// One payload, or a packed run's, in order; completed ones leave.
    payloads: Vec<Vec<u8>>,
    /// Bytes written of the first payload.
    written: usize,
    /// Any byte of the entry written: it no longer expires, nor grows.
    started: bool,
    deadline: Option<u64>,
}

impl MFrame {
    fn len(&self) -> usize {
        self.payloads.iter().map(|p| 4 + p.len()).sum()
    }
}

#[derive(Debug, PartialEq)]
enum MState {
    Open,
    Closing {
        reason: &'static str,
        linger_until: u64,
    },
    Closed,
}

/// The peer's byte stream and how far it has been fed and decoded.
struct Peer {
    stream: Vec<u8>,
    payloads: Vec<Vec<u8>>,
    ends: Vec<usize>,
    bad_at: Option<usize>,
    fed: usize,
    delivered: usize,
    eof: bool,
}

impl Peer {
    fn new(payloads: Vec<Vec<u8>>, bad_tail: bool) -> Self {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        for p in &payloads {
            stream.extend_from_slice(&(p.len() as u32).to_be_bytes());
            stream.extend_from_slice(p);
            ends.push(stream.len());
        }
        let bad_at = bad_tail.then(|| {
            let at = stream.len();
            stream.extend_from_slice(&[0xff; 4]);
            at
        });
        Peer {
            stream,
            payloads,
            ends,
            bad_at,
            fed: 0,
            delivered: 0,
            eof: false,
        }
    }
}

/// The reference: times are milliseconds since the start.
struct Model {
    cfg: Cfg,
    now: u64,
    state: MState,
    queue: VecDeque<MFrame>,
    next_id: u64,
    /// Every accepted send's name (tracked or not), in order.
    next_name: u64,
    /// Untracked sends ended since the last check: (frames, bytes).
    untracked_done: (usize, usize),
    next_seq: u64,
    owed: bool,
    heartbeat: Option<u64>,
    last_write: u64,
    last_read: u64,
    /// Since when the queue has paused reading: from reaching either bound
    /// to the low-water mark (half of each bound, rounded down).
    backpressured: Option<u64>,
    /// A fatal decode error: nothing more is read.
    input_failed: bool,
    /// The close that error calls for, begun at the poll that finds no
    /// event from before the error left (every op's events are polled).
    failed_close: Option<&'static str>,
    peer: Peer,
    /// Payloads of completed frames, in completion order.
    completed: Vec<Vec<u8>>,
    events: Vec<Ev>,
}

const HEARTBEAT: &[u8] = b"heartbeat";

impl Model {
    fn new(cfg: Cfg, peer: Peer) -> Self {
        Model {
            cfg,
            now: 0,
            state: MState::Open,
            queue: VecDeque::new(),
            next_id: 0,
            next_name: 0,
            untracked_done: (0, 0),
            next_seq: 0,
            owed: false,
            heartbeat: None,
            last_write: 0,
            last_read: 0,
            backpressured: None,
            input_failed: false,
            failed_close: None,
            peer,
            completed: Vec::new(),
            events: Vec::new(),
        }
    }

    fn bytes(&self) -> usize {
        self.queue.iter().map(|f| f.len() - f.written).sum()
    }

    fn frames(&self) -> usize {
        self.queue.iter().map(|f| f.payloads.len()).sum()
    }

    fn has_room(&self) -> bool {
        self.frames() < self.cfg.max_frames && self.bytes() < self.cfg.max_bytes
    }

    /// Pauses reading at either bound, resumes at the low-water mark (and
    /// the peer clock starts over: the session was not listening).
    fn check_backpressure(&mut self) {
        match self.backpressured {
            None if !self.has_room() => self.backpressured = Some(self.now),
            Some(_)
                if self.frames() <= self.cfg.max_frames / 2
                    && self.bytes() <= self.cfg.max_bytes / 2 =>
            {
                self.backpressured = None;
                self.last_read = self.now;
            }
            _ => {}
        }
    }

    /// `Ok(id)`, or the refusal. A send is `bounded` (refused `QueueFull`
    /// at either bound), a reply is not.
    fn send(
        &mut self,
        payload: Vec<u8>,
        deadline: &Deadline,
        untracked: bool,
        bounded: bool,
    ) -> Result<Option<u64>, SendFailure> {
        let id = self.enqueue(payload, deadline, untracked, bounded)?;
        self.check_backpressure();
        Ok(id)
    }

    fn enqueue(
        &mut self,
        payload: Vec<u8>,
        deadline: &Deadline,
        untracked: bool,
        bounded: bool,
    ) -> Result<Option<u64>, SendFailure> {
        if self.state != MState::Open {
            return Err(SendFailure::Closed);
        }
        if bounded && !self.has_room() {
            self.owed = true;
            return Err(SendFailure::QueueFull);
        }
        self.next_name += 1;
        let id = (!untracked).then(|| {
            self.next_id += 1;
            self.next_id - 1
        });
        let deadline = match deadline {
            Deadline::Default => self.cfg.send_timeout.map(|t| self.now + t),
            Deadline::After(ms) => Some(self.now + ms),
            Deadline::Never => None,
        };
        let len = 4 + payload.len();
        let packs = untracked && len <= PACK_FRAME_MAX;
        if packs {
            // Onto the back run while it is unwritten, due at the same
            // instant, and has room.
            if let Some(run) = self.queue.back_mut().filter(|b| {
                b.packed && !b.started && b.deadline == deadline && b.len() + len <= PACK_RUN_MAX
            }) {
                run.payloads.push(payload);
                return Ok(id);
            }
        }
        self.push(id, untracked, payload, deadline);
        self.queue.back_mut().unwrap().packed = packs;
        Ok(id)
    }

    fn push(&mut self, id: Option<u64>, untracked: bool, payload: Vec<u8>, deadline: Option<u64>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(MFrame {
            seq,
            id,
            untracked,
            packed: false,
            payloads: vec![payload],
            written: 0,
            started: false,
            deadline,
        });
    }

    fn written(&mut self, mut n: usize) {
        if n == 0 {
            return;
        }
        self.last_write = self.now;
        // Frame by frame, those of a packed run included.
        while n > 0 {
            let front = self.queue.front_mut().expect("n <= queued bytes");
            front.started = true;
            let left = 4 + front.payloads[0].len() - front.written;
            if n < left {
                front.written += n;
                break;
            }
            n -= left;
            front.written = 0;
            let payload = front.payloads.remove(0);
            if front.untracked {
                self.untracked_done.0 += 1;
                self.untracked_done.1 += 4 + payload.len();
            }
            self.completed.push(payload);
            if front.payloads.is_empty() {
                if let Some(id) = self.queue.pop_front().unwrap().id {
                    self.events.push(Ev::Sent(id));
                }
            }
        }
        self.after_dequeue();
    }

    /// An untracked send left the queue, however it ended.
    fn end_untracked(&mut self, f: &MFrame) {
        if f.untracked {
            self.untracked_done.0 += f.payloads.len();
            self.untracked_done.1 += f.len();
        }
    }

    fn after_dequeue(&mut self) {
        if let MState::Closing { reason, .. } = self.state {
            if self.queue.is_empty() {
                self.finish(reason);
                return;
            }
        }
        if self.owed && self.has_room() {
            self.owed = false;
            self.events.push(Ev::Writable);
        }
        self.check_backpressure();
    }

    /// Whether bytes fed so far end inside a frame (or a header).
    fn partial_input(&self) -> bool {
        let p = &self.peer;
        let decoded = p.delivered.checked_sub(1).map_or(0, |i| p.ends[i]);
        p.fed > decoded
    }

    fn feed(&mut self, chunk: usize) {
        if chunk > 0 {
            self.last_read = self.now;
        }
        let p = &mut self.peer;
        p.fed += chunk;
        while p.delivered < p.ends.len() && p.ends[p.delivered] <= p.fed {
            self.events.push(Ev::Frame(p.payloads[p.delivered].clone()));
            p.delivered += 1;
        }
        if p.bad_at.is_some_and(|at| p.fed >= at + 4) {
            self.fail_input("too large");
        }
    }

    /// Whether the session reads: open or closing, before end of stream and
    /// any fatal decode error.
    fn wants_read(&self) -> bool {
        self.state != MState::Closed
            && !self.peer.eof
            && !self.input_failed
            && self.backpressured.is_none()
    }

    /// A fatal decode error: the frames before it are delivered and sends
    /// still accepted; the close waits until they are polled.
    fn fail_input(&mut self, reason: &'static str) {
        self.input_failed = true;
        self.failed_close = Some(reason);
    }

    /// Every event before the fatal decode error was polled: a graceful
    /// close with its reason, which also replaces a close under way's.
    fn begin_failed_close(&mut self) {
        let Some(reason) = self.failed_close.take() else {
            return;
        };
        match &mut self.state {
            MState::Open => self.begin_close(reason),
            MState::Closing {
                reason: current, ..
            } => *current = reason,
            MState::Closed => {}
        }
    }

    fn on_eof(&mut self) {
        let p = &mut self.peer;
        p.eof = true;
        if self.input_failed {
            // Nothing more is decoded.
            return;
        }
        let boundary = if p.delivered == 0 {
            0
        } else {
            p.ends[p.delivered - 1]
        };
        if p.fed > boundary {
            self.fail_input("unexpected eof");
        } else if self.state == MState::Open {
            self.begin_close("eof");
        }
    }

    fn begin_close(&mut self, reason: &'static str) {
        self.owed = false;
        self.heartbeat = None;
        if self.queue.is_empty() {
            self.finish(reason);
        } else {
            self.state = MState::Closing {
                reason,
                linger_until: self.now + self.cfg.linger,
            };
        }
    }

    fn finish(&mut self, reason: &'static str) {
        for f in std::mem::take(&mut self.queue) {
            self.end_untracked(&f);
            if let Some(id) = f.id {
                self.events.push(Ev::Failed(id, SendFailure::Closed));
            }
        }
        self.state = MState::Closed;
        self.owed = false;
        self.backpressured = None;
        self.heartbeat = None;
        self.failed_close = None;
        self.events.push(Ev::Closed(reason));
    }

    fn handle_timeout(&mut self) {
        let now = self.now;
        // Unstarted frames past their deadline, earliest deadline first.
        let mut due: Vec<(u64, u64)> = self
            .queue
            .iter()
            .filter(|f| !f.started)
            .filter_map(|f| f.deadline.filter(|&d| d <= now).map(|d| (d, f.seq)))
            .collect();
        due.sort();
        for &(_, seq) in &due {
            let i = self.queue.iter().position(|f| f.seq == seq).unwrap();
            let f = self.queue.remove(i).unwrap();
            self.end_untracked(&f);
            if let Some(id) = f.id {
                self.events.push(Ev::Failed(id, SendFailure::TimedOut));
            }
        }
        if !due.is_empty() {
            self.after_dequeue();
        }
        if let MState::Closing {
            reason,
            linger_until,
        } = self.state
        {
            if linger_until <= now {
                self.finish(if reason == "local" { "linger" } else { reason });
            }
        }
        if let (Some(since), Some(t)) = (self.backpressured, self.cfg.slow_consumer) {
            if since + t <= now {
                self.finish("slow consumer");
            }
        }
        if self.state == MState::Open
            && !self.input_failed
            && self.backpressured.is_none()
            && self
                .cfg
                .peer_timeout
                .is_some_and(|p| self.last_read + p <= now)
        {
            self.finish("peer timeout");
        }
        if self.state == MState::Open && self.queue.is_empty() {
            if let Some(interval) = self.heartbeat {
                if self.last_write + interval <= now {
                    self.push(None, false, HEARTBEAT.to_vec(), None);
                    self.check_backpressure();
                }
            }
        }
    }
}

/// The real session beside the model, and what the test observed.
struct Harness {
    base: Instant,
    s: Session<PacketN>,
    m: Model,
    wire: Vec<u8>,
    /// How many times each `SendId` ended: must be exactly once.
    ended: BTreeMap<u64, usize>,
    accepted: Vec<u64>,
    /// The thread's buffers, when shared (`Cfg::share_buffers`).
    spare: Option<SpareBuffers>,
}

impl Harness {
    fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    fn apply(&mut self, op: Op) {
        let now = self.at(self.m.now);
        if let Some(spare) = &mut self.spare {
            if matches!(op, Op::Feed { .. } | Op::Send { .. } | Op::Reply { .. }) {
                self.s.borrow_buffers(spare);
            }
        }
        let (s, m) = (&mut self.s, &mut self.m);
        match op {
            Op::Send { len, deadline, how } => {
                // Payloads name their send, so the wire order can be checked.
                let mut payload = m.next_name.to_be_bytes().to_vec();
                payload.resize(8 + len, 0xab);
                let real_deadline = real(&deadline);
                let shared = || PacketN::default().encode_to_bytes(&payload).unwrap();
                let real = match how {
                    SendHow::Codec => s
                        .send_with(Bytes::from(payload.clone()), real_deadline, now)
                        .map(|id| Some(id.get()))
                        .map_err(|e| e.failure()),
                    SendHow::PreEncoded => s
                        .send_encoded(EncodedFrame::contiguous(shared()), real_deadline, now)
                        .map(|id| Some(id.get()))
                        .map_err(|e| e.failure()),
                    SendHow::Untracked => s
                        .send_untracked(EncodedFrame::contiguous(shared()), real_deadline, now)
                        .map(|()| None)
                        .map_err(|e| e.failure()),
                };
                let expected = m.send(payload, &deadline, matches!(how, SendHow::Untracked), true);
                assert_eq!(real, expected.map_err(Some));
                if let Ok(Some(id)) = expected {
                    self.accepted.push(id);
                }
            }
            Op::Reply { len, how } => {
                let mut payload = m.next_name.to_be_bytes().to_vec();
                payload.resize(8 + len, 0xcd);
                let (real, expected) = match how {
                    ReplyHow::Untracked => (
                        s.reply(Bytes::from(payload.clone()), now)
                            .map(|()| None)
                            .map_err(|e| e.failure()),
                        m.send(payload, &Deadline::Never, true, false),
                    ),
                    ReplyHow::Encoded => {
                        let frame = PacketN::default().encode_to_bytes(&payload).unwrap();
                        (
                            s.reply_encoded(EncodedFrame::contiguous(frame), now)
                                .map(|()| None)
                                .map_err(|e| e.failure()),
                            m.send(payload, &Deadline::Never, true, false),
                        )
                    }
                    ReplyHow::Tracked(deadline) => (
                        s.reply_tracked(Bytes::from(payload.clone()), real(&deadline), now)
                            .map(|id| Some(id.get()))
                            .map_err(|e| e.failure()),
                        m.send(payload, &deadline, false, false),
                    ),
                };
                assert_eq!(real, expected.map_err(Some));
                if let Ok(Some(id)) = expected {
                    self.accepted.push(id);
                }
            }
            Op::Write { max, slices } => {
                let n = write_gathered(s, max, slices, &mut self.wire, now);
                m.written(n);
                if let Some(spare) = &mut self.spare {
                    s.return_buffers(spare);
                    assert!(
                        s.has_events() || s.read_buffer_capacity() == 0 || m.partial_input(),
                        "a returned read buffer is kept only for a partial frame"
                    );
                }
            }
            Op::Feed { len, into_slice } => {
                if !m.wants_read() {
                    return;
                }
                let from = m.peer.fed;
                let chunk = &m.peer.stream[from..(from + len).min(m.peer.stream.len())];
                if into_slice {
                    s.read_space()[..chunk.len()].copy_from_slice(chunk);
                } else {
                    s.read_buf().put_slice(chunk);
                }
                let n = chunk.len();
                s.on_read(n, now);
                m.feed(n);
            }
            Op::FeedNothing => {
                let _ = s.read_space();
                s.on_read(0, now);
            }
            Op::Eof => {
                if m.peer.eof || m.state == MState::Closed {
                    return;
                }
                s.on_eof(now);
                m.on_eof();
            }
            Op::Advance(ms) => {
                m.now += ms;
                s.handle_timeout(self.base + Duration::from_millis(m.now));
                m.handle_timeout();
            }
            Op::Backwards(ms) => {
                s.handle_timeout(self.base + Duration::from_millis(m.now.saturating_sub(ms)));
                m.handle_timeout();
            }
            Op::Heartbeat(interval) => {
                let setting =
                    interval.map(|ms| (Duration::from_millis(ms), Bytes::from_static(HEARTBEAT)));
                assert!(s.set_heartbeat(setting, now).is_ok());
                if m.state == MState::Open {
                    // A zero interval stops it, as in go-libnet.
                    m.heartbeat = interval.filter(|&ms| ms > 0);
                }
            }
            Op::Close => {
                s.close(now);
                if m.state == MState::Open {
                    m.begin_close("local");
                }
            }
            Op::Abort => {
                s.abort();
                if m.state != MState::Closed {
                    m.finish("aborted");
                }
            }
        }
        self.check_events();
        let (s, m) = (&self.s, &self.m);
        assert_eq!(s.queued_bytes(), m.bytes());
        assert_eq!(s.queued_frames(), m.frames());
        assert_eq!(s.wants_write(), !m.queue.is_empty());
        assert_eq!(s.is_closed(), m.state == MState::Closed);
        assert_eq!(s.wants_read(), m.wants_read());
        assert_eq!(s.is_backpressured(), m.backpressured.is_some());
        let finished = self.s.take_untracked_finished();
        let expected = std::mem::take(&mut self.m.untracked_done);
        assert_eq!((finished.frames, finished.bytes), expected);
    }

    /// The session's events are exactly the model's; each ends a send at most once.
    fn check_events(&mut self) {
        let got: Vec<Ev> = std::iter::from_fn(|| self.s.poll_event()).map(ev).collect();
        // Polling took every event from before a fatal decode error.
        self.m.begin_failed_close();
        let expected = std::mem::take(&mut self.m.events);
        assert_eq!(&got, &expected);
        for e in &got {
            if let Ev::Sent(id) | Ev::Failed(id, _) = e {
                *self.ended.entry(*id).or_default() += 1;
            }
        }
    }
}

/// Runs `ops` on a session configured by `cfg` whose peer sends `peer`
/// (frames, then perhaps a header declaring 4 GiB), checking the model after
/// every operation and the invariants at the end. Panics on a violation.
pub fn run(cfg: Cfg, peer: (Vec<Vec<u8>>, bool), ops: Vec<Op>) {
    let base = origin();
    let cfg_share = cfg.share_buffers;
    let config = SessionConfig::builder()
        .max_queue_frames(cfg.max_frames)
        .max_queue_bytes(cfg.max_bytes)
        .send_timeout(cfg.send_timeout.map(Duration::from_millis))
        .linger(Duration::from_millis(cfg.linger))
        .peer_timeout(cfg.peer_timeout.map(Duration::from_millis))
        .keep_buffers(Duration::from_millis(cfg.keep_buffers))
        .slow_consumer_timeout(cfg.slow_consumer.map(Duration::from_millis))
        .build()
        .unwrap();
    let mut h = Harness {
        base,
        s: Session::new(PacketN::default(), config, base),
        m: Model::new(cfg, Peer::new(peer.0, peer.1)),
        wire: Vec::new(),
        ended: BTreeMap::new(),
        accepted: Vec::new(),
        spare: cfg_share.then(SpareBuffers::new),
    };

    for op in ops {
        let handles_timeout = matches!(op, Op::Advance(_) | Op::Backwards(_));
        h.apply(op);
        let now = h.at(h.m.now);
        match h.s.poll_timeout() {
            // Nothing is due right after `handle_timeout(now)` (events drained).
            Some(at) if handles_timeout => {
                assert!(at > now, "due at once after handle_timeout")
            }
            Some(at) => assert!(at >= now, "poll_timeout in the past"),
            None => {}
        }
        if handles_timeout {
            // ...and no unstarted frame is past its deadline.
            assert!(h
                .m
                .queue
                .iter()
                .all(|f| f.started || f.deadline.is_none_or(|d| d > h.m.now)));
        }
    }

    // Abort whatever is left: every id must then have ended, exactly once.
    h.apply(Op::Abort);
    assert_eq!(
        h.s.read_buffer_capacity(),
        0,
        "a closed session holds no read buffer"
    );
    for id in &h.accepted {
        assert_eq!(
            h.ended.get(id),
            Some(&1),
            "send {} must end exactly once",
            id
        );
    }
    assert_eq!(h.ended.len(), h.accepted.len());

    // The wire decodes to exactly the completed frames, in order (an abort
    // may leave a partial frame after them).
    let mut codec = PacketN::default();
    let mut buf = BytesMut::from(&h.wire[..]);
    let mut decoded = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).unwrap() {
        decoded.push(frame.to_vec());
    }
    assert_eq!(&decoded, &h.m.completed);
    let sent_names: Vec<u64> = decoded
        .iter()
        .filter(|p| p.as_slice() != HEARTBEAT)
        .map(|p| u64::from_be_bytes(p[..8].try_into().unwrap()))
        .collect();
    let stats = h.s.stats();
    assert_eq!(stats.sent, sent_names.len() as u64);
    assert!(
        sent_names.windows(2).all(|w| w[0] < w[1]),
        "sends reach the wire in order"
    );
    let heartbeats = decoded.len() - sent_names.len();
    assert_eq!(stats.heartbeats_sent, heartbeats as u64);
    assert_eq!(stats.bytes_out, h.wire.len() as u64);
}

/// The session's form of a model deadline.
fn real(deadline: &Deadline) -> SendDeadline {
    match deadline {
        Deadline::Default => SendDeadline::Default,
        Deadline::After(ms) => SendDeadline::After(Duration::from_millis(*ms)),
        Deadline::Never => SendDeadline::Never,
    }
}

#[allow(clippy::disallowed_methods)] // an arbitrary origin: only durations are added to it
fn origin() -> Instant {
    Instant::now()
}

/// One vectored write: gathers up to `slices` chunks, "writes" at most `max`
/// bytes of them to `wire`, and reports that count with `on_written`.
pub fn write_gathered(
    s: &mut Session<PacketN>,
    max: usize,
    slices: usize,
    wire: &mut Vec<u8>,
    now: Instant,
) -> usize {
    let mut dst = [IoSlice::new(&[]); 8];
    let filled = s.chunks_vectored(&mut dst[..slices.clamp(1, 8)]);
    let mut n = 0;
    for slice in &dst[..filled] {
        let take = slice.len().min(max - n);
        wire.extend_from_slice(&slice[..take]);
        n += take;
    }
    s.on_written(n, now);
    n
}
