#!/usr/bin/env bash
# Broadcast through Redis, side by side: two of our bench_server processes against two Node.js
# socket.io processes, each pair sharing one redis-server through the classic Redis adapter
# (ours: feature `redis`; Node: @socket.io/redis-adapter 8.3). Receivers are spread evenly over
# the two processes of a pair; the sender is on the first, whose broadcast reaches the second
# through Redis. Also: what a broadcast costs the publishing process with the Redis adapter
# against the local adapter (ours, every receiver on that process).
#
#   bench/redis.sh        # builds what it needs (release), runs, prints the table
#
# Knobs: RUNS=3 DURATION=5 WARMUP=2 CLIENTS=1000 PAYLOAD=64 BCAST_WINDOW=16 SKIP_BUILD=1
#        RESULTS=path (JSON lines; default bench/results/redis-<timestamp>.jsonl)
# Everything listens on 127.0.0.1 and is stopped by this script (by PID) when it ends.
set -uo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$BENCH_DIR/.." && pwd)"
cd "$BENCH_DIR"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-2}"
CLIENTS="${CLIENTS:-1000}"
PAYLOAD="${PAYLOAD:-64}"
BCAST_WINDOW="${BCAST_WINDOW:-16}"
mkdir -p results
STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-$BENCH_DIR/results/redis-$STAMP.jsonl}"
LOGDIR="$BENCH_DIR/results/redis-$STAMP-logs"
mkdir -p "$LOGDIR"
: >>"$RESULTS"
log() { printf '[redis.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

LOADGEN="$BENCH_DIR/target/release/socketio-ns-bench"
OURS_BIN="${CARGO_TARGET_DIR:-$ROOT_DIR/target}/release/examples/bench_server"
NODE_DIR="$BENCH_DIR/servers/node"
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building the load generator and bench_server --features redis (release)"
    cargo build --release --manifest-path "$BENCH_DIR/Cargo.toml" -p socketio-ns-bench || exit 1
    (cd "$ROOT_DIR" && cargo build --release -p socketio-ns --features redis --example bench_server) || exit 1
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund >/dev/null) || exit 1
fi
for b in "$LOADGEN" "$OURS_BIN" redis-server node; do
    command -v "$b" >/dev/null || [[ -x "$b" ]] || { log "missing $b"; exit 1; }
done

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 1 200); do
        # Below the ephemeral range (32768+), where the clients' own ports are.
        p=$(( 10000 + RANDOM % 20000 ))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}
wait_port() {
    for _ in $(seq 1 200); do port_in_use "$1" && return 0; sleep 0.05; done
    return 1
}

PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
    done
    PIDS=()
}
REDIS_PID=""
cleanup() { stop_all; [[ -n "$REDIS_PID" ]] && kill -TERM "$REDIS_PID" 2>/dev/null; wait 2>/dev/null; }
trap 'cleanup; exit 130' INT TERM
trap cleanup EXIT

REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    >"$LOGDIR/redis.log" 2>&1 &
REDIS_PID=$!
wait_port "$REDIS_PORT" || { log "redis-server did not start"; exit 1; }
REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
log "redis-server on $REDIS_PORT; results in $RESULTS"

# start IMPL LOG [REDIS] -> echoes "PID PORT"
start() {
    local impl="$1" logf="$2" redis="${3:-}" port pid
    port="$(free_port)"
    if [[ "$impl" == ours ]]; then
        if [[ -n "$redis" ]]; then
            PORT="$port" REDIS_URL="$redis" "$OURS_BIN" >"$logf" 2>&1 &
        else
            PORT="$port" "$OURS_BIN" >"$logf" 2>&1 &
        fi
    else
        if [[ -n "$redis" ]]; then
            PORT="$port" REDIS_URL="$redis" node "$NODE_DIR/server.mjs" >"$logf" 2>&1 &
        else
            PORT="$port" node "$NODE_DIR/server.mjs" >"$logf" 2>&1 &
        fi
    fi
    pid=$!
    wait_port "$port" || { log "$impl did not listen (see $logf)"; return 1; }
    echo "$pid $port"
}

