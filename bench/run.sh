#!/usr/bin/env bash
# Side-by-side benchmark: socketio-ns ("ours") vs socketioxide, the raw WebSocket echo
# ceiling and the Node.js socket.io server (polling), on this machine, over loopback only.
#
#   bench/run.sh                 # build everything (release), run all, print the table,
#                                # regenerate BENCHMARKS.md (bench/report.py)
#
# Knobs (environment):
#   RUNS=3            runs per scenario, size and server (servers alternate)
#   POLL_RUNS=5       the same for the long-polling scenarios: how many messages one response
#                     carries varies from run to run, and CPU per message with it
#   DURATION=5        measured window per run, seconds (echo, broadcast)
#   WARMUP=2          warm-up before the window, seconds (excluded)
#   HOLD=3            connect: idle hold before reading the server's RSS
#   SCALE_HOLD=61     scale: idle hold (1 s settling, then the idle CPU window)
#   PAYLOAD=64        payload bytes
#   BCAST_WINDOW=16   broadcasts in flight (broadcast --concurrency)
#   ECHO_SIZES="10 100"  BCAST_SIZES="100 1000 10000"  CONNECT_SIZES="5000"
#   POLL_ECHO_SIZES="10"  POLL_BCAST_SIZES="100"   (Engine.IO long-polling clients)
#   SCALE_SIZES=auto  idle WebSocket connections for the scale run (auto: as many as the
#                     open-file limit allows, at most 50000)
#   ONLY="echo broadcast connect echo_polling broadcast_polling scale"   scenarios to run
#   SERVERS="ours socketioxide raw node" servers to run (raw: echo only; node: polling only)
#   REPORT=1          regenerate BENCHMARKS.md from the results (0: only print the table)
#   SKIP_BUILD=1      do not build (use the binaries already there)
#   OURS_BIN=path     our server binary (default ../target/release/examples/bench_server,
#                     built with `cargo build --release --example bench_server` in the main workspace)
#   PIN=1             pin the server to CPU 0 and the load generator to CPU 1 (taskset)
#   RESULTS=path      JSON-lines output file (default bench/results/<timestamp>.jsonl)
#
# Every server is started fresh for every run, on a free 127.0.0.1 port, and
# killed after it. Each run appends one JSON line to $RESULTS; the end prints
# medians per server and the ratio ours/socketioxide.
set -uo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT_DIR="$(cd "$BENCH_DIR/.." && pwd)"
cd "$BENCH_DIR"

RUNS="${RUNS:-3}"
POLL_RUNS="${POLL_RUNS:-5}"
DURATION="${DURATION:-5}"
WARMUP="${WARMUP:-2}"
HOLD="${HOLD:-3}"
SCALE_HOLD="${SCALE_HOLD:-61}"
PAYLOAD="${PAYLOAD:-64}"
BCAST_WINDOW="${BCAST_WINDOW:-16}"
ECHO_SIZES="${ECHO_SIZES:-10 100}"
BCAST_SIZES="${BCAST_SIZES:-100 1000 10000}"
CONNECT_SIZES="${CONNECT_SIZES:-5000}"
POLL_ECHO_SIZES="${POLL_ECHO_SIZES:-10}"
POLL_BCAST_SIZES="${POLL_BCAST_SIZES:-100}"
SCALE_SIZES="${SCALE_SIZES:-auto}"
ONLY="${ONLY:-echo broadcast connect echo_polling broadcast_polling scale}"
SERVERS="${SERVERS:-ours socketioxide raw node}"
REPORT="${REPORT:-1}"
PIN="${PIN:-0}"
mkdir -p results
STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-$BENCH_DIR/results/$STAMP.jsonl}"
LOGDIR="$BENCH_DIR/results/$STAMP-logs"
mkdir -p "$LOGDIR"
: >>"$RESULTS"

# Whole seconds, rounded up, of a possibly fractional number of seconds.
ceil() { local i="${1%%.*}"; echo $(( ${i:-0} + 1 )); }

log() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Every connection costs one descriptor in the server and one in the load generator (each
# process has its own limit): the scale run wants 50,000 plus spares. Raised as far as the
# hard limit allows (raising the hard limit itself needs CAP_SYS_RESOURCE).
want_fds=51200
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]] || (( hard >= want_fds )); then
    ulimit -n "$want_fds"
else
    ulimit -n "$hard"
fi
log "open-file limit: $(ulimit -n) (hard limit $hard)"
if (( $(ulimit -n) < 11000 )); then
    log "WARNING: open-file limit $(ulimit -n) is too low for 10000 receivers (raise the hard limit)"
