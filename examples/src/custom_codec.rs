//! Two protocols served by castnet-tokio servers, for the `custom_codec`
//! binary: a text command server on castnet's [`Utf8LinesCodec`], and a
//! binary protocol whose codec is written here ([`TaggedCodec`], castnet's
//! [`Decoder`] and [`Encoder`] with per-frame context).
//!
//! - **Lines** ([`KvStore`]): `SET key value` answers `OK`, `GET key`
//!   answers `VALUE value` or `NIL`, `QUIT` answers `BYE` and closes;
//!   anything else answers `ERR ...`. Lines are at most [`MAX_LINE`] bytes
//!   of UTF-8; a longer line or invalid UTF-8 is a decode error that closes
//!   that connection only.
//! - **Tagged frames** ([`Tagged`]): a 1-byte [`Kind`], a 2-byte request id
//!   and a 2-byte payload length (big-endian) ahead of the payload.
//!   [`Requests`] answers each request with a reply carrying the same id.
//!   An unknown kind byte or a declared length over the codec's maximum is
//!   a typed [`FrameError`] that closes that connection only.

use crate::server::Serving;
use bytes::{Buf, Bytes, BytesMut};
use castnet_core::frame::{
    Decoder, EncodedFrame, Encoder, FrameError, LinesCodec, Utf8LinesCodec, MAX_RESERVE_STEP,
};
use castnet_core::session::CloseReason;
use castnet_tokio::{Config, Conn, Handler, Server, Session};
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The longest line [`KvStore`] accepts, without its ending.
pub const MAX_LINE: u64 = 1024;

/// The line codec [`KvStore`] speaks: UTF-8 lines of at most [`MAX_LINE`]
/// bytes, ending in LF or CRLF (answers end in LF).
pub fn lines_codec() -> Utf8LinesCodec {
    LinesCodec::builder().max_line_len(MAX_LINE).build_utf8()
}

/// Why each connection of a server closed, in order: what the handlers of
/// this module record in `on_close` (and log).
#[derive(Debug, Clone, Default)]
pub struct Closes(Arc<Mutex<Vec<CloseReason>>>);

impl Closes {
    fn push(&self, reason: &CloseReason) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(reason.clone());
    }

    /// Every close reason so far.
    pub fn reasons(&self) -> Vec<CloseReason> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The text command server: one key-value map shared by every connection.
#[derive(Debug, Default)]
pub struct KvStore {
    map: Mutex<HashMap<String, String>>,
    closes: Closes,
}

impl KvStore {
    fn answer(&self, line: &str) -> Option<String> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let mut words = line.splitn(3, ' ');
        Some(match (words.next(), words.next(), words.next()) {
            (Some("SET"), Some(key), Some(value)) => {
                map.insert(key.to_owned(), value.to_owned());
                "OK".to_owned()
            }
            (Some("GET"), Some(key), None) => match map.get(key) {
                Some(value) => format!("VALUE {value}"),
                None => "NIL".to_owned(),
            },
            (Some("QUIT"), None, None) => return None,
            _ => "ERR expected SET key value, GET key or QUIT".to_owned(),
        })
    }
}

impl Handler<Utf8LinesCodec> for KvStore {
    fn on_frame(&self, cx: &mut Conn<'_, Utf8LinesCodec>, line: String) {
        match self.answer(&line) {
            Some(answer) => {
                let _ = cx.send(answer);
            }
            None => {
                let _ = cx.send("BYE");
                cx.close(); // graceful: BYE is written first
            }
        }
    }

    fn on_close(&self, session: &Session<Utf8LinesCodec>, _: (), reason: &CloseReason) {
        tracing::info!(session = %session.id(), %reason, "lines: connection closed");
        self.closes.push(reason);
    }
}

/// What a tagged frame is for: its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Request: answer with the payload unchanged.
    Echo,
    /// Request: answer with the payload in ASCII upper case.
    Upper,
    /// Answer to the request with the same id.
    Reply,
    /// The request with the same id was refused; the payload says why.
    Error,
}

impl Kind {
    /// The byte on the wire.
    pub const fn to_byte(self) -> u8 {
        match self {
            Kind::Echo => 1,
            Kind::Upper => 2,
            Kind::Reply => 0x80,
            Kind::Error => 0xff,
        }
    }

