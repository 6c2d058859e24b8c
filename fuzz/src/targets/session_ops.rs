//! `session_ops`: random operation sequences against one `Session`, decoded
//! from raw bytes, in one of two modes chosen by the first byte.
//!
//! - Model mode (even first byte): the operations of the proptest
//!   `core/tests/session_model.rs` (send: encoded, pre-encoded or untracked, with any
//!   deadline; reply, with read backpressure and the slow-consumer timeout,
//!   when bit 1 of the mode byte is set; write k bytes through a few vectored slices; feed inbound
//!   chunks through both read paths; end of stream; time steps forwards and
//!   backwards; heartbeat changes; close; abort) run against the reference
//!   model shared with it (included by path): after every operation the
//!   events must be exactly the model's.
//! - Wide mode (odd first byte): configurations the model does not cover
//!   (inbound rate limits under both policies, first-frame and idle
//!   timeouts, 1-, 2- and 4-byte headers, small maximum frame lengths,
//!   discard or fail on oversize, arbitrary inbound garbage, tracked and
//!   untracked replies, a slow-consumer timeout), checked against the
//!   invariants alone.
//!
//! Invariants in both modes: no panic; every `SendId` ends exactly once;
//! `Closed` comes once and last; `poll_timeout` is never before `now`, and
//! right after `handle_timeout(now)` nothing is due at `now`; the bytes
//! handed to `on_written` decode to exactly the frames reported `Sent` plus
//! the heartbeats and untracked replies, in order; reading pauses at either
//! queue bound and resumes at half of both (wide mode checks the bounds;
//! model mode, the exact instants).
//!
//! Every byte string is a valid input: a field past the end reads 0.

// Relative to this file, so the path is the same wherever this module is
// included (the fuzz crate, or castnet-core's `tests/fuzz_corpus.rs`).
#[path = "../../../core/tests/support/session_model.rs"]
mod model;

use bytes::{BufMut, Bytes, BytesMut};
use castnet_core::frame::{Decoder, HeaderLen, OversizePolicy};
use castnet_core::limits::{Rate, RateLimit, RatePolicy};
use castnet_core::{
    EncodedFrame, Event, PacketN, SendDeadline, SendFailure, Session, SessionConfig,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const HEARTBEAT: &[u8] = b"hb";
/// The name of an untracked reply in wide mode (a SendId never gets there).
const UNTRACKED: &[u8] = &[0xff; 8];

/// Reads the fuzz input front to back; zeroes once it runs out.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Some(ms) in `1..=max`, or None, chosen by one byte.
    fn timeout(&mut self, max: u16) -> Option<Duration> {
        if self.bool() {
            Some(Duration::from_millis(u64::from(self.u16() % max) + 1))
        } else {
            None
        }
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        head
    }
}

fn codec(input: &mut Reader) -> PacketN {
    let header = [HeaderLen::One, HeaderLen::Two, HeaderLen::Four][usize::from(input.u8() % 3)];
    let policy = if input.bool() {
        OversizePolicy::Discard
    } else {
        OversizePolicy::Fail
    };
    PacketN::builder()
        .header_len(header)
        .max_frame_len(u64::from(input.u16() % 512))
        .oversize_policy(policy)
        .build()
        .expect("every header length here is valid")
}

fn config(input: &mut Reader) -> SessionConfig {
    let rate_limit = match input.u8() % 4 {
        0 => {
            let policy = if input.bool() {
                RatePolicy::Pause
            } else {
                RatePolicy::Close
            };
            let frames =
                Rate::per_sec(u64::from(input.u8() % 20) + 1).burst(u64::from(input.u8() % 20) + 1);
            let bytes = Rate::per_sec(u64::from(input.u16() % 2000) + 1)
                .burst(u64::from(input.u16() % 2000) + 1);
            let mut limit = RateLimit::new(policy);
            if input.bool() {
                limit = limit.frames(frames);
            }
            if input.bool() {
                limit = limit.bytes(bytes);
            }
            Some(limit)
        }
        _ => None,
    };
    SessionConfig::builder()
        .max_queue_frames(usize::from(input.u8() % 16) + 1)
        .max_queue_bytes(usize::from(input.u16() % 1024) + 1)
        .send_timeout(input.timeout(5000))
        .linger(Duration::from_millis(u64::from(input.u16() % 5000)))
        .peer_timeout(input.timeout(8000))
        .first_frame_timeout(input.timeout(8000))
        .idle_timeout(input.timeout(8000))
        .read_chunk(usize::from(input.u8()) + 1)
        .rate_limit(rate_limit)
        .slow_consumer_timeout(input.timeout(8000))
        .build()
        .expect("every option here is in range")
}

