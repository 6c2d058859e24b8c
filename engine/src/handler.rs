//! Event callbacks: the [`Handler`] trait and its closure form.

use crate::handle::Session;
use crate::owner::{Conn, Sink};
use castnet_core::session::{CloseReason, SendId, SendOutcome};
use castnet_core::Decoder;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Callbacks a server calls for each session, and a dialled session calls
/// when started with one ([`dial_handler_with`](crate::dial_handler_with)).
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
///
/// ## Per-session state
///
/// `S` is each session's own state: the owner makes it with `S::default()`
/// before `on_open`, every callback reaches it through [`Conn::state`]
/// (and [`Conn::set_state`], [`Conn::replace_state`]), and `on_close`
/// gets it by value for cleanup. Only the session's callbacks touch it, on
/// its owner, so it needs no lock and no map keyed by session id. A
/// stateless handler leaves `S` at its default, `()`, and its callbacks
/// take `Conn<'_, C>` as before; [`Server::serve`](crate::Server::serve)
/// infers `S` from the handler's impl.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_core::session::CloseReason;
/// use castnet_engine::{Conn, Handler, Session};
///
/// /// A member of a chat: the first frame is the name, every other frame
/// /// a line, answered prefixed with the name.
/// #[derive(Default)]
/// struct Member {
///     name: Option<String>,
///     lines: usize,
/// }
///
/// struct Chat;
///
/// impl Handler<PacketN, Member> for Chat {
///     fn on_frame(&self, cx: &mut Conn<'_, PacketN, Member>, frame: Bytes) {
///         let text = String::from_utf8_lossy(&frame).into_owned();
///         let member = cx.state();
///         let Some(name) = &member.name else {
///             member.name = Some(text);
///             return;
///         };
///         let line = format!("{name}: {text}");
///         member.lines += 1;
///         let _ = cx.send(line);
///     }
///
///     fn on_close(&self, _: &Session<PacketN>, member: Member, why: &CloseReason) {
///         let name = member.name.unwrap_or_default();
///         tracing::info!(%name, lines = member.lines, %why, "left");
///     }
/// }
/// ```
pub trait Handler<C: Decoder, S = ()>: Send + Sync + 'static
where
    S: Default + Send + 'static,
{
    /// A session opened. Its state is `S::default()`; set it here (with
    /// [`Conn::set_state`], or through [`Conn::state`]).
    fn on_open(&self, _cx: &mut Conn<'_, C, S>) {}
    /// A frame arrived. Frames named the peer's heartbeats
    /// ([`Config::peer_heartbeat`](crate::Config::peer_heartbeat),
    /// [`Conn::set_peer_heartbeat`]) are not delivered; by default every
    /// frame is.
    fn on_frame(&self, cx: &mut Conn<'_, C, S>, frame: C::Item);
    /// Whether [`on_sent`](Self::on_sent) is called. Off by default: it
    /// costs an outcome event per frame, which a server that does not look
    /// at outcomes should not pay. Set it to `true` where you implement
    /// `on_sent`.
    const REPORT_SENT: bool = false;

    /// A send of this session ended (sent, or failed and why); called only
    /// when [`REPORT_SENT`](Self::REPORT_SENT) is true, for sends made
    /// through the session's handle and through [`Conn::send_tracked`].
    /// Detached broadcasts (which keep no outcomes) are not reported.
    fn on_sent(&self, _cx: &mut Conn<'_, C, S>, _id: SendId, _outcome: SendOutcome) {}

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
    fn on_timer(&self, _cx: &mut Conn<'_, C, S>, _token: u64) {}

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
    /// The session closed, for this reason. Called once, last, with the
    /// session's state by value (for cleanup); nothing can be sent any
    /// more. Not called when a callback panicked: the state is dropped
    /// then.
    fn on_close(&self, _session: &Session<C>, _state: S, _reason: &CloseReason) {}
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
///
/// The closure may keep per-session state too, named in its `Conn`
/// (created with `Default`):
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_engine::{handler_fn, Conn};
///
/// // Replies with the running total of bytes this session received.
/// let total = handler_fn(|cx: &mut Conn<'_, PacketN, usize>, frame: Bytes| {
///     *cx.state() += frame.len();
///     let total = *cx.state();
///     let _ = cx.send(total.to_string());
/// });
/// # let _ = total;
/// ```
pub fn handler_fn<F>(f: F) -> FnHandler<F> {
    FnHandler(f)
}

impl<C, S, F> Handler<C, S> for FnHandler<F>
where
    C: Decoder,
    S: Default + Send + 'static,
    F: Fn(&mut Conn<'_, C, S>, C::Item) + Send + Sync + 'static,
{
    fn on_frame(&self, cx: &mut Conn<'_, C, S>, frame: C::Item) {
        (self.0)(cx, frame)
    }
}

/// What a handler-run session does besides calling its handler when it
/// ends: a server's session leaves the server. Called once, at close or
/// (if the owner never got to close) on drop.
pub(crate) trait Leave: Send {
    fn leave(&mut self);
}

/// A dialled session has nothing to leave.
impl Leave for () {
    fn leave(&mut self) {}
}

/// The sink of a session run by a [`Handler`] (a server's, or a dialled
/// one): every event goes to the handler, inline, with the session's state.
pub(crate) struct HandlerSink<H, S, L> {
    handler: Arc<H>,
    leave: L,
    state: PhantomData<fn() -> S>,
}

impl<H, S, L> HandlerSink<H, S, L> {
    pub(crate) fn new(handler: Arc<H>, leave: L) -> Self {
        HandlerSink {
            handler,
            leave,
            state: PhantomData,
        }
    }
}

impl<C, S, H, L> Sink<C> for HandlerSink<H, S, L>
where
    C: Decoder,
    S: Default + Send + 'static,
    H: Handler<C, S>,
    L: Leave,
{
    type State = S;

    fn open(&mut self, cx: &mut Conn<'_, C, S>) {
        self.handler.on_open(cx);
    }

    fn frame(&mut self, cx: &mut Conn<'_, C, S>, frame: C::Item) -> bool {
        self.handler.on_frame(cx, frame);
        true
    }

    fn tracks_sends(&self) -> bool {
        H::REPORT_SENT
    }

    fn sent(&mut self, cx: &mut Conn<'_, C, S>, id: SendId, outcome: SendOutcome) {
        self.handler.on_sent(cx, id, outcome);
    }

    fn timer(&mut self, cx: &mut Conn<'_, C, S>, token: u64) {
        self.handler.on_timer(cx, token);
    }

    fn closed(&mut self, session: Option<&Session<C>>, state: S, reason: &CloseReason) {
        self.leave.leave();
        if let Some(session) = session {
            self.handler.on_close(session, state, reason);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use castnet_core::frame::PacketN;

    #[test]
    fn a_handler_that_does_not_ask_for_a_tick_gets_none() {
        let echo = handler_fn(|_: &mut Conn<'_, PacketN>, _: bytes::Bytes| {});
        assert_eq!(echo.tick_interval(), None);
        // A tick_interval without an on_tick of its own ticks once.
        #[allow(clippy::disallowed_methods)] // any instant: the default ignores it
        let now = Instant::now();
        assert_eq!(echo.on_tick(now), None);
    }
}
