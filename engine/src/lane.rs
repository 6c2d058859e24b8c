//! A broadcast lane: core's [`BroadcastRing`] behind a lock, with wakers.
//!
//! A detached broadcast is one push here, whatever the number of recipients;
//! each connection task pulls what its send queue has room for when it next
//! runs. The lock is held for a push or for one reader's pull of everything
//! new, never across IO or user code; the waiters the ring hands back are
//! woken after it is released.

use bytes::Bytes;
use castnet_core::hub::{BroadcastRing, PublisherWait, RingCursor, RingRead};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

pub(crate) struct Lane {
    ring: Mutex<BroadcastRing<Waker>>,
    subscribers: AtomicUsize,
}

/// Wakes what the ring handed back; called with the lock released: a wake
/// may reschedule a task on another thread, which should not find the lock
/// held.
fn wake(woken: Vec<Waker>) {
    for waker in woken {
        waker.wake();
    }
}

impl Lane {
    /// A lane with a soft bound of `frames` frames (at least one) and
    /// `bytes` bytes beyond the newest frame, and this slow-reader grace.
    pub(crate) fn new(frames: usize, bytes: usize, grace: Duration) -> Self {
        let ring = BroadcastRing::new(frames.max(1), bytes)
            .expect("at least one frame")
            .with_slow_reader_grace(grace);
        Lane {
            ring: Mutex::new(ring),
            subscribers: AtomicUsize::new(0),
        }
    }

    fn ring(&self) -> MutexGuard<'_, BroadcastRing<Waker>> {
        // The ring's methods cannot leave it inconsistent midway, so a
        // poisoned lock (a panic elsewhere while holding it) is still usable.
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one frame for every subscriber and wakes those that were
    /// waiting for one. Returns how many subscribers there are, and whether
    /// the lane is now under pressure (a publisher that can wait should).
    pub(crate) fn publish(&self, frame: Bytes, now: Instant) -> (usize, bool) {
        let mut woken = Vec::new();
        let published = self.ring().publish(frame, now, &mut woken);
        wake(woken);
        (self.subscribers.load(Relaxed), published.pressure)
    }

    /// Whether the lane is still under pressure at `now` (readers whose
    /// grace ran out are no longer waited for).
    pub(crate) fn pressure(&self, now: Instant) -> bool {
        let mut woken = Vec::new();
        let pressure = self.ring().pressure(now, &mut woken);
        wake(woken);
        pressure
    }

    /// Pending (the task is woken when the pressure ends, or when a reader
    /// newly stalls) while the lane is under pressure; ready once it is not.
    pub(crate) fn poll_relief(
        &self,
        wait: &mut PublisherWait,
        cx: &mut Context<'_>,
        now: Instant,
    ) -> Poll<()> {
        let mut woken = Vec::new();
        let parked = self
            .ring()
            .park_publisher(wait, cx.waker().clone(), now, &mut woken);
        wake(woken);
        if parked {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }

    /// When a publisher waiting for relief must re-check at the latest: the
    /// earliest stalled reader's grace runs out.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.ring().next_expiry()
    }

    /// Sequence number the next publish gets: a reader that leaves now
    /// takes everything below it, and nothing after.
    pub(crate) fn head(&self) -> u64 {
        self.ring().head()
    }

    /// A reader that sees every frame published from now on.
    pub(crate) fn subscribe(self: &Arc<Self>) -> Subscription {
        let cursor = self.ring().subscribe();
        self.subscribers.fetch_add(1, Relaxed);
        Subscription {
            lane: self.clone(),
            cursor: Some(cursor),
            left: false,
        }
    }
}

/// One connection's place in a [`Lane`]; leaves the lane when dropped.
pub(crate) struct Subscription {
    lane: Arc<Lane>,
    /// Always `Some` until dropped.
    cursor: Option<RingCursor>,
    /// The reader left (so it may be done).
    left: bool,
}

impl Subscription {
    /// True when this subscription is to `lane`.
    pub(crate) fn is_to(&self, lane: &Arc<Lane>) -> bool {
        Arc::ptr_eq(&self.lane, lane)
    }

    /// The reader leaves at sequence number `until`: it still takes what
    /// was published before, nothing after.
    pub(crate) fn leave_at(&mut self, until: u64) {
        if let Some(cursor) = &self.cursor {
            let mut woken = Vec::new();
            self.lane.ring().leave(cursor, until, &mut woken);
            wake(woken);
            self.left = true;
        }
    }

    /// True once a reader that left has taken (or missed) everything
    /// published before it left.
    pub(crate) fn is_done(&self) -> bool {
        match &self.cursor {
            Some(cursor) => self.left && self.lane.ring().is_done(cursor),
            None => true,
        }
    }

    /// Offers the unread frames to `accept`, oldest first, until it refuses
    /// one (the queue is full: the reader is stalled from `now`) or none is
    /// left (it caught up).
    pub(crate) fn pull(&mut self, now: Instant, accept: impl FnMut(&Bytes) -> bool) -> RingRead {
        let Some(cursor) = &mut self.cursor else {
            return RingRead::default();
        };
        let mut woken = Vec::new();
        let read = self.lane.ring().read(cursor, now, &mut woken, accept);
        wake(woken);
        read
    }

    /// The reader has no room for frames now: stalled from `now` unless it
    /// is already.
    pub(crate) fn stall(&mut self, now: Instant) {
        if let Some(cursor) = &self.cursor {
            let mut woken = Vec::new();
            self.lane.ring().stall(cursor, now, &mut woken);
            wake(woken);
        }
    }

    /// Ready when there is something to pull; otherwise the task is woken by
    /// the next publish.
    pub(crate) fn poll_unread(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(cursor) = &mut self.cursor else {
            return Poll::Pending;
        };
        if self.lane.ring().park(cursor, cx.waker().clone()) {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(cursor) = self.cursor.take() {
            let mut woken = Vec::new();
            self.lane.ring().unsubscribe(cursor, &mut woken);
            wake(woken);
            self.lane.subscribers.fetch_sub(1, Relaxed);
        }
    }
}