struct Run {
    base: Instant,
    now_ms: u64,
    session: Session<PacketN>,
    encoder: PacketN,
    wire: Vec<u8>,
    accepted: u64,
    /// How many times each SendId ended.
    ended: BTreeMap<u64, u32>,
    /// SendIds reported `Sent`, in order.
    sent: Vec<u64>,
    closed: bool,
}

impl Run {
    fn now(&self) -> Instant {
        self.base + Duration::from_millis(self.now_ms)
    }

    fn drain(&mut self) {
        while let Some(event) = self.session.poll_event() {
            assert!(!self.closed, "an event after Closed: {event:?}");
            if let Some((id, outcome)) = event.outcome() {
                let count = self.ended.entry(id.get()).or_default();
                *count += 1;
                assert_eq!(*count, 1, "{id} ended twice");
                assert!(id.get() < self.accepted, "{id} was never accepted");
                if outcome.into_result().is_ok() {
                    self.sent.push(id.get());
                }
            }
            if let Event::Closed(_) = event {
                self.closed = true;
                assert!(self.session.is_closed());
            }
        }
    }

    fn op(&mut self, input: &mut Reader) {
        let now = self.now();
        let s = &mut self.session;
        match input.u8() % 12 {
            0 | 1 => {
                // A payload that names its SendId, so the wire can be checked.
                let mut payload = self.accepted.to_be_bytes().to_vec();
                payload.resize(8 + usize::from(input.u8() % 64), 0x5a);
                let deadline = match input.u8() % 4 {
                    0 => SendDeadline::Default,
                    1 => SendDeadline::After(Duration::from_millis(u64::from(input.u16() % 6000))),
                    2 => {
                        SendDeadline::At(self.base + Duration::from_millis(u64::from(input.u16())))
                    }
                    _ => SendDeadline::Never,
                };
                let accepted = match input.u8() % 3 {
                    0 => match self.encoder.encode_to_bytes(&payload) {
                        Ok(bytes) => s
                            .send_encoded(EncodedFrame::contiguous(bytes), deadline, now)
                            .is_ok(),
                        Err(_) => false,
                    },
                    1 => s.send_with(Bytes::from(payload), deadline, now).is_ok(),
                    // Never refused for a full queue.
                    _ => s.reply_tracked(Bytes::from(payload), deadline, now).is_ok(),
                };
                if accepted {
                    self.accepted += 1;
                }
            }
            2 | 3 => {
                let max = usize::from(input.u16() % 400);
                let slices = usize::from(input.u8() % 8) + 1;
                model::write_gathered(s, max, slices, &mut self.wire, now);
            }
            4 => {
                // Inbound: a well-formed frame, or raw bytes from the input.
                let mut chunk = BytesMut::new();
                if input.bool() {
                    let len = usize::from(input.u8() % 48);
                    let payload = input.bytes(len).to_vec();
                    if let Ok(frame) = self.encoder.encode_to_bytes(&payload) {
                        chunk.extend_from_slice(&frame);
                    }
                } else {
                    let len = usize::from(input.u8() % 32);
                    chunk.extend_from_slice(input.bytes(len));
                }
                // Split across two reads, through both read paths.
                let split = usize::from(input.u8()) % (chunk.len() + 1);
                for part in [&chunk[..split], &chunk[split..]] {
                    if input.bool() {
                        let space = s.read_space();
                        let n = part.len().min(space.len());
                        space[..n].copy_from_slice(&part[..n]);
                        s.on_read(n, now);
                    } else {
                        s.read_buf().put_slice(part);
                        s.on_read(part.len(), now);
                    }
                }
            }
            5 => {
                let _ = s.read_space();
                s.on_read(0, now);
            }
            6 => s.on_eof(now),
            7 | 8 => {
                let backwards = input.bool();
                let step = u64::from(input.u16() % 3000);
                let at = if backwards {
                    self.base + Duration::from_millis(self.now_ms.saturating_sub(step))
                } else {
                    self.now_ms += step;
                    self.now()
                };
                self.session.handle_timeout(at);
                let closing = self.session.is_closing();
                self.drain();
                // The close a fatal decode error calls for begins at the poll
                // that takes the last event before it, so draining may begin
                // it; with a zero linger it is then due at once, as a
                // `close()` with a zero linger is.
                let began_close = !closing
                    && self.session.is_closing()
                    && self.session.config().linger().is_zero();
                if let Some(deadline) = self.session.poll_timeout() {
                    assert!(
                        deadline > self.now() || began_close,
                        "due right after handle_timeout"
                    );
                }
            }
            9 => {
                let setting = match input.u8() % 3 {
                    0 => None,
                    _ => Some((
                        Duration::from_millis(u64::from(input.u16() % 3000)),
                        Bytes::from_static(HEARTBEAT),
                    )),
                };
                let _ = s.set_heartbeat(setting, now);
            }
            10 => {
                if input.bool() {
                    s.close(now);
                } else {
                    s.abort();
                }
            }
            _ => {
                // An untracked reply, named by a prefix no SendId takes.
                let mut payload = UNTRACKED.to_vec();
                payload.resize(8 + usize::from(input.u8() % 64), 0x5a);
                let refused = if input.bool() {
                    s.reply(Bytes::from(payload), now)
                        .err()
                        .map(|e| e.failure())
                } else {
                    match self.encoder.encode_to_bytes(&payload) {
                        Ok(bytes) => s
                            .reply_encoded(EncodedFrame::contiguous(bytes), now)
                            .err()
                            .map(|e| e.failure()),
                        Err(_) => None,
                    }
                };
                assert_ne!(
                    refused,
                    Some(Some(SendFailure::QueueFull)),
                    "a reply is never refused for a full queue"
                );
            }
        }
        self.drain();
        self.check_backpressure();
        if let Some(deadline) = self.session.poll_timeout() {
            assert!(deadline >= self.now(), "poll_timeout before now");
        }
    }

