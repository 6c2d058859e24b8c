//! One connection's protocol state: the send queue and its outcomes, send
//! deadlines, heartbeat and liveness, graceful close.
//!
//! This module owns every rule about a single connection. It never does IO
//! and never reads a clock: bytes and time come in through its methods.

mod outcome;

pub use outcome::{SendFailure, SendId, SendOutcome};
