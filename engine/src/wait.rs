//! Waiting primitives that serve an `.await` and a blocking wait alike, so
//! that every runtime binding (async or not) shares the same handles.

use crate::sync::{Event, EventListener, Mutex};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Something that happens, any number of times, that tasks or threads wait
/// for: listen first, re-check the condition, then wait on the listener.
#[derive(Debug, Default)]
pub(crate) struct Signal(Event);

impl Signal {
    pub(crate) fn new() -> Self {
        Signal(Event::new())
    }

    /// A listener for the next notification. Create it *before* re-checking
    /// the condition waited for, so a notification in between is not lost.
    pub(crate) fn listen(&self) -> EventListener {
        self.0.listen()
    }

    /// Wakes every current listener.
    pub(crate) fn notify_all(&self) {
        self.0.notify(usize::MAX);
    }

    /// Ready with `check`'s value once it gives one; otherwise registers `cx`
    /// to be woken by the next notification, through `listener` (kept by
    /// the caller between polls).
    pub(crate) fn poll_until<T>(
        &self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
        mut check: impl FnMut() -> Option<T>,
    ) -> Poll<T> {
        loop {
            if let Some(value) = check() {
                *listener = None;
                return Poll::Ready(value);
            }
            match listener {
                // Listen, then look again before waiting.
                None => *listener = Some(self.listen()),
                Some(l) => {
                    if Pin::new(l).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *listener = None;
                }
            }
        }
    }
}

/// A value that arrives once (a send's outcome), for one waiter.
#[derive(Debug)]
pub(crate) struct Completion<T> {
    value: Mutex<Option<T>>,
    arrived: Signal,
}

impl<T> Completion<T> {
    pub(crate) fn new() -> Self {
        Completion {
            value: Mutex::new(None),
            arrived: Signal::new(),
        }
    }

    /// Stores the value and wakes the waiter.
    pub(crate) fn complete(&self, value: T) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(value);
        self.arrived.notify_all();
    }

    /// Takes the value, or registers `cx` (through `listener`, kept by the
    /// caller between polls) to be woken when it arrives.
    pub(crate) fn poll_take(
        &self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<T> {
        self.arrived.poll_until(listener, cx, || {
            self.value.lock().unwrap_or_else(|e| e.into_inner()).take()
        })
    }
}
