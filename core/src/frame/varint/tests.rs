//! The VarintCodec rules, one test per rule.

use super::*;
use crate::frame::prefixed_tests::lying_prefix_allocates_one_step_at_most;
use crate::frame::prefixed_tests::{discard_resynchronises, drain, eof_error, too_large};
use crate::frame::prefixed_tests::{
    eof_after_a_whole_prefix_counts_it, eof_on_frame_boundaries_is_clean,
};
use crate::frame::prefixed_tests::{large_frame_grows_with_its_bytes, refuses_and_writes_nothing};
use crate::frame::Encoder;

/// A prefix written by hand, independently of the encoder under test.
fn leb128(mut len: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let low = (len % 128) as u8;
        len /= 128;
        if len == 0 {
            out.push(low);
            return out;
        }
        out.push(low + 128);
    }
}

/// Prefix and payload.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut wire = leb128(payload.len() as u64);
    wire.extend_from_slice(payload);
    wire
}

fn limited(max: u64, oversize: OversizePolicy) -> VarintCodec {
    VarintCodec::builder()
        .max_frame_len(max)
        .oversize_policy(oversize)
        .build()
}

fn overflow(result: Result<Option<Bytes>, FrameError>) -> usize {
    match result {
        Err(FrameError::VarintOverflow { bytes }) => bytes,
        other => panic!("expected VarintOverflow, got {other:?}"),
    }
}

/// Lengths on either side of every prefix-size boundary, and the extremes.
fn boundaries() -> Vec<u64> {
    let mut lens = vec![0, 1, u64::MAX - 1, u64::MAX];
    for k in 1..=9 {
        let edge = 1u64 << (7 * k);
        lens.extend([edge - 1, edge, edge + 1]);
    }
    lens
}

// ---- configuration ----

#[test]
fn default_is_8_mib_max_and_fail() {
    for codec in [
        VarintCodec::default(),
        VarintCodec::new(),
        VarintCodec::builder().build(),
    ] {
        assert_eq!(codec.max_frame_len(), DEFAULT_MAX_FRAME_LEN);
        assert_eq!(codec.oversize_policy(), OversizePolicy::Fail);
    }
}

#[test]
fn max_frame_len_is_clamped_to_what_fits_in_memory() {
    let codec = limited(u64::MAX, OversizePolicy::Fail);
    assert_eq!(codec.max_frame_len(), usize::MAX as u64);
}

// ---- the prefix ----

