#!/usr/bin/env bash
# Compile time of 100 handlers in debug, incremental (after editing one handler) and clean (the
# app crate alone, its dependencies built): socketio-ns (`#[namespace]`, with and without
# declared outgoing events and the TypeScript export) against socketioxide (`socket.on`
# closures), as one namespace of 100 handlers and as 10 namespaces of 10. See BENCHMARKS.md
# ("Compile time").
#
#   bench/compile_time.sh            # every variant, RUNS=3 builds of each kind, medians printed
#   VARIANTS="ns sx" RUNS=5 bench/compile_time.sh
#
# Variants: `ns` (1 x 100, string emits), `ns_typed` (1 x 100, `emits = ...` and `--features
# typescript`, the types derived for TypeScript and the .d.ts rendered by `main`), `ns10`
# (10 namespaces x 10 handlers), `sx` (socketioxide 0.18, 1 x 100), `sx10` (10 x 10).
# The apps are generated into bench/compile/ (git-ignored) and built once; then, RUNS times,
# handler 50's body is edited and `cargo build -j 1` timed (incremental), and RUNS times the
# app crate is cleaned (`cargo clean -p`) and rebuilt (clean). CARGO_TARGET_DIR defaults to
# bench/compile/target.
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD
ROOT=$(cd .. && pwd)
OUT=$BENCH/compile
RUNS=${RUNS:-3}
VARIANTS=${VARIANTS:-"ns ns_typed ns10 sx sx10"}
N=${N:-100}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$OUT/target}
mkdir -p "$OUT"

cat > "$OUT/Cargo.toml" <<TOML
[workspace]
resolver = "3"
members = [$(printf '"%s",' $VARIANTS)]

[workspace.package]
version = "0.1.0"
edition = "2024"
publish = false
TOML

# --- socketio-ns, string emits -------------------------------------------------------------
gen_ns() { # $1 = dir, $2 = typed (0/1), $3 = namespaces (the N handlers split evenly)
  local dir=$OUT/$1 typed=$2 nns=${3:-1}
  local per=$((N / nns))
  mkdir -p "$dir/src"
  {
    echo '[package]'
    echo "name = \"$1\""
    echo 'version.workspace = true'
    echo 'edition.workspace = true'
    echo 'publish.workspace = true'
    echo '[dependencies]'
    if [ "$typed" = 1 ]; then
      echo "socketio-ns = { path = \"$ROOT/socketio-ns\", features = [\"typescript\"] }"
      echo 'ts-rs = { version = "12", features = ["serde-compat"] }'
    else
      echo "socketio-ns = { path = \"$ROOT/socketio-ns\" }"
    fi
    echo 'serde = { version = "1", features = ["derive"] }'
    echo 'tokio = { version = "1", features = ["rt-multi-thread", "macros"] }'
  } > "$dir/Cargo.toml"
  {
    echo 'use serde::{Deserialize, Serialize};'
    echo 'use socketio_ns::{Context, HandlerError, Server, namespace};'
    if [ "$typed" = 1 ]; then
      echo '#[derive(Deserialize, Serialize, ts_rs::TS)]'
    else
      echo '#[derive(Deserialize, Serialize)]'
    fi
    echo 'pub struct Msg { pub text: String, pub n: u32 }'
    if [ "$typed" = 1 ]; then
      echo 'socketio_ns::events! {'
      echo '    pub AppEvents {'
      for i in $(seq 0 $((N - 1))); do echo "        Ev$i = \"ev$i\"(msg: Msg),"; done
      echo '    }'
      echo '}'
    fi
    local k app nsp builder=""
    for k in $(seq 0 $((nns - 1))); do
      app=App nsp=/app
      (( nns > 1 )) && app=App$k nsp=/app$k
      if [ "$typed" = 1 ]; then
        echo "#[derive(Default)] pub struct $app { count: u32 }"
        echo "#[namespace(\"$nsp\", emits = AppEvents)]"
      else
        echo "#[derive(Default)] pub struct $app { count: u32 }"
        echo "#[namespace(\"$nsp\")]"
      fi
      echo "impl $app {"
      for i in $(seq $((k * per)) $((k * per + per - 1))); do
        local ev="\"ev$i\""
        [ "$typed" = 1 ] && ev="Ev$i"
        cat <<RS
    async fn on_h$i(&mut self, cx: &mut Context<Self>, msg: Msg) -> Result<u32, HandlerError> {
        self.count += msg.n + 0; // edit-$i
        cx.emit($ev, Msg { text: msg.text, n: self.count });
        Ok(self.count)
    }
RS
      done
      echo '}'
      builder="$builder.namespace::<$app>()"
    done
    echo '#[tokio::main]'
    echo 'async fn main() {'
    [ "$typed" = 1 ] && echo '    print!("{}", socketio_ns::typescript::render::<App>().unwrap());'
    echo "    let _ = Server::builder()$builder.build();"
    echo '}'
  } > "$dir/src/main.rs"
}

