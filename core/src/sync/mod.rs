//! Shared state that runtimes put between a connection's owner and the handles
//! that feed it: admission to a session's bounded send queue.
//!
//! This module holds plain atomics only: no locks that block, no IO, no
//! clocks. Its types are model-checked with loom (`--cfg castnet_loom`).

mod quota;

pub use quota::{QueueBound, QuotaFull, SendQuota, MAX_QUEUE_BYTES, MAX_QUEUE_FRAMES};

#[cfg(not(castnet_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

#[cfg(castnet_loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
