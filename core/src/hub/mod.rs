//! Server-side bookkeeping: the session registry, channels with kick, and
//! encode-once broadcast bookkeeping.
//!
//! This module owns which sessions exist and who is in which channel. It never
//! does IO, never touches a session's queue and never reads a clock.

mod id;

pub use id::SessionId;
