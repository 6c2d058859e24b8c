//! One connection's protocol state: the send queue and its outcomes, send
//! deadlines, heartbeat and liveness, the inbound rate limit, graceful close.
//!
//! This module owns every rule about a single connection, once, for every
//! runtime: [`Session`] is driven quinn-proto style (bytes and `now` in,
//! events, byte chunks and a deadline out). It never does IO, never reads a
//! clock, and never lets a peer make it panic or allocate without bound.

mod config;
mod event;
mod input;
mod machine;
mod outcome;
mod packed;
mod queue;
mod send;
mod spare;
mod stats;
mod timer;

#[cfg(test)]
mod tests;

pub use config::{SessionConfig, SessionConfigBuilder};
pub use event::{CloseReason, Event};
pub use machine::Session;
pub use outcome::{SendFailure, SendId, SendOutcome};
pub use send::{SendDeadline, SendError, UntrackedFinished};
pub use spare::SpareBuffers;
pub use stats::SessionStats;
