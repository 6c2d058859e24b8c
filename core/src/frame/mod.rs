//! Framing: turning a byte stream into frames and frames into bytes.
//!
//! This module owns the codec traits ([`Decoder`], [`Encoder`]), the outbound
//! frame type ([`EncodedFrame`]) and every built-in codec. It must never do IO,
//! read a clock, or allocate because a peer *declared* a length: buffers grow
//! only as bytes actually arrive.
//!
//! The shape follows tokio-util's codec traits, so a user of `Framed` feels at
//! home: `decode` returns `Ok(None)` for "need more bytes", `Ok(Some(frame))`
//! for a frame, and `Err(FrameError)` for a fatal (or, with
//! [`FrameError::is_recoverable`], a reported and skipped) condition.
//!
//! Built-in codecs, all with `Bytes` frames (zero-copy slices of the read
//! buffer) and encoders for `Bytes`, `&[u8]`, `Vec<u8>`, `&str` and `String`:
//!
//! | codec | frame on the wire |
//! |---|---|
//! | [`PacketN`] | 1/2/4/8-byte length, then the payload (the default) |
//! | [`VarintCodec`] | an unsigned LEB128 varint length (protobuf-style), then the payload |
//! | [`LengthFieldCodec`] | a 1..=8-byte length anywhere in a header, adjusted, header stripped |
//! | [`FixedLengthCodec`] | exactly N bytes |
//! | [`DelimiterCodec`] | bytes up to a delimiter (any byte string) |
//! | [`LinesCodec`], [`Utf8LinesCodec`] | a line ending in LF or CRLF |
//! | [`RawCodec`] | whatever has arrived (no framing) |
//!
//! Typed messages, each format behind its cargo feature: every codec that
//! encodes `Bytes` also encodes `Json<T>` (feature `json`), `MsgPack<T>`
//! (`msgpack`) and `Xml<T>` (`xml`) for any `T: Serialize`, and
//! `TypedFrame` reads a received frame back as a `T` (or a `Typed` codec
//! hands over every frame as one); a message that cannot
//! be serialised is refused with [`FrameError::Serialize`].

mod byte_items;
mod delimiter;
mod encoded;
mod error;
mod fixed;
mod length_field;
mod lines;
mod packet;
mod prefixed;
#[cfg(test)]
mod prefixed_tests;
mod raw;
pub mod typed;
mod uint;
mod varint;

pub use delimiter::{DelimiterCodec, DelimiterCodecBuilder};
pub use encoded::{EncodedFrame, MAX_INLINE_HEAD};
pub use error::{ConfigError, FrameError};
pub use fixed::FixedLengthCodec;
pub use length_field::{LengthFieldCodec, LengthFieldCodecBuilder};
pub use lines::{LineEnding, LinesCodec, LinesCodecBuilder, Utf8LinesCodec};
pub use packet::{
    ByteOrder, HeaderLen, OversizePolicy, PacketN, PacketNBuilder, DEFAULT_MAX_FRAME_LEN,
};
pub use raw::RawCodec;
#[cfg(feature = "json")]
pub use typed::Json;
#[cfg(feature = "msgpack")]
pub use typed::MsgPack;
#[cfg(feature = "xml")]
pub use typed::Xml;
#[cfg(any(feature = "json", feature = "msgpack", feature = "xml"))]
pub use typed::{DecodeError, Typed, TypedFrame, TypedMessage};
pub use typed::{Format, SerializeError};
pub use varint::{VarintCodec, VarintCodecBuilder, MAX_VARINT_LEN};

use bytes::BytesMut;

/// The most a decoder reserves in one step for a frame it has started to
/// receive. A frame larger than this grows its buffer step by step as its
/// bytes arrive, so a peer that declares a large length and then stalls pins
/// memory in proportion to what it actually sent: at most one step beyond it,
/// or twice it once `BytesMut` rounds a growing allocation up (it at most
/// doubles), never the declared length.
pub const MAX_RESERVE_STEP: usize = 64 * 1024;

