//! [`EncodedFrame`]: one outbound frame as up to three byte runs.

use bytes::{Buf, Bytes, BytesMut};
use std::io::IoSlice;

/// Largest header an [`EncodedFrame`] keeps inline.
pub const MAX_INLINE_HEAD: usize = 16;

/// One encoded frame, ready for a vectored write: a small inline `head`
/// (a length header), the caller's `body` untouched, and an optional `tail`
/// (a delimiter).
///
/// The payload is never copied to put a header in front of it. `EncodedFrame`
/// implements [`Buf`], so a writer consumes it with `chunks_vectored` and
/// `advance`, stopping anywhere, mid-header included.
///
/// ```
/// use bytes::{Buf, Bytes};
/// use castnet_core::frame::EncodedFrame;
///
/// let mut frame = EncodedFrame::new(&[0, 5], Bytes::from_static(b"hello"), Bytes::new());
/// assert_eq!(frame.remaining(), 7);
/// frame.advance(1); // a write that stopped inside the header
/// assert_eq!(frame.chunk(), &[5]);
/// assert_eq!(frame.into_contiguous(), Bytes::from_static(b"\x05hello"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedFrame {
    head: [u8; MAX_INLINE_HEAD],
    head_pos: u8,
    head_len: u8,
    body: Bytes,
    tail: Bytes,
}

impl EncodedFrame {
    /// A frame of `head` (at most [`MAX_INLINE_HEAD`] bytes), `body` and `tail`.
    ///
    /// # Panics
    ///
    /// If `head` is longer than [`MAX_INLINE_HEAD`]; codecs that need a longer
    /// prefix use [`EncodedFrame::contiguous`].
    pub fn new(head: &[u8], body: Bytes, tail: Bytes) -> Self {
        assert!(
            head.len() <= MAX_INLINE_HEAD,
            "EncodedFrame head is limited to {MAX_INLINE_HEAD} bytes"
        );
        let mut buf = [0u8; MAX_INLINE_HEAD];
        buf[..head.len()].copy_from_slice(head);
        EncodedFrame {
            head: buf,
            head_pos: 0,
            head_len: head.len() as u8,
            body,
            tail,
        }
    }

    /// A frame whose header is the first `n` bytes of `word` (`n <= 8`): for
    /// codecs that build a length header in a machine word, so no copy of a
    /// variable length is made.
    #[inline]
    pub(crate) fn from_head_word(word: [u8; 8], n: usize, body: Bytes, tail: Bytes) -> Self {
        debug_assert!(n <= word.len());
        let mut head = [0u8; MAX_INLINE_HEAD];
        head[..8].copy_from_slice(&word);
        EncodedFrame {
            head,
            head_pos: 0,
            head_len: n as u8,
            body,
            tail,
        }
    }

    /// A frame that is already one contiguous run of bytes, such as a frame
    /// encoded once for a broadcast and shared by every recipient.
    pub fn contiguous(bytes: Bytes) -> Self {
        EncodedFrame {
            head: [0; MAX_INLINE_HEAD],
            head_pos: 0,
            head_len: 0,
            body: bytes,
            tail: Bytes::new(),
        }
    }

    /// The unwritten part of the header.
    #[inline]
    pub fn head(&self) -> &[u8] {
        &self.head[self.head_pos as usize..self.head_len as usize]
    }

    /// The unwritten part of the body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The unwritten part of the tail.
    pub fn tail(&self) -> &Bytes {
        &self.tail
    }

    /// Total unwritten length: head, body and tail.
    #[inline]
    pub fn len(&self) -> usize {
        // `head_pos <= head_len` always (`advance` never passes the end).
        usize::from(self.head_len - self.head_pos) + self.body.len() + self.tail.len()
    }

    /// True when nothing is left to write.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends the unwritten bytes to `dst`: the copy a writer makes when it
    /// packs small frames into one buffer.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use castnet_core::frame::EncodedFrame;
    ///
    /// let frame = EncodedFrame::new(&[2], Bytes::from_static(b"hi"), Bytes::from_static(b"\n"));
    /// let mut out = b"..".to_vec();
    /// frame.copy_into(&mut out);
    /// assert_eq!(out, b"..\x02hi\n");
    /// ```
    #[inline]
    pub fn copy_into(&self, dst: &mut Vec<u8>) {
        dst.reserve(MAX_INLINE_HEAD + self.body.len() + self.tail.len());
        if self.head_pos == 0 {
            // The whole inline array as one fixed-size copy (no call for a
            // copy of a few bytes), then the bytes past the header cut off.
            let start = dst.len();
            dst.extend_from_slice(&self.head);
            dst.truncate(start + usize::from(self.head_len));
        } else {
            dst.extend_from_slice(self.head());
        }
        dst.extend_from_slice(&self.body);
        if !self.tail.is_empty() {
            dst.extend_from_slice(&self.tail);
        }
    }

    /// The unwritten bytes as one `Bytes`. Free when the frame is already
    /// contiguous (no head and no tail left); otherwise one allocation and copy.
    pub fn into_contiguous(self) -> Bytes {
        if self.head().is_empty() && self.tail.is_empty() {
            return self.body;
        }
        let mut out = BytesMut::with_capacity(self.len());
        out.extend_from_slice(self.head());
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&self.tail);
        out.freeze()
    }
}

impl Buf for EncodedFrame {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        if !self.head().is_empty() {
            self.head()
        } else if !self.body.is_empty() {
            &self.body
        } else {
            &self.tail
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for part in [self.head(), &self.body[..], &self.tail[..]] {
            if n == dst.len() {
                break;
            }
            if !part.is_empty() {
                dst[n] = IoSlice::new(part);
                n += 1;
            }
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(
            cnt <= self.remaining(),
            "advance past the end of an EncodedFrame"
        );
        let head_left = self.head().len();
        let step = cnt.min(head_left);
        self.head_pos += step as u8;
        cnt -= step;
        let step = cnt.min(self.body.len());
        self.body.advance(step);
        cnt -= step;
        self.tail.advance(cnt);
    }
}

impl From<Bytes> for EncodedFrame {
    fn from(bytes: Bytes) -> Self {
        EncodedFrame::contiguous(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_across_every_part_boundary_keeps_the_byte_sequence() {
        let whole = EncodedFrame::new(
            b"hd",
            Bytes::from_static(b"body"),
            Bytes::from_static(b"\r\n"),
        );
        let expected = whole.clone().into_contiguous();
        for split in 0..=expected.len() {
            let mut f = whole.clone();
            f.advance(split);
            assert_eq!(f.remaining(), expected.len() - split);
            assert_eq!(f.into_contiguous(), expected.slice(split..));
        }
    }

    #[test]
    fn chunks_vectored_skips_empty_parts() {
        let f = EncodedFrame::new(b"", Bytes::from_static(b"x"), Bytes::new());
        let mut slices = [IoSlice::new(&[]); 3];
        assert_eq!(f.chunks_vectored(&mut slices), 1);
        assert_eq!(&*slices[0], b"x");
    }
}
