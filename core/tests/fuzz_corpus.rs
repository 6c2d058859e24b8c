//! Replays every seed of the fuzz corpus (`fuzz/corpus/<target>/seed-*`)
//! through its fuzz target on stable, with the very code libFuzzer runs: the
//! targets and their harness are included from `fuzz/src` with `#[path]`.

#[path = "../../fuzz/src/harness.rs"]
#[allow(dead_code)] // its proptest helpers serve the round-trip tests
mod harness;
#[path = "../../fuzz/src/input.rs"]
mod input;
#[path = "../../fuzz/src/targets/mod.rs"]
mod targets;

use std::collections::BTreeSet;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// A fuzz target's entry point.
type Target = fn(&[u8]);

/// Every fuzz target, by the name of its `fuzz_targets/<name>.rs`.
const TARGETS: &[(&str, Target)] = &[
    ("decode_packet", targets::decode_packet),
    ("decode_varint", targets::decode_varint),
    ("decode_length_field", targets::decode_length_field),
    ("decode_fixed", targets::decode_fixed),
    ("decode_delimiter", targets::decode_delimiter),
    ("decode_lines", targets::decode_lines),
    ("decode_raw", targets::decode_raw),
    ("decode_envelope", targets::decode_envelope),
    ("session_ops", targets::session_ops),
];

/// Fuzz targets whose logic still lives in their `fuzz_targets/<name>.rs`
/// (operation sequences against the hub, ring and timer models), so they
/// cannot be replayed here until it moves into `fuzz/src/targets`
/// (`timer_ops`'s seeds are replayed by `core/tests/timer_model.rs`).
const STANDALONE: &[&str] = &["hub_ops", "ring_ops", "timer_ops"];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn replay(target: &str) {
    let (_, run) = TARGETS.iter().find(|(name, _)| *name == target).unwrap();
    let dir = fuzz_dir().join("corpus").join(target);
    let mut seeds: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
        })
        .collect();
    seeds.sort();
    assert!(!seeds.is_empty(), "no seed-* file in {}", dir.display());
    let failed: Vec<String> = seeds
        .iter()
        .filter(|seed| {
            let data = fs::read(seed).unwrap();
            catch_unwind(AssertUnwindSafe(|| run(&data))).is_err()
        })
        .map(|seed| seed.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target} fails on {failed:#?}");
}

#[test]
fn decode_packet_seeds_replay_cleanly() {
    replay("decode_packet");
}

#[test]
fn decode_varint_seeds_replay_cleanly() {
    replay("decode_varint");
}

#[test]
fn decode_length_field_seeds_replay_cleanly() {
    replay("decode_length_field");
}

#[test]
fn decode_fixed_seeds_replay_cleanly() {
    replay("decode_fixed");
}

#[test]
fn decode_delimiter_seeds_replay_cleanly() {
    replay("decode_delimiter");
}

#[test]
fn decode_lines_seeds_replay_cleanly() {
    replay("decode_lines");
}

#[test]
fn decode_raw_seeds_replay_cleanly() {
    replay("decode_raw");
}

#[test]
fn decode_envelope_seeds_replay_cleanly() {
    replay("decode_envelope");
}

#[test]
fn session_ops_seeds_replay_cleanly() {
    replay("session_ops");
}

#[test]
fn every_fuzz_target_is_replayed_here() {
    let on_disk: BTreeSet<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let known: BTreeSet<String> = TARGETS
        .iter()
        .map(|(name, _)| *name)
        .chain(STANDALONE.iter().copied())
        .map(String::from)
        .collect();
    assert_eq!(on_disk, known, "every fuzz target needs a seed replay here");
}
