//! Event callbacks: the [`Handler`] trait and its closure form.

use crate::handle::Session;
use crate::owner::Conn;
use castnet_core::session::{CloseReason, SendId, SendOutcome};
use castnet_core::Decoder;
use std::time::{Duration, Instant};

/// Callbacks a server calls for each session.
///
/// They run on the connection's owner (`on_open` first, `on_close` last),
/// between its reads and writes, and get the connection itself
/// ([`Conn`]): a reply made with [`Conn::send`] goes straight into the
/// session's queue, costs no channel hop, and is never refused for a full
/// queue; the owner stops reading from a peer that does not read its
/// replies instead (backpressure). Keep callbacks short; hand long work to a
/// task of your own with a clone of [`Conn::session`].
///
/// A callback that panics ends its own session only: the connection is
/// dropped, its pending sends fail `Closed`, it leaves the server and its
/// channels, and `on_close` is not called. The server and every other
/// session go on.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_engine::{Conn, Handler};
///
/// struct Echo;
///
/// impl Handler<PacketN> for Echo {
///     fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
///         let _ = cx.send(frame); // refused only once the session is closing
///     }
/// }
/// ```
pub trait Handler<C: Decoder>: Send + Sync + 'static {
    /// A session opened.
    fn on_open(&self, _cx: &mut Conn<'_, C>) {}
    /// A frame arrived.
    fn on_frame(&self, cx: &mut Conn<'_, C>, frame: C::Item);
    /// Whether [`on_sent`](Self::on_sent) is called. Off by default: it
    /// costs an outcome event per frame, which a server that does not look
    /// at outcomes should not pay. Set it to `true` where you implement
    /// `on_sent`.
    const REPORT_SENT: bool = false;

    /// A send of this session ended (sent, or failed and why); called only
    /// when [`REPORT_SENT`](Self::REPORT_SENT) is true, for sends made
    /// through the session's handle and through [`Conn::send_tracked`].
    /// Detached broadcasts (which keep no outcomes) are not reported.
    fn on_sent(&self, _cx: &mut Conn<'_, C>, _id: SendId, _outcome: SendOutcome) {}

    /// A timer this session's handler set with
    /// [`Conn::run_after`] or [`Conn::run_every`] came due, with the token
    /// it was set with. Runs on the connection's owner like every other
    /// callback; due timers fire in deadline order. Never called once the
    /// session is closing, so never after [`on_close`](Self::on_close).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::PacketN;
    /// use castnet_engine::{Conn, Handler};
    /// use std::time::Duration;
    ///
    /// /// Closes a session that stays silent for 30 s.
    /// struct IdleKick;
    ///
    /// const IDLE: u64 = 1;
    ///
    /// impl Handler<PacketN> for IdleKick {
    ///     fn on_open(&self, cx: &mut Conn<'_, PacketN>) {
    ///         let _ = cx.run_after(Duration::from_secs(30), IDLE);
    ///     }
    ///     fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
    ///         let _ = cx.send(frame);
    ///     }
    ///     fn on_timer(&self, cx: &mut Conn<'_, PacketN>, token: u64) {
    ///         if token == IDLE {
    ///             cx.close();
    ///         }
    ///     }
    /// }
    /// ```
    fn on_timer(&self, _cx: &mut Conn<'_, C>, _token: u64) {}

    /// The interval of the server's first tick, asked once when
    /// [`Server::serve`](crate::Server::serve) starts; `None` (the default)
    /// runs no tick.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    /// The server's tick (gnet's `OnTick`): called on the task running
    /// `Server::serve`, at `now`, once per interval, and returns the interval
    /// until the next tick, or `None` to stop ticking. Intervals count from
    /// the previous tick's deadline, not from when it ran, so ticks do not
    /// drift; after a stall the ticks missed are skipped, not run in a
    /// burst (see [`castnet_core::timer`]). Ticking stops when the server
    /// stops. Keep it short: connections are not accepted while it runs.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::PacketN;
    /// use castnet_engine::{Conn, Handler};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::{Duration, Instant};
    ///
    /// /// Echoes, and logs the frame rate every second.
    /// #[derive(Default)]
    /// struct Metered {
    ///     frames: AtomicU64,
    /// }
    ///
    /// impl Handler<PacketN> for Metered {
    ///     fn on_frame(&self, cx: &mut Conn<'_, PacketN>, frame: Bytes) {
    ///         self.frames.fetch_add(1, Ordering::Relaxed);
    ///         let _ = cx.send(frame);
    ///     }
    ///     fn tick_interval(&self) -> Option<Duration> {
    ///         Some(Duration::from_secs(1))
    ///     }
    ///     fn on_tick(&self, _now: Instant) -> Option<Duration> {
    ///         let frames = self.frames.swap(0, Ordering::Relaxed);
    ///         tracing::info!(frames, "frames in the last second");
    ///         Some(Duration::from_secs(1))
    ///     }
    /// }
    /// ```
    fn on_tick(&self, _now: Instant) -> Option<Duration> {
        None
    }
    /// The session closed, for this reason. Called once, last; nothing can
    /// be sent any more.
    fn on_close(&self, _session: &Session<C>, _reason: &CloseReason) {}
}

/// A [`Handler`] made of one closure for frames; see [`handler_fn`].
pub struct FnHandler<F>(F);

/// A handler from a closure called for every frame.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_engine::{handler_fn, Conn};
///
/// let echo = handler_fn(|cx: &mut Conn<'_, PacketN>, frame: Bytes| {
///     let _ = cx.send(frame);
/// });
/// # let _ = echo;
/// ```
pub fn handler_fn<F>(f: F) -> FnHandler<F> {
    FnHandler(f)
}

impl<C, F> Handler<C> for FnHandler<F>
where
    C: Decoder,
    F: Fn(&mut Conn<'_, C>, C::Item) + Send + Sync + 'static,
{
    fn on_frame(&self, cx: &mut Conn<'_, C>, frame: C::Item) {
        (self.0)(cx, frame)
    }
}
