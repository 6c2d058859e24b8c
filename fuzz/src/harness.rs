//! Drives any castnet [`Decoder`] over a byte stream cut into arbitrary reads,
//! the way a runtime does, and panics the moment a rule of the codec contract
//! breaks.
//!
//! This file has no dependency beyond `bytes` and `castnet-core`: the fuzz
//! targets use it, and castnet-core's own tests include it with `#[path]` (the
//! seed corpus replay and the proptest round-trips), so castnet-core grows no
//! public API for it.
//!
//! The rules checked after every `decode` call:
//!
//! - the decoder only takes bytes off the front of the buffer: what is left is
//!   exactly the unconsumed tail of what was fed, byte for byte, so consumed +
//!   remaining always equals the input fed;
//! - no two frames or reported skips in a row come out of nothing: between
//!   them at least one byte is consumed (a skip may be reported before its
//!   bytes go, but a decoder that keeps yielding without consuming would spin);
//! - the buffer's capacity stays within `2 * (bytes fed + MAX_RESERVE_STEP)`
//!   (`BytesMut` at most doubles an allocation it grows; a decoder that
//!   reserved for a declared length would blow through this bound);
//! - a fatal error ends the stream; at the end, `decode_eof` drains what is
//!   left and either ends cleanly with nothing buffered or reports an error.

use bytes::{Bytes, BytesMut};
use castnet_core::frame::{Decoder, Encoder, FrameError, OversizePolicy, MAX_RESERVE_STEP};
use std::fmt::Debug;
use std::ops::Range;

/// Slack over the capacity bound for the smallest allocations `Vec` makes.
const CAPACITY_SLACK: usize = 64;

/// One thing a decoder produced, in stream order.
#[derive(Debug)]
pub enum Event<T> {
    /// A decoded frame.
    Frame(T),
    /// A recoverable error ([`FrameError::is_recoverable`]): a frame skipped.
    Skipped(FrameError),
}

/// What a decoder made of a whole stream.
#[derive(Debug)]
pub struct Decoded<T> {
    /// Frames and skips, in order.
    pub events: Vec<Event<T>>,
    /// `Ok` for a clean end of stream, or the fatal error that ended it (from
    /// `decode` or from `decode_eof`).
    pub end: Result<(), FrameError>,
    /// Bytes fed to the decoder: the whole input, unless a fatal error ended
    /// the stream before the last read.
    pub fed: usize,
    /// Bytes the decoder took off the buffer.
    pub consumed: usize,
    /// Bytes still in the buffer at the end; `consumed + remaining == fed`.
    pub remaining: usize,
}

impl<T: PartialEq + Debug> Decoded<T> {
    /// Panics unless both hold the same frames, skips and end. Errors are
    /// compared by their `Debug` form (`FrameError` is not `PartialEq`).
    pub fn assert_same(&self, other: &Self, context: &str) {
        let describe = |d: &Self| -> (Vec<String>, String) {
            let events = d
                .events
                .iter()
                .map(|e| match e {
                    Event::Frame(f) => format!("frame {f:?}"),
                    Event::Skipped(e) => format!("skipped {e:?}"),
                })
                .collect();
            (events, format!("{:?}", d.end))
        };
        assert_eq!(describe(self), describe(other), "{context}");
    }

    /// Panics unless the stream decoded to exactly `expected`, with no skip,
    /// and ended cleanly.
    pub fn assert_frames(&self, expected: &[T], context: &str) {
        assert!(self.end.is_ok(), "{context}: ended with {:?}", self.end);
        let frames = self.frames();
        assert_eq!(
            frames.len(),
            self.events.len(),
            "{context}: a frame was skipped"
        );
        assert_eq!(frames, expected.iter().collect::<Vec<_>>(), "{context}");
    }

    /// The frames alone, in order.
    pub fn frames(&self) -> Vec<&T> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Frame(f) => Some(f),
                Event::Skipped(_) => None,
            })
            .collect()
    }
}

impl<T: AsRef<[u8]>> Decoded<T> {
    /// Every frame (as its bytes) and skip, and the end, as text: the form
    /// [`expected_with_limit`] predicts.
    pub fn summary(&self) -> (Vec<String>, Result<(), String>) {
        let events = self
            .events
            .iter()
            .map(|e| match e {
                Event::Frame(f) => format!("frame {:?}", f.as_ref()),
                Event::Skipped(e) => format!("skipped {e:?}"),
            })
            .collect();
        (
            events,
            self.end.as_ref().map_err(|e| format!("{e:?}")).copied(),
        )
    }
}

