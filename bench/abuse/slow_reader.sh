#!/usr/bin/env bash
# Server memory held for one client that never reads while another makes the server broadcast
# to both (issue 9, point 3), for a bench_server
# binary: starts it on a free port, runs slow_reader.mjs against it, and prints the server's
# peak and current RSS. Loopback only; everything it starts is stopped by PID.
#
#   bench/abuse/slow_reader.sh target/release/examples/bench_server [count] [size]
set -euo pipefail
BIN="$1"; COUNT="${2:-1100}"; SIZE="${3:-100000}"
DIR="$(cd "$(dirname "$0")" && pwd)"
PORT=$(( 20000 + RANDOM % 30000 ))
PORT="$PORT" "$BIN" >/dev/null 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true' EXIT
sleep 0.5
base=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
node "$DIR/slow_reader.mjs" \
  "{\"port\": $PORT, \"count\": $COUNT, \"size\": $SIZE, \"hold_ms\": 5000}" &
CLIENT=$!
sleep 4
rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")
wait "$CLIENT" || true
echo "{\"bin\": \"$BIN\", \"count\": $COUNT, \"size\": $SIZE, \"rss_before_kb\": $base, \"rss_kb\": $rss, \"peak_kb\": $hwm}"
