//! Every built-in codec of the family round-trips under random configurations
//! and arbitrary chunking of its input; the encoders refuse exactly what a
//! simple model says a peer would refuse; oversized frames are failed or
//! discarded as the policy says; and no input makes a decoder panic or grow
//! its buffer beyond what arrived plus one reserve step.

use bytes::{Bytes, BytesMut};
use castnet_core::frame::{
    ByteOrder, Decoder, DelimiterCodec, EncodedFrame, Encoder, FixedLengthCodec, FrameError,
    LengthFieldCodec, LineEnding, LinesCodec, OversizePolicy, RawCodec, Utf8LinesCodec,
    MAX_RESERVE_STEP,
};
use proptest::prelude::*;

/// What a decoder produced, comparable.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event<T> {
    Frame(T),
    /// `FrameDiscarded`, with its declared length when the model knows it.
    Discarded(Option<u64>),
    /// The fatal error that ended decoding, by name.
    Fatal(&'static str),
}

fn fatal_name(e: &FrameError) -> &'static str {
    match e {
        FrameError::FrameTooLarge { .. } => "FrameTooLarge",
        FrameError::DelimiterNotFound { .. } => "DelimiterNotFound",
        FrameError::InvalidLength(_) => "InvalidLength",
        FrameError::UnexpectedEof { .. } => "UnexpectedEof",
        FrameError::InvalidUtf8(_) => "InvalidUtf8",
        _ => "other",
    }
}

/// Feeds `wire` to `codec` in pieces whose sizes cycle through `chunks`,
/// decoding every frame as soon as it is complete, then ends the stream with
/// `decode_eof`. Decoding stops at the first fatal error. Checks after every
/// call that the buffer never grew beyond twice what arrived plus one step.
fn feed<D: Decoder>(codec: &mut D, wire: &[u8], chunks: &[usize]) -> Vec<Event<D::Item>> {
    let mut src = BytesMut::new();
    let mut events = Vec::new();
    let mut fed = 0;
    let mut sizes = chunks.iter().cycle();
    loop {
        let eof = fed == wire.len();
        if !eof {
            let n = (*sizes.next().unwrap()).min(wire.len() - fed);
            src.extend_from_slice(&wire[fed..fed + n]);
            fed += n;
        }
        loop {
            let out = if eof {
                codec.decode_eof(&mut src)
            } else {
                codec.decode(&mut src)
            };
            assert!(
                src.capacity() <= 2 * (fed + MAX_RESERVE_STEP),
                "buffer of {} bytes after {fed} arrived",
                src.capacity()
            );
            match out {
                Ok(Some(frame)) => events.push(Event::Frame(frame)),
                Ok(None) => break,
                Err(FrameError::FrameDiscarded { declared, .. }) => {
                    events.push(Event::Discarded(Some(declared)))
                }
                Err(e) => {
                    events.push(Event::Fatal(fatal_name(&e)));
                    return events;
                }
            }
        }
        if eof {
            return events;
        }
    }
}

/// Forgets the declared lengths of discarded frames, for codecs where it
/// depends on how the input was chunked.
fn without_declared<T>(events: Vec<Event<T>>) -> Vec<Event<T>> {
    events
        .into_iter()
        .map(|e| match e {
            Event::Discarded(_) => Event::Discarded(None),
            e => e,
        })
        .collect()
}

/// Encodes `item` every way (`encode`, `encode_frame`, `encode_to_vec`),
/// checks they agree, that `encoded_len` (when known) is the frame's length,
/// and that a refusal wrote nothing; returns the wire bytes.
fn encode_both<E, I: Clone>(codec: &mut E, item: I) -> Result<Bytes, FrameError>
where
    E: Encoder<I>,
{
    let len = codec.encoded_len(&item);
    let mut dst = BytesMut::from(&b"prefix"[..]);
    let contiguous = codec.encode(item.clone(), &mut dst);
    let mut vec = b"prefix".to_vec();
    let appended = codec.encode_to_vec(item.clone(), &mut vec);
    let vectored = codec.encode_frame(item).map(EncodedFrame::into_contiguous);
    match (&contiguous, &vectored, &appended) {
        (Ok(()), Ok(frame), Ok(())) => {
            assert_eq!(&dst[6..], &frame[..]);
            assert_eq!(&vec[6..], &frame[..]);
            if let Some(len) = len {
                assert_eq!(len, frame.len(), "encoded_len");
            }
            Ok(frame.clone())
        }
        (Err(_), Err(e), Err(_)) => {
            assert_eq!(&dst[..], b"prefix", "a refused encode wrote bytes");
            assert_eq!(&vec[..], b"prefix", "a refused encode_to_vec wrote bytes");
            Err(e.clone())
        }
        _ => panic!(
            "encode, encode_frame and encode_to_vec disagree: {contiguous:?} / {vectored:?} / {appended:?}"
        ),
    }
}

