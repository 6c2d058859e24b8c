//! [`LinesCodec`] and [`Utf8LinesCodec`]: lines ending in LF or CRLF.

use super::byte_items::{byte_payload_encoders, AppendBuf};
use super::delimiter::{clamp_to_usize, Splitter};
use super::{Decoder, EncodedFrame, Encoder, FrameError, OversizePolicy, DEFAULT_MAX_FRAME_LEN};
use bytes::{Bytes, BytesMut};

/// What a line encoder writes after each line. Decoders accept both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LineEnding {
    /// `"\n"`. The default.
    #[default]
    Lf,
    /// `"\r\n"`, as text protocols such as SMTP or Redis's inline commands want.
    CrLf,
}

impl LineEnding {
    /// The ending's bytes.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
        }
    }
}

/// Lines of bytes: a line ends at `"\n"`, and a `"\r"` just before it is part
/// of the ending, not of the line (tokio-util's `LinesCodec`, Netty's
/// `LineBasedFrameDecoder`). The decoded line has neither.
///
/// `max_line_len` bounds a line without its ending. A longer line is
/// [`FrameError::DelimiterNotFound`], or with [`OversizePolicy::Discard`] it is
/// skipped through its `"\n"` as bytes arrive and reported once as
/// [`FrameError::FrameDiscarded`]. It is refused at the latest once
/// `max_line_len + 2` bytes have arrived without a `"\n"`, and the search never
/// rescans what it has already seen. A stream that ends inside a line is
/// [`FrameError::UnexpectedEof`] from `decode_eof`: an unterminated last line
/// is not a line.
///
/// The encoder appends the configured [`LineEnding`] as the frame's tail. It
/// refuses, before writing anything, a line over the maximum, a line holding a
/// `"\n"`, and with [`LineEnding::Lf`] a line ending in `"\r"` (the peer would
/// take that `"\r"` for part of the ending).
///
/// For lines as `String`s, see [`Utf8LinesCodec`].
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use castnet_core::frame::{Decoder, Encoder, LineEnding, LinesCodec};
///
/// let mut codec = LinesCodec::builder().line_ending(LineEnding::CrLf).build();
/// let mut wire = BytesMut::from(&b"PING\r\nECHO hi\n"[..]);
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::from_static(b"PING")));
/// assert_eq!(codec.decode(&mut wire).unwrap(), Some(Bytes::from_static(b"ECHO hi")));
///
/// codec.encode("PONG", &mut wire).unwrap();
/// assert_eq!(&wire[..], b"PONG\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct LinesCodec {
    split: Splitter,
    ending: LineEnding,
}

impl Default for LinesCodec {
    /// LF endings, a maximum of [`DEFAULT_MAX_FRAME_LEN`], [`OversizePolicy::Fail`].
    fn default() -> Self {
        LinesCodec::builder().build()
    }
}

impl LinesCodec {
    /// A codec with the defaults of [`LinesCodec::default`].
    pub fn new() -> Self {
        LinesCodec::default()
    }

    /// A builder starting from the defaults.
    pub fn builder() -> LinesCodecBuilder {
        LinesCodecBuilder {
            max: DEFAULT_MAX_FRAME_LEN,
            ending: LineEnding::Lf,
            oversize: OversizePolicy::Fail,
        }
    }

    /// The largest line accepted, without its ending.
    pub fn max_line_len(&self) -> u64 {
        self.split.max() as u64
    }

    /// What the encoder writes after each line.
    pub fn line_ending(&self) -> LineEnding {
        self.ending
    }

    /// The oversize policy.
    pub fn oversize_policy(&self) -> OversizePolicy {
        self.split.oversize()
    }

    fn check(&self, line: &[u8]) -> Result<(), FrameError> {
        let max = self.split.max();
        if line.len() > max {
            return Err(FrameError::PayloadTooLarge {
                len: line.len() as u64,
                max: max as u64,
            });
        }
        if let Some(at) = line.iter().position(|&b| b == b'\n') {
            return Err(FrameError::DelimiterInPayload { at });
        }
        if self.ending == LineEnding::Lf && line.last() == Some(&b'\r') {
            return Err(FrameError::DelimiterInPayload { at: line.len() - 1 });
        }
        Ok(())
    }

    fn tail(&self) -> Bytes {
        Bytes::from_static(self.ending.as_bytes())
    }

    fn frame_for(&self, line: Bytes) -> Result<EncodedFrame, FrameError> {
        self.check(&line)?;
        Ok(EncodedFrame::new(&[], line, self.tail()))
    }

    /// What `write_slice` appends for a valid payload of `line` bytes (for
    /// `byte_payload_encoders!`).
    #[inline]
    fn wire_len(&self, line: usize) -> usize {
        line + self.ending.as_bytes().len()
    }

    fn write_slice(&self, line: &[u8], dst: &mut impl AppendBuf) -> Result<(), FrameError> {
        self.check(line)?;
        let ending = self.ending.as_bytes();
        dst.reserve(line.len() + ending.len());
        dst.extend_from_slice(line);
        dst.extend_from_slice(ending);
        Ok(())
    }
}