#[test]
fn known_prefixes_are_written_in_shortest_form() {
    let expected: [(u64, &[u8]); 8] = [
        (0, &[0x00]),
        (1, &[0x01]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (300, &[0xac, 0x02]),
        (16_383, &[0xff, 0x7f]),
        (16_384, &[0x80, 0x80, 0x01]),
        (
            u64::MAX,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        ),
    ];
    for (len, bytes) in expected {
        let (head, n) = write_prefix(len);
        assert_eq!(&head[..n], bytes, "{len}");
        assert_eq!(varint_len(len), n, "{len}");
    }
}

#[test]
fn every_boundary_length_round_trips_through_the_prefix() {
    for len in boundaries() {
        let wire = leb128(len);
        let (head, n) = write_prefix(len);
        assert_eq!(&head[..n], &wire[..], "{len}");
        assert_eq!(varint_len(len), wire.len(), "{len}");
        assert_eq!(read_prefix(&wire), Prefix::Whole { len, n: wire.len() });
        // Every proper start of it is partial.
        for cut in 0..wire.len() {
            assert_eq!(
                read_prefix(&wire[..cut]),
                Prefix::Partial,
                "{len} cut at {cut}"
            );
        }
    }
}

// ---- decoding ----

#[test]
fn frames_around_the_one_two_and_three_byte_prefix_edges_decode() {
    let mut codec = VarintCodec::new();
    let lens = [0usize, 1, 127, 128, 129, 16_383, 16_384, 16_385];
    let payloads: Vec<Vec<u8>> = lens.iter().map(|&n| vec![n as u8; n]).collect();
    let wire: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
    let mut src = BytesMut::from(&wire[..]);
    assert_eq!(drain(&mut codec, &mut src), payloads);
    assert!(src.is_empty());
}

#[test]
fn a_prefix_split_across_reads_is_kept_until_it_is_whole() {
    let mut codec = VarintCodec::new();
    let payload = vec![3u8; 16_384];
    let wire = frame(&payload);
    assert_eq!(wire[..3], [0x80, 0x80, 0x01]);
    let mut src = BytesMut::new();
    for (i, &byte) in wire[..3].iter().enumerate() {
        assert_eq!(codec.decode(&mut src).unwrap(), None);
        assert_eq!(src.len(), i, "a partial prefix stays in the buffer");
        src.extend_from_slice(&[byte]);
    }
    src.extend_from_slice(&wire[3..]);
    assert_eq!(drain(&mut codec, &mut src), [payload]);
    assert!(src.is_empty());
}

#[test]
fn a_payload_split_across_reads_is_one_frame_once_whole() {
    let mut codec = VarintCodec::new();
    let payload: Vec<u8> = (0..=255).cycle().take(1000).collect();
    let wire = frame(&payload);
    let mut src = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in wire.chunks(7) {
        src.extend_from_slice(chunk);
        frames.extend(drain(&mut codec, &mut src));
    }
    assert_eq!(frames, [payload]);
    assert!(src.is_empty());
}

#[test]
fn zero_length_payloads_between_frames_are_kept() {
    let mut codec = VarintCodec::new();
    let payloads: [&[u8]; 5] = [b"", b"x", b"", b"", b"yz"];
    let wire: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
    let mut src = BytesMut::from(&wire[..]);
    assert_eq!(drain(&mut codec, &mut src), payloads);
    assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
}

#[test]
fn non_canonical_prefixes_are_accepted() {
    let cases: [(&[u8], usize); 4] = [
        (&[0x80, 0x00], 0),
        (&[0x81, 0x80, 0x00], 1),
        (&[0xff, 0x80, 0x80, 0x00], 127),
        // Zero padded to the full ten bytes.
        (
            &[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
            0,
        ),
    ];
    for (prefix, len) in cases {
        let mut codec = VarintCodec::new();
        let mut src = BytesMut::from(prefix);
        src.extend_from_slice(&vec![9u8; len]);
        src.extend_from_slice(b"\x01z");
        assert_eq!(
            drain(&mut codec, &mut src),
            [vec![9u8; len], b"z".to_vec()],
            "{prefix:02x?}"
        );
        assert!(src.is_empty());
    }
}

// ---- refusals ----

#[test]
fn a_prefix_of_ten_bytes_with_a_continuation_bit_is_an_overflow_before_any_reserve() {
    let mut codec = VarintCodec::new();
    let wire = [0x80u8; 10];
    let mut src = BytesMut::from(&wire[..]);
    let capacity = src.capacity();
    assert_eq!(overflow(codec.decode(&mut src)), 10);
    assert_eq!(&src[..], &wire[..], "nothing consumed");
    assert_eq!(src.capacity(), capacity, "nothing reserved");
    // Nine such bytes are still only the start of a prefix.
    let mut nine = BytesMut::from(&wire[..9]);
    assert_eq!(VarintCodec::new().decode(&mut nine).unwrap(), None);
    assert_eq!(nine.len(), 9);
}

#[test]
fn an_eleven_byte_padded_prefix_is_an_overflow_at_its_tenth_byte() {
    let mut wire = vec![0x80u8; 10];
    wire.push(0x00);
    let mut src = BytesMut::from(&wire[..]);
    assert_eq!(overflow(VarintCodec::new().decode(&mut src)), 10);
    assert_eq!(src.len(), 11);
}

#[test]
fn a_tenth_byte_above_one_overflows_u64() {
    for tenth in [0x02u8, 0x7f, 0x81] {
        let mut wire = vec![0xffu8; 9];
        wire.push(tenth);
        let mut src = BytesMut::from(&wire[..]);
        assert_eq!(
            overflow(VarintCodec::new().decode(&mut src)),
            10,
            "{tenth:#x}"
        );
    }
}

#[test]
fn an_overflow_is_fatal_under_the_discard_policy_too() {
    let mut codec = limited(100, OversizePolicy::Discard);
    let mut src = BytesMut::from(&[0xffu8; 12][..]);
    for _ in 0..2 {
        let err = codec.decode(&mut src).unwrap_err();
        assert!(!err.is_recoverable(), "{err:?}");
        assert!(matches!(err, FrameError::VarintOverflow { bytes: 10 }));
        assert_eq!(src.len(), 12);
    }
}

#[test]
fn u64_max_in_ten_bytes_is_a_length_refused_as_too_large_not_an_overflow() {
    let mut codec = VarintCodec::new();
    let mut src = BytesMut::from(&leb128(u64::MAX)[..]);
    assert_eq!(
        too_large(codec.decode(&mut src)),
        (u64::MAX, DEFAULT_MAX_FRAME_LEN)
    );
}

#[test]
fn a_length_equal_to_the_max_is_accepted() {
    for max in [0u64, 127, 128, 16_383, 16_384] {
        let mut codec = limited(max, OversizePolicy::Fail);
        let payload = vec![1u8; max as usize];
        let mut src = BytesMut::from(&frame(&payload)[..]);
        assert_eq!(codec.decode(&mut src).unwrap().unwrap().len(), max as usize);
    }
}

#[test]
fn a_length_of_max_plus_one_is_refused_before_any_reserve() {
    for max in [0u64, 126, 127, 16_383, 16_384] {
        let mut codec = limited(max, OversizePolicy::Fail);
        let prefix = leb128(max + 1);
        let mut src = BytesMut::from(&prefix[..]);
        let capacity = src.capacity();
        assert_eq!(too_large(codec.decode(&mut src)), (max + 1, max));
        assert_eq!(
            src.capacity(),
            capacity,
            "{max}: reserved for a refused frame"
        );
        assert_eq!(&src[..], &prefix[..], "{max}: the prefix stays in place");
    }
}

#[test]
fn a_non_canonical_prefix_over_the_max_is_refused_as_its_value() {
    let mut codec = limited(100, OversizePolicy::Fail);
    let mut src = BytesMut::from(&[0xe5, 0x80, 0x80, 0x00][..]);
    assert_eq!(too_large(codec.decode(&mut src)), (101, 100));
}

#[test]
fn fail_policy_leaves_the_prefix_in_place_and_keeps_failing() {
    let mut codec = limited(10, OversizePolicy::Fail);
    let mut src = BytesMut::from(&[11u8, 1, 2, 3][..]);
    for _ in 0..2 {
        assert!(!codec.decode(&mut src).unwrap_err().is_recoverable());
        assert_eq!(src.len(), 4);
    }
}

#[test]
fn a_lying_prefix_under_a_raised_max_allocates_one_step_at_most() {
    let codec = limited(u64::MAX, OversizePolicy::Fail);
    let declared = codec.max_frame_len();
    lying_prefix_allocates_one_step_at_most(codec, &leb128(declared));
}

#[test]
fn a_large_frame_grows_the_buffer_only_as_its_bytes_arrive() {
    large_frame_grows_with_its_bytes(VarintCodec::new(), &leb128(1 << 20));
}

#[test]
fn discard_skips_an_oversized_frame_across_many_reads_reports_it_once_then_resynchronises() {
    let mut codec = limited(100, OversizePolicy::Discard);
    discard_resynchronises(&mut codec, frame, MAX_VARINT_LEN);
}

// ---- end of stream ----

#[test]
fn eof_on_a_frame_boundary_is_a_clean_end() {
    eof_on_frame_boundaries_is_clean(VarintCodec::new(), &[frame(b"a"), frame(b"")].concat());
}

#[test]
fn eof_inside_a_prefix_is_unexpected_eof() {
    let mut codec = VarintCodec::new();
    let mut src = BytesMut::from(&[0x80u8, 0x80][..]);
    assert_eq!(eof_error(codec.decode_eof(&mut src)), 2);
}

#[test]
fn eof_after_a_prefix_with_no_payload_byte_yet_counts_the_prefix() {
    let prefix = leb128(16_384);
    assert_eq!(prefix.len(), 3);
    eof_after_a_whole_prefix_counts_it(VarintCodec::new(), &prefix);
}

#[test]
fn eof_inside_a_payload_is_unexpected_eof_counting_the_prefix() {
    let mut codec = VarintCodec::new();
    let mut src = BytesMut::from(&frame(&[5; 200])[..150]);
    assert_eq!(eof_error(codec.decode_eof(&mut src)), 150);
}

// ---- encoding ----

/// Asserts that encoding `len` bytes is refused and leaves `dst` as it was.
fn refuses(codec: &mut VarintCodec, len: usize) {
    let max = codec.max_frame_len();
    refuses_and_writes_nothing(codec, len, max, VarintCodec::encode_to_bytes);
}

#[test]
fn a_payload_over_the_max_is_refused_and_writes_nothing() {
    refuses(&mut VarintCodec::new(), DEFAULT_MAX_FRAME_LEN as usize + 1);
    refuses(&mut limited(127, OversizePolicy::Fail), 128);
    refuses(&mut limited(0, OversizePolicy::Fail), 1);
}

#[test]
fn every_encode_path_writes_the_same_bytes_around_the_prefix_edges() {
    for len in [0usize, 127, 128, 16_383, 16_384] {
        let mut codec = VarintCodec::new();
        let payload = vec![b'v'; len];
        let expected = frame(&payload);
        let text = String::from_utf8(payload.clone()).unwrap();
        assert_eq!(
            Encoder::<&[u8]>::encoded_len(&codec, &&payload[..]),
            Some(expected.len())
        );
        assert_eq!(
            Encoder::<&str>::encoded_len(&codec, &text.as_str()),
            Some(expected.len())
        );
        let mut outputs = vec![
            codec.encode_to_bytes(&payload).unwrap(),
            codec
                .encode_frame(Bytes::from(payload.clone()))
                .unwrap()
                .into_contiguous(),
            codec.encode_frame(text.as_str()).unwrap().into_contiguous(),
        ];
        let mut encode = |f: &mut dyn FnMut(&mut VarintCodec, &mut BytesMut)| {
            let mut dst = BytesMut::new();
            f(&mut codec, &mut dst);
            outputs.push(dst.freeze());
        };
        encode(&mut |c, d| c.encode(text.as_str(), d).unwrap());
        encode(&mut |c, d| c.encode(text.clone(), d).unwrap());
        encode(&mut |c, d| c.encode(payload.clone(), d).unwrap());
        encode(&mut |c, d| c.encode(&payload[..], d).unwrap());
        let mut vec = Vec::new();
        codec
            .encode_to_vec(Bytes::from(payload.clone()), &mut vec)
            .unwrap();
        outputs.push(Bytes::from(vec));
        for out in outputs {
            assert_eq!(out, expected, "{len}");
        }
    }
}

#[test]
fn encode_frame_keeps_the_payload_without_copying_it() {
    let mut codec = VarintCodec::new();
    let payload = Bytes::from(vec![5u8; 1000]);
    let frame = codec.encode_frame(payload.clone()).unwrap();
    assert_eq!(frame.head(), [0xe8, 0x07]);
    assert_eq!(frame.body().as_ptr(), payload.as_ptr());
}
