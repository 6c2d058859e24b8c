//! `TokenBucket` against a reference written the obvious way: time as
//! nanoseconds since the start, the level as an exact rational (units of
//! 10^-9 token), refilled naively before every operation.

use castnet_core::limits::{Rate, TokenBucket};
use proptest::prelude::*;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
enum Op {
    /// Move time by this many nanoseconds (may be negative: time going back).
    Advance(i64),
    TryTake(u64),
    Take(u64),
    /// Ask for `available()` only: must not change anything.
    Peek,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (-50_000_000i64..2_000_000_000).prop_map(Op::Advance),
        3 => (0u64..8).prop_map(Op::TryTake),
        1 => (0u64..20).prop_map(Op::Take),
        1 => Just(Op::Peek),
    ]
}

/// The reference: a level in units, refilled from the last instant seen.
struct Reference {
    per_ns: i128,
    cap: i128,
    level: i128,
    last_ns: i128,
}

impl Reference {
    fn refill(&mut self, now_ns: i128) {
        if now_ns > self.last_ns {
            self.level = (self.level + (now_ns - self.last_ns) * self.per_ns).min(self.cap);
            self.last_ns = now_ns;
        }
    }
}

#[allow(clippy::disallowed_methods)] // an arbitrary origin: only durations are added to it
fn origin() -> Instant {
    Instant::now()
}

proptest! {
    #[test]
    fn token_bucket_matches_the_reference_and_never_exceeds_its_rate(
        per_sec in 1u64..50,
        burst in 1u64..10,
        with_debt in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..200),
    ) {
        const UNIT: i128 = 1_000_000_000;
        let base = origin();
        let mut bucket = TokenBucket::new(Rate::per_sec(per_sec).burst(burst), base).unwrap();
        // Refilled at every step, including the `Peek`s the other one skips:
        // refilling often must not drift from refilling rarely. That holds
        // while time only moves forward. Once it steps back, each bucket
        // clamps to the latest instant *it* has seen, so the pokes at the
        // instants between operations are skipped there: both then see the
        // same instants and must still agree.
        let mut poked = bucket.clone();
        let monotone = ops.iter().all(|op| !matches!(op, Op::Advance(d) if *d < 0));
        let mut model = Reference {
            per_ns: i128::from(per_sec),
            cap: i128::from(burst) * UNIT,
            level: i128::from(burst) * UNIT,
            last_ns: 0,
        };
        let mut now_ns: i128 = 0;
        // (instant, tokens) of every successful `try_take`, and of every `take`.
        let mut taken: Vec<(i128, i128)> = Vec::new();

        for op in ops {
            let now = base + Duration::from_nanos(now_ns.max(0) as u64);
            if monotone || !matches!(op, Op::Advance(_)) {
                let _ = poked.available(now);
            }
            match op {
                Op::Advance(d) => now_ns = (now_ns + i128::from(d)).max(0),
                Op::Peek => {
                    model.refill(now_ns);
                    let expected = (model.level.max(0) / UNIT) as u64;
                    prop_assert_eq!(bucket.available(now), expected);
                }
                Op::Take(n) if with_debt => {
                    model.refill(now_ns);
                    model.level -= i128::from(n) * UNIT;
                    taken.push((model.last_ns, i128::from(n)));
                    bucket.take(n, now);
                    poked.take(n, now);
                }
                Op::TryTake(n) | Op::Take(n) => {
                    model.refill(now_ns);
                    let cost = i128::from(n) * UNIT;
                    let expected = model.level >= cost;
                    if expected {
                        model.level -= cost;
                        taken.push((model.last_ns, i128::from(n)));
                    }
                    prop_assert_eq!(bucket.try_take(n, now), expected);
                    prop_assert_eq!(poked.try_take(n, now), expected);
                }
            }
            // `ready_at` is exact: the first nanosecond with enough tokens.
            for n in 0..=burst {
                let deficit = i128::from(n) * UNIT - model.level;
                let wait_ns = if deficit <= 0 { 0 } else { (deficit + model.per_ns - 1) / model.per_ns };
                let expected = base + Duration::from_nanos((model.last_ns + wait_ns) as u64);
                prop_assert_eq!(bucket.ready_at(n), Some(expected), "ready_at({})", n);
            }
            prop_assert_eq!(bucket.ready_at(burst + 1), None);
        }

        // Without debt (`take`), every window [a, b] between two charges
        // holds at most the burst plus what the rate refills in b - a: the
        // rate-limit property itself, independent of the representation.
        if !with_debt {
            for (i, &(start, _)) in taken.iter().enumerate() {
                let mut sum = 0;
                for &(at, n) in &taken[i..] {
                    sum += n * UNIT;
                    let allowed = i128::from(burst) * UNIT + (at - start) * i128::from(per_sec);
                    prop_assert!(sum <= allowed, "window {}..{} took {} > {}", start, at, sum, allowed);
                }
            }
        }
    }
}