    /// Reading pauses from either queue bound to half of both, and never
    /// on a closed session.
    fn check_backpressure(&self) {
        let s = &self.session;
        let (frames, bytes) = (s.queued_frames(), s.queued_bytes());
        let cfg = s.config();
        if s.is_closed() {
            assert!(!s.is_backpressured());
        } else if frames >= cfg.max_queue_frames() || bytes >= cfg.max_queue_bytes() {
            assert!(s.is_backpressured(), "at a bound, reading goes on");
        } else if frames <= cfg.max_queue_frames() / 2 && bytes <= cfg.max_queue_bytes() / 2 {
            assert!(!s.is_backpressured(), "at the low-water mark, still paused");
        }
        if s.is_backpressured() {
            assert!(!s.wants_read());
        }
    }

    fn finish(mut self) {
        self.session.abort();
        self.drain();
        assert!(self.closed, "Closed is reported once the session ends");
        assert_eq!(self.ended.len() as u64, self.accepted, "every SendId ends");

        // What reached the wire: the frames reported Sent, in order, and heartbeats.
        let mut decoder = self.encoder.clone();
        let mut buf = BytesMut::from(&self.wire[..]);
        let mut ids = Vec::new();
        let mut heartbeats = 0;
        let mut untracked = 0;
        while let Ok(Some(frame)) = decoder.decode(&mut buf) {
            if frame.as_ref() == HEARTBEAT {
                heartbeats += 1;
            } else if frame.starts_with(UNTRACKED) {
                untracked += 1;
            } else {
                ids.push(u64::from_be_bytes(
                    frame[..8].try_into().expect("8-byte id prefix"),
                ));
            }
        }
        assert_eq!(ids, self.sent);
        let stats = self.session.stats();
        assert_eq!(stats.heartbeats_sent, heartbeats);
        assert_eq!(stats.sent, self.sent.len() as u64 + untracked);
        assert_eq!(stats.bytes_out, self.wire.len() as u64);
    }
}

