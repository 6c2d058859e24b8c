//! proptest strategies shared by the round-trip tests of the length-prefixed
//! codecs (`packet_roundtrip.rs`, `varint_roundtrip.rs`).

use castnet_core::frame::{OversizePolicy, DEFAULT_MAX_FRAME_LEN};
use proptest::prelude::*;

/// Either oversize policy.
pub fn policy() -> impl Strategy<Value = OversizePolicy> {
    prop_oneof![Just(OversizePolicy::Fail), Just(OversizePolicy::Discard)]
}

/// Maxima up to `max_payload` (around the payload sizes), plus the extremes.
pub fn max(max_payload: usize) -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..=max_payload as u64,
        1 => Just(u64::MAX),
        1 => Just(DEFAULT_MAX_FRAME_LEN),
    ]
}

/// Read sizes, cycled over the stream; 0 is a wake-up with nothing to read.
pub fn reads() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0usize..=80, 0..16)
}
