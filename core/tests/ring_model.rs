//! `BroadcastRing` against the reference model of `support/ring_model.rs`
//! over random sequences of publish, subscribe, read (with a reader that
//! fills up after k frames), leave, park, unsubscribe, stall, publisher
//! parking and pressure checks, with random time steps, random frame and
//! byte bounds and a random slow-reader grace.
//!
//! Checked after every operation: each read delivers exactly the frames the
//! model says, in order, and counts exactly the frames the reader missed; a
//! publish wakes exactly the readers parked since the previous publish, each
//! once; a reader parks only when it has nothing unread; frames a protected
//! reader has not taken are dropped only beyond the hard bounds; pressure is
//! reported exactly when the ring is over its soft bound for a protected
//! reader; a stalled reader is demoted exactly at its stall plus the grace;
//! parked publishers are handed back exactly when the pressure ends or a
//! reader newly stalls; the ring never holds more than its hard bounds
//! (beyond the one newest frame).

#[path = "support/ring_model.rs"]
mod model;

use model::Op;
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..40).prop_map(Op::Publish),
        2 => Just(Op::Subscribe),
        4 => (0usize..8, 0usize..6).prop_map(|(r, k)| Op::Read(r, k)),
        1 => (0usize..8, 0u64..6).prop_map(|(r, e)| Op::Leave(r, e)),
        2 => (0usize..8).prop_map(Op::Park),
        1 => (0usize..8).prop_map(Op::Unsubscribe),
        2 => (0usize..8).prop_map(Op::Stall),
        3 => (0u64..30).prop_map(Op::Advance),
        2 => (0usize..model::PUBLISHERS).prop_map(Op::ParkPublisher),
        1 => Just(Op::Pressure),
    ]
}

proptest! {
    #[test]
    fn ring_matches_the_reference_model(
        max_frames in 1usize..6,
        max_bytes in 0usize..100,
        grace_ms in 0u64..50,
        ops in prop::collection::vec(op(), 0..160),
    ) {
        model::run(max_frames, max_bytes, grace_ms, ops);
    }
}
