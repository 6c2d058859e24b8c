//! [`BroadcastRing`]: fire-and-forget fan-out that costs one push per
//! broadcast, however many sessions read it.

use bytes::Bytes;
use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// The hard bounds are this many times the soft ones (see
/// [`BroadcastRing`]).
const HARD_FACTOR: usize = 2;

/// How long a reader may stay stalled before it stops holding the ring,
/// unless [`BroadcastRing::with_slow_reader_grace`] says otherwise.
const DEFAULT_GRACE: Duration = Duration::from_secs(1);

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
/// # Bounds, protected readers and pressure
///
/// The log has a *soft* bound in frames and in bytes (`max_frames`,
/// `max_bytes`; the newest frame is kept even when it alone is over the
/// byte bound). Beyond it, the oldest frames are dropped, except a frame
/// that a *protected* reader has not taken yet:
///
/// - A reader is protected from the moment it subscribes.
/// - A read that is refused (the reader is full), or a
///   [`stall`](Self::stall), makes a protected reader *stalled* from that
///   `now`, until it has taken every frame published before then (and at
///   least one more). A reader that takes them ends its stall: it keeps
///   up, even if a publisher keeps it busy all along. A stalled reader that
///   has not taken them by `since + grace` (the *slow-reader grace*, 1 s
///   unless [`with_slow_reader_grace`](Self::with_slow_reader_grace) says
///   otherwise) is demoted: it stops being protected, so it misses what is
///   dropped, and learns how many it missed ([`RingRead::missed`]). The
///   ring demotes it in the first call taking a `now` at or after that
///   instant; [`next_expiry`](Self::next_expiry) says when that is.
/// - A read that takes everything there is (the reader caught up) ends any
///   stall and protects the reader again, from the frames published after.
///
/// So a publish never drops a frame some protected reader still has to
/// take: instead, the ring goes over its soft bound and reports
/// *pressure* ([`Published::pressure`], [`is_under_pressure`](Self::is_under_pressure)).
/// A publisher that can wait (a connection's handler) stops publishing and
/// parks ([`park_publisher`](Self::park_publisher)) until readers have run:
/// the read, leave or demotion that ends the pressure hands the parked
/// publishers' waiters back, and so does a reader that newly stalls (so
/// they can re-check at its expiry). Publishers that do not wait are held
/// by the *hard* bounds, twice the soft ones: beyond them the oldest frames
/// are dropped even if protected readers have not taken them, so memory
/// stays bounded whatever publishers do.
///
/// `W` is whatever wakes a parked reader or publisher: a
/// `std::task::Waker` on an async runtime, a thread handle or a token on a
/// blocking one. The ring never calls it; a runtime keeps the ring behind
/// its lock and wakes the waiters the ring hands back after releasing the
/// lock.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::hub::BroadcastRing;
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// let mut ring: BroadcastRing<&str> = BroadcastRing::new(2, 1 << 20).unwrap();
/// let mut alice = ring.subscribe();
/// assert!(ring.park(&mut alice, "wake alice"), "nothing to read yet");
///
/// let mut woken = Vec::new();
/// ring.publish(Bytes::from_static(b"one"), now, &mut woken);
/// assert_eq!(woken, ["wake alice"]);
/// ring.publish(Bytes::from_static(b"two"), now, &mut woken);
/// // Alice has not had her turn: "one" is kept, and the ring says so.
/// let published = ring.publish(Bytes::from_static(b"three"), now, &mut woken);
/// assert!(published.pressure);
///
/// let mut got = Vec::new();
/// let read = ring.read(&mut alice, now, &mut woken, |frame| {
///     got.push(frame.clone());
///     true
/// });
/// assert_eq!((read.delivered, read.missed), (3, 0));
/// assert!(!ring.is_under_pressure());
///
/// // A reader that stays full past the grace is no longer waited for.
/// let mut woken = Vec::new();
/// ring.publish(Bytes::from_static(b"four"), now, &mut woken);
/// ring.read(&mut alice, now, &mut woken, |_| false); // full: stalled
/// ring.publish(Bytes::from_static(b"five"), now, &mut woken);
/// assert!(ring.publish(Bytes::from_static(b"six"), now, &mut woken).pressure);
/// let later = now + Duration::from_secs(1);
/// assert_eq!(ring.next_expiry(), Some(later));
/// assert!(!ring.pressure(later, &mut woken));
/// let read = ring.read(&mut alice, later, &mut woken, |_| true);
/// assert_eq!((read.delivered, read.missed), (2, 1));
/// ```
#[derive(Debug)]
pub struct BroadcastRing<W> {
    /// Sequence number of `frames[0]`.
    first: u64,
    frames: VecDeque<Bytes>,
    /// `holds[i]`: protected readers, not done, whose next frame is
    /// `frames[i]` (those behind `first` count at 0); the last entry, one
    /// past the frames, counts those that caught up. Always
    /// `frames.len() + 1` entries.
    holds: VecDeque<u32>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
    grace: Duration,
    /// Every reader, by slot (a cursor names its slot).
    readers: Vec<Option<Reader>>,
    /// Empty slots of `readers`.
    free_readers: Vec<usize>,
    /// Stalled protected readers: since when, and their slot.
    stalled: BTreeSet<(Instant, usize)>,
    /// Waiters of readers that caught up.
    parked: Parking<W>,
    /// Waiters of publishers waiting for the pressure to end.
    publishers: Parking<W>,
}

