//! [`PeerHeartbeat`]: which received frames are the peer's heartbeats, kept
//! from the handler and from `recv`.

use castnet_core::Decoder;
use std::sync::Arc;

/// Which frames received on a session are its peer's heartbeats (set with
/// [`Config::peer_heartbeat`](crate::Config::peer_heartbeat), or per
/// session with [`Conn::set_peer_heartbeat`](crate::Conn::set_peer_heartbeat)).
///
/// A frame it matches keeps the session alive like any other bytes from the
/// peer (the peer timeout counts from the last bytes received, whatever they
/// are), is counted in `frames_in`, `bytes_in` and
/// [`Stats::heartbeats_received`](crate::Stats::heartbeats_received), and
/// goes no further: it is not handed to
/// [`Handler::on_frame`](crate::Handler::on_frame) nor to
/// [`Session::recv`](crate::Session::recv). Every other frame is delivered
/// as usual. Without one (the default) every frame is delivered, heartbeats
/// included.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::PacketN;
/// use castnet_engine::{Config, PeerHeartbeat};
///
/// // The peer beats with the payload "ping" (`Session::set_heartbeat`).
/// let config = Config::default().peer_heartbeat(PeerHeartbeat::payload("ping"));
/// // Or any frame an empty payload, by a predicate.
/// let empty = PeerHeartbeat::<PacketN>::matching(|frame: &Bytes| frame.is_empty());
/// assert!(empty.is_heartbeat(&Bytes::new()));
/// assert!(!empty.is_heartbeat(&Bytes::from_static(b"data")));
/// // A closure has nothing to show: `Debug` (and so `Config`'s) says so.
/// assert_eq!(format!("{empty:?}"), "PeerHeartbeat(..)");
/// # let _ = config;
/// ```
pub struct PeerHeartbeat<C>(Arc<dyn Matches<C>>);

/// A predicate on a codec's frames, behind the codec type alone (so that
/// [`Config`](crate::Config) needs no `Decoder` bound to hold one).
trait Matches<C>: Send + Sync {
    fn matches(&self, frame: &<C as Decoder>::Item) -> bool
    where
        C: Decoder;
}

impl<C, F> Matches<C> for F
where
    C: Decoder,
    F: Fn(&C::Item) -> bool + Send + Sync,
{
    fn matches(&self, frame: &C::Item) -> bool {
        self(frame)
    }
}

impl<C: Decoder> PeerHeartbeat<C> {
    /// Frames for which `is_heartbeat` returns true are heartbeats.
    pub fn matching(is_heartbeat: impl Fn(&C::Item) -> bool + Send + Sync + 'static) -> Self {
        PeerHeartbeat(Arc::new(is_heartbeat))
    }

    /// Frames whose payload is exactly `payload` are heartbeats.
    pub fn payload(payload: impl Into<bytes::Bytes>) -> Self
    where
        C::Item: AsRef<[u8]>,
    {
        let payload = payload.into();
        Self::matching(move |frame: &C::Item| frame.as_ref() == &payload[..])
    }

    /// True when `frame` is a heartbeat.
    pub fn is_heartbeat(&self, frame: &C::Item) -> bool {
        self.0.matches(frame)
    }
}

impl<C> Clone for PeerHeartbeat<C> {
    fn clone(&self) -> Self {
        PeerHeartbeat(self.0.clone())
    }
}

impl<C> std::fmt::Debug for PeerHeartbeat<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerHeartbeat(..)")
    }
}
