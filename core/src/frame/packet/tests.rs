//! The PacketN rules, one test per rule.

use super::*;
use crate::frame::prefixed_tests::lying_prefix_allocates_one_step_at_most;
use crate::frame::prefixed_tests::{discard_resynchronises, drain, eof_error, too_large};
use crate::frame::prefixed_tests::{
    eof_after_a_whole_prefix_counts_it, eof_on_frame_boundaries_is_clean,
};
use crate::frame::prefixed_tests::{large_frame_grows_with_its_bytes, refuses_and_writes_nothing};
use crate::frame::Encoder;

const HEADERS: [HeaderLen; 4] = [
    HeaderLen::One,
    HeaderLen::Two,
    HeaderLen::Four,
    HeaderLen::Eight,
];
const ORDERS: [ByteOrder; 2] = [ByteOrder::Big, ByteOrder::Little];

/// Every header size in both byte orders, with the default limits.
fn every_codec() -> impl Iterator<Item = PacketN> {
    HEADERS
        .into_iter()
        .flat_map(|h| ORDERS.into_iter().map(move |o| PacketN::new(h, o)))
}

/// A header written by hand, independently of the encoder under test.
fn head(header: HeaderLen, order: ByteOrder, len: u64) -> Vec<u8> {
    let n = header.bytes();
    match order {
        ByteOrder::Big => len.to_be_bytes()[8 - n..].to_vec(),
        ByteOrder::Little => len.to_le_bytes()[..n].to_vec(),
    }
}

/// Header and payload for `codec`'s configuration.
fn frame(codec: &PacketN, payload: &[u8]) -> Vec<u8> {
    let mut wire = head(codec.header_len(), codec.byte_order(), payload.len() as u64);
    wire.extend_from_slice(payload);
    wire
}

/// A codec with the given header, big-endian, and its own limit and policy.
fn limited(header: HeaderLen, max: u64, oversize: OversizePolicy) -> PacketN {
    PacketN::builder()
        .header_len(header)
        .max_frame_len(max)
        .oversize_policy(oversize)
        .build()
        .unwrap()
}

// ---- configuration ----

#[test]
fn header_sizes_other_than_1_2_4_8_are_a_config_error() {
    for n in [0, 3, 5, 6, 7, 9, 16, usize::MAX] {
        let built = PacketN::builder().header_bytes(n).build();
        assert_eq!(built.unwrap_err(), ConfigError::InvalidHeaderLen(n));
        assert_eq!(
            HeaderLen::try_from(n),
            Err(ConfigError::InvalidHeaderLen(n))
        );
    }
}

#[test]
fn header_sizes_1_2_4_8_build() {
    for (n, header) in [1, 2, 4, 8].into_iter().zip(HEADERS) {
        let codec = PacketN::builder().header_bytes(n).build().unwrap();
        assert_eq!(codec.header_len(), header);
        assert_eq!(header.bytes(), n);
    }
}

#[test]
fn default_is_a_four_byte_big_endian_header_8_mib_max_and_fail() {
    for codec in [PacketN::default(), PacketN::builder().build().unwrap()] {
        assert_eq!(codec.header_len(), HeaderLen::Four);
        assert_eq!(codec.byte_order(), ByteOrder::Big);
        assert_eq!(codec.max_frame_len(), 8 * 1024 * 1024);
        assert_eq!(codec.oversize_policy(), OversizePolicy::Fail);
    }
}

#[test]
fn max_frame_len_is_clamped_to_what_the_header_can_express() {
    let expected = [
        (HeaderLen::One, 255),
        (HeaderLen::Two, 65_535),
        (HeaderLen::Four, u32::MAX as u64),
        (HeaderLen::Eight, usize::MAX as u64),
    ];
    for (header, max) in expected {
        let raised = limited(header, u64::MAX, OversizePolicy::Fail);
        assert_eq!(raised.max_frame_len(), max, "{header:?}");
        assert_eq!(
            PacketN::new(header, ByteOrder::Big).max_frame_len(),
            max.min(DEFAULT_MAX_FRAME_LEN),
            "{header:?}"
        );
    }
}

// ---- decoding ----

