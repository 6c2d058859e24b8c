//! [`BroadcastRing`]: fire-and-forget fan-out that costs one push per
//! broadcast, however many sessions read it.

use bytes::Bytes;
use std::collections::VecDeque;

/// A bounded log of encoded broadcast frames that any number of readers
/// follow, each with its own [`RingCursor`]: the sans-IO heart of a
/// fire-and-forget broadcast lane.
///
/// Publishing appends one shared frame (its `Bytes` are never copied) and
/// hands back the waiters of the readers that had caught up, for the caller
/// to wake. Each reader later pulls what it has room for into its own send
/// queue. The per-recipient work of a broadcast thus moves from the
/// publisher (which would otherwise touch every recipient's queue) to the
/// recipients, each paying only for the frames it takes.
///
/// The log is bounded in frames and in bytes; the oldest frames are dropped
/// first, and a reader that falls behind them learns how many it missed
/// ([`RingRead::missed`]), like a lagging `tokio::sync::broadcast` receiver.
/// The newest frame is kept even when it alone is over the byte bound.
///
/// `W` is whatever wakes a parked reader: a `std::task::Waker` on an async
/// runtime, a thread handle or a token on a blocking one. The ring never
/// calls it; a runtime keeps the ring behind its lock and wakes the waiters
/// [`publish`](Self::publish) returns after releasing the lock.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::hub::BroadcastRing;
///
/// let mut ring: BroadcastRing<&str> = BroadcastRing::new(2, 1 << 20).unwrap();
/// let mut alice = ring.subscribe();
/// assert!(ring.park(&mut alice, "wake alice"), "nothing to read yet");
///
/// let mut woken = Vec::new();
/// ring.publish(Bytes::from_static(b"one"), &mut woken);
/// assert_eq!(woken, ["wake alice"]);
/// ring.publish(Bytes::from_static(b"two"), &mut woken);
/// ring.publish(Bytes::from_static(b"three"), &mut woken); // "one" is dropped
///
/// let mut got = Vec::new();
/// let read = ring.read(&mut alice, |frame| {
///     got.push(frame.clone());
///     true
/// });
/// assert_eq!((read.delivered, read.missed), (2, 1));
/// assert_eq!(got, [Bytes::from_static(b"two"), Bytes::from_static(b"three")]);
/// ```
#[derive(Debug)]
pub struct BroadcastRing<W> {
    /// Sequence number of `frames[0]`.
    first: u64,
    frames: VecDeque<Bytes>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
    /// Waiters of readers that caught up, by slot.
    parked: Vec<Option<W>>,
    /// Empty slots of `parked`, reused before it grows.
    free: Vec<usize>,
    /// Bumped each time `publish` takes the waiters: a cursor's slot is
    /// valid only for the generation it parked in.
    generation: u64,
}

/// One reader's position in a [`BroadcastRing`].
///
/// Not `Clone`: a cursor may hold a parking slot, which belongs to exactly
/// one reader.
#[derive(Debug)]
pub struct RingCursor {
    /// Sequence number of the next frame this reader takes.
    next: u64,
    /// The reader takes frames below this sequence number only
    /// (`u64::MAX` until it leaves).
    end: u64,
    /// The slot it parked in, and in which generation.
    parked: Option<(u64, usize)>,
}

impl RingCursor {
    /// The sequence number of the next frame this reader will take.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The reader leaves at sequence number `seq` (the ring's
    /// [`head`](BroadcastRing::head) when it left a channel, say): it still
    /// takes what was published before, and nothing from `seq` on. Leaving
    /// twice keeps the earlier point.
    pub fn leave_at(&mut self, seq: u64) {
        self.end = self.end.min(seq);
    }

    /// True once a reader that left has taken, or missed, everything
    /// published before it left: it can be dropped.
    pub fn is_done(&self) -> bool {
        self.next >= self.end
    }
}

