//! `timer_ops`: random sequences of `Timers` and `Ticker` operations
//! (one-shot and repeating timers, cancel, clear, time steps, full passes,
//! passes from a mark whose callbacks arm timers due at once, ticker starts
//! and ticks with changing intervals) against the reference model shared
//! with the proptest `core/tests/timer_model.rs`: no panic, and after every
//! step the timers served (ids, tokens, deadlines, skipped periods, order),
//! the refusals, the live ids and both next deadlines agree with the model.
//! The input layout is `from_bytes`'s, in the model file.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/support/timer_model.rs"]
mod model;

/// Longest operation sequence run per input, so one input stays fast.
const MAX_OPS: usize = 2_000;

fuzz_target!(|data: &[u8]| {
    let (max, ops) = model::from_bytes(data, MAX_OPS);
    model::run(max, ops);
});
