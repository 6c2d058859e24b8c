//! [`PackedFrames`]: small encoded frames copied back to back, the body of a
//! packed run in the send queue (see [`SendQueue`](super::queue::SendQueue)).

use super::queue::PACK_RUN_MAX;

/// A run's first allocation: room for a few dozen small frames.
const INITIAL_BYTES: usize = 2048;

/// Small encoded frames, copied back to back, with where each one ends.
///
/// It holds at most [`PACK_RUN_MAX`] bytes; the queue only offers frames of
/// 1 to [`PACK_FRAME_MAX`] bytes.
#[derive(Debug, Default)]
pub(super) struct PackedFrames {
    pub(super) buf: Vec<u8>,
    /// Where each frame ends in `buf`, in order.
    pub(super) ends: Vec<u32>,
}

impl PackedFrames {
    /// No memory yet.
    pub(super) const fn new() -> Self {
        PackedFrames {
            buf: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Whether a frame of `len` bytes fits without taking the run past
    /// [`PACK_RUN_MAX`] bytes.
    #[inline]
    pub(super) fn has_room(&self, len: usize) -> bool {
        self.buf.len() + len <= PACK_RUN_MAX
    }

    /// Appends the frame `write` encodes after the others and returns its
    /// length; keeps nothing when `write` fails. The caller checked
    /// [`has_room`](Self::has_room) for the frame's length.
    #[inline]
    pub(super) fn push_with<E>(
        &mut self,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<usize, E> {
        if self.buf.capacity() == 0 {
            self.buf.reserve(INITIAL_BYTES);
            self.ends.reserve(INITIAL_BYTES / 64);
        }
        let start = self.buf.len();
        if let Err(e) = write(&mut self.buf) {
            self.buf.truncate(start);
            return Err(e);
        }
        // Runs stay within PACK_RUN_MAX bytes (plus one frame of a codec
        // whose `encoded_len` is wrong): ends fit a u32.
        self.ends.push(self.buf.len() as u32);
        Ok(self.buf.len() - start)
    }

    /// Frames in the run.
    pub(super) fn frames(&self) -> usize {
        self.ends.len()
    }

    /// Bytes in the run.
    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Bytes it holds without allocating again.
    pub(super) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Whether its memory is small enough to keep for reuse: what one run
    /// needs, not what an unusual run grew to.
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
}

#[cfg(test)]
mod tests {
    use super::super::queue::PACK_FRAME_MAX;
    use super::*;
    use crate::frame::EncodedFrame;
    use bytes::Bytes;

    fn sized(len: usize) -> EncodedFrame {
        EncodedFrame::contiguous(Bytes::from(vec![b'x'; len]))
    }

    /// Copies `frame` in as the queue does, or returns false (and copies
    /// nothing) when it would take the run past `PACK_RUN_MAX` bytes.
    fn push(run: &mut PackedFrames, frame: EncodedFrame) -> bool {
        if !run.has_room(frame.len()) {
            return false;
        }
        let copied = run.push_with(|buf| {
            frame.copy_into(buf);
            Ok::<(), ()>(())
        });
        assert_eq!(copied, Ok(frame.len()));
        true
    }

    #[test]
    fn frames_are_copied_back_to_back_until_the_run_is_full() {
        let mut run = PackedFrames::default();
        assert!(push(
            &mut run,
            EncodedFrame::contiguous(Bytes::from_static(b"\x02hi"))
        ));
        assert!(run.capacity() >= INITIAL_BYTES, "one allocation for a run");
        assert!(run.ends.capacity() >= INITIAL_BYTES / 64);
        assert!(push(
            &mut run,
            EncodedFrame::contiguous(Bytes::from_static(b"\x01!"))
        ));
        assert_eq!(run.buf, b"\x02hi\x01!");
        assert_eq!((run.frames(), run.len(), run.end_of(1)), (2, 5, 3));
        assert_eq!(run.end_of(0), 0);
        // Exactly PACK_RUN_MAX fits; a byte more does not, and copies nothing.
        assert!(push(&mut run, sized(PACK_FRAME_MAX - 6)));
        while run.len() + PACK_FRAME_MAX <= PACK_RUN_MAX {
            assert!(push(&mut run, sized(PACK_FRAME_MAX)));
        }
        let room = PACK_RUN_MAX - run.len();
        assert_eq!(room, 1);
        assert!(!push(&mut run, sized(room + 1)));
        assert!(push(&mut run, sized(room)));
        assert_eq!(run.len(), PACK_RUN_MAX);
        assert!(!push(&mut run, sized(1)));
        assert_eq!(run.len(), PACK_RUN_MAX);
        assert!(run.fits_spare());
        run.clear();
        assert_eq!((run.frames(), run.len()), (0, 0));
        assert!(run.capacity() > 0, "clear keeps the memory");
    }

    #[test]
    fn a_run_that_grew_unusually_large_is_not_kept() {
        let mut run = PackedFrames::default();
        run.buf.reserve_exact(2 * PACK_RUN_MAX);
        assert!(run.fits_spare());
        run.buf.reserve_exact(2 * PACK_RUN_MAX + 1);
        assert!(!run.fits_spare());
        let mut run = PackedFrames::default();
        run.ends.reserve_exact(PACK_RUN_MAX / 4);
        assert!(run.fits_spare());
        run.ends.reserve_exact(PACK_RUN_MAX / 4 + 1);
        assert!(!run.fits_spare());
    }
}