# run LABEL ARGS... : one load generator run appended to $RESULTS
run() {
    local label="$1"; shift
    "$LOADGEN" broadcast --namespace /bench --clients "$CLIENTS" --payload-bytes "$PAYLOAD" \
        --duration "$DURATION" --warmup "$WARMUP" --concurrency "$BCAST_WINDOW" \
        --label "$label" "$@" >>"$RESULTS" 2>>"$LOGDIR/loadgen.log" \
        || log "$label: the load generator failed (see $LOGDIR/loadgen.log)"
    tail -n 1 "$RESULTS" | cut -c1-200 >&2
}

for r in $(seq 1 "$RUNS"); do
    for impl in ours node; do
        # Two processes of one cluster; receivers spread over both.
        read -r pid1 port1 < <(start "$impl" "$LOGDIR/$impl-a-$r.log" "$REDIS_URL") || exit 1
        PIDS+=("$pid1")
        read -r pid2 port2 < <(start "$impl" "$LOGDIR/$impl-b-$r.log" "$REDIS_URL") || exit 1
        PIDS+=("$pid2")
        sleep 0.5 # subscriptions in place
        run "$impl-redis-2proc" --url "ws://127.0.0.1:$port1" \
            --receiver-urls "ws://127.0.0.1:$port1,ws://127.0.0.1:$port2" \
            --server-pid "$pid1" --other-pids "$pid2"
        stop_all
    done
    # The publishing process's cost: every receiver on it, with the local adapter, then with
    # the Redis adapter and a second (idle) process subscribed.
    read -r pid1 port1 < <(start ours "$LOGDIR/ours-local-$r.log") || exit 1
    PIDS+=("$pid1")
    run "ours-local-1proc" --url "ws://127.0.0.1:$port1" --server-pid "$pid1"
    stop_all
    read -r pid1 port1 < <(start ours "$LOGDIR/ours-pub-a-$r.log" "$REDIS_URL") || exit 1
    PIDS+=("$pid1")
    read -r pid2 port2 < <(start ours "$LOGDIR/ours-pub-b-$r.log" "$REDIS_URL") || exit 1
    PIDS+=("$pid2")
    sleep 0.5
    run "ours-redis-publisher" --url "ws://127.0.0.1:$port1" --server-pid "$pid1" --other-pids "$pid2"
    stop_all
done

# Medians per label.
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r.get("label"), []).append(r)
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
print(f"{'label':24} {'runs':>4} {'ok':>3} {'deliv/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'cpu/1k pub':>11} {'cpu/1k all':>11}")
table = {}
for label, rs in by.items():
    d = med([r.get("deliveries_per_s") for r in rs])
    p50 = med([r["lat_us"]["p50"] for r in rs if r.get("lat_us")])
    p99 = med([r["lat_us"]["p99"] for r in rs if r.get("lat_us")])
    pub = med([r.get("server_cpu_s_per_1k_msgs") for r in rs])
    def all_cpu(r):
        if r.get("server_cpu_s") is None or not r.get("msgs"):
            return None
        return (r["server_cpu_s"] + sum(x or 0 for x in r.get("other_servers_cpu_s", []))) / (r["msgs"] / 1000)
    tot = med([all_cpu(r) for r in rs])
    ok = sum(1 for r in rs if r.get("ok"))
    table[label] = (d, p50, p99, pub, tot)
    f = lambda v, k=1: "-" if v is None else f"{v/k:.2f}" if k != 1 else f"{v:.0f}"
    print(f"{label:24} {len(rs):>4} {ok:>3} {f(d):>10} {f(p50,1000):>8} {f(p99,1000):>8} "
          f"{'-' if pub is None else f'{pub*1000:.3f}ms':>11} {'-' if tot is None else f'{tot*1000:.3f}ms':>11}")
o, n = table.get("ours-redis-2proc"), table.get("node-redis-2proc")
if o and n and o[0] and n[0]:
    print(f"\nours/node deliveries/s: {o[0]/n[0]:.2f}x; CPU per 1k deliveries (both processes): {o[4]/n[4]:.2f}x")
l, p = table.get("ours-local-1proc"), table.get("ours-redis-publisher")
if l and p and l[3] and p[3]:
    print(f"publishing process, Redis adapter vs local: CPU per 1k deliveries {p[3]/l[3]:.2f}x")
PY