/// What one [`BroadcastRing::read`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RingRead {
    /// Frames handed to the reader (accepted).
    pub delivered: usize,
    /// Frames the reader fell behind on: dropped from the ring before it
    /// read them. It skipped over them and goes on with the oldest kept.
    pub missed: u64,
}

/// A ring that could never hold a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a broadcast ring must hold at least one frame")]
#[non_exhaustive]
pub struct ZeroCapacity;

impl<W> BroadcastRing<W> {
    /// An empty ring that keeps at most `max_frames` frames and, beyond the
    /// newest frame, at most `max_bytes` bytes.
    pub fn new(max_frames: usize, max_bytes: usize) -> Result<Self, ZeroCapacity> {
        if max_frames == 0 {
            return Err(ZeroCapacity);
        }
        Ok(BroadcastRing {
            first: 0,
            frames: VecDeque::new(),
            bytes: 0,
            max_frames,
            max_bytes,
            parked: Vec::new(),
            free: Vec::new(),
            generation: 0,
        })
    }

    /// Sequence number the next published frame gets (frames published so
    /// far).
    pub fn head(&self) -> u64 {
        self.first + self.frames.len() as u64
    }

    /// Frames kept.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when no frame is kept.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Readers parked now.
    pub fn parked(&self) -> usize {
        self.parked.len() - self.free.len()
    }

    /// A new reader, which will see every frame published from now on.
    pub fn subscribe(&self) -> RingCursor {
        RingCursor {
            next: self.head(),
            end: u64::MAX,
            parked: None,
        }
    }

    /// Appends `frame`, drops the oldest frames beyond the bounds, and moves
    /// the waiter of every parked reader into `woken` (the caller wakes them,
    /// after releasing whatever lock guards the ring). Returns the frame's
    /// sequence number.
    pub fn publish(&mut self, frame: Bytes, woken: &mut Vec<W>) -> u64 {
        let seq = self.head();
        self.bytes += frame.len();
        self.frames.push_back(frame);
        while self.frames.len() > self.max_frames
            || (self.bytes > self.max_bytes && self.frames.len() > 1)
        {
            if let Some(old) = self.frames.pop_front() {
                self.bytes -= old.len();
                self.first += 1;
            }
        }
        if self.parked() > 0 {
            woken.extend(self.parked.drain(..).flatten());
        } else {
            self.parked.clear();
        }
        self.free.clear();
        self.generation += 1;
        seq
    }

    /// True when `cursor` has something to read (or missed something)
    /// before the point where it left, if it did.
    pub fn has_unread(&self, cursor: &RingCursor) -> bool {
        cursor.next < self.head().min(cursor.end)
    }

    /// Hands the reader's unread frames, oldest first, to `accept` until it
    /// returns `false` (that frame is not taken: the reader is full) or none
    /// is left. A reader behind the oldest kept frame first skips to it and
    /// counts what it missed. A reader that left (see
    /// [`RingCursor::leave_at`]) gets, and counts as missed, only frames
    /// published before it left.
    pub fn read(
        &mut self,
        cursor: &mut RingCursor,
        mut accept: impl FnMut(&Bytes) -> bool,
    ) -> RingRead {
        let end = cursor.end;
        let mut report = RingRead::default();
        if cursor.next < self.first {
            let skip_to = self.first.min(end).max(cursor.next);
            report.missed = skip_to - cursor.next;
            cursor.next = skip_to;
        }
        let head = self.head().min(end);
        while cursor.next < head {
            // In range: `first <= next < head`.
            let index = (cursor.next - self.first) as usize;
            if !accept(&self.frames[index]) {
                break;
            }
            cursor.next += 1;
            report.delivered += 1;
        }
        report
    }

