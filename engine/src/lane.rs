//! A broadcast lane: core's [`BroadcastRing`] behind a lock, with wakers.
//!
//! A detached broadcast is one push here, whatever the number of recipients;
//! each connection task pulls what its send queue has room for when it next
//! runs. The lock is held for a push or for one reader's pull of everything
//! new, never across IO or user code.

use bytes::Bytes;
use castnet_core::hub::{BroadcastRing, RingCursor, RingRead};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

pub(crate) struct Lane {
    ring: Mutex<BroadcastRing<Waker>>,
    subscribers: AtomicUsize,
}

impl Lane {
    /// A lane keeping at most `frames` frames (at least one) and `bytes`
    /// bytes beyond the newest frame.
    pub(crate) fn new(frames: usize, bytes: usize) -> Self {
        let ring = BroadcastRing::new(frames.max(1), bytes).expect("at least one frame");
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
    /// waiting for one. Returns how many subscribers there are.
    pub(crate) fn publish(&self, frame: Bytes) -> usize {
        let mut woken = Vec::new();
        self.ring().publish(frame, &mut woken);
        // Woken outside the lock: a wake may reschedule a task on another
        // thread, which should not find the lock held.
        for waker in woken {
            waker.wake();
        }
        self.subscribers.load(Relaxed)
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
        }
    }
}

/// One connection's place in a [`Lane`]; leaves the lane when dropped.
pub(crate) struct Subscription {
    lane: Arc<Lane>,
    /// Always `Some` until dropped.
    cursor: Option<RingCursor>,
}

impl Subscription {
    /// True when this subscription is to `lane`.
    pub(crate) fn is_to(&self, lane: &Arc<Lane>) -> bool {
        Arc::ptr_eq(&self.lane, lane)
    }

    /// The reader leaves at sequence number `until`: it still takes what
    /// was published before, nothing after.
    pub(crate) fn leave_at(&mut self, until: u64) {
        if let Some(cursor) = &mut self.cursor {
            cursor.leave_at(until);
        }
    }

    /// True once a reader that left has taken (or missed) everything
    /// published before it left.
    pub(crate) fn is_done(&self) -> bool {
        self.cursor.as_ref().is_none_or(RingCursor::is_done)
    }

    /// Offers the unread frames to `accept`, oldest first, until it refuses
    /// one (the queue is full) or none is left.
    pub(crate) fn pull(&mut self, accept: impl FnMut(&Bytes) -> bool) -> RingRead {
        match &mut self.cursor {
            Some(cursor) => self.lane.ring().read(cursor, accept),
            None => RingRead::default(),
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
            self.lane.ring().unsubscribe(cursor);
            self.lane.subscribers.fetch_sub(1, Relaxed);
        }
    }
}
