//! Blocking calls over the engine's futures: [`block_on_until`] runs any of
//! them on the calling thread, and [`Session`] is the handle with blocking
//! `send`, `send_timeout`, `recv`, `recv_timeout`, `process` and
//! [`SendWork::wait`]. castnet-std exports them as its own; any thread that
//! is not an executor's may use them with any runtime.

use crate::handle::{SendError, SendWorkError, TrySendError};
use castnet_core::frame::FrameError;
use castnet_core::session::CloseReason;
use castnet_core::{Decoder, Encoder, PacketN};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// Wakes a thread blocked in [`block_on_until`].
struct Unpark {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

/// Runs `future` on the calling thread, parking it between wake-ups, until
/// it completes or `deadline` passes (then `None`; the future is dropped,
/// which every castnet wait allows without losing anything). The blocking
/// half of the engine's waits: a synchronous caller (castnet-std's API, a
/// plain thread holding a handle) waits on the same futures an async task
/// awaits. Never call it on a thread that runs tasks: they would stall.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// assert_eq!(castnet_engine::block_on_until(async { 42 }, None), Some(42));
/// let never = std::future::pending::<()>();
/// let soon = Instant::now() + Duration::from_millis(10);
/// assert_eq!(castnet_engine::block_on_until(never, Some(soon)), None);
/// ```
///
/// # Panics
///
/// On a thread a runtime marked with [`forbid_on_this_thread`] (castnet-std's
/// loop threads), with the runtime's message.
pub fn block_on_until<F: Future>(future: F, deadline: Option<Instant>) -> Option<F::Output> {
    if let Some(why) = FORBIDDEN.get() {
        panic!("{why}");
    }
    let unpark = Arc::new(Unpark {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(unpark.clone());
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return Some(output);
        }
        while !unpark.woken.swap(false, Ordering::AcqRel) {
            match deadline {
                None => std::thread::park(),
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        return None;
                    }
                    std::thread::park_timeout(at - now);
                }
            }
        }
    }
}

thread_local! {
    /// Why blocking is refused on this thread, if a runtime said so.
    static FORBIDDEN: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Marks the calling thread as one that runs tasks: a blocking call on it
/// would stall them, so [`block_on_until`] panics there with `why`. A
/// runtime's own threads call this once (castnet-std's loops do).
pub fn forbid_on_this_thread(why: &'static str) {
    FORBIDDEN.set(Some(why));
}

/// Runs `future` on the calling thread until it completes (see
/// [`block_on_until`]).
///
/// ```
/// assert_eq!(castnet_engine::blocking::block_on(async { 40 + 2 }), 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    match block_on_until(future, None) {
        Some(output) => output,
        None => unreachable!("no deadline"),
    }
}

/// A handle to one connection, with blocking calls. Clone it freely; every
/// clone talks to the same connection, from any thread. Everything that
/// does not wait ([`try_send`](crate::Session::try_send),
/// [`close`](crate::Session::close), `id`, `peer_addr`, ...) is
/// the engine handle's, through `Deref`.
#[derive(Clone, Debug)]
pub struct Session<C: Decoder = PacketN>(crate::Session<C>);

impl<C: Decoder> From<crate::Session<C>> for Session<C> {
    /// The blocking form of a handle, for one from a handler's
    /// [`Conn::session`](crate::Conn::session) or a [`Channel`](crate::Channel)'s members.
    fn from(session: crate::Session<C>) -> Self {
        Session(session)
    }
}

impl<C: Decoder> std::ops::Deref for Session<C> {
    type Target = crate::Session<C>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// [`Session::send_timeout`] failed; the message comes back where it can.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendTimeoutError<M> {
    /// The queue stayed full for the whole timeout.
    #[error("send queue still full after the timeout")]
    Timeout(M),
    /// The session is closed or closing.
    #[error("session closed")]
    Closed(M),
    /// The codec refused the message. Nothing was queued.
    #[error(transparent)]
    Frame(FrameError),
}

/// [`Session::recv_timeout`] got no frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecvTimeoutError {
    /// No frame came within the timeout; the session may still be open.
    #[error("no frame within the timeout")]
    Timeout,
    /// The session closed and every frame was taken.
    #[error("session closed")]
    Closed,
}

impl<C: Decoder> Session<C> {
    /// Queues `msg`, blocking while the send queue is full (backpressure).
    pub fn send<M>(&self, msg: M) -> Result<(), SendError<M>>
    where
        C: Encoder<M> + Clone,
    {
        block_on(self.0.send(msg))
    }

