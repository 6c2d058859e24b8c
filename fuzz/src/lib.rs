//! castnet's fuzz targets, as plain functions over a byte string.
//!
//! Each `fuzz_targets/<name>.rs` is one line that hands libFuzzer's input to
//! [`targets`]`::<name>`; castnet-core's `tests/fuzz_corpus.rs` includes the
//! same modules with `#[path]` and replays every `corpus/<name>/seed-*` file
//! through the same function on stable, so a seed that once found a bug stays
//! a regression test without nightly.
//!
//! - [`harness`]: drives any decoder over arbitrary reads and checks the codec
//!   contract (no added or altered bytes, bounded capacity, progress, clean
//!   drain at end of stream, same meaning whatever the chunking).
//! - [`input`]: the byte layout of an input (configuration, reads, stream).
//! - [`targets`]: one function per target, with its configuration layout.
//!
//! Run one target with `cargo +nightly fuzz run <name> -- -max_total_time=30`
//! from this directory, or all of them with `smoke.sh`.
//!
//! This crate is for castnet's contributors: it is not published and is not
//! part of the workspace (cargo-fuzz needs nightly). Add a target here when
//! you add a decoder or a state machine with operation sequences to core;
//! when a run finds a crash, copy its input to `corpus/<name>/seed-<what>`
//! so that `cargo test -p castnet-core --test fuzz_corpus` (stable, in CI)
//! replays it from then on.

pub mod harness;
pub mod input;
pub mod targets;
