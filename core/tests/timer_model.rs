//! `Timers` and `Ticker` against the reference model of
//! `support/timer_model.rs` over random sequences of one-shot and repeating
//! timers (zero delays and zero intervals included), cancellations (of live,
//! fired and cancelled ids), clears, time steps (some long enough to skip
//! many periods), full passes, passes from a mark whose callbacks arm timers
//! due at once, and ticker starts, stops and ticks with changing intervals,
//! in a table of random bound (zero included). Deterministic: time is
//! injected, nothing sleeps.
//!
//! Checked after every operation: scheduling succeeds or fails exactly as
//! the model says (full, zero interval); cancel returns the token exactly
//! for live timers; every pass serves exactly the due timers armed before
//! it, in deadline order with ties in arming order, each at most once, with
//! the deadline it fired for and the periods it skipped; which ids are live,
//! how many, the next deadline, and the ticker's next deadline.
//!
//! The fuzz target `timer_ops` runs the same model; its corpus seeds are
//! replayed here too.

#[path = "support/timer_model.rs"]
mod model;

use model::Op;
use proptest::prelude::*;
use std::fs;
use std::path::Path;

fn interval() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![1 => Just(None), 1 => Just(Some(0)), 6 => (1u64..40).prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u64..40, any::<u32>()).prop_map(|(d, t)| Op::After(d, t)),
        4 => (0u64..30, any::<u32>()).prop_map(|(d, t)| Op::Every(d, t)),
        2 => (0usize..10).prop_map(Op::Cancel),
        1 => Just(Op::Clear),
        5 => prop_oneof![8 => 0u64..30, 1 => 200u64..1000].prop_map(Op::Advance),
        3 => Just(Op::Expire),
        1 => Just(Op::Mark),
        3 => any::<u32>().prop_map(Op::PopAndArm),
        1 => interval().prop_map(Op::TickStart),
        2 => interval().prop_map(Op::Tick),
    ]
}

proptest! {
    #[test]
    fn timers_and_ticker_match_the_reference_model(
        max in 0usize..12,
        ops in prop::collection::vec(op(), 0..200),
    ) {
        model::run(max, ops);
    }
}

#[test]
fn timer_ops_fuzz_seeds_replay_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/timer_ops");
    let mut seeds = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
        {
            let (max, ops) = model::from_bytes(&fs::read(&path).unwrap(), 2_000);
            model::run(max, ops);
            seeds += 1;
        }
    }
    assert!(seeds > 0, "no seed-* file in {}", dir.display());
}