fn chunking() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=40, 1..8)
}

fn order() -> impl Strategy<Value = ByteOrder> {
    prop_oneof![Just(ByteOrder::Big), Just(ByteOrder::Little)]
}

fn policy() -> impl Strategy<Value = OversizePolicy> {
    prop_oneof![Just(OversizePolicy::Fail), Just(OversizePolicy::Discard)]
}

/// The model's outcome for a list of frames, some over the decoder's maximum:
/// frames in order; an oversized one is `Discarded` or ends the list as `Fatal`.
fn expected_with_oversize<T>(
    frames: Vec<(T, bool, Option<u64>)>,
    policy: OversizePolicy,
    fatal: &'static str,
) -> Vec<Event<T>> {
    let mut out = Vec::new();
    for (frame, oversized, declared) in frames {
        if !oversized {
            out.push(Event::Frame(frame));
        } else if policy == OversizePolicy::Discard {
            out.push(Event::Discarded(declared));
        } else {
            out.push(Event::Fatal(fatal));
            break;
        }
    }
    out
}

// ----- length field -----

#[derive(Debug, Clone)]
struct LfConfig {
    offset: usize,
    field_len: usize,
    order: ByteOrder,
    adjustment: i64,
    strip: usize,
    max: u64,
}

fn lf_config() -> impl Strategy<Value = LfConfig> {
    (0usize..=4, 1usize..=8, order()).prop_flat_map(|(offset, field_len, order)| {
        let header_end = offset + field_len;
        (
            -(header_end as i64 + 3)..=6i64,
            0..=header_end + 3,
            8u64..300,
        )
            .prop_map(move |(adjustment, strip, max)| LfConfig {
                offset,
                field_len,
                order,
                adjustment,
                strip,
                max,
            })
    })
}

impl LfConfig {
    fn build(&self, max: u64, policy: OversizePolicy) -> LengthFieldCodec {
        LengthFieldCodec::builder()
            .length_field_offset(self.offset)
            .length_field_len(self.field_len)
            .byte_order(self.order)
            .length_adjustment(self.adjustment)
            .bytes_to_strip(self.strip)
            .max_frame_len(max)
            .oversize_policy(policy)
            .build()
            .expect("the strategy only makes valid configurations")
    }

    fn header_end(&self) -> usize {
        self.offset + self.field_len
    }

    /// The model of the encoder: the wire frame for `item`, or `None` if a peer
    /// with this configuration and maximum would refuse it.
    fn wire(&self, item: &[u8], max: u64) -> Option<Vec<u8>> {
        let after = item.len().checked_sub(self.offset)? as i64;
        let value = after - self.adjustment;
        let field_max = if self.field_len == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * self.field_len)) - 1
        };
        if value < 0
            || value as u64 > field_max
            || after as u64 > max
            || self.header_end() + (after as usize) < self.strip
        {
            return None;
        }
        let n = self.field_len;
        let field = match self.order {
            ByteOrder::Big => (value as u64).to_be_bytes()[8 - n..].to_vec(),
            _ => (value as u64).to_le_bytes()[..n].to_vec(),
        };
        Some([&item[..self.offset], &field, &item[self.offset..]].concat())
    }
}