/// Model mode: a configuration, the peer's frames, then operations.
fn model_mode(input: &mut Reader, replies: bool) {
    let millis = |input: &mut Reader, modulo: u16| u64::from(input.u16() % modulo);
    let deadline = |input: &mut Reader| match input.u8() % 4 {
        0 | 1 => model::Deadline::Default,
        2 => model::Deadline::After(millis(input, 4000)),
        _ => model::Deadline::Never,
    };
    let mut cfg = model::Cfg {
        max_frames: usize::from(input.u8() % 8) + 1,
        max_bytes: usize::from(input.u16() % 160) + 1,
        send_timeout: input.bool().then(|| millis(input, 5000) + 1),
        linger: millis(input, 4000),
        peer_timeout: input.bool().then(|| millis(input, 7000) + 1000),
        keep_buffers: millis(input, 3000),
        share_buffers: false,
        slow_consumer: None,
    };
    // Odd: the harness shares its buffers as the engine does (no input
    // byte of its own, so older seeds keep their meaning).
    cfg.share_buffers = cfg.keep_buffers % 2 == 1;
    if replies {
        cfg.slow_consumer = input.bool().then(|| millis(input, 4000) + 1);
    }
    let frames = (0..input.u8() % 10)
        .map(|_| {
            let len = usize::from(input.u8() % 30);
            input.bytes(len).to_vec()
        })
        .collect();
    let peer = (frames, input.u8() % 5 == 0);
    let mut ops = Vec::new();
    let mut records = 0;
    while !input.0.is_empty() && records < 400 {
        records += 1;
        // Replies are op 11, only when enabled: op bytes of older seeds
        // keep their meaning.
        let kinds = if replies { 12 } else { 11 };
        let op = match input.u8() % kinds {
            0 => model::Op::Send {
                len: usize::from(input.u8() % 40),
                deadline: deadline(input),
                how: [
                    model::SendHow::Codec,
                    model::SendHow::PreEncoded,
                    model::SendHow::Untracked,
                ][usize::from(input.u8() % 3)],
            },
            1 => model::Op::Write {
                max: usize::from(input.u16() % 400),
                slices: usize::from(input.u8() % 8) + 1,
            },
            2 => model::Op::Feed {
                len: usize::from(input.u8() % 60),
                into_slice: input.bool(),
            },
            3 => model::Op::FeedNothing,
            4 => model::Op::Eof,
            5 => model::Op::Advance(millis(input, 2500)),
            6 => model::Op::Backwards(millis(input, 2000)),
            7 => model::Op::Heartbeat(input.bool().then(|| millis(input, 3000))),
            8 => model::Op::Close,
            9 => {
                // A burst of untracked sends with one deadline, at one
                // instant (small ones share packed runs). The session's
                // batch call this once drove (`send_untracked_packed`,
                // gone) was defined as exactly these sends in turn, so
                // older seeds keep their meaning byte for byte.
                let lens: Vec<usize> = (0..input.u8() % 6)
                    .map(|_| usize::from(input.u16() % 1040))
                    .collect();
                let deadline = deadline(input);
                let mut burst = lens.into_iter().map(|len| model::Op::Send {
                    len,
                    deadline: deadline.clone(),
                    how: model::SendHow::Untracked,
                });
                let Some(last) = burst.next_back() else {
                    continue;
                };
                ops.extend(burst);
                last
            }
            10 => model::Op::Abort,
            _ => model::Op::Reply {
                len: usize::from(input.u8() % 40),
                how: match input.u8() % 3 {
                    0 => model::ReplyHow::Untracked,
                    1 => model::ReplyHow::Encoded,
                    _ => model::ReplyHow::Tracked(deadline(input)),
                },
            },
        };
        ops.push(op);
    }
    model::run(cfg, peer, ops);
}

/// Wide mode: a codec and configuration beyond the model, then operations.
fn wide_mode(input: &mut Reader) {
    let encoder = codec(input);
    let config = config(input);
    #[allow(clippy::disallowed_methods)] // the run's only clock read: an arbitrary origin
    let base = Instant::now();
    let mut run = Run {
        base,
        now_ms: 0,
        session: Session::new(encoder.clone(), config, base),
        encoder,
        wire: Vec::new(),
        accepted: 0,
        ended: BTreeMap::new(),
        sent: Vec::new(),
        closed: false,
    };
    let mut ops = 0;
    while !input.0.is_empty() && ops < 400 {
        run.op(input);
        ops += 1;
    }
    run.finish();
}

/// Input layout: a mode byte (odd: wide mode; even: model mode, with
/// replies and the slow-consumer timeout when bit 1 is set), then that
/// mode's configuration and operations, as read by `model_mode` and
/// `wide_mode`. Unlike the decode targets, numbers are big-endian: the
/// layout predates `crate::input`. A model-mode seed whose mode byte has
/// bit 1 clear reads exactly as before replies existed, so older seeds
/// keep their meaning.
pub fn session_ops(data: &[u8]) {
    let mut input = Reader(data);
    let mode = input.u8();
    if mode % 2 == 0 {
        model_mode(&mut input, mode & 2 != 0);
    } else {
        wide_mode(&mut input);
    }
}
