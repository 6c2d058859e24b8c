//! Event callbacks: the [`Handler`] trait and its closure form.

use crate::handle::Session;
use crate::owner::Conn;
use castnet_core::session::{CloseReason, SendId, SendOutcome};
use castnet_core::Decoder;

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