proptest! {
    #[test]
    fn length_field_round_trips_under_any_config_and_chunking(
        cfg in lf_config(),
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 0..12),
        chunks in chunking(),
    ) {
        let mut enc = cfg.build(cfg.max, OversizePolicy::Fail);
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for item in &items {
            let model = cfg.wire(item, cfg.max);
            match encode_both(&mut enc, Bytes::copy_from_slice(item)) {
                Ok(bytes) => {
                    prop_assert_eq!(Some(&bytes[..]), model.as_deref());
                    wire.extend_from_slice(&bytes);
                    expected.push(Event::Frame(Bytes::copy_from_slice(&bytes[cfg.strip..])));
                }
                Err(e) => prop_assert!(model.is_none(), "refused {:?}: {}", item, e),
            }
        }
        let mut dec = cfg.build(cfg.max, OversizePolicy::Fail);
        prop_assert_eq!(feed(&mut dec, &wire, &chunks), expected);
    }

    #[test]
    fn length_field_oversized_frames_fail_or_are_discarded_and_decoding_resumes(
        cfg in lf_config(),
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 0..12),
        dec_max in 0u64..20,
        policy in policy(),
        chunks in chunking(),
    ) {
        let mut enc = cfg.build(cfg.max, OversizePolicy::Fail);
        let dec = LengthFieldCodec::builder()
            .length_field_offset(cfg.offset)
            .length_field_len(cfg.field_len)
            .byte_order(cfg.order)
            .length_adjustment(cfg.adjustment)
            .bytes_to_strip(cfg.strip)
            .max_frame_len(dec_max)
            .oversize_policy(policy)
            .build();
        // A smaller maximum may leave no valid frame at all: a config error.
        prop_assume!(dec.is_ok());
        let mut dec = dec.unwrap();
        let mut wire = Vec::new();
        let mut frames = Vec::new();
        for item in &items {
            if let Ok(bytes) = encode_both(&mut enc, Bytes::copy_from_slice(item)) {
                wire.extend_from_slice(&bytes);
                let after = (bytes.len() - cfg.header_end()) as u64;
                frames.push((Bytes::copy_from_slice(&bytes[cfg.strip..]), after > dec_max, Some(after)));
            }
        }
        let expected = expected_with_oversize(frames, policy, "FrameTooLarge");
        prop_assert_eq!(feed(&mut dec, &wire, &chunks), expected);
    }

    #[test]
    fn length_field_decoder_survives_hostile_bytes(
        cfg in lf_config(),
        policy in policy(),
        huge_max in any::<bool>(),
        input in prop::collection::vec(any::<u8>(), 0..256),
        chunks in chunking(),
    ) {
        let max = if huge_max { u64::MAX } else { cfg.max };
        let mut dec = cfg.build(max, policy);
        // Ends with a fatal error, or having consumed everything.
        let events = feed(&mut dec, &input, &chunks);
        if let Some(Event::Fatal(name)) = events.last() {
            prop_assert!(["FrameTooLarge", "InvalidLength", "UnexpectedEof"].contains(name));
        }
    }
}

// ----- delimiter -----

/// A byte string over a small alphabet, so payloads often hold the delimiter
/// or overlap it.
fn small_alphabet(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"ab\n"[..]), len)
}

/// Where a peer reading `payload ++ delim` first finds `delim`.
fn first_delimiter(payload: &[u8], delim: &[u8]) -> usize {
    let joined = [payload, delim].concat();
    joined
        .windows(delim.len())
        .position(|w| w == delim)
        .expect("the appended delimiter is always found")
}

