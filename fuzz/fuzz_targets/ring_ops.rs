//! `ring_ops`: random sequences of `BroadcastRing` operations (publish,
//! subscribe, read with a reader that fills up, leave, park, unsubscribe,
//! stall, time steps, publisher parking, pressure checks) against the
//! reference model shared with the proptest `core/tests/ring_model.rs`: no
//! panic, and after every step the frames delivered, the frames missed, the
//! readers and publishers woken, which readers are protected or stalled, the
//! pressure and the ring's size agree with the model.
//!
//! Input layout (every byte string is valid; a field past the end reads 0):
//! one byte for the frame bound (modulo 8, plus 1), one for the byte bound
//! (times 4), one for the slow-reader grace in milliseconds (modulo 64),
//! then operations, each one kind byte (modulo 10) followed by its fields,
//! one byte each: `Publish` a length (modulo 64), `Read` a reader and a
//! count (modulo 8), `Leave` a reader and an offset (modulo 8), `Park`,
//! `Unsubscribe` and `Stall` a reader, `Advance` milliseconds (modulo 32),
//! `ParkPublisher` a publisher; `Subscribe` and `Pressure` have none.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/support/ring_model.rs"]
mod model;

use model::Op;

/// Longest operation sequence run per input, so one input stays fast.
const MAX_OPS: usize = 2_000;

fuzz_target!(|data: &[u8]| {
    let mut bytes = data.iter().copied();
    let mut next = || bytes.next().unwrap_or(0);
    let max_frames = usize::from(next() % 8) + 1;
    let max_bytes = usize::from(next()) * 4;
    let grace_ms = u64::from(next() % 64);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && ops.len() * 2 < data.len() {
        ops.push(match next() % 10 {
            0 => Op::Publish(usize::from(next() % 64)),
            1 => Op::Subscribe,
            2 => Op::Read(usize::from(next()), usize::from(next() % 8)),
            3 => Op::Park(usize::from(next())),
            4 => Op::Leave(usize::from(next()), u64::from(next() % 8)),
            5 => Op::Unsubscribe(usize::from(next())),
            6 => Op::Stall(usize::from(next())),
            7 => Op::Advance(u64::from(next() % 32)),
            8 => Op::ParkPublisher(usize::from(next())),
            _ => Op::Pressure,
        });
    }
    model::run(max_frames, max_bytes, grace_ms, ops);
});