/// What the ring knows of one reader.
#[derive(Debug)]
struct Reader {
    /// Sequence number of the next frame this reader takes.
    next: u64,
    /// The reader takes frames below this sequence number only
    /// (`u64::MAX` until it leaves).
    end: u64,
    /// Frames it has not taken are kept (up to the hard bounds).
    protected: bool,
    /// Since when a protected reader is full, if it is, and the sequence
    /// number it must reach to be keeping up.
    stalled: Option<(Instant, u64)>,
}

impl Reader {
    /// Counted in `holds`: protected, with frames still to take.
    fn holds(&self) -> bool {
        self.protected && self.next < self.end
    }
}

/// Waiters parked until the next hand-back, one per ticket.
#[derive(Debug)]
struct Parking<W> {
    slots: Vec<Option<W>>,
    /// Empty slots of `slots`, reused before it grows.
    free: Vec<usize>,
    /// Bumped at each hand-back: a ticket's slot is valid only for the
    /// generation it parked in.
    generation: u64,
}

impl<W> Parking<W> {
    fn new() -> Self {
        Parking {
            slots: Vec::new(),
            free: Vec::new(),
            generation: 0,
        }
    }

    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Parks `waiter` under `ticket`, replacing the ticket's waiter of this
    /// generation if it has one.
    fn park(&mut self, ticket: &mut Option<(u64, usize)>, waiter: W) {
        match *ticket {
            Some((generation, slot)) if generation == self.generation => {
                self.slots[slot] = Some(waiter);
            }
            _ => {
                let slot = match self.free.pop() {
                    Some(slot) => {
                        self.slots[slot] = Some(waiter);
                        slot
                    }
                    None => {
                        self.slots.push(Some(waiter));
                        self.slots.len() - 1
                    }
                };
                *ticket = Some((self.generation, slot));
            }
        }
    }

    /// Moves every waiter into `out` and starts a new generation.
    fn take_all(&mut self, out: &mut Vec<W>) {
        if self.len() > 0 {
            out.extend(self.slots.drain(..).flatten());
        } else {
            self.slots.clear();
        }
        self.free.clear();
        self.generation += 1;
    }

    /// Drops the ticket's waiter, if it is still parked.
    fn cancel(&mut self, ticket: Option<(u64, usize)>) {
        if let Some((generation, slot)) = ticket {
            if generation == self.generation && self.slots[slot].take().is_some() {
                self.free.push(slot);
            }
        }
    }
}

/// One reader's place in a [`BroadcastRing`].
///
/// It belongs to the ring that made it; hand it back with
/// [`BroadcastRing::unsubscribe`] when the reader goes (a cursor simply
/// dropped keeps its place, and while protected it may hold frames until
/// the hard bounds drop them). Not `Clone`: it names one reader.
#[derive(Debug)]
pub struct RingCursor {
    /// The reader's slot in the ring.
    slot: usize,
    /// The slot it parked in, and in which generation.
    parked: Option<(u64, usize)>,
}

/// A publisher's place among those waiting for a ring's pressure to end
/// ([`BroadcastRing::park_publisher`]): parking again with the same one
/// replaces its waiter instead of adding one.
#[derive(Debug, Default)]
pub struct PublisherWait {
    parked: Option<(u64, usize)>,
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

/// What one [`BroadcastRing::publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Published {
    /// The frame's sequence number.
    pub seq: u64,
    /// The ring is over its soft bound and its oldest frame is one a
    /// protected reader has not taken: a publisher that can wait should
    /// stop until readers have run (see
    /// [`BroadcastRing::park_publisher`]).
    pub pressure: bool,
}

/// A ring that could never hold a frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a broadcast ring must hold at least one frame")]
#[non_exhaustive]
pub struct ZeroCapacity;

impl<W> BroadcastRing<W> {
    /// An empty ring with a soft bound of `max_frames` frames and, beyond
    /// the newest frame, `max_bytes` bytes (the hard bounds are twice
    /// these), and a slow-reader grace of 1 s.
    pub fn new(max_frames: usize, max_bytes: usize) -> Result<Self, ZeroCapacity> {
        if max_frames == 0 {
            return Err(ZeroCapacity);
        }
        let mut holds = VecDeque::new();
        holds.push_back(0);
        Ok(BroadcastRing {
            first: 0,
            frames: VecDeque::new(),
            holds,
            bytes: 0,
            max_frames,
            max_bytes,
            grace: DEFAULT_GRACE,
            readers: Vec::new(),
            free_readers: Vec::new(),
            stalled: BTreeSet::new(),
            parked: Parking::new(),
            publishers: Parking::new(),
        })
    }

