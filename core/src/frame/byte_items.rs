//! The [`Encoder`](super::Encoder) impls the built-in codecs offer for
//! byte-like payloads, written once.

/// Implements `Encoder<T>` for `Bytes`, `&[u8]`, `Vec<u8>`, `&str` and
/// `String` on a codec that has two inherent methods:
///
/// - `fn frame_for(&self, payload: Bytes) -> Result<EncodedFrame, FrameError>`:
///   validates, then wraps the payload without copying it;
/// - `fn write_slice(&self, payload: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError>`:
///   validates, then appends the whole frame to `dst` (untouched on error);
/// - `fn wire_len(&self, payload: usize) -> usize`: what `write_slice`
///   appends for a valid payload of that length.
///
/// Owned payloads become `Bytes` without a copy; borrowed ones are copied
/// once. Every impl knows its [`encoded_len`](super::Encoder::encoded_len)
/// and appends to a `Vec<u8>` directly.
macro_rules! byte_payload_encoders {
    ($codec:ty) => {
        impl $crate::frame::Encoder<::bytes::Bytes> for $codec {
            #[inline]
            fn encode_frame(
                &mut self,
                payload: ::bytes::Bytes,
            ) -> Result<$crate::frame::EncodedFrame, $crate::frame::FrameError> {
                self.frame_for(payload)
            }

            #[inline]
            fn encode(
                &mut self,
                payload: ::bytes::Bytes,
                dst: &mut ::bytes::BytesMut,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(&payload, dst)
            }

            #[inline]
            fn encoded_len(&self, payload: &::bytes::Bytes) -> Option<usize> {
                Some(self.wire_len(payload.len()))
            }

            #[inline]
            fn encode_to_vec(
                &mut self,
                payload: ::bytes::Bytes,
                dst: &mut Vec<u8>,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(&payload[..], dst)
            }
        }

        impl $crate::frame::Encoder<&[u8]> for $codec {
            fn encode_frame(
                &mut self,
                payload: &[u8],
            ) -> Result<$crate::frame::EncodedFrame, $crate::frame::FrameError> {
                self.frame_for(::bytes::Bytes::copy_from_slice(payload))
            }

            #[inline]
            fn encode(
                &mut self,
                payload: &[u8],
                dst: &mut ::bytes::BytesMut,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(payload, dst)
            }

            #[inline]
            fn encoded_len(&self, payload: &&[u8]) -> Option<usize> {
                Some(self.wire_len(payload.len()))
            }

            #[inline]
            fn encode_to_vec(
                &mut self,
                payload: &[u8],
                dst: &mut Vec<u8>,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(payload, dst)
            }
        }

        impl $crate::frame::Encoder<Vec<u8>> for $codec {
            fn encode_frame(
                &mut self,
                payload: Vec<u8>,
            ) -> Result<$crate::frame::EncodedFrame, $crate::frame::FrameError> {
                self.frame_for(::bytes::Bytes::from(payload))
            }

            fn encode(
                &mut self,
                payload: Vec<u8>,
                dst: &mut ::bytes::BytesMut,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(&payload, dst)
            }

            #[inline]
            fn encoded_len(&self, payload: &Vec<u8>) -> Option<usize> {
                Some(self.wire_len(payload.len()))
            }

            #[inline]
            fn encode_to_vec(
                &mut self,
                payload: Vec<u8>,
                dst: &mut Vec<u8>,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(&payload, dst)
            }
        }

        impl $crate::frame::Encoder<&str> for $codec {
            fn encode_frame(
                &mut self,
                payload: &str,
            ) -> Result<$crate::frame::EncodedFrame, $crate::frame::FrameError> {
                self.frame_for(::bytes::Bytes::copy_from_slice(payload.as_bytes()))
            }

            fn encode(
                &mut self,
                payload: &str,
                dst: &mut ::bytes::BytesMut,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(payload.as_bytes(), dst)
            }

            #[inline]
            fn encoded_len(&self, payload: &&str) -> Option<usize> {
                Some(self.wire_len(payload.len()))
            }

            #[inline]
            fn encode_to_vec(
                &mut self,
                payload: &str,
                dst: &mut Vec<u8>,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(payload.as_bytes(), dst)
            }
        }

        impl $crate::frame::Encoder<String> for $codec {
            fn encode_frame(
                &mut self,
                payload: String,
            ) -> Result<$crate::frame::EncodedFrame, $crate::frame::FrameError> {
                self.frame_for(::bytes::Bytes::from(payload))
            }

            fn encode(
                &mut self,
                payload: String,
                dst: &mut ::bytes::BytesMut,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(payload.as_bytes(), dst)
            }

            #[inline]
            fn encoded_len(&self, payload: &String) -> Option<usize> {
                Some(self.wire_len(payload.len()))
            }

            #[inline]
            fn encode_to_vec(
                &mut self,
                payload: String,
                dst: &mut Vec<u8>,
            ) -> Result<(), $crate::frame::FrameError> {
                self.write_slice(payload.as_bytes(), dst)
            }
        }
    };
}

pub(crate) use byte_payload_encoders;

/// Where a codec's `write_slice` appends a frame: a `BytesMut` (`encode`) or
/// a `Vec<u8>` (`encode_to_vec`).
pub(crate) trait AppendBuf {
    fn len(&self) -> usize;
    fn reserve(&mut self, additional: usize);
    fn extend_from_slice(&mut self, bytes: &[u8]);
    fn truncate(&mut self, len: usize);
}

impl AppendBuf for ::bytes::BytesMut {
    #[inline]
    fn len(&self) -> usize {
        ::bytes::BytesMut::len(self)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        ::bytes::BytesMut::reserve(self, additional)
    }
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        ::bytes::BytesMut::extend_from_slice(self, bytes)
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        ::bytes::BytesMut::truncate(self, len)
    }
}

impl AppendBuf for Vec<u8> {
    #[inline]
    fn len(&self) -> usize {
        Vec::len(self)
    }
    #[inline]
    fn reserve(&mut self, additional: usize) {
        Vec::reserve(self, additional)
    }
    #[inline]
    fn extend_from_slice(&mut self, bytes: &[u8]) {
        Vec::extend_from_slice(self, bytes)
    }
    #[inline]
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len)
    }
}
