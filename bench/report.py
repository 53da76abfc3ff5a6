#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the JSON lines of one `bench/run.sh` session.

    python3 bench/report.py bench/results/<stamp>.jsonl [--out BENCHMARKS.md] [--elapsed S]

The generated part (machine, versions, the tables, the issue's targets met or missed, and
`bench/PROFILE.md`, the notes on what the profiles show) replaces the top of the file. Every
section below the marker line is kept as it was: other scripts' sections (Redis, admin UI,
compile time, ...) and hand-written history. The first time (no marker yet) the sections this
script writes are replaced and every other `## ` section is kept, in order.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from datetime import datetime, timezone

MARKER = "<!-- bench/run.sh (bench/report.py) regenerates everything above this line and keeps everything below it -->"
OWNED = {"Rerun it", "Machine and versions", "Results", "Against the targets"}

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load(path):
    runs = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            v = json.loads(line)
        except ValueError:
            continue
        scen = v.get("scenario", "?")
        if v.get("transport") == "polling":
            scen += "/polling"
        key = (scen, v.get("size"), v.get("label"))
        runs.setdefault(key, []).append(v)
    return runs


def med(runs, scen, size, label, getter):
    vals = []
    for v in runs.get((scen, size, label), []):
        if "error" in v:
            continue
        try:
            x = getter(v)
        except (KeyError, TypeError):
            x = None
        if isinstance(x, (int, float)):
            vals.append(float(x))
    return statistics.median(vals) if vals else None


def rate(v):
    return v["rate"]


def cpu(v):
    return v["server_cpu_s_per_1k_msgs"] * 1000.0


def p50(v):
    return v["lat_us"]["p50"]


def p99(v):
    return v["lat_us"]["p99"]


def rss(v):
    return v["rss_per_conn_bytes"]


def n_ok(runs, scen, size, label):
    rs = runs.get((scen, size, label), [])
    return sum(1 for v in rs if v.get("ok") is True), len(rs)


def fmt(x, unit=""):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        s = f"{x:,.0f}"
    elif abs(x) >= 100:
        s = f"{x:.0f}"
    elif abs(x) >= 10:
        s = f"{x:.1f}"
    else:
        s = f"{x:.2f}"
    return s + unit


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fr(r):
    return "–" if r is None else f"{r:.2f}×"


def sizes(runs, scen):
    return sorted({k[1] for k in runs if k[0] == scen and isinstance(k[1], int)})


def sh(cmd, cwd=ROOT):
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def lock_version(lock, name):
    try:
        text = open(lock).read()
    except OSError:
        return "?"
    m = re.search(r'\[\[package\]\]\nname = "' + re.escape(name) + r'"\nversion = "([^"]+)"', text)
    return m.group(1) if m else "?"


def machine():
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return f"{os.cpu_count()} × {model}, {mem}, Linux {platform.release()}"


def not_ok_notes(runs):
    notes = []
    for (scen, size, label), rs in sorted(runs.items(), key=lambda kv: str(kv[0])):
        bad = [v for v in rs if v.get("ok") is not True]
        if bad:
            why = bad[0].get("error") or ", ".join(
                f"{k}={bad[0][k]}"
                for k in ("received", "expected", "clients_died", "stalled", "connected", "alive_after_hold")
                if k in bad[0]
            )
            notes.append(f"{label}, {scen} {size}: {len(bad)} of {len(rs)} run(s) not ok ({why})")
    return notes


