//! [`LengthFieldCodec`]: a length field of 1 to 8 bytes anywhere in a fixed
//! header, with a length adjustment and bytes to strip (Netty's
//! `LengthFieldBasedFrameDecoder`, tokio-util's `LengthDelimitedCodec`).

use super::byte_items::{byte_payload_encoders, AppendBuf};
use super::uint::{read_uint, uint_max, write_uint};
use super::{
    ByteOrder, ConfigError, Decoder, EncodedFrame, FrameError, OversizePolicy,
    DEFAULT_MAX_FRAME_LEN, MAX_INLINE_HEAD, MAX_RESERVE_STEP,
};
use bytes::{Buf, Bytes, BytesMut};

/// A general length-field codec: `length_field_offset` bytes of header, an
/// unsigned length field of `length_field_len` bytes (1 to 8, 3 included), then
/// the rest of the frame.
///
/// ```text
/// |<- offset ->|<- field ->|<------------- adjusted length ------------->|
/// +------------+-----------+---------------------------------------------+
/// |  header 1  |  length   |  header 2 (if any) and payload              |
/// +------------+-----------+---------------------------------------------+
/// |<--- bytes_to_strip --->|<------------ the decoded frame ------------>|
/// ```
///
/// The rules, which are Netty's:
///
/// - The **adjusted length** is the field's value plus `length_adjustment`. It
///   counts the bytes that **follow the length field**, so the whole frame on
///   the wire is `offset + field + adjusted` bytes. A field that counts the
///   whole frame takes `length_adjustment = -(offset + field)`; a field that
///   leaves out a second header after it takes `+(that header's size)`.
/// - `max_frame_len` bounds the adjusted length, checked as a 128-bit value
///   after the adjustment and before any buffer is reserved. Under the default
///   configuration it is exactly [`PacketN`](super::PacketN)'s payload bound.
/// - `bytes_to_strip` bytes are removed from the front of the whole frame
///   (default, as drawn: `offset + field`, the header up to the end of the
///   length field).
///   Stripping never changes where a frame ends.
/// - A header whose adjusted length is negative, or whose frame is shorter than
///   `bytes_to_strip`, is [`FrameError::InvalidLength`]; one over the maximum is
///   [`FrameError::FrameTooLarge`], or with [`OversizePolicy::Discard`] is
///   skipped as it arrives and reported once as [`FrameError::FrameDiscarded`].
///
/// Coming from elsewhere:
///
/// - Netty: `lengthAdjustment` and `initialBytesToStrip` mean the same here;
///   Netty's `maxFrameLength` counts the whole frame, so set `max_frame_len` to
///   it minus `offset + field`.
/// - tokio-util: with `num_skip` left at its default the two agree, except that
///   tokio-util checks its maximum before the adjustment. tokio-util's adjusted
///   length counts from `num_skip` rather than from the end of the length
///   field (the surprise of tokio issues #2818 and #6604): its
///   `(length_adjustment = a, num_skip = s)` is this codec's
///   `(length_adjustment = a + s - offset - field, bytes_to_strip = s)`.
///
/// **Encoding** takes the frame without its length field: the item's first
/// `length_field_offset` bytes are written, then the field holding
/// `item.len() - offset - length_adjustment`, then the rest of the item,
/// untouched (with offset 0 this is exactly tokio-util's encoder). Stripping is
/// a decoding matter, so a peer decoding with the same configuration receives
/// the written frame minus its first `bytes_to_strip` bytes: with the defaults
/// and offset 0, the item itself. The encoder refuses, before writing anything,
/// an item that such a peer would refuse.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{Decoder, Encoder, LengthFieldCodec};
///
/// // A 1-byte type, then a 3-byte big-endian length that counts the whole frame.
/// let mut codec = LengthFieldCodec::builder()
///     .length_field_offset(1)
///     .length_field_len(3)
///     .length_adjustment(-4)
///     .bytes_to_strip(0)
///     .build()
///     .unwrap();
///
/// let mut wire = BytesMut::new();
/// codec.encode(Bytes::from_static(b"\x07hi"), &mut wire).unwrap();
/// assert_eq!(&wire[..], b"\x07\x00\x00\x06hi");
///
/// let frame = codec.decode(&mut wire).unwrap().unwrap();
/// assert_eq!(&frame[..], b"\x07\x00\x00\x06hi");
/// assert!(wire.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct LengthFieldCodec {
    offset: usize,
    field_len: usize,
    /// `offset + field_len`: bytes needed to read the length.
    header_end: usize,
    adjustment: i64,
    strip: usize,
    order: ByteOrder,
    /// Fewest bytes after the length field a valid frame has (encoder check).
    min_after: usize,
    /// Most bytes after the length field a valid frame has: the configured
    /// maximum, clamped to what the field expresses and to memory.
    max_after: usize,
    oversize: OversizePolicy,
    state: DecodeState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecodeState {
    /// Waiting for a whole header (up to the end of the length field).
    Head,
    /// Header validated, nothing consumed yet; the whole frame is this long.
    Frame(usize),
    /// Skipping an oversized frame; this many bytes are still to skip. 128
    /// bits: a 64-bit field plus a positive adjustment and the header.
    Discard(u128),
}

