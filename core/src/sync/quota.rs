//! [`SendQuota`]: lock-free admission to one session's bounded send queue.

use super::{fence, AtomicU64, AtomicUsize, Ordering};

/// Frames are counted in the high bits of the packed counter, bytes in the low.
const BYTE_BITS: u32 = 40;
const BYTE_MASK: u64 = (1 << BYTE_BITS) - 1;
/// Largest frame count the packed counter holds (2^24 − 1).
pub const MAX_QUEUE_FRAMES: u64 = (1 << (64 - BYTE_BITS)) - 1;
/// Largest byte count the packed counter holds (1 TiB − 1).
pub const MAX_QUEUE_BYTES: u64 = BYTE_MASK;

/// The bound of a send queue, in bytes and in frames.
///
/// The rule, shared by [`Session`](crate::session) and [`SendQuota`]: a new
/// frame is admitted while the queue holds *fewer* than `max_bytes` bytes and
/// fewer than `max_frames` frames, whatever the new frame's own size. So a
/// frame larger than `max_bytes` is admitted into an empty queue (a max-size
/// frame can always be sent), and memory stays bounded by `max_bytes` plus one
/// frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueBound {
    /// Bytes queued at or above which new frames are refused.
    pub max_bytes: u64,
    /// Frames queued at or above which new frames are refused.
    pub max_frames: u64,
}

impl QueueBound {
    /// True when a queue holding `bytes` bytes in `frames` frames admits one
    /// more frame.
    #[inline]
    pub fn admits(&self, bytes: u64, frames: u64) -> bool {
        bytes < self.max_bytes && frames < self.max_frames
    }
}

/// A send queue is full: the frame was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("send queue full")]
pub struct QuotaFull;

/// Lock-free admission to a session's send queue, shared between the task or
/// thread that owns the session and every handle that sends through it.
///
/// A handle calls [`try_acquire`](Self::try_acquire) before it passes a frame
/// to the owner, so `try_send` can refuse at once and hand the message back;
/// the owner calls [`release`](Self::release) with the same length when the
/// frame's outcome is known (sent, failed or refused). The bound is the
/// [`QueueBound`] rule, applied to frames admitted but not yet finished.
///
/// ```
/// use castnet_core::sync::{QueueBound, SendQuota};
///
/// let quota = SendQuota::new(QueueBound { max_bytes: 100, max_frames: 8 });
/// quota.try_acquire(150).unwrap();          // an empty queue takes any frame
/// assert!(quota.try_acquire(1).is_err());   // now at 150 >= 100 bytes: full
/// quota.release(150);
/// assert!(quota.try_acquire(1).is_ok());
/// ```
#[derive(Debug)]
pub struct SendQuota {
    used: AtomicU64,
    bound: QueueBound,
    /// Senders waiting for room (see [`SendQuota::announce_waiter`]).
    waiters: AtomicUsize,
}

impl SendQuota {
    /// A quota with this bound. Bounds above [`MAX_QUEUE_BYTES`] /
    /// [`MAX_QUEUE_FRAMES`] are clamped to them.
    pub fn new(bound: QueueBound) -> Self {
        SendQuota {
            used: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            bound: QueueBound {
                max_bytes: bound.max_bytes.min(MAX_QUEUE_BYTES),
                max_frames: bound.max_frames.min(MAX_QUEUE_FRAMES),
            },
        }
    }

    /// The bound in force.
    pub fn bound(&self) -> QueueBound {
        self.bound
    }