proptest! {
    #[test]
    fn delimiter_round_trips_under_any_config_and_chunking(
        delim in small_alphabet(1..4),
        keep in any::<bool>(),
        max in 0u64..16,
        items in prop::collection::vec(small_alphabet(0..12), 0..12),
        chunks in chunking(),
    ) {
        let build = || DelimiterCodec::builder(&delim).keep_delimiter(keep).max_frame_len(max).build().unwrap();
        let mut enc = build();
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for item in &items {
            let at = first_delimiter(item, &delim);
            match encode_both(&mut enc, item.clone()) {
                Ok(bytes) => {
                    prop_assert!(item.len() as u64 <= max && at == item.len());
                    prop_assert_eq!(&bytes[..], &[&item[..], &delim[..]].concat()[..]);
                    wire.extend_from_slice(&bytes);
                    let frame = if keep { &bytes[..] } else { &item[..] };
                    expected.push(Event::Frame(Bytes::copy_from_slice(frame)));
                }
                Err(FrameError::PayloadTooLarge { .. }) => prop_assert!(item.len() as u64 > max),
                Err(FrameError::DelimiterInPayload { at: got }) => prop_assert_eq!(got, at),
                Err(e) => prop_assert!(false, "unexpected refusal {}", e),
            }
        }
        prop_assert_eq!(feed(&mut build(), &wire, &chunks), expected);
    }

    #[test]
    fn delimiter_overlong_frames_fail_or_are_discarded_and_decoding_resumes(
        delim in small_alphabet(1..4),
        dec_max in 0u64..8,
        policy in policy(),
        items in prop::collection::vec(small_alphabet(0..12), 0..12),
        chunks in chunking(),
    ) {
        let mut enc = DelimiterCodec::new(&delim).unwrap();
        let mut dec = DelimiterCodec::builder(&delim).max_frame_len(dec_max).oversize_policy(policy).build().unwrap();
        let mut wire = Vec::new();
        let mut frames = Vec::new();
        for item in &items {
            if encode_both(&mut enc, item.clone()).is_ok() {
                wire.extend_from_slice(item);
                wire.extend_from_slice(&delim);
                frames.push((Bytes::copy_from_slice(item), item.len() as u64 > dec_max, None));
            }
        }
        let expected = expected_with_oversize(frames, policy, "DelimiterNotFound");
        prop_assert_eq!(without_declared(feed(&mut dec, &wire, &chunks)), expected);
    }

    #[test]
    fn delimiter_decoder_survives_hostile_bytes(
        delim in small_alphabet(1..4),
        max in 0u64..16,
        policy in policy(),
        input in small_alphabet(0..256),
        chunks in chunking(),
    ) {
        let mut dec = DelimiterCodec::builder(&delim).max_frame_len(max).oversize_policy(policy).build().unwrap();
        for event in feed(&mut dec, &input, &chunks) {
            match event {
                Event::Frame(f) => prop_assert!(f.len() as u64 <= max),
                Event::Discarded(_) => {}
                Event::Fatal(name) => prop_assert!(["DelimiterNotFound", "UnexpectedEof"].contains(&name)),
            }
        }
    }
}

// ----- lines -----

fn line_bytes(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"ab\r\n"[..]), len)
}

fn ending() -> impl Strategy<Value = LineEnding> {
    prop_oneof![Just(LineEnding::Lf), Just(LineEnding::CrLf)]
}

proptest! {
    #[test]
    fn lines_round_trip_under_any_config_and_chunking(
        ending in ending(),
        max in 0u64..16,
        items in prop::collection::vec(line_bytes(0..12), 0..12),
        chunks in chunking(),
    ) {
        let build = || LinesCodec::builder().line_ending(ending).max_line_len(max).build();
        let mut enc = build();
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for item in &items {
            let lf = item.iter().position(|&b| b == b'\n');
            let trailing_cr = ending == LineEnding::Lf && item.last() == Some(&b'\r');
            match encode_both(&mut enc, item.clone()) {
                Ok(bytes) => {
                    prop_assert!(item.len() as u64 <= max && lf.is_none() && !trailing_cr);
                    prop_assert_eq!(&bytes[..], &[&item[..], ending.as_bytes()].concat()[..]);
                    wire.extend_from_slice(&bytes);
                    expected.push(Event::Frame(Bytes::copy_from_slice(item)));
                }
                Err(FrameError::PayloadTooLarge { .. }) => prop_assert!(item.len() as u64 > max),
                Err(FrameError::DelimiterInPayload { at }) => {
                    prop_assert_eq!(Some(at), lf.or(trailing_cr.then(|| item.len() - 1)));
                }
                Err(e) => prop_assert!(false, "unexpected refusal {}", e),
            }
        }
        prop_assert_eq!(feed(&mut build(), &wire, &chunks), expected);
    }

    #[test]
    fn lines_overlong_lines_fail_or_are_discarded_and_decoding_resumes(
        ending in ending(),
        dec_max in 0u64..8,
        policy in policy(),
        items in prop::collection::vec(line_bytes(0..12), 0..12),
        chunks in chunking(),
    ) {
        let mut enc = LinesCodec::builder().line_ending(ending).build();
        let mut dec = LinesCodec::builder().max_line_len(dec_max).oversize_policy(policy).build();
        let mut wire = Vec::new();
        let mut frames = Vec::new();
        for item in &items {
            if let Ok(bytes) = encode_both(&mut enc, item.clone()) {
                wire.extend_from_slice(&bytes);
                frames.push((Bytes::copy_from_slice(item), item.len() as u64 > dec_max, None));
            }
        }
        let expected = expected_with_oversize(frames, policy, "DelimiterNotFound");
        prop_assert_eq!(without_declared(feed(&mut dec, &wire, &chunks)), expected);
    }

    #[test]
    fn utf8_lines_round_trip_any_text_without_newlines(
        ending in ending(),
        items in prop::collection::vec("[^\n]{0,12}", 0..8),
        chunks in chunking(),
    ) {
        let build = || Utf8LinesCodec::from(LinesCodec::builder().line_ending(ending).build());
        let mut enc = build();
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for item in &items {
            let trailing_cr = ending == LineEnding::Lf && item.ends_with('\r');
            match encode_both(&mut enc, item.clone()) {
                Ok(bytes) => {
                    wire.extend_from_slice(&bytes);
                    expected.push(Event::Frame(item.clone()));
                }
                Err(e) => prop_assert!(trailing_cr, "unexpected refusal {}", e),
            }
        }
        prop_assert_eq!(feed(&mut build(), &wire, &chunks), expected);
    }

    #[test]
    fn lines_decoder_survives_hostile_bytes(
        max in 0u64..16,
        policy in policy(),
        input in prop::collection::vec(any::<u8>(), 0..256),
        chunks in chunking(),
    ) {
        let mut dec = Utf8LinesCodec::from(LinesCodec::builder().max_line_len(max).oversize_policy(policy).build());
        for event in feed(&mut dec, &input, &chunks) {
            match event {
                Event::Frame(line) => prop_assert!(line.len() as u64 <= max && !line.contains('\n')),
                Event::Discarded(_) => {}
                Event::Fatal(name) => prop_assert!(["DelimiterNotFound", "UnexpectedEof", "InvalidUtf8"].contains(&name)),
            }
        }
    }
}

