//! [`VarintCodec`]: an unsigned LEB128 (varint) length prefix, then the
//! payload.

use super::byte_items::{byte_payload_encoders, AppendBuf};
use super::prefixed::{declared_len, BodyState};
use super::{Decoder, EncodedFrame, FrameError, OversizePolicy, DEFAULT_MAX_FRAME_LEN};
use bytes::{Bytes, BytesMut};

/// The most bytes a varint length prefix takes: ten 7-bit groups hold a
/// `u64` (the tenth carries its top bit only).
pub const MAX_VARINT_LEN: usize = 10;

/// The varint codec: the payload's length as an unsigned LEB128 varint (7
/// bits per byte, least significant group first, the high bit set on every
/// byte but the last), followed by exactly that many payload bytes. This is
/// the framing of protobuf's length-delimited streams
/// (`writeDelimitedTo` / `parseDelimitedFrom`) and of message-io's
/// `FramedTcp`. The length counts the payload only; a zero-length payload is
/// a valid frame (the single byte `0x00`).
///
/// Limits and refusals are those of [`PacketN`](super::PacketN):
///
/// - A declared length is checked against `max_frame_len` as the raw 64-bit
///   value, as soon as its last byte has arrived and before any buffer is
///   reserved for it. Over the maximum it is refused with
///   [`FrameError::FrameTooLarge`] (the prefix left in place, the stream
///   unusable) or, under [`OversizePolicy::Discard`], skipped as it arrives
///   and reported once with [`FrameError::FrameDiscarded`].
/// - Below the maximum the decoder reserves at most [`MAX_RESERVE_STEP`](super::MAX_RESERVE_STEP)
///   more room at a time, and only while the frame's bytes are arriving.
/// - A prefix that cannot be a `u64` (more than [`MAX_VARINT_LEN`] bytes, or
///   a tenth byte above `0x01`) is [`FrameError::VarintOverflow`], fatal
///   under either policy: there is no length to skip by. At most
///   [`MAX_VARINT_LEN`] bytes are ever looked at for a prefix.
///
/// **Non-canonical prefixes are accepted**, as protobuf's parsers accept
/// them: `0x80 0x00` is a length of 0, `0x81 0x80 0x00` a length of 1. A
/// padded prefix is still at most [`MAX_VARINT_LEN`] bytes, so accepting it
/// costs nothing, and it lets a peer reserve a fixed-size prefix and fill it
/// in later. The encoder always writes the shortest form.
///
/// There is no byte order to choose: LEB128 has one.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{Decoder, Encoder, FrameError, VarintCodec};
///
/// let mut codec = VarintCodec::new();
/// let mut wire = BytesMut::new();
/// codec.encode(Bytes::from_static(b"ping"), &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x04ping");
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::from_static(b"ping")));
///
/// // 300 bytes take a two-byte prefix: 0xac 0x02.
/// codec.encode(vec![7u8; 300], &mut wire).unwrap();
/// assert_eq!(wire[..2], [0xac, 0x02]);
/// assert_eq!(codec.decode(&mut wire).unwrap().unwrap().len(), 300);
///
/// // Over the maximum: refused before anything is reserved.
/// let mut small = VarintCodec::builder().max_frame_len(100).build();
/// let mut src = BytesMut::from(&[0xe5, 0x00][..]); // 101, non-canonical
/// assert!(matches!(
///     small.decode(&mut src),
///     Err(FrameError::FrameTooLarge { declared: 101, max: 100 })
/// ));
/// ```
#[derive(Debug, Clone)]
pub struct VarintCodec {
    max: u64,
    oversize: OversizePolicy,
    state: BodyState,
}

/// What the front of a buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    /// A whole prefix of `n` bytes declaring `len`.
    Whole { len: u64, n: usize },
    /// The start of a prefix: more bytes are needed.
    Partial,
    /// Not a `u64`: `n` bytes read when that was certain.
    Overflow { n: usize },
}

/// Reads the varint prefix at the front of `src`, looking at no more than
/// [`MAX_VARINT_LEN`] bytes.
#[inline]
fn read_prefix(src: &[u8]) -> Prefix {
    let mut len = 0u64;
    for (i, &byte) in src.iter().take(MAX_VARINT_LEN).enumerate() {
        let group = u64::from(byte & 0x7f);
        if i == MAX_VARINT_LEN - 1 && byte > 1 {
            // The tenth group holds bit 63 only; anything more, or a
            // continuation bit, overflows.
            return Prefix::Overflow { n: i + 1 };
        }
        len |= group << (7 * i);
        if byte & 0x80 == 0 {
            return Prefix::Whole { len, n: i + 1 };
        }
    }
    Prefix::Partial
}

