//! Defensive limits, all pure with injected time: the inbound rate limiter
//! (token bucket) and connection admission (total and per peer IP).
//!
//! This module decides; it never closes sockets or sleeps. Sessions and
//! runtimes act on its answers.

mod conn;
mod rate;

pub use conn::{AdmitError, ConnectionCounter, ConnectionLimits, ConnectionPermit};
pub use rate::{Rate, RateExceeded, RateLimit, RateLimiter, RatePolicy, TokenBucket};
