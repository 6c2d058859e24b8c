//! [`RawCodec`]: no framing at all.

use super::byte_items::{byte_payload_encoders, AppendBuf};
use super::{Decoder, EncodedFrame, FrameError};
use bytes::{Bytes, BytesMut};

/// Pass-through: no framing (tokio-util's `BytesCodec`, gnet v1's
/// `BuiltInFrameCodec`). Each `decode` returns every buffered byte as one
/// frame, so frame boundaries are wherever the reads happened to stop; the
/// encoder writes payloads as they are.
///
/// For protocols that frame themselves in the handler, proxies, and streams of
/// opaque bytes.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{Decoder, Encoder, RawCodec};
///
/// let mut codec = RawCodec::new();
/// let mut wire = BytesMut::from(&b"any bytes"[..]);
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::from_static(b"any bytes")));
/// assert_eq!(codec.decode(&mut wire).unwrap(), None);
///
/// codec.encode("as is", &mut wire).unwrap();
/// assert_eq!(&wire[..], b"as is");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RawCodec;

impl RawCodec {
    /// The codec.
    pub fn new() -> Self {
        RawCodec
    }

    fn frame_for(&self, payload: Bytes) -> Result<EncodedFrame, FrameError> {
        Ok(EncodedFrame::contiguous(payload))
    }

    /// What `write_slice` appends (for `byte_payload_encoders!`): the
    /// payload itself.
    #[inline]
    fn wire_len(&self, payload: usize) -> usize {
        payload
    }

    fn write_slice(&self, payload: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError> {
        dst.extend_from_slice(payload);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        if src.is_empty() {
            return Ok(None);
        }
        Ok(Some(src.split().freeze()))
    }
}

byte_payload_encoders!(RawCodec);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Encoder;

    #[test]
    fn decode_returns_every_buffered_byte_and_nothing_when_empty() {
        let mut c = RawCodec::new();
        let mut src = BytesMut::with_capacity(64);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b"abc");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"abc"[..]);
        assert!(src.is_empty());
        assert_eq!(c.decode_eof(&mut src).unwrap(), None);
    }

    #[test]
    fn encode_frame_is_the_payload_itself() {
        let payload = Bytes::from_static(b"xyz");
        let frame = RawCodec.encode_frame(payload.clone()).unwrap();
        assert!(frame.head().is_empty() && frame.tail().is_empty());
        assert_eq!(frame.into_contiguous().as_ptr(), payload.as_ptr());
    }
}
