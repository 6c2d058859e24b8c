//! Frames for [`Session::recv`](crate::Session::recv): an unbounded channel
//! gated by a count. Reading pauses while `recv_buffer` frames wait, but a
//! frame already read is never dropped: frames read together with the end of
//! stream still reach `recv` after the session has closed.

use crate::sync::EventListener;
use crate::wait::Signal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// How many frames wait, against the limit; shared by both ends.
struct Gate {
    /// Frames handed to the channel and not yet taken by `recv`. Raised
    /// before a frame is sent and lowered after it is taken, so it never
    /// undercounts.
    queued: AtomicUsize,
    limit: usize,
    /// Signalled when `queued` drops below `limit`.
    room: Signal,
}

impl Gate {
    fn is_full(&self) -> bool {
        self.queued.load(Ordering::Acquire) >= self.limit
    }
}

/// The receiving end, kept in the session's shared state.
pub(crate) struct RecvQueue<T> {
    rx: async_channel::Receiver<T>,
    gate: Arc<Gate>,
}

/// The delivering end, owned by the connection's owner.
pub(crate) struct RecvSink<T> {
    tx: async_channel::Sender<T>,
    gate: Arc<Gate>,
    /// Kept between polls while the gate is full.
    waiting: Option<EventListener>,
}

/// A queue that asks the connection to stop reading at `limit` frames.
pub(crate) fn recv_queue<T>(limit: usize) -> (RecvSink<T>, RecvQueue<T>) {
    let (tx, rx) = async_channel::unbounded();
    let gate = Arc::new(Gate {
        queued: AtomicUsize::new(0),
        limit: limit.max(1),
        room: Signal::new(),
    });
    (
        RecvSink {
            tx,
            gate: gate.clone(),
            waiting: None,
        },
        RecvQueue { rx, gate },
    )
}

impl<T> RecvQueue<T> {
    /// The next frame; `None` once the owner has ended and every frame was
    /// taken.
    pub(crate) async fn recv(&self) -> Option<T> {
        let frame = self.rx.recv().await.ok()?;
        // Crossing from `limit` to below it: the reader may resume.
        if self.gate.queued.fetch_sub(1, Ordering::AcqRel) == self.gate.limit {
            self.gate.room.notify_all();
        }
        Some(frame)
    }
}

impl<T> RecvSink<T> {
    /// Hands a frame to `recv`; `false` once the queue is at its limit (the
    /// connection should stop reading until [`poll_room`](Self::poll_room)).
    pub(crate) fn deliver(&mut self, frame: T) -> bool {
        let before = self.gate.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.try_send(frame).is_err() {
            // Nobody can receive any more: the frame is dropped.
            self.gate.queued.fetch_sub(1, Ordering::AcqRel);
            return true;
        }
        before + 1 < self.gate.limit
    }

    /// Ready once the queue is below its limit again.
    pub(crate) fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let gate = &self.gate;
        gate.room
            .poll_until(&mut self.waiting, cx, || (!gate.is_full()).then_some(()))
    }

    /// No more frames come; those sent stay readable and `recv` ends after
    /// them.
    pub(crate) fn close(&self) {
        self.tx.close();
    }
}
