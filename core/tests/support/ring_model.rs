//! The reference model of `BroadcastRing`, shared by the proptest
//! `core/tests/ring_model.rs` and the fuzz target `ring_ops`: a list of
//! every frame ever published, the index of the oldest one kept, and each
//! reader's position. [`run`] applies operations to the real ring and the
//! model side by side and panics at the first difference.

use bytes::Bytes;
use castnet_core::hub::{BroadcastRing, RingCursor};
use std::collections::BTreeSet;

/// One operation on the ring (and the model).
#[derive(Debug, Clone)]
pub enum Op {
    /// Publish a frame of this many bytes.
    Publish(usize),
    /// A new reader.
    Subscribe,
    /// Reader (index into the live ones, modulo), and how many frames it
    /// accepts before it is full.
    Read(usize, usize),
    /// The reader leaves at its position plus this offset
    /// (`RingCursor::leave_at`): it takes only frames published before.
    Leave(usize, u64),
    /// Park a reader (index modulo the live ones).
    Park(usize),
    /// A reader leaves (index modulo the live ones).
    Unsubscribe(usize),
}

struct Reader {
    id: u32,
    cursor: RingCursor,
    /// The model's position: sequence number of the next frame.
    next: u64,
    /// Where it left (`u64::MAX` while it follows).
    end: u64,
}

/// Runs `ops` on a ring bounded by `max_frames` (at least 1) and
/// `max_bytes`, checking it against the model after every operation.
/// Panics on the first difference.
pub fn run(max_frames: usize, max_bytes: usize, ops: Vec<Op>) {
    let mut ring: BroadcastRing<u32> = BroadcastRing::new(max_frames, max_bytes).unwrap();
    // Every frame ever published; the ring keeps `all[first..]`.
    let mut all: Vec<Bytes> = Vec::new();
    let mut first = 0usize;
    let mut readers: Vec<Reader> = Vec::new();
    let mut parked: BTreeSet<u32> = BTreeSet::new();
    let mut next_id = 0u32;

    for op in ops {
        match op {
            Op::Publish(len) => {
                let frame = Bytes::from(vec![all.len() as u8; len]);
                all.push(frame.clone());
                let bytes = |from: usize| all[from..].iter().map(Bytes::len).sum::<usize>();
                while all.len() - first > max_frames
                    || (bytes(first) > max_bytes && all.len() - first > 1)
                {
                    first += 1;
                }
                let mut woken = Vec::new();
                let seq = ring.publish(frame, &mut woken);
                assert_eq!(seq, all.len() as u64 - 1);
                let woken_set: BTreeSet<u32> = woken.iter().copied().collect();
                assert_eq!(woken.len(), woken_set.len(), "a reader woken twice");
                assert_eq!(&woken_set, &parked);
                parked.clear();
                assert_eq!(ring.len(), all.len() - first);
                assert_eq!(ring.bytes(), bytes(first));
            }
            Op::Subscribe => {
                readers.push(Reader {
                    id: next_id,
                    cursor: ring.subscribe(),
                    next: all.len() as u64,
                    end: u64::MAX,
                });
                next_id += 1;
            }
            Op::Read(r, k) if !readers.is_empty() => {
                let n = readers.len();
                let reader = &mut readers[r % n];
                let mut got = Vec::new();
                let read = ring.read(&mut reader.cursor, |f| {
                    if got.len() == k {
                        return false;
                    }
                    got.push(f.clone());
                    true
                });
                let next = reader.next as usize;
                let end = usize::try_from(reader.end).unwrap_or(usize::MAX);
                let from = if next < first {
                    first.min(end).max(next)
                } else {
                    next
                };
                let missed = (from - next) as u64;
                let to = (from + k).min(all.len()).min(end.max(from));
                assert_eq!(&got[..], &all[from..to]);
                assert_eq!(read.delivered, to - from);
                assert_eq!(read.missed, missed);
                reader.next = to as u64;
                assert_eq!(reader.cursor.position(), reader.next);
                assert_eq!(reader.cursor.is_done(), reader.next >= reader.end);
            }
            Op::Leave(r, offset) if !readers.is_empty() => {
                let n = readers.len();
                let reader = &mut readers[r % n];
                let at = reader.next + offset;
                reader.cursor.leave_at(at);
                reader.end = reader.end.min(at);
                assert_eq!(reader.cursor.is_done(), reader.next >= reader.end);
            }
            Op::Park(r) if !readers.is_empty() => {
                let n = readers.len();
                let reader = &mut readers[r % n];
                let unread = reader.next < (all.len() as u64).min(reader.end);
                let did = ring.park(&mut reader.cursor, reader.id);
                assert_eq!(did, !unread);
                if did {
                    parked.insert(reader.id);
                }
            }
            Op::Unsubscribe(r) if !readers.is_empty() => {
                let reader = readers.remove(r % readers.len());
                parked.remove(&reader.id);
                ring.unsubscribe(reader.cursor);
            }
            _ => {}
        }
        assert_eq!(ring.parked(), parked.len());
        assert!(ring.len() <= max_frames);
        assert!(ring.len() <= 1 || ring.bytes() <= max_bytes);
    }
}
