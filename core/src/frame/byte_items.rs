//! The [`Encoder`](super::Encoder) impls the built-in codecs offer for
//! byte-like payloads, written once.

/// Implements `Encoder<T>` for `Bytes`, `&[u8]`, `Vec<u8>`, `&str` and
/// `String` on a codec that has two inherent methods:
///
/// - `fn frame_for(&self, payload: Bytes) -> Result<EncodedFrame, FrameError>`:
///   validates, then wraps the payload without copying it;
/// - `fn write_slice(&self, payload: &[u8], dst: &mut BytesMut) -> Result<(), FrameError>`:
///   validates, then appends the whole frame to `dst` (untouched on error).
///
/// Owned payloads become `Bytes` without a copy; borrowed ones are copied once.
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
        }
    };
}

pub(crate) use byte_payload_encoders;
