//! `BroadcastRing` against the reference model of `support/ring_model.rs`
//! over random sequences of publish, subscribe, read (with a reader that
//! fills up after k frames), leave, park and unsubscribe, with random frame and
//! byte bounds.
//!
//! Checked after every operation: each read delivers exactly the frames the
//! model says, in order, and counts exactly the frames the reader missed;
//! a publish wakes exactly the readers parked since the previous publish,
//! each once; a reader parks only when it has nothing unread; the ring never
//! holds more than its bounds (beyond the one newest frame).

#[path = "support/ring_model.rs"]
mod model;

use model::Op;
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..40).prop_map(Op::Publish),
        2 => Just(Op::Subscribe),
        4 => (0usize..8, 0usize..6).prop_map(|(r, k)| Op::Read(r, k)),
        1 => (0usize..8, 0u64..6).prop_map(|(r, e)| Op::Leave(r, e)),
        3 => (0usize..8).prop_map(Op::Park),
        1 => (0usize..8).prop_map(Op::Unsubscribe),
    ]
}

proptest! {
    #[test]
    fn ring_matches_the_reference_model(
        max_frames in 1usize..6,
        max_bytes in 0usize..100,
        ops in prop::collection::vec(op(), 0..120),
    ) {
        model::run(max_frames, max_bytes, ops);
    }
}
