//! # castnet-tests
//!
//! castnet's conformance suite: every scenario is written once, generic over
//! a [`TestRuntime`], and run as a `#[test]` on each runtime binding
//! (castnet-tokio, castnet-smol and castnet-std). A scenario uses only the engine's
//! API through the runtime's types (`castnet_engine::Server<T::Rt>`,
//! `castnet_engine::dial_with(&T::Rt::default(), ..)`, the [`Session`]
//! handle, [`Conn`] in handlers), so a runtime passes exactly when it gives
//! the engine what the engine's [`Runtime`] trait asks for.
//!
//! ## What it covers
//!
//! The scenario groups are named for what they prove
//! ([`scenarios`]): `echo` (TCP, Unix sockets, `async_send`), `faults`
//! (resets, half-close, hostile headers, clients that never read),
//! `broadcast` (reports, resends, detached broadcasts and the broadcast
//! ring), `channels`, `dial`, `handler` (callback order, close reasons,
//! panics, `REPORT_SENT`), `heartbeat` (real time, short intervals),
//! `limits`, `send` (`try_send`, `send`, `async_send` and every outcome, the
//! send quota), `server` (lifecycle, registry, counters, graceful stop),
//! `session` (`recv`, `process`, handles from many tasks), `typed` (`Json`,
//! `MsgPack`, `Xml` both ways, broadcasts serialised once, refusals),
//! `timers` (per-session timers and the server tick), `state`
//! (per-session handler state), `client` (close reasons a client sees, a
//! dialled session run by a handler), `quiet_heartbeat` (peer heartbeats
//! kept from the handler and `recv`), `churn` and
//! `socket_options` (process-wide descriptor state, in a test binary of
//! their own). `tests/backpressure.rs` holds the backpressure scenarios:
//! pipelined floods echoed with [`Conn::send`], clients that never read,
//! frames before a fatal decode error, and a channel relay burst; their
//! client halves are [`peers`], which castnet-examples also points at its
//! echo server processes.
//! `tests/ergonomics.rs` holds what a user meets first: the levels closed
//! sessions are logged at (captured by a `tracing` layer of its own), bind
//! errors that name the address, channel keys by reference, members in
//! join order.
//! `tests/tokio_only.rs` holds what only Tokio can do (tokio-util interop,
//! dropping a runtime under live sessions). `tests/runtime_pairs.rs` runs a
//! server on one runtime against clients on another,
//! `tests/std_blocking.rs` castnet-std's blocking calls, and
//! `tests/process.rs` the `churn` and `socket_options` groups.
//!
//! Every scenario runs under a hard bound ([`support::LIMIT`], enforced from
//! outside the runtime by [`support::run`]), talks to 127.0.0.1 only, stops
//! its servers and joins its threads. Raw peers (hostile, stalled,
//! half-closing) are blocking `std::net` sockets with timeouts, on threads
//! ([`raw`]), the same for every runtime. There are no sleeps in place of
//! events: where nothing can be awaited, [`support::wait_until`] polls a
//! condition within a bound.
//!
//! ## Running one runtime's tests
//!
//! Tests are named `<runtime>::<group>::<scenario>`:
//!
//! ```text
//! cargo test -p castnet-tests tokio::              # every scenario on Tokio
//! cargo test -p castnet-tests smol::faults::       # one group on smol
//! cargo test -p castnet-tests std::               # every scenario on castnet-std
//! cargo test -p castnet-tests -- --include-ignored # with the known failures
//! ```
//!
//! ## Adding a runtime
//!
//! 1. Implement [`TestRuntime`] for it in `src/rt.rs`: its engine
//!    [`Runtime`] type and a `block_on` (spawning, sleeping and timeouts are
//!    derived from the engine's `Runtime`).
//! 2. Add one line to [`conformance!`]:
//!    `$crate::__per_runtime! { myrt, $crate::rt::MyRt, $($groups)* }`.
//!
//! Every test file that invokes [`conformance!`] then runs on it too.
//!
//! [`Session`]: castnet_engine::Session
//! [`Conn`]: castnet_engine::Conn
//! [`Conn::send`]: castnet_engine::Conn::send
//! [`Runtime`]: castnet_engine::Runtime
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod peers;
pub mod raw;
pub mod rt;
#[allow(missing_docs)] // a scenario's name says what it proves
pub mod scenarios;
pub mod support;

pub use rt::{Smol, Std, TestRuntime, Tokio};

/// Instantiates scenarios as one `#[test]` per runtime.
///
/// Input: groups of scenario names, each group a module in scope at the
/// test file's root whose scenarios are `async fn name<T: TestRuntime>()`;
/// attributes before a name (`#[ignore = "why"]`) go on every runtime's
/// test. Output: `mod tokio { mod group { #[test] fn name() .. } }`, and
/// the same for every other runtime.
///
/// ```ignore
/// use castnet_tests::scenarios::*;
///
/// castnet_tests::conformance! {
///     echo { tcp_echo_returns_every_frame_in_order_including_empty_ones }
///     faults { #[ignore = "why"] some_scenario }
/// }
/// ```
#[macro_export]
macro_rules! conformance {
    ($($groups:tt)*) => {
        $crate::__per_runtime! { tokio, $crate::rt::Tokio, $($groups)* }
        $crate::__per_runtime! { smol, $crate::rt::Smol, $($groups)* }
        $crate::__per_runtime! { std, $crate::rt::Std, $($groups)* }
    };
}

/// One runtime's module of [`conformance!`]. The groups are looked up in
/// the invoking crate (`crate::$group`), on purpose.
#[doc(hidden)]
#[macro_export]
#[allow(clippy::crate_in_macro_def)]
macro_rules! __per_runtime {
    ($module:ident, $rt:ty, $($group:ident { $($(#[$attr:meta])* $name:ident),* $(,)? })*) => {
        mod $module {
            $(
                mod $group {
                    $(
                        #[test]
                        $(#[$attr])*
                        fn $name() {
                            $crate::support::run::<$rt, _>(crate::$group::$name::<$rt>);
                        }
                    )*
                }
            )*
        }
    };
}

/// The README's Rust examples, compiled as doctests so they cannot drift from
/// the API.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeExamples;

/// The Rust examples of `docs/`, compiled as doctests too.
#[doc = include_str!("../../docs/security-and-limits.md")]
#[cfg(doctest)]
pub struct DocsExamples;
