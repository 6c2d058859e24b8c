//! The read buffer: allocated on demand, released when decoding empties it
//! (at once, or once the session has been idle for `keep_buffers`).

use bytes::BytesMut;

/// Inbound bytes not yet decoded.
///
/// An idle session holds no allocation: room is made only when the runtime
/// asks for it, and the buffer is dropped once decoding leaves it empty (the
/// session decides when: see `SessionConfig::keep_buffers`). A kept buffer
/// is reused in place by the next read once the frames split off it are
/// dropped.
/// Decoded frames are `split_to(..).freeze()` slices of it, so they keep
/// their part of the allocation alive on their own.
#[derive(Debug, Default)]
pub(super) struct ReadBuffer {
    buf: BytesMut,
    /// Zeroed bytes at the end of `buf` handed out by `space` and not yet
    /// confirmed by `commit`.
    unfilled: usize,
}

impl ReadBuffer {
    /// The buffer with at least `chunk` bytes of spare capacity, for readers
    /// that append (`tokio::io::AsyncReadExt::read_buf`, `BufMut`).
    pub(super) fn append(&mut self, chunk: usize) -> &mut BytesMut {
        self.commit(0);
        self.buf.reserve(chunk);
        &mut self.buf
    }

    /// At least `chunk` zeroed bytes to read into, for readers that take a
    /// `&mut [u8]` (`std::io::Read`, `futures::AsyncRead`). Uses the whole
    /// spare capacity, which is already allocated.
    pub(super) fn space(&mut self, chunk: usize) -> &mut [u8] {
        self.commit(0);
        self.buf.reserve(chunk);
        let len = self.buf.len();
        self.unfilled = self.buf.capacity() - len;
        self.buf.resize(len + self.unfilled, 0);
        &mut self.buf[len..]
    }

    /// Confirms a read of `n` bytes and returns how many were kept: of the
    /// zeroed room handed out by `space`, only the first `n` bytes stay;
    /// after `append`, the runtime already appended them.
    pub(super) fn commit(&mut self, n: usize) -> usize {
        if self.unfilled == 0 {
            return n;
        }
        let kept = n.min(self.unfilled);
        let len = self.buf.len() - self.unfilled + kept;
        self.buf.truncate(len);
        self.unfilled = 0;
        kept
    }

    /// The undecoded bytes, when no room is unconfirmed (after `commit`).
    #[inline]
    pub(super) fn committed(&mut self) -> &mut BytesMut {
        debug_assert_eq!(self.unfilled, 0, "commit first");
        &mut self.buf
    }

    /// Adopts `spare`'s buffer (emptied) when no room is unconfirmed and
    /// this one holds no allocation, or holds only a partial frame moved
    /// out by `give_back` (which is copied into it).
    pub(super) fn borrow(&mut self, spare: &mut Option<BytesMut>) {
        if self.unfilled != 0 || !(self.buf.capacity() == 0 || self.is_moved_out()) {
            return;
        }
        if let Some(mut buf) = spare.take() {
            buf.clear();
            buf.extend_from_slice(&self.buf);
            self.buf = buf;
        }
    }

    /// If nothing is left to decode, moves the allocation into `spare` when
    /// that holds none, and frees it otherwise. If only a short partial
    /// frame is left (at most `chunk / 8` bytes), moves those bytes into an
    /// allocation of their own size first, and gives the large one back the
    /// same way: a session waiting for the rest of a frame holds what it
    /// has of it, not a whole read chunk.
    pub(super) fn give_back(&mut self, spare: &mut Option<BytesMut>, chunk: usize) {
        if self.is_idle() {
            let buf = std::mem::take(&mut self.buf);
            if spare.is_none() {
                *spare = Some(buf);
            }
        } else if self.unfilled == 0
            && !self.buf.is_empty()
            && self.buf.len() <= chunk / 8
            && !self.is_moved_out()
        {
            let rest = BytesMut::from(&self.buf[..]);
            let mut buf = std::mem::replace(&mut self.buf, rest);
            if spare.is_none() {
                buf.clear();
                *spare = Some(buf);
            }
        }
    }

    /// Whether the buffer is exactly its undecoded bytes, as `give_back`
    /// leaves a moved-out partial frame (no room to read into).
    fn is_moved_out(&self) -> bool {
        !self.buf.is_empty() && self.buf.capacity() == self.buf.len()
    }

    /// Lets go of a buffer decoded to the very end of its capacity: it
    /// reports no capacity yet may still hold its allocation (shared with
    /// the frames split off it, then its own once they are dropped), which
    /// neither `release_if_empty` nor `give_back` would see.
    pub(super) fn forget_if_exhausted(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() == 0 && self.unfilled == 0 {
            self.buf = BytesMut::new();
        }
    }

    /// Frees the allocation if nothing is left to decode.
    pub(super) fn release_if_empty(&mut self) {
        if self.is_idle() {
            self.buf = BytesMut::new();
        }
    }

    /// Whether it holds an allocation with nothing left to decode.
    pub(super) fn is_idle(&self) -> bool {
        self.buf.is_empty() && self.unfilled == 0 && self.buf.capacity() > 0
    }

    /// Drops everything (the session has ended).
    pub(super) fn clear(&mut self) {
        *self = ReadBuffer::default();
    }

    /// The allocation held: zero for an idle session.
    pub(super) fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}
