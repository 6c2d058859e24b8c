//! `decode_packet`: PacketN under any header, byte order, maximum and
//! oversize policy, checked against a reference reading of the stream.

use super::packet_codec;
use super::prefixed::{self, Head};
use crate::harness::{encode_then_decode, Decoded};
use crate::input::Input;
use bytes::Bytes;
use castnet_core::frame::{ByteOrder, PacketN};

/// Configuration layout: one flags byte (bits 0–1: header of 1, 2, 4 or 8
/// bytes; bit 2: little-endian; bit 3: `Discard` instead of `Fail`; other bits
/// ignored), then the maximum frame length as a `u64`.
pub fn decode_packet(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let max = input.u64();
    let mut codec = packet_codec(flags, max);
    let (sizes, stream) = input.reads_and_stream();

    let expected = reference(&codec, stream);
    let decoded = prefixed::decode_as_reference(&codec, stream, &sizes, expected);

    // What was decoded without skips encodes back to the very same bytes.
    if let Some(wire) = prefixed::encoded_again(&mut codec, &decoded) {
        let framed_bytes = wire.len();
        assert_eq!(&wire[..], &stream[..framed_bytes]);
    }

    // The whole stream as one payload: refused untouched, or one frame.
    match encode_then_decode(|| codec.clone(), stream, &sizes) {
        Some((wire, decoded)) => {
            assert_eq!(wire.len(), codec.header_len().bytes() + stream.len());
            decoded.assert_frames(&[Bytes::copy_from_slice(stream)], "PacketN round trip");
        }
        None => assert!(stream.len() as u64 > codec.max_frame_len()),
    }
}

/// PacketN's meaning of a whole stream (see [`prefixed::reference`]): a
/// prefix is its `n` bytes in the codec's byte order.
fn reference(codec: &PacketN, stream: &[u8]) -> Decoded<Bytes> {
    let n = codec.header_len().bytes();
    let order = codec.byte_order();
    prefixed::reference(
        stream,
        codec.max_frame_len(),
        codec.oversize_policy(),
        |rest| {
            let Some(head) = rest.get(..n) else {
                return Head::Partial;
            };
            let declared = match order {
                ByteOrder::Little => head
                    .iter()
                    .rev()
                    .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
                _ => head.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
            };
            Head::Whole { declared, n }
        },
    )
}
