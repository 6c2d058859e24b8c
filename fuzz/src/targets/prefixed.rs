//! The reference reading shared by the length-prefixed targets
//! (`decode_packet`, `decode_varint`): only how a prefix is read differs.

use crate::harness::{decode_any_chunking, Decoded, Event};
use bytes::{Bytes, BytesMut};
use castnet_core::frame::{Decoder, Encoder, FrameError, OversizePolicy};

/// Decodes `stream` with `codec` in the reads `sizes` (and in one read) and
/// panics unless it means what the reference reading `expected` says, and
/// the same part of the stream was consumed. Returns the chunked result.
pub fn decode_as_reference<D>(
    codec: &D,
    stream: &[u8],
    sizes: &[usize],
    expected: Decoded<Bytes>,
) -> Decoded<Bytes>
where
    D: Decoder<Item = Bytes> + Clone,
{
    let name = std::any::type_name::<D>();
    let decoded = decode_any_chunking(|| codec.clone(), stream, sizes);
    decoded.assert_same(
        &expected,
        &format!("{name} disagrees with the reference reading"),
    );
    // After a fatal error the rest of the stream is never fed: what is left
    // compares against what was fed.
    assert_eq!(
        (decoded.consumed, decoded.remaining),
        (expected.consumed, decoded.fed - expected.consumed),
        "{name} consumed a different part of the stream"
    );
    decoded
}

/// The frames of `decoded` encoded again by `codec`, unless a frame was
/// skipped (then there is nothing to compare with).
pub fn encoded_again<C: Encoder<Bytes>>(
    codec: &mut C,
    decoded: &Decoded<Bytes>,
) -> Option<BytesMut> {
    if decoded.events.len() != decoded.frames().len() {
        return None;
    }
    let mut wire = BytesMut::new();
    for frame in decoded.frames() {
        codec
            .encode(frame.clone(), &mut wire)
            .expect("a decoded frame fits its own codec");
    }
    Some(wire)
}

/// What a reference reader makes of the front of the rest of a stream.
pub enum Head {
    /// A whole prefix of `n` bytes declaring `declared`.
    Whole { declared: u64, n: usize },
    /// The start of a prefix only.
    Partial,
    /// A prefix no length can come from: the stream fails here.
    Invalid(FrameError),
}

/// A length-prefixed codec's meaning of a whole stream, written apart from
/// the codec: frames in order; an invalid prefix fails the stream; an
/// oversized frame fails it or is skipped whole; a truncated frame is
/// `UnexpectedEof` counting the bytes of it that arrived. Prefixes leave the
/// buffer as soon as they are read, and skipped bytes as soon as they
/// arrive, which `consumed` reflects.
pub fn reference(
    stream: &[u8],
    max: u64,
    policy: OversizePolicy,
    head: impl Fn(&[u8]) -> Head,
) -> Decoded<Bytes> {
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
        let (declared, n) = match head(rest) {
            Head::Whole { declared, n } => (declared, n),
            Head::Partial => {
                let eof = FrameError::UnexpectedEof {
                    buffered: rest.len(),
                };
                return end(at, events, Err(eof));
            }
            Head::Invalid(error) => return end(at, events, Err(error)),
        };
        let body = &rest[n..];
        if declared > max {
            if policy == OversizePolicy::Fail {
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
