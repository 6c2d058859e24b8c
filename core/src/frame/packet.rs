//! [`PacketN`]: an N-byte length header (N = 1, 2, 4 or 8), then the payload.

use super::byte_items::{byte_payload_encoders, AppendBuf};
use super::prefixed::{declared_len, BodyState};
use super::{ConfigError, Decoder, EncodedFrame, FrameError};
use bytes::{Bytes, BytesMut};

/// Default largest payload [`PacketN`] accepts: 8 MiB.
pub const DEFAULT_MAX_FRAME_LEN: u64 = 8 * 1024 * 1024;

/// How many bytes the length header of a [`PacketN`] frame takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderLen {
    /// A 1-byte header: payloads up to 255 bytes.
    One,
    /// A 2-byte header: payloads up to 65,535 bytes.
    Two,
    /// A 4-byte header: payloads up to 4 GiB − 1.
    Four,
    /// An 8-byte header.
    Eight,
}

impl HeaderLen {
    /// The header size in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            HeaderLen::One => 1,
            HeaderLen::Two => 2,
            HeaderLen::Four => 4,
            HeaderLen::Eight => 8,
        }
    }

    /// The largest length this header can express.
    pub const fn max_len(self) -> u64 {
        match self {
            HeaderLen::One => u8::MAX as u64,
            HeaderLen::Two => u16::MAX as u64,
            HeaderLen::Four => u32::MAX as u64,
            HeaderLen::Eight => u64::MAX,
        }
    }
}

impl TryFrom<usize> for HeaderLen {
    type Error = ConfigError;

    /// `1`, `2`, `4` or `8`; anything else is [`ConfigError::InvalidHeaderLen`].
    fn try_from(n: usize) -> Result<Self, ConfigError> {
        match n {
            1 => Ok(HeaderLen::One),
            2 => Ok(HeaderLen::Two),
            4 => Ok(HeaderLen::Four),
            8 => Ok(HeaderLen::Eight),
            other => Err(ConfigError::InvalidHeaderLen(other)),
        }
    }
}

/// Byte order of a length header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ByteOrder {
    /// Most significant byte first (network order). The default.
    #[default]
    Big,
    /// Least significant byte first.
    Little,
}

/// What a decoder does with a frame whose declared length is over the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum OversizePolicy {
    /// Fail with [`FrameError::FrameTooLarge`]; the stream is unusable after it.
    /// The default.
    #[default]
    Fail,
    /// Skip the frame's bytes as they arrive, report it once with
    /// [`FrameError::FrameDiscarded`], and go on with the next frame.
    Discard,
}

/// The PacketN codec: an N-byte unsigned length header, big- or little-endian,
/// followed by exactly that many payload bytes. The length counts the payload
/// only; a zero-length payload is a valid frame.
///
/// A declared length is checked against `max_frame_len` as the raw 64-bit value
/// read from the wire, before any conversion and before any buffer is reserved
/// for it. Below the maximum the decoder asks for at most [`MAX_RESERVE_STEP`](super::MAX_RESERVE_STEP)
/// more room at a time, and only while the frame's bytes are arriving, so the
/// buffer grows with what the peer sent, never with what it declared.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{ByteOrder, Decoder, Encoder, HeaderLen, PacketN};
///
/// let mut codec = PacketN::builder()
///     .header_len(HeaderLen::Two)
///     .byte_order(ByteOrder::Little)
///     .build()
///     .unwrap();
/// let mut wire = BytesMut::new();
/// codec.encode(Bytes::from_static(b"ping"), &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x04\x00ping");
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::from_static(b"ping")));
///
/// // 256 bytes do not fit a 1-byte header: refused, nothing written.
/// let mut one = PacketN::new(HeaderLen::One, ByteOrder::Big);
/// let mut out = BytesMut::new();
/// assert!(one.encode(Bytes::from(vec![0u8; 256]), &mut out).is_err());
/// assert!(out.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct PacketN {
    header: HeaderLen,
    order: ByteOrder,
    max: u64,
    oversize: OversizePolicy,
    state: BodyState,
}

impl Default for PacketN {
    /// A 4-byte big-endian header, 8 MiB maximum, `Fail` on oversize.
    fn default() -> Self {
        PacketN::new(HeaderLen::Four, ByteOrder::Big)
    }
}

impl PacketN {
    /// A codec with the given header and the default maximum
    /// ([`DEFAULT_MAX_FRAME_LEN`], clamped to what the header can express).
    pub fn new(header: HeaderLen, order: ByteOrder) -> Self {
        PacketN {
            header,
            order,
            max: clamp_max(header, DEFAULT_MAX_FRAME_LEN),
            oversize: OversizePolicy::Fail,
            state: BodyState::Head,
        }
    }

    /// A builder starting from the defaults of [`PacketN::default`].
    pub fn builder() -> PacketNBuilder {
        PacketNBuilder::default()
    }

    /// The header size.
    pub fn header_len(&self) -> HeaderLen {
        self.header
    }

