#!/usr/bin/env bash
# Side-by-side benchmark of castnet's bench servers (on castnet-tokio,
# castnet-smol and castnet-std) against the plain baselines (tokio-util
# codecs on Tokio, the same code on smol, and a thread-per-connection server
# on blocking std::net), in one run, on 127.0.0.1. The echo scenarios also
# run `custom_event_loop` (castnet-core driven from its own mio loop) and
# `byte_echo`, the machine's ceiling: a mio loop that writes back every byte
# it reads, with no framing at all. No echo server that reads and writes
# once per wake-up spends less CPU per frame than it on the same machine
# (frames/s, where netbench is the limit, is level within the noise), so
# "castnet-std/byte-echo" is castnet's own cost, and "byte-echo/baseline-std"
# bounds the ratio a server reaches against the thread-per-connection
# baseline here.
#
#   bash examples/bench/compare.sh                   # ROUNDS=3 DURATION=5 by default
#   OLD_REV=f91a05c bash examples/bench/compare.sh   # also an older castnet-tokio, built beside
#
# Every scenario runs each server once per round, in turn, each round
# starting one server later (A B C, B C A, C A B, ...),
# so drift on a noisy machine hits all of them; one core per side
# (--workers 1; custom_event_loop is one thread and takes no such flag).
# Prints one JSON line per run (netbench --json, plus "server" and "round")
# and a median summary with ratios against castnet-tokio at this checkout,
# and of each castnet server against the baseline on its runtime.
#
# A server whose `--runtime` is refused as unsupported (clap's usage error,
# exit 2: a build from before castnet-std, say) is left out of the run with a
# note.
#
# PIN=1 runs every server on CPU 0 and netbench on CPU 1 (taskset), so
# "one core per side" holds for servers that start more threads than
# --workers (the thread-per-connection baselines run a thread pair per
# connection, which otherwise take CPU from the load generator as well).
#
# ONLY='castnet-tokio|castnet-smol|old-tokio' runs just the servers whose
# label matches (a bash regex over the whole label; keep castnet-tokio, the
# ratios' reference), for more rounds of the comparison that matters.
#
# OLD_REV builds `echo_server` and `fanout_server` of that git revision into
# target/bench-old (from a temporary worktree) and adds them as "old-tokio",
# for before/after ratios measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
OUT="${OUT:-target/bench-compare.jsonl}"
SERVER_ON=() CLIENT_ON=()
if [ "${PIN:-0}" = 1 ]; then
    SERVER_ON=(taskset -c 0) CLIENT_ON=(taskset -c 1)
fi
cargo build --release -q -p castnet-examples
B=target/release
OLD=""
if [ -n "${OLD_REV:-}" ]; then
    rev=$(git rev-parse "$OLD_REV")
    # Built once per revision (the stamp says which).
    if [ "$(cat target/bench-old/REV 2>/dev/null)" != "$rev" ]; then
        tree=$(mktemp -d)
        git worktree add -q --detach "$tree" "$rev"
        (cd "$tree" && cargo build --release -q -p castnet-examples --target-dir "$OLDPWD/target/bench-old")
        git worktree remove --force "$tree"
        echo "$rev" > target/bench-old/REV
    fi
    OLD=target/bench-old/release
fi
: > "$OUT"

run() { # label binary-path runtime-flag scenario-name netbench-args...
    local label=$1 bin=$2 runtime=$3 name=$4; shift 4
    local line="" attempt
    # Seconds, fractions allowed (netbench takes them): not bash arithmetic.
    local limit
    limit=$(awk -v d="$DURATION" -v w="$WARMUP" 'BEGIN { print int(d + w + 31) }')
    # A random port can be taken by something else: try another (3 at most).
    for attempt in 1 2 3; do
        # Below the ephemeral range (32768 on), where clients take ports.
        local port=$((10000 + RANDOM % 20000))
        local flags=(--addr "127.0.0.1:$port")
        # "own-loop": a single-threaded server that takes neither flag.
        [ "$runtime" != own-loop ] && flags+=(--workers 1)
        [ -n "$runtime" ] && [ "$runtime" != own-loop ] && flags+=(--runtime "$runtime")
        "${SERVER_ON[@]}" "$bin" "${flags[@]}" > /tmp/compare-server.out 2>/dev/null &
        local pid=$!
        for _ in $(seq 100); do grep -q "listening on" /tmp/compare-server.out 2>/dev/null && break; sleep 0.05; done
        line=$(timeout "$limit" "${CLIENT_ON[@]}" "$B/netbench" --addr "127.0.0.1:$port" --workers 1 \
            --duration "$DURATION" --warmup "$WARMUP" --verify --json --server-pid "$pid" "$@") || line=""
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" || true
        [ -n "$line" ] && break
        echo "compare: $label $name attempt $attempt failed; retrying" >&2
    done
    [ -n "$line" ] || { echo "compare: $label $name failed 3 times" >&2; exit 1; }
    echo "$line" | python3 -c "import json,sys; d=json.load(sys.stdin); d['server']='$label'; d['scenario']='$name'; d['round']=$round; print(json.dumps(d))" | tee -a "$OUT"
}

