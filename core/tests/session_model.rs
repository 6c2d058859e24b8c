//! `Session` against a reference model over random operation sequences: send
//! (encoded by the session or pre-encoded), write k bytes through a few
//! vectored slices, feed inbound chunks (two read paths), end of stream,
//! advance time by random steps (also backwards), set or clear the
//! heartbeat, close, abort.
//!
//! The model is a plain queue of frames with written counts and deadlines in
//! milliseconds, written from the rules of the issue rather than from the
//! session's code. After every operation the events must be exactly the
//! model's; after every `handle_timeout(now)` nothing may be due at `now`.
//! At the end, the bytes handed to `on_written` must decode to exactly the
//! frames completed (user frames reported `Sent`, and heartbeats), in order,
//! and every `SendId` must have ended exactly once.

use bytes::{BufMut, Bytes, BytesMut};
use castnet_core::frame::{Decoder, FrameError};
use castnet_core::{
    CloseReason, EncodedFrame, Event, PacketN, SendDeadline, SendFailure, Session, SessionConfig,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, VecDeque};
use std::io::IoSlice;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Deadline {
    Default,
    After(u64),
    Never,
}

#[derive(Debug, Clone)]
enum Op {
    Send {
        len: usize,
        deadline: Deadline,
        pre_encoded: bool,
    },
    Write {
        max: usize,
        slices: usize,
    },
    Feed {
        len: usize,
        into_slice: bool,
    },
    /// `read_space` then a read that would block: `on_read(0)`.
    FeedNothing,
    Eof,
    Advance(u64),
    /// `handle_timeout` with an instant before the latest one seen.
    Backwards(u64),
    Heartbeat(Option<u64>),
    Close,
    Abort,
}

fn op() -> impl Strategy<Value = Op> {
    let deadline = prop_oneof![
        4 => Just(Deadline::Default),
        2 => (0u64..4000).prop_map(Deadline::After),
        1 => Just(Deadline::Never),
    ];
    prop_oneof![
        6 => (0usize..40, deadline, any::<bool>())
            .prop_map(|(len, deadline, pre_encoded)| Op::Send { len, deadline, pre_encoded }),
        5 => (0usize..120, 1usize..8).prop_map(|(max, slices)| Op::Write { max, slices }),
        4 => (0usize..60, any::<bool>()).prop_map(|(len, into_slice)| Op::Feed { len, into_slice }),
        1 => Just(Op::FeedNothing),
        1 => Just(Op::Eof),
        5 => (0u64..2500).prop_map(Op::Advance),
        1 => (0u64..2000).prop_map(Op::Backwards),
        2 => prop::option::weighted(0.7, 300u64..3000).prop_map(Op::Heartbeat),
        1 => Just(Op::Close),
        1 => Just(Op::Abort),
    ]
}

#[derive(Debug, Clone)]
struct Cfg {
    max_frames: usize,
    max_bytes: usize,
    send_timeout: Option<u64>,
    linger: u64,
    peer_timeout: Option<u64>,
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        1usize..8,
        1usize..160,
        prop::option::weighted(0.8, 1u64..5000),
        0u64..4000,
        prop::option::weighted(0.4, 1000u64..8000),
    )
        .prop_map(
            |(max_frames, max_bytes, send_timeout, linger, peer_timeout)| Cfg {
                max_frames,
                max_bytes,
                send_timeout,
                linger,
                peer_timeout,
            },
        )
}

/// What the peer sends: whole frames, then perhaps a header declaring 4 GiB.
fn peer() -> impl Strategy<Value = (Vec<Vec<u8>>, bool)> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..30), 0..10),
        prop::bool::weighted(0.2),
    )
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
            CloseReason::Frame(FrameError::FrameTooLarge { .. }) => "too large",
            CloseReason::Frame(FrameError::UnexpectedEof { .. }) => "unexpected eof",
            other => panic!("no rule in the model closes with {other:?}"),
        }),
        other => panic!("no rule in the model emits {other:?}"),
    }
}

#[derive(Debug)]
struct MFrame {
    seq: u64,
    /// `None` for a heartbeat.
    id: Option<u64>,
    payload: Vec<u8>,
    written: usize,
    deadline: Option<u64>,
}

