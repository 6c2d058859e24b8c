//! The outbound queue: encoded frames in send order, their byte count, and an
//! index of send deadlines whose earliest entry is read in O(1).

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

/// Who learns how a queued frame ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tag {
    /// A send with an id: its outcome is reported as an event.
    Tracked(SendId),
    /// A send nobody waits on: counted, and its length (as queued) is added
    /// to the session's finished-untracked total.
    Untracked(usize),
    /// A heartbeat: counted, never reported.
    Heartbeat,
}

#[derive(Debug)]
struct Entry {
    /// Position in the queue, increasing; heartbeats have one too.
    seq: u64,
    tag: Tag,
    frame: EncodedFrame,
}

/// Frames waiting for the socket, in the order they will be written.
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
}

impl SendQueue {
    /// Frames in the queue, the partly written one included.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
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
        self.bytes += frame.len();
        self.entries.push_back(Entry { seq, tag, frame });
        self.settle_front(done);
    }

    /// The first contiguous run of unwritten bytes (empty if none).
    pub(super) fn chunk(&self) -> &[u8] {
        self.entries.front().map_or(&[], |e| e.frame.chunk())
    }

    /// Fills `dst` with the unwritten bytes of as many frames as fit, in order.
    pub(super) fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for entry in &self.entries {
            if n == dst.len() {
                break;
            }
            n += entry.frame.chunks_vectored(&mut dst[n..]);
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
            let left = front.frame.len();
            if n < left {
                front.frame.advance(n);
                self.bytes -= n;
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
                    self.bytes -= entry.frame.len();
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
        self.front_started = false;
        self.in_order.clear();
        self.any_order.clear();
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
        self.entries.pop_front();
        self.front_started = false;
    }

    /// Completes empty frames that reached the front: nothing to write.
    fn settle_front(&mut self, mut done: impl FnMut(Tag, SendOutcome)) {
        while let Some(front) = self.entries.front() {
            if !front.frame.is_empty() {
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