def generate(runs, results_path, elapsed):
    out = []
    w = out.append
    all_runs = [v for rs in runs.values() for v in rs]
    first = all_runs[0] if all_runs else {}
    n_runs = max((len(rs) for k, rs in runs.items()
                  if k[0] != "connect" and not k[0].endswith("/polling")), default=0)
    n_poll = max((len(rs) for k, rs in runs.items() if k[0].endswith("/polling")), default=0)
    window = statistics.median([v["window_s"] for v in all_runs if v.get("scenario") in ("echo", "broadcast") and "window_s" in v] or [0])
    warmup = first.get("warmup_s", "?")
    w("# Benchmarks: socketio-ns against socketioxide, a raw WebSocket server and Node.js")
    w("")
    w("Side by side, in one session, servers alternating run by run, medians. The harness, the servers")
    w("under test and the load generator are in `bench/` (`bench/README.md` says what each figure means")
    w("and how it is measured). Everything down to the marker line below is written by `bench/run.sh`")
    w("(through `bench/report.py`); the sections after it are kept as they were.")
    w("")
    w("## Rerun it")
    w("")
    w("```sh")
    w("bench/run.sh        # builds everything in release, runs every scenario, regenerates this file")
    w("```")
    w("")
    took = f"{elapsed / 60:.1f} minutes of runs" if elapsed else "the runs"
    w(f"This session: {took} plus the builds; results in `bench/results/{os.path.basename(results_path)}`")
    w("(git-ignored). `RUNS`, `DURATION`, `ONLY`, ... are described at the top of the script.")
    w("")
    w("## Machine and versions")
    w("")
    # When the runs ended (the results file's last write) and the code they ran
    # (BENCH_COMMIT when the report is made again later, else HEAD).
    now = datetime.fromtimestamp(os.path.getmtime(results_path), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = os.environ.get("BENCH_COMMIT") or sh(["git", "rev-parse", "--short", "HEAD"]) or "?"
    w(f"- {now}, commit `{commit}`; {machine()}. Client and server share the cores, so **server CPU")
    w("  per 1000 messages** (utime + stime of the server process over the window) is the figure that")
    w("  does not depend on how the cores were shared; throughput is that of client and server together.")
    loads = [float(v["loadavg"]) for v in all_runs if v.get("loadavg")]
    if loads:
        w(f"- Load average during the runs: {min(loads):.1f} to {max(loads):.1f} (other work on the machine")
        w("  counts in it; the CPU figures are per process).")
    rustc = sh(["rustc", "--version"]).split(" (")[0] or "rustc ?"
    lock, block = os.path.join(ROOT, "Cargo.lock"), os.path.join(HERE, "Cargo.lock")
    node = sh(["node", "--version"]) or "?"
    try:
        sio_node = json.load(open(os.path.join(HERE, "servers/node/package.json")))["dependencies"]["socket.io"]
    except (OSError, KeyError, ValueError):
        sio_node = "?"
    w(f"- {rustc}; ours: tokio {lock_version(lock, 'tokio')}, hyper {lock_version(lock, 'hyper')}, "
      f"tokio-tungstenite {lock_version(lock, 'tokio-tungstenite')}; socketioxide "
      f"{lock_version(block, 'socketioxide')} with axum {lock_version(block, 'axum')}; the raw WebSocket")
    w(f"  server: tokio-tungstenite {lock_version(block, 'tokio-tungstenite')}; Node.js {node} with socket.io {sio_node}.")
    poll_runs = f" ({n_poll} for long-polling)" if n_poll and n_poll != n_runs else ""
    w(f"- {n_runs} runs per server and size{poll_runs}, {window:.0f} s windows after {warmup} s of warm-up, "
      f"{first.get('payload_bytes', 64)}-byte string payloads, 16 broadcasts in flight; release builds,")
    w("  127.0.0.1, ping 25 s / 20 s. The load generator speaks Engine.IO v4 over WebSocket, or over")
    w("  long-polling (two keep-alive HTTP connections per client) where the table says so.")
    w("")
    w("## Results")
    w("")

    # ------------------------------------------------------------ echo
    w("### Echo over WebSocket (closed loop, one ack in flight per client)")
    w("")
    w("| clients | metric | ours | socketioxide | raw WS | ours / raw | ours / socketioxide |")
    w("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    echo = {}
    for n in sizes(runs, "echo"):
        o, s, r = (med(runs, "echo", n, l, rate) for l in ("ours", "socketioxide", "raw"))
        w(f"| {n} | acks/s | {fmt(o)} | {fmt(s)} | {fmt(r)} | {fr(ratio(o, r))} | {fr(ratio(o, s))} |")
        o5, s5, r5 = (med(runs, "echo", n, l, p50) for l in ("ours", "socketioxide", "raw"))
        o9, s9, r9 = (med(runs, "echo", n, l, p99) for l in ("ours", "socketioxide", "raw"))
        w(f"| {n} | p50 / p99 µs | {fmt(o5)} / {fmt(o9)} | {fmt(s5)} / {fmt(s9)} | {fmt(r5)} / {fmt(r9)} | | |")
        o, s, r = (med(runs, "echo", n, l, cpu) for l in ("ours", "socketioxide", "raw"))
        echo[n] = (ratio(o, r), ratio(o, s))
        w(f"| {n} | **server CPU ms / 1000 acks** | {fmt(o)} | {fmt(s)} | {fmt(r)} | **{fr(ratio(o, r))}** | **{fr(ratio(o, s))}** |")
    w("")

    # ------------------------------------------------------------ broadcast
    w("### Broadcast over WebSocket (one sender, N receivers)")
    w("")
    w("| receivers | metric | ours | socketioxide | ours / socketioxide |")
    w("| ---: | --- | ---: | ---: | ---: |")
    bcast = {}
    for n in sizes(runs, "broadcast"):
        o, s = (med(runs, "broadcast", n, l, rate) for l in ("ours", "socketioxide"))
        bcast[n] = ratio(o, s)
        w(f"| {n} | **deliveries/s** | {fmt(o)} | {fmt(s)} | **{fr(ratio(o, s))}** |")
        o5, s5 = (med(runs, "broadcast", n, l, p50) for l in ("ours", "socketioxide"))
        o9, s9 = (med(runs, "broadcast", n, l, p99) for l in ("ours", "socketioxide"))
        w(f"| {n} | fan-out latency p50 / p99 µs | {fmt(o5)} / {fmt(o9)} | {fmt(s5)} / {fmt(s9)} | {fr(ratio(o5, s5))} / {fr(ratio(o9, s9))} |")
        o, s = (med(runs, "broadcast", n, l, cpu) for l in ("ours", "socketioxide"))
        w(f"| {n} | server CPU ms / 1000 deliveries | {fmt(o, '')} | {fmt(s)} | {fr(ratio(o, s))} |")
    w("")

    # ------------------------------------------------------------ polling
    w("### Long-polling clients (Engine.IO `transport=polling`, no upgrade)")
    w("")
    w("| scenario | size | metric | ours | socketioxide | Node.js | ours / socketioxide | ours / Node |")
    w("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    poll = {}
    for scen, unit in (("echo/polling", "acks"), ("broadcast/polling", "deliveries")):
        for n in sizes(runs, scen):
            o, s, nd = (med(runs, scen, n, l, rate) for l in ("ours", "socketioxide", "node"))
            w(f"| {scen} | {n} | {unit}/s | {fmt(o)} | {fmt(s)} | {fmt(nd)} | {fr(ratio(o, s))} | {fr(ratio(o, nd))} |")
            o5, s5, n5 = (med(runs, scen, n, l, p50) for l in ("ours", "socketioxide", "node"))
            o9, s9, n9 = (med(runs, scen, n, l, p99) for l in ("ours", "socketioxide", "node"))
            w(f"| {scen} | {n} | p50 / p99 µs | {fmt(o5)} / {fmt(o9)} | {fmt(s5)} / {fmt(s9)} | {fmt(n5)} / {fmt(n9)} | | |")
            o, s, nd = (med(runs, scen, n, l, cpu) for l in ("ours", "socketioxide", "node"))
            poll[(scen, n)] = (ratio(o, s), ratio(o, nd))
            w(f"| {scen} | {n} | **server CPU ms / 1000 {unit}** | {fmt(o)} | {fmt(s)} | {fmt(nd)} | **{fr(ratio(o, s))}** | **{fr(ratio(o, nd))}** |")
    w("")

    # ------------------------------------------------------------ connections
    w("### Connections and idle memory (WebSocket)")
    w("")
    w("| connections | metric | ours | socketioxide | ours / socketioxide |")
    w("| ---: | --- | ---: | ---: | ---: |")
    mem = {}
    scale = None
    for n in sizes(runs, "connect"):
        o, s = (med(runs, "connect", n, l, rate) for l in ("ours", "socketioxide"))
        if o is not None or s is not None:
            w(f"| {n} | connections/s | {fmt(o)} | {fmt(s)} | {fr(ratio(o, s))} |")
        o, s = (med(runs, "connect", n, l, rss) for l in ("ours", "socketioxide"))
        mem[n] = (o, s)
        w(f"| {n} | **RSS per idle connection** | **{fmt(o, ' B')}** | {fmt(s, ' B')} | **{fr(ratio(o, s))}** |")
        idle = med(runs, "connect", n, "ours", lambda v: v["idle_server_cpu_s"])
        idle_w = med(runs, "connect", n, "ours", lambda v: v["idle_window_s"])
        if idle is not None and idle_w and idle_w >= 30:
            scale = (n, o, idle, idle_w)
            w(f"| {n} | server CPU over {idle_w:.0f} idle s | {idle:.2f} s ({100 * idle / idle_w:.2f}% of a core) | | |")
    w("")

    # ------------------------------------------------------------ targets
    def met(ok):
        return "**met**" if ok else "**missed**"

    w("## Against the targets (issue 16)")
    w("")
    w("| target | this session | |")
    w("| --- | --- | --- |")
    for n, (vr, vs) in sorted(echo.items()):
        ok = vr is not None and vs is not None and vr <= 1.10 and vs <= 0.70
        w(f"| echo {n} clients: server CPU per 1000 acks ≤ 1.10× raw WS and ≤ 0.70× socketioxide | {fr(vr)} raw, {fr(vs)} socketioxide | {met(ok)} |")
    for n, r in sorted(bcast.items()):
        if n in (100, 1000):
            w(f"| broadcast {n} receivers: ≥ 1.5× socketioxide's deliveries/s | {fr(r)} | {met(r is not None and r >= 1.5)} |")
        else:
            w(f"| broadcast {n} receivers: run, p50/p99 reported | {fr(r)} of socketioxide's deliveries/s | reported |")
    for (scen, n), (rs, rn) in sorted(poll.items()):
        ok = rs is not None and rn is not None and rs < 1 and rn < 1
        w(f"| {scen} {n}: ours ahead on server CPU per message | {fr(rs)} socketioxide, {fr(rn)} Node | {met(ok)} |")
    if 5000 in mem:
        o, s = mem[5000]
        r = ratio(o, s)
        ok = r is not None and r <= 0.25
        w(f"| idle memory per WebSocket connection at 5,000 ≤ 0.25× socketioxide (about 7 KB) | {fmt(o, ' B')}, {fr(r)} | {met(ok)} |")
    if scale:
        n, o, idle, idle_w = scale
        label = "met" if n >= 50000 else f"**{n:,}, not 50,000**: the open-file hard limit here"
        w(f"| RSS per idle connection at 50,000, next to the 5,000 figure | {fmt(o, ' B')} at {n:,} | {label} |")
        w(f"| server CPU over 60 idle seconds at that scale, no per-connection timer growing it | {idle:.2f} s over {idle_w:.0f} s | reported |")
    w("")
    notes = not_ok_notes(runs)
    if notes:
        w("Runs that were not ok (lost deliveries, dead clients, errors); medians above include only runs")
        w("that produced figures:")
        w("")
        for n in notes:
            w(f"- {n}")
        w("")
    prof = os.path.join(HERE, "PROFILE.md")
    if os.path.exists(prof):
        w(open(prof).read().rstrip())
        w("")
    return "\n".join(out) + "\n"


def kept_sections(old):
    if MARKER in old:
        return old.split(MARKER, 1)[1].lstrip("\n")
    parts = re.split(r"(?m)^(?=## )", old)
    keep = []
    for p in parts[1:]:
        title = p.splitlines()[0][3:].strip()
        if title not in OWNED:
            keep.append(p.rstrip() + "\n")
    return "\n".join(keep)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--elapsed", type=float, default=0)
    a = ap.parse_args()
    runs = load(a.results)
    if not runs:
        print(f"report.py: no results in {a.results}", file=sys.stderr)
        return 1
    old = open(a.out).read() if os.path.exists(a.out) else ""
    text = generate(runs, a.results, a.elapsed) + "\n" + MARKER + "\n\n" + kept_sections(old)
    with open(a.out, "w") as f:
        f.write(text.rstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