impl MFrame {
    fn len(&self) -> usize {
        4 + self.payload.len()
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
    next_seq: u64,
    owed: bool,
    heartbeat: Option<u64>,
    last_write: u64,
    last_read: u64,
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
            next_seq: 0,
            owed: false,
            heartbeat: None,
            last_write: 0,
            last_read: 0,
            peer,
            completed: Vec::new(),
            events: Vec::new(),
        }
    }

    fn bytes(&self) -> usize {
        self.queue.iter().map(|f| f.len() - f.written).sum()
    }

    fn has_room(&self) -> bool {
        self.queue.len() < self.cfg.max_frames && self.bytes() < self.cfg.max_bytes
    }

    /// `Ok(id)`, or the refusal.
    fn send(&mut self, payload: Vec<u8>, deadline: &Deadline) -> Result<u64, SendFailure> {
        if self.state != MState::Open {
            return Err(SendFailure::Closed);
        }
        if !self.has_room() {
            self.owed = true;
            return Err(SendFailure::QueueFull);
        }
        let id = self.next_id;
        self.next_id += 1;
        let deadline = match deadline {
            Deadline::Default => self.cfg.send_timeout.map(|t| self.now + t),
            Deadline::After(ms) => Some(self.now + ms),
            Deadline::Never => None,
        };
        self.push(Some(id), payload, deadline);
        Ok(id)
    }

    fn push(&mut self, id: Option<u64>, payload: Vec<u8>, deadline: Option<u64>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push_back(MFrame {
            seq,
            id,
            payload,
            written: 0,
            deadline,
        });
    }

    fn written(&mut self, mut n: usize) {
        if n == 0 {
            return;
        }
        self.last_write = self.now;
        while n > 0 {
            let front = self.queue.front_mut().expect("n <= queued bytes");
            let left = front.len() - front.written;
            if n < left {
                front.written += n;
                break;
            }
            n -= left;
            let done = self.queue.pop_front().unwrap();
            self.completed.push(done.payload);
            if let Some(id) = done.id {
                self.events.push(Ev::Sent(id));
            }
        }
        self.after_dequeue();
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
            self.finish("too large");
        }
    }

    fn on_eof(&mut self) {
        let p = &mut self.peer;
        p.eof = true;
        let boundary = if p.delivered == 0 {
            0
        } else {
            p.ends[p.delivered - 1]
        };
        if p.fed > boundary {
            self.finish("unexpected eof");
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
        for f in self.queue.drain(..) {
            if let Some(id) = f.id {
                self.events.push(Ev::Failed(id, SendFailure::Closed));
            }
        }
        self.state = MState::Closed;
        self.owed = false;
        self.heartbeat = None;
        self.events.push(Ev::Closed(reason));
    }

    fn handle_timeout(&mut self) {
        let now = self.now;
        // Unstarted frames past their deadline, earliest deadline first.
        let mut due: Vec<(u64, u64)> = self
            .queue
            .iter()
            .filter(|f| f.written == 0)
            .filter_map(|f| f.deadline.filter(|&d| d <= now).map(|d| (d, f.seq)))
            .collect();
        due.sort();
        for &(_, seq) in &due {
            let i = self.queue.iter().position(|f| f.seq == seq).unwrap();
            let f = self.queue.remove(i).unwrap();
            self.events
                .push(Ev::Failed(f.id.unwrap(), SendFailure::TimedOut));
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
        if self.state == MState::Open
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
                    self.push(None, HEARTBEAT.to_vec(), None);
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
}

impl Harness {
    fn at(&self, ms: u64) -> Instant {
        self.base + Duration::from_millis(ms)
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        let now = self.at(self.m.now);
        let (s, m) = (&mut self.s, &mut self.m);
        match op {
            Op::Send {
                len,
                deadline,
                pre_encoded,
            } => {
                // Payloads name their send, so the wire can be checked against ids.
                let mut payload = m.next_id.to_be_bytes().to_vec();
                payload.resize(8 + len, 0xab);
                let real_deadline = match deadline {
                    Deadline::Default => SendDeadline::Default,
                    Deadline::After(ms) => SendDeadline::After(Duration::from_millis(ms)),
                    Deadline::Never => SendDeadline::Never,
                };
                let real = if pre_encoded {
                    let shared = PacketN::default().encode_to_bytes(&payload).unwrap();
                    s.send_encoded(EncodedFrame::contiguous(shared), real_deadline, now)
                        .map_err(|e| e.failure())
                } else {
                    s.send_with(Bytes::from(payload.clone()), real_deadline, now)
                        .map_err(|e| e.failure())
                };
                let expected = m.send(payload, &deadline);
                prop_assert_eq!(real.map(|id| id.get()), expected.map_err(Some));
                if let Ok(id) = expected {
                    self.accepted.push(id);
                }
            }
            Op::Write { max, slices } => {
                let mut dst = [IoSlice::new(&[]); 8];
                let filled = s.chunks_vectored(&mut dst[..slices]);
                let mut n = 0;
                for slice in &dst[..filled] {
                    let take = slice.len().min(max - n);
                    self.wire.extend_from_slice(&slice[..take]);
                    n += take;
                }
                s.on_written(n, now);
                m.written(n);
            }
            Op::Feed { len, into_slice } => {
                if m.peer.eof || m.state == MState::Closed {
                    return Ok(());
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
                    return Ok(());
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
                prop_assert!(s.set_heartbeat(setting, now).is_ok());
                if m.state == MState::Open {
                    m.heartbeat = interval;
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
        self.check_events()?;
        let (s, m) = (&self.s, &self.m);
        prop_assert_eq!(s.queued_bytes(), m.bytes());
        prop_assert_eq!(s.queued_frames(), m.queue.len());
        prop_assert_eq!(s.wants_write(), !m.queue.is_empty());
        prop_assert_eq!(s.is_closed(), m.state == MState::Closed);
        Ok(())
    }

    /// The session's events are exactly the model's; each ends a send at most once.
    fn check_events(&mut self) -> Result<(), TestCaseError> {
        let got: Vec<Ev> = std::iter::from_fn(|| self.s.poll_event()).map(ev).collect();
        let expected = std::mem::take(&mut self.m.events);
        prop_assert_eq!(&got, &expected);
        for e in &got {
            if let Ev::Sent(id) | Ev::Failed(id, _) = e {
                *self.ended.entry(*id).or_default() += 1;
            }
        }
        Ok(())
    }
}

#[allow(clippy::disallowed_methods)] // an arbitrary origin: only durations are added to it
fn origin() -> Instant {
    Instant::now()
}

fn run(cfg: Cfg, peer: (Vec<Vec<u8>>, bool), ops: Vec<Op>) -> Result<(), TestCaseError> {
    let base = origin();
    let config = SessionConfig::builder()
        .max_queue_frames(cfg.max_frames)
        .max_queue_bytes(cfg.max_bytes)
        .send_timeout(cfg.send_timeout.map(Duration::from_millis))
        .linger(Duration::from_millis(cfg.linger))
        .peer_timeout(cfg.peer_timeout.map(Duration::from_millis))
        .build()
        .unwrap();
    let mut h = Harness {
        base,
        s: Session::new(PacketN::default(), config, base),
        m: Model::new(cfg, Peer::new(peer.0, peer.1)),
        wire: Vec::new(),
        ended: BTreeMap::new(),
        accepted: Vec::new(),
    };

    for op in ops {
        let handles_timeout = matches!(op, Op::Advance(_) | Op::Backwards(_));
        h.apply(op)?;
        let now = h.at(h.m.now);
        match h.s.poll_timeout() {
            // Nothing is due right after `handle_timeout(now)` (events drained).
            Some(at) if handles_timeout => {
                prop_assert!(at > now, "due at once after handle_timeout")
            }
            Some(at) => prop_assert!(at >= now, "poll_timeout in the past"),
            None => {}
        }
        if handles_timeout {
            // ...and no unstarted frame is past its deadline.
            prop_assert!(h
                .m
                .queue
                .iter()
                .all(|f| f.written > 0 || f.deadline.is_none_or(|d| d > h.m.now)));
        }
    }

    // Abort whatever is left: every id must then have ended, exactly once.
    h.apply(Op::Abort)?;
    for id in &h.accepted {
        prop_assert_eq!(
            h.ended.get(id),
            Some(&1),
            "send {} must end exactly once",
            id
        );
    }
    prop_assert_eq!(h.ended.len(), h.accepted.len());

    // The wire decodes to exactly the completed frames, in order (an abort
    // may leave a partial frame after them).
    let mut codec = PacketN::default();
    let mut buf = BytesMut::from(&h.wire[..]);
    let mut decoded = Vec::new();
    while let Some(frame) = codec.decode(&mut buf).unwrap() {
        decoded.push(frame.to_vec());
    }
    prop_assert_eq!(&decoded, &h.m.completed);
    let sent_ids: Vec<u64> = decoded
        .iter()
        .filter(|p| p.as_slice() != HEARTBEAT)
        .map(|p| u64::from_be_bytes(p[..8].try_into().unwrap()))
        .collect();
    let stats = h.s.stats();
    prop_assert_eq!(stats.sent, sent_ids.len() as u64);
    prop_assert!(
        sent_ids.windows(2).all(|w| w[0] < w[1]),
        "sends reach the wire in order"
    );
    let heartbeats = decoded.len() - sent_ids.len();
    prop_assert_eq!(stats.heartbeats_sent, heartbeats as u64);
    prop_assert_eq!(stats.bytes_out, h.wire.len() as u64);
    Ok(())
}

proptest! {
    #[test]
    fn session_matches_the_reference_model(
        cfg in cfg(),
        peer in peer(),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        run(cfg, peer, ops)?;
    }
}
