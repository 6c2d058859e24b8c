#!/usr/bin/env bash
# Side-by-side benchmark of castnet's bench servers against the plain-Tokio
# baselines, in one run, on 127.0.0.1 (BENCH-PROTOCOL.md scenarios).
#
#   bash examples/bench/compare.sh            # ROUNDS=3 DURATION=5 by default
#
# Each scenario alternates castnet and baseline ROUNDS times (A B A B ...) so
# drift on a noisy machine hits both; one core per side (--workers 1). Prints
# one JSON line per run (netbench --json, plus "server" and "round") and a
# median summary with ratios.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-1}"
OUT="${OUT:-target/bench-compare.jsonl}"
cargo build --release -q -p castnet-examples
B=target/release
: > "$OUT"

run() { # server-bin scenario-name netbench-args...
    local bin=$1 name=$2; shift 2
    local port=$((20000 + RANDOM % 20000))
    "$B/$bin" --addr "127.0.0.1:$port" --workers 1 > /tmp/compare-server.out 2>/dev/null &
    local pid=$!
    for _ in $(seq 100); do grep -q "listening on" /tmp/compare-server.out 2>/dev/null && break; sleep 0.05; done
    local line
    line=$(timeout $((DURATION + WARMUP + 30)) "$B/netbench" --addr "127.0.0.1:$port" --workers 1 \
        --duration "$DURATION" --warmup "$WARMUP" --verify --json --server-pid "$pid" "$@")
    kill -TERM "$pid"; wait "$pid" || true
    echo "$line" | python3 -c "import json,sys; d=json.load(sys.stdin); d['server']='$bin'; d['scenario']='$name'; print(json.dumps(d))" | tee -a "$OUT"
}

for round in $(seq "$ROUNDS"); do
    for pair in "echo_server baseline_echo"; do
        for srv in $pair; do run "$srv" echo-64B-50x16 --mode echo --conns 50 --payload 64 --pipeline 16; done
        for srv in $pair; do run "$srv" echo-4KiB-10x4 --mode echo --conns 10 --payload 4096 --pipeline 4; done
    done
    for srv in fanout_server baseline_fanout; do
        run "$srv" fanout-64B-100subs --mode fanout --conns 100 --payload 64 --pipeline 16
    done
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
print(f"\n{'scenario':22} {'server':16} {'frames/s':>12} {'p99 us':>10} {'srv cpu us/frame':>17} {'verify fails':>12}")
scen = sorted({s for s, _ in by})
for s in scen:
    servers = [k for k in by if k[0] == s]
    for k in sorted(servers):
        rs = by[k]
        print(f"{s:22} {k[1]:16} {med(rs,'frames_per_sec'):12.0f} {med(rs,'latency_p99_us'):10.0f} {med(rs,'server_cpu_us_per_frame'):17.3f} {sum(r['verify_failures'] for r in rs):12}")
    cast = [k for k in servers if not k[1].startswith("baseline")][0]
    base = [k for k in servers if k[1].startswith("baseline")][0]
    fr = med(by[cast], 'frames_per_sec') / med(by[base], 'frames_per_sec')
    cpu = med(by[base], 'server_cpu_us_per_frame') / med(by[cast], 'server_cpu_us_per_frame')
    print(f"{'':22} ratio castnet/baseline: frames/s x{fr:.2f}, server CPU efficiency x{cpu:.2f}\n")
PY
