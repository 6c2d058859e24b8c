//! The [`Session`] handle: cheap to clone, usable from any task or thread,
//! talking to the one owner of the connection's core session through its
//! inbox.

use crate::sync::AtomicBool;
use crate::wait::{Completion, Signal};
use bytes::Bytes;
use castnet_core::frame::{EncodedFrame, Encoder, FrameError};
use castnet_core::hub::PeerAddr;
use castnet_core::hub::{BroadcastRecord, DeliveryTicket};
use castnet_core::session::{CloseReason, SendFailure, SendOutcome};
use castnet_core::sync::SendQuota;
use castnet_core::{Decoder, SessionId};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// What a handle asks the connection's owner to do.
///
/// Kept small (the size of an `EncodedFrame` and a tag): every send from
/// another task moves one through the inbox, so the rare, larger requests
/// are boxed.
pub(crate) enum Command {
    /// Queue one frame whose outcome somebody waits for.
    Send(Box<TrackedSend>),
    /// Queue one frame nobody waits on, with the default send timeout. Its
    /// quota was acquired and charged with `frame.len()`.
    Quiet(EncodedFrame),
    SetHeartbeat(Box<Option<(Duration, EncodedFrame)>>),
    /// Follow a channel's broadcast lane (the session joined it).
    Follow(crate::lane::Subscription),
    /// Stop following this lane after the frames published before `u64`
    /// (the session left the channel).
    Unfollow(Arc<crate::lane::Lane>, u64),
    Close,
    Abort,
}

/// A send with a waiter or its own timeout. Its quota was acquired and
/// charged with `frame.len()`.
pub(crate) struct TrackedSend {
    pub(crate) frame: EncodedFrame,
    pub(crate) timeout: Option<Duration>,
    pub(crate) done: Done,
}

/// Where a send's outcome goes. Dropped without an outcome (the owner torn
/// down by a panicking callback or a runtime shutting down), it reports
/// `Closed`: every admitted send ends exactly once, whatever happens.
pub(crate) struct Done(Option<Waiter>);

enum Waiter {
    /// An `async_send`'s [`SendWork`].
    Work(Arc<Completion<SendOutcome>>),
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
            Some(Waiter::Work(cell)) => cell.complete(outcome),
            Some(Waiter::Broadcast(shared, ticket)) => shared.record(ticket, outcome),
        }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        self.report(SendOutcome::Failed(SendFailure::Closed));
    }
}

/// One broadcast's record, shared by the sender and every recipient's
/// owner. Each outcome takes this record's own lock, never the hub's.
pub(crate) struct BroadcastShared {
    pub(crate) record: crate::sync::Mutex<BroadcastRecord>,
    pub(crate) complete: Signal,
}

impl BroadcastShared {
    pub(crate) fn new(record: BroadcastRecord) -> Self {
        BroadcastShared {
            record: crate::sync::Mutex::new(record),
            complete: Signal::new(),
        }
    }