// ----- fixed length and raw -----

proptest! {
    #[test]
    fn fixed_length_round_trips_and_refuses_other_lengths(
        n in 1usize..=16,
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..12),
        chunks in chunking(),
    ) {
        let mut enc = FixedLengthCodec::new(n).unwrap();
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for item in &items {
            match encode_both(&mut enc, &item[..]) {
                Ok(bytes) => {
                    prop_assert_eq!(&bytes[..], &item[..]);
                    wire.extend_from_slice(&bytes);
                    expected.push(Event::Frame(Bytes::copy_from_slice(item)));
                }
                Err(FrameError::PayloadTooShort { .. }) => prop_assert!(item.len() < n),
                Err(FrameError::PayloadTooLarge { .. }) => prop_assert!(item.len() > n),
                Err(e) => prop_assert!(false, "unexpected refusal {}", e),
            }
        }
        prop_assert_eq!(feed(&mut FixedLengthCodec::new(n).unwrap(), &wire, &chunks), expected);
    }

    #[test]
    fn fixed_length_leftover_at_eof_is_unexpected_eof(
        n in 1usize..=16,
        input in prop::collection::vec(any::<u8>(), 0..100),
        chunks in chunking(),
    ) {
        let events = feed(&mut FixedLengthCodec::new(n).unwrap(), &input, &chunks);
        let frames = input.len() / n;
        prop_assert_eq!(events.len(), frames + usize::from(input.len() % n != 0));
        for (i, event) in events.iter().enumerate() {
            if i < frames {
                prop_assert_eq!(event, &Event::Frame(Bytes::copy_from_slice(&input[i * n..(i + 1) * n])));
            } else {
                prop_assert_eq!(event, &Event::Fatal("UnexpectedEof"));
            }
        }
    }

    #[test]
    fn raw_passes_every_byte_through_in_order(
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 0..12),
        chunks in chunking(),
    ) {
        let mut enc = RawCodec::new();
        let mut wire = Vec::new();
        for item in &items {
            let bytes = encode_both(&mut enc, item.clone()).unwrap();
            prop_assert_eq!(&bytes[..], &item[..]);
            wire.extend_from_slice(&bytes);
        }
        let mut joined = Vec::new();
        for event in feed(&mut RawCodec::new(), &wire, &chunks) {
            match event {
                Event::Frame(f) => {
                    prop_assert!(!f.is_empty());
                    joined.extend_from_slice(&f);
                }
                other => prop_assert!(false, "raw decoding never fails: {:?}", other),
            }
        }
        prop_assert_eq!(joined, wire);
    }
}
