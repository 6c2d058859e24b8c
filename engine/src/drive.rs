//! The async loop that drives an [`Owner`] on any async [`Runtime`]: one
//! small poll loop, shared by every async binding.

use crate::owner::{Owner, Sink, Woken};
use crate::runtime::{AsyncStream, AsyncTimer, Runtime};
use castnet_core::session::CloseReason;
use castnet_core::timer::Ticker;
use castnet_core::Decoder;
use std::io;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

/// Bytes read per turn before other work gets a turn.
const READ_BUDGET: usize = 256 * 1024;

/// Drives `owner` over `stream` until the session closes, and gives the
/// stream back for [`Closed::drain`].
///
/// Per wake-up: a turn (timers, events, commands, lanes), one write of
/// everything queued, then a wait for the socket, the owner's other wake-ups
/// or its next deadline. Reading happens in the wait, until the socket is
/// empty or the read budget is spent.
///
/// The owner comes boxed: it is the bulk of a connection's state, and a
/// future holding it inline would hold it twice (once as the spawned
/// future's capture, once inside this one), which an idle connection pays
/// for as long as it lives.
pub(crate) async fn drive<R, T, C, S>(
    rt: R,
    mut stream: T,
    mut owner: Box<Owner<C, S>>,
) -> Closed<T>
where
    R: Runtime,
    T: AsyncStream,
    C: Decoder,
    S: Sink<C>,
{
    let mut timer = Timer::<R>::default();
    // The clock as last read while waking (by a read or a command), so a
    // turn reads it once.
    let mut woke_at: Option<Instant> = None;
    loop {
        let now = woke_at.take().unwrap_or_else(|| rt.now());
        if !owner.turn(now) {
            break;
        }
        if owner.wants_write() {
            owner.write(now, |slices| stream.try_write_vectored(slices));
        }
        let next = owner.after_write();
        // What the write completed (send outcomes, room for waiting senders,
        // a drained close) is handled now, not after the next wake-up.
        if next.is_some_and(|at| at <= now) {
            continue;
        }

        timer.arm(&rt, next);
        let woken = std::future::poll_fn(|cx| {
            let clock = || *woke_at.get_or_insert_with(|| rt.now());
            let mut woken = owner.poll_wake(cx, clock);
            if poll_io(cx, &mut stream, &mut owner, &rt, &mut woke_at).is_ready() {
                woken = Woken::Yes;
            }
            if timer.poll(cx).is_ready() {
                woken = Woken::Yes;
            }
            if woken == Woken::No {
                // Nothing happened: the task may now sleep for long, so a
                // clock read here must not stand for the next turn's.
                woke_at = None;
                Poll::Pending
            } else {
                Poll::Ready(woken)
            }
        })
        .await;
        if woken == Woken::Lanes {
            // Flush consolidation: woken by new broadcast frames, let every
            // task already runnable (publishers among them) have its turn
            // first, then take everything they published in one pull and one
            // write. One scheduler pass of delay; under fan-out load, far
            // fewer and fuller writes.
            rt.yield_now().await;
            woke_at = None;
        }
    }
    // An orderly close tells the peer we are done; where we stopped
    // reading before its end of stream, what it sent since must still be
    // read (see `Closed::drain`).
    let reason = owner.close_reason();
    let orderly = reason.is_some_and(CloseReason::is_orderly);
    if orderly {
        let _ = stream.shutdown_write();
    }
    let drain = orderly && !matches!(reason, Some(CloseReason::PeerEof));
    owner.finish();
    Closed { stream, drain }
}

/// Most bytes [`Closed::drain`] reads and throws away before it closes
/// anyway.
const DRAIN_BYTES: usize = 8 << 20;

/// A connection whose session has closed, before its socket is.
pub(crate) struct Closed<T> {
    stream: T,
    /// The session wrote everything, sent its FIN and stopped reading
    /// before the peer's end of stream.
    drain: bool,
}

impl<T: AsyncStream> Closed<T> {
    /// `Some` if the socket is to be drained for up to `limit` before it
    /// closes; `None` once it is closed (dropped) at once.
    pub(crate) fn needs_drain(self, limit: Duration) -> Option<Self> {
        (self.drain && !limit.is_zero()).then_some(self)
    }

    /// Closes the socket without cutting what the peer has still to
    /// receive.
    ///
    /// Closing a TCP socket with unread bytes in its receive buffer (or
    /// with bytes arriving after the close) resets the connection, and a
    /// reset throws away whatever of ours is still in the send buffer: the
    /// last replies to a peer that writes a lot before it reads, say, or the
    /// echoes before a malformed frame. So, after a close that wrote
    /// everything and sent its FIN, this reads and discards what the peer
    /// sends until its end of stream, for at most `limit` and
    /// [`DRAIN_BYTES`], and only then closes (the lingering close of HTTP
    /// servers). `Duration::ZERO` closes at once.
    pub(crate) async fn drain<R: Runtime>(mut self, rt: &R, limit: Duration) {
        let mut timer = rt.timer(rt.now() + limit);
        let mut buf = bytes::BytesMut::with_capacity(DRAIN_CHUNK);
        let mut left = DRAIN_BYTES;
        std::future::poll_fn(|cx| loop {
            if timer.poll_fired(cx).is_ready() {
                tracing::debug!("peer still sending when the close drain ran out; resetting");
                return Poll::Ready(());
            }
            buf.clear();
            match ready!(self.stream.poll_read_buf(cx, &mut buf)) {
                Ok(n) if n > 0 && n < left => left -= n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return Poll::Ready(()),
            }
        })
        .await;
    }
}

