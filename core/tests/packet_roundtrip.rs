//! PacketN round-trips under random configurations and arbitrary chunking of
//! the input, driven by the same harness as the fuzz targets (which checks,
//! on every call, that the decoder only takes bytes off the front, keeps its
//! buffer bounded, and ends cleanly).

#[path = "support/codec_strategies.rs"]
mod codec_strategies;
#[path = "../../fuzz/src/harness.rs"]
#[allow(dead_code)] // shared with the fuzz targets, which use all of it
mod harness;

use bytes::{Bytes, BytesMut};
use castnet_core::frame::{ByteOrder, Encoder, FrameError, HeaderLen, OversizePolicy, PacketN};
use codec_strategies::{max, policy, reads};
use harness::{assert_round_trip, decode_stream, encode_both_ways, expected_with_limit};
use proptest::prelude::*;

/// The largest payload generated: enough to cross reads and 1-byte limits,
/// small enough to keep each case quick.
const MAX_PAYLOAD: usize = 600;

fn header() -> impl Strategy<Value = HeaderLen> {
    prop_oneof![
        Just(HeaderLen::One),
        Just(HeaderLen::Two),
        Just(HeaderLen::Four),
        Just(HeaderLen::Eight),
    ]
}

fn order() -> impl Strategy<Value = ByteOrder> {
    prop_oneof![Just(ByteOrder::Big), Just(ByteOrder::Little)]
}

/// Payloads, with zero-length ones common.
fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let payload = prop_oneof![
        1 => Just(Vec::new()),
        3 => prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD),
    ];
    prop::collection::vec(payload, 0..12)
}

fn codec(header: HeaderLen, order: ByteOrder, max: u64, oversize: OversizePolicy) -> PacketN {
    PacketN::builder()
        .header_len(header)
        .byte_order(order)
        .max_frame_len(max)
        .oversize_policy(oversize)
        .build()
        .unwrap()
}

proptest! {
    #[test]
    fn every_configuration_round_trips_under_any_chunking(
        header in header(),
        order in order(),
        max in max(MAX_PAYLOAD),
        oversize in policy(),
        payloads in payloads(),
        reads in reads(),
    ) {
        let mut codec = codec(header, order, max, oversize);
        let max = codec.max_frame_len();
        assert_round_trip(&mut codec, &payloads, max, &reads);
    }

    #[test]
    fn oversized_frames_fail_the_stream_or_are_skipped_once_under_any_chunking(
        header in header(),
        order in order(),
        max in 0..=MAX_PAYLOAD as u64,
        oversize in policy(),
        payloads in payloads(),
        reads in reads(),
    ) {
        // A peer whose limit is only what its header can express.
        let mut peer = codec(header, order, u64::MAX, OversizePolicy::Fail);
        let mut wire = BytesMut::new();
        let mut sent = Vec::new();
        for payload in &payloads {
            if peer.encode(&payload[..], &mut wire).is_ok() {
                sent.push(payload);
            }
        }
        let mut ours = codec(header, order, max, oversize);
        let max = ours.max_frame_len();
        let decoded = decode_stream(&mut ours, &wire, &reads);

        let expected = expected_with_limit(sent, max, oversize);
        prop_assert_eq!(decoded.summary(), expected);
    }

    #[test]
    fn encoding_writes_exactly_header_and_payload_or_nothing(
        header in header(),
        order in order(),
        max in max(MAX_PAYLOAD),
        len in 0..=70_000usize,
    ) {
        let mut codec = codec(header, order, max, OversizePolicy::Fail);
        let payload = Bytes::from(vec![0x5a; len]);
        match encode_both_ways(&mut codec, &payload) {
            Ok(frame) => {
                prop_assert!(len as u64 <= codec.max_frame_len());
                let n = header.bytes();
                let declared = match order {
                    ByteOrder::Big => frame[..n].iter().fold(0u64, |a, &b| a << 8 | u64::from(b)),
                    _ => frame[..n].iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b)),
                };
                prop_assert_eq!(declared, len as u64);
                prop_assert_eq!(&frame[n..], &payload[..]);
            }
            Err(refused) => {
                prop_assert!(len as u64 > codec.max_frame_len());
                let too_large = matches!(refused, FrameError::PayloadTooLarge { .. });
                prop_assert!(too_large, "{:?}", refused);
            }
        }
    }
}