#[test]
fn headers_are_read_in_their_byte_order() {
    let wire = |header, order, bytes: &[u8]| {
        let mut codec = PacketN::new(header, order);
        let mut src = BytesMut::from(bytes);
        src.extend_from_slice(&[7; 258]);
        codec.decode(&mut src).unwrap().unwrap().len()
    };
    assert_eq!(wire(HeaderLen::One, ByteOrder::Big, &[3]), 3);
    assert_eq!(wire(HeaderLen::Two, ByteOrder::Big, &[1, 2]), 258);
    assert_eq!(wire(HeaderLen::Two, ByteOrder::Little, &[2, 1]), 258);
    assert_eq!(wire(HeaderLen::Four, ByteOrder::Big, &[0, 0, 1, 2]), 258);
    assert_eq!(wire(HeaderLen::Four, ByteOrder::Little, &[2, 1, 0, 0]), 258);
    assert_eq!(
        wire(HeaderLen::Eight, ByteOrder::Big, &[0, 0, 0, 0, 0, 0, 1, 2]),
        258
    );
    assert_eq!(
        wire(
            HeaderLen::Eight,
            ByteOrder::Little,
            &[2, 1, 0, 0, 0, 0, 0, 0]
        ),
        258
    );
}

#[test]
fn a_header_split_across_reads_is_kept_until_it_is_whole() {
    for mut codec in every_codec() {
        let wire = frame(&codec, b"payload");
        let n = codec.header_len().bytes();
        let mut src = BytesMut::new();
        for &byte in &wire[..n] {
            assert_eq!(codec.decode(&mut src).unwrap(), None);
            src.extend_from_slice(&[byte]);
        }
        src.extend_from_slice(&wire[n..]);
        assert_eq!(drain(&mut codec, &mut src), [&b"payload"[..]]);
        assert!(src.is_empty());
    }
}

#[test]
fn a_payload_split_across_reads_is_one_frame_once_whole() {
    for mut codec in every_codec() {
        let payload: Vec<u8> = (0..200).collect();
        let wire = frame(&codec, &payload);
        let mut src = BytesMut::new();
        let mut frames = Vec::new();
        for chunk in wire.chunks(7) {
            src.extend_from_slice(chunk);
            frames.extend(drain(&mut codec, &mut src));
        }
        assert_eq!(frames, [payload.as_slice()], "{codec:?}");
        assert!(src.is_empty());
    }
}

#[test]
fn many_frames_and_a_partial_header_in_one_read_decode_and_keep_the_partial_header() {
    for mut codec in every_codec() {
        let payloads: [&[u8]; 3] = [b"a", b"bc", b"def"];
        let mut wire: Vec<u8> = payloads.iter().flat_map(|p| frame(&codec, p)).collect();
        let next = frame(&codec, b"ghij");
        let n = codec.header_len().bytes();
        // All of the next frame's header but its last byte (nothing of it for N = 1).
        wire.extend_from_slice(&next[..n - 1]);
        let mut src = BytesMut::from(&wire[..]);
        assert_eq!(drain(&mut codec, &mut src), payloads);
        assert_eq!(&src[..], &next[..n - 1]);
        src.extend_from_slice(&next[n - 1..]);
        assert_eq!(drain(&mut codec, &mut src), [&b"ghij"[..]]);
        assert!(src.is_empty());
    }
}

#[test]
fn a_zero_length_payload_alone_is_a_frame() {
    for mut codec in every_codec() {
        let mut src = BytesMut::from(&frame(&codec, b"")[..]);
        assert_eq!(codec.decode(&mut src).unwrap(), Some(Bytes::new()));
        assert!(src.is_empty());
        assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
    }
}

#[test]
fn zero_length_payloads_between_frames_are_kept() {
    for mut codec in every_codec() {
        let payloads: [&[u8]; 5] = [b"", b"x", b"", b"", b"yz"];
        let wire: Vec<u8> = payloads.iter().flat_map(|p| frame(&codec, p)).collect();
        let mut src = BytesMut::from(&wire[..]);
        assert_eq!(drain(&mut codec, &mut src), payloads);
    }
}