/// What a length-prefixed decoder limited to `max` must make of `payloads`
/// framed by a peer without that limit, in the form of
/// [`Decoded::summary`]: each payload up to `max` as a frame; one over it
/// skipped under [`OversizePolicy::Discard`], or ending the stream with
/// [`FrameError::FrameTooLarge`] under `Fail`.
pub fn expected_with_limit<P: AsRef<[u8]>>(
    payloads: impl IntoIterator<Item = P>,
    max: u64,
    policy: OversizePolicy,
) -> (Vec<String>, Result<(), String>) {
    let mut events = Vec::new();
    for payload in payloads {
        let payload = payload.as_ref();
        let declared = payload.len() as u64;
        if declared <= max {
            events.push(format!("frame {payload:?}"));
        } else if policy == OversizePolicy::Discard {
            let skipped = FrameError::FrameDiscarded { declared, max };
            events.push(format!("skipped {skipped:?}"));
        } else {
            let refused = FrameError::FrameTooLarge { declared, max };
            return (events, Err(format!("{refused:?}")));
        }
    }
    (events, Ok(()))
}

/// Encodes every payload of `payloads` that `codec` accepts (those up to
/// `max`) into one stream, decodes it in the given reads, and panics unless
/// exactly those payloads come back, in order, the stream consumed whole.
pub fn assert_round_trip<C>(codec: &mut C, payloads: &[Vec<u8>], max: u64, reads: &[usize])
where
    C: Decoder + for<'a> Encoder<&'a [u8]>,
    C::Item: AsRef<[u8]> + PartialEq + Debug,
{
    let fits: Vec<&[u8]> = payloads
        .iter()
        .map(|p| &p[..])
        .filter(|p| p.len() as u64 <= max)
        .collect();
    let mut wire = BytesMut::new();
    for &payload in &fits {
        codec
            .encode(payload, &mut wire)
            .expect("a payload within the max");
    }
    let decoded = decode_stream(codec, &wire, reads);
    assert!(decoded.end.is_ok(), "{:?}", decoded.end);
    assert_eq!((decoded.consumed, decoded.remaining), (wire.len(), 0));
    let frames: Vec<&[u8]> = decoded.frames().into_iter().map(|f| f.as_ref()).collect();
    assert_eq!(frames, fits);
}

/// Encodes `payload` after earlier frames with `encode` and, straight into a
/// packing buffer, with `encode_to_vec`; panics unless both write the same
/// bytes (or both refuse, writing nothing) and `encoded_len` is what was
/// written. Returns the bytes of the frame, or the refusal.
pub fn encode_both_ways<C>(codec: &mut C, payload: &Bytes) -> Result<Vec<u8>, FrameError>
where
    C: Encoder<Bytes> + for<'a> Encoder<&'a [u8]>,
{
    const QUEUED: &[u8] = b"queued";
    let mut wire = BytesMut::from(QUEUED);
    let result = codec.encode(payload.clone(), &mut wire);
    let mut vec = QUEUED.to_vec();
    let appended = codec.encode_to_vec(&payload[..], &mut vec);
    assert_eq!(&vec[..], &wire[..], "encode and encode_to_vec disagree");
    assert_eq!(appended.is_ok(), result.is_ok());
    match result {
        Ok(()) => {
            let frame = wire[QUEUED.len()..].to_vec();
            assert_eq!(
                Encoder::<Bytes>::encoded_len(codec, payload),
                Some(frame.len())
            );
            Ok(frame)
        }
        Err(refused) => {
            assert_eq!(&wire[..], QUEUED, "a refused encode wrote");
            Err(refused)
        }
    }
}

/// Cuts `len` bytes into reads of the given sizes, taken in turn and cycled.
/// A size of 0 is a wake-up with nothing new to read (the decoder is asked
/// again); when every size is 0, or none is given, the stream is one read.
pub fn reads(len: usize, sizes: &[usize]) -> Vec<Range<usize>> {
    let whole = [len.max(1)];
    let sizes = if sizes.iter().all(|&s| s == 0) {
        &whole[..]
    } else {
        sizes
    };
    let mut out = Vec::new();
    let mut at = 0;
    for &size in sizes.iter().cycle() {
        if at == len {
            break;
        }
        let end = len.min(at + size);
        out.push(at..end);
        at = end;
    }
    out
}

/// Feeds `input` to `decoder` in the reads `reads(input.len(), sizes)`,
/// decoding after each read until the decoder wants more, then drains it with
/// `decode_eof`. Panics when a rule in the module doc breaks.
pub fn decode_stream<D: Decoder>(
    decoder: &mut D,
    input: &[u8],
    sizes: &[usize],
) -> Decoded<D::Item> {
    let mut run = Run {
        input,
        src: BytesMut::new(),
        fed: 0,
        consumed_at_last_item: None,
        events: Vec::new(),
    };
    for read in reads(input.len(), sizes) {
        run.src.extend_from_slice(&input[read.clone()]);
        run.fed = read.end;
        if let Err(fatal) = run.drain(|src| decoder.decode(src)) {
            return run.finish(Err(fatal));
        }
    }
    let end = run.drain(|src| decoder.decode_eof(src));
    if end.is_ok() {
        assert!(
            run.src.is_empty(),
            "decode_eof ended cleanly with {} bytes still buffered",
            run.src.len()
        );
    }
    run.finish(end)
}