/// What one discarding read takes.
const DRAIN_CHUNK: usize = 16 * 1024;

/// Waits for the socket: reads what it has (until it is drained, the budget
/// is spent or the owner stops wanting input) and reports whether it can
/// take writes. Ready when anything happened.
///
/// Readiness comes first: a connection waiting for its peer holds no read
/// buffer (the core makes room only when asked).
fn poll_io<R: Runtime, T: AsyncStream, C: Decoder, S: Sink<C>>(
    cx: &mut Context<'_>,
    stream: &mut T,
    owner: &mut Owner<C, S>,
    rt: &R,
    woke_at: &mut Option<Instant>,
) -> Poll<()> {
    let mut now = || *woke_at.get_or_insert_with(|| rt.now());
    let mut progress = false;
    if owner.wants_write() {
        match stream.poll_write_ready(cx) {
            Poll::Ready(Ok(())) => progress = true,
            Poll::Ready(Err(e)) => return failed(owner, e),
            Poll::Pending => {}
        }
    }
    let mut total = 0;
    while total < READ_BUDGET && owner.wants_read() {
        match stream.poll_read_ready(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return failed(owner, e),
            Poll::Pending => break,
        }
        match stream.poll_read_buf(cx, owner.read_buf()) {
            Poll::Ready(Ok(0)) => {
                owner.on_read(0, now());
                owner.on_eof();
                return Poll::Ready(());
            }
            Poll::Ready(Ok(n)) => {
                total += n;
                progress = true;
                owner.on_read(n, now());
            }
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Poll::Ready(Err(e)) => {
                owner.on_read(0, now());
                return failed(owner, e);
            }
            Poll::Pending => {
                // The readiness was stale: nothing came after all. Say so,
                // which releases the room just made.
                owner.on_read(0, now());
                break;
            }
        }
    }
    if progress {
        Poll::Ready(())
    } else {
        // Stale readiness: nothing was read. The room made for it goes
        // back before the task sleeps.
        owner.return_buffers();
        Poll::Pending
    }
}

fn failed<C: Decoder, S: Sink<C>>(owner: &mut Owner<C, S>, e: io::Error) -> Poll<()> {
    owner.on_io_error(&e);
    Poll::Ready(())
}

/// A server's tick ([`Handler::on_tick`](crate::Handler::on_tick)) on the
/// task that runs `serve`: the core [`Ticker`] at the runtime's clock, and
/// a runtime timer armed for its next deadline.
pub(crate) struct Tick<R: Runtime> {
    ticker: Ticker,
    timer: Timer<R>,
}

impl<R: Runtime> Tick<R> {
    /// First due `interval` after `now`; never with `None`.
    pub(crate) fn start(now: Instant, interval: Option<Duration>) -> Self {
        let mut ticker = Ticker::new();
        ticker.start(now, interval);
        Tick {
            ticker,
            timer: Timer::default(),
        }
    }

    /// Ticks if a tick is due (at most once per call: after a zero interval
    /// the task is woken to come back, so the accept loop is not starved),
    /// otherwise arms the timer for the next one.
    pub(crate) fn poll(
        &mut self,
        cx: &mut Context<'_>,
        rt: &R,
        on_tick: impl FnOnce(Instant) -> Option<Duration>,
    ) {
        let Some(at) = self.ticker.next_deadline() else {
            return;
        };
        let now = rt.now();
        if now < at {
            self.timer.arm(rt, Some(at));
            if self.timer.poll(cx).is_pending() {
                return;
            }
            // Fired early by the runtime's reckoning, or for an older
            // deadline: look again.
        } else {
            self.ticker.tick(now, on_tick);
        }
        cx.waker().wake_by_ref();
    }
}

/// The loop's one timer, armed for the owner's next deadline.
///
/// A deadline that moves later (a liveness or buffer timer pushed back by
/// traffic, every turn on a busy session) leaves the timer where it is: it
/// fires early, the turn finds nothing due (the owner checks `now >=
/// deadline` itself) and re-arms it. Only an earlier deadline resets it, so
/// a busy session touches the runtime's timers about once per timeout, not
/// once per turn.
struct Timer<R: Runtime> {
    timer: Option<R::Timer>,
    /// When the timer fires; `None` once it fired (or before it is armed).
    armed: Option<Instant>,
}

impl<R: Runtime> Default for Timer<R> {
    fn default() -> Self {
        Timer {
            timer: None,
            armed: None,
        }
    }
}

impl<R: Runtime> Timer<R> {
    /// Makes sure the timer fires no later than `deadline`.
    fn arm(&mut self, rt: &R, deadline: Option<Instant>) {
        let Some(at) = deadline else { return };
        if self.armed.is_some_and(|armed| armed <= at) {
            return;
        }
        match &mut self.timer {
            Some(timer) => timer.reset(at),
            None => self.timer = Some(rt.timer(at)),
        }
        self.armed = Some(at);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match (&mut self.timer, self.armed) {
            (Some(timer), Some(_)) => {
                let fired = timer.poll_fired(cx);
                if fired.is_ready() {
                    self.armed = None;
                }
                fired
            }
            _ => Poll::Pending,
        }
    }
}
