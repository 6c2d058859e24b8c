//! The outbound queue: encoded frames in send order, their byte count, and an
//! index of send deadlines whose earliest entry is read in O(1). Small
//! untracked frames are packed into shared runs as they arrive.

use super::packed::PackedFrames;
use super::{SendFailure, SendId, SendOutcome};
use crate::frame::EncodedFrame;
use bytes::Buf;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::IoSlice;
use std::time::Instant;

/// Where a frame's deadline is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Deadline {
    /// No deadline: only a close ends it early.
    None,
    /// Not earlier than any `InOrder` deadline pushed before it (the session's
    /// default timeout added to a clock that never goes back).
    InOrder(Instant),
    /// Any instant (a per-send override).
    Any(Instant),
}

impl Deadline {
    /// The instant it falls due, whichever lane indexes it: what packing
    /// compares (see [`SendQueue`]).
    fn due(self) -> Option<Instant> {
        match self {
            Deadline::None => None,
            Deadline::InOrder(at) | Deadline::Any(at) => Some(at),
        }
    }
}

/// Who learns how a queued frame ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    /// A send with an id: its outcome is reported as an event.
    Tracked(SendId),
    /// Sends nobody waits on (one, or a packed run of several): counted,
    /// and their length (as queued) is added to the session's
    /// finished-untracked total.
    Untracked {
        /// Frames in the entry.
        frames: u32,
        /// Their bytes, as queued.
        bytes: usize,
    },
    /// A heartbeat: counted, never reported.
    Heartbeat,
}

/// Untracked frames up to this length are copied into a packed run instead
/// of queued one by one (see [`SendQueue`]). `Session::send_untracked`
/// documents both limits.
pub(super) const PACK_FRAME_MAX: usize = 1024;

/// A packed run takes no more frames once it holds this many bytes.
pub(super) const PACK_RUN_MAX: usize = 16 * 1024;

impl Tag {
    /// Frames the tagged entry holds.
    fn frames(self) -> usize {
        match self {
            Tag::Untracked { frames, .. } => frames as usize,
            Tag::Tracked(_) | Tag::Heartbeat => 1,
        }
    }
}

#[derive(Debug)]
struct Entry {
    /// Position in the queue, increasing; heartbeats have one too.
    seq: u64,
    tag: Tag,
    body: Body,
}

/// Small untracked frames copied back to back, as one queue entry.
#[derive(Debug)]
struct Run {
    frames: PackedFrames,
    /// Bytes written.
    pos: usize,
    /// Frames completed so far (they end at or before `pos`).
    done: usize,
    /// Every frame's deadline instant (see [`SendQueue`] for why the lane
    /// does not matter).
    due: Option<Instant>,
}

impl Run {
    /// Marks `n` more bytes written (the run is not finished by them) and
    /// returns the frames and bytes this completed.
    fn advance(&mut self, n: usize) -> (u32, usize) {
        let (before, start) = (self.done, self.frames.end_of(self.done));
        self.pos += n;
        while self
            .frames
            .ends
            .get(self.done)
            .is_some_and(|&e| e as usize <= self.pos)
        {
            self.done += 1;
        }
        let end = self.frames.end_of(self.done);
        ((self.done - before) as u32, end - start)
    }
}

/// What an entry writes.
#[derive(Debug)]
enum Body {
    /// One frame, as encoded: its parts are handed to the writer uncopied.
    Frame(EncodedFrame),
    /// Untracked frames packed back to back, all due at `deadline`; `pos`
    /// bytes are written.
    Packed(Run),
}

