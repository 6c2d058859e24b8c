//! [`FixedLengthCodec`]: every frame is exactly N bytes.

use super::byte_items::{byte_payload_encoders, AppendBuf};
use super::{ConfigError, Decoder, EncodedFrame, FrameError, MAX_RESERVE_STEP};
use bytes::{Bytes, BytesMut};

/// Frames of exactly `frame_len` bytes, with nothing around them (Netty's
/// `FixedLengthFrameDecoder`, gnet v1's `FixedLengthFrameCodec`).
///
/// The decoder takes `frame_len` bytes at a time, growing the buffer in steps
/// of at most [`MAX_RESERVE_STEP`] while a frame is arriving; bytes left at the
/// end of the stream are [`FrameError::UnexpectedEof`]. The encoder refuses,
/// before writing anything, a payload of any other length.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{Decoder, Encoder, FixedLengthCodec};
///
/// let mut codec = FixedLengthCodec::new(4).unwrap();
/// let mut wire = BytesMut::from(&b"abcdefg"[..]);
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::from_static(b"abcd")));
/// assert_eq!(codec.decode(&mut wire).unwrap(), None);
/// assert!(codec.decode_eof(&mut wire).is_err()); // "efg" is not a frame
///
/// let mut out = BytesMut::new();
/// codec.encode("wxyz", &mut out).unwrap();
/// assert!(codec.encode("xyz", &mut out).is_err());
/// assert_eq!(&out[..], b"wxyz");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedLengthCodec {
    len: usize,
}

impl FixedLengthCodec {
    /// A codec for frames of `frame_len` bytes; 0 is a [`ConfigError`].
    pub fn new(frame_len: usize) -> Result<Self, ConfigError> {
        if frame_len == 0 {
            return Err(ConfigError::OutOfRange {
                what: "frame_len",
                detail: "a fixed frame length must be at least 1".into(),
            });
        }
        Ok(FixedLengthCodec { len: frame_len })
    }

    /// The length of every frame.
    pub fn frame_len(&self) -> usize {
        self.len
    }

    fn check(&self, len: usize) -> Result<(), FrameError> {
        let (len, want) = (len as u64, self.len as u64);
        if len > want {
            Err(FrameError::PayloadTooLarge { len, max: want })
        } else if len < want {
            Err(FrameError::PayloadTooShort { len, min: want })
        } else {
            Ok(())
        }
    }

    fn frame_for(&self, payload: Bytes) -> Result<EncodedFrame, FrameError> {
        self.check(payload.len())?;
        Ok(EncodedFrame::contiguous(payload))
    }

    /// What `write_slice` appends for a valid payload (for
    /// `byte_payload_encoders!`): the payload itself.
    #[inline]
    fn wire_len(&self, payload: usize) -> usize {
        payload
    }

    fn write_slice(&self, payload: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError> {
        self.check(payload.len())?;
        dst.extend_from_slice(payload);
        Ok(())
    }
}

impl Decoder for FixedLengthCodec {
    type Item = Bytes;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if src.len() >= self.len {
            return Ok(Some(src.split_to(self.len).freeze()));
        }
        src.reserve((self.len - src.len()).min(MAX_RESERVE_STEP));
        Ok(None)
    }
}

byte_payload_encoders!(FixedLengthCodec);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Encoder;

    #[test]
    fn frames_are_exactly_n_bytes_even_when_split_across_reads() {
        let mut c = FixedLengthCodec::new(3).unwrap();
        let mut src = BytesMut::from(&b"ab"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b"cdefg");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"abc"[..]);
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"def"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert_eq!(&src[..], b"g");
    }

    #[test]
    fn zero_frame_len_is_a_config_error() {
        assert!(matches!(
            FixedLengthCodec::new(0),
            Err(ConfigError::OutOfRange {
                what: "frame_len",
                ..
            })
        ));
    }

    #[test]
    fn large_frame_len_reserves_at_most_one_step() {
        let mut c = FixedLengthCodec::new(1 << 30).unwrap();
        let mut src = BytesMut::from(&b"abc"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert!(src.capacity() <= src.len() + MAX_RESERVE_STEP);
    }

    #[test]
    fn eof_inside_a_frame_is_unexpected_eof() {
        let mut c = FixedLengthCodec::new(2).unwrap();
        let mut src = BytesMut::from(&b"abc"[..]);
        assert_eq!(c.decode_eof(&mut src).unwrap().unwrap(), &b"ab"[..]);
        assert!(matches!(
            c.decode_eof(&mut src),
            Err(FrameError::UnexpectedEof { buffered: 1 })
        ));
    }

    #[test]
    fn encoder_refuses_any_other_length_and_writes_nothing() {
        let mut c = FixedLengthCodec::new(2).unwrap();
        let mut wire = BytesMut::new();
        assert!(matches!(
            c.encode("a", &mut wire),
            Err(FrameError::PayloadTooShort { len: 1, min: 2 })
        ));
        assert!(matches!(
            c.encode("abc", &mut wire),
            Err(FrameError::PayloadTooLarge { len: 3, max: 2 })
        ));
        assert!(wire.is_empty());
        let payload = Bytes::from_static(b"ok");
        let frame = c.encode_frame(payload.clone()).unwrap();
        assert_eq!(frame.body().as_ptr(), payload.as_ptr());
        assert_eq!(frame.len(), 2);
    }
}
