//! The reference model of `BroadcastRing`, shared by the proptest
//! `core/tests/ring_model.rs` and the fuzz target `ring_ops`: a list of
//! every frame ever published, the index of the oldest one kept, and each
//! reader's position, protection and stall, with the rules written out
//! directly (no counters). [`run`] applies operations to the real ring and
//! the model side by side, at a clock the operations move, and panics at
//! the first difference.
//!
//! The rules, as the model states them:
//! - a reader *holds* the oldest kept frame when it is protected, has not
//!   reached the point where it left, and has not taken that frame;
//! - after every operation, the oldest frames are dropped while the ring is
//!   over its soft bound and no reader holds the oldest, or while it is over
//!   its hard bound (twice the soft one) whatever holds it; the newest frame
//!   is always kept;
//! - pressure: over the soft bound (hence the oldest frame held);
//! - a protected reader with frames still to take that is refused (or
//!   stalls) is stalled from `now` until it reaches the head as of then
//!   (at least one frame further), unless it already is; a read that
//!   reaches that point ends the stall; one stalled since `s` is demoted
//!   (unprotected, no longer stalled) by any operation taking a
//!   `now >= s + grace`; a read that takes everything ends the stall and
//!   protects the reader again; a reader that left and has nothing left
//!   before its end is not stalled;
//! - parked publishers are handed back when an operation ends with no
//!   pressure, and when a reader newly stalls.

use bytes::Bytes;
use castnet_core::hub::{BroadcastRing, PublisherWait, RingCursor};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How many distinct publishers `ParkPublisher` chooses from.
pub const PUBLISHERS: usize = 3;

/// Waiter ids of publishers start here (readers' are their own ids).
const PUBLISHER_ID: u32 = 1 << 20;

/// One operation on the ring (and the model).
#[derive(Debug, Clone)]
pub enum Op {
    /// Publish a frame of this many bytes.
    Publish(usize),
    /// A new reader.
    Subscribe,
    /// Reader (index into the live ones, modulo), and how many frames it
    /// accepts before it is full.
    Read(usize, usize),
    /// The reader leaves at its position plus this offset
    /// (`BroadcastRing::leave`): it takes only frames published before.
    Leave(usize, u64),
    /// Park a reader (index modulo the live ones).
    Park(usize),
    /// A reader leaves (index modulo the live ones).
    Unsubscribe(usize),
    /// A reader reports it is full (index modulo the live ones).
    Stall(usize),
    /// The clock moves on this many milliseconds.
    Advance(u64),
    /// Publisher `p % PUBLISHERS` parks, unless there is no pressure.
    ParkPublisher(usize),
    /// A publisher re-checks the pressure.
    Pressure,
}

struct Reader {
    id: u32,
    cursor: RingCursor,
    /// The model's position: sequence number of the next frame.
    next: u64,
    /// Where it left (`u64::MAX` while it follows).
    end: u64,
    protected: bool,
    /// Since when, and the position it must reach.
    stalled: Option<(Instant, u64)>,
}

struct Model {
    max_frames: usize,
    max_bytes: usize,
    grace: Duration,
    now: Instant,
    /// Every frame ever published; the ring keeps `all[first..]`.
    all: Vec<Bytes>,
    first: usize,
    readers: Vec<Reader>,
    parked: BTreeSet<u32>,
    publishers: BTreeSet<u32>,
}

impl Model {
    fn kept_bytes(&self) -> usize {
        self.all[self.first..].iter().map(Bytes::len).sum()
    }

    fn over(&self, frames: usize, bytes: usize) -> bool {
        let len = self.all.len() - self.first;
        len > frames || (self.kept_bytes() > bytes && len > 1)
    }

    fn held(&self) -> bool {
        let first = self.first as u64;
        self.readers
            .iter()
            .any(|r| r.protected && r.next < r.end && r.next <= first)
    }

    fn pressure(&self) -> bool {
        self.over(self.max_frames, self.max_bytes)
    }