    /// Sets how long a protected reader may stay stalled before it is no
    /// longer waited for (see the type's docs).
    pub fn with_slow_reader_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The slow-reader grace.
    pub fn slow_reader_grace(&self) -> Duration {
        self.grace
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
        self.parked.len()
    }

    /// Publishers parked now (see [`park_publisher`](Self::park_publisher)).
    pub fn parked_publishers(&self) -> usize {
        self.publishers.len()
    }

    /// True when the ring is over its soft bound and its oldest frame is one
    /// a protected reader has not taken (as of the last call; see
    /// [`pressure`](Self::pressure) to first demote readers whose grace
    /// ran out).
    pub fn is_under_pressure(&self) -> bool {
        self.over(self.max_frames, self.max_bytes) && self.holds[0] > 0
    }

    /// When the earliest stalled reader's grace runs out: a publisher
    /// waiting for the pressure to end re-checks
    /// ([`pressure`](Self::pressure)) then, at the latest. `None` when no
    /// protected reader is stalled.
    pub fn next_expiry(&self) -> Option<Instant> {
        let (since, _) = self.stalled.first()?;
        since.checked_add(self.grace)
    }

    /// A new protected reader, which will see every frame published from
    /// now on.
    pub fn subscribe(&mut self) -> RingCursor {
        let reader = Reader {
            next: self.head(),
            end: u64::MAX,
            protected: true,
            stalled: None,
        };
        let slot = match self.free_readers.pop() {
            Some(slot) => {
                self.readers[slot] = Some(reader);
                slot
            }
            None => {
                self.readers.push(Some(reader));
                self.readers.len() - 1
            }
        };
        self.retain(slot);
        RingCursor { slot, parked: None }
    }

    /// The sequence number of the next frame this reader will take.
    pub fn position(&self, cursor: &RingCursor) -> u64 {
        self.reader(cursor.slot).next
    }

    /// True when the ring keeps, for this reader, the frames it has not
    /// taken (see the type's docs).
    pub fn is_protected(&self, cursor: &RingCursor) -> bool {
        self.reader(cursor.slot).protected
    }

    /// Since when this reader is stalled, while it is protected and stalled.
    pub fn stalled_since(&self, cursor: &RingCursor) -> Option<Instant> {
        self.reader(cursor.slot).stalled.map(|(since, _)| since)
    }

    /// True once a reader that left has taken, or missed, everything
    /// published before it left: it can be unsubscribed.
    pub fn is_done(&self, cursor: &RingCursor) -> bool {
        let reader = self.reader(cursor.slot);
        reader.next >= reader.end
    }

    /// The reader leaves at sequence number `seq` (the ring's
    /// [`head`](Self::head) when it left a channel, say): it still takes
    /// what was published before, and nothing from `seq` on. Leaving twice
    /// keeps the earlier point. Hands back the parked publishers' waiters
    /// if this ends the pressure.
    pub fn leave(&mut self, cursor: &RingCursor, seq: u64, woken: &mut Vec<W>) {
        let slot = cursor.slot;
        self.release(slot);
        let reader = self.reader_mut(slot);
        reader.end = reader.end.min(seq);
        if reader.next >= reader.end {
            self.unstall(slot);
        }
        self.retain(slot);
        self.settle(woken);
    }

    /// Appends `frame`, drops the oldest frames beyond the bounds (see the
    /// type's docs), and moves the waiter of every parked reader into
    /// `woken` (the caller wakes them, after releasing whatever lock guards
    /// the ring). Readers whose grace ran out by `now` are demoted first.
    pub fn publish(&mut self, frame: Bytes, now: Instant, woken: &mut Vec<W>) -> Published {
        self.expire(now);
        let seq = self.head();
        self.bytes += frame.len();
        self.frames.push_back(frame);
        // The readers that had caught up now wait for this frame.
        self.holds.push_back(0);
        self.parked.take_all(woken);
        self.settle(woken);
        Published {
            seq,
            pressure: self.is_under_pressure(),
        }
    }

    /// Demotes the readers whose grace ran out by `now`, hands back the
    /// parked publishers' waiters if that ends the pressure, and returns
    /// whether the ring is still under pressure.
    pub fn pressure(&mut self, now: Instant, woken: &mut Vec<W>) -> bool {
        self.expire(now);
        self.settle(woken);
        self.is_under_pressure()
    }

    /// Parks a publisher with `waiter` until the pressure ends, unless it
    /// already has by `now` (as [`pressure`](Self::pressure)); returns
    /// whether it parked. The waiter is handed back when the pressure ends,
    /// and also when a reader newly stalls: re-check then, and again by
    /// [`next_expiry`](Self::next_expiry).
    pub fn park_publisher(
        &mut self,
        wait: &mut PublisherWait,
        waiter: W,
        now: Instant,
        woken: &mut Vec<W>,
    ) -> bool {
        if !self.pressure(now, woken) {
            return false;
        }
        self.publishers.park(&mut wait.parked, waiter);
        true
    }

