//! [`Handoff`]: for a runtime that runs its own event loop (castnet-std's),
//! the hand-off between threads that make work runnable (handles, other
//! loops, timers) and the loop thread that runs it: no lost wake-up when a
//! push races the loop going to sleep. Model-checked with loom
//! (`--cfg castnet_loom`).

use crate::sync::{AtomicBool, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

/// A loop's runnable queue and whether the loop is (about to be) asleep in
/// its poller.
///
/// The protocol: the loop calls [`may_sleep`](Self::may_sleep) before it
/// blocks, and sleeps only if it says so; a pusher wakes the poller when
/// [`push`](Self::push) says so. `may_sleep` raises `sleeping` and then
/// looks at the queue; `push` queues and then looks at `sleeping`. Both
/// looks are ordered with the other side's write (`SeqCst`, and the queue's
/// lock), so a push the loop's look missed sees `sleeping` and wakes it.
pub struct Handoff<T> {
    queue: Mutex<VecDeque<T>>,
    sleeping: AtomicBool,
}

impl<T> Default for Handoff<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Handoff<T> {
    /// An empty queue; the loop is awake.
    pub fn new() -> Self {
        Handoff {
            queue: Mutex::new(VecDeque::new()),
            sleeping: AtomicBool::new(false),
        }
    }

    /// The queue, locked: the loop takes its batch here.
    pub fn queue(&self) -> MutexGuard<'_, VecDeque<T>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item`; `true` when the loop may be asleep and must be woken.
    pub fn push(&self, item: T) -> bool {
        self.queue().push_back(item);
        self.sleeping.load(Ordering::SeqCst)
    }

    /// Whether a deadline registered now must wake the loop (it may sleep
    /// past it otherwise).
    pub fn is_sleeping(&self) -> bool {
        self.sleeping.load(Ordering::SeqCst)
    }

    /// The loop is about to block: `true` if it may (nothing is queued);
    /// from now on pushes ask for a wake-up.
    pub fn may_sleep(&self) -> bool {
        self.sleeping.store(true, Ordering::SeqCst);
        self.queue().is_empty()
    }

    /// The loop is back from its poller.
    pub fn awake(&self) {
        self.sleeping.store(false, Ordering::SeqCst);
    }
}

#[cfg(all(test, castnet_loom))]
mod loom_models {
    use super::Handoff;
    use loom::sync::atomic::{AtomicBool, Ordering};
    use loom::sync::Arc;

    /// A push racing the loop going to sleep: if the loop decides to sleep,
    /// the pusher was told to wake it, so the item is never stranded.
    ///
    /// Broken once, locally, to show the models catch it: with `may_sleep`
    /// looking at the queue *before* raising `sleeping`, loom found the
    /// interleaving (look: empty; push; load: not sleeping; store) and both
    /// models failed ("the loop sleeps with an item queued and nobody wakes
    /// it", "an item was lost or taken twice").
    #[test]
    fn loom_a_push_racing_the_loop_going_to_sleep_is_never_stranded() {
        loom::model(|| {
            let handoff = Arc::new(Handoff::new());
            let woken = Arc::new(AtomicBool::new(false));
            let pusher = {
                let (handoff, woken) = (handoff.clone(), woken.clone());
                loom::thread::spawn(move || {
                    if handoff.push(1u8) {
                        woken.store(true, Ordering::SeqCst);
                    }
                })
            };
            let sleeps = handoff.may_sleep();
            pusher.join().unwrap();
            if sleeps {
                assert!(
                    woken.load(Ordering::SeqCst),
                    "the loop sleeps with an item queued and nobody wakes it"
                );
            } else {
                assert_eq!(handoff.queue().len(), 1);
            }
            handoff.awake();
        });
    }

    /// Two pushers and a loop that drains, sleeps if it may, and drains
    /// again once woken: every item is run exactly once.
    #[test]
    fn loom_every_pushed_item_is_taken_once() {
        loom::model(|| {
            let handoff = Arc::new(Handoff::new());
            let woken = Arc::new(AtomicBool::new(false));
            let pushers: Vec<_> = (0..2u8)
                .map(|i| {
                    let (handoff, woken) = (handoff.clone(), woken.clone());
                    loom::thread::spawn(move || {
                        if handoff.push(i) {
                            woken.store(true, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            let mut taken: Vec<u8> = handoff.queue().drain(..).collect();
            let slept = handoff.may_sleep();
            for p in pushers {
                p.join().unwrap();
            }
            // A sleeping loop runs again only if woken.
            if !slept || woken.load(Ordering::SeqCst) {
                handoff.awake();
                taken.extend(handoff.queue().drain(..));
            }
            taken.sort_unstable();
            assert_eq!(taken, [0, 1], "an item was lost or taken twice");
        });
    }
}