# --- socketioxide ------------------------------------------------------------------------------
gen_sx() { # $1 = dir, $2 = namespaces (the N handlers split evenly)
  local dir=$OUT/$1 nns=${2:-1}
  local per=$((N / nns))
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "$1"
version.workspace = true
edition.workspace = true
publish.workspace = true
[dependencies]
socketioxide = "0.18"
serde = { version = "1", features = ["derive"] }
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }
TOML
  {
    echo 'use std::sync::Arc;'
    echo 'use std::sync::atomic::{AtomicU32, Ordering};'
    echo 'use serde::{Deserialize, Serialize};'
    echo 'use socketioxide::{SocketIo, extract::{AckSender, Data, SocketRef}};'
    echo '#[derive(Deserialize, Serialize)]'
    echo 'pub struct Msg { pub text: String, pub n: u32 }'
    local k
    for k in $(seq 0 $((nns - 1))); do
    echo "fn on_connect$k(socket: SocketRef) {"
    echo '    let count = Arc::new(AtomicU32::new(0));'
    for i in $(seq $((k * per)) $((k * per + per - 1))); do
      cat <<RS
    let c = count.clone();
    socket.on("ev$i", async move |socket: SocketRef, Data::<Msg>(msg), ack: AckSender| {
        let n = c.fetch_add(msg.n, Ordering::Relaxed) + msg.n + 0; // edit-$i
        socket.emit("ev$i", &Msg { text: msg.text, n }).ok();
        ack.send(&n).ok();
    });
RS
    done
    echo '}'
    done
    echo '#[tokio::main]'
    echo 'async fn main() {'
    echo '    let (_layer, io) = SocketIo::new_layer();'
    if (( nns == 1 )); then
      echo '    io.ns("/app", async |s: SocketRef| on_connect0(s));'
    else
      for k in $(seq 0 $((nns - 1))); do
        echo "    io.ns(\"/app$k\", async |s: SocketRef| on_connect$k(s));"
      done
    fi
    echo '}'
  } > "$dir/src/main.rs"
}

for v in $VARIANTS; do
  case $v in
    ns) gen_ns ns 0 ;;
    ns_typed) gen_ns ns_typed 1 ;;
    ns10) gen_ns ns10 0 10 ;;
    sx) gen_sx sx 1 ;;
    sx10) gen_sx sx10 10 ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Wall time is what a developer waits; on a shared machine, the CPU time (user + sys of cargo
# and rustc) is the steadier figure. Both are printed, medians of RUNS builds.
timed() { # prints "wall cpu" of one `cargo build -j 1 -p $1`
  local t wall user sys
  TIMEFORMAT='%R %U %S'
  t=$( { time (cd "$OUT" && cargo build -q -j 1 -p "$1") ; } 2>&1 | tail -1)
  read -r wall user sys <<< "$t"
  echo "$wall $(echo "$user + $sys" | bc)"
}
report() { # $1 = variant, $2 = kind, then "wall cpu" pairs
  local v=$1 kind=$2 walls=() cpus=() w c
  shift 2
  while (( $# )); do walls+=("$1"); cpus+=("$2"); shift 2; done
  printf '%-9s %-11s wall %s (median %s s)  cpu %s (median %s s)\n' "$v" "$kind" "${walls[*]}" \
    "$(printf '%s\n' "${walls[@]}" | median)" "${cpus[*]}" "$(printf '%s\n' "${cpus[@]}" | median)"
}
for v in $VARIANTS; do
  (cd "$OUT" && cargo build -q -j 1 -p "$v")
  incr=() clean=()
  for r in $(seq 1 "$RUNS"); do
    # Edit handler 50's body: change a literal in its code.
    sed -i -E "s|\+ [0-9]+; // edit-50\$|+ $r$RANDOM; // edit-50|" "$OUT/$v/src/main.rs"
    read -r w c <<< "$(timed "$v")"
    incr+=("$w" "$c")
  done
  for r in $(seq 1 "$RUNS"); do
    (cd "$OUT" && cargo clean -q -p "$v")
    read -r w c <<< "$(timed "$v")"
    clean+=("$w" "$c")
  done
  report "$v" incremental "${incr[@]}"
  report "$v" clean "${clean[@]}"
done
