#!/usr/bin/env bash
# Fuzz smoke test: runs every target that `cargo fuzz list` names for at most
# $FUZZ_SECONDS seconds each (default 30), starting from its corpus in
# corpus/<target>. Uses the nightly toolchain when rustup has one, otherwise
# stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs nightly-only rustc flags).
# Exits non-zero if any target fails to build, crashes, leaks, hangs or runs
# out of memory; the reproducer lands in artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-30}"
if command -v rustup >/dev/null && rustup toolchain list | grep -q '^nightly'; then
    cargo=(cargo +nightly)
    echo "fuzz smoke: nightly toolchain ($("${cargo[@]}" --version))"
else
    cargo=(cargo)
    export RUSTC_BOOTSTRAP=1
    echo "fuzz smoke: stable toolchain with RUSTC_BOOTSTRAP=1 ($(cargo --version))"
fi

targets=$("${cargo[@]}" fuzz list)
if [ -z "$targets" ]; then
    echo "fuzz smoke: no fuzz target found" >&2
    exit 1
fi

failed=()
for target in $targets; do
    echo "==> $target (${seconds}s)"
    # -timeout turns a hang into a reported failure instead of a stuck run.
    if ! "${cargo[@]}" fuzz run "$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz smoke: failures in ${failed[*]} (see fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz smoke: every target ran ${seconds}s without a failure"
