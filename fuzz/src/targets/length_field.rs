//! `decode_length_field`: the general length-field codec under any offset,
//! field size, adjustment, strip, byte order, maximum and oversize policy.

use super::{bit, order, policy};
use crate::harness::{decode_any_chunking, encode_then_decode};
use crate::input::Input;
use bytes::Bytes;
use castnet_core::frame::LengthFieldCodec;

/// Configuration layout: a flags byte (bit 0: little-endian; bit 1: `Discard`;
/// bit 2: set `bytes_to_strip`, else its default), the offset (a byte, mod 24:
/// past 16 the encoder's header no longer fits inline), the field size (a
/// byte, mod 10: 0 and 9 are configuration errors), the adjustment (an `i16`),
/// bytes to strip (a byte, mod 40), then the maximum as a `u64`.
pub fn decode_length_field(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let offset = usize::from(input.u8() % 24);
    let field_len = usize::from(input.u8() % 10);
    let adjustment = i64::from(input.u16() as i16);
    let strip = usize::from(input.u8() % 40);
    let max = input.u64();
    let mut builder = LengthFieldCodec::builder()
        .byte_order(order(bit(flags, 0)))
        .oversize_policy(policy(bit(flags, 1)))
        .length_field_offset(offset)
        .length_field_len(field_len)
        .length_adjustment(adjustment)
        .max_frame_len(max);
    if bit(flags, 2) {
        builder = builder.bytes_to_strip(strip);
    }
    let Ok(codec) = builder.build() else {
        return;
    };
    let (sizes, stream) = input.reads_and_stream();

    let decoded = decode_any_chunking(|| codec.clone(), stream, &sizes);
    for frame in decoded.frames() {
        let whole = frame.len() + codec.bytes_to_strip();
        assert!(
            whole >= offset + field_len,
            "a frame shorter than its header"
        );
        assert!((whole - offset - field_len) as u64 <= codec.max_frame_len());
    }

    // The stream as one item: refused untouched, or a frame that decodes to
    // what was written minus the stripped bytes.
    if let Some((wire, decoded)) = encode_then_decode(|| codec.clone(), stream, &sizes) {
        let expected = Bytes::copy_from_slice(&wire[codec.bytes_to_strip()..]);
        decoded.assert_frames(&[expected], "length-field round trip");
        let mut field_removed = wire[..offset].to_vec();
        field_removed.extend_from_slice(&wire[offset + field_len..]);
        assert_eq!(field_removed, stream, "the encoder changed the item");
    }
}
