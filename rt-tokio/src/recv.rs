//! Frames for [`Session::recv`](crate::Session::recv): an unbounded channel
//! gated by a count. Reading pauses while `recv_buffer` frames wait, but a
//! frame already read is never dropped: frames read together with the end of
//! stream still reach `recv` after the session has closed.

use crate::driver::Sink;
use castnet_core::session::CloseReason;
use castnet_core::Decoder;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Mutex, Notify};

/// How many frames wait, against the limit; shared by both ends.
struct Gate {
    /// Frames handed to the channel and not yet taken by `recv`. Raised
    /// before a frame is sent and lowered after it is taken, so it never
    /// undercounts.
    queued: AtomicUsize,
    limit: usize,
    /// Signalled when `queued` drops below `limit`.
    room: Notify,
}

/// The receiving end, kept in the session's shared state.
pub(crate) struct RecvQueue<T> {
    rx: Mutex<mpsc::UnboundedReceiver<T>>,
    gate: Arc<Gate>,
}

/// The delivering end, owned by the connection task.
pub(crate) struct RecvSink<T> {
    tx: mpsc::UnboundedSender<T>,
    gate: Arc<Gate>,
}

/// A queue that asks the connection to stop reading at `limit` frames.
pub(crate) fn recv_queue<T>(limit: usize) -> (RecvSink<T>, RecvQueue<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let gate = Arc::new(Gate {
        queued: AtomicUsize::new(0),
        limit: limit.max(1),
        room: Notify::new(),
    });
    (
        RecvSink {
            tx,
            gate: gate.clone(),
        },
        RecvQueue {
            rx: Mutex::new(rx),
            gate,
        },
    )
}

impl<T> RecvQueue<T> {
    /// The next frame; `None` once the connection task has ended and every
    /// frame was taken.
    pub(crate) async fn recv(&self) -> Option<T> {
        let frame = self.rx.lock().await.recv().await?;
        // Crossing from `limit` to below it: the reader may resume. A permit
        // is stored if the task is not waiting yet, so no wake-up is lost.
        if self.gate.queued.fetch_sub(1, Ordering::AcqRel) == self.gate.limit {
            self.gate.room.notify_one();
        }
        Some(frame)
    }
}

impl<C> Sink<C> for RecvSink<C::Item>
where
    C: Decoder,
    C::Item: Send,
{
    fn frame(&mut self, frame: C::Item) -> bool {
        let before = self.gate.queued.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(frame).is_err() {
            // Nobody can receive any more: the frame is dropped.
            self.gate.queued.fetch_sub(1, Ordering::AcqRel);
            return true;
        }
        before + 1 < self.gate.limit
    }

    async fn ready(&mut self) {
        while self.gate.queued.load(Ordering::Acquire) >= self.gate.limit {
            self.gate.room.notified().await;
        }
    }

    fn closed(&mut self, _reason: &CloseReason) {}
}
