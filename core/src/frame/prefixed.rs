//! What the length-prefixed codecs ([`PacketN`](super::PacketN) and
//! [`VarintCodec`](super::VarintCodec)) share once a prefix has been read:
//! waiting for the payload, skipping an oversized frame, and what the end of
//! the stream means in each state. Only the reading of the prefix differs.

use super::{FrameError, OversizePolicy, MAX_RESERVE_STEP};
use bytes::{Buf, Bytes, BytesMut};

/// Where a length-prefixed decoder is between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyState {
    /// Waiting for a whole prefix.
    Head,
    /// Prefix of `head` bytes consumed; waiting for `len` payload bytes.
    Payload { len: usize, head: u8 },
    /// Skipping an oversized frame; this many bytes are still to skip.
    Discard(u64),
}

impl BodyState {
    /// One `decode` call of a length-prefixed codec whose prefixes `head`
    /// reads: `Ok(Some((declared, n)))` for a whole prefix of `n` bytes,
    /// `Ok(None)` for a partial one, `Err` for one no length comes from.
    /// Inlined with `head`, so each codec gets its own straight-line code.
    #[inline(always)]
    pub(crate) fn decode(
        &mut self,
        src: &mut BytesMut,
        max: u64,
        policy: OversizePolicy,
        head: impl FnOnce(&[u8]) -> Result<Option<(u64, usize)>, FrameError>,
    ) -> Result<Option<Bytes>, FrameError> {
        if !self.skip_discarded(src) {
            return Ok(None);
        }
        let (len, n) = match *self {
            BodyState::Payload { len, head } => (len, head),
            // `Head`: a discard is over by now.
            _ => {
                let Some((declared, n)) = head(src)? else {
                    return Ok(None);
                };
                if declared > max {
                    return Err(self.oversized(policy, declared, max, n, src));
                }
                src.advance(n);
                // `declared <= max <= usize::MAX`: the conversion is exact;
                // a prefix is at most 10 bytes.
                (declared as usize, n as u8)
            }
        };
        Ok(self.take_payload(len, n, src))
    }

    /// What `decode_eof` returns given what `decode` returned: the frame, or
    /// the end of the stream ([`end_of_stream`](Self::end_of_stream)).
    pub(crate) fn frame_or_end(
        &self,
        frame: Option<Bytes>,
        src: &BytesMut,
    ) -> Result<Option<Bytes>, FrameError> {
        match frame {
            Some(frame) => Ok(Some(frame)),
            None => self.end_of_stream(src),
        }
    }

    /// Skips what an oversized frame still has of `src`. False while more
    /// is to skip (decoding waits); true once no discard is going on.
    #[inline]
    fn skip_discarded(&mut self, src: &mut BytesMut) -> bool {
        if let BodyState::Discard(left) = *self {
            let skip = left.min(src.len() as u64);
            src.advance(skip as usize);
            if skip < left {
                *self = BodyState::Discard(left - skip);
                return false;
            }
            *self = BodyState::Head;
        }
        true
    }

    /// The payload of `len` bytes after a consumed prefix of `head` bytes,
    /// or `None` while it has not all arrived: then the state says so and
    /// `src` has room reserved for at most [`MAX_RESERVE_STEP`] more.
    #[inline]
    fn take_payload(&mut self, len: usize, head: u8, src: &mut BytesMut) -> Option<Bytes> {
        if src.len() < len {
            *self = BodyState::Payload { len, head };
            src.reserve((len - src.len()).min(MAX_RESERVE_STEP));
            return None;
        }
        *self = BodyState::Head;
        Some(src.split_to(len).freeze())
    }

    /// What `decode_eof` returns once `decode` found no whole frame: a
    /// clean end on a frame boundary, [`FrameError::UnexpectedEof`]
    /// otherwise.
    fn end_of_stream(&self, src: &BytesMut) -> Result<Option<Bytes>, FrameError> {
        let buffered = match *self {
            BodyState::Head if src.is_empty() => return Ok(None),
            // The prefix left `src` when it arrived, yet it belongs to the
            // partial frame: an empty `src` here is still a truncated stream.
            BodyState::Payload { head, .. } => usize::from(head) + src.len(),
            BodyState::Head | BodyState::Discard(_) => src.len(),
        };
        Err(FrameError::UnexpectedEof { buffered })
    }

    /// A prefix of `n` bytes declared more than `max`: the error to return,
    /// having started to skip the frame under [`OversizePolicy::Discard`]
    /// (the prefix left in place under `Fail`).
    #[cold]
    #[inline(never)]
    fn oversized(
        &mut self,
        policy: OversizePolicy,
        declared: u64,
        max: u64,
        n: usize,
        src: &mut BytesMut,
    ) -> FrameError {
        match policy {
            OversizePolicy::Fail => FrameError::FrameTooLarge { declared, max },
            OversizePolicy::Discard => {
                src.advance(n);
                *self = BodyState::Discard(declared);
                FrameError::FrameDiscarded { declared, max }
            }
        }
    }
}

/// A payload's length as its prefix declares it, or the refusal of one over
/// `max` ([`FrameError::PayloadTooLarge`]).
#[inline]
pub(crate) fn declared_len(payload: usize, max: u64) -> Result<u64, FrameError> {
    let len = payload as u64;
    if len > max {
        return Err(FrameError::PayloadTooLarge { len, max });
    }
    Ok(len)
}