/// `len` as a shortest-form varint, in the first `n` bytes of the array.
#[inline]
fn write_prefix(mut len: u64) -> ([u8; MAX_VARINT_LEN], usize) {
    let mut out = [0u8; MAX_VARINT_LEN];
    let mut n = 0;
    while len >= 0x80 {
        out[n] = (len as u8) | 0x80;
        len >>= 7;
        n += 1;
    }
    out[n] = len as u8;
    (out, n + 1)
}

/// How many bytes the shortest varint for `len` takes (1 to 10).
#[inline]
pub(crate) const fn varint_len(len: u64) -> usize {
    let bits = 64 - (len | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

impl Default for VarintCodec {
    /// The [`DEFAULT_MAX_FRAME_LEN`] maximum (8 MiB), `Fail` on oversize.
    fn default() -> Self {
        VarintCodec::new()
    }
}

impl VarintCodec {
    /// A codec with the default maximum ([`DEFAULT_MAX_FRAME_LEN`]) and
    /// [`OversizePolicy::Fail`].
    pub fn new() -> Self {
        VarintCodec::builder().build()
    }

    /// A builder starting from the defaults of [`VarintCodec::new`].
    pub fn builder() -> VarintCodecBuilder {
        VarintCodecBuilder::default()
    }

    /// The largest payload accepted (clamped to what fits in memory on this
    /// target).
    pub fn max_frame_len(&self) -> u64 {
        self.max
    }

    /// The oversize policy.
    pub fn oversize_policy(&self) -> OversizePolicy {
        self.oversize
    }

    /// Encodes `payload` and returns it as one contiguous `Bytes`: what an
    /// encode-once broadcast shares between every recipient.
    pub fn encode_to_bytes(&self, payload: &[u8]) -> Result<Bytes, FrameError> {
        let (head, n) = self.head_for(payload.len())?;
        Ok([&head[..n], payload].concat().into())
    }

    /// The prefix for a payload of `len` bytes, or the refusal.
    #[inline]
    fn head_for(&self, len: usize) -> Result<([u8; MAX_VARINT_LEN], usize), FrameError> {
        declared_len(len, self.max).map(write_prefix)
    }

    /// Prefix beside the untouched payload (for `byte_payload_encoders!`).
    #[inline]
    fn frame_for(&self, payload: Bytes) -> Result<EncodedFrame, FrameError> {
        let (head, n) = self.head_for(payload.len())?;
        Ok(EncodedFrame::new(&head[..n], payload, Bytes::new()))
    }

    /// What `write_slice` appends for a valid payload of `payload` bytes (for
    /// `byte_payload_encoders!`).
    #[inline]
    fn wire_len(&self, payload: usize) -> usize {
        varint_len(payload as u64) + payload
    }

    /// Prefix and payload appended to `dst`, or nothing written (for
    /// `byte_payload_encoders!`).
    #[inline]
    fn write_slice(&self, payload: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError> {
        let (head, n) = self.head_for(payload.len())?;
        dst.reserve(n + payload.len());
        dst.extend_from_slice(&head[..n]);
        dst.extend_from_slice(payload);
        Ok(())
    }
}

impl Decoder for VarintCodec {
    type Item = Bytes;

    #[inline]
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        self.state
            .decode(src, self.max, self.oversize, |src| match read_prefix(src) {
                Prefix::Whole { len, n } => Ok(Some((len, n))),
                Prefix::Partial => Ok(None),
                Prefix::Overflow { n } => Err(FrameError::VarintOverflow { bytes: n }),
            })
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let frame = self.decode(src)?;
        self.state.frame_or_end(frame, src)
    }
}

byte_payload_encoders!(VarintCodec);

/// Builds a [`VarintCodec`]. Every combination of options works, so
/// [`build`](Self::build) cannot fail.
#[derive(Debug, Clone)]
pub struct VarintCodecBuilder {
    max: u64,
    oversize: OversizePolicy,
}

impl Default for VarintCodecBuilder {
    fn default() -> Self {
        VarintCodecBuilder {
            max: DEFAULT_MAX_FRAME_LEN,
            oversize: OversizePolicy::Fail,
        }
    }
}

impl VarintCodecBuilder {
    /// The largest payload accepted (default 8 MiB), clamped to what fits in
    /// memory on this target (`usize::MAX`).
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max = max;
        self
    }

    /// What to do with a frame over the maximum (default [`OversizePolicy::Fail`]).
    pub fn oversize_policy(mut self, policy: OversizePolicy) -> Self {
        self.oversize = policy;
        self
    }

    /// The codec.
    pub fn build(self) -> VarintCodec {
        VarintCodec {
            max: self.max.min(usize::MAX as u64),
            oversize: self.oversize,
            state: BodyState::Head,
        }
    }
}

#[cfg(test)]
mod tests;
