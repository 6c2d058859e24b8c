//! Event callbacks: the [`Handler`] trait and its closure form.

use crate::session::Session;
use castnet_core::session::{CloseReason, SendId, SendOutcome};
use castnet_core::Decoder;

/// Callbacks a server (or [`Session::process`]) calls for each session.
///
/// They run on the connection's own task (`on_open` first, `on_close`
/// last), between reads and writes, so keep them short: send with
/// `try_send` / `async_send`, or hand long work to a task of your own.
///
/// A callback that panics ends its own session only: the connection is
/// dropped, its pending sends fail `Closed`, it leaves the server and its
/// channels, and `on_close` is not called. The server and every other
/// session go on.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_tokio::{Handler, Session};
///
/// struct Echo;
///
/// impl Handler<PacketN> for Echo {
///     fn on_frame(&self, session: &Session<PacketN>, frame: Bytes) {
///         let _ = session.try_send(frame);
///     }
/// }
/// ```
pub trait Handler<C: Decoder>: Send + Sync + 'static {
    /// A session opened.
    fn on_open(&self, _session: &Session<C>) {}
    /// A frame arrived.
    fn on_frame(&self, session: &Session<C>, frame: C::Item);
    /// Whether [`on_sent`](Self::on_sent) is called. Off by default: it
    /// costs an outcome event per frame, which a server that does not look
    /// at outcomes should not pay. Set it to `true` where you implement
    /// `on_sent`.
    const REPORT_SENT: bool = false;

    /// A send of this session made through its handle ended (sent, or
    /// failed and why); called only when [`REPORT_SENT`](Self::REPORT_SENT)
    /// is true. Detached broadcasts (which keep no outcomes) are not
    /// reported.
    fn on_sent(&self, _session: &Session<C>, _id: SendId, _outcome: SendOutcome) {}
    /// The session closed, for this reason. Called once, last.
    fn on_close(&self, _session: &Session<C>, _reason: &CloseReason) {}
}

/// A [`Handler`] made of one closure for frames; see [`handler_fn`].
pub struct FnHandler<F>(F);

/// A handler from a closure called for every frame.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_tokio::{handler_fn, Session};
///
/// let echo = handler_fn(|session: &Session<PacketN>, frame: Bytes| {
///     let _ = session.try_send(frame);
/// });
/// # let _ = echo;
/// ```
pub fn handler_fn<F>(f: F) -> FnHandler<F> {
    FnHandler(f)
}

impl<C, F> Handler<C> for FnHandler<F>
where
    C: Decoder,
    F: Fn(&Session<C>, C::Item) + Send + Sync + 'static,
{
    fn on_frame(&self, session: &Session<C>, frame: C::Item) {
        (self.0)(session, frame)
    }
}