impl Default for LengthFieldCodec {
    /// The defaults of [`LengthFieldCodec::builder`]: the same wire format as
    /// `PacketN::default()`.
    fn default() -> Self {
        LengthFieldCodecBuilder::default()
            .build()
            .expect("the default length-field configuration is valid")
    }
}

impl LengthFieldCodec {
    /// A codec with the default configuration (see [`LengthFieldCodec::builder`]).
    pub fn new() -> Self {
        LengthFieldCodec::default()
    }

    /// A builder. Defaults: offset 0, a 4-byte big-endian field, adjustment 0,
    /// strip `offset + field`, maximum [`DEFAULT_MAX_FRAME_LEN`],
    /// [`OversizePolicy::Fail`].
    pub fn builder() -> LengthFieldCodecBuilder {
        LengthFieldCodecBuilder::default()
    }

    /// Bytes of header before the length field.
    pub fn length_field_offset(&self) -> usize {
        self.offset
    }

    /// Size of the length field in bytes (1 to 8).
    pub fn length_field_len(&self) -> usize {
        self.field_len
    }

    /// What is added to the field's value to get the adjusted length.
    pub fn length_adjustment(&self) -> i64 {
        self.adjustment
    }

    /// Bytes removed from the front of each decoded frame.
    pub fn bytes_to_strip(&self) -> usize {
        self.strip
    }

    /// Byte order of the length field.
    pub fn byte_order(&self) -> ByteOrder {
        self.order
    }

    /// The largest adjusted length accepted (the bytes after the length field),
    /// after clamping to what the field can express.
    pub fn max_frame_len(&self) -> u64 {
        self.max_after as u64
    }

    /// The oversize policy.
    pub fn oversize_policy(&self) -> OversizePolicy {
        self.oversize
    }

    /// The length field's value for an item of `len` bytes, or the refusal.
    #[inline]
    fn field_value(&self, len: usize) -> Result<u64, FrameError> {
        let too_short = || FrameError::PayloadTooShort {
            len: len as u64,
            min: (self.offset + self.min_after) as u64,
        };
        let after = len.checked_sub(self.offset).ok_or_else(too_short)?;
        if after < self.min_after {
            return Err(too_short());
        }
        if after > self.max_after {
            return Err(FrameError::PayloadTooLarge {
                len: len as u64,
                max: (self.offset as u64).saturating_add(self.max_after as u64),
            });
        }
        // `min_after >= adjustment` and `max_after <= uint_max + adjustment`:
        // the value is in 0..=uint_max(field_len).
        Ok((after as i128 - i128::from(self.adjustment)) as u64)
    }

