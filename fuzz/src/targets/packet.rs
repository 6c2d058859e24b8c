//! `decode_packet`: PacketN under any header, byte order, maximum and
//! oversize policy, checked against a reference reading of the stream.

use super::packet_codec;
use crate::harness::{decode_any_chunking, encode_then_decode, Decoded, Event};
use crate::input::Input;
use bytes::{Bytes, BytesMut};
use castnet_core::frame::{ByteOrder, Encoder, FrameError, OversizePolicy, PacketN};

/// Configuration layout: one flags byte (bits 0–1: header of 1, 2, 4 or 8
/// bytes; bit 2: little-endian; bit 3: `Discard` instead of `Fail`; other bits
/// ignored), then the maximum frame length as a `u64`.
pub fn decode_packet(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let max = input.u64();
    let mut codec = packet_codec(flags, max);
    let (sizes, stream) = input.reads_and_stream();

    let decoded = decode_any_chunking(|| codec.clone(), stream, &sizes);
    let expected = reference(&codec, stream);
    decoded.assert_same(&expected, "PacketN disagrees with the reference reading");
    // After a fatal error the rest of the stream is never fed: what is left
    // compares against what was fed.
    assert_eq!(
        (decoded.consumed, decoded.remaining),
        (expected.consumed, decoded.fed - expected.consumed),
        "PacketN consumed a different part of the stream"
    );

    // What was decoded without skips encodes back to the very same bytes.
    if decoded.events.len() == decoded.frames().len() {
        let mut wire = BytesMut::new();
        for frame in decoded.frames() {
            codec
                .encode(frame.clone(), &mut wire)
                .expect("a decoded frame fits its own codec");
        }
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

/// PacketN's meaning of a whole stream, written apart from the codec: frames
/// in order; an oversized frame fails the stream or is skipped whole; a
/// truncated frame is `UnexpectedEof` counting the bytes of it that arrived.
/// Headers leave the buffer as soon as they are read, and skipped bytes as
/// soon as they arrive, which `consumed` reflects.
fn reference(codec: &PacketN, stream: &[u8]) -> Decoded<Bytes> {
    let n = codec.header_len().bytes();
    let max = codec.max_frame_len();
    let mut events = Vec::new();
    let mut at = 0;
    let end = |consumed: usize, events, end| Decoded {
        events,
        end,
        fed: stream.len(),
        consumed,
        remaining: stream.len() - consumed,
    };
    loop {
        let rest = &stream[at..];
        if rest.is_empty() {
            return end(at, events, Ok(()));
        }
        if rest.len() < n {
            let eof = FrameError::UnexpectedEof {
                buffered: rest.len(),
            };
            return end(at, events, Err(eof));
        }
        let head = &rest[..n];
        let declared = match codec.byte_order() {
            ByteOrder::Little => head
                .iter()
                .rev()
                .fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
            _ => head.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)),
        };
        let body = &rest[n..];
        if declared > max {
            if codec.oversize_policy() == OversizePolicy::Fail {
                let refused = FrameError::FrameTooLarge { declared, max };
                return end(at, events, Err(refused));
            }
            events.push(Event::Skipped(FrameError::FrameDiscarded { declared, max }));
            if (body.len() as u64) < declared {
                let eof = FrameError::UnexpectedEof { buffered: 0 };
                return end(stream.len(), events, Err(eof));
            }
            at += n + declared as usize;
        } else if (body.len() as u64) < declared {
            let eof = FrameError::UnexpectedEof {
                buffered: rest.len(),
            };
            return end(at + n, events, Err(eof));
        } else {
            let len = declared as usize;
            events.push(Event::Frame(Bytes::copy_from_slice(&body[..len])));
            at += n + len;
        }
    }
}