/// The length of the line before a `"\n"`: without a final `"\r"`.
fn line_len(before_lf: &[u8]) -> usize {
    match before_lf.last() {
        Some(b'\r') => before_lf.len() - 1,
        _ => before_lf.len(),
    }
}

impl Decoder for LinesCodec {
    type Item = Bytes;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(lf) = self.split.next(src, line_len)? else {
            return Ok(None);
        };
        let mut line = src.split_to(lf + 1);
        line.truncate(line_len(&line[..lf]));
        Ok(Some(line.freeze()))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let line = self.decode(src)?;
        self.split.at_eof(line, src)
    }
}

byte_payload_encoders!(LinesCodec);

/// Builds a [`LinesCodec`]. Every combination of options is valid.
#[derive(Debug, Clone)]
pub struct LinesCodecBuilder {
    max: u64,
    ending: LineEnding,
    oversize: OversizePolicy,
}

impl LinesCodecBuilder {
    /// The largest line accepted, without its ending (default 8 MiB).
    pub fn max_line_len(mut self, max: u64) -> Self {
        self.max = max;
        self
    }

    /// What the encoder writes after each line (default [`LineEnding::Lf`]).
    pub fn line_ending(mut self, ending: LineEnding) -> Self {
        self.ending = ending;
        self
    }

    /// What to do with a line over the maximum (default [`OversizePolicy::Fail`]).
    pub fn oversize_policy(mut self, policy: OversizePolicy) -> Self {
        self.oversize = policy;
        self
    }

    /// The codec.
    pub fn build(self) -> LinesCodec {
        LinesCodec {
            // Slack 1: a line of `max` bytes may be followed by its CR.
            split: Splitter::new(
                Bytes::from_static(b"\n"),
                clamp_to_usize(self.max),
                1,
                self.oversize,
            ),
            ending: self.ending,
        }
    }

    /// The codec, decoding lines as `String`s.
    pub fn build_utf8(self) -> Utf8LinesCodec {
        Utf8LinesCodec::from(self.build())
    }
}

/// [`LinesCodec`] with lines as `String`s: a line that is not valid UTF-8 is
/// [`FrameError::InvalidUtf8`]. Decoding copies each line once into its
/// `String`; the framing rules are [`LinesCodec`]'s.
///
/// ```
/// use bytes::BytesMut;
/// use castnet_core::frame::{Decoder, Encoder, FrameError, Utf8LinesCodec};
///
/// let mut codec = Utf8LinesCodec::new();
/// let mut wire = BytesMut::new();
/// codec.encode("héllo", &mut wire).unwrap();
/// assert_eq!(codec.decode(&mut wire).unwrap().as_deref(), Some("héllo"));
///
/// let mut bad = BytesMut::from(&b"\xff\n"[..]);
/// assert!(matches!(codec.decode(&mut bad), Err(FrameError::InvalidUtf8(_))));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8LinesCodec {
    lines: LinesCodec,
}

impl Utf8LinesCodec {
    /// A codec with [`LinesCodec::default`]'s settings.
    pub fn new() -> Self {
        Utf8LinesCodec::default()
    }

    /// The line codec underneath, for its settings.
    pub fn lines(&self) -> &LinesCodec {
        &self.lines
    }
}

impl From<LinesCodec> for Utf8LinesCodec {
    fn from(lines: LinesCodec) -> Self {
        Utf8LinesCodec { lines }
    }
}

fn into_string(line: Option<Bytes>) -> Result<Option<String>, FrameError> {
    line.map(|line| {
        std::str::from_utf8(&line)
            .map(str::to_owned)
            .map_err(FrameError::InvalidUtf8)
    })
    .transpose()
}

impl Decoder for Utf8LinesCodec {
    type Item = String;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<String>, FrameError> {
        into_string(self.lines.decode(src)?)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<String>, FrameError> {
        into_string(self.lines.decode_eof(src)?)
    }
}

impl Encoder<&str> for Utf8LinesCodec {
    fn encode_frame(&mut self, line: &str) -> Result<EncodedFrame, FrameError> {
        self.lines.encode_frame(line)
    }

    fn encode(&mut self, line: &str, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.lines.encode(line, dst)
    }
}

impl Encoder<String> for Utf8LinesCodec {
    fn encode_frame(&mut self, line: String) -> Result<EncodedFrame, FrameError> {
        self.lines.encode_frame(line)
    }

