//! `decode_fixed`: frames of exactly N bytes, for any N.

use crate::harness::{decode_any_chunking, encode_then_decode};
use crate::input::Input;
use bytes::Bytes;
use castnet_core::frame::FixedLengthCodec;

/// Configuration layout: the frame length as a `u16` (0 is a configuration
/// error).
pub fn decode_fixed(data: &[u8]) {
    let mut input = Input::new(data);
    let Ok(codec) = FixedLengthCodec::new(usize::from(input.u16())) else {
        return;
    };
    let (sizes, stream) = input.reads_and_stream();
    let n = codec.frame_len();

    let decoded = decode_any_chunking(|| codec, stream, &sizes);
    let expected: Vec<Bytes> = stream.chunks_exact(n).map(Bytes::copy_from_slice).collect();
    assert_eq!(decoded.frames(), expected.iter().collect::<Vec<_>>());
    assert_eq!(decoded.end.is_ok(), stream.len() % n == 0);

    match encode_then_decode(|| codec, stream, &sizes) {
        Some((_, decoded)) => {
            decoded.assert_frames(&[Bytes::copy_from_slice(stream)], "fixed round trip")
        }
        None => assert_ne!(stream.len(), n),
    }
}