#[test]
fn thousands_of_zero_length_frames_in_a_row_all_decode() {
    for mut codec in every_codec() {
        let count = 5_000;
        let wire = frame(&codec, b"").repeat(count);
        let mut src = BytesMut::new();
        let mut frames = 0;
        // Odd-sized reads cut headers everywhere.
        for chunk in wire.chunks(333) {
            src.extend_from_slice(chunk);
            for f in drain(&mut codec, &mut src) {
                assert!(f.is_empty());
                frames += 1;
            }
        }
        assert_eq!(frames, count, "{codec:?}");
        assert_eq!(codec.decode_eof(&mut src).unwrap(), None);
    }
}

#[test]
fn decoded_frames_stay_valid_after_more_input_arrives() {
    let mut codec = PacketN::default();
    let mut src = BytesMut::with_capacity(64);
    src.extend_from_slice(&frame(&codec, b"first"));
    src.extend_from_slice(&frame(&codec, b"sec")[..6]);
    let first = codec.decode(&mut src).unwrap().unwrap();
    assert_eq!(codec.decode(&mut src).unwrap(), None);
    // More input, enough to force `src` to reallocate, and more frames taken.
    src.extend_from_slice(b"c");
    for _ in 0..100 {
        src.extend_from_slice(&frame(&codec, &[0xee; 100]));
    }
    let second = codec.decode(&mut src).unwrap().unwrap();
    assert_eq!(drain(&mut codec, &mut src).len(), 100);
    drop(src);
    assert_eq!(first, &b"first"[..]);
    assert_eq!(second, &b"sec"[..]);
}

// ---- limits ----

#[test]
fn a_length_equal_to_the_max_is_accepted() {
    for header in HEADERS {
        let mut codec = limited(header, 200, OversizePolicy::Fail);
        let mut src = BytesMut::from(&frame(&codec, &[1; 200])[..]);
        assert_eq!(codec.decode(&mut src).unwrap().unwrap().len(), 200);
    }
}

#[test]
fn a_length_of_max_plus_one_is_refused_before_any_reserve() {
    for header in HEADERS {
        let mut codec = limited(header, 200, OversizePolicy::Fail);
        let mut src = BytesMut::from(&head(header, ByteOrder::Big, 201)[..]);
        let capacity = src.capacity();
        assert_eq!(too_large(codec.decode(&mut src)), (201, 200));
        assert_eq!(
            src.capacity(),
            capacity,
            "{header:?}: reserved for a refused frame"
        );
        assert_eq!(&src[..], &head(header, ByteOrder::Big, 201)[..]);
    }
}

#[test]
fn an_eight_byte_header_declaring_2_pow_63_or_u64_max_is_refused_as_the_raw_value() {
    for declared in [1u64 << 63, u64::MAX] {
        for order in ORDERS {
            let mut codec = PacketN::new(HeaderLen::Eight, order);
            let mut src = BytesMut::from(&head(HeaderLen::Eight, order, declared)[..]);
            let capacity = src.capacity();
            assert_eq!(
                too_large(codec.decode(&mut src)),
                (declared, DEFAULT_MAX_FRAME_LEN)
            );
            assert_eq!(src.capacity(), capacity);
        }
    }
}

#[test]
fn a_lying_eight_byte_header_under_a_raised_max_allocates_one_step_at_most() {
    let max = limited(HeaderLen::Eight, u64::MAX, OversizePolicy::Fail).max_frame_len();
    // On a 32-bit target the raised max is `usize::MAX`; declare that there.
    for declared in [1u64 << 63, u64::MAX].map(|d| d.min(max)) {
        let codec = limited(HeaderLen::Eight, u64::MAX, OversizePolicy::Fail);
        lying_prefix_allocates_one_step_at_most(
            codec,
            &head(HeaderLen::Eight, ByteOrder::Big, declared),
        );
    }
}

#[test]
fn a_large_frame_grows_the_buffer_only_as_its_bytes_arrive() {
    let prefix = head(HeaderLen::Four, ByteOrder::Big, 1 << 20);
    large_frame_grows_with_its_bytes(PacketN::default(), &prefix);
}

