//! `hub_ops`: random sequences of hub operations (lifecycle, register,
//! remove, join, exit, kick, broadcasts, outcomes, forget, endpoints, routing)
//! against the naive model shared with the proptest
//! `core/tests/hub_model.rs`: no panic, and after every step every answer and
//! the whole visible state agree with the model.
//!
//! Input layout (every byte string is valid; a field past the end reads 0):
//! a sequence of operations, each one kind byte (taken modulo 14) followed by
//! its fields, one byte each (`Outcome`'s slot is two, little-endian;
//! `BroadcastList` has a count byte, modulo 8, then that many ids).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/support/hub_model.rs"]
mod model;

use model::Op;

/// A cursor that reads 0 past the end of the input.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(&b, r)| (b, r));
        self.0 = rest;
        first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn op(&mut self) -> Op {
        match self.u8() % 14 {
            0 => Op::SetState { to: self.u8() },
            1 => Op::Register { host: self.u8() },
            2 => Op::Remove { who: self.u8() },
            3 => Op::Join {
                ch: self.u8(),
                who: self.u8(),
            },
            4 => Op::Exit {
                ch: self.u8(),
                who: self.u8(),
            },
            5 => Op::Kick {
                ch: self.u8(),
                who: self.u8(),
            },
            6 => Op::BroadcastEveryone,
            7 => Op::BroadcastChannel { ch: self.u8() },
            8 => {
                let n = self.u8() % 8;
                Op::BroadcastList {
                    who: (0..n).map(|_| self.u8()).collect(),
                }
            }
            9 => Op::Outcome {
                which: self.u8(),
                slot: self.u16(),
                outcome: self.u8(),
            },
            10 => Op::Forget { which: self.u8() },
            11 => Op::RegisterEndpoint {
                ty: self.u8(),
                no: self.u8(),
                who: self.u8(),
            },
            12 => Op::UnregisterEndpoint {
                ty: self.u8(),
                no: self.u8(),
            },
            _ => Op::Route {
                ty: self.u8(),
                no: self.u8(),
            },
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Cursor(data);
    let mut harness = model::Harness::new();
    while !input.0.is_empty() {
        let op = input.op();
        harness.apply(&op);
    }
});
