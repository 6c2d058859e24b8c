//! The [`Session`] handle: cheap to clone, usable from any task, talking to
//! the one task that owns the connection's core session.

use bytes::Bytes;
use castnet_core::frame::{EncodedFrame, Encoder, FrameError};
use castnet_core::hub::PeerAddr;
use castnet_core::hub::{BroadcastRecord, DeliveryTicket};
use castnet_core::session::{PackedFrames, SendFailure, SendOutcome};
use castnet_core::sync::SendQuota;
use castnet_core::{Decoder, SessionId};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// What a handle asks the connection's owner task to do.
///
/// Kept small (the size of an `EncodedFrame` and a tag): every send moves
/// one through the inbox, so the rare, larger requests are boxed.
pub(crate) enum Command {
    /// Queue one frame whose outcome somebody waits for.
    Send(Box<TrackedSend>),
    /// Queue one frame nobody waits on, with the default send timeout: no
    /// outcome is reported unless the sink asks for every send's. Its quota
    /// was acquired and charged with `frame.len()`.
    Quiet(EncodedFrame),
    /// Small frames nobody waits on, sent in a row by the session's own
    /// handler and copied together as they were sent: queued in one call.
    /// Their quota is charged.
    Packed(PackedFrames),
    SetHeartbeat(Box<Option<(Duration, EncodedFrame)>>),
    /// Follow a channel's broadcast lane (the session joined it).
    Follow(crate::lane::Subscription),
    /// Stop following this lane after the frames published before `u64`
    /// (the session left the channel).
    Unfollow(Arc<crate::lane::Lane>, u64),
    Close,
    Abort,
}

/// Whether an admitted send is charged to the quota yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charged {
    Yes,
    /// Admitted by the session's own callback: the owner charges it with the
    /// rest of the callback's sends.
    No,
}

/// A send with a waiter or its own timeout. Its quota was acquired and
/// charged with `frame.len()`.
pub(crate) struct TrackedSend {
    pub(crate) frame: EncodedFrame,
    pub(crate) timeout: Option<Duration>,
    pub(crate) done: Done,
}

thread_local! {
    /// Set while a connection's owner task hands events to its user, on the
    /// thread running it: sends to *that* session from its own handler go
    /// straight into this batch (no channel, no wake-up), and the owner
    /// applies them as soon as the handler returns.
    static LOCAL: std::cell::RefCell<Option<Local>> = const { std::cell::RefCell::new(None) };
}

/// The sends a session's own callbacks made during one delivery.
struct Local {
    id: SessionId,
    cmds: Vec<Command>,
    /// Whether small untracked sends are packed as they come (the owner
    /// reports no outcome for them).
    pack: bool,
    /// Small untracked sends made since the last other command, copied
    /// together: they go after everything in `cmds`.
    packed: PackedFrames,
    /// Sends admitted with [`SendQuota::admits_with`] against the quota plus
    /// this batch, and not charged yet: the owner charges them in one step
    /// when the callback returns, instead of two atomic updates per send.
    /// The core's own queue bound refuses whatever the batch overshoots.
    uncharged_bytes: usize,
    uncharged_frames: usize,
}

impl Local {
    /// Adds a send (or another command) after the others.
    fn push(&mut self, cmd: Command) {
        match cmd {
            Command::Quiet(frame) if self.pack => {
                if self.packed.push(&frame) {
                    return;
                }
                // The batch is full, or the frame is too large to copy.
                self.flush();
                if !self.packed.push(&frame) {
                    self.cmds.push(Command::Quiet(frame));
                }
            }
            cmd => {
                self.flush();
                self.cmds.push(cmd);
            }
        }
    }

    /// Whether `quota` has room for one more send beside this batch's
    /// uncharged ones.
    fn admits(&self, quota: &SendQuota) -> bool {
        quota.admits_with(self.uncharged_bytes as u64, self.uncharged_frames as u64)
    }

    /// Counts one send of `bytes` admitted by [`admits`](Self::admits), to be
    /// charged when the callback returns.
    fn defer_charge(&mut self, bytes: usize) {
        self.uncharged_bytes += bytes;
        self.uncharged_frames += 1;
    }

    /// Ends the current packed batch, keeping it in order with the rest.
    fn flush(&mut self) {
        if !self.packed.is_empty() {
            let packed = std::mem::take(&mut self.packed);
            self.cmds.push(Command::Packed(packed));
        }
    }
}