    /// True when `cursor` has something to read (or missed something)
    /// before the point where it left, if it did.
    pub fn has_unread(&self, cursor: &RingCursor) -> bool {
        let reader = self.reader(cursor.slot);
        reader.next < self.head().min(reader.end)
    }

    /// Hands the reader's unread frames, oldest first, to `accept` until it
    /// returns `false` (that frame is not taken: the reader is full) or none
    /// is left. A reader behind the oldest kept frame first skips to it and
    /// counts what it missed. A reader that left (see
    /// [`leave`](Self::leave)) gets, and counts as missed, only frames
    /// published before it left.
    ///
    /// A refusal stalls a protected reader from `now` (unless it is stalled
    /// already); a read that reaches what was published before its stall
    /// ends the stall, and one that takes everything also protects the
    /// reader again. Readers whose grace ran out by `now` are demoted first.
    /// The parked publishers' waiters go into `woken` when the read ends
    /// the pressure, or when the reader newly stalls.
    pub fn read(
        &mut self,
        cursor: &mut RingCursor,
        now: Instant,
        woken: &mut Vec<W>,
        mut accept: impl FnMut(&Bytes) -> bool,
    ) -> RingRead {
        self.expire(now);
        let slot = cursor.slot;
        self.release(slot);
        let (first, head) = (self.first, self.head());
        let reader = self.readers[slot].as_mut().expect("a cursor of this ring");
        let end = reader.end;
        let mut report = RingRead::default();
        if reader.next < first {
            let skip_to = first.min(end).max(reader.next);
            report.missed = skip_to - reader.next;
            reader.next = skip_to;
        }
        let stop = head.min(end);
        let mut refused = false;
        while reader.next < stop {
            // In range: `first <= next < head`.
            let index = (reader.next - first) as usize;
            if !accept(&self.frames[index]) {
                refused = true;
                break;
            }
            reader.next += 1;
            report.delivered += 1;
        }
        // Took what was published before it stalled: it keeps up.
        if reader
            .stalled
            .is_some_and(|(_, until)| reader.next >= until)
        {
            self.unstall(slot);
        }
        if refused {
            self.retain(slot);
            self.stall_reader(slot, now, woken);
        } else {
            // Caught up: protected again, from what comes next.
            self.unstall(slot);
            self.reader_mut(slot).protected = true;
            self.retain(slot);
        }
        self.settle(woken);
        report
    }

    /// The reader cannot take frames now (its queue is full), whether or
    /// not it has any to take: a protected reader is stalled from `now`,
    /// unless it is stalled already, as by a refused [`read`](Self::read).
    pub fn stall(&mut self, cursor: &RingCursor, now: Instant, woken: &mut Vec<W>) {
        self.expire(now);
        self.stall_reader(cursor.slot, now, woken);
        self.settle(woken);
    }

    /// Parks the reader with `waiter` until the next publish, unless it has
    /// something to read; returns whether it parked. Parking again before
    /// that publish replaces its waiter (the ring keeps one per reader).
    pub fn park(&mut self, cursor: &mut RingCursor, waiter: W) -> bool {
        if self.has_unread(cursor) {
            return false;
        }
        self.parked.park(&mut cursor.parked, waiter);
        true
    }

    /// The reader leaves: its waiter, if parked, is dropped now rather than
    /// at the next publish, and the frames it held are released (the
    /// parked publishers' waiters go into `woken` if that ends the
    /// pressure).
    pub fn unsubscribe(&mut self, cursor: RingCursor, woken: &mut Vec<W>) {
        let slot = cursor.slot;
        self.release(slot);
        self.unstall(slot);
        self.readers[slot] = None;
        self.free_readers.push(slot);
        self.parked.cancel(cursor.parked);
        self.settle(woken);
    }

    fn reader(&self, slot: usize) -> &Reader {
        self.readers[slot].as_ref().expect("a cursor of this ring")
    }

    fn reader_mut(&mut self, slot: usize) -> &mut Reader {
        self.readers[slot].as_mut().expect("a cursor of this ring")
    }

    /// Index in `holds` of a reader whose next frame is `next`.
    fn bucket(&self, next: u64) -> usize {
        (next.max(self.first) - self.first) as usize
    }

    /// Uncounts the reader from `holds` (before its state changes).
    fn release(&mut self, slot: usize) {
        let reader = self.reader(slot);
        if reader.holds() {
            let bucket = self.bucket(reader.next);
            self.holds[bucket] -= 1;
        }
    }

    /// Counts the reader in `holds` (after its state changed).
    fn retain(&mut self, slot: usize) {
        let reader = self.reader(slot);
        if reader.holds() {
            let bucket = self.bucket(reader.next);
            self.holds[bucket] += 1;
        }
    }

