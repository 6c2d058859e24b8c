//! `decode_delimiter`: frames ended by any delimiter of 1 to 4 bytes, kept or
//! stripped, under any maximum and oversize policy.

use super::{bit, policy};
use crate::harness::{decode_any_chunking, encode_then_decode};
use crate::input::Input;
use bytes::Bytes;
use castnet_core::frame::DelimiterCodec;

/// Configuration layout: a flags byte (bit 0: keep the delimiter; bit 1:
/// `Discard`; bit 2: no maximum, else the `u16` below), the delimiter's length
/// (a byte, mod 5: 0 is a configuration error), the delimiter, then the
/// maximum as a `u16`.
pub fn decode_delimiter(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let delimiter_len = usize::from(input.u8() % 5);
    let delimiter = input.bytes(delimiter_len).to_vec();
    let max = match bit(flags, 2) {
        true => u64::MAX,
        false => u64::from(input.u16()),
    };
    let Ok(codec) = DelimiterCodec::builder(&delimiter)
        .keep_delimiter(bit(flags, 0))
        .oversize_policy(policy(bit(flags, 1)))
        .max_frame_len(max)
        .build()
    else {
        return;
    };
    let (sizes, stream) = input.reads_and_stream();

    let decoded = decode_any_chunking(|| codec.clone(), stream, &sizes);
    for frame in decoded.frames() {
        let content = match codec.keeps_delimiter() {
            true => frame
                .strip_suffix(&delimiter[..])
                .expect("a kept delimiter ends the frame"),
            false => &frame[..],
        };
        assert!(content.len() as u64 <= codec.max_frame_len());
        assert!(
            !content.windows(delimiter.len()).any(|w| w == delimiter),
            "a frame holds its delimiter"
        );
    }

    if let Some((_, decoded)) = encode_then_decode(|| codec.clone(), stream, &sizes) {
        let mut expected = stream.to_vec();
        if codec.keeps_delimiter() {
            expected.extend_from_slice(&delimiter);
        }
        decoded.assert_frames(&[Bytes::from(expected)], "delimiter round trip");
    }
}