    /// [`send`](Self::send) that gives up after `timeout` of a full queue,
    /// with the message back.
    pub fn send_timeout<M>(&self, mut msg: M, timeout: Duration) -> Result<(), SendTimeoutError<M>>
    where
        C: Encoder<M> + Clone,
    {
        let deadline = Instant::now() + timeout;
        loop {
            match self.0.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySendError::QueueFull(m)) => msg = m,
                Err(TrySendError::Closed(m)) => return Err(SendTimeoutError::Closed(m)),
                Err(TrySendError::Frame(e)) => return Err(SendTimeoutError::Frame(e)),
            }
            if block_on_until(self.0.room(), Some(deadline)).is_none() {
                // One last try: room may have come with the deadline.
                return match self.0.try_send(msg) {
                    Ok(()) => Ok(()),
                    Err(TrySendError::Closed(m)) => Err(SendTimeoutError::Closed(m)),
                    Err(TrySendError::Frame(e)) => Err(SendTimeoutError::Frame(e)),
                    Err(TrySendError::QueueFull(m)) => Err(SendTimeoutError::Timeout(m)),
                };
            }
        }
    }

    /// Queues `msg` and returns a [`SendWork`] to wait for how the send
    /// ended (go-libnet's `AsyncSend`).
    pub fn async_send<M>(&self, msg: M) -> SendWork
    where
        C: Encoder<M> + Clone,
    {
        SendWork(self.0.async_send(msg))
    }

    /// [`async_send`](Self::async_send) with this send timeout instead of the
    /// session's default.
    pub fn async_send_timeout<M>(&self, msg: M, timeout: Option<Duration>) -> SendWork
    where
        C: Encoder<M> + Clone,
    {
        SendWork(self.0.async_send_timeout(msg, timeout))
    }

    /// The next frame from the peer, blocking; `None` once the session has
    /// closed and every frame was taken (see
    /// [`crate::Session::recv`]). Then
    /// [`close_reason`](crate::Session::close_reason) says why it closed.
    pub fn recv(&self) -> Option<C::Item> {
        block_on(self.0.recv())
    }

    /// [`recv`](Self::recv) that gives up after `timeout`. Nothing is lost
    /// on a timeout: the next call gets the next frame.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<C::Item, RecvTimeoutError> {
        match block_on_until(self.0.recv(), Some(Instant::now() + timeout)) {
            Some(Some(frame)) => Ok(frame),
            Some(None) => Err(RecvTimeoutError::Closed),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// Receives frames and calls `handler` for each until the session closes
    /// (go-libnet's `Process`). Returns the number of frames handled.
    pub fn process<F>(&self, mut handler: F) -> usize
    where
        F: FnMut(&Session<C>, C::Item),
    {
        let mut n = 0;
        while let Some(frame) = self.recv() {
            handler(self, frame);
            n += 1;
        }
        n
    }

    /// Receives one frame and calls `handler` with it; `false` if the
    /// session closed first (go-libnet's `ProcessOnce`).
    pub fn process_once<F>(&self, handler: F) -> bool
    where
        F: FnOnce(&Session<C>, C::Item),
    {
        match self.recv() {
            Some(frame) => {
                handler(self, frame);
                true
            }
            None => false,
        }
    }

    /// Blocks until the connection's owner has finished (after a close, an
    /// abort, an error or the peer leaving), and returns why the session
    /// closed (also [`close_reason`](crate::Session::close_reason) any time
    /// after, through `Deref`).
    pub fn closed(&self) -> CloseReason {
        block_on(self.0.closed())
    }

    /// [`closed`](Self::closed) that gives up after `timeout`: `None` if
    /// the session has not finished by then.
    pub fn closed_timeout(&self, timeout: Duration) -> Option<CloseReason> {
        block_on_until(self.0.closed(), Some(Instant::now() + timeout))
    }

    /// The engine's handle (what handlers and channels deal in).
    pub fn inner(&self) -> &crate::Session<C> {
        &self.0
    }
}

/// How one [`Session::async_send`] ended, once it has: wait for it with
/// [`wait`](Self::wait) or [`wait_timeout`](Self::wait_timeout). Dropping it
/// does not cancel the send.
#[must_use = "dropping a SendWork ignores the outcome (the send goes on)"]
pub struct SendWork(crate::SendWork);

impl std::fmt::Debug for SendWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SendWork")
    }
}

impl SendWork {
    /// Blocks until the send ended: `Ok(())` once every byte was handed to
    /// the OS, or how it failed.
    pub fn wait(self) -> Result<(), SendWorkError> {
        block_on(self.0)
    }

    /// As [`wait`](Self::wait), for at most `timeout`: `None` if the send
    /// has not ended yet (wait again later; nothing is lost).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<(), SendWorkError>> {
        block_on_until(&mut self.0, Some(Instant::now() + timeout))
    }
}