    fn trim(&mut self) {
        let hard = (self.max_frames * 2, self.max_bytes * 2);
        while self.over(self.max_frames, self.max_bytes)
            && (!self.held() || self.over(hard.0, hard.1))
        {
            self.first += 1;
        }
    }

    fn expire(&mut self) {
        let (now, grace) = (self.now, self.grace);
        for r in &mut self.readers {
            if let Some((since, _)) = r.stalled {
                if now.saturating_duration_since(since) >= grace {
                    r.stalled = None;
                    r.protected = false;
                }
            }
        }
    }

    fn settle(&mut self, handed: &mut BTreeSet<u32>) {
        self.trim();
        if !self.pressure() {
            handed.append(&mut self.publishers);
        }
    }

    fn stall(&mut self, i: usize, handed: &mut BTreeSet<u32>) {
        let (now, grace, head) = (self.now, self.grace, self.all.len() as u64);
        let r = &mut self.readers[i];
        if !(r.protected && r.next < r.end) {
            return;
        }
        let (since, _) = *r.stalled.get_or_insert_with(|| {
            handed.append(&mut self.publishers);
            (now, head.max(r.next + 1))
        });
        if now.saturating_duration_since(since) >= grace {
            r.stalled = None;
            r.protected = false;
        }
    }
}

#[allow(clippy::disallowed_methods)] // an arbitrary origin: only durations are added to it
fn t0() -> Instant {
    Instant::now()
}

/// Checks `woken` against the set the model expects: each waiter once.
fn check_woken(woken: &[u32], expected: &BTreeSet<u32>) {
    let set: BTreeSet<u32> = woken.iter().copied().collect();
    assert_eq!(woken.len(), set.len(), "a waiter handed back twice");
    assert_eq!(&set, expected);
}

