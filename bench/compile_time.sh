#!/usr/bin/env bash
# Incremental compile time of a 100-handler namespace, after editing one handler, in debug:
# socketio-ns (`#[namespace]`, with and without declared outgoing events and the TypeScript
# export) against socketioxide (100 `socket.on` closures). See BENCHMARKS.md ("Compile time").
#
#   bench/compile_time.sh            # every variant, RUNS=3 rebuilds each, medians printed
#   VARIANTS="ns sx" RUNS=5 bench/compile_time.sh
#
# Variants: `ns` (string emits), `ns_typed` (`emits = ...` and `--features typescript`, the
# types derived for TypeScript and the .d.ts rendered by `main`), `sx` (socketioxide 0.18).
# The apps are generated into bench/compile/ (git-ignored), built once, then handler 50's body
# is edited RUNS times and `cargo build -j 1` timed. CARGO_TARGET_DIR defaults to
# bench/compile/target.
set -euo pipefail
cd "$(dirname "$0")"
BENCH=$PWD
ROOT=$(cd .. && pwd)
OUT=$BENCH/compile
RUNS=${RUNS:-3}
VARIANTS=${VARIANTS:-"ns ns_typed sx"}
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
gen_ns() { # $1 = dir, $2 = typed (0/1)
  local dir=$OUT/$1 typed=$2
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
      echo '#[derive(Default)] pub struct App { count: u32 }'
      echo '#[namespace("/app", emits = AppEvents)]'
    else
      echo '#[derive(Default)] pub struct App { count: u32 }'
      echo '#[namespace("/app")]'
    fi
    echo 'impl App {'
    for i in $(seq 0 $((N - 1))); do
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
    echo '#[tokio::main]'
    echo 'async fn main() {'
    [ "$typed" = 1 ] && echo '    print!("{}", socketio_ns::typescript::render::<App>().unwrap());'
    echo '    let _ = Server::builder().namespace::<App>().build();'
    echo '}'
  } > "$dir/src/main.rs"
}

# --- socketioxide ------------------------------------------------------------------------------
gen_sx() {
  local dir=$OUT/sx
  mkdir -p "$dir/src"
  cat > "$dir/Cargo.toml" <<TOML
[package]
name = "sx"
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
    echo 'fn on_connect(socket: SocketRef) {'
    echo '    let count = Arc::new(AtomicU32::new(0));'
    for i in $(seq 0 $((N - 1))); do
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
    echo '#[tokio::main]'
    echo 'async fn main() {'
    echo '    let (_layer, io) = SocketIo::new_layer();'
    echo '    io.ns("/app", async |s: SocketRef| on_connect(s));'
    echo '}'
  } > "$dir/src/main.rs"
}

for v in $VARIANTS; do
  case $v in
    ns) gen_ns ns 0 ;;
    ns_typed) gen_ns ns_typed 1 ;;
    sx) gen_sx ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# Wall time is what a developer waits; on a shared machine, the CPU time (user + sys of cargo
# and rustc) is the steadier figure. Both are printed, medians of RUNS rebuilds.
for v in $VARIANTS; do
  (cd "$OUT" && cargo build -q -j 1 -p "$v")
  walls=() cpus=()
  for r in $(seq 1 "$RUNS"); do
    # Edit handler 50's body: change a literal in its code.
    sed -i -E "s|\+ [0-9]+; // edit-50\$|+ $r$RANDOM; // edit-50|" "$OUT/$v/src/main.rs"
    TIMEFORMAT='%R %U %S'
    t=$( { time (cd "$OUT" && cargo build -q -j 1 -p "$v") ; } 2>&1 | tail -1)
    read -r wall user sys <<< "$t"
    walls+=("$wall")
    cpus+=("$(echo "$user + $sys" | bc)")
  done
  printf '%-9s wall %s (median %s s)  cpu %s (median %s s)\n' "$v" "${walls[*]}" \
    "$(printf '%s\n' "${walls[@]}" | median)" "${cpus[*]}" "$(printf '%s\n' "${cpus[@]}" | median)"
done