/// The owner task's side of [`LOCAL`]: entered around event delivery, and
/// cleared on drop even if a handler panics.
pub(crate) struct LocalBatch {
    active: bool,
}

impl LocalBatch {
    /// Starts collecting sends addressed to `id` from this thread, reusing
    /// `buf`'s allocation.
    ///
    /// `packed`: an empty batch (from `Session::packed_batch`) into which
    /// small untracked sends are copied as they are made (see
    /// [`Command::Packed`]); `None` when every send is tracked.
    pub(crate) fn enter(id: SessionId, buf: Vec<Command>, packed: Option<PackedFrames>) -> Self {
        let local = Local {
            id,
            cmds: buf,
            pack: packed.is_some(),
            packed: packed.unwrap_or_default(),
            uncharged_bytes: 0,
            uncharged_frames: 0,
        };
        LOCAL.with(|l| *l.borrow_mut() = Some(local));
        LocalBatch { active: true }
    }

    /// Stops collecting, charges `quota` with the sends admitted against it
    /// meanwhile, and returns them (in order) to be applied, then the
    /// batch handed to `enter` if nothing was packed into it (to give its
    /// memory back).
    pub(crate) fn exit(mut self, quota: &SendQuota) -> (Vec<Command>, Option<PackedFrames>) {
        self.active = false;
        let Some(mut local) = LOCAL.with(|l| l.borrow_mut().take()) else {
            return (Vec::new(), None);
        };
        quota.charge_many(local.uncharged_bytes, local.uncharged_frames);
        local.flush();
        let unused = (local.packed.capacity() > 0).then_some(local.packed);
        (local.cmds, unused)
    }
}

impl Drop for LocalBatch {
    fn drop(&mut self) {
        if self.active {
            LOCAL.with(|l| l.borrow_mut().take());
        }
    }
}

/// Where a send's outcome goes. Dropped without an outcome (the connection
/// task torn down by a panicking callback or a runtime shutting down), it
/// reports `Closed`: every admitted send ends exactly once, whatever happens.
pub(crate) struct Done(Option<Waiter>);

enum Waiter {
    /// An `async_send`'s [`SendWork`].
    Work(oneshot::Sender<SendOutcome>),
    /// One recipient's slot of a broadcast.
    Broadcast(Arc<BroadcastShared>, DeliveryTicket),
}

impl Done {
    /// Nobody waits for it (`send`, `try_send`); it is still counted.
    pub(crate) const NOBODY: Done = Done(None);

    /// True when somebody waits for the outcome.
    pub(crate) fn is_awaited(&self) -> bool {
        self.0.is_some()
    }

    pub(crate) fn complete(mut self, outcome: SendOutcome) {
        self.report(outcome);
    }

    fn report(&mut self, outcome: SendOutcome) {
        match self.0.take() {
            None => {}
            Some(Waiter::Work(tx)) => {
                let _ = tx.send(outcome);
            }
            Some(Waiter::Broadcast(shared, ticket)) => shared.record(ticket, outcome),
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        self.report(SendOutcome::Failed(SendFailure::Closed));
    }
}

/// One broadcast's record, shared by the sender and every recipient's task.
/// Each outcome takes this record's own lock, never the hub's.
pub(crate) struct BroadcastShared {
    pub(crate) record: std::sync::Mutex<BroadcastRecord>,
    pub(crate) complete: Notify,
}

impl BroadcastShared {
    pub(crate) fn new(record: BroadcastRecord) -> Self {
        BroadcastShared {
            record: std::sync::Mutex::new(record),
            complete: Notify::new(),
        }
    }

    pub(crate) fn record(&self, ticket: DeliveryTicket, outcome: SendOutcome) {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        match record.record(ticket, outcome) {
            Ok(0) => self.complete.notify_waiters(),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "broadcast outcome recorded twice"),
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_complete()
    }
}

pub(crate) struct Shared<C: Decoder> {
    pub(crate) id: SessionId,
    pub(crate) peer: PeerAddr,
    pub(crate) codec: C,
    pub(crate) quota: SendQuota,
    /// Signalled when quota is released, so waiting `send`s retry.
    pub(crate) room: Notify,
    /// Set once the session no longer accepts sends.
    pub(crate) closed: AtomicBool,
    /// Signalled when the owner task has finished.
    pub(crate) finished: Notify,
    pub(crate) finished_flag: AtomicBool,
    /// Frames for [`Session::recv`], when the session is not served by a
    /// handler.
    pub(crate) frames: Option<crate::recv::RecvQueue<C::Item>>,
    pub(crate) stats: Arc<crate::stats::StatsCell>,
}

impl<C: Decoder> Shared<C> {
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        // Wake every waiting sender so it observes `Closed`.
        self.room.notify_waiters();
    }

