#!/usr/bin/env bash
# Bytes on the wire and server CPU per message with and without compression (WebSocket
# permessage-deflate, polling gzip/deflate), for a chat-like JSON payload: see
# bench/compression/measure.mjs and the section in BENCHMARKS.md.
#
#   bench/compression.sh                  # N=20000 messages per run, RUNS=3 (alternated)
#   N=5000 RUNS=1 bench/compression.sh    # a quick look
#
# Needs node and `cd tests && npm ci`. Builds examples/bench_server in release
# (CARGO_TARGET_DIR is honoured; SKIP_BUILD=1 uses the existing binary).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  (cd "$ROOT" && cargo build --release -p socketio-ns --example bench_server)
fi
SERVER="$TARGET/release/examples/bench_server" node "$ROOT/bench/compression/measure.mjs"