/// Splits a byte stream into frames.
///
/// Decoders are driven with a growing [`BytesMut`]: `decode` removes the bytes
/// of each complete frame from `src` and leaves partial input in place for the
/// next call. A decoder that keeps state across calls (a partly read header, a
/// frame being discarded) keeps it in `self`.
///
/// # A codec with per-frame context
///
/// A frame's item can carry anything the protocol puts in its header, the way
/// gev's `UnPacket` returns a context beside the payload. Here a 1-byte command
/// and a 2-byte big-endian length precede the payload:
///
/// ```
/// use bytes::{Buf, BufMut, Bytes, BytesMut};
/// use castnet_core::frame::{Decoder, EncodedFrame, Encoder, FrameError};
///
/// #[derive(Debug, PartialEq)]
/// struct Cmd { code: u8, body: Bytes }
///
/// struct CmdCodec;
///
/// impl Decoder for CmdCodec {
///     type Item = Cmd;
///     fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Cmd>, FrameError> {
///         if src.len() < 3 {
///             return Ok(None);
///         }
///         let len = u16::from_be_bytes([src[1], src[2]]) as usize;
///         if src.len() < 3 + len {
///             return Ok(None);
///         }
///         let code = src[0];
///         src.advance(3);
///         Ok(Some(Cmd { code, body: src.split_to(len).freeze() }))
///     }
/// }
///
/// impl Encoder<Cmd> for CmdCodec {
///     fn encode_frame(&mut self, item: Cmd) -> Result<EncodedFrame, FrameError> {
///         let len = u16::try_from(item.body.len()).map_err(|_| FrameError::PayloadTooLarge {
///             len: item.body.len() as u64,
///             max: u16::MAX as u64,
///         })?;
///         let [hi, lo] = len.to_be_bytes();
///         Ok(EncodedFrame::new(&[item.code, hi, lo], item.body, Bytes::new()))
///     }
/// }
///
/// let mut codec = CmdCodec;
/// let mut wire = BytesMut::new();
/// codec.encode(Cmd { code: 7, body: Bytes::from_static(b"hi") }, &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x07\x00\x02hi");
/// let cmd = codec.decode(&mut wire).unwrap().unwrap();
/// assert_eq!(cmd, Cmd { code: 7, body: Bytes::from_static(b"hi") });
/// ```
pub trait Decoder {
    /// What one decoded frame is.
    type Item;

    /// Takes one frame off the front of `src`, or returns `Ok(None)` when
    /// `src` does not hold a whole frame yet.
    ///
    /// An implementation may `reserve` room in `src` for the rest of a frame
    /// it has started, but never more than [`MAX_RESERVE_STEP`] at a time and
    /// never for a length it has not validated.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FrameError>;

    /// Called once the stream has ended. The default decodes what it can and
    /// reports [`FrameError::UnexpectedEof`] if a partial frame remains.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(FrameError::UnexpectedEof {
                buffered: src.len(),
            }),
        }
    }
}

/// Turns an item into bytes for the wire.
///
/// The required method, [`encode_frame`](Encoder::encode_frame), produces an
/// [`EncodedFrame`]: a small header beside the untouched payload, ready for a
/// vectored write. [`encode`](Encoder::encode) appends one contiguous copy to a
/// buffer (what a `Framed` writer or an encode-once broadcast wants).
///
/// An encoder validates before it produces anything: on `Err`, nothing was
/// written to `dst`.
pub trait Encoder<Item> {
    /// Encodes `item` as header + payload (+ tail) without copying the payload.
    fn encode_frame(&mut self, item: Item) -> Result<EncodedFrame, FrameError>;

    /// Appends the encoded `item` to `dst` as one contiguous run of bytes.
    /// On error `dst` is left untouched.
    fn encode(&mut self, item: Item, dst: &mut BytesMut) -> Result<(), FrameError> {
        let frame = self.encode_frame(item)?;
        dst.reserve(frame.len());
        dst.extend_from_slice(frame.head());
        dst.extend_from_slice(frame.body());
        dst.extend_from_slice(frame.tail());
        Ok(())
    }

    /// The exact length [`encode`](Self::encode) appends for `item` if it is
    /// valid, when that is known without encoding (a header plus the
    /// payload's length, say); `None`, the default, when it is not.
    ///
    /// A runtime uses it to copy a small frame straight into a buffer it
    /// packs frames into ([`encode_to_vec`](Self::encode_to_vec)), and to
    /// keep large payloads uncopied. The built-in codecs know it for byte
    /// payloads.
    fn encoded_len(&self, item: &Item) -> Option<usize> {
        let _ = item;
        None
    }

    /// Appends the encoded `item` to `dst`, as [`encode`](Self::encode) does
    /// to a `BytesMut`; on error `dst` is left untouched. The default goes
    /// through [`encode_frame`](Self::encode_frame).
    fn encode_to_vec(&mut self, item: Item, dst: &mut Vec<u8>) -> Result<(), FrameError> {
        self.encode_frame(item)?.copy_into(dst);
        Ok(())
    }
}