    /// Returns the quota of a batch of finished sends in one step, and wakes
    /// waiting senders if there are any.
    pub(crate) fn release(&self, bytes: usize, frames: usize) {
        if frames > 0 && self.quota.release_many(bytes, frames) {
            self.room.notify_waiters();
        }
    }

    /// Ends admitted sends the core refused or never saw, `frames` of them
    /// and `bytes` long: their room comes back (waking waiting senders).
    /// `Closed` ones are counted here, as the core could not; a full queue
    /// was counted by the core.
    pub(crate) fn end_refused(&self, bytes: usize, frames: usize, why: SendFailure) {
        if why == SendFailure::Closed {
            self.stats
                .handle_failed_closed
                .fetch_add(frames as u64, Ordering::Relaxed);
        }
        self.release(bytes, frames);
    }

    /// Ends, `Closed`, an admitted send that the session closed before the
    /// core queued it (or reported it): its room comes back, then its waiter
    /// learns.
    pub(crate) fn end_unqueued_closed(&self, len: usize, done: Done) {
        self.end_refused(len, 1, SendFailure::Closed);
        done.complete(SendOutcome::Failed(SendFailure::Closed));
    }

    pub(crate) fn mark_finished(&self) {
        self.mark_closed();
        self.finished_flag.store(true, Ordering::Release);
        self.finished.notify_waiters();
    }
}

/// A handle to one connection. Clone it freely; every clone talks to the same
/// connection, from any task or thread.
///
/// Sending never blocks the connection: frames are encoded in the caller's
/// task and handed to the connection's task, which writes everything queued
/// in one vectored write.
pub struct Session<C: Decoder> {
    pub(crate) shared: Arc<Shared<C>>,
    /// Each handle holds a sender: once every handle is gone the inbox
    /// closes, and the connection closes gracefully (a client nobody can
    /// reach any more).
    pub(crate) inbox: mpsc::UnboundedSender<Command>,
}

impl<C: Decoder> Clone for Session<C> {
    fn clone(&self) -> Self {
        Session {
            shared: self.shared.clone(),
            inbox: self.inbox.clone(),
        }
    }
}

impl<C: Decoder> std::fmt::Debug for Session<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.shared.id)
            .field("peer", &self.shared.peer)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A send was refused at once; the message comes back where it can.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrySendError<M> {
    /// The session is closed or closing.
    #[error("session closed")]
    Closed(M),
    /// The send queue is full; try again once there is room (or use `send`).
    #[error("send queue full")]
    QueueFull(M),
    /// The codec refused the message (e.g. over the maximum frame length).
    /// Nothing was queued.
    #[error(transparent)]
    Frame(FrameError),
}

impl<M> TrySendError<M> {
    /// The message, when it was handed back.
    pub fn into_inner(self) -> Option<M> {
        match self {
            TrySendError::Closed(m) | TrySendError::QueueFull(m) => Some(m),
            TrySendError::Frame(_) => None,
        }
    }
}

/// A waiting send failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError<M> {
    /// The session is closed or closing; the message comes back.
    #[error("session closed")]
    Closed(M),
    /// The codec refused the message. Nothing was queued.
    #[error(transparent)]
    Frame(FrameError),
}

impl<C: Decoder> Session<C> {
    /// This session's id, unique in the process.
    pub fn id(&self) -> SessionId {
        self.shared.id
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> &PeerAddr {
        &self.shared.peer
    }

    /// True once the session no longer accepts sends.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Queues `msg` now, or refuses at once: [`TrySendError::QueueFull`] and
    /// [`TrySendError::Closed`] hand the message back.
    pub fn try_send<M>(&self, msg: M) -> Result<(), TrySendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        // From its own session's callback, a small frame is encoded
        // straight into the callback's packed batch.
        let Some(msg) = self.try_pack_own(msg)? else {
            return Ok(());
        };
        let (frame, charged) = self.admit(msg)?;
        self.push_command(Command::Quiet(frame), charged);
        Ok(())
    }