    /// The header byte order.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The largest payload accepted, after clamping to the header's range.
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
        let mut out = BytesMut::new();
        self.write_slice(payload, &mut out)?;
        Ok(out.freeze())
    }

    /// The header for a payload of `len` bytes (its first `n` bytes), or the
    /// refusal. Shared with codecs layered on PacketN (the P2P envelope).
    #[inline]
    pub(crate) fn head_for(&self, len: usize) -> Result<([u8; 8], usize), FrameError> {
        let len64 = declared_len(len, self.max)?;
        let n = self.header.bytes();
        // The length shifted into the first `n` bytes: whole-word stores, no
        // copy of a variable length on the per-frame path.
        let head = match self.order {
            ByteOrder::Big => (len64 << (64 - 8 * n)).to_be_bytes(),
            ByteOrder::Little => len64.to_le_bytes(),
        };
        Ok((head, n))
    }

    /// Header beside the untouched payload (for `byte_payload_encoders!`).
    #[inline]
    fn frame_for(&self, payload: Bytes) -> Result<EncodedFrame, FrameError> {
        let (head, n) = self.head_for(payload.len())?;
        Ok(EncodedFrame::from_head_word(head, n, payload, Bytes::new()))
    }

    /// What `write_slice` appends for a valid payload of `payload` bytes (for
    /// `byte_payload_encoders!`).
    #[inline]
    fn wire_len(&self, payload: usize) -> usize {
        self.header.bytes() + payload
    }

    /// Header and payload appended to `dst`, or nothing written (for
    /// `byte_payload_encoders!`).
    #[inline]
    fn write_slice(&self, payload: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError> {
        let (head, n) = self.head_for(payload.len())?;
        // All 8 bytes of `head` go in as one fixed-size copy and the `8 - n`
        // after the header are cut off again: no branch on the header size and
        // no variable-length copy, which keeps this small enough to inline.
        dst.reserve(head.len() + payload.len());
        dst.extend_from_slice(&head);
        dst.truncate(dst.len() - (head.len() - n));
        dst.extend_from_slice(payload);
        Ok(())
    }
}

/// The raw declared length at the front of `src`, which holds at least a
/// whole header. One fixed-size read per case: no copy of a variable length.
#[inline]
fn read_len(header: HeaderLen, order: ByteOrder, src: &[u8]) -> u64 {
    fn array<const N: usize>(src: &[u8]) -> [u8; N] {
        src[..N].try_into().expect("a slice of N bytes")
    }
    match (header, order) {
        (HeaderLen::One, _) => u64::from(src[0]),
        (HeaderLen::Two, ByteOrder::Big) => u64::from(u16::from_be_bytes(array(src))),
        (HeaderLen::Two, ByteOrder::Little) => u64::from(u16::from_le_bytes(array(src))),
        (HeaderLen::Four, ByteOrder::Big) => u64::from(u32::from_be_bytes(array(src))),
        (HeaderLen::Four, ByteOrder::Little) => u64::from(u32::from_le_bytes(array(src))),
        (HeaderLen::Eight, ByteOrder::Big) => u64::from_be_bytes(array(src)),
        (HeaderLen::Eight, ByteOrder::Little) => u64::from_le_bytes(array(src)),
    }
}

fn clamp_max(header: HeaderLen, max: u64) -> u64 {
    // A frame must also fit in memory on this target (8-byte headers on 32-bit).
    max.min(header.max_len()).min(usize::MAX as u64)
}

impl Decoder for PacketN {
    type Item = Bytes;

    // Inlined into the session's decode loop: no call per frame.
    #[inline]
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let (header, order) = (self.header, self.order);
        self.state.decode(src, self.max, self.oversize, |src| {
            let n = header.bytes();
            Ok((src.len() >= n).then(|| (read_len(header, order, src), n)))
        })
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let frame = self.decode(src)?;
        self.state.frame_or_end(frame, src)
    }
}

byte_payload_encoders!(PacketN);

/// Builds a [`PacketN`]; every option is validated by [`build`](Self::build).
#[derive(Debug, Clone)]
pub struct PacketNBuilder {
    header: Result<HeaderLen, ConfigError>,
    order: ByteOrder,
    max: u64,
    oversize: OversizePolicy,
}

impl Default for PacketNBuilder {
    fn default() -> Self {
        PacketNBuilder {
            header: Ok(HeaderLen::Four),
            order: ByteOrder::Big,
            max: DEFAULT_MAX_FRAME_LEN,
            oversize: OversizePolicy::Fail,
        }
    }
}

impl PacketNBuilder {
    /// The header size.
    pub fn header_len(mut self, header: HeaderLen) -> Self {
        self.header = Ok(header);
        self
    }

    /// The header size as a number of bytes, as it comes from a flag or a
    /// config file; anything but 1, 2, 4 or 8 makes [`build`](Self::build) fail.
    pub fn header_bytes(mut self, n: usize) -> Self {
        self.header = HeaderLen::try_from(n);
        self
    }

    /// The header byte order (default big-endian).
    pub fn byte_order(mut self, order: ByteOrder) -> Self {
        self.order = order;
        self
    }

    /// The largest payload accepted (default 8 MiB). Clamped to what the
    /// header can express: with a 1-byte header the maximum is at most 255.
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max = max;
        self
    }

    /// What to do with a frame over the maximum (default [`OversizePolicy::Fail`]).
    pub fn oversize_policy(mut self, policy: OversizePolicy) -> Self {
        self.oversize = policy;
        self
    }

    /// The codec, or the first option that cannot work.
    pub fn build(self) -> Result<PacketN, ConfigError> {
        let header = self.header?;
        Ok(PacketN {
            header,
            order: self.order,
            max: clamp_max(header, self.max),
            oversize: self.oversize,
            state: BodyState::Head,
        })
    }
}

#[cfg(test)]
mod tests;