    pub(crate) fn record(&self, ticket: DeliveryTicket, outcome: SendOutcome) {
        let mut record = self.record.lock().unwrap_or_else(|e| e.into_inner());
        match record.record(ticket, outcome) {
            Ok(0) => self.complete.notify_all(),
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

/// A session's state shared by its handles and its owner.
pub(crate) struct Shared<C: Decoder> {
    pub(crate) id: SessionId,
    pub(crate) peer: PeerAddr,
    pub(crate) codec: C,
    /// Admission of sends from handles; the owner charges its own replies
    /// too, so the quota always covers everything queued.
    pub(crate) quota: SendQuota,
    /// Signalled when quota is released while somebody waits, so waiting
    /// `send`s retry.
    pub(crate) room: Signal,
    /// Set once the session no longer accepts sends.
    pub(crate) closed: AtomicBool,
    /// Signalled when the owner has finished.
    pub(crate) finished: Signal,
    pub(crate) finished_flag: AtomicBool,
    /// Why the session closed: set once by the owner, before `finished`.
    pub(crate) close_reason: std::sync::OnceLock<CloseReason>,
    /// Frames for [`Session::recv`], when the session is not served by a
    /// handler.
    pub(crate) frames: Option<crate::recv::RecvQueue<C::Item>>,
    pub(crate) stats: Arc<crate::stats::StatsCell>,
}

impl<C: Decoder> Shared<C> {
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::Release);
        // Wake every waiting sender so it observes `Closed`.
        self.room.notify_all();
    }

    /// Returns the quota of a batch of finished sends in one step, and wakes
    /// waiting senders if there are any.
    pub(crate) fn release(&self, bytes: usize, frames: usize) {
        if frames > 0 && self.quota.release_many(bytes, frames) {
            self.room.notify_all();
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

    /// Records why the session closed (the first reason recorded stays).
    pub(crate) fn set_close_reason(&self, reason: CloseReason) {
        let _ = self.close_reason.set(reason);
    }

    pub(crate) fn mark_finished(&self) {
        self.mark_closed();
        self.finished_flag.store(true, Ordering::Release);
        self.finished.notify_all();
    }
}

/// A handle to one connection. Clone it freely; every clone talks to the
/// same connection, from any task or thread.
///
/// Sending from a handle never blocks the connection: frames are encoded in
/// the caller's task and handed to the connection's owner, which writes
/// everything queued in one vectored write. A handler replying to a frame
/// it was given uses its [`Conn`](crate::Conn) instead: that reply goes
/// straight into the session and is never refused for a full queue.
pub struct Session<C: Decoder> {
    pub(crate) shared: Arc<Shared<C>>,
    /// Each handle holds a sender: once every handle is gone the inbox
    /// closes, and a client session closes gracefully (nobody can reach it
    /// any more).
    pub(crate) inbox: crate::inbox::Sender<Command>,
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

/// A waiting send (or a reply through a [`Conn`](crate::Conn)) failed.
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
        let frame = self.admit(msg)?;
        self.push(Command::Quiet(frame));
        Ok(())
    }

    /// Queues `msg`, waiting while the send queue is full (backpressure).
    pub async fn send<M>(&self, mut msg: M) -> Result<(), SendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        loop {
            match self.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Closed(m)) => return Err(SendError::Closed(m)),
                Err(TrySendError::Frame(e)) => return Err(SendError::Frame(e)),
                Err(TrySendError::QueueFull(m)) => msg = m,
            }
            self.room().await;
        }
    }

    /// Waits until the send queue may have room, or the session closed:
    /// what [`send`](Self::send) waits for between attempts. Room can be
    /// taken by another sender before this caller tries, so try again and
    /// wait again. Cancel-safe: dropping it loses nothing. A blocking
    /// binding (castnet-std) waits on it with a deadline to build
    /// `send_timeout`.
    pub async fn room(&self) {
        // Listen, announce the wait, then re-check (see
        // `SendQuota::announce_waiter`): the owner signals `room` only when
        // someone waits, and a release after the announcement reaches the
        // listener made before it.
        struct Announced<'a>(&'a castnet_core::sync::SendQuota);
        impl Drop for Announced<'_> {
            fn drop(&mut self) {
                self.0.withdraw_waiter();
            }
        }
        let room = self.shared.room.listen();
        self.shared.quota.announce_waiter();
        let _announced = Announced(&self.shared.quota);
        if self.shared.quota.is_full() && !self.is_closed() {
            room.await;
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
            Ok(frame) => {
                let cell = Arc::new(Completion::new());
                let send = TrackedSend {
                    frame,
                    timeout,
                    done: Done(Some(Waiter::Work(cell.clone()))),
                };
                self.push(Command::Send(Box::new(send)));
                SendWork(WorkState::Waiting(cell, None))
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

    /// Waits until the connection's owner has finished (after a close, an
    /// abort, an error or the peer leaving), and returns why the session
    /// closed (see [`close_reason`](Self::close_reason)).
    pub async fn closed(&self) -> CloseReason {
        let finished = || self.shared.finished_flag.load(Ordering::Acquire);
        while !finished() {
            let listener = self.shared.finished.listen();
            if finished() {
                break;
            }
            listener.await;
        }
        self.close_reason().unwrap_or(CloseReason::Aborted)
    }

    /// Why the session closed, once it has; `None` while it is open (or
    /// still closing: a graceful close drains the queue first).
    ///
    /// Set before [`recv`](Self::recv) returns `None` and before
    /// [`closed`](Self::closed) resolves, so a client that saw either can ask
    /// why: `Local` (this side's `close`, queue drained), `LingerExpired`,
    /// `Aborted` (this side's `abort`, or a handler callback that
    /// panicked), `PeerEof` (the peer ended the stream), `PeerTimeout`,
    /// `IdleTimeout`, `FirstFrameTimeout`, `SlowConsumer`, `RateLimited`,
    /// `Frame` (the peer sent what the codec cannot decode) or `Io` (reset,
    /// broken pipe...). See [`CloseReason`].
    ///
    /// ```no_run
    /// # async fn client(session: castnet_engine::Session<castnet_core::PacketN>) {
    /// use castnet_core::session::CloseReason;
    ///
    /// while let Some(frame) = session.recv().await {
    ///     // ...
    /// #   let _ = frame;
    /// }
    /// match session.close_reason() {
    ///     Some(CloseReason::PeerEof) => { /* the server said goodbye */ }
    ///     Some(CloseReason::PeerTimeout) => { /* the server went silent */ }
    ///     other => eprintln!("closed: {other:?}"),
    /// }
    /// # }
    /// ```
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.shared.close_reason.get().cloned()
    }

    /// Admission and encoding, shared by every send form: the quota is
    /// taken and charged with the frame's length.
    fn admit<M>(&self, msg: M) -> Result<EncodedFrame, TrySendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        if self.is_closed() {
            return Err(TrySendError::Closed(msg));
        }
        if self.shared.quota.try_acquire(0).is_err() {
            self.count_queue_full();
            return Err(TrySendError::QueueFull(msg));
        }
        match self.shared.codec.clone().encode_frame(msg) {
            Ok(frame) => {
                self.shared.quota.charge(frame.len());
                Ok(frame)
            }
            Err(e) => {
                self.shared.release(0, 1);
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

    /// Starts following a channel's lane (from the moment of `lane`'s
    /// subscription, taken by the caller under the hub lock), in the order
    /// the hub saw the join.
    pub(crate) fn follow(&self, lane: crate::lane::Subscription) {
        // An owner already gone drops the subscription, which leaves the lane.
        let _ = self.inbox.send(Command::Follow(lane));
    }

    /// Stops following `lane` once the frames published before `until` are
    /// taken.
    pub(crate) fn unfollow(&self, lane: Arc<crate::lane::Lane>, until: u64) {
        let _ = self.inbox.send(Command::Unfollow(lane, until));
    }

    /// Hands an admitted send to the owner. An owner already gone ends it
    /// here, as `Closed`.
    fn push(&self, cmd: Command) {
        if let Err(cmd) = self.inbox.send(cmd) {
            match cmd {
                Command::Send(send) => self.shared.end_unqueued_closed(send.frame.len(), send.done),
                Command::Quiet(frame) => self.shared.end_unqueued_closed(frame.len(), Done::NOBODY),
                _ => {}
            }
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
        let refused = if self.is_closed() {
            Some(SendFailure::Closed)
        } else if self.shared.quota.try_acquire(frame.len()).is_err() {
            self.count_queue_full();
            Some(SendFailure::QueueFull)
        } else {
            None
        };
        match refused {
            Some(why) => shared.record(ticket, SendOutcome::Failed(why)),
            None => self.push(Command::Send(Box::new(TrackedSend {
                frame: EncodedFrame::contiguous(frame),
                timeout: None,
                done: Done(Some(Waiter::Broadcast(shared, ticket))),
            }))),
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
    /// way (dialled clients); on a handler-served session frames go to the
    /// handler and `recv` returns `None` at once.
    ///
    /// Frames named the peer's heartbeats by
    /// [`Config::peer_heartbeat`](crate::Config::peer_heartbeat) do not
    /// arrive here (they keep the session alive all the same); by default
    /// every frame does.
    ///
    /// Once `recv` has returned `None` because the session closed,
    /// [`close_reason`](Self::close_reason) says why.
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
    Waiting(
        Arc<Completion<SendOutcome>>,
        Option<crate::sync::EventListener>,
    ),
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
            WorkState::Waiting(cell, listener) => cell
                .poll_take(listener, cx)
                .map(|outcome| outcome.into_result().map_err(SendWorkError::Failed)),
        }
    }
}

#[cfg(all(test, castnet_loom))]
impl SendWork {
    /// The outcome cell, for the loom models to look into afterwards.
    pub(crate) fn cell(&self) -> Option<Arc<Completion<SendOutcome>>> {
        match &self.0 {
            WorkState::Waiting(cell, _) => Some(cell.clone()),
            WorkState::Ready(_) => None,
        }
    }
}
