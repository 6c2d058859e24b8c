//! [`PackedFrames`]: small encoded frames copied back to back, queued as one
//! run by [`Session::send_untracked_packed`](super::Session::send_untracked_packed).

use super::queue::{PACK_FRAME_MAX, PACK_RUN_MAX};
use super::SendFailure;
use crate::frame::EncodedFrame;

/// A batch's first allocation: room for a few dozen small frames.
const INITIAL_BYTES: usize = 2048;

/// Small encoded frames, copied back to back, with where each one ends: a
/// batch of untracked sends that a runtime collects during one turn (the
/// replies a handler makes) and queues in one call.
///
/// It holds at most [`PACK_RUN_MAX`] bytes, each frame at most
/// [`PACK_FRAME_MAX`] and not empty; [`push`](Self::push) refuses the rest,
/// which go through [`Session::send_untracked`](super::Session::send_untracked)
/// instead.
///
/// ```
/// use bytes::Bytes;
/// use castnet_core::frame::EncodedFrame;
/// use castnet_core::session::PackedFrames;
///
/// let mut packed = PackedFrames::new();
/// assert!(packed.push(&EncodedFrame::contiguous(Bytes::from_static(b"\x02hi"))));
/// assert!(packed.push(&EncodedFrame::contiguous(Bytes::from_static(b"\x01!"))));
/// assert_eq!((packed.frames(), packed.len()), (2, 5));
/// let big = EncodedFrame::contiguous(Bytes::from(vec![0; 64 * 1024]));
/// assert!(!packed.push(&big), "large frames are not copied");
/// ```
#[derive(Debug, Default)]
pub struct PackedFrames {
    pub(super) buf: Vec<u8>,
    /// Where each frame ends in `buf`, in order.
    pub(super) ends: Vec<u32>,
}

impl PackedFrames {
    /// An empty batch; it allocates on the first push.
    pub fn new() -> Self {
        PackedFrames::default()
    }

    /// Copies `frame` in after the others, or returns false (and copies
    /// nothing) when the frame is empty, longer than [`PACK_FRAME_MAX`], or
    /// would take the batch past [`PACK_RUN_MAX`] bytes.
    #[inline]
    pub fn push(&mut self, frame: &EncodedFrame) -> bool {
        if !self.fits(frame.len()) {
            return false;
        }
        let copied = self.push_with(|buf| {
            frame.copy_into(buf);
            Ok::<(), std::convert::Infallible>(())
        });
        copied.is_ok()
    }

    /// Whether a frame of `len` bytes would be taken: not empty, at most
    /// [`PACK_FRAME_MAX`], and within [`PACK_RUN_MAX`] with the others.
    #[inline]
    pub fn fits(&self, len: usize) -> bool {
        len != 0 && len <= PACK_FRAME_MAX && self.buf.len() + len <= PACK_RUN_MAX
    }

    /// Adds one frame that `write` appends to the batch's bytes (an
    /// encoder's [`encode_to_vec`](crate::frame::Encoder::encode_to_vec)):
    /// no [`EncodedFrame`] is built and the payload is copied once. Check
    /// [`fits`](Self::fits) with the frame's length first. Returns how many
    /// bytes the frame took; on error the batch is left as it was.
    ///
    /// ```
    /// use castnet_core::frame::{Encoder, PacketN};
    /// use castnet_core::session::PackedFrames;
    ///
    /// let mut codec = PacketN::default();
    /// let mut packed = PackedFrames::new();
    /// let len = Encoder::<&[u8]>::encoded_len(&codec, &&b"hi"[..]).unwrap();
    /// assert!(packed.fits(len));
    /// assert_eq!(packed.push_with(|buf| codec.encode_to_vec(&b"hi"[..], buf)).unwrap(), 6);
    /// assert_eq!((packed.frames(), packed.len()), (1, 6));
    /// ```
    #[inline]
    pub fn push_with<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<usize, E> {
        let start = self.buf.len();
        if self.buf.capacity() == 0 {
            self.buf.reserve(INITIAL_BYTES);
            self.ends.reserve(INITIAL_BYTES / 64);
        }
        if let Err(e) = write(&mut self.buf) {
            self.buf.truncate(start);
            return Err(e);
        }
        // A frame longer than `fits` allowed (a wrong length) still ends
        // where it ends: the counts stay exact, the run is a little longer.
        // Runs stay near PACK_RUN_MAX bytes: ends fit a u32.
        self.ends.push(self.buf.len() as u32);
        Ok(self.buf.len() - start)
    }

    /// Frames in the batch.
    pub fn frames(&self) -> usize {
        self.ends.len()
    }

    /// Bytes in the batch.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Bytes it holds without allocating again.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// True when no frame was pushed.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Whether its memory is small enough to keep for reuse: what one run
    /// needs, not what an unusual batch grew to.
    pub(super) fn fits_spare(&self) -> bool {
        self.buf.capacity() <= 2 * PACK_RUN_MAX && self.ends.capacity() <= PACK_RUN_MAX / 4
    }

    /// Drops every frame, keeping the memory.
    pub(super) fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Where the first `frames` frames end (`frames <= self.frames()`).
    pub(super) fn end_of(&self, frames: usize) -> usize {
        frames
            .checked_sub(1)
            .map_or(0, |last| self.ends[last] as usize)
    }

    /// Keeps the first `frames` frames; returns the bytes of those dropped.
    pub(super) fn truncate(&mut self, frames: usize) -> usize {
        let keep = self.end_of(frames.min(self.frames()));
        let dropped = self.buf.len() - keep;
        self.buf.truncate(keep);
        self.ends.truncate(frames);
        dropped
    }

    /// Removes the first `frames` frames.
    pub(super) fn drop_front(&mut self, frames: usize) {
        let upto = self.end_of(frames);
        if upto == 0 {
            return;
        }
        self.buf.drain(..upto);
        self.ends.drain(..frames);
        // `upto <= PACK_RUN_MAX`.
        self.ends.iter_mut().for_each(|end| *end -= upto as u32);
    }

    /// Appends, from the first, as many of `other`'s frames as keep this
    /// batch within [`PACK_RUN_MAX`] bytes; returns how many.
    pub(super) fn take_fitting(&mut self, other: &PackedFrames) -> usize {
        let room = PACK_RUN_MAX.saturating_sub(self.buf.len());
        let n = other.ends.partition_point(|&end| end as usize <= room);
        // Both within PACK_RUN_MAX: no overflow.
        let base = self.buf.len() as u32;
        self.buf.extend_from_slice(&other.buf[..other.end_of(n)]);
        self.ends
            .extend(other.ends[..n].iter().map(|&end| base + end));
        n
    }
}

/// The frames of a [`PackedFrames`] that
/// [`Session::send_untracked_packed`](super::Session::send_untracked_packed)
/// did not queue: the last `frames` of the batch, `bytes` long in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PackedRefused {
    /// How many frames were refused (those after the last one queued).
    pub frames: usize,
    /// Their total length.
    pub bytes: usize,
    /// Why: `QueueFull` or `Closed`.
    pub failure: SendFailure,
}