fi
if [[ "$SCALE_SIZES" == auto ]]; then
    # 100 warm-up connections and about 300 descriptors of the process itself.
    SCALE_SIZES=$(( $(ulimit -n) - 500 ))
    (( SCALE_SIZES > 50000 )) && SCALE_SIZES=50000
    (( SCALE_SIZES < 50000 )) && log "scale: $SCALE_SIZES connections (50000 needs an open-file limit of $want_fds; this one is $(ulimit -n))"
fi

# ---------------------------------------------------------------- build
LOADGEN="$BENCH_DIR/target/release/socketio-ns-bench"
SIO_BIN="$BENCH_DIR/target/release/bench-socketioxide"
RAW_BIN="$BENCH_DIR/target/release/bench-raw-ws"
OURS_BIN="${OURS_BIN:-}"
ours_explicit=0
[[ -n "$OURS_BIN" ]] && ours_explicit=1
OURS_BIN="${OURS_BIN:-${CARGO_TARGET_DIR:-$ROOT_DIR/target}/release/examples/bench_server}"

have_ours=0
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building bench/ (loadgen, socketioxide server, raw-ws server) in release"
    CARGO_TARGET_DIR="$BENCH_DIR/target" cargo build --release --manifest-path "$BENCH_DIR/Cargo.toml" \
        -p socketio-ns-bench -p bench-socketioxide -p bench-raw-ws || { log "bench build failed"; exit 1; }
    if (( ! ours_explicit )) && [[ " $SERVERS " == *" ours "* ]]; then
        log "building ours: cargo build --release --example bench_server (main workspace)"
        if (cd "$ROOT_DIR" && cargo build --release --example bench_server) >"$LOGDIR/ours-build.log" 2>&1; then
            have_ours=1
        else
            log "our bench_server did not build; skipping ours (last lines of $LOGDIR/ours-build.log):"
            tail -n 5 "$LOGDIR/ours-build.log" >&2
        fi
    fi
fi
if [[ " $SERVERS " == *" ours "* ]] && { (( ours_explicit )) || [[ "${SKIP_BUILD:-0}" == 1 ]]; }; then
    [[ -x "$OURS_BIN" ]] && have_ours=1
fi
if (( have_ours )) && [[ ! -x "$OURS_BIN" ]]; then
    log "built, but $OURS_BIN is missing (CARGO_TARGET_DIR set?); skipping ours"
    have_ours=0
fi
NODE_DIR="$BENCH_DIR/servers/node"
have_node=0
if [[ " $SERVERS " == *" node "* ]] && command -v node >/dev/null; then
    if [[ -d "$NODE_DIR/node_modules/socket.io" ]] ||
        (cd "$NODE_DIR" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
        have_node=1
    else
        log "node: npm ci failed in $NODE_DIR; skipping node"
    fi
fi
for b in "$LOADGEN" "$SIO_BIN" "$RAW_BIN"; do
    [[ -x "$b" ]] || { log "missing $b (build failed?)"; exit 1; }
done
if [[ " $SERVERS " == *" ours "* ]] && (( ! have_ours )); then
    log "ours: no bench_server binary ($OURS_BIN); running socketioxide and raw only"
fi

server_bin() {
    case "$1" in
        ours) echo "$OURS_BIN" ;;
        socketioxide) echo "$SIO_BIN" ;;
        raw) echo "$RAW_BIN" ;;
        node) echo node ;;
    esac
}

server_enabled() {
    [[ " $SERVERS " == *" $1 "* ]] || return 1
    [[ "$1" != ours ]] || (( have_ours )) || return 1
    [[ "$1" != node ]] || (( have_node ))
}

# ---------------------------------------------------------------- servers
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Below the ephemeral range: the load generator's own client sockets (10,000 of them, and
# their TIME_WAITs) take ports in it, and a server port picked there may be taken between the
# check and the bind (AddrInUse).
EPHEMERAL_LOW="$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
free_port() {
    local p i lo=10000 span
    span=$(( EPHEMERAL_LOW - lo ))
    (( span > 1000 )) || { lo=20000; span=30000; }
    for i in $(seq 1 200); do
        p=$(( lo + RANDOM % span ))
        if ! port_in_use "$p"; then echo "$p"; return 0; fi
    done
    return 1
}

SERVER_PID=""
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 40); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}
trap 'stop_server; exit 130' INT TERM
trap 'stop_server' EXIT

# start_server NAME LOGFILE -> sets SERVER_PID and PORT
start_server() {
    local name="$1" logf="$2" bin
    local args=()
    bin="$(server_bin "$name")"
    [[ "$name" == node ]] && args=("$NODE_DIR/server.mjs")
    PORT="$(free_port)" || { log "no free port"; return 1; }
    if [[ "$PIN" == 1 ]]; then
        PORT="$PORT" taskset -c 0 "$bin" "${args[@]}" >"$logf" 2>&1 &
    else
        PORT="$PORT" "$bin" "${args[@]}" >"$logf" 2>&1 &
    fi
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        if port_in_use "$PORT"; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "$name did not start listening on $PORT (log: $logf)"
    tail -n 5 "$logf" >&2
    stop_server
    return 1
}