# label:binary:runtime-flag
echo_servers=("castnet-tokio:$B/echo_server:tokio" "castnet-smol:$B/echo_server:smol"
    "castnet-std:$B/echo_server:std"
    "baseline:$B/baseline_echo:tokio" "baseline-smol:$B/baseline_echo:smol"
    "baseline-std:$B/baseline_echo:std"
    "custom-loop:$B/custom_event_loop:own-loop" "byte-echo:$B/byte_echo:own-loop")
fanout_servers=("castnet-tokio:$B/fanout_server:tokio" "castnet-smol:$B/fanout_server:smol"
    "castnet-std:$B/fanout_server:std"
    "baseline:$B/baseline_fanout:tokio" "baseline-smol:$B/baseline_fanout:smol"
    "baseline-std:$B/baseline_fanout:std")
if [ -n "$OLD" ]; then
    echo_servers+=("old-tokio:$OLD/echo_server:")
    fanout_servers+=("old-tokio:$OLD/fanout_server:")
fi

supported() { # binary runtime-flag: false if the server refuses that runtime
    local bin=$1 runtime=$2 out
    [ -n "$runtime" ] || return 0
    # A server that takes the runtime starts, announces itself and is
    # stopped; one that does not exits at once with clap's usage error.
    out=$(mktemp)
    "$bin" --addr 127.0.0.1:0 --runtime "$runtime" --workers 1 > "$out" 2>&1 &
    local pid=$! status=0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        grep -q "listening on" "$out" && break
        sleep 0.05
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || status=$?
    if [ "$status" = 2 ] && grep -q "supports only" "$out"; then
        rm -f "$out"
        return 1
    fi
    rm -f "$out"
}

keep_supported() { # servers-array-name: drops the entries whose runtime is refused
    local -n list=$1
    local kept=() s label bin runtime
    for s in "${list[@]}"; do
        IFS=: read -r label bin runtime <<< "$s"
        if supported "$bin" "$runtime"; then
            kept+=("$s")
        else
            echo "compare: $label skipped: $(basename "$bin") refuses --runtime $runtime" >&2
        fi
    done
    list=("${kept[@]}")
}
keep_supported echo_servers
keep_supported fanout_servers

each() { # scenario-name servers-array-name netbench-args...
    local name=$1 list=$2; shift 2
    local -n servers=$list
    # Each round starts one server later, so no server always runs first
    # after the previous scenario (a position that measured up to 25%
    # slower on fan-out).
    local n=${#servers[@]} i
    for ((i = 0; i < n; i++)); do
        local s=${servers[$(((i + round - 1) % n))]}
        IFS=: read -r label bin runtime <<< "$s"
        [[ "$label" =~ ^(${ONLY:-.*})$ ]] || continue
        run "$label" "$bin" "$runtime" "$name" "$@"
    done
}

for round in $(seq "$ROUNDS"); do
    each echo-64B-50x16 echo_servers --mode echo --conns 50 --payload 64 --pipeline 16
    each echo-4KiB-10x4 echo_servers --mode echo --conns 10 --payload 4096 --pipeline 4
    each fanout-64B-100subs fanout_servers --mode fanout --conns 100 --payload 64 --pipeline 16
done

python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault((r["scenario"], r["server"]), []).append(r)
def med(rs, k):
    v = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(v) if v else float("nan")
print(f"\n{'scenario':22} {'server':14} {'frames/s':>12} {'p99 us':>10} {'srv cpu us/frame':>17} {'verify fails':>12} {'errors':>7}")
for s in sorted({s for s, _ in by}):
    servers = [k for k in by if k[0] == s]
    for k in sorted(servers):
        rs = by[k]
        print(f"{s:22} {k[1]:14} {med(rs,'frames_per_sec'):12.0f} {med(rs,'latency_p99_us'):10.0f} "
              f"{med(rs,'server_cpu_us_per_frame'):17.3f} {sum(r['verify_failures'] for r in rs):12} {sum(r['errors'] for r in rs):7}")
    ref = by.get((s, "castnet-tokio"))
    if not ref:
        continue
    for k in sorted(servers):
        if k[1] == "castnet-tokio":
            continue
        fr = med(by[k], 'frames_per_sec') / med(ref, 'frames_per_sec')
        per_round = [
            a["frames_per_sec"] / b["frames_per_sec"]
            for a in by[k] for b in ref if a["round"] == b["round"]
        ]
        rounds = ", ".join(f"{x:.2f}" for x in per_round)
        print(f"{'':22} {k[1]}/castnet-tokio frames/s x{fr:.2f} (rounds: {rounds})")
    for a, b in [("castnet-smol", "baseline-smol"), ("castnet-tokio", "baseline"),
                 ("castnet-std", "baseline-std"), ("baseline-std", "baseline"),
                 ("byte-echo", "baseline-std"), ("castnet-std", "byte-echo")]:
        if (s, a) in by and (s, b) in by:
            fr = med(by[(s, a)], 'frames_per_sec') / med(by[(s, b)], 'frames_per_sec')
            cpu = med(by[(s, a)], 'server_cpu_us_per_frame') / med(by[(s, b)], 'server_cpu_us_per_frame')
            print(f"{'':22} {a}/{b} frames/s x{fr:.2f}, server CPU per frame x{cpu:.2f}")
    print()
PY