#[test]
fn fail_policy_leaves_the_header_in_place_and_keeps_failing() {
    let mut codec = limited(HeaderLen::Two, 10, OversizePolicy::Fail);
    let mut src = BytesMut::from(&[0u8, 11, 1, 2, 3][..]);
    for _ in 0..2 {
        assert!(!codec.decode(&mut src).unwrap_err().is_recoverable());
        assert_eq!(src.len(), 5);
    }
}

#[test]
fn discard_skips_an_oversized_frame_across_many_reads_reports_it_once_then_resynchronises() {
    for header in [HeaderLen::Two, HeaderLen::Four, HeaderLen::Eight] {
        let mut codec = limited(header, 100, OversizePolicy::Discard);
        let framing = codec.clone();
        discard_resynchronises(&mut codec, |p| frame(&framing, p), 8);
    }
}

#[test]
fn discard_reports_each_oversized_frame_once() {
    let mut codec = limited(HeaderLen::One, 2, OversizePolicy::Discard);
    let mut src = BytesMut::from(&b"\x03abc\x03def\x02gh"[..]);
    for _ in 0..2 {
        match codec.decode(&mut src) {
            Err(FrameError::FrameDiscarded {
                declared: 3,
                max: 2,
            }) => {}
            other => panic!("expected FrameDiscarded, got {other:?}"),
        }
    }
    assert_eq!(
        codec.decode(&mut src).unwrap(),
        Some(Bytes::from_static(b"gh"))
    );
    assert_eq!(codec.decode(&mut src).unwrap(), None);
}

#[test]
fn discard_of_an_eight_byte_header_declaring_u64_max_reserves_nothing() {
    let mut codec = limited(
        HeaderLen::Eight,
        DEFAULT_MAX_FRAME_LEN,
        OversizePolicy::Discard,
    );
    let mut src = BytesMut::from(&head(HeaderLen::Eight, ByteOrder::Big, u64::MAX)[..]);
    src.extend_from_slice(&[0; 100]);
    let capacity = src.capacity();
    assert!(codec.decode(&mut src).unwrap_err().is_recoverable());
    assert_eq!(codec.decode(&mut src).unwrap(), None);
    assert!(src.is_empty());
    assert!(src.capacity() <= capacity);
}

// ---- end of stream ----

#[test]
fn eof_on_a_frame_boundary_is_a_clean_end() {
    let codec = PacketN::default();
    let wire = [frame(&codec, b"a"), frame(&codec, b"")].concat();
    eof_on_frame_boundaries_is_clean(codec, &wire);
}

#[test]
fn eof_inside_a_header_is_unexpected_eof() {
    let mut codec = PacketN::default();
    let mut src = BytesMut::from(&[0u8, 0][..]);
    assert_eq!(eof_error(codec.decode_eof(&mut src)), 2);
}

#[test]
fn eof_after_a_header_with_no_payload_byte_yet_is_unexpected_eof() {
    // The header is consumed by `decode` and `src` is left empty.
    let prefix = head(HeaderLen::Four, ByteOrder::Big, 3);
    eof_after_a_whole_prefix_counts_it(PacketN::default(), &prefix);
}

#[test]
fn eof_inside_a_payload_is_unexpected_eof_counting_the_header() {
    let mut codec = PacketN::new(HeaderLen::Two, ByteOrder::Little);
    let mut src = BytesMut::from(&frame(&codec, b"abcdef")[..5]);
    assert_eq!(eof_error(codec.decode_eof(&mut src)), 5);
}

#[test]
fn eof_while_discarding_is_unexpected_eof() {
    let mut codec = limited(HeaderLen::One, 1, OversizePolicy::Discard);
    let mut src = BytesMut::from(&b"\x05ab"[..]);
    assert!(codec.decode(&mut src).unwrap_err().is_recoverable());
    assert_eq!(eof_error(codec.decode_eof(&mut src)), 0);
}

// ---- encoding ----

/// Asserts that encoding `len` bytes is refused and leaves `dst` as it was.
fn refuses(codec: &mut PacketN, len: usize) {
    let max = codec.max_frame_len();
    refuses_and_writes_nothing(codec, len, max, PacketN::encode_to_bytes);
}