    fn frame_for(&self, item: Bytes) -> Result<EncodedFrame, FrameError> {
        if self.header_end > MAX_INLINE_HEAD {
            let mut out = BytesMut::new();
            self.write_slice(&item, &mut out)?;
            return Ok(EncodedFrame::contiguous(out.freeze()));
        }
        let value = self.field_value(item.len())?;
        let field = write_uint(value, self.field_len, self.order);
        let mut head = [0u8; MAX_INLINE_HEAD];
        head[..self.offset].copy_from_slice(&item[..self.offset]);
        head[self.offset..self.header_end].copy_from_slice(&field[..self.field_len]);
        Ok(EncodedFrame::new(
            &head[..self.header_end],
            item.slice(self.offset..),
            Bytes::new(),
        ))
    }

    /// What `write_slice` appends for a valid payload of `item` bytes (for
    /// `byte_payload_encoders!`).
    #[inline]
    fn wire_len(&self, item: usize) -> usize {
        self.field_len + item
    }

    fn write_slice(&self, item: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError> {
        let value = self.field_value(item.len())?;
        let field = write_uint(value, self.field_len, self.order);
        dst.reserve(self.field_len + item.len());
        dst.extend_from_slice(&item[..self.offset]);
        dst.extend_from_slice(&field[..self.field_len]);
        dst.extend_from_slice(&item[self.offset..]);
        Ok(())
    }

    /// Validates the header at the front of `src` (whole, not consumed) and
    /// returns the length of its whole frame.
    fn validate_header(&mut self, src: &[u8]) -> Result<usize, FrameError> {
        let raw = read_uint(&src[self.offset..self.header_end], self.order);
        // i128 holds any u64 plus any i64: a hostile field cannot wrap.
        let adjusted = i128::from(raw) + i128::from(self.adjustment);
        if adjusted < 0 {
            return Err(FrameError::InvalidLength(
                "adjusted length is negative: the frame would end inside its own header",
            ));
        }
        if adjusted > self.max_after as i128 {
            let declared = u64::try_from(adjusted).unwrap_or(u64::MAX);
            let max = self.max_after as u64;
            return Err(match self.oversize {
                OversizePolicy::Fail => FrameError::FrameTooLarge { declared, max },
                OversizePolicy::Discard => {
                    self.state = DecodeState::Discard(self.header_end as u128 + adjusted as u128);
                    FrameError::FrameDiscarded { declared, max }
                }
            });
        }
        // `adjusted <= max_after <= usize::MAX - header_end`: no overflow.
        let frame_len = self.header_end + adjusted as usize;
        if frame_len < self.strip {
            return Err(FrameError::InvalidLength(
                "frame is shorter than the bytes to strip",
            ));
        }
        Ok(frame_len)
    }
}

impl Decoder for LengthFieldCodec {
    type Item = Bytes;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        loop {
            match self.state {
                DecodeState::Head => {
                    if src.len() < self.header_end {
                        return Ok(None);
                    }
                    let frame_len = self.validate_header(src)?;
                    self.state = DecodeState::Frame(frame_len);
                }
                DecodeState::Frame(frame_len) => {
                    if src.len() < frame_len {
                        let missing = frame_len - src.len();
                        src.reserve(missing.min(MAX_RESERVE_STEP));
                        return Ok(None);
                    }
                    self.state = DecodeState::Head;
                    src.advance(self.strip);
                    return Ok(Some(src.split_to(frame_len - self.strip).freeze()));
                }
                DecodeState::Discard(left) => {
                    let skip = left.min(src.len() as u128);
                    src.advance(skip as usize);
                    if skip < left {
                        self.state = DecodeState::Discard(left - skip);
                        return Ok(None);
                    }
                    self.state = DecodeState::Head;
                }
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() && self.state == DecodeState::Head => Ok(None),
            None => Err(FrameError::UnexpectedEof {
                buffered: src.len(),
            }),
        }
    }
}

byte_payload_encoders!(LengthFieldCodec);

/// Builds a [`LengthFieldCodec`]; [`build`](Self::build) validates the options
/// together and refuses a configuration under which no frame is valid.
#[derive(Debug, Clone)]
pub struct LengthFieldCodecBuilder {
    offset: usize,
    field_len: usize,
    adjustment: i64,
    strip: Option<usize>,
    order: ByteOrder,
    max: u64,
    oversize: OversizePolicy,
}

impl Default for LengthFieldCodecBuilder {
    fn default() -> Self {
        LengthFieldCodecBuilder {
            offset: 0,
            field_len: 4,
            adjustment: 0,
            strip: None,
            order: ByteOrder::Big,
            max: DEFAULT_MAX_FRAME_LEN,
            oversize: OversizePolicy::Fail,
        }
    }
}

impl LengthFieldCodecBuilder {
    /// Bytes of header before the length field (default 0).
    pub fn length_field_offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// Size of the length field in bytes: 1 to 8, 3 included (default 4).
    /// Anything else makes [`build`](Self::build) fail.
    pub fn length_field_len(mut self, n: usize) -> Self {
        self.field_len = n;
        self
    }

