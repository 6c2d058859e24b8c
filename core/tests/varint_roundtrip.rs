//! VarintCodec round-trips under random limits and arbitrary chunking of the
//! input, driven by the same harness as the fuzz targets (which checks, on
//! every call, that the decoder only takes bytes off the front, keeps its
//! buffer bounded, and ends cleanly); oversized frames fail the stream or are
//! skipped once; non-canonical prefixes mean what their value says.

#[path = "support/codec_strategies.rs"]
mod codec_strategies;
#[path = "../../fuzz/src/harness.rs"]
#[allow(dead_code)] // shared with the fuzz targets, which use all of it
mod harness;

use bytes::{Bytes, BytesMut};
use castnet_core::frame::{Encoder, FrameError, OversizePolicy, VarintCodec};
use codec_strategies::{max, policy, reads};
use harness::{assert_round_trip, decode_stream, encode_both_ways, expected_with_limit};
use proptest::prelude::*;

/// The largest payload generated: past the one-byte prefix (127) and, now
/// and then, the two-byte one (16,383).
const MAX_PAYLOAD: usize = 600;

/// Payloads, with zero-length ones and ones around the prefix edges common.
fn payloads() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let payload = prop_oneof![
        1 => Just(Vec::new()),
        1 => (126usize..=129).prop_map(|n| vec![0x42; n]),
        1 => (16_383usize..=16_384).prop_map(|n| vec![0x17; n]),
        4 => prop::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD),
    ];
    prop::collection::vec(payload, 0..10)
}

fn codec(max: u64, oversize: OversizePolicy) -> VarintCodec {
    VarintCodec::builder()
        .max_frame_len(max)
        .oversize_policy(oversize)
        .build()
}

/// `len` as LEB128 padded with `pad` extra continuation groups (at most ten
/// bytes in all), written apart from the codec.
fn padded_prefix(mut len: u64, pad: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        out.push((len & 0x7f) as u8 | 0x80);
        len >>= 7;
        if len == 0 {
            break;
        }
    }
    out.extend(std::iter::repeat_n(0x80, pad.min(10 - out.len())));
    *out.last_mut().unwrap() &= 0x7f;
    out
}

proptest! {
    #[test]
    fn every_configuration_round_trips_under_any_chunking(
        max in max(MAX_PAYLOAD),
        oversize in policy(),
        payloads in payloads(),
        reads in reads(),
    ) {
        let mut codec = codec(max, oversize);
        let max = codec.max_frame_len();
        assert_round_trip(&mut codec, &payloads, max, &reads);
    }

    #[test]
    fn non_canonical_prefixes_decode_to_the_same_frames_under_any_chunking(
        payloads in payloads(),
        pads in prop::collection::vec(0usize..=9, 1..10),
        reads in reads(),
    ) {
        let mut wire = Vec::new();
        for (payload, pad) in payloads.iter().zip(pads.iter().cycle()) {
            wire.extend(padded_prefix(payload.len() as u64, *pad));
            wire.extend_from_slice(payload);
        }
        let decoded = decode_stream(&mut VarintCodec::new(), &wire, &reads);
        prop_assert!(decoded.end.is_ok(), "{:?}", decoded.end);
        let frames: Vec<&[u8]> = decoded.frames().into_iter().map(|f| &f[..]).collect();
        let expected: Vec<&[u8]> = payloads.iter().map(|p| &p[..]).collect();
        prop_assert_eq!(frames, expected);
    }

    #[test]
    fn oversized_frames_fail_the_stream_or_are_skipped_once_under_any_chunking(
        max in 0..=MAX_PAYLOAD as u64,
        oversize in policy(),
        payloads in payloads(),
        reads in reads(),
    ) {
        let mut peer = codec(u64::MAX, OversizePolicy::Fail);
        let mut wire = BytesMut::new();
        for payload in &payloads {
            peer.encode(&payload[..], &mut wire).unwrap();
        }
        let mut ours = codec(max, oversize);
        let decoded = decode_stream(&mut ours, &wire, &reads);

        let expected = expected_with_limit(&payloads, max, oversize);
        prop_assert_eq!(decoded.summary(), expected);
    }

    #[test]
    fn encoding_writes_exactly_the_shortest_prefix_and_the_payload_or_nothing(
        max in max(MAX_PAYLOAD),
        len in 0..=70_000usize,
    ) {
        let mut codec = codec(max, OversizePolicy::Fail);
        let payload = Bytes::from(vec![0x5a; len]);
        match encode_both_ways(&mut codec, &payload) {
            Ok(frame) => {
                prop_assert!(len as u64 <= codec.max_frame_len());
                let prefix = padded_prefix(len as u64, 0);
                prop_assert_eq!(&frame[..prefix.len()], &prefix[..]);
                prop_assert_eq!(&frame[prefix.len()..], &payload[..]);
            }
            Err(refused) => {
                prop_assert!(len as u64 > codec.max_frame_len());
                let too_large = matches!(refused, FrameError::PayloadTooLarge { .. });
                prop_assert!(too_large, "{:?}", refused);
            }
        }
    }
}
