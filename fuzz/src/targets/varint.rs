//! `decode_varint`: VarintCodec under any maximum and oversize policy,
//! checked against a reference reading of the stream.

use super::policy;
use super::prefixed::{self, Head};
use crate::harness::{decode_any_chunking, encode_then_decode, Decoded};
use crate::input::Input;
use bytes::Bytes;
use castnet_core::frame::{FrameError, VarintCodec};

/// Configuration layout: one flags byte (bit 0: `Discard` instead of `Fail`;
/// other bits ignored), then the maximum frame length as a `u64`.
pub fn decode_varint(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let max = input.u64();
    let mut codec = VarintCodec::builder()
        .max_frame_len(max)
        .oversize_policy(policy(flags & 1 != 0))
        .build();
    let (sizes, stream) = input.reads_and_stream();

    let expected = reference(&codec, stream);
    let decoded = prefixed::decode_as_reference(&codec, stream, &sizes, expected);

    // What was decoded without skips encodes back to the same frames; the
    // bytes are the same too unless the stream used non-canonical prefixes,
    // which the encoder never writes.
    if let Some(wire) = prefixed::encoded_again(&mut codec, &decoded) {
        // Shortest prefixes: never longer than the stream that held them.
        assert!(
            wire.len() <= decoded.consumed,
            "re-encoding grew the frames"
        );
        let again = decode_any_chunking(|| codec.clone(), &wire, &sizes);
        let frames: Vec<Bytes> = decoded.frames().into_iter().cloned().collect();
        again.assert_frames(&frames, "VarintCodec re-encoding");
    }

    // The whole stream as one payload: refused untouched, or one frame.
    match encode_then_decode(|| codec.clone(), stream, &sizes) {
        Some((wire, decoded)) => {
            let prefix = wire.len() - stream.len();
            assert!((1..=10).contains(&prefix), "a {prefix}-byte prefix");
            assert_eq!(reference_prefix(&wire), Some((stream.len() as u64, prefix)));
            decoded.assert_frames(&[Bytes::copy_from_slice(stream)], "VarintCodec round trip");
        }
        None => assert!(stream.len() as u64 > codec.max_frame_len()),
    }
}

/// The prefix at the front of `bytes`, read apart from the codec: `None`
/// while it is incomplete. Panics on an overflowing one (the caller checks
/// that first).
fn reference_prefix(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        value += u128::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((u64::try_from(value).expect("checked"), i + 1));
        }
    }
    None
}

/// Whether the prefix at the front of `bytes` cannot be a `u64`, and how many
/// bytes show it: computed in 128 bits, an overflow is a value over
/// `u64::MAX` once ten bytes are read, or a tenth byte that continues.
fn overflows(bytes: &[u8]) -> Option<usize> {
    let mut value: u128 = 0;
    for (i, &b) in bytes.iter().take(10).enumerate() {
        value += u128::from(b & 0x7f) << (7 * i);
        let ends = b < 0x80;
        if i == 9 && (!ends || value > u128::from(u64::MAX)) {
            return Some(10);
        }
        if ends {
            return None;
        }
    }
    None
}

/// VarintCodec's meaning of a whole stream (see [`prefixed::reference`]):
/// an overflowing prefix fails it.
fn reference(codec: &VarintCodec, stream: &[u8]) -> Decoded<Bytes> {
    prefixed::reference(
        stream,
        codec.max_frame_len(),
        codec.oversize_policy(),
        |rest| {
            if let Some(bytes) = overflows(rest) {
                return Head::Invalid(FrameError::VarintOverflow { bytes });
            }
            match reference_prefix(rest) {
                Some((declared, n)) => Head::Whole { declared, n },
                None => Head::Partial,
            }
        },
    )
}