    /// Added to the field's value to get the adjusted length, the number of
    /// bytes after the length field (default 0).
    pub fn length_adjustment(mut self, adjustment: i64) -> Self {
        self.adjustment = adjustment;
        self
    }

    /// Bytes removed from the front of each decoded frame (default: the header
    /// up to the end of the length field, `offset + field`). May reach into
    /// what follows the field.
    pub fn bytes_to_strip(mut self, n: usize) -> Self {
        self.strip = Some(n);
        self
    }

    /// Byte order of the length field (default big-endian).
    pub fn byte_order(mut self, order: ByteOrder) -> Self {
        self.order = order;
        self
    }

    /// The largest adjusted length accepted, that is the most bytes that may
    /// follow the length field (default 8 MiB). Clamped to what the field can
    /// express after the adjustment.
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max = max;
        self
    }

    /// What to do with a frame over the maximum (default [`OversizePolicy::Fail`]).
    pub fn oversize_policy(mut self, policy: OversizePolicy) -> Self {
        self.oversize = policy;
        self
    }

    /// The codec, or why the options cannot work together.
    pub fn build(self) -> Result<LengthFieldCodec, ConfigError> {
        if !(1..=8).contains(&self.field_len) {
            return Err(ConfigError::InvalidLengthFieldLen(self.field_len));
        }
        let header_end =
            self.offset
                .checked_add(self.field_len)
                .ok_or_else(|| ConfigError::OutOfRange {
                    what: "length_field_offset",
                    detail: "offset plus field length overflows usize".into(),
                })?;
        let strip = self.strip.unwrap_or(header_end);
        let adjustment = i128::from(self.adjustment);

        // The most bytes after the field: what the field expresses once
        // adjusted, the configured maximum, and what fits in memory.
        let expressible = i128::from(uint_max(self.field_len)) + adjustment;
        if expressible < 0 {
            return Err(ConfigError::OutOfRange {
                what: "length_adjustment",
                detail: format!(
                    "{} makes every value of a {}-byte field a negative length",
                    self.adjustment, self.field_len
                ),
            });
        }
        let max_after = expressible
            .min(i128::from(self.max))
            .min((usize::MAX - header_end) as i128);

        // The fewest: a field value of 0 (when the adjustment is positive) and
        // a frame at least as long as the bytes to strip.
        let after_strip = strip as i128 - header_end as i128;
        if adjustment > max_after {
            return Err(ConfigError::OutOfRange {
                what: "length_adjustment",
                detail: format!(
                    "{} exceeds the maximum frame length {max_after}",
                    self.adjustment
                ),
            });
        }
        if after_strip > max_after {
            return Err(ConfigError::OutOfRange {
                what: "bytes_to_strip",
                detail: format!(
                    "{strip} is more than the longest frame ({} bytes)",
                    header_end as i128 + max_after
                ),
            });
        }
        let min_after = adjustment.max(after_strip).max(0);

        Ok(LengthFieldCodec {
            offset: self.offset,
            field_len: self.field_len,
            header_end,
            adjustment: self.adjustment,
            strip,
            order: self.order,
            // Both lie in 0..=usize::MAX - header_end.
            min_after: min_after as usize,
            max_after: max_after as usize,
            oversize: self.oversize,
            state: DecodeState::Head,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Encoder;

    fn codec(b: LengthFieldCodecBuilder) -> LengthFieldCodec {
        b.build().unwrap()
    }

    fn buf(bytes: &[u8]) -> BytesMut {
        BytesMut::from(bytes)
    }

    #[test]
    fn default_config_reads_a_4_byte_big_endian_payload_length() {
        let mut c = LengthFieldCodec::new();
        let mut src = buf(b"\x00\x00\x00\x05hello\x00\x00\x00\x00");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b""[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert!(src.is_empty());
    }

    #[test]
    fn zero_length_frame_is_valid_and_encodes_back() {
        // The field counts itself: 2 means nothing follows it.
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(2)
                .length_adjustment(-2),
        );
        let mut src = buf(b"\x00\x02\x00\x03z");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b""[..]);
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"z"[..]);
        let mut wire = BytesMut::new();
        c.encode(Bytes::new(), &mut wire).unwrap();
        assert_eq!(&wire[..], b"\x00\x02");
    }

    #[test]
    fn frame_split_across_reads_is_returned_once_complete() {
        let mut c = LengthFieldCodec::new();
        let mut src = buf(b"\x00\x00\x00\x05he");
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b"ll");
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b"o!");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(&src[..], b"!");
    }

    #[test]
    fn partial_header_is_kept_across_reads() {
        let mut c = codec(LengthFieldCodec::builder().length_field_offset(2));
        let mut src = BytesMut::new();
        for &b in b"ab\x00\x00\x00" {
            src.extend_from_slice(&[b]);
            assert_eq!(c.decode(&mut src).unwrap(), None);
        }
        src.extend_from_slice(b"\x01z");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"z"[..]);
    }

    #[test]
    fn many_frames_in_one_read_are_returned_in_order() {
        let mut c = codec(LengthFieldCodec::builder().length_field_len(1));
        let mut src = buf(b"\x01a\x02bc\x00\x03def");
        let mut got = Vec::new();
        while let Some(f) = c.decode(&mut src).unwrap() {
            got.push(f);
        }
        assert_eq!(got, [&b"a"[..], b"bc", b"", b"def"]);
    }

    #[test]
    fn max_frame_len_is_accepted_and_one_more_is_refused_before_any_reserve() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(2)
                .max_frame_len(3),
        );
        let mut src = buf(b"\x00\x03abc");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"abc"[..]);

        let mut src = BytesMut::with_capacity(2);
        src.extend_from_slice(b"\x00\x04");
        let cap = src.capacity();
        let err = c.decode(&mut src).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::FrameTooLarge {
                    declared: 4,
                    max: 3
                }
            ),
            "{err:?}"
        );
        assert_eq!(src.capacity(), cap);
    }

    #[test]
    fn max_is_checked_after_the_adjustment() {
        // The field counts the 2-byte header too: 0x0005 means 3 payload bytes.
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(2)
                .length_adjustment(-2)
                .max_frame_len(3),
        );
        let mut src = buf(b"\x00\x05abc\x00\x06");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"abc"[..]);
        let err = c.decode(&mut src).unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::FrameTooLarge {
                    declared: 4,
                    max: 3
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn u64_max_length_field_is_refused_without_reserving() {
        let mut c = codec(LengthFieldCodec::builder().length_field_len(8));
        let mut src = buf(&[0xff; 8]);
        let cap = src.capacity();
        let err = c.decode(&mut src).unwrap_err();
        assert!(
            matches!(err, FrameError::FrameTooLarge { declared: u64::MAX, max } if max == DEFAULT_MAX_FRAME_LEN),
            "{err:?}"
        );
        assert_eq!(src.capacity(), cap);
    }

    // On 64-bit targets an adjustment of i64::MAX stays under the (clamped)
    // maximum, so the configuration is valid and only the sum overflows.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn length_that_overflows_u64_after_adjustment_is_refused_not_wrapped() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(8)
                .length_adjustment(i64::MAX)
                .max_frame_len(u64::MAX),
        );
        let mut src = buf(&[0xff; 8]);
        let cap = src.capacity();
        let err = c.decode(&mut src).unwrap_err();
        assert!(
            matches!(err, FrameError::FrameTooLarge { declared: u64::MAX, max } if max == u64::MAX - 8),
            "{err:?}"
        );
        assert_eq!(src.capacity(), cap);
        // The largest value that does not overflow is still checked exactly.
        let mut src = buf(&(u64::MAX - 8 - i64::MAX as u64).to_be_bytes());
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert!(src.capacity() <= src.len() + MAX_RESERVE_STEP);
    }

    #[test]
    fn length_below_a_negative_adjustment_is_invalid() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(2)
                .length_adjustment(-2),
        );
        let mut src = buf(b"\x00\x01a");
        assert!(matches!(
            c.decode(&mut src),
            Err(FrameError::InvalidLength(_))
        ));
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(8)
                .length_adjustment(i64::MIN),
        );
        let mut src = buf(&[0, 0, 0, 0, 0, 0, 0, 1]);
        assert!(matches!(
            c.decode(&mut src),
            Err(FrameError::InvalidLength(_))
        ));
    }

    #[test]
    fn frame_shorter_than_bytes_to_strip_is_invalid() {
        // Strip the 1-byte field and 2 bytes after it: a frame needs >= 2.
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(1)
                .bytes_to_strip(3),
        );
        let mut src = buf(b"\x02xyP\x01x");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b""[..]);
        assert_eq!(&src[..], b"P\x01x");
        src.advance(1);
        assert!(matches!(
            c.decode(&mut src),
            Err(FrameError::InvalidLength(_))
        ));
    }

    #[test]
    fn negative_adjustment_reads_a_length_that_counts_the_whole_frame() {
        // Netty's "length includes header": 0x000E = 2 + 12.
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(2)
                .length_adjustment(-2)
                .bytes_to_strip(0),
        );
        let mut src = buf(b"\x00\x0eHELLO, WORLD");
        assert_eq!(
            c.decode(&mut src).unwrap().unwrap(),
            &b"\x00\x0eHELLO, WORLD"[..]
        );
    }

    #[test]
    fn offset_adjustment_and_strip_select_the_second_header_and_payload() {
        // Netty's HDR1 | LEN | HDR2 | content example, stripping HDR1 and LEN.
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_offset(1)
                .length_field_len(2)
                .length_adjustment(1)
                .bytes_to_strip(3),
        );
        let mut src = buf(b"\xca\x00\x0c\xfeHELLO, WORLD");
        assert_eq!(
            c.decode(&mut src).unwrap().unwrap(),
            &b"\xfeHELLO, WORLD"[..]
        );
        assert!(src.is_empty());
    }

    #[test]
    fn strip_zero_keeps_the_header_in_the_frame() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(1)
                .bytes_to_strip(0),
        );
        let mut src = buf(b"\x02ab");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"\x02ab"[..]);
    }

    #[test]
    fn three_byte_length_field_is_read_in_both_byte_orders() {
        for (order, head) in [
            (ByteOrder::Big, b"\x00\x01\x02"),
            (ByteOrder::Little, b"\x02\x01\x00"),
        ] {
            let mut c = codec(
                LengthFieldCodec::builder()
                    .length_field_len(3)
                    .byte_order(order),
            );
            let mut src = BytesMut::from(&head[..]);
            src.extend_from_slice(&[7u8; 0x0102]);
            let frame = c.decode(&mut src).unwrap().unwrap();
            assert_eq!(frame.len(), 0x0102);
            let mut wire = BytesMut::new();
            c.encode(frame, &mut wire).unwrap();
            assert_eq!(&wire[..3], head);
        }
    }

    #[test]
    fn large_declared_length_reserves_at_most_one_step() {
        let mut c = codec(LengthFieldCodec::builder().max_frame_len(u64::MAX));
        let mut src = buf(b"\x7f\xff\xff\xffabc");
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert!(
            src.capacity() <= src.len() + MAX_RESERVE_STEP,
            "{}",
            src.capacity()
        );
    }

    #[test]
    fn discard_policy_skips_the_oversized_frame_and_resynchronises() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_offset(1)
                .length_field_len(1)
                .bytes_to_strip(2)
                .max_frame_len(2)
                .oversize_policy(OversizePolicy::Discard),
        );
        let mut src = buf(b"T\x05ab");
        let err = c.decode(&mut src).unwrap_err();
        assert!(err.is_recoverable());
        assert!(matches!(
            err,
            FrameError::FrameDiscarded {
                declared: 5,
                max: 2
            }
        ));
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert!(src.is_empty());
        src.extend_from_slice(b"cdeT\x02okT");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"ok"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
    }

    #[test]
    fn eof_inside_a_frame_or_header_is_unexpected_eof() {
        let mut c = LengthFieldCodec::new();
        let mut src = buf(b"\x00\x00");
        assert!(matches!(
            c.decode_eof(&mut src),
            Err(FrameError::UnexpectedEof { buffered: 2 })
        ));
        let mut c = LengthFieldCodec::new();
        let mut src = buf(b"\x00\x00\x00\x02a");
        assert!(matches!(
            c.decode_eof(&mut src),
            Err(FrameError::UnexpectedEof { buffered: 5 })
        ));
        let mut src = buf(b"\x00\x00\x00\x01a");
        let mut c = LengthFieldCodec::new();
        assert_eq!(c.decode_eof(&mut src).unwrap().unwrap(), &b"a"[..]);
        assert_eq!(c.decode_eof(&mut src).unwrap(), None);
    }

    #[test]
    fn eof_while_discarding_is_unexpected_eof() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(1)
                .max_frame_len(1)
                .oversize_policy(OversizePolicy::Discard),
        );
        let mut src = buf(b"\x09abc");
        assert!(c.decode(&mut src).unwrap_err().is_recoverable());
        assert!(matches!(
            c.decode_eof(&mut src),
            Err(FrameError::UnexpectedEof { buffered: 0 })
        ));
    }

    #[test]
    fn length_field_len_outside_1_to_8_is_a_config_error() {
        for n in [0, 9, usize::MAX] {
            let err = LengthFieldCodec::builder()
                .length_field_len(n)
                .build()
                .unwrap_err();
            assert_eq!(err, ConfigError::InvalidLengthFieldLen(n));
        }
    }

    #[test]
    fn offset_that_overflows_is_a_config_error() {
        let err = LengthFieldCodec::builder()
            .length_field_offset(usize::MAX)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::OutOfRange {
                what: "length_field_offset",
                ..
            }
        ));
    }

    #[test]
    fn adjustment_that_makes_every_length_negative_is_a_config_error() {
        let err = LengthFieldCodec::builder()
            .length_field_len(1)
            .length_adjustment(-256)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::OutOfRange {
                what: "length_adjustment",
                ..
            }
        ));
        // -255 still lets a field of 0xff mean an empty frame.
        let c = codec(
            LengthFieldCodec::builder()
                .length_field_len(1)
                .length_adjustment(-255),
        );
        assert_eq!(c.max_frame_len(), 0);
    }

    #[test]
    fn adjustment_above_the_maximum_is_a_config_error() {
        let err = LengthFieldCodec::builder()
            .length_adjustment(11)
            .max_frame_len(10)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::OutOfRange {
                what: "length_adjustment",
                ..
            }
        ));
    }

    #[test]
    fn strip_longer_than_any_frame_is_a_config_error() {
        let err = LengthFieldCodec::builder()
            .length_field_len(1)
            .max_frame_len(4)
            .bytes_to_strip(6)
            .build()
            .unwrap_err();
        assert!(matches!(
            err,
            ConfigError::OutOfRange {
                what: "bytes_to_strip",
                ..
            }
        ));
        assert!(LengthFieldCodec::builder()
            .length_field_len(1)
            .max_frame_len(4)
            .bytes_to_strip(5)
            .build()
            .is_ok());
    }

    #[test]
    fn maximum_is_clamped_to_what_the_field_expresses_after_adjustment() {
        let c = codec(
            LengthFieldCodec::builder()
                .length_field_len(1)
                .length_adjustment(3),
        );
        assert_eq!(c.max_frame_len(), 258);
        let c = codec(
            LengthFieldCodec::builder()
                .length_field_len(3)
                .max_frame_len(u64::MAX),
        );
        assert_eq!(c.max_frame_len(), 0xff_ffff);
    }

    #[test]
    fn encoder_writes_the_length_with_the_adjustment_undone() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_len(2)
                .byte_order(ByteOrder::Little)
                .length_adjustment(-2),
        );
        let mut wire = BytesMut::new();
        c.encode("abc", &mut wire).unwrap();
        assert_eq!(&wire[..], b"\x05\x00abc");
    }

    #[test]
    fn encoder_inserts_the_field_after_the_offset_bytes() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_offset(2)
                .length_field_len(1),
        );
        let frame = c.encode_frame(Bytes::from_static(b"T1body")).unwrap();
        assert_eq!(frame.head(), b"T1\x04");
        assert_eq!(frame.into_contiguous(), &b"T1\x04body"[..]);
    }

    #[test]
    fn encode_frame_keeps_the_body_without_copying() {
        let mut c = LengthFieldCodec::new();
        let payload = Bytes::from(vec![1u8; 100]);
        let frame = c.encode_frame(payload.clone()).unwrap();
        assert_eq!(frame.body().as_ptr(), payload.as_ptr());
        assert_eq!(frame.head(), b"\x00\x00\x00\x64");
    }

    #[test]
    fn header_longer_than_the_inline_head_is_encoded_contiguously() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_offset(12)
                .length_field_len(8),
        );
        let item = Bytes::from(vec![9u8; 15]);
        let frame = c.encode_frame(item.clone()).unwrap();
        let mut wire = BytesMut::new();
        c.encode(item, &mut wire).unwrap();
        assert_eq!(frame.into_contiguous(), wire.freeze());
    }

    #[test]
    fn encoder_refuses_what_a_peer_would_refuse_and_writes_nothing() {
        let mut c = codec(
            LengthFieldCodec::builder()
                .length_field_offset(1)
                .length_field_len(1)
                .length_adjustment(2)
                .max_frame_len(5),
        );
        let mut wire = BytesMut::new();
        // Shorter than the offset plus the 2 bytes the adjustment adds.
        let err = c.encode(&b"T1"[..], &mut wire).unwrap_err();
        assert!(
            matches!(err, FrameError::PayloadTooShort { len: 2, min: 3 }),
            "{err:?}"
        );
        // More than 5 bytes after the field.
        let err = c.encode(&b"T123456"[..], &mut wire).unwrap_err();
        assert!(
            matches!(err, FrameError::PayloadTooLarge { len: 7, max: 6 }),
            "{err:?}"
        );
        assert!(wire.is_empty());
        c.encode(&b"T12"[..], &mut wire).unwrap();
        assert_eq!(&wire[..], b"T\x0012");
    }
}
