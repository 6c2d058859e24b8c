//! The synchronisation primitives the engine shares between handles and
//! owners, in one place so that loom can model them.
//!
//! In a normal build these are the real types, re-exported: std's locks and
//! atomics, `event-listener`'s `Event`, `atomic-waker`'s `AtomicWaker`, at
//! no cost. Built with `--cfg castnet_loom` they become loom's, and the two
//! crates loom cannot see into are replaced by small stand-ins that keep
//! their contract (`event-listener`: a listener made before a notification
//! is woken by it; `atomic-waker`: the last waker registered before a wake
//! is woken). The loom models (`loom_models`) then run the engine's own code
//! paths over them. `Arc` stays std's everywhere: it is only shared
//! ownership, and what it shares is modelled.
//!
//! A blocking wait (`EventListener::wait`, for castnet-std) belongs in the
//! stand-in too, as `loom::future::block_on` over the listener, once the
//! engine uses one.
//!
//! Only what a model reaches goes through here; anything else keeps std's
//! types (stats counters, broadcast lanes, whose locks are never held across
//! a wait or a wake).

#[cfg(not(castnet_loom))]
pub(crate) use atomic_waker::AtomicWaker;
#[cfg(not(castnet_loom))]
pub(crate) use event_listener::{Event, EventListener};
#[cfg(not(castnet_loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(not(castnet_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(castnet_loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize};
#[cfg(castnet_loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(castnet_loom)]
pub(crate) use stand_in::{AtomicWaker, Event, EventListener};

/// loom-visible stand-ins for `event-listener` and `atomic-waker`.
#[cfg(castnet_loom)]
mod stand_in {
    use loom::sync::{Arc, Mutex};
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, Waker};

    /// `atomic_waker::AtomicWaker`'s interface over loom's.
    #[derive(Debug, Default)]
    pub(crate) struct AtomicWaker(loom::future::AtomicWaker);

    impl AtomicWaker {
        pub(crate) fn new() -> Self {
            AtomicWaker(loom::future::AtomicWaker::new())
        }

        pub(crate) fn register(&self, waker: &Waker) {
            self.0.register_by_ref(waker);
        }

        pub(crate) fn wake(&self) {
            self.0.wake();
        }
    }

    #[derive(Debug, Default)]
    struct Listeners {
        next_id: u64,
        /// Current listeners: id, notified, the waker of the last poll.
        entries: Vec<(u64, bool, Option<Waker>)>,
    }

    /// `event_listener::Event`'s contract: `notify(n)` makes sure at least
    /// `n` of the current listeners are notified (all of them for
    /// `usize::MAX`), and a listener made later is not.
    #[derive(Debug, Default)]
    pub(crate) struct Event(Arc<Mutex<Listeners>>);

    impl Event {
        pub(crate) fn new() -> Self {
            Event::default()
        }

        pub(crate) fn listen(&self) -> EventListener {
            let mut list = self.0.lock().unwrap();
            let id = list.next_id;
            list.next_id += 1;
            list.entries.push((id, false, None));
            EventListener {
                list: self.0.clone(),
                id,
                done: false,
            }
        }

        /// Returns how many listeners this call notified.
        pub(crate) fn notify(&self, n: usize) -> usize {
            let (mut woken, mut count) = (Vec::new(), 0);
            {
                let mut list = self.0.lock().unwrap();
                let already = list.entries.iter().filter(|e| e.1).count();
                let wanted = n.saturating_sub(already);
                for entry in list.entries.iter_mut().filter(|e| !e.1).take(wanted) {
                    entry.1 = true;
                    count += 1;
                    woken.extend(entry.2.take());
                }
            }
            // Woken with the lock released, as event-listener does.
            woken.into_iter().for_each(Waker::wake);
            count
        }
    }

    /// One listener of an [`Event`]: a future ready once notified.
    #[derive(Debug)]
    pub(crate) struct EventListener {
        list: Arc<Mutex<Listeners>>,
        id: u64,
        done: bool,
    }

    impl Future for EventListener {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.done {
                return Poll::Ready(());
            }
            let id = self.id;
            let mut list = self.list.lock().unwrap();
            let at = list
                .entries
                .iter()
                .position(|e| e.0 == id)
                .expect("a listener stays listed until it is done");
            if list.entries[at].1 {
                list.entries.remove(at);
                drop(list);
                self.done = true;
                Poll::Ready(())
            } else {
                list.entries[at].2 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    impl Drop for EventListener {
        /// A listener dropped once notified passes its notification on to
        /// the next one, as event-listener's does.
        fn drop(&mut self) {
            if self.done {
                return;
            }
            let id = self.id;
            let mut list = self.list.lock().unwrap();
            let Some(at) = list.entries.iter().position(|e| e.0 == id) else {
                return;
            };
            let (_, notified, _) = list.entries.remove(at);
            let next = list.entries.iter_mut().find(|e| !e.1).filter(|_| notified);
            let waker = next.and_then(|e| {
                e.1 = true;
                e.2.take()
            });
            drop(list);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}
