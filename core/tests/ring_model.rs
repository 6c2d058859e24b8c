//! `BroadcastRing` against a reference model over random sequences of
//! publish, subscribe, read (with a reader that fills up after k frames),
//! park and unsubscribe, with random frame and byte bounds.
//!
//! Checked after every operation: each read delivers exactly the frames the
//! model says, in order, and counts exactly the frames the reader missed;
//! a publish wakes exactly the readers parked since the previous publish,
//! each once; a reader parks only when it has nothing unread; the ring never
//! holds more than its bounds (beyond the one newest frame).

use bytes::Bytes;
use castnet_core::hub::{BroadcastRing, RingCursor};
use proptest::prelude::*;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
enum Op {
    Publish(usize),
    Subscribe,
    /// Reader (index into the live ones), and how many frames it accepts.
    Read(usize, usize),
    Park(usize),
    Unsubscribe(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..40).prop_map(Op::Publish),
        2 => Just(Op::Subscribe),
        4 => (0usize..8, 0usize..6).prop_map(|(r, k)| Op::Read(r, k)),
        3 => (0usize..8).prop_map(Op::Park),
        1 => (0usize..8).prop_map(Op::Unsubscribe),
    ]
}

struct Reader {
    id: u32,
    cursor: RingCursor,
    /// The model's position: sequence number of the next frame.
    next: u64,
}

proptest! {
    #[test]
    fn ring_matches_the_reference_model(
        max_frames in 1usize..6,
        max_bytes in 0usize..100,
        ops in prop::collection::vec(op(), 0..120),
    ) {
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
                    prop_assert_eq!(seq, all.len() as u64 - 1);
                    let woken_set: BTreeSet<u32> = woken.iter().copied().collect();
                    prop_assert_eq!(woken.len(), woken_set.len(), "a reader woken twice");
                    prop_assert_eq!(&woken_set, &parked);
                    parked.clear();
                    prop_assert_eq!(ring.len(), all.len() - first);
                    prop_assert_eq!(ring.bytes(), bytes(first));
                }
                Op::Subscribe => {
                    readers.push(Reader { id: next_id, cursor: ring.subscribe(), next: all.len() as u64 });
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
                    let from = (reader.next as usize).max(first);
                    let missed = from as u64 - reader.next;
                    let to = (from + k).min(all.len());
                    prop_assert_eq!(&got[..], &all[from..to]);
                    prop_assert_eq!(read.delivered, to - from);
                    prop_assert_eq!(read.missed, missed);
                    reader.next = to as u64;
                    prop_assert_eq!(reader.cursor.position(), reader.next);
                }
                Op::Park(r) if !readers.is_empty() => {
                    let n = readers.len();
                    let reader = &mut readers[r % n];
                    let unread = (reader.next as usize) < all.len();
                    let did = ring.park(&mut reader.cursor, reader.id);
                    prop_assert_eq!(did, !unread);
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
            prop_assert_eq!(ring.parked(), parked.len());
            prop_assert!(ring.len() <= max_frames);
            prop_assert!(ring.len() <= 1 || ring.bytes() <= max_bytes);
        }
    }
}