impl Body {
    fn len(&self) -> usize {
        match self {
            Body::Frame(frame) => frame.len(),
            Body::Packed(run) => run.frames.len() - run.pos,
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn chunk(&self) -> &[u8] {
        match self {
            Body::Frame(frame) => frame.chunk(),
            Body::Packed(run) => &run.frames.buf[run.pos..],
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        match self {
            Body::Frame(frame) => frame.chunks_vectored(dst),
            Body::Packed(run) => match dst.first_mut() {
                // Never empty: a run has a frame when queued and leaves the
                // queue once written to its end.
                Some(slot) => {
                    debug_assert!(run.pos < run.frames.len());
                    *slot = IoSlice::new(&run.frames.buf[run.pos..]);
                    1
                }
                None => 0,
            },
        }
    }
}

/// Frames waiting for the socket, in the order they will be written.
///
/// An untracked frame of at most [`PACK_FRAME_MAX`] bytes is copied onto the
/// back entry when that entry is a packed run nobody has started writing,
/// due at the very same instant (sends of one turn, at one `now`), and room
/// under [`PACK_RUN_MAX`]; otherwise it starts a new run. A run is one entry:
/// one slice for the writer and one deadline in the index. A write that ends
/// inside a run completes the frames it covered, in one outcome record; the
/// run is then started, so none of its frames expires any more (a started
/// frame is never cut) and it takes no more frames. Packing never reorders
/// frames and never moves a deadline: every frame in a run has the run's.
///
/// This is the one place small frames are coalesced; the writer hands the
/// slices to the kernel as they are. Measured against copying runs of
/// small slices together at write time instead (echo_server, one worker,
/// callgrind over a 5 s netbench run): 64-byte echo, 50 connections,
/// pipeline 16: ~820 instructions per frame here against ~1100; 64-byte
/// fan-out to 100 subscribers: ~495 against ~740; 4 KiB echo: equal.
///
/// The packing rule compares deadline *instants*, not lanes: a default
/// deadline (`InOrder(t)`) and an override (`Any(t)`) due at the same `t`
/// share a run. This is safe because a run is indexed once, when it is
/// created, in its first frame's lane at `t`; frames that join it add no
/// index entry, so the `InOrder` lane stays sorted (nothing is pushed to
/// it), and both lanes expire by instant, so the run's single entry expires
/// every frame in it exactly at `t`, which is each frame's own deadline.
///
/// Deadlines are indexed in two lanes. Default-timeout deadlines arrive in
/// non-decreasing order, so a FIFO holds them sorted and its front is the
/// earliest: O(1) per frame. Per-send overrides go to a binary heap (O(log n)
/// per push and pop). A frame leaves the index once its first byte is
/// written (a started frame is never cut): the FIFO pops it at once, the heap
/// when it surfaces. Both fronts are therefore live after every mutation, and
/// [`earliest_deadline`](SendQueue::earliest_deadline) compares two fronts:
/// O(1). Expiring a frame behind the front costs a binary search and a
/// `VecDeque::remove`: O(n) in the worst case, O(1) when every send uses the
/// default deadline, since those expire from the front. The heap is compacted
/// when stale entries outnumber live frames, so its size stays O(queue
/// length).
#[derive(Debug, Default)]
pub(super) struct SendQueue {
    entries: VecDeque<Entry>,
    /// Frames over all entries (a packed run counts each of its frames).
    frames: usize,
    /// Unwritten bytes over all entries.
    bytes: usize,
    next_seq: u64,
    /// Whether the front entry has had bytes written.
    front_started: bool,
    /// Every entry with `seq <= started_upto` has started (or left the queue);
    /// index entries at or below it are stale.
    started_upto: Option<u64>,
    in_order: VecDeque<(Instant, u64)>,
    any_order: BinaryHeap<Reverse<(Instant, u64)>>,
    /// The memory of a run already written (empty, maybe allocated), for
    /// the next run: a session sending steadily allocates none.
    spare: PackedFrames,
    /// Whether written runs' memory is kept in `spare` at all.
    keep_spare: bool,
}

impl SendQueue {
    /// An empty queue; `keep_spare`: reuse written runs' memory.
    pub(super) fn new(keep_spare: bool) -> Self {
        SendQueue {
            keep_spare,
            ..SendQueue::default()
        }
    }

    /// Frames in the queue, the partly written one included.
    pub(super) fn len(&self) -> usize {
        self.frames
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Unwritten bytes.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Appends a frame. An empty frame that lands at the front completes at
    /// once (`Sent` through `done`), since there is nothing to write.
    pub(super) fn push(
        &mut self,
        tag: Tag,
        frame: EncodedFrame,
        deadline: Deadline,
        done: impl FnMut(Tag, SendOutcome),
    ) {
        self.push_body(tag, Body::Frame(frame), deadline, done);
    }

    /// Appends an untracked frame: packed with the frames before it where
    /// the rules in the type's docs allow, else queued as it is.
    pub(super) fn push_untracked(
        &mut self,
        frame: EncodedFrame,
        deadline: Deadline,
        done: impl FnMut(Tag, SendOutcome),
    ) {
        let len = frame.len();
        if len == 0 || len > PACK_FRAME_MAX {
            let tag = Tag::Untracked {
                frames: 1,
                bytes: len,
            };
            return self.push(tag, frame, deadline, done);
        }
        let Ok(()) = self.pack(
            len,
            deadline,
            |buf| {
                frame.copy_into(buf);
                Ok::<(), std::convert::Infallible>(())
            },
            done,
        );
    }

    /// Queues the small frame `write` appends (`len` bytes, 1 to
    /// [`PACK_FRAME_MAX`], as its codec's `encoded_len` says) untracked:
    /// onto the back entry if that is a run nobody has started writing, due
    /// at `deadline`, with room for it; else as a new run. `write` is called
    /// exactly once; when it fails, nothing is queued.
    pub(super) fn pack<E>(
        &mut self,
        len: usize,
        deadline: Deadline,
        write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
        done: impl FnMut(Tag, SendOutcome),
    ) -> Result<(), E> {
        debug_assert!(len != 0 && len <= PACK_FRAME_MAX, "not a small frame");
        if let Some(Entry {
            tag: Tag::Untracked { frames, bytes },
            body: Body::Packed(run),
            ..
        }) = self.entries.back_mut()
        {
            if run.pos == 0 && run.due == deadline.due() && run.frames.has_room(len) {
                let n = run.frames.push_with(write)?;
                debug_assert_eq!(n, len, "encoded_len disagrees with the encoding");
                // A run holds at most PACK_RUN_MAX bytes: its frame count fits.
                *frames += 1;
                *bytes += n;
                self.frames += 1;
                self.bytes += n;
                return Ok(());
            }
        }
        let mut run = std::mem::take(&mut self.spare);
        match run.push_with(write) {
            Ok(n) => {
                debug_assert_eq!(n, len, "encoded_len disagrees with the encoding");
                self.push_run(run, deadline, done);
                Ok(())
            }
            Err(e) => {
                self.recycle(run);
                Err(e)
            }
        }
    }

    /// Keeps `frames`' memory (its frames are dropped) for the next run,
    /// unless memory is already kept or it grew past a run's usual size.
    /// (A run that leaves the queue always holds memory: it had a frame.)
    fn recycle(&mut self, mut frames: PackedFrames) {
        if self.keep_spare && self.spare.capacity() == 0 && frames.fits_spare() {
            frames.clear();
            self.spare = frames;
        }
    }

    /// Whether memory is kept for the next run.
    pub(super) fn holds_spare(&self) -> bool {
        self.spare.capacity() > 0
    }

    /// Takes `spare`'s run memory for the next run when none is kept.
    pub(super) fn borrow_spare(&mut self, spare: &mut PackedFrames) {
        if self.spare.capacity() == 0 {
            std::mem::swap(&mut self.spare, spare);
        }
    }

    /// Moves the memory kept for the next run into `spare` when that holds
    /// none, and frees it otherwise: the queue keeps none.
    pub(super) fn return_spare(&mut self, spare: &mut PackedFrames) {
        if spare.capacity() == 0 {
            std::mem::swap(&mut self.spare, spare);
        }
        self.release_spare();
    }

    /// Frees the memory kept for the next run.
    pub(super) fn release_spare(&mut self) {
        self.spare = PackedFrames::default();
    }

    /// Queues `frames` as a new run.
    fn push_run(
        &mut self,
        frames: PackedFrames,
        deadline: Deadline,
        done: impl FnMut(Tag, SendOutcome),
    ) {
        let tag = Tag::Untracked {
            frames: frames.frames() as u32,
            bytes: frames.len(),
        };
        let run = Run {
            frames,
            pos: 0,
            done: 0,
            due: deadline.due(),
        };
        self.push_body(tag, Body::Packed(run), deadline, done);
    }

    fn push_body(
        &mut self,
        tag: Tag,
        body: Body,
        deadline: Deadline,
        done: impl FnMut(Tag, SendOutcome),
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        match deadline {
            Deadline::None => {}
            Deadline::InOrder(at) => {
                debug_assert!(self.in_order.back().is_none_or(|&(last, _)| last <= at));
                self.in_order.push_back((at, seq));
            }
            Deadline::Any(at) => self.any_order.push(Reverse((at, seq))),
        }
        self.bytes += body.len();
        self.frames += tag.frames();
        self.entries.push_back(Entry { seq, tag, body });
        self.settle_front(done);
    }

    /// The first contiguous run of unwritten bytes (empty if none).
    pub(super) fn chunk(&self) -> &[u8] {
        self.entries.front().map_or(&[], |e| e.body.chunk())
    }

    /// Fills `dst` with the unwritten bytes of as many frames as fit, in order.
    pub(super) fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for entry in &self.entries {
            if n == dst.len() {
                break;
            }
            n += entry.body.chunks_vectored(&mut dst[n..]);
        }
        n
    }

    /// Marks `n` bytes as written, reporting each frame completed (`Sent`)
    /// through `done`, in order. The caller checks `n <= self.bytes()`.
    pub(super) fn advance(&mut self, mut n: usize, mut done: impl FnMut(Tag, SendOutcome)) {
        debug_assert!(n <= self.bytes);
        while n > 0 {
            if !self.front_started {
                let Some(seq) = self.entries.front().map(|e| e.seq) else {
                    break;
                };
                self.front_started = true;
                self.mark_started(seq);
            }
            let Some(front) = self.entries.front_mut() else {
                break;
            };
            let left = front.body.len();
            if n < left {
                self.bytes -= n;
                match &mut front.body {
                    Body::Frame(frame) => frame.advance(n),
                    Body::Packed(run) => {
                        let (frames, bytes) = run.advance(n);
                        if let (
                            Tag::Untracked {
                                frames: f,
                                bytes: b,
                            },
                            1..,
                        ) = (&mut front.tag, frames)
                        {
                            *f -= frames;
                            *b -= bytes;
                            self.frames -= frames as usize;
                            done(Tag::Untracked { frames, bytes }, SendOutcome::Sent);
                        }
                    }
                }
                return;
            }
            n -= left;
            self.bytes -= left;
            let tag = front.tag;
            self.pop_front();
            done(tag, SendOutcome::Sent);
            self.settle_front(&mut done);
        }
    }

    /// The earliest deadline of a frame not yet started.
    pub(super) fn earliest_deadline(&self) -> Option<Instant> {
        self.earliest().map(|(at, _)| at)
    }

    /// Removes every unstarted frame whose deadline is at or before `now`,
    /// earliest deadline first, reporting each as `TimedOut` through `done`
    /// (and, as `Sent`, an empty frame that the removal brought to the front).
    pub(super) fn expire(&mut self, now: Instant, mut done: impl FnMut(Tag, SendOutcome)) {
        while let Some((at, seq)) = self.earliest() {
            if at > now {
                break;
            }
            if self.in_order.front() == Some(&(at, seq)) {
                self.in_order.pop_front();
            } else {
                self.any_order.pop();
            }
            // `seq` is unstarted (started ones are pruned), so it is queued.
            if let Ok(index) = self.entries.binary_search_by_key(&seq, |e| e.seq) {
                if let Some(entry) = self.entries.remove(index) {
                    self.bytes -= entry.body.len();
                    self.frames -= entry.tag.frames();
                    done(entry.tag, SendOutcome::Failed(SendFailure::TimedOut));
                }
                if index == 0 {
                    self.settle_front(&mut done);
                }
            }
            self.prune();
        }
    }

    /// Empties the queue, reporting every frame in order as `Closed`.
    pub(super) fn drain(&mut self, mut done: impl FnMut(Tag, SendOutcome)) {
        for entry in self.entries.drain(..) {
            done(entry.tag, SendOutcome::Failed(SendFailure::Closed));
        }
        self.bytes = 0;
        self.frames = 0;
        self.front_started = false;
        self.in_order.clear();
        self.any_order.clear();
        self.release_spare();
    }

    fn earliest(&self) -> Option<(Instant, u64)> {
        let a = self.in_order.front().copied();
        let b = self.any_order.peek().map(|r| r.0);
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn pop_front(&mut self) {
        if let Some(entry) = self.entries.pop_front() {
            self.frames -= entry.tag.frames();
            if let Body::Packed(run) = entry.body {
                self.recycle(run.frames);
            }
        }
        self.front_started = false;
    }

    /// Completes empty frames that reached the front: nothing to write.
    fn settle_front(&mut self, mut done: impl FnMut(Tag, SendOutcome)) {
        while let Some(front) = self.entries.front() {
            if !front.body.is_empty() {
                break;
            }
            let (seq, tag) = (front.seq, front.tag);
            self.mark_started(seq);
            self.pop_front();
            done(tag, SendOutcome::Sent);
        }
    }

    fn mark_started(&mut self, seq: u64) {
        self.started_upto = Some(seq);
        self.prune();
    }

    /// Drops index entries of frames that have started, so both fronts are
    /// live; compacts the heap when stale entries dominate it.
    fn prune(&mut self) {
        let Some(upto) = self.started_upto else {
            return;
        };
        while self.in_order.front().is_some_and(|&(_, seq)| seq <= upto) {
            self.in_order.pop_front();
        }
        while self.any_order.peek().is_some_and(|r| r.0 .1 <= upto) {
            self.any_order.pop();
        }
        if self.any_order.len() > 2 * self.entries.len() + 16 {
            self.any_order.retain(|r| r.0 .1 > upto);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;

    #[allow(clippy::disallowed_methods)] // an arbitrary origin: tests only add durations to it
    fn t0() -> Instant {
        Instant::now()
    }

    fn frame(body: &'static [u8]) -> EncodedFrame {
        EncodedFrame::new(&[body.len() as u8], Bytes::from_static(body), Bytes::new())
    }

    /// Queues a tracked send whose immediate outcomes (none for a non-empty
    /// frame) are not looked at.
    fn push(q: &mut SendQueue, id: u64, frame: EncodedFrame, deadline: Deadline) {
        q.push(Tag::Tracked(SendId(id)), frame, deadline, |_, _| {});
    }

    fn ids(v: &[(Tag, SendOutcome)]) -> Vec<u64> {
        v.iter()
            .map(|(tag, _)| match tag {
                Tag::Tracked(id) => id.get(),
                _ => u64::MAX,
            })
            .collect()
    }

    #[test]
    fn chunks_vectored_spans_frames_and_stops_when_dst_is_full() {
        let mut q = SendQueue::default();
        push(&mut q, 0, frame(b"ab"), Deadline::None);
        push(&mut q, 1, frame(b"cd"), Deadline::None);
        let mut dst = [IoSlice::new(&[]); 3];
        assert_eq!(q.chunks_vectored(&mut dst), 3);
        let joined: Vec<u8> = dst.iter().flat_map(|s| s.iter().copied()).collect();
        assert_eq!(joined, b"\x02ab\x02");
    }

    #[test]
    fn advance_mid_header_keeps_the_frame_and_completes_in_order() {
        let mut q = SendQueue::default();
        let mut done = Vec::new();
        push(&mut q, 0, frame(b"ab"), Deadline::None);
        push(&mut q, 1, frame(b"c"), Deadline::None);
        q.advance(1, |id, o| done.push((id, o))); // just the first header byte
        assert!(done.is_empty());
        assert_eq!(q.bytes(), 4);
        assert_eq!(q.chunk(), b"ab");
        q.advance(4, |id, o| done.push((id, o)));
        assert_eq!(ids(&done), [0, 1]);
        assert!(q.is_empty());
    }

    #[test]
    fn override_deadlines_out_of_order_expire_earliest_first_and_leave_others() {
        let now = t0();
        let s = Duration::from_secs;
        let mut q = SendQueue::default();
        push(&mut q, 0, frame(b"a"), Deadline::InOrder(now + s(5)));
        push(&mut q, 1, frame(b"b"), Deadline::Any(now + s(9)));
        push(&mut q, 2, frame(b"c"), Deadline::Any(now + s(1)));
        push(&mut q, 3, frame(b"d"), Deadline::InOrder(now + s(5)));
        assert_eq!(q.earliest_deadline(), Some(now + s(1)));
        let mut gone = Vec::new();
        q.expire(now + s(5), |id, o| gone.push((id, o)));
        assert!(gone
            .iter()
            .all(|&(_, o)| o == SendOutcome::Failed(SendFailure::TimedOut)));
        assert_eq!(ids(&gone), [2, 0, 3]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.bytes(), 2);
        assert_eq!(q.earliest_deadline(), Some(now + s(9)));
    }

    #[test]
    fn a_started_frame_leaves_the_deadline_index() {
        let now = t0();
        let mut q = SendQueue::default();
        push(&mut q, 0, frame(b"ab"), Deadline::Any(now));
        q.advance(1, |_, _| {});
        assert_eq!(q.earliest_deadline(), None);
        let mut gone = Vec::new();
        q.expire(now + Duration::from_secs(60), |id, o| gone.push((id, o)));
        assert!(gone.is_empty());
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn empty_frames_complete_when_they_reach_the_front() {
        let now = t0();
        let mut q = SendQueue::default();
        let mut done = Vec::new();
        q.push(
            Tag::Tracked(SendId(0)),
            frame(b"a"),
            Deadline::Any(now),
            |id, o| done.push((id, o)),
        );
        q.push(
            Tag::Tracked(SendId(1)),
            EncodedFrame::contiguous(Bytes::new()),
            Deadline::None,
            |id, o| done.push((id, o)),
        );
        assert!(done.is_empty());
        q.expire(now, |id, o| done.push((id, o)));
        assert_eq!(ids(&done), [0, 1]);
        assert_eq!(done[1].1, SendOutcome::Sent);
        assert!(q.is_empty());
        q.push(
            Tag::Tracked(SendId(2)),
            EncodedFrame::contiguous(Bytes::new()),
            Deadline::None,
            |id, o| done.push((id, o)),
        );
        assert_eq!(ids(&done), [0, 1, 2]);
    }

    fn untracked(q: &mut SendQueue, frame: EncodedFrame, deadline: Deadline) {
        q.push_untracked(frame, deadline, |_, _| {});
    }

    fn sized(len: usize) -> EncodedFrame {
        EncodedFrame::contiguous(Bytes::from(vec![b'x'; len]))
    }

    fn slices(q: &SendQueue) -> Vec<Vec<u8>> {
        let mut dst = [IoSlice::new(&[]); 16];
        let n = q.chunks_vectored(&mut dst);
        dst[..n].iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn small_untracked_frames_with_one_deadline_pack_into_one_slice() {
        let now = t0();
        let later = now + Duration::from_secs(1);
        let mut q = SendQueue::default();
        untracked(&mut q, frame(b"ab"), Deadline::InOrder(now));
        untracked(&mut q, frame(b"c"), Deadline::InOrder(now));
        assert_eq!(slices(&q), [b"\x02ab\x01c".to_vec()]);
        // Another deadline, a tracked send, a large frame: each starts anew.
        untracked(&mut q, frame(b"d"), Deadline::InOrder(later));
        push(&mut q, 7, frame(b"e"), Deadline::InOrder(later));
        untracked(&mut q, frame(b"f"), Deadline::InOrder(later));
        untracked(&mut q, sized(PACK_FRAME_MAX + 1), Deadline::InOrder(later));
        untracked(&mut q, frame(b"g"), Deadline::InOrder(later));
        let got = slices(&q);
        assert_eq!(got.len(), 7, "{got:?}");
        assert_eq!(got[1], b"\x01d");
        // The tracked frame is its header and body; the large one, uncopied.
        assert_eq!(got[2..4], [b"\x01".to_vec(), b"e".to_vec()]);
        assert_eq!(got[5].len(), PACK_FRAME_MAX + 1);
        assert_eq!(q.len(), 7);
        assert_eq!(q.bytes(), 5 + 2 + 2 + 2 + PACK_FRAME_MAX + 1 + 2);
    }

    #[test]
    fn a_default_and_an_override_deadline_at_one_instant_share_a_run_and_expire_together() {
        let now = t0();
        let at = now + Duration::from_secs(1);
        let mut q = SendQueue::default();
        // Either lane first: the run is indexed once, in its first frame's lane.
        untracked(&mut q, frame(b"a"), Deadline::InOrder(at));
        untracked(&mut q, frame(b"b"), Deadline::Any(at));
        untracked(
            &mut q,
            frame(b"c"),
            Deadline::Any(at + Duration::from_secs(1)),
        );
        untracked(
            &mut q,
            frame(b"d"),
            Deadline::InOrder(at + Duration::from_secs(1)),
        );
        assert_eq!(slices(&q), [b"\x01a\x01b".to_vec(), b"\x01c\x01d".to_vec()]);
        assert_eq!((q.in_order.len(), q.any_order.len()), (1, 1));
        // Later default deadlines still go in order into the FIFO.
        untracked(
            &mut q,
            sized(PACK_FRAME_MAX + 1),
            Deadline::InOrder(at + Duration::from_secs(2)),
        );
        let mut done = Vec::new();
        q.expire(at, |tag, o| done.push((tag, o)));
        let two = Tag::Untracked {
            frames: 2,
            bytes: 4,
        };
        assert_eq!(done, [(two, SendOutcome::Failed(SendFailure::TimedOut))]);
        q.expire(at + Duration::from_secs(1), |tag, o| done.push((tag, o)));
        assert_eq!(done[1], (two, SendOutcome::Failed(SendFailure::TimedOut)));
        assert_eq!(q.len(), 1);
        assert_eq!(q.earliest_deadline(), Some(at + Duration::from_secs(2)));
    }

    #[test]
    fn a_run_is_closed_once_full() {
        let mut q = SendQueue::default();
        let each = PACK_FRAME_MAX;
        for _ in 0..PACK_RUN_MAX / each + 1 {
            untracked(&mut q, sized(each), Deadline::None);
        }
        let got = slices(&q);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), PACK_RUN_MAX);
        assert_eq!(got[1].len(), each);
    }

    #[test]
    fn a_write_inside_a_run_completes_the_frames_it_covered_and_seals_the_run() {
        let now = t0();
        let mut q = SendQueue::default();
        for body in [&b"ab"[..], b"cd", b"ef"] {
            untracked(&mut q, frame(body), Deadline::InOrder(now));
        }
        let mut done = Vec::new();
        // The first frame and a byte of the second.
        q.advance(4, |tag, o| done.push((tag, o)));
        let one = Tag::Untracked {
            frames: 1,
            bytes: 3,
        };
        assert_eq!(done, [(one, SendOutcome::Sent)]);
        assert_eq!((q.len(), q.bytes()), (2, 5));
        // Started: it no longer expires, and a new frame starts a new run.
        q.expire(now, |tag, o| done.push((tag, o)));
        assert_eq!(done.len(), 1);
        untracked(&mut q, frame(b"g"), Deadline::InOrder(now));
        assert_eq!(slices(&q), [b"cd\x02ef".to_vec(), b"\x01g".to_vec()]);
        q.advance(5, |tag, o| done.push((tag, o)));
        let two = Tag::Untracked {
            frames: 2,
            bytes: 6,
        };
        assert_eq!(done[1], (two, SendOutcome::Sent));
        assert_eq!((q.len(), q.bytes()), (1, 2));
    }

    #[test]
    fn an_unstarted_run_expires_whole_and_a_dropped_one_reports_what_is_left() {
        let now = t0();
        let mut q = SendQueue::default();
        untracked(&mut q, frame(b"a"), Deadline::InOrder(now));
        untracked(&mut q, frame(b"b"), Deadline::InOrder(now));
        let mut done = Vec::new();
        q.expire(now, |tag, o| done.push((tag, o)));
        let both = Tag::Untracked {
            frames: 2,
            bytes: 4,
        };
        assert_eq!(done, [(both, SendOutcome::Failed(SendFailure::TimedOut))]);
        assert!(q.is_empty());
        for body in [&b"ab"[..], b"c", b"d"] {
            untracked(&mut q, frame(body), Deadline::None);
        }
        q.advance(3, |tag, o| done.push((tag, o)));
        q.drain(|tag, o| done.push((tag, o)));
        let rest = Tag::Untracked {
            frames: 2,
            bytes: 4,
        };
        assert_eq!(done[2], (rest, SendOutcome::Failed(SendFailure::Closed)));
        assert_eq!((q.len(), q.bytes()), (0, 0));
    }

    #[test]
    fn stale_override_entries_are_compacted() {
        // Frames written while a later frame with an earlier deadline sits at
        // the top of the heap leave stale entries buried under it.
        let now = t0();
        let mut q = SendQueue::default();
        for i in 0..1000 {
            let at = now + Duration::from_secs(3600 + i);
            push(&mut q, i, frame(b"x"), Deadline::Any(at));
        }
        push(&mut q, 1000, frame(b"y"), Deadline::Any(now));
        q.advance(2 * 1000, |_, _| {});
        assert_eq!(q.len(), 1);
        assert!(
            q.any_order.len() <= 2 + 16,
            "{} index entries",
            q.any_order.len()
        );
        assert_eq!(q.earliest_deadline(), Some(now));
    }
}
