//! `decode_envelope`: the P2P envelope codec over any PacketN header, byte
//! order, maximum and oversize policy.

use super::packet_codec;
use crate::harness::decode_any_chunking;
use crate::input::Input;
use bytes::BytesMut;
use castnet_core::frame::Encoder;
use castnet_core::route::{EnvelopeCodec, ADDRESS_LEN};

/// Configuration layout: one flags byte (bits 0–1: header of 1, 2, 4 or 8
/// bytes; bit 2: little-endian; bit 3: `Discard` instead of `Fail`), then the
/// maximum frame length as a `u32`.
///
/// Checked beyond the harness: the codec is refused only when the maximum
/// cannot hold an address; every envelope respects the payload maximum; and
/// when nothing was skipped, the envelopes re-encode to exactly the bytes they
/// were decoded from.
pub fn decode_envelope(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let max = u64::from(input.u32());
    let packet = packet_codec(flags, max);
    let Ok(mut codec) = EnvelopeCodec::new(packet.clone()) else {
        assert!(
            packet.max_frame_len() < ADDRESS_LEN as u64,
            "refused only below the address size"
        );
        return;
    };
    let (sizes, stream) = input.reads_and_stream();

    let decoded = decode_any_chunking(|| codec.clone(), stream, &sizes);
    let envelopes = decoded.frames();
    for envelope in &envelopes {
        assert!(envelope.payload.len() as u64 <= codec.max_payload_len());
    }
    if envelopes.len() == decoded.events.len() {
        let mut wire = BytesMut::new();
        for envelope in envelopes {
            codec
                .encode(envelope.clone(), &mut wire)
                .expect("a decoded envelope re-encodes");
        }
        assert_eq!(
            &wire[..],
            &stream[..wire.len()],
            "re-encoding changed the bytes"
        );
    }
}
