//! [`DelimiterCodec`]: frames that end with a delimiter (any non-empty byte
//! string), and the search it shares with the line codec.

use super::byte_items::{byte_payload_encoders, AppendBuf};
use super::{
    ConfigError, Decoder, EncodedFrame, FrameError, OversizePolicy, DEFAULT_MAX_FRAME_LEN,
};
use bytes::{Buf, Bytes, BytesMut};

/// Frames that end with a delimiter, any non-empty byte string (Netty's
/// `DelimiterBasedFrameDecoder`, tokio-util's `AnyDelimiterCodec`, gnet v1's
/// `DelimiterBasedFrameCodec`).
///
/// A frame ends at the first occurrence of the delimiter; the decoded frame is
/// the bytes before it, or with [`keep_delimiter`](DelimiterCodecBuilder::keep_delimiter)
/// those bytes and the delimiter. Consecutive delimiters make empty frames.
///
/// `max_frame_len` bounds a frame's content, the delimiter excluded. When that
/// many bytes and a whole delimiter's worth more have arrived with no delimiter
/// among them, the frame is [`FrameError::DelimiterNotFound`], or with
/// [`OversizePolicy::Discard`] it is skipped through its delimiter as bytes
/// arrive and reported once as [`FrameError::FrameDiscarded`]. The search
/// resumes where it stopped, so a frame arriving one byte at a time costs time
/// linear in its length (times the delimiter's length at worst); it never
/// looks further than the maximum allows.
///
/// Encoding appends the delimiter as the frame's tail, one shared `Bytes`
/// cloned into every frame. It refuses, before writing anything, a payload over
/// the maximum and one in which a peer would find the delimiter early: one that
/// contains it, or whose last bytes begin it (`"xa"` before the delimiter
/// `"aa"`).
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{DelimiterCodec, Decoder, Encoder};
///
/// let mut codec = DelimiterCodec::builder(b"\0\0").max_frame_len(64).build().unwrap();
/// let mut wire = BytesMut::new();
/// codec.encode("one", &mut wire).unwrap();
/// codec.encode("", &mut wire).unwrap();
/// assert_eq!(&wire[..], b"one\0\0\0\0");
///
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::from_static(b"one")));
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::new()));
/// assert_eq!(codec.decode(&mut wire).unwrap(), None);
/// assert!(codec.encode("a\0\0b", &mut wire).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct DelimiterCodec {
    split: Splitter,
    keep: bool,
}

impl DelimiterCodec {
    /// A codec for `delimiter` with the defaults: the delimiter stripped, a
    /// maximum of [`DEFAULT_MAX_FRAME_LEN`], [`OversizePolicy::Fail`]. An empty
    /// delimiter is a [`ConfigError`].
    pub fn new(delimiter: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        DelimiterCodec::builder(delimiter).build()
    }

    /// A builder for `delimiter`, starting from the defaults of [`DelimiterCodec::new`].
    pub fn builder(delimiter: impl AsRef<[u8]>) -> DelimiterCodecBuilder {
        DelimiterCodecBuilder {
            delimiter: Bytes::copy_from_slice(delimiter.as_ref()),
            keep: false,
            max: DEFAULT_MAX_FRAME_LEN,
            oversize: OversizePolicy::Fail,
        }
    }

    /// The delimiter.
    pub fn delimiter(&self) -> &[u8] {
        &self.split.delim
    }

    /// True when decoded frames end with their delimiter.
    pub fn keeps_delimiter(&self) -> bool {
        self.keep
    }

    /// The largest frame content accepted, the delimiter excluded.
    pub fn max_frame_len(&self) -> u64 {
        self.split.max as u64
    }

    /// The oversize policy.
    pub fn oversize_policy(&self) -> OversizePolicy {
        self.split.oversize
    }

    fn check(&self, payload: &[u8]) -> Result<(), FrameError> {
        if payload.len() > self.split.max {
            return Err(FrameError::PayloadTooLarge {
                len: payload.len() as u64,
                max: self.split.max as u64,
            });
        }
        match delimiter_in(payload, &self.split.delim) {
            Some(at) => Err(FrameError::DelimiterInPayload { at }),
            None => Ok(()),
        }
    }

    fn frame_for(&self, payload: Bytes) -> Result<EncodedFrame, FrameError> {
        self.check(&payload)?;
        Ok(EncodedFrame::new(&[], payload, self.split.delim.clone()))
    }

    /// What `write_slice` appends for a valid payload of `payload` bytes (for
    /// `byte_payload_encoders!`).
    #[inline]
    fn wire_len(&self, payload: usize) -> usize {
        payload + self.split.delim.len()
    }