    /// The kind this byte stands for, if any.
    pub const fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            1 => Some(Kind::Echo),
            2 => Some(Kind::Upper),
            0x80 => Some(Kind::Reply),
            0xff => Some(Kind::Error),
            _ => None,
        }
    }
}

/// One tagged frame: the per-frame context (kind, request id) and the
/// payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    /// What the frame is for.
    pub kind: Kind,
    /// The request id; a reply carries its request's.
    pub id: u16,
    /// The payload (a slice of the read buffer when decoded).
    pub payload: Bytes,
}

impl Tagged {
    /// A frame of `kind` with request id `id`.
    pub fn new(kind: Kind, id: u16, payload: impl Into<Bytes>) -> Tagged {
        Tagged {
            kind,
            id,
            payload: payload.into(),
        }
    }
}

/// Bytes ahead of a tagged frame's payload: kind (1), id (2), length (2).
pub const TAGGED_HEADER: usize = 5;

/// A decode error of [`TaggedCodec`] that is the protocol's own, carried in
/// [`FrameError::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TaggedError {
    /// The first byte of a frame is no [`Kind`].
    #[error("unknown frame kind {0:#04x}")]
    UnknownKind(u8),
}

/// The codec of [`Tagged`] frames: `kind:u8 id:u16 len:u16 payload`, the
/// numbers big-endian.
///
/// Decoding checks the kind and the declared length before it reserves
/// anything, and then reserves at most [`MAX_RESERVE_STEP`] at a time; an
/// unknown kind is [`TaggedError::UnknownKind`] (in [`FrameError::Other`]),
/// a length over [`max_payload`](Self::max_payload) is
/// [`FrameError::FrameTooLarge`]. Both are fatal: the stream cannot be
/// trusted past them. Encoding refuses a payload over the maximum with
/// [`FrameError::PayloadTooLarge`] before writing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaggedCodec {
    max_payload: u16,
}

impl Default for TaggedCodec {
    /// Payloads of at most 4 KiB.
    fn default() -> Self {
        TaggedCodec { max_payload: 4096 }
    }
}

impl TaggedCodec {
    /// A codec accepting payloads of at most `max_payload` bytes.
    pub const fn new(max_payload: u16) -> Self {
        TaggedCodec { max_payload }
    }

    /// The largest payload accepted either way.
    pub const fn max_payload(&self) -> u16 {
        self.max_payload
    }
}

impl Decoder for TaggedCodec {
    type Item = Tagged;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Tagged>, FrameError> {
        let Some(&first) = src.first() else {
            return Ok(None);
        };
        let kind = Kind::from_byte(first)
            .ok_or_else(|| FrameError::other(TaggedError::UnknownKind(first)))?;
        if src.len() < TAGGED_HEADER {
            return Ok(None);
        }
        let id = u16::from_be_bytes([src[1], src[2]]);
        let len = u16::from_be_bytes([src[3], src[4]]);
        if len > self.max_payload {
            return Err(FrameError::FrameTooLarge {
                declared: len.into(),
                max: self.max_payload.into(),
            });
        }
        let whole = TAGGED_HEADER + usize::from(len);
        if src.len() < whole {
            // The length is validated: room for the rest, a step at a time.
            src.reserve((whole - src.len()).min(MAX_RESERVE_STEP));
            return Ok(None);
        }
        src.advance(TAGGED_HEADER);
        let payload = src.split_to(usize::from(len)).freeze();
        Ok(Some(Tagged { kind, id, payload }))
    }
}

impl Encoder<Tagged> for TaggedCodec {
    fn encode_frame(&mut self, frame: Tagged) -> Result<EncodedFrame, FrameError> {
        let len = u16::try_from(frame.payload.len())
            .ok()
            .filter(|&len| len <= self.max_payload)
            .ok_or(FrameError::PayloadTooLarge {
                len: frame.payload.len() as u64,
                max: self.max_payload.into(),
            })?;
        let [id_hi, id_lo] = frame.id.to_be_bytes();
        let [len_hi, len_lo] = len.to_be_bytes();
        let head = [frame.kind.to_byte(), id_hi, id_lo, len_hi, len_lo];
        Ok(EncodedFrame::new(&head, frame.payload, Bytes::new()))
    }

