//! The hub against a naive reference model, over random sequences of
//! register / remove / join / exit / kick / broadcast / outcome / forget /
//! endpoint / lifecycle operations. After every operation the answers and the
//! whole visible state (sessions, channels, reverse indexes, router, live
//! broadcasts and their reports) must agree.

#[path = "support/hub_model.rs"]
mod model;

use model::{Harness, Op};
use proptest::prelude::*;

fn op() -> impl Strategy<Value = Op> {
    let who = any::<u8>();
    prop_oneof![
        1 => any::<u8>().prop_map(|to| Op::SetState { to }),
        4 => any::<u8>().prop_map(|host| Op::Register { host }),
        2 => who.prop_map(|who| Op::Remove { who }),
        5 => (any::<u8>(), who).prop_map(|(ch, who)| Op::Join { ch, who }),
        2 => (any::<u8>(), who).prop_map(|(ch, who)| Op::Exit { ch, who }),
        2 => (any::<u8>(), who).prop_map(|(ch, who)| Op::Kick { ch, who }),
        1 => Just(Op::BroadcastEveryone),
        2 => any::<u8>().prop_map(|ch| Op::BroadcastChannel { ch }),
        1 => proptest::collection::vec(who, 0..6).prop_map(|who| Op::BroadcastList { who }),
        8 => (any::<u8>(), any::<u16>(), any::<u8>()).prop_map(|(which, slot, outcome)| Op::Outcome { which, slot, outcome }),
        1 => any::<u8>().prop_map(|which| Op::Forget { which }),
        2 => (any::<u8>(), any::<u8>(), who).prop_map(|(ty, no, who)| Op::RegisterEndpoint { ty, no, who }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(ty, no)| Op::UnregisterEndpoint { ty, no }),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(ty, no)| Op::Route { ty, no }),
    ]
}

/// Starts the hub first most of the time, so sequences spend their length on
/// a running hub rather than on refused registrations.
fn ops() -> impl Strategy<Value = (bool, Vec<Op>)> {
    (
        prop::bool::weighted(0.9),
        proptest::collection::vec(op(), 1..120),
    )
}

proptest! {
    #[test]
    fn hub_agrees_with_the_naive_model((start, ops) in ops()) {
        let mut harness = Harness::new();
        if start {
            harness.apply(&Op::SetState { to: 1 });
            harness.apply(&Op::SetState { to: 2 });
        }
        for op in &ops {
            harness.apply(op);
        }
    }
}