struct Run<'a, T> {
    input: &'a [u8],
    src: BytesMut,
    fed: usize,
    /// How much was consumed when the last frame or skip came out, and
    /// whether that one came out of nothing.
    consumed_at_last_item: Option<(usize, bool)>,
    events: Vec<Event<T>>,
}

impl<T> Run<'_, T> {
    fn consumed(&self) -> usize {
        self.fed - self.src.len()
    }

    /// Calls `decode` until it returns `Ok(None)` (`Ok(())` here) or a fatal
    /// error, checking the rules after every call.
    fn drain(
        &mut self,
        mut decode: impl FnMut(&mut BytesMut) -> Result<Option<T>, FrameError>,
    ) -> Result<(), FrameError> {
        loop {
            let before = self.src.len();
            let result = decode(&mut self.src);
            assert!(
                self.src.len() <= before,
                "the decoder added bytes to its input ({before} -> {})",
                self.src.len()
            );
            let bound = 2 * (self.fed + MAX_RESERVE_STEP) + CAPACITY_SLACK;
            assert!(
                self.src.capacity() <= bound,
                "capacity {} after {} bytes fed (bound {bound})",
                self.src.capacity(),
                self.fed
            );
            let event = match result {
                Ok(None) => {
                    let tail = &self.input[self.consumed()..self.fed];
                    assert!(
                        self.src[..] == *tail,
                        "the bytes left in the buffer are not the unconsumed input"
                    );
                    return Ok(());
                }
                Ok(Some(frame)) => Event::Frame(frame),
                Err(e) if e.is_recoverable() => Event::Skipped(e),
                Err(fatal) => return Err(fatal),
            };
            let consumed = self.consumed();
            let free = match self.consumed_at_last_item {
                Some((at, last_was_free)) => {
                    assert!(
                        at < consumed || !last_was_free,
                        "two frames or skips in a row consumed nothing: the decoder would spin"
                    );
                    at == consumed
                }
                None => consumed == 0,
            };
            self.consumed_at_last_item = Some((consumed, free));
            self.events.push(event);
        }
    }

    fn finish(self, end: Result<(), FrameError>) -> Decoded<T> {
        assert_eq!(
            &self.src[..],
            &self.input[self.consumed()..self.fed],
            "the bytes left in the buffer are not the unconsumed input"
        );
        Decoded {
            fed: self.fed,
            consumed: self.consumed(),
            remaining: self.src.len(),
            events: self.events,
            end,
        }
    }
}

/// Decodes `input` in the given reads and in a single read and panics unless
/// both give the same frames, skips and end: how the stream was cut must not
/// change what it means. Returns the chunked result.
pub fn decode_any_chunking<D: Decoder>(
    mut make: impl FnMut() -> D,
    input: &[u8],
    sizes: &[usize],
) -> Decoded<D::Item>
where
    D::Item: PartialEq + Debug,
{
    let chunked = decode_stream(&mut make(), input, sizes);
    let whole = decode_stream(&mut make(), input, &[]);
    chunked.assert_same(&whole, "reads cut differently decoded differently");
    chunked
}

/// Encodes `payload` with a codec from `make` into a buffer that already holds
/// earlier frames. A refusal must leave that buffer untouched (and gives
/// `None`). Otherwise `encode_frame` must give the same bytes as `encode`, and
/// those bytes are decoded by a fresh codec in the given reads: returns them
/// and what they decoded to.
pub fn encode_then_decode<C, P>(
    mut make: impl FnMut() -> C,
    payload: P,
    sizes: &[usize],
) -> Option<(Vec<u8>, Decoded<C::Item>)>
where
    C: Decoder + Encoder<P>,
    P: Copy,
{
    const QUEUED: &[u8] = b"earlier frames";
    let mut dst = BytesMut::from(QUEUED);
    if let Err(refused) = make().encode(payload, &mut dst) {
        assert_eq!(&dst[..], QUEUED, "a refused encode ({refused:?}) wrote");
        assert!(
            make().encode_frame(payload).is_err(),
            "encode_frame accepts what encode refused"
        );
        return None;
    }
    assert!(
        dst.starts_with(QUEUED),
        "encode changed what was already queued"
    );
    let wire = dst.split_off(QUEUED.len());
    let vectored = make().encode_frame(payload).expect("encode accepted it");
    assert_eq!(
        vectored.into_contiguous(),
        wire,
        "encode_frame and encode disagree"
    );
    let decoded = decode_stream(&mut make(), &wire, sizes);
    Some((wire.to_vec(), decoded))
}