    /// A quiet send from this session's own callback whose encoded length
    /// the codec knows and that fits the callback's packed batch: admitted
    /// against the quota plus the batch (as [`admit`](Self::admit) does) and
    /// encoded straight into the batch, with no [`EncodedFrame`] built.
    /// `Ok(None)` when it was queued so; `Ok(Some(msg))` when it takes the
    /// usual path.
    #[inline]
    fn try_pack_own<M>(&self, msg: M) -> Result<Option<M>, TrySendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        let Some(len) = self.shared.codec.encoded_len(&msg) else {
            return Ok(Some(msg));
        };
        LOCAL.with(|l| {
            // Busy: an encoder that sends while it encodes (its send takes
            // the usual path).
            let Ok(mut slot) = l.try_borrow_mut() else {
                return Ok(Some(msg));
            };
            let Some(local) = slot
                .as_mut()
                .filter(|local| local.id == self.shared.id && local.pack && local.packed.fits(len))
            else {
                return Ok(Some(msg));
            };
            if !local.admits(&self.shared.quota) {
                self.count_queue_full();
                return Err(TrySendError::QueueFull(msg));
            }
            let mut codec = self.shared.codec.clone();
            match local.packed.push_with(|buf| codec.encode_to_vec(msg, buf)) {
                Ok(written) => {
                    local.defer_charge(written);
                    Ok(None)
                }
                Err(e) => Err(TrySendError::Frame(e)),
            }
        })
    }

    /// Queues `msg`, waiting while the send queue is full (backpressure).
    pub async fn send<M>(&self, mut msg: M) -> Result<(), SendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            // Register before checking, so a release between the check and
            // the wait is not missed.
            room.as_mut().enable();
            match self.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(m)) => return Err(SendError::Closed(m)),
                Err(TrySendError::Frame(e)) => return Err(SendError::Frame(e)),
                Err(TrySendError::QueueFull(m)) => msg = m,
            }
            // Announce the wait, then re-check: see `SendQuota::announce_waiter`
            // (the owner signals `room` only when someone waits, since
            // `notify_waiters` takes a lock even when nobody does).
            self.shared.quota.announce_waiter();
            if !self.shared.quota.is_full() || self.is_closed() {
                self.shared.quota.withdraw_waiter();
                continue;
            }
            room.await;
            self.shared.quota.withdraw_waiter();
        }
    }

    /// Queues `msg` and returns a [`SendWork`] that resolves to how the send
    /// ended: `Ok(())` once every byte was handed to the OS, or the failure
    /// (`Closed`, `TimedOut` after the send timeout, or `QueueFull` at once).
    /// go-libnet's `AsyncSend`.
    pub fn async_send<M>(&self, msg: M) -> SendWork
    where
        C: Encoder<M> + Clone,
    {
        self.async_send_timeout(msg, None)
    }

    /// As [`async_send`](Self::async_send) with this send timeout instead of
    /// the session's default.
    pub fn async_send_timeout<M>(&self, msg: M, timeout: Option<Duration>) -> SendWork
    where
        C: Encoder<M> + Clone,
    {
        match self.admit(msg) {
            Ok((frame, charged)) => {
                let (tx, rx) = oneshot::channel();
                let send = TrackedSend {
                    frame,
                    timeout,
                    done: Done(Some(Waiter::Work(tx))),
                };
                self.push_command(Command::Send(Box::new(send)), charged);
                SendWork(WorkState::Waiting(rx))
            }
            Err(TrySendError::Closed(_)) => SendWork::ready(Err(SendFailure::Closed.into())),
            Err(TrySendError::QueueFull(_)) => SendWork::ready(Err(SendFailure::QueueFull.into())),
            Err(TrySendError::Frame(e)) => SendWork::ready(Err(SendWorkError::Frame(e))),
        }
    }

    /// Starts, changes or (with `None`) stops the heartbeat: `payload` is sent
    /// whenever nothing was written for `interval`. After close this does
    /// nothing.
    pub fn set_heartbeat<M>(&self, heartbeat: Option<(Duration, M)>) -> Result<(), FrameError>
    where
        C: Encoder<M> + Clone,
    {
        let encoded = match heartbeat {
            Some((interval, msg)) => Some((interval, self.shared.codec.clone().encode_frame(msg)?)),
            None => None,
        };
        let _ = self.inbox.send(Command::SetHeartbeat(Box::new(encoded)));
        Ok(())
    }

    /// Graceful close: no new sends; what is queued is written (up to the
    /// linger time), then the connection closes.
    pub fn close(&self) {
        self.shared.mark_closed();
        let _ = self.inbox.send(Command::Close);
    }

    /// Immediate close: every pending send fails `Closed`.
    pub fn abort(&self) {
        self.shared.mark_closed();
        let _ = self.inbox.send(Command::Abort);
    }

    /// Waits until the connection's task has finished (after a close, an
    /// abort, an error or the peer leaving).
    pub async fn closed(&self) {
        loop {
            let finished = self.shared.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            if self.shared.finished_flag.load(Ordering::Acquire) {
                return;
            }
            finished.await;
        }
    }

    /// Admission and encoding, shared by every send form. Says how the
    /// quota was taken, for [`push_command`](Self::push_command).
    fn admit<M>(&self, msg: M) -> Result<(EncodedFrame, Charged), TrySendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        // From this session's own callback: admitted against the quota plus
        // what the callback already sent, charged when it returns.
        // (Busy: an encoder sending while it encodes; not the batch's.)
        let own = LOCAL.with(|l| match l.try_borrow().ok().as_deref() {
            Some(Some(local)) if local.id == self.shared.id => {
                Some(local.admits(&self.shared.quota))
            }
            _ => None,
        });
        let charged = match own {
            Some(admitted) => {
                if !admitted {
                    self.count_queue_full();
                    return Err(TrySendError::QueueFull(msg));
                }
                Charged::No
            }
            None => {
                if self.shared.quota.try_acquire(0).is_err() {
                    self.count_queue_full();
                    return Err(TrySendError::QueueFull(msg));
                }
                Charged::Yes
            }
        };
        match self.shared.codec.clone().encode_frame(msg) {
            Ok(frame) => {
                if charged == Charged::Yes {
                    self.shared.quota.charge(frame.len());
                }
                Ok((frame, charged))
            }
            Err(e) => {
                if charged == Charged::Yes {
                    self.shared.release(0, 1);
                }
                Err(TrySendError::Frame(e))
            }
        }
    }

    fn count_queue_full(&self) {
        self.shared
            .stats
            .handle_queue_full
            .fetch_add(1, Ordering::Relaxed);
    }

    fn push(&self, frame: EncodedFrame, timeout: Option<Duration>, done: Done) {
        let send = TrackedSend {
            frame,
            timeout,
            done,
        };
        self.push_command(Command::Send(Box::new(send)), Charged::Yes);
    }

    /// Starts following a channel's lane (from the moment of `lane`'s
    /// subscription, taken by the caller under the hub lock).
    ///
    /// Joins and leaves always go through the inbox, never the owner's
    /// local batch, so the task sees them in the order the hub did.
    pub(crate) fn follow(&self, lane: crate::lane::Subscription) {
        // A task already gone drops the subscription, which leaves the lane.
        let _ = self.inbox.send(Command::Follow(lane));
    }

    /// Stops following `lane` once the frames published before `until` are
    /// taken.
    pub(crate) fn unfollow(&self, lane: Arc<crate::lane::Lane>, until: u64) {
        let _ = self.inbox.send(Command::Unfollow(lane, until));
    }

    /// Hands an admitted send (`Send` or `Quiet`) to the owner task: into
    /// the callback's batch when this session's own callback sent it (a
    /// small quiet one packed there), else through the inbox.
    fn push_command(&self, cmd: Command, charged: Charged) {
        let len = match &cmd {
            Command::Send(send) => send.frame.len(),
            Command::Quiet(frame) => frame.len(),
            _ => 0,
        };
        // From this session's own handler, on its owner's thread: no channel.
        let cmd = LOCAL.with(|l| match l.try_borrow_mut().ok().as_deref_mut() {
            Some(Some(local)) if local.id == self.shared.id => {
                if charged == Charged::No {
                    local.defer_charge(len);
                }
                local.push(cmd);
                None
            }
            _ => Some(cmd),
        });
        let Some(cmd) = cmd else {
            return;
        };
        if charged == Charged::No {
            // Admitted inside a callback that has returned since (not on
            // this path today): charge it as the inbox expects.
            self.shared.quota.charge_many(len, 1);
        }
        // The owner task is gone: this send ends here, as Closed.
        match self.inbox.send(cmd) {
            Err(mpsc::error::SendError(Command::Send(send))) => {
                self.shared.end_unqueued_closed(send.frame.len(), send.done)
            }
            Err(mpsc::error::SendError(Command::Quiet(frame))) => {
                self.shared.end_unqueued_closed(frame.len(), Done::NOBODY)
            }
            _ => {}
        }
    }

    /// Hands one broadcast delivery (the shared encoded frame, not copied)
    /// to this session. A refusal is recorded in the broadcast at once.
    pub(crate) fn deliver(
        &self,
        frame: Bytes,
        shared: Arc<BroadcastShared>,
        ticket: DeliveryTicket,
    ) {
        match self.admit_shared(&frame) {
            Err(why) => shared.record(ticket, SendOutcome::Failed(why)),
            Ok(()) => self.push(
                EncodedFrame::contiguous(frame),
                None,
                Done(Some(Waiter::Broadcast(shared, ticket))),
            ),
        }
    }

    /// Admission of a shared, already-encoded frame.
    fn admit_shared(&self, frame: &Bytes) -> Result<(), SendFailure> {
        if self.is_closed() {
            Err(SendFailure::Closed)
        } else if self.shared.quota.try_acquire(frame.len()).is_err() {
            self.count_queue_full();
            Err(SendFailure::QueueFull)
        } else {
            Ok(())
        }
    }

    /// The next frame from the peer, or `None` once the session has closed
    /// and every frame was taken: frames read before the close (with the
    /// peer's end of stream, say) are still delivered. While
    /// [`Config::recv_buffer`](crate::Config::recv_buffer) frames wait, the
    /// connection stops reading (backpressure to the peer).
    ///
    /// Dropping every handle of a client session closes it gracefully.
    ///
    /// Only sessions not served by a [`Handler`](crate::Handler) receive this
    /// way (clients from [`dial`](crate::dial)); on a handler-served session
    /// frames go to the handler and `recv` returns `None` at once.
    pub async fn recv(&self) -> Option<C::Item> {
        self.shared.frames.as_ref()?.recv().await
    }

    /// Receives frames and calls `handler` for each, until the session closes
    /// (go-libnet's `Process`). Returns the number of frames handled.
    pub async fn process<F>(&self, mut handler: F) -> usize
    where
        F: FnMut(&Session<C>, C::Item),
    {
        let mut n = 0;
        while let Some(frame) = self.recv().await {
            handler(self, frame);
            n += 1;
        }
        n
    }

    /// Receives one frame and calls `handler` with it; `false` if the session
    /// closed first (go-libnet's `ProcessOnce`).
    pub async fn process_once<F>(&self, handler: F) -> bool
    where
        F: FnOnce(&Session<C>, C::Item),
    {
        match self.recv().await {
            Some(frame) => {
                handler(self, frame);
                true
            }
            None => false,
        }
    }
}