#[test]
fn a_one_byte_header_refuses_a_256_byte_payload_and_writes_nothing() {
    for order in ORDERS {
        let mut codec = PacketN::new(HeaderLen::One, order);
        refuses(&mut codec, 256);
        let mut dst = BytesMut::new();
        codec.encode(&[1u8; 255][..], &mut dst).unwrap();
        assert_eq!(dst[0], 255);
        assert_eq!(dst.len(), 256);
    }
}

#[test]
fn a_two_byte_header_refuses_a_65536_byte_payload_and_writes_nothing() {
    let mut codec = limited(HeaderLen::Two, u64::MAX, OversizePolicy::Fail);
    refuses(&mut codec, 65_536);
    let mut dst = BytesMut::new();
    codec.encode(&[1u8; 65_535][..], &mut dst).unwrap();
    assert_eq!(dst[..2], [0xff, 0xff]);
}

#[test]
fn a_four_byte_header_cannot_express_2_pow_32_even_with_the_max_raised() {
    // A 4 GiB payload is too big to allocate in a test; the check that
    // `encode` runs first is asked directly.
    let codec = limited(HeaderLen::Four, u64::MAX, OversizePolicy::Fail);
    let over = u32::MAX as u64 + 1;
    match codec.head_for(over as usize) {
        Err(FrameError::PayloadTooLarge { len, max }) => assert_eq!((len, max), (over, over - 1)),
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    let (head, n) = codec.head_for(u32::MAX as usize).unwrap();
    assert_eq!(head[..n], [0xff; 4]);
}

#[test]
fn a_payload_over_the_max_is_refused_and_writes_nothing() {
    let mut codec = PacketN::default();
    refuses(&mut codec, DEFAULT_MAX_FRAME_LEN as usize + 1);
    let mut small = PacketN::builder().max_frame_len(3).build().unwrap();
    refuses(&mut small, 4);
}

#[test]
fn a_payload_of_exactly_the_max_is_encoded() {
    let mut codec = PacketN::builder().max_frame_len(3).build().unwrap();
    let mut dst = BytesMut::new();
    codec.encode(&b"abc"[..], &mut dst).unwrap();
    assert_eq!(&dst[..], b"\0\0\0\x03abc");
}

#[test]
fn a_zero_length_payload_encodes_to_a_bare_header() {
    for mut codec in every_codec() {
        let mut dst = BytesMut::new();
        codec.encode(&b""[..], &mut dst).unwrap();
        assert_eq!(
            &dst[..],
            &head(codec.header_len(), codec.byte_order(), 0)[..]
        );
    }
}

#[test]
fn every_encode_path_writes_the_same_bytes() {
    for mut codec in every_codec() {
        let payload = "héllo";
        let expected = frame(&codec, payload.as_bytes());
        let mut outputs = vec![
            codec.encode_to_bytes(payload.as_bytes()).unwrap(),
            codec
                .encode_frame(Bytes::from_static(payload.as_bytes()))
                .unwrap()
                .into_contiguous(),
            codec.encode_frame(payload).unwrap().into_contiguous(),
        ];
        let mut encode = |f: &mut dyn FnMut(&mut PacketN, &mut BytesMut)| {
            let mut dst = BytesMut::new();
            f(&mut codec, &mut dst);
            outputs.push(dst.freeze());
        };
        encode(&mut |c, d| c.encode(payload, d).unwrap());
        encode(&mut |c, d| c.encode(payload.to_owned(), d).unwrap());
        encode(&mut |c, d| c.encode(payload.as_bytes().to_vec(), d).unwrap());
        encode(&mut |c, d| c.encode(payload.as_bytes(), d).unwrap());
        encode(&mut |c, d| c.encode(Bytes::from_static(payload.as_bytes()), d).unwrap());
        for out in outputs {
            assert_eq!(out, expected, "{codec:?}");
        }
    }
}

#[test]
fn encode_frame_keeps_the_payload_without_copying_it() {
    let mut codec = PacketN::default();
    let payload = Bytes::from(vec![5u8; 1000]);
    let frame = codec.encode_frame(payload.clone()).unwrap();
    assert_eq!(frame.head(), [0, 0, 3, 0xe8]);
    assert_eq!(frame.body().as_ptr(), payload.as_ptr());
}