    fn write_slice(&self, payload: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError> {
        self.check(payload)?;
        dst.reserve(payload.len() + self.split.delim.len());
        dst.extend_from_slice(payload);
        dst.extend_from_slice(&self.split.delim);
        Ok(())
    }
}

impl Decoder for DelimiterCodec {
    type Item = Bytes;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(end) = self.split.next(src, <[u8]>::len)? else {
            return Ok(None);
        };
        let mut frame = src.split_to(end + self.split.delim.len());
        if !self.keep {
            frame.truncate(end);
        }
        Ok(Some(frame.freeze()))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let frame = self.decode(src)?;
        self.split.at_eof(frame, src)
    }
}

byte_payload_encoders!(DelimiterCodec);

/// Builds a [`DelimiterCodec`]; [`build`](Self::build) refuses an empty delimiter.
#[derive(Debug, Clone)]
pub struct DelimiterCodecBuilder {
    delimiter: Bytes,
    keep: bool,
    max: u64,
    oversize: OversizePolicy,
}

impl DelimiterCodecBuilder {
    /// Whether decoded frames keep their delimiter at the end (default false).
    /// Encoders always take the payload without it.
    pub fn keep_delimiter(mut self, keep: bool) -> Self {
        self.keep = keep;
        self
    }

    /// The largest frame content accepted, the delimiter excluded (default 8 MiB).
    pub fn max_frame_len(mut self, max: u64) -> Self {
        self.max = max;
        self
    }

    /// What to do with a frame over the maximum (default [`OversizePolicy::Fail`]).
    pub fn oversize_policy(mut self, policy: OversizePolicy) -> Self {
        self.oversize = policy;
        self
    }

    /// The codec, or [`ConfigError::OutOfRange`] for an empty delimiter.
    pub fn build(self) -> Result<DelimiterCodec, ConfigError> {
        if self.delimiter.is_empty() {
            return Err(ConfigError::OutOfRange {
                what: "delimiter",
                detail: "must be at least one byte".into(),
            });
        }
        Ok(DelimiterCodec {
            split: Splitter::new(self.delimiter, clamp_to_usize(self.max), 0, self.oversize),
            keep: self.keep,
        })
    }
}

pub(super) fn clamp_to_usize(max: u64) -> usize {
    usize::try_from(max).unwrap_or(usize::MAX)
}

/// Finds where frames end in a byte stream: the delimiter search, its memory
/// across calls, the maximum and the oversize policy. Shared by the delimiter
/// and line codecs.
#[derive(Debug, Clone)]
pub(super) struct Splitter {
    delim: Bytes,
    /// Largest frame content.
    max: usize,
    /// Bytes before the delimiter a codec may trim and not count (a line's CR).
    slack: usize,
    oversize: OversizePolicy,
    /// Positions at the front of the buffer known not to start a delimiter.
    scanned: usize,
    /// Skipping an oversized frame up to and including its delimiter.
    discarding: bool,
}

impl Splitter {
    pub(super) fn new(delim: Bytes, max: usize, slack: usize, oversize: OversizePolicy) -> Self {
        debug_assert!(!delim.is_empty());
        Splitter {
            delim,
            max,
            slack,
            oversize,
            scanned: 0,
            discarding: false,
        }
    }

    pub(super) fn max(&self) -> usize {
        self.max
    }

    pub(super) fn oversize(&self) -> OversizePolicy {
        self.oversize
    }

    /// The index of the next frame's delimiter in `src`: the frame is
    /// `src[..i]`, its delimiter follows. `content_len` says how much of
    /// `src[..i]` counts against the maximum. Consumes nothing when it finds a
    /// frame; skips what an oversized frame's discarding allows.
    pub(super) fn next(
        &mut self,
        src: &mut BytesMut,
        content_len: impl Fn(&[u8]) -> usize,
    ) -> Result<Option<usize>, FrameError> {
        let dlen = self.delim.len();
        if self.discarding {
            match self.search(src, src.len()) {
                Some(i) => {
                    src.advance(i + dlen);
                    self.discarding = false;
                }
                None => {
                    // Keep what may be the start of a delimiter.
                    src.advance(src.len().saturating_sub(dlen - 1));
                    self.scanned = 0;
                    return Ok(None);
                }
            }
        }
        // A delimiter starting after `last` would make the frame too long.
        let last = self.max.saturating_add(self.slack);
        let window = last.saturating_add(dlen);
        match self.search(src, src.len().min(window)) {
            Some(i) => {
                let content = content_len(&src[..i]);
                if content <= self.max {
                    return Ok(Some(i));
                }
                // Complete, but its content is over the maximum.
                if self.oversize == OversizePolicy::Discard {
                    src.advance(i + dlen);
                }
                Err(self.oversize_error(content))
            }
            None if src.len() >= window => {
                // Only `window` bytes were searched: that many are known to
                // hold no delimiter.
                self.discarding = self.oversize == OversizePolicy::Discard;
                Err(self.oversize_error(window))
            }
            None => Ok(None),
        }
    }