    fn over(&self, frames: usize, bytes: usize) -> bool {
        self.frames.len() > frames || (self.bytes > bytes && self.frames.len() > 1)
    }

    /// Drops the oldest frames while over the soft bounds and no protected
    /// reader holds them, or while over the hard bounds.
    fn trim(&mut self) {
        let hard = (
            self.max_frames.saturating_mul(HARD_FACTOR),
            self.max_bytes.saturating_mul(HARD_FACTOR),
        );
        while self.over(self.max_frames, self.max_bytes)
            && (self.holds[0] == 0 || self.over(hard.0, hard.1))
        {
            let Some(old) = self.frames.pop_front() else {
                break;
            };
            self.bytes -= old.len();
            self.first += 1;
            // Readers it was dropped from wait at the new oldest frame.
            let held = self.holds.pop_front().unwrap_or(0);
            if let Some(front) = self.holds.front_mut() {
                *front += held;
            }
        }
    }

    /// Trims, and hands the parked publishers back once there is no
    /// pressure.
    fn settle(&mut self, woken: &mut Vec<W>) {
        self.trim();
        if self.publishers.len() > 0 && !self.is_under_pressure() {
            self.publishers.take_all(woken);
        }
    }

    /// Demotes every stalled reader whose grace ran out by `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(since, slot)) = self.stalled.first() {
            if now.saturating_duration_since(since) < self.grace {
                break;
            }
            self.release(slot);
            self.unstall(slot);
            self.reader_mut(slot).protected = false;
        }
    }

    /// A protected reader with frames to take is full: stalled from `now`,
    /// until it has taken what was published so far (at least one more
    /// frame), unless it is stalled already; demoted if its grace has run
    /// out. A new stall hands the parked publishers back, to re-check by its
    /// expiry.
    fn stall_reader(&mut self, slot: usize, now: Instant, woken: &mut Vec<W>) {
        let head = self.head();
        let reader = self.reader_mut(slot);
        if !reader.holds() {
            return;
        }
        let since = match reader.stalled {
            Some((since, _)) => since,
            None => {
                reader.stalled = Some((now, head.max(reader.next + 1)));
                self.stalled.insert((now, slot));
                self.publishers.take_all(woken);
                now
            }
        };
        if now.saturating_duration_since(since) >= self.grace {
            self.release(slot);
            self.unstall(slot);
            self.reader_mut(slot).protected = false;
        }
    }

    /// Ends the reader's stall, if any.
    fn unstall(&mut self, slot: usize) {
        if let Some((since, _)) = self.reader_mut(slot).stalled.take() {
            self.stalled.remove(&(since, slot));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[allow(clippy::disallowed_methods)] // an arbitrary origin: tests only add durations to it
    fn t0() -> Instant {
        Instant::now()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn take_all<W>(
        ring: &mut BroadcastRing<W>,
        c: &mut RingCursor,
        now: Instant,
    ) -> (Vec<Bytes>, RingRead) {
        let mut got = Vec::new();
        let read = ring.read(c, now, &mut Vec::new(), |f| {
            got.push(f.clone());
            true
        });
        (got, read)
    }

    fn publish_all<W>(ring: &mut BroadcastRing<W>, frames: &[&'static str], now: Instant) -> bool {
        let mut pressure = false;
        for s in frames {
            pressure = ring.publish(b(s), now, &mut Vec::new()).pressure;
        }
        pressure
    }

    /// A reader that is no longer protected: stalled, with no grace.
    fn demoted<W>(ring: &mut BroadcastRing<W>, now: Instant) -> RingCursor {
        let grace = ring.grace;
        ring.grace = Duration::ZERO;
        let c = ring.subscribe();
        ring.stall(&c, now, &mut Vec::new());
        ring.grace = grace;
        assert!(!ring.is_protected(&c));
        c
    }

    #[test]
    fn a_zero_frame_ring_is_refused() {
        assert_eq!(BroadcastRing::<()>::new(0, 10).unwrap_err(), ZeroCapacity);
    }

    #[test]
    fn the_slow_reader_grace_is_one_second_unless_set() {
        let ring = BroadcastRing::<()>::new(1, 10).unwrap();
        assert_eq!(ring.slow_reader_grace(), Duration::from_secs(1));
        let ring = ring.with_slow_reader_grace(ms(250));
        assert_eq!(ring.slow_reader_grace(), ms(250));
    }

    #[test]
    fn a_ring_is_empty_only_until_its_first_frame_as_the_newest_is_always_kept() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(1, 10).unwrap();
        assert!(ring.is_empty());
        publish_all(&mut ring, &["1"], now);
        assert!(!ring.is_empty());
        // No reader holds the first: the second pushes it out, and is kept.
        publish_all(&mut ring, &["2"], now);
        assert_eq!(ring.len(), 1);
        assert!(!ring.is_empty());
    }

    #[test]
    fn a_reader_sees_only_what_was_published_after_it_subscribed() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(8, 1024).unwrap();
        publish_all(&mut ring, &["before"], now);
        let mut c = ring.subscribe();
        assert!(!ring.has_unread(&c));
        publish_all(&mut ring, &["after"], now);
        let (got, read) = take_all(&mut ring, &mut c, now);
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
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(8, 1024).unwrap();
        let mut c = ring.subscribe();
        publish_all(&mut ring, &["a", "b", "c"], now);
        let mut got = Vec::new();
        let read = ring.read(&mut c, now, &mut Vec::new(), |f| {
            got.push(f.clone());
            got.len() < 2
        });
        // "b" was offered and refused: not taken.
        assert_eq!(read.delivered, 1);
        assert_eq!(ring.position(&c), 1);
        let (rest, _) = take_all(&mut ring, &mut c, now);
        assert_eq!(rest, [b("b"), b("c")]);
    }

    #[test]
    fn bounds_drop_the_oldest_and_unprotected_laggards_count_what_they_missed() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(3, 10).unwrap();
        let mut c = demoted(&mut ring, now);
        publish_all(&mut ring, &["1111", "2222", "3333"], now);
        // 12 bytes > 10: the oldest went.
        assert_eq!((ring.len(), ring.bytes()), (2, 8));
        publish_all(&mut ring, &["4", "5"], now);
        // 3 frames at most.
        assert_eq!(ring.len(), 3);
        let (got, read) = take_all(&mut ring, &mut c, now);
        assert_eq!(got, [b("3333"), b("4"), b("5")]);
        assert_eq!(
            read,
            RingRead {
                delivered: 3,
                missed: 2
            }
        );
        // Caught up: protected again, from what comes next.
        assert!(ring.is_protected(&c));
    }

    #[test]
    fn a_reader_that_left_stops_at_its_end_and_counts_only_misses_before_it() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(2, 1024).unwrap();
        let mut c = demoted(&mut ring, now);
        let mut d = demoted(&mut ring, now);
        let mut woken = Vec::new();
        publish_all(&mut ring, &["0"], now);
        ring.leave(&d, 1, &mut woken);
        ring.leave(&d, 3, &mut woken); // the earlier point stays
        publish_all(&mut ring, &["1", "2", "3", "4"], now);
        // Kept: 3 and 4. Left at 4: 0..=2 were missed, 3 is delivered.
        ring.leave(&c, 4, &mut woken);
        let (got, read) = take_all(&mut ring, &mut c, now);
        assert_eq!(got, [b("3")]);
        assert_eq!(
            read,
            RingRead {
                delivered: 1,
                missed: 3
            }
        );
        assert!(ring.is_done(&c) && !ring.has_unread(&c));
        // Left at 1, long gone: one miss, nothing delivered, never past 1.
        assert!(!ring.is_done(&d) && ring.has_unread(&d));
        let read = ring.read(&mut d, now, &mut woken, |_| true);
        assert_eq!(
            read,
            RingRead {
                delivered: 0,
                missed: 1
            }
        );
        assert_eq!(ring.position(&d), 1);
        assert!(ring.is_done(&d));
        assert!(ring.park(&mut d, ()), "nothing left for it: it parks");
    }

    #[test]
    fn the_newest_frame_is_kept_even_over_the_byte_bound() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(4, 2).unwrap();
        let mut c = demoted(&mut ring, now);
        publish_all(&mut ring, &["small", "too big alone"], now);
        assert_eq!(ring.len(), 1);
        let (got, read) = take_all(&mut ring, &mut c, now);
        assert_eq!(got, [b("too big alone")]);
        assert_eq!(read.missed, 1);
    }

    #[test]
    fn frames_a_protected_reader_has_not_taken_are_not_dropped_at_the_soft_bound() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(2, 1024).unwrap();
        let mut c = ring.subscribe();
        assert!(!publish_all(&mut ring, &["1", "2"], now));
        assert!(publish_all(&mut ring, &["3"], now), "over, and 1 is unread");
        assert!(ring.is_under_pressure());
        assert_eq!(ring.len(), 3);
        let (got, read) = take_all(&mut ring, &mut c, now);
        assert_eq!(got, [b("1"), b("2"), b("3")]);
        assert_eq!(read.missed, 0);
        // Taken: back within the bound, without pressure.
        assert_eq!(ring.len(), 2);
        assert!(!ring.is_under_pressure());
    }

    #[test]
    fn pressure_is_reported_only_while_the_oldest_frame_is_held() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(2, 1024).unwrap();
        let mut c = ring.subscribe();
        publish_all(&mut ring, &["1", "2"], now);
        // Took 1 only: 2 is the oldest it holds; 1 can go.
        ring.read(&mut c, now, &mut Vec::new(), |_| false);
        let mut n = 0;
        ring.read(&mut c, now, &mut Vec::new(), |_| {
            n += 1;
            n == 1
        });
        assert_eq!(ring.position(&c), 1);
        assert!(
            !publish_all(&mut ring, &["3"], now),
            "1 was dropped instead"
        );
        assert_eq!(ring.len(), 2);
        assert!(publish_all(&mut ring, &["4"], now));
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn a_stalled_reader_is_demoted_exactly_at_since_plus_grace() {
        let t0 = t0();
        let mut ring = BroadcastRing::<u8>::new(1, 1024)
            .unwrap()
            .with_slow_reader_grace(ms(100));
        let mut c = ring.subscribe();
        publish_all(&mut ring, &["1"], t0);
        // Full at t0 + 10: stalled from then.
        ring.read(&mut c, t0 + ms(10), &mut Vec::new(), |_| false);
        assert_eq!(ring.stalled_since(&c), Some(t0 + ms(10)));
        // A refusal later does not move the start.
        ring.read(&mut c, t0 + ms(50), &mut Vec::new(), |_| false);
        assert_eq!(ring.next_expiry(), Some(t0 + ms(110)));
        assert!(publish_all(&mut ring, &["2"], t0 + ms(60)));
        let mut woken = Vec::new();
        assert!(ring.pressure(t0 + ms(109), &mut woken));
        assert!(ring.is_protected(&c));
        assert!(!ring.pressure(t0 + ms(110), &mut woken), "demoted at 110");
        assert!(!ring.is_protected(&c));
        assert_eq!(ring.next_expiry(), None);
        assert_eq!(ring.len(), 1);
        let read = ring.read(&mut c, t0 + ms(120), &mut woken, |_| true);
        assert_eq!((read.delivered, read.missed), (1, 1));
        assert!(ring.is_protected(&c), "caught up");
    }

    #[test]
    fn a_reader_that_takes_what_was_published_before_its_stall_keeps_up_while_busy() {
        let t0 = t0();
        let mut ring = BroadcastRing::<u8>::new(2, 1024)
            .unwrap()
            .with_slow_reader_grace(ms(100));
        let mut c = ring.subscribe();
        publish_all(&mut ring, &["1", "2", "3"], t0);
        let mut n = 0;
        let mut one = |_: &Bytes| {
            n += 1;
            n == 1
        };
        // Took 1, full at 2: stalled until it has taken 3 as well.
        ring.read(&mut c, t0, &mut Vec::new(), &mut one);
        assert_eq!(ring.stalled_since(&c), Some(t0));
        assert!(publish_all(&mut ring, &["4"], t0 + ms(50)));
        // Took 2 and 3, full again at 4: a new stall, from now.
        let mut n = 0;
        ring.read(&mut c, t0 + ms(90), &mut Vec::new(), |_| {
            n += 1;
            n <= 2
        });
        assert_eq!(ring.position(&c), 3);
        assert_eq!(ring.stalled_since(&c), Some(t0 + ms(90)));
        assert!(publish_all(&mut ring, &["5", "6"], t0 + ms(100)));
        assert!(ring.pressure(t0 + ms(150), &mut Vec::new()));
        assert!(ring.is_protected(&c), "kept up: not demoted at 100");
        assert!(!ring.pressure(t0 + ms(190), &mut Vec::new()));
        assert!(!ring.is_protected(&c));
    }

    #[test]
    fn a_reader_stalled_with_nothing_unread_is_demoted_too() {
        let t0 = t0();
        let mut ring = BroadcastRing::<u8>::new(1, 1024)
            .unwrap()
            .with_slow_reader_grace(ms(100));
        let c = ring.subscribe();
        ring.stall(&c, t0, &mut Vec::new());
        assert!(publish_all(&mut ring, &["1", "2"], t0 + ms(99)));
        assert!(!publish_all(&mut ring, &["3"], t0 + ms(100)));
        assert!(!ring.is_protected(&c));
    }

    #[test]
    fn a_read_that_ends_the_pressure_hands_the_publishers_back() {
        let now = t0();
        let mut ring = BroadcastRing::new(2, 1024).unwrap();
        let mut c = ring.subscribe();
        let (mut p, mut q) = (PublisherWait::default(), PublisherWait::default());
        let mut woken = Vec::new();
        assert!(
            !ring.park_publisher(&mut p, "p", now, &mut woken),
            "no pressure"
        );
        publish_all(&mut ring, &["1", "2", "3", "4"], now);
        assert!(ring.park_publisher(&mut p, "p1", now, &mut woken));
        assert!(
            ring.park_publisher(&mut p, "p2", now, &mut woken),
            "replaces"
        );
        assert!(ring.park_publisher(&mut q, "q", now, &mut woken));
        assert_eq!(ring.parked_publishers(), 2);
        assert!(woken.is_empty());
        // A partial read leaves the ring over its bound, but the refusal
        // newly stalls the reader: the publishers re-check (its expiry).
        let mut first = true;
        ring.read(&mut c, now, &mut woken, |_| std::mem::take(&mut first));
        assert!(ring.is_under_pressure());
        woken.sort();
        assert_eq!(woken, ["p2", "q"]);
        woken.clear();
        assert!(ring.park_publisher(&mut p, "p3", now, &mut woken));
        // Still stalled (not caught up), but taking "2" brings the ring back
        // within its bound: that ends the pressure.
        let mut first = true;
        ring.read(&mut c, now, &mut woken, |_| std::mem::take(&mut first));
        assert!(ring.stalled_since(&c).is_some());
        assert_eq!(woken, ["p3"]);
        assert_eq!(ring.parked_publishers(), 0);
        assert!(!ring.is_under_pressure());
    }

    #[test]
    fn leaving_and_unsubscribing_release_what_the_reader_held() {
        let now = t0();
        let mut ring = BroadcastRing::new(1, 1024).unwrap();
        let (c, d) = (ring.subscribe(), ring.subscribe());
        publish_all(&mut ring, &["1", "2"], now);
        let mut p = PublisherWait::default();
        let mut woken = Vec::new();
        assert!(ring.park_publisher(&mut p, "p", now, &mut woken));
        ring.leave(&c, 0, &mut woken);
        assert!(woken.is_empty(), "d still holds 1");
        ring.unsubscribe(d, &mut woken);
        assert_eq!(woken, ["p"]);
        assert_eq!(ring.len(), 1);
    }

    #[test]
    fn the_hard_bound_drops_even_frames_protected_readers_have_not_taken() {
        let now = t0();
        let mut ring = BroadcastRing::<()>::new(2, 1024).unwrap();
        let mut c = ring.subscribe();
        assert!(publish_all(&mut ring, &["1", "2", "3", "4", "5", "6"], now));
        assert_eq!(ring.len(), 4, "twice the soft bound");
        let (got, read) = take_all(&mut ring, &mut c, now);
        assert_eq!(got, [b("3"), b("4"), b("5"), b("6")]);
        assert_eq!(read.missed, 2);
        assert!(ring.is_protected(&c));

        // In bytes too: twice 8.
        let mut ring = BroadcastRing::<()>::new(10, 8).unwrap();
        let mut c = ring.subscribe();
        assert!(publish_all(&mut ring, &["1111111", "2222222"], now));
        assert_eq!((ring.len(), ring.bytes()), (2, 14));
        publish_all(&mut ring, &["3333333"], now);
        assert_eq!((ring.len(), ring.bytes()), (2, 14));
        let (got, read) = take_all(&mut ring, &mut c, now);
        assert_eq!(got, [b("2222222"), b("3333333")]);
        assert_eq!(read.missed, 1);
    }

    #[test]
    fn publish_wakes_each_parked_reader_once_and_parking_again_replaces() {
        let now = t0();
        let mut ring = BroadcastRing::new(4, 64).unwrap();
        let (mut a, mut b_) = (ring.subscribe(), ring.subscribe());
        assert!(ring.park(&mut a, "a1"));
        assert!(ring.park(&mut a, "a2"), "parking again replaces");
        assert!(ring.park(&mut b_, "b"));
        assert_eq!(ring.parked(), 2);
        let mut woken = Vec::new();
        ring.publish(b("x"), now, &mut woken);
        woken.sort();
        assert_eq!(woken, ["a2", "b"]);
        assert_eq!(ring.parked(), 0);
        // With something unread, a reader does not park.
        assert!(!ring.park(&mut a, "a3"));
        woken.clear();
        ring.publish(b("y"), now, &mut woken);
        assert!(woken.is_empty());
    }

    #[test]
    fn unsubscribing_frees_the_slot_for_the_next_reader() {
        let now = t0();
        let mut ring = BroadcastRing::new(4, 64).unwrap();
        let (mut a, mut b_) = (ring.subscribe(), ring.subscribe());
        assert!(ring.park(&mut a, 1));
        let mut woken = Vec::new();
        ring.unsubscribe(a, &mut woken);
        assert_eq!(ring.parked(), 0);
        assert!(ring.park(&mut b_, 2));
        assert_eq!(ring.parked.slots.len(), 1, "the freed slot was reused");
        ring.publish(b("x"), now, &mut woken);
        assert_eq!(woken, [2]);
    }

    #[test]
    fn a_stale_slot_from_an_earlier_generation_is_never_overwritten() {
        let now = t0();
        let mut ring = BroadcastRing::new(4, 64).unwrap();
        let mut woken = Vec::new();
        let (mut a, mut b_) = (ring.subscribe(), ring.subscribe());
        assert!(ring.park(&mut a, "a"));
        ring.publish(b("x"), now, &mut woken); // a's slot 0 is now stale
        let _ = take_all(&mut ring, &mut a, now);
        let _ = take_all(&mut ring, &mut b_, now);
        assert!(ring.park(&mut b_, "b")); // b takes slot 0 in the new generation
        assert!(ring.park(&mut a, "a again")); // must not overwrite b's slot
        ring.unsubscribe(a, &mut Vec::new()); // nor free it
        woken.clear();
        ring.publish(b("y"), now, &mut woken);
        assert_eq!(woken, ["b"]);
    }
}
