#!/usr/bin/env bash
# Server memory per idle connection, as process RSS (docs/bench-protocol.md
# servers): start the server, open CONNS connections to it, send one 64-byte
# frame on each and read its echo, leave them idle for IDLE seconds, then
# read the server's RSS. Prints one JSON line per server:
# {"server", "runtime", "conns", "rss_before_kib", "rss_after_kib",
#  "bytes_per_conn", "threads"}.
#
#   bash examples/bench/idle_rss.sh     # echo_server and baseline_echo, on tokio, smol and std
#   CONNS=10000 SERVERS="baseline_echo:std baseline_echo:tokio" bash examples/bench/idle_rss.sh
#   SERVERS="target/bench-old/release/echo_server:tokio" ...   # a binary by path (compare.sh OLD_REV builds one)
#
# A server that refuses its runtime (clap's usage error: an echo_server built
# from before castnet-std, say) is skipped with a note.
#
# The server and the client (this script's python) each hold one descriptor
# per connection, so the soft limit on open files is raised to CONNS + 512
# for both (they inherit it), and the hard limit too when it is lower and
# this shell may raise it (root). The thread-per-connection baseline also
# needs two threads per connection, bounded by kernel.pid_max and
# kernel.threads-max, and each thread takes four memory mappings (its
# stack and guard page, and the signal stack and guard page Rust's std
# gives every thread): past vm.max_map_count (65530 by default, about 8,000
# connections) a thread's start fails and Rust's std aborts the process.
# The script warns when CONNS would cross it, and changes no kernel setting.
set -euo pipefail
cd "$(dirname "$0")/../.."
CONNS="${CONNS:-5000}"
IDLE="${IDLE:-5}"
SERVERS="${SERVERS:-echo_server:tokio echo_server:smol echo_server:std baseline_echo:tokio baseline_echo:smol baseline_echo:std}"
need=$((CONNS + 512))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
    hard=$(ulimit -Hn)
    if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
        ulimit -Hn "$need" 2>/dev/null || {
            echo "idle_rss: CONNS=$CONNS needs $need open files; the hard limit is $hard" >&2
            exit 1
        }
    fi
    ulimit -Sn "$need"
fi
cargo build --release -q -p castnet-examples
B=target/release

for entry in $SERVERS; do
    bin=${entry%%:*} runtime=${entry#*:}
    case "$bin" in */*) path=$bin ;; *) path=$B/$bin ;; esac
    case "$(basename "$bin"):$runtime" in
        baseline_*:std)
            maps=$((CONNS * 2 * 4 + 1024)) max=$(cat /proc/sys/vm/max_map_count 2>/dev/null || echo "$((1 << 30))")
            if [ "$max" -lt "$maps" ]; then
                echo "idle_rss: $bin --runtime std needs about $maps memory mappings for $CONNS connections;" \
                    "vm.max_map_count is $max, so it will likely abort (sysctl -w vm.max_map_count=$maps)" >&2
            fi ;;
    esac
    port=$((10000 + RANDOM % 20000)) # below the ephemeral range
    "$path" --addr "127.0.0.1:$port" --runtime "$runtime" --workers 1 > /tmp/idle-rss-server.out 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        grep -q "listening on" /tmp/idle-rss-server.out 2>/dev/null && break
        sleep 0.05
    done
    if ! kill -0 "$pid" 2>/dev/null; then
        status=0
        wait "$pid" || status=$?
        if [ "$status" = 2 ] && grep -q "supports only" /tmp/idle-rss-server.out; then
            echo "idle_rss: $bin skipped: it refuses --runtime $runtime" >&2
            continue
        fi
        echo "idle_rss: $bin --runtime $runtime exited with $status:" >&2
        cat /tmp/idle-rss-server.out >&2
        exit 1
    fi
    python3 - "$port" "$pid" "$CONNS" "$IDLE" "$bin" "$runtime" <<'PY'
import json, socket, struct, sys, time
port, pid, conns, idle, name, runtime = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
def status(field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
def rss_kib():
    return status("VmRSS")
before = rss_kib()
payload = b"x" * 64
frame = struct.pack(">I", len(payload)) + payload
socks = []
for _ in range(conns):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(20)
    s.sendall(frame)
    socks.append(s)
for s in socks:
    got = b""
    while len(got) < len(frame):
        chunk = s.recv(len(frame) - len(got))
        if not chunk:
            sys.exit(f"{name}: connection closed before its echo")
        got += chunk
    assert got == frame, "echo differs"
time.sleep(idle)
after = rss_kib()
print(json.dumps({"server": name, "runtime": runtime, "conns": conns, "idle_s": idle,
                  "rss_before_kib": before, "rss_after_kib": after,
                  "bytes_per_conn": round((after - before) * 1024 / conns),
                  "threads": status("Threads")}))
for s in socks:
    s.close()
PY
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
done