    /// Searches `src[..end]` from where the last search stopped, and
    /// remembers how far it got.
    fn search(&mut self, src: &[u8], end: usize) -> Option<usize> {
        let start = self.scanned.min(end);
        match find(&src[start..end], &self.delim) {
            Some(at) => {
                self.scanned = 0;
                Some(start + at)
            }
            None => {
                self.scanned = (end + 1).saturating_sub(self.delim.len()).max(start);
                None
            }
        }
    }

    /// The error for a frame known to be at least `seen` bytes long.
    fn oversize_error(&self, seen: usize) -> FrameError {
        match self.oversize {
            OversizePolicy::Fail => FrameError::DelimiterNotFound { max: self.max },
            OversizePolicy::Discard => FrameError::FrameDiscarded {
                declared: seen as u64,
                max: self.max as u64,
            },
        }
    }

    /// `decode_eof`'s verdict once `decode` returned `frame`: bytes left over,
    /// or a frame being discarded, mean the stream ended inside a frame.
    pub(super) fn at_eof<T>(
        &self,
        frame: Option<T>,
        src: &BytesMut,
    ) -> Result<Option<T>, FrameError> {
        match frame {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() && !self.discarding => Ok(None),
            None => Err(FrameError::UnexpectedEof {
                buffered: src.len(),
            }),
        }
    }
}

