//! Errors of the framing layer.

use std::sync::Arc;

/// What went wrong while decoding or encoding one frame.
///
/// Returned by every [`Decoder`](super::Decoder) and [`Encoder`](super::Encoder).
/// Most variants are fatal for the stream they came from (the session closes);
/// [`FrameError::is_recoverable`] tells the ones after which decoding may go on.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A peer declared a frame longer than the configured maximum. Nothing was
    /// reserved for it. Fatal.
    #[error("declared frame length {declared} exceeds the maximum of {max} bytes")]
    FrameTooLarge {
        /// The length the peer declared, as read from the wire (after any
        /// adjustment), before any conversion to `usize`.
        declared: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A frame over the maximum was skipped under the `Discard` oversize
    /// policy; decoding resynchronises on the next frame. Recoverable: reported
    /// once per skipped frame.
    #[error("discarded a frame of declared length {declared} (maximum {max} bytes)")]
    FrameDiscarded {
        /// The length the peer declared. For a delimiter or line codec, which
        /// has no declared length: the bytes seen without a delimiter when the
        /// frame was given up.
        declared: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A payload given to an encoder is longer than the configured maximum or
    /// than its length field can express. Nothing was written.
    #[error("payload of {len} bytes exceeds the maximum of {max} bytes")]
    PayloadTooLarge {
        /// The payload length that was refused.
        len: u64,
        /// The largest length the encoder accepts.
        max: u64,
    },
    /// A payload given to an encoder is shorter than its codec requires: a
    /// fixed-length codec's size, or for a length-field codec the header bytes
    /// before the field plus what its adjustment and bytes to strip imply.
    /// Nothing was written.
    #[error("payload of {len} bytes is shorter than the minimum of {min} bytes")]
    PayloadTooShort {
        /// The payload length that was refused.
        len: u64,
        /// The shortest length the encoder accepts.
        min: u64,
    },
    /// A payload given to a delimiter or line encoder contains the delimiter
    /// (or, at its end, the start of it), so a peer would split it. Nothing
    /// was written.
    #[error("payload contains the delimiter at byte {at}")]
    DelimiterInPayload {
        /// Where in the payload the delimiter a peer would see begins.
        at: usize,
    },
    /// A line decoded by a UTF-8 line codec is not valid UTF-8. The line was
    /// consumed, so the stream is still in step, but the error is fatal like
    /// every other except [`FrameError::FrameDiscarded`].
    #[error("line is not valid UTF-8 after its first {} bytes", .0.valid_up_to())]
    InvalidUtf8(#[source] std::str::Utf8Error),
    /// A length field, after its adjustment, says the frame is shorter than
    /// the bytes it is configured to strip or than the header itself. Fatal.
    #[error("invalid length field: {0}")]
    InvalidLength(&'static str),
    /// A varint length prefix does not fit in 64 bits: a tenth byte above
    /// `0x01`, which also covers a prefix longer than ten bytes. Nothing was
    /// consumed or reserved for it. Fatal under every oversize policy, since
    /// there is no length to skip by.
    #[error("varint length prefix overflows 64 bits after {bytes} bytes")]
    VarintOverflow {
        /// How many bytes of the prefix were read when the overflow was
        /// certain (at most ten).
        bytes: usize,
    },
    /// The stream ended in the middle of a frame. Fatal.
    #[error("stream ended inside a frame ({buffered} bytes buffered)")]
    UnexpectedEof {
        /// How many bytes of the partial frame were buffered.
        buffered: usize,
    },
    /// A delimited or line codec saw more than its maximum without a delimiter.
    /// Fatal.
    #[error("no delimiter within {max} bytes")]
    DelimiterNotFound {
        /// The configured maximum frame length.
        max: usize,
    },
    /// A typed message (`Json`, `MsgPack`, `Xml`, or one of a codec of your
    /// own) could not be serialised.
    /// Nothing was written or queued. Its source is the serializer's error.
    #[error(transparent)]
    Serialize(super::SerializeError),
    /// An error raised by a user codec.
    #[error("codec error: {0}")]
    Other(Arc<dyn std::error::Error + Send + Sync + 'static>),
}

impl FrameError {
    /// Wraps a user codec's own error.
    pub fn other<E>(error: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        FrameError::Other(Arc::new(error))
    }

    /// True when the decoder stays usable after this error (a frame was
    /// discarded under the `Discard` policy and decoding goes on).
    pub fn is_recoverable(&self) -> bool {
        matches!(self, FrameError::FrameDiscarded { .. })
    }
}

/// A codec or session was configured with values that cannot work.
///
/// Returned by builders at build time, never later, and never a panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A length header of this many bytes is not supported.
    #[error("unsupported header length {0}: expected 1, 2, 4 or 8")]
    InvalidHeaderLen(usize),
    /// A length field of this many bytes is not supported.
    #[error("unsupported length field size {0}: expected 1 to 8")]
    InvalidLengthFieldLen(usize),
    /// A value was out of its allowed range.
    #[error("{what} is out of range: {detail}")]
    OutOfRange {
        /// Which option.
        what: &'static str,
        /// Why, in a few words.
        detail: String,
    },
}