# ---------------------------------------------------------------- runs
# run_one SCENARIO SIZE SERVER RUN_NO
run_one() {
    local scen="$1" size="$2" name="$3" run="$4" logf extra=() limit out rc
    logf="$LOGDIR/$scen-$size-$name-$run.log"
    case "$scen" in
        echo_polling|broadcast_polling) scen="${scen%_polling}"; extra=(--transport polling) ;;
        scale) scen=connect; extra=(--concurrency 200) ;;
    esac
    case "$scen" in
        echo) extra+=(--duration "$DURATION" --warmup "$WARMUP")
              [[ "$name" == raw ]] && extra+=(--raw)
              limit=$(( $(ceil "$DURATION") + $(ceil "$WARMUP") + 60 )) ;;
        broadcast) extra+=(--duration "$DURATION" --warmup "$WARMUP" --concurrency "$BCAST_WINDOW")
              limit=$(( $(ceil "$DURATION") + $(ceil "$WARMUP") + 90 )) ;;
        connect) if [[ "$1" == scale ]]; then
                  extra+=(--hold "$SCALE_HOLD"); limit=$(( $(ceil "$SCALE_HOLD") + 180 ))
              else
                  extra+=(--hold "$HOLD"); limit=$(( $(ceil "$HOLD") + 120 ))
              fi ;;
    esac
    local started_ok=0 try
    for try in 1 2 3; do
        if start_server "$name" "$LOGDIR/server-$scen-$size-$name-$run.log"; then
            started_ok=1
            break
        fi
    done
    if (( ! started_ok )); then
        printf '{"scenario":"%s","size":%s,"label":"%s","error":"server did not start"}\n' \
            "$scen" "$size" "$name" >>"$RESULTS"
        return
    fi
    local pin=()
    [[ "$PIN" == 1 ]] && pin=(taskset -c 1)
    out="$(timeout --kill-after=5 "$limit" "${pin[@]}" "$LOADGEN" "$scen" \
        --url "ws://127.0.0.1:$PORT" --namespace /bench --server-pid "$SERVER_PID" \
        --clients "$size" --payload-bytes "$PAYLOAD" --label "$name" "${extra[@]}" 2>"$logf")"
    rc=$?
    stop_server
    if [[ -n "$out" ]]; then
        printf '%s\n' "$out" >>"$RESULTS"
    else
        printf '{"scenario":"%s","size":%s,"label":"%s","error":"loadgen exit %s, no output"}\n' \
            "$scen" "$size" "$name" "$rc" >>"$RESULTS"
    fi
    local brief
    brief="$(printf '%s' "$out" | sed -E 's/.*"rate":([0-9.]+).*/\1/;t;s/.*/?/')"
    log "$scen size=$size $name run $run: rc=$rc rate=$brief/s"
}

started=$SECONDS
for scen in $ONLY; do
    case "$scen" in
        echo) sizes="$ECHO_SIZES"; servers="ours socketioxide raw" ;;
        broadcast) sizes="$BCAST_SIZES"; servers="ours socketioxide" ;;
        connect) sizes="$CONNECT_SIZES"; servers="ours socketioxide" ;;
        echo_polling) sizes="$POLL_ECHO_SIZES"; servers="ours socketioxide node" ;;
        broadcast_polling) sizes="$POLL_BCAST_SIZES"; servers="ours socketioxide node" ;;
        # Ours only, once: 60 idle seconds at tens of thousands of connections.
        scale) sizes="$SCALE_SIZES"; servers="ours" ;;
        *) log "unknown scenario $scen"; continue ;;
    esac
    for size in $sizes; do
        runs="$RUNS"
        [[ "$scen" == *_polling ]] && runs="$POLL_RUNS"
        [[ "$scen" == scale ]] && runs=1
        for run in $(seq 1 "$runs"); do
            for name in $servers; do
                server_enabled "$name" || continue
                run_one "$scen" "$size" "$name" "$run"
            done
        done
    done
done
log "all runs done in $(( SECONDS - started ))s; results: $RESULTS"

echo
"$LOADGEN" summarize "$RESULTS" | tee "${RESULTS%.jsonl}.summary.txt"
echo
echo "results: $RESULTS"
echo "table:   ${RESULTS%.jsonl}.summary.txt"
echo "logs:    $LOGDIR"
if [[ "$REPORT" == 1 ]]; then
    python3 "$BENCH_DIR/report.py" "$RESULTS" --elapsed "$(( SECONDS - started ))" \
        --out "$ROOT_DIR/BENCHMARKS.md" && echo "report:  $ROOT_DIR/BENCHMARKS.md (regenerated)"
fi
