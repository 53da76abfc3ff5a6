#!/usr/bin/env bash
# What the admin UI's hooks cost (issue 13): echo (each client emits, the server acks) against
# bench_server binaries, alternating run by run, server CPU per 1000 messages.
#
#   bench/admin_ui.sh BASE OURS [ROUNDS]
#
# BASE: a bench_server built before the hooks existed; OURS: one built with
# `--features admin-ui`, run as is (hooks compiled in, admin UI off), with
# ADMIN_UI=production and with ADMIN_UI=development (no dashboard connected: every event is
# still reported to the admin namespace). Knobs: CLIENTS=100 DURATION=5 WARMUP=1 PAYLOAD=64.
# Needs bench/target/release/socketio-ns-bench (`cargo build --release` in bench/), or LOADGEN=path.
set -euo pipefail
BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOADGEN="${LOADGEN:-$BENCH_DIR/target/release/socketio-ns-bench}"
BASE="$1" OURS="$2" ROUNDS="${3:-3}"
CLIENTS="${CLIENTS:-100}" DURATION="${DURATION:-5}" WARMUP="${WARMUP:-1}" PAYLOAD="${PAYLOAD:-64}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() { # label binary [env...]
    local label="$1" bin="$2"; shift 2
    local port; port="$(free_port)"
    env "$@" PORT="$port" "$bin" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.05
    done
    "$LOADGEN" echo --url "ws://127.0.0.1:$port" --namespace /bench --server-pid "$pid" \
        --clients "$CLIENTS" --payload-bytes "$PAYLOAD" --duration "$DURATION" \
        --warmup "$WARMUP" --label "$label" 2>/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

for round in $(seq 1 "$ROUNDS"); do
    run base "$BASE"
    run off "$OURS"
    run production "$OURS" ADMIN_UI=production
    run development "$OURS" ADMIN_UI=development
done