    /// Parks the reader with `waiter` until the next publish, unless it has
    /// something to read; returns whether it parked. Parking again before
    /// that publish replaces its waiter (the ring keeps one per reader).
    pub fn park(&mut self, cursor: &mut RingCursor, waiter: W) -> bool {
        if self.has_unread(cursor) {
            return false;
        }
        match cursor.parked {
            Some((generation, slot)) if generation == self.generation => {
                self.parked[slot] = Some(waiter);
            }
            _ => {
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.parked[slot] = Some(waiter);
                        slot
                    }
                    None => {
                        self.parked.push(Some(waiter));
                        self.parked.len() - 1
                    }
                };
                cursor.parked = Some((self.generation, slot));
            }
        }
        true
    }

    /// The reader leaves: its waiter, if parked, is dropped now rather than
    /// at the next publish.
    pub fn unsubscribe(&mut self, cursor: RingCursor) {
        if let Some((generation, slot)) = cursor.parked {
            if generation == self.generation && self.parked[slot].take().is_some() {
                self.free.push(slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    fn take_all<W>(ring: &mut BroadcastRing<W>, c: &mut RingCursor) -> (Vec<Bytes>, RingRead) {
        let mut got = Vec::new();
        let read = ring.read(c, |f| {
            got.push(f.clone());
            true
        });
        (got, read)
    }

    #[test]
    fn a_zero_frame_ring_is_refused() {
        assert_eq!(BroadcastRing::<()>::new(0, 10).unwrap_err(), ZeroCapacity);
    }

    #[test]
    fn a_reader_sees_only_what_was_published_after_it_subscribed() {
        let mut ring = BroadcastRing::<()>::new(8, 1024).unwrap();
        let mut woken = Vec::new();
        ring.publish(b("before"), &mut woken);
        let mut c = ring.subscribe();
        assert!(!ring.has_unread(&c));
        ring.publish(b("after"), &mut woken);
        let (got, read) = take_all(&mut ring, &mut c);
        assert_eq!(got, [b("after")]);
        assert_eq!(
            read,
            RingRead {
                delivered: 1,
                missed: 0
            }
        );
        assert!(!ring.has_unread(&c));
    }

    #[test]
    fn a_full_reader_stops_and_resumes_at_the_refused_frame() {
        let mut ring = BroadcastRing::<()>::new(8, 1024).unwrap();
        let mut c = ring.subscribe();
        let mut woken = Vec::new();
        for s in ["a", "b", "c"] {
            ring.publish(b(s), &mut woken);
        }
        let mut got = Vec::new();
        let read = ring.read(&mut c, |f| {
            got.push(f.clone());
            got.len() < 2
        });
        // "b" was offered and refused: not taken.
        assert_eq!(read.delivered, 1);
        assert_eq!(c.position(), 1);
        let (rest, _) = take_all(&mut ring, &mut c);
        assert_eq!(rest, [b("b"), b("c")]);
    }

    #[test]
    fn bounds_drop_the_oldest_and_laggards_count_what_they_missed() {
        let mut ring = BroadcastRing::<()>::new(3, 10).unwrap();
        let mut c = ring.subscribe();
        let mut woken = Vec::new();
        for s in ["1111", "2222", "3333"] {
            ring.publish(b(s), &mut woken);
        }
        // 12 bytes > 10: the oldest went.
        assert_eq!((ring.len(), ring.bytes()), (2, 8));
        ring.publish(b("4"), &mut woken);
        ring.publish(b("5"), &mut woken);
        // 3 frames at most.
        assert_eq!(ring.len(), 3);
        let (got, read) = take_all(&mut ring, &mut c);
        assert_eq!(got, [b("3333"), b("4"), b("5")]);
        assert_eq!(
            read,
            RingRead {
                delivered: 3,
                missed: 2
            }
        );
    }

    #[test]
    fn a_reader_that_left_stops_at_its_end_and_counts_only_misses_before_it() {
        let mut ring = BroadcastRing::<()>::new(2, 1024).unwrap();
        let mut c = ring.subscribe();
        let mut d = ring.subscribe();
        let mut woken = Vec::new();
        ring.publish(b("0"), &mut woken);
        d.leave_at(1);
        d.leave_at(3); // the earlier point stays
        for s in ["1", "2", "3", "4"] {
            ring.publish(b(s), &mut woken);
        }
        // Kept: 3 and 4. Left at 4: 0..=2 were missed, 3 is delivered.
        c.leave_at(4);
        let mut got = Vec::new();
        let read = ring.read(&mut c, |f| {
            got.push(f.clone());
            true
        });
        assert_eq!(got, [b("3")]);
        assert_eq!(
            read,
            RingRead {
                delivered: 1,
                missed: 3
            }
        );
        assert!(c.is_done() && !ring.has_unread(&c));
        // Left at 1, long gone: one miss, nothing delivered, never past 1.
        assert!(!d.is_done() && ring.has_unread(&d));
        let read = ring.read(&mut d, |_| true);
        assert_eq!(
            read,
            RingRead {
                delivered: 0,
                missed: 1
            }
        );
        assert_eq!(d.position(), 1);
        assert!(d.is_done());
        assert!(ring.park(&mut d, ()), "nothing left for it: it parks");
    }

    #[test]
    fn the_newest_frame_is_kept_even_over_the_byte_bound() {
        let mut ring = BroadcastRing::<()>::new(4, 2).unwrap();
        let mut c = ring.subscribe();
        let mut woken = Vec::new();
        ring.publish(b("small"), &mut woken);
        ring.publish(b("too big alone"), &mut woken);
        assert_eq!(ring.len(), 1);
        let (got, read) = take_all(&mut ring, &mut c);
        assert_eq!(got, [b("too big alone")]);
        assert_eq!(read.missed, 1);
    }

    #[test]
    fn publish_wakes_each_parked_reader_once_and_parking_again_replaces() {
        let mut ring = BroadcastRing::new(4, 64).unwrap();
        let (mut a, mut b_) = (ring.subscribe(), ring.subscribe());
        assert!(ring.park(&mut a, "a1"));
        assert!(ring.park(&mut a, "a2"), "parking again replaces");
        assert!(ring.park(&mut b_, "b"));
        assert_eq!(ring.parked(), 2);
        let mut woken = Vec::new();
        ring.publish(b("x"), &mut woken);
        woken.sort();
        assert_eq!(woken, ["a2", "b"]);
        assert_eq!(ring.parked(), 0);
        // With something unread, a reader does not park.
        assert!(!ring.park(&mut a, "a3"));
        woken.clear();
        ring.publish(b("y"), &mut woken);
        assert!(woken.is_empty());
    }

    #[test]
    fn unsubscribing_frees_the_slot_for_the_next_reader() {
        let mut ring = BroadcastRing::new(4, 64).unwrap();
        let (mut a, mut b_) = (ring.subscribe(), ring.subscribe());
        assert!(ring.park(&mut a, 1));
        ring.unsubscribe(a);
        assert_eq!(ring.parked(), 0);
        assert!(ring.park(&mut b_, 2));
        assert_eq!(ring.parked.len(), 1, "the freed slot was reused");
        let mut woken = Vec::new();
        ring.publish(b("x"), &mut woken);
        assert_eq!(woken, [2]);
    }

    #[test]
    fn a_stale_slot_from_an_earlier_generation_is_never_overwritten() {
        let mut ring = BroadcastRing::new(4, 64).unwrap();
        let mut woken = Vec::new();
        let (mut a, mut b_) = (ring.subscribe(), ring.subscribe());
        assert!(ring.park(&mut a, "a"));
        ring.publish(b("x"), &mut woken); // a's slot 0 is now stale
        let _ = take_all(&mut ring, &mut a);
        let _ = take_all(&mut ring, &mut b_);
        assert!(ring.park(&mut b_, "b")); // b takes slot 0 in the new generation
        assert!(ring.park(&mut a, "a again")); // must not overwrite b's slot
        ring.unsubscribe(a); // nor free it
        woken.clear();
        ring.publish(b("y"), &mut woken);
        assert_eq!(woken, ["b"]);
    }
}