    /// Admits one frame of `len` bytes, or refuses with [`QuotaFull`].
    pub fn try_acquire(&self, len: usize) -> Result<(), QuotaFull> {
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let (bytes, frames) = unpack(cur);
            if !self.bound.admits(bytes, frames) {
                return Err(QuotaFull);
            }
            // bytes < max_bytes <= BYTE_MASK and len <= BYTE_MASK: the sum
            // fits in 41 bits; saturate it to the 40-bit field.
            let new_bytes = (bytes + clamp_len(len)).min(BYTE_MASK);
            let new = ((frames + 1) << BYTE_BITS) | new_bytes;
            match self
                .used
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Adds `len` bytes to a frame admitted with `try_acquire(0)`.
    ///
    /// The admission rule does not depend on the new frame's size, so a
    /// sender can be admitted *before* it encodes (and hand its message back
    /// intact when refused), then charge the encoded length. Between the two
    /// calls other senders see the queue without those bytes, so the bound can
    /// be overshot by at most one frame per concurrent sender.
    pub fn charge(&self, len: usize) {
        self.add(len, 0);
    }

    /// True when the queue, with `bytes` bytes in `frames` frames added to
    /// what is in use, admits one more frame: a plain load, no update.
    ///
    /// For a sender that admits a batch one frame at a time and charges it
    /// in one step afterwards with [`charge_many`](Self::charge_many), such
    /// as a session's owner taking the sends its own callback makes. Other
    /// senders do not see the batch until it is charged, so the bound can be
    /// overshot by up to that batch; use it only where another check (the
    /// session's own queue bound) refuses whatever goes beyond.
    ///
    /// ```
    /// use castnet_core::sync::{QueueBound, SendQuota};
    ///
    /// let quota = SendQuota::new(QueueBound { max_bytes: 100, max_frames: 2 });
    /// assert!(quota.admits_with(0, 1));
    /// assert!(!quota.admits_with(10, 2), "the batch holds the last frame");
    /// quota.charge_many(10, 2);
    /// assert!(quota.is_full());
    /// ```
    pub fn admits_with(&self, bytes: u64, frames: u64) -> bool {
        let (b, f) = unpack(self.used.load(Ordering::Acquire));
        self.bound
            .admits(b.saturating_add(bytes), f.saturating_add(frames))
    }

    /// Charges `frames` frames totalling `bytes` bytes that were admitted
    /// with [`admits_with`](Self::admits_with): one atomic update for the
    /// batch. Release them as any other frames.
    pub fn charge_many(&self, bytes: usize, frames: usize) {
        if frames > 0 {
            self.add(bytes, frames as u64);
        }
    }

    /// Adds without an admission check, each field saturating.
    fn add(&self, bytes: usize, frames: u64) {
        let add = clamp_len(bytes);
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let (b, f) = unpack(cur);
            let new_frames = f.saturating_add(frames).min(MAX_QUEUE_FRAMES);
            let new = (new_frames << BYTE_BITS) | (b + add).min(BYTE_MASK);
            match self
                .used
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Returns the quota of one frame of `len` bytes admitted earlier.
    /// Returns true when a sender waits for room and must be woken.
    pub fn release(&self, len: usize) -> bool {
        self.release_many(len, 1)
    }

    /// Returns the quota of `frames` frames totalling `bytes` bytes, admitted
    /// earlier: one atomic update for a whole batch of outcomes. Returns true
    /// when a sender waits for room and must be woken.
    pub fn release_many(&self, bytes: usize, frames: usize) -> bool {
        let (sub_bytes, sub_frames) = (clamp_len(bytes), frames as u64);
        let mut cur = self.used.load(Ordering::Relaxed);
        loop {
            let (b, f) = unpack(cur);
            debug_assert!(
                f >= sub_frames,
                "SendQuota released more frames than acquired"
            );
            let new = (f.saturating_sub(sub_frames) << BYTE_BITS) | b.saturating_sub(sub_bytes);
            match self
                .used
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        // Pairs with the fence in `announce_waiter`: either that sender's
        // re-check sees the room freed above, or this load sees the sender.
        fence(Ordering::SeqCst);
        self.waiters.load(Ordering::Relaxed) > 0
    }

    /// A sender that found the queue full and is about to wait announces
    /// itself, then must re-check [`is_full`](Self::is_full) before it
    /// sleeps: room freed before the announcement is seen by that re-check,
    /// room freed after it makes [`release_many`](Self::release_many) return
    /// true, so the releaser wakes it. Either way no wake-up is lost. Pair
    /// every call with [`withdraw_waiter`](Self::withdraw_waiter).
    ///
    /// The point of the count: the owner only wakes waiters when there are
    /// any, which for a runtime's notifier can cost a lock per call.
    pub fn announce_waiter(&self) {
        self.waiters.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
    }

    /// Ends a wait begun with [`announce_waiter`](Self::announce_waiter).
    pub fn withdraw_waiter(&self) {
        self.waiters.fetch_sub(1, Ordering::Relaxed);
    }

    /// Bytes and frames admitted and not yet released.
    pub fn in_use(&self) -> (u64, u64) {
        unpack(self.used.load(Ordering::Acquire))
    }

    /// True when the next frame would be refused.
    pub fn is_full(&self) -> bool {
        let (bytes, frames) = self.in_use();
        !self.bound.admits(bytes, frames)
    }
}

#[inline]
fn clamp_len(len: usize) -> u64 {
    (len as u64).min(BYTE_MASK)
}

#[inline]
fn unpack(v: u64) -> (u64, u64) {
    (v & BYTE_MASK, v >> BYTE_BITS)
}

#[cfg(all(test, not(castnet_loom)))]
mod tests {
    use super::*;

    fn quota(max_bytes: u64, max_frames: u64) -> SendQuota {
        SendQuota::new(QueueBound {
            max_bytes,
            max_frames,
        })
    }

    #[test]
    fn frame_larger_than_the_byte_bound_is_admitted_into_an_empty_queue() {
        let q = quota(10, 4);
        q.try_acquire(1_000).unwrap();
        assert_eq!(q.in_use(), (1_000, 1));
        assert_eq!(q.try_acquire(0), Err(QuotaFull));
    }

    #[test]
    fn frame_bound_refuses_the_frame_after_max_frames() {
        let q = quota(1 << 20, 3);
        for _ in 0..3 {
            q.try_acquire(0).unwrap();
        }
        assert_eq!(q.try_acquire(0), Err(QuotaFull));
        q.release(0);
        assert!(q.try_acquire(0).is_ok());
    }

    #[test]
    fn release_returns_exactly_what_was_acquired() {
        let q = quota(100, 100);
        q.try_acquire(30).unwrap();
        q.try_acquire(40).unwrap();
        q.release(30);
        assert_eq!(q.in_use(), (40, 1));
        q.release(40);
        assert_eq!(q.in_use(), (0, 0));
    }

    #[test]
    fn release_many_returns_a_batch_in_one_step() {
        let q = quota(1_000, 10);
        for len in [10, 20, 30] {
            q.try_acquire(len).unwrap();
        }
        q.release_many(50, 2);
        assert_eq!(q.in_use(), (10, 1));
        q.release_many(10, 1);
        assert_eq!(q.in_use(), (0, 0));
    }

    #[test]
    fn admit_then_charge_counts_like_a_single_acquire() {
        let q = quota(100, 10);
        q.try_acquire(0).unwrap();
        q.charge(120);
        assert_eq!(q.in_use(), (120, 1));
        assert!(q.is_full());
        q.release(120);
        assert_eq!(q.in_use(), (0, 0));
    }

    #[test]
    fn huge_lengths_saturate_instead_of_overflowing_into_the_frame_count() {
        let q = quota(MAX_QUEUE_BYTES, 10);
        q.try_acquire(usize::MAX).unwrap();
        assert_eq!(q.in_use(), (MAX_QUEUE_BYTES, 1));
        assert!(q.is_full());
        q.release(usize::MAX);
        assert_eq!(q.in_use(), (0, 0));
    }
}

#[cfg(all(test, castnet_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;

    /// A sender finds the queue full and waits while the owner frees room:
    /// whatever the interleaving, the sender either sees the room on its
    /// re-check or is told to wake. A lost wake-up would leave a `send`
    /// waiting forever on a queue with room.
    #[test]
    fn loom_a_waiting_sender_never_misses_freed_room() {
        loom::model(|| {
            let q = Arc::new(SendQuota::new(QueueBound {
                max_bytes: 1 << 20,
                max_frames: 1,
            }));
            q.try_acquire(10).unwrap();
            let woken = Arc::new(AtomicBool::new(false));
            let owner = {
                let (q, woken) = (q.clone(), woken.clone());
                thread::spawn(move || {
                    if q.release(10) {
                        woken.store(true, Ordering::SeqCst);
                    }
                })
            };
            // The sender: refused, announces itself, re-checks.
            let saw_room = if q.try_acquire(5).is_ok() {
                true
            } else {
                q.announce_waiter();
                let room = !q.is_full();
                if room {
                    q.withdraw_waiter();
                }
                room
            };
            owner.join().unwrap();
            assert!(
                saw_room || woken.load(Ordering::SeqCst),
                "the sender sleeps on a queue with room and nobody wakes it"
            );
        });
    }

    /// Two handles race for the last slot while the owner releases one: the
    /// bound is never exceeded and the counters end consistent.
    #[test]
    fn loom_quota_never_admits_past_the_bound() {
        loom::model(|| {
            let q = Arc::new(SendQuota::new(QueueBound {
                max_bytes: 1 << 20,
                max_frames: 2,
            }));
            q.try_acquire(10).unwrap();
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || {
                        let ok = q.try_acquire(10).is_ok();
                        // Whatever the interleaving, the bound holds.
                        assert!(q.in_use().1 <= 2, "admitted past the frame bound");
                        ok
                    })
                })
                .collect();
            let owner = {
                let q = q.clone();
                thread::spawn(move || q.release(10))
            };
            let admitted = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|ok| *ok)
                .count() as u64;
            owner.join().unwrap();
            assert!(admitted >= 1, "the first racer always finds a free slot");
            assert_eq!(q.in_use(), (10 * admitted, admitted));
        });
    }
}