/// The first position of `needle` (non-empty) in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut from = 0;
    while let Some(p) = hay[from..].iter().position(|&b| b == first) {
        let at = from + p;
        let tail = hay.get(at + 1..at + needle.len())?;
        if tail == rest {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Where a peer reading `payload` followed by `delim` would find the
/// delimiter, if before the end of `payload`.
fn delimiter_in(payload: &[u8], delim: &[u8]) -> Option<usize> {
    if let Some(at) = find(payload, delim) {
        return Some(at);
    }
    // A delimiter that begins in the payload's last bytes and ends inside the
    // appended delimiter: the payload ends with a prefix of length `k` of the
    // delimiter, and the delimiter continues with its own first `d - k` bytes.
    let d = delim.len();
    let from = payload.len().saturating_sub(d - 1);
    (from..payload.len()).find(|&at| {
        let k = payload.len() - at;
        payload[at..] == delim[..k] && delim[k..] == delim[..d - k]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Encoder;

    fn codec(delim: &[u8], max: u64) -> DelimiterCodec {
        DelimiterCodec::builder(delim)
            .max_frame_len(max)
            .build()
            .unwrap()
    }

    fn decode_all(c: &mut DelimiterCodec, src: &mut BytesMut) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(f) = c.decode(src).unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn frame_ends_at_the_first_delimiter_which_is_stripped() {
        let mut c = codec(b"\r\n", 64);
        let mut src = BytesMut::from(&b"ab\r\ncd\r\n\r\nrest"[..]);
        assert_eq!(decode_all(&mut c, &mut src), [&b"ab"[..], b"cd", b""]);
        assert_eq!(&src[..], b"rest");
    }

    #[test]
    fn keep_delimiter_leaves_it_at_the_end_of_the_frame() {
        let mut c = DelimiterCodec::builder(b";")
            .keep_delimiter(true)
            .build()
            .unwrap();
        let mut src = BytesMut::from(&b"a;;"[..]);
        assert_eq!(decode_all(&mut c, &mut src), [&b"a;"[..], b";"]);
    }

    #[test]
    fn delimiter_split_across_two_reads_is_found() {
        let mut c = codec(b"<END>", 64);
        let mut src = BytesMut::from(&b"hello<EN"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b"D>x");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"hello"[..]);
        assert_eq!(&src[..], b"x");
    }

    #[test]
    fn overlapping_delimiter_ends_the_frame_at_its_first_occurrence() {
        let mut c = codec(b"aab", 64);
        let mut src = BytesMut::from(&b"xaaab"[..]);
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"xa"[..]);
    }

    #[test]
    fn search_resumes_where_it_stopped_across_reads() {
        let mut c = codec(b"ab", 1 << 20);
        let mut src = BytesMut::new();
        for _ in 0..1000 {
            src.extend_from_slice(b"x");
            assert_eq!(c.decode(&mut src).unwrap(), None);
        }
        // Every position but the last is known not to start the delimiter.
        assert_eq!(c.split.scanned, 999);
        src.extend_from_slice(b"ab");
        assert_eq!(c.decode(&mut src).unwrap().unwrap().len(), 1000);
        assert_eq!(c.split.scanned, 0);
    }

    #[test]
    fn max_len_frame_is_accepted_and_one_more_byte_is_refused() {
        let mut c = codec(b"||", 3);
        let mut src = BytesMut::from(&b"abc||"[..]);
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"abc"[..]);
        // 3 + 2 bytes with no delimiter among them: no frame can fit any more.
        let mut src = BytesMut::from(&b"abcd|"[..]);
        assert!(matches!(
            c.decode(&mut src),
            Err(FrameError::DelimiterNotFound { max: 3 })
        ));
        let mut c = codec(b"||", 3);
        let mut src = BytesMut::from(&b"abcd"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
    }

    #[test]
    fn discard_policy_skips_an_overlong_frame_through_its_delimiter() {
        let mut c = DelimiterCodec::builder(b"\n")
            .max_frame_len(2)
            .oversize_policy(OversizePolicy::Discard)
            .build()
            .unwrap();
        let mut src = BytesMut::from(&b"toolong"[..]);
        let err = c.decode(&mut src).unwrap_err();
        assert!(err.is_recoverable());
        assert!(
            matches!(
                err,
                FrameError::FrameDiscarded {
                    declared: 3,
                    max: 2
                }
            ),
            "{err:?}"
        );
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert!(
            src.is_empty(),
            "discarded bytes are released as they arrive"
        );
        src.extend_from_slice(b"still\nok\n");
        assert_eq!(decode_all(&mut c, &mut src), [&b"ok"[..]]);
    }

    #[test]
    fn discarding_keeps_a_partial_delimiter_across_reads() {
        let mut c = DelimiterCodec::builder(b"##")
            .max_frame_len(1)
            .oversize_policy(OversizePolicy::Discard)
            .build()
            .unwrap();
        let mut src = BytesMut::from(&b"xyz#"[..]);
        assert!(c.decode(&mut src).unwrap_err().is_recoverable());
        assert_eq!(c.decode(&mut src).unwrap(), None);
        assert_eq!(&src[..], b"#");
        src.extend_from_slice(b"#k##");
        assert_eq!(decode_all(&mut c, &mut src), [&b"k"[..]]);
    }

    #[test]
    fn eof_inside_a_frame_is_unexpected_eof() {
        let mut c = codec(b"\n", 64);
        let mut src = BytesMut::from(&b"done\npart"[..]);
        assert_eq!(c.decode_eof(&mut src).unwrap().unwrap(), &b"done"[..]);
        assert!(matches!(
            c.decode_eof(&mut src),
            Err(FrameError::UnexpectedEof { buffered: 4 })
        ));
        let mut empty = BytesMut::new();
        assert_eq!(codec(b"\n", 64).decode_eof(&mut empty).unwrap(), None);
    }

    #[test]
    fn empty_delimiter_is_a_config_error() {
        assert!(matches!(
            DelimiterCodec::new(b""),
            Err(ConfigError::OutOfRange {
                what: "delimiter",
                ..
            })
        ));
    }

    #[test]
    fn encoder_appends_one_shared_delimiter_as_the_tail() {
        let mut c = codec(b"\r\n", 64);
        let a = c.encode_frame(Bytes::from_static(b"a")).unwrap();
        let b = c.encode_frame(Bytes::from_static(b"b")).unwrap();
        assert!(a.head().is_empty());
        assert_eq!(&a.tail()[..], b"\r\n");
        assert_eq!(a.tail().as_ptr(), b.tail().as_ptr());
    }

    #[test]
    fn encoder_refuses_a_payload_containing_the_delimiter() {
        let mut c = codec(b"::", 64);
        let mut wire = BytesMut::new();
        let err = c.encode("a::b", &mut wire).unwrap_err();
        assert!(matches!(err, FrameError::DelimiterInPayload { at: 1 }));
        assert!(wire.is_empty());
    }

    #[test]
    fn encoder_refuses_a_payload_whose_end_starts_the_delimiter_early() {
        let mut c = codec(b"aa", 64);
        let mut wire = BytesMut::new();
        let err = c.encode("xa", &mut wire).unwrap_err();
        assert!(matches!(err, FrameError::DelimiterInPayload { at: 1 }));
        // A prefix of the delimiter that cannot continue into it is fine.
        let mut c = codec(b"ab", 64);
        c.encode("xa", &mut wire).unwrap();
        assert_eq!(c.decode(&mut wire).unwrap().unwrap(), &b"xa"[..]);
    }

    #[test]
    fn encoder_refuses_a_payload_over_the_maximum() {
        let mut c = codec(b"\n", 2);
        let mut wire = BytesMut::new();
        assert!(matches!(
            c.encode("abc", &mut wire),
            Err(FrameError::PayloadTooLarge { len: 3, max: 2 })
        ));
        assert!(wire.is_empty());
    }
}