/// Runs `ops` on a ring with a soft bound of `max_frames` (at least 1) and
/// `max_bytes` and a slow-reader grace of `grace_ms`, checking it against
/// the model after every operation. Panics on the first difference.
pub fn run(max_frames: usize, max_bytes: usize, grace_ms: u64, ops: Vec<Op>) {
    let grace = Duration::from_millis(grace_ms);
    let mut ring: BroadcastRing<u32> = BroadcastRing::new(max_frames, max_bytes)
        .unwrap()
        .with_slow_reader_grace(grace);
    let mut m = Model {
        max_frames,
        max_bytes,
        grace,
        now: t0(),
        all: Vec::new(),
        first: 0,
        readers: Vec::new(),
        parked: BTreeSet::new(),
        publishers: BTreeSet::new(),
    };
    let mut waits: Vec<PublisherWait> = (0..PUBLISHERS).map(|_| PublisherWait::default()).collect();
    let mut next_id = 0u32;

    for op in ops {
        let mut woken = Vec::new();
        let mut handed = BTreeSet::new();
        let now = m.now;
        match op {
            Op::Publish(len) => {
                m.expire();
                let frame = Bytes::from(vec![m.all.len() as u8; len]);
                m.all.push(frame.clone());
                handed.append(&mut m.parked);
                m.settle(&mut handed);
                let published = ring.publish(frame, now, &mut woken);
                assert_eq!(published.seq, m.all.len() as u64 - 1);
                assert_eq!(published.pressure, m.pressure());
            }
            Op::Subscribe => {
                m.readers.push(Reader {
                    id: next_id,
                    cursor: ring.subscribe(),
                    next: m.all.len() as u64,
                    end: u64::MAX,
                    protected: true,
                    stalled: None,
                });
                next_id += 1;
            }
            Op::Read(r, k) if !m.readers.is_empty() => {
                m.expire();
                let i = r % m.readers.len();
                let first = m.first;
                let reader = &mut m.readers[i];
                let mut got = Vec::new();
                let read = ring.read(&mut reader.cursor, now, &mut woken, |f| {
                    if got.len() == k {
                        return false;
                    }
                    got.push(f.clone());
                    true
                });
                let next = reader.next as usize;
                let end = usize::try_from(reader.end).unwrap_or(usize::MAX);
                let from = if next < first {
                    first.min(end).max(next)
                } else {
                    next
                };
                let stop = m.all.len().min(end.max(from));
                let to = (from + k).min(stop);
                assert_eq!(&got[..], &m.all[from..to]);
                assert_eq!(read.delivered, to - from);
                assert_eq!(read.missed, (from - next) as u64);
                reader.next = to as u64;
                if reader
                    .stalled
                    .is_some_and(|(_, until)| reader.next >= until)
                {
                    reader.stalled = None;
                }
                if to < stop {
                    m.stall(i, &mut handed);
                } else {
                    reader.stalled = None;
                    reader.protected = true;
                }
                m.settle(&mut handed);
            }
            Op::Leave(r, offset) if !m.readers.is_empty() => {
                let i = r % m.readers.len();
                let reader = &mut m.readers[i];
                let at = reader.next + offset;
                ring.leave(&reader.cursor, at, &mut woken);
                reader.end = reader.end.min(at);
                if reader.next >= reader.end {
                    reader.stalled = None;
                }
                m.settle(&mut handed);
            }
            Op::Park(r) if !m.readers.is_empty() => {
                let n = m.readers.len();
                let reader = &mut m.readers[r % n];
                let unread = reader.next < (m.all.len() as u64).min(reader.end);
                let did = ring.park(&mut reader.cursor, reader.id);
                assert_eq!(did, !unread);
                if did {
                    m.parked.insert(reader.id);
                }
            }
            Op::Unsubscribe(r) if !m.readers.is_empty() => {
                let reader = m.readers.remove(r % m.readers.len());
                m.parked.remove(&reader.id);
                ring.unsubscribe(reader.cursor, &mut woken);
                m.settle(&mut handed);
            }
            Op::Stall(r) if !m.readers.is_empty() => {
                m.expire();
                let i = r % m.readers.len();
                ring.stall(&m.readers[i].cursor, now, &mut woken);
                m.stall(i, &mut handed);
                m.settle(&mut handed);
            }
            Op::Advance(ms) => m.now += Duration::from_millis(ms),
            Op::ParkPublisher(p) => {
                m.expire();
                m.settle(&mut handed);
                let p = p % PUBLISHERS;
                let did =
                    ring.park_publisher(&mut waits[p], PUBLISHER_ID + p as u32, now, &mut woken);
                assert_eq!(did, m.pressure());
                if did {
                    m.publishers.insert(PUBLISHER_ID + p as u32);
                }
            }
            Op::Pressure => {
                m.expire();
                m.settle(&mut handed);
                assert_eq!(ring.pressure(now, &mut woken), m.pressure());
            }
            _ => {}
        }
        check_woken(&woken, &handed);

        // The whole state, after every operation.
        let len = m.all.len() - m.first;
        assert_eq!(ring.head(), m.all.len() as u64);
        assert_eq!(ring.len(), len);
        assert_eq!(ring.bytes(), m.kept_bytes());
        assert_eq!(ring.parked(), m.parked.len());
        assert_eq!(ring.parked_publishers(), m.publishers.len());
        assert_eq!(ring.is_under_pressure(), m.pressure());
        let expiry = m
            .readers
            .iter()
            .filter_map(|r| r.stalled.map(|(since, _)| since))
            .min()
            .map(|since| since + grace);
        assert_eq!(ring.next_expiry(), expiry);
        for r in &m.readers {
            assert_eq!(ring.position(&r.cursor), r.next);
            assert_eq!(ring.is_done(&r.cursor), r.next >= r.end);
            assert_eq!(ring.is_protected(&r.cursor), r.protected);
            assert_eq!(
                ring.stalled_since(&r.cursor),
                r.stalled.map(|(since, _)| since)
            );
        }
        // Bounded whatever happens: the hard bounds, beyond the newest frame.
        assert!(len <= 2 * max_frames);
        assert!(len <= 1 || m.kept_bytes() <= 2 * max_bytes);
        // Nobody waits for relief without pressure.
        assert!(m.publishers.is_empty() || m.pressure());
        // Over the soft bound only for a protected reader.
        assert!(!m.pressure() || m.held());
    }
}