    fn encode(&mut self, line: String, dst: &mut BytesMut) -> Result<(), FrameError> {
        self.lines.encode(line, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codec(max: u64) -> LinesCodec {
        LinesCodec::builder().max_line_len(max).build()
    }

    fn decode_all(c: &mut LinesCodec, src: &mut BytesMut) -> Vec<Bytes> {
        let mut out = Vec::new();
        while let Some(f) = c.decode(src).unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn lf_and_crlf_lines_are_returned_without_their_ending() {
        let mut c = LinesCodec::new();
        let mut src = BytesMut::from(&b"a\nb\r\n\n\r\nc"[..]);
        assert_eq!(decode_all(&mut c, &mut src), [&b"a"[..], b"b", b"", b""]);
        assert_eq!(&src[..], b"c");
    }

    #[test]
    fn only_the_cr_just_before_lf_is_stripped() {
        let mut c = LinesCodec::new();
        let mut src = BytesMut::from(&b"a\rb\r\r\n"[..]);
        assert_eq!(decode_all(&mut c, &mut src), [&b"a\rb\r"[..]]);
    }

    #[test]
    fn crlf_split_across_two_reads_is_one_ending() {
        let mut c = LinesCodec::new();
        let mut src = BytesMut::from(&b"line\r"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b"\n");
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"line"[..]);
    }

    #[test]
    fn line_of_max_len_is_accepted_with_either_ending_and_one_more_byte_is_refused() {
        let mut c = codec(3);
        let mut src = BytesMut::from(&b"abc\nabc\r\n"[..]);
        assert_eq!(decode_all(&mut c, &mut src), [&b"abc"[..], b"abc"]);
        let mut src = BytesMut::from(&b"abcd\n"[..]);
        assert!(matches!(
            c.decode(&mut src),
            Err(FrameError::DelimiterNotFound { max: 3 })
        ));
        // Without any LF: refused once max + 2 bytes are buffered.
        let mut c = codec(3);
        let mut src = BytesMut::from(&b"abcd"[..]);
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b"e");
        assert!(matches!(
            c.decode(&mut src),
            Err(FrameError::DelimiterNotFound { max: 3 })
        ));
    }

    #[test]
    fn discard_policy_skips_an_overlong_line_and_resynchronises() {
        let mut c = LinesCodec::builder()
            .max_line_len(2)
            .oversize_policy(OversizePolicy::Discard)
            .build();
        let mut src = BytesMut::from(&b"abc\nok\nlonger"[..]);
        let err = c.decode(&mut src).unwrap_err();
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
        assert_eq!(c.decode(&mut src).unwrap().unwrap(), &b"ok"[..]);
        assert!(c.decode(&mut src).unwrap_err().is_recoverable());
        assert_eq!(c.decode(&mut src).unwrap(), None);
        src.extend_from_slice(b" still\r\nye\r\n");
        assert_eq!(decode_all(&mut c, &mut src), [&b"ye"[..]]);
    }

    #[test]
    fn eof_inside_a_line_is_unexpected_eof() {
        let mut c = LinesCodec::new();
        let mut src = BytesMut::from(&b"x\ny\r"[..]);
        assert_eq!(c.decode_eof(&mut src).unwrap().unwrap(), &b"x"[..]);
        assert!(matches!(
            c.decode_eof(&mut src),
            Err(FrameError::UnexpectedEof { buffered: 2 })
        ));
    }

    #[test]
    fn encoder_writes_the_configured_ending_as_a_static_tail() {
        let mut lf = LinesCodec::new();
        let frame = lf.encode_frame("hi").unwrap();
        assert_eq!(&frame.tail()[..], b"\n");
        let mut crlf = LinesCodec::builder().line_ending(LineEnding::CrLf).build();
        let mut wire = BytesMut::new();
        crlf.encode(Bytes::from_static(b"hi"), &mut wire).unwrap();
        assert_eq!(&wire[..], b"hi\r\n");
    }

    #[test]
    fn encoder_refuses_a_line_holding_lf_or_over_the_maximum() {
        let mut c = codec(4);
        let mut wire = BytesMut::new();
        assert!(matches!(
            c.encode("a\nb", &mut wire),
            Err(FrameError::DelimiterInPayload { at: 1 })
        ));
        assert!(matches!(
            c.encode("abcde", &mut wire),
            Err(FrameError::PayloadTooLarge { len: 5, max: 4 })
        ));
        assert!(wire.is_empty());
    }

    #[test]
    fn trailing_cr_is_refused_with_lf_endings_and_kept_with_crlf() {
        let mut wire = BytesMut::new();
        assert!(matches!(
            LinesCodec::new().encode("a\r", &mut wire),
            Err(FrameError::DelimiterInPayload { at: 1 })
        ));
        let mut crlf = LinesCodec::builder().line_ending(LineEnding::CrLf).build();
        crlf.encode("a\r", &mut wire).unwrap();
        assert_eq!(crlf.decode(&mut wire).unwrap().unwrap(), &b"a\r"[..]);
    }

    #[test]
    fn utf8_lines_decode_to_strings_and_invalid_utf8_is_a_typed_error() {
        let mut c = LinesCodec::builder().max_line_len(16).build_utf8();
        let mut src = BytesMut::from(&b"caf\xc3\xa9\r\nok\xff\n"[..]);
        assert_eq!(c.decode(&mut src).unwrap().as_deref(), Some("café"));
        let err = c.decode(&mut src).unwrap_err();
        assert!(
            matches!(&err, FrameError::InvalidUtf8(e) if e.valid_up_to() == 2),
            "{err:?}"
        );
        assert!(!err.is_recoverable());
        assert!(src.is_empty());
    }
}
