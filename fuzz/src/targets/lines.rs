//! `decode_lines`: LF / CRLF lines as bytes or as UTF-8 strings, under any
//! maximum and oversize policy.

use super::{bit, policy};
use crate::harness::{decode_any_chunking, encode_then_decode};
use crate::input::Input;
use bytes::Bytes;
use castnet_core::frame::{LineEnding, LinesCodec, Utf8LinesCodec};

/// Configuration layout: a flags byte (bit 0: the encoder writes CRLF; bit 1:
/// `Discard`; bit 2: decode to `String`s; bit 3: no maximum, else the `u16`
/// below), then the maximum line length as a `u16`.
pub fn decode_lines(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let max = match bit(flags, 3) {
        true => u64::MAX,
        false => u64::from(input.u16()),
    };
    let ending = match bit(flags, 0) {
        true => LineEnding::CrLf,
        false => LineEnding::Lf,
    };
    let codec = LinesCodec::builder()
        .line_ending(ending)
        .oversize_policy(policy(bit(flags, 1)))
        .max_line_len(max)
        .build();
    let (sizes, stream) = input.reads_and_stream();

    if bit(flags, 2) {
        let utf8 = Utf8LinesCodec::from(codec.clone());
        let decoded = decode_any_chunking(|| utf8.clone(), stream, &sizes);
        check_lines(&codec, decoded.frames().iter().map(|l| l.as_bytes()));
        if let Ok(text) = std::str::from_utf8(stream) {
            if let Some((_, decoded)) = encode_then_decode(|| utf8.clone(), text, &sizes) {
                decoded.assert_frames(&[text.to_owned()], "UTF-8 lines round trip");
            }
        }
    } else {
        let decoded = decode_any_chunking(|| codec.clone(), stream, &sizes);
        check_lines(&codec, decoded.frames().iter().map(|l| &l[..]));
        if let Some((_, decoded)) = encode_then_decode(|| codec.clone(), stream, &sizes) {
            decoded.assert_frames(&[Bytes::copy_from_slice(stream)], "lines round trip");
        }
    }
}

fn check_lines<'a>(codec: &LinesCodec, lines: impl Iterator<Item = &'a [u8]>) {
    for line in lines {
        assert!(line.len() as u64 <= codec.max_line_len());
        assert!(!line.contains(&b'\n'), "a line holds its LF");
    }
}