/// How an `async_send` ended, when it did not end `Ok`.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SendWorkError {
    /// Closed, timed out, or refused for a full queue.
    #[error(transparent)]
    Failed(#[from] SendFailure),
    /// The codec refused the message; nothing was queued.
    #[error(transparent)]
    Frame(FrameError),
}

impl SendWorkError {
    /// The send failure, if this is one (not a codec refusal).
    pub fn failure(&self) -> Option<SendFailure> {
        match self {
            SendWorkError::Failed(f) => Some(*f),
            SendWorkError::Frame(_) => None,
        }
    }
}

enum WorkState {
    Ready(Option<Result<(), SendWorkError>>),
    Waiting(oneshot::Receiver<SendOutcome>),
}

/// The outcome of one [`Session::async_send`]: a future resolving to
/// `Ok(())` when every byte was handed to the OS, or to how it failed.
/// Dropping it does not cancel the send.
#[must_use = "a SendWork does nothing unless awaited; drop it to ignore the outcome"]
pub struct SendWork(WorkState);

impl SendWork {
    fn ready(result: Result<(), SendWorkError>) -> Self {
        SendWork(WorkState::Ready(Some(result)))
    }
}

impl Future for SendWork {
    type Output = Result<(), SendWorkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            WorkState::Ready(result) => {
                Poll::Ready(result.take().expect("SendWork polled after it completed"))
            }
            WorkState::Waiting(rx) => Pin::new(rx).poll(cx).map(|outcome| match outcome {
                Ok(outcome) => outcome.into_result().map_err(SendWorkError::Failed),
                // The owner task ended without reporting: it was torn down, so
                // the frame was not written.
                Err(_) => Err(SendWorkError::Failed(SendFailure::Closed)),
            }),
        }
    }
}