    fn encoded_len(&self, frame: &Tagged) -> Option<usize> {
        (frame.payload.len() <= usize::from(self.max_payload))
            .then_some(TAGGED_HEADER + frame.payload.len())
    }
}

/// Answers tagged requests, each reply carrying its request's id.
#[derive(Debug, Default)]
pub struct Requests {
    closes: Closes,
}

impl Handler<TaggedCodec> for Requests {
    fn on_frame(&self, cx: &mut Conn<'_, TaggedCodec>, request: Tagged) {
        let reply = match request.kind {
            Kind::Echo => Tagged::new(Kind::Reply, request.id, request.payload),
            Kind::Upper => Tagged::new(
                Kind::Reply,
                request.id,
                request.payload.to_ascii_uppercase(),
            ),
            Kind::Reply | Kind::Error => Tagged::new(Kind::Error, request.id, "not a request"),
        };
        let _ = cx.send(reply);
    }

    fn on_close(&self, session: &Session<TaggedCodec>, _: (), reason: &CloseReason) {
        tracing::info!(session = %session.id(), %reason, "tagged: connection closed");
        self.closes.push(reason);
    }
}

/// A server of this module running on a Tokio task, and why its
/// connections closed.
pub struct Running<C: Decoder> {
    serving: Serving<C>,
    closes: Closes,
}

impl<C> Running<C>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
{
    /// Where it listens.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.serving.local_addr()
    }

    /// Why each connection closed so far, in order.
    pub fn close_reasons(&self) -> Vec<CloseReason> {
        self.closes.reasons()
    }

    /// How many connections are open.
    pub fn session_count(&self) -> usize {
        self.serving.server().session_count()
    }

    /// Stops gracefully and waits for the serving task.
    pub async fn stop(self) -> io::Result<()> {
        self.serving.stop().await
    }
}

async fn start<C, H>(addr: &str, codec: C, handler: H, closes: Closes) -> io::Result<Running<C>>
where
    C: Decoder + Clone + Send + Sync + 'static,
    C::Item: Send,
    H: Handler<C>,
{
    let server: Server<C> = Server::bind(addr, Config::new(codec)).await?;
    Ok(Running {
        serving: Serving::start(server, handler),
        closes,
    })
}

/// Starts the text command server ([`KvStore`]) on `addr`.
pub async fn start_lines(addr: &str) -> io::Result<Running<Utf8LinesCodec>> {
    let store = KvStore::default();
    let closes = store.closes.clone();
    start(addr, lines_codec(), store, closes).await
}

/// Starts the tagged-frame server ([`Requests`]) on `addr`.
pub async fn start_tagged(addr: &str) -> io::Result<Running<TaggedCodec>> {
    let requests = Requests::default();
    let closes = requests.closes.clone();
    start(addr, TaggedCodec::default(), requests, closes).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_frames_round_trip_with_their_context() {
        let mut codec = TaggedCodec::default();
        let mut wire = BytesMut::new();
        codec
            .encode(Tagged::new(Kind::Upper, 0x0102, "hi"), &mut wire)
            .unwrap();
        assert_eq!(&wire[..], b"\x02\x01\x02\x00\x02hi");
        assert_eq!(
            codec.decode(&mut wire).unwrap(),
            Some(Tagged::new(Kind::Upper, 0x0102, "hi"))
        );
        assert!(wire.is_empty());
    }

    #[test]
    fn bad_input_is_a_typed_error_and_nothing_is_reserved_for_it() {
        let mut codec = TaggedCodec::new(8);
        let mut unknown = BytesMut::from(&b"\x07"[..]);
        let err = codec.decode(&mut unknown).unwrap_err();
        assert!(err.to_string().contains("unknown frame kind 0x07"), "{err}");
        let mut too_long = BytesMut::from(&b"\x01\x00\x01\xff\xff"[..]);
        let before = too_long.capacity();
        assert!(matches!(
            codec.decode(&mut too_long),
            Err(FrameError::FrameTooLarge {
                declared: 0xffff,
                max: 8
            })
        ));
        assert_eq!(too_long.capacity(), before);
        let mut out = BytesMut::new();
        assert!(matches!(
            codec.encode(Tagged::new(Kind::Echo, 1, vec![0; 9]), &mut out),
            Err(FrameError::PayloadTooLarge { len: 9, max: 8 })
        ));
        assert!(out.is_empty());
    }
}
