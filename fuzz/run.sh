#!/usr/bin/env bash
# Runs every fuzz target (or those named) one after the other, each for a given time and/or
# number of executions, and reports per target the executions and coverage that libFuzzer
# prints in its final stats. The corpus of each target stays in fuzz/corpus/<target>, so every
# run goes on where the last one stopped.
#
#   fuzz/run.sh [-t SECONDS] [-r RUNS] [-s SANITIZER] [-o REPORT] [TARGET...]
#
#   -t SECONDS   time per target (libFuzzer -max_total_time; 0 = no limit); default 60
#   -r RUNS      executions per target (libFuzzer -runs; -1 = no limit); default -1
#   -s SANITIZER cargo-fuzz sanitizer (address, none, ...); default none: the code is
#                unsafe-free, so this finds panics and assertion failures, ~3x faster
#   -o REPORT    also write the table to REPORT
#
# Both limits may be given: a target stops at the first one reached. Example, as run for
# fuzz/README.md: `nice -n 15 fuzz/run.sh -t 0 -r 10000000`. Set CARGO_BUILD_JOBS to bound
# the build. Exit status: 0 if every target ran clean; 1 if any crashed (the input is in
# fuzz/artifacts/<target>/, the log in fuzz/logs/<target>.log), and the others still run.
set -euo pipefail

seconds=60
runs=-1
sanitizer=none
report=
while getopts "t:r:s:o:h" opt; do
    case $opt in
        t) seconds=$OPTARG ;;
        r) runs=$OPTARG ;;
        s) sanitizer=$OPTARG ;;
        o) report=$OPTARG ;;
        *) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

# cargo-fuzz works from the repository root (it finds ./fuzz).
cd "$(dirname "$0")/.."
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# libFuzzer's instrumentation needs nightly-only flags; this unlocks them on stable.
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

mkdir -p fuzz/logs
for target in "${targets[@]}"; do
    cargo fuzz build -s "$sanitizer" "$target" >/dev/null 2>fuzz/logs/build.log \
        || { cat fuzz/logs/build.log >&2; exit 1; }
done

table=$(printf '%-16s %12s %10s %8s %8s %10s %8s %s\n' \
    target executions exec/s cov ft corpus seconds result)
status=0
for target in "${targets[@]}"; do
    log=fuzz/logs/$target.log
    mkdir -p "fuzz/corpus/$target"
    start=$(date +%s)
    result=ok
    cargo fuzz run -s "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 \
        >"$log" 2>&1 || { result=CRASH; status=1; }
    elapsed=$(( $(date +%s) - start ))
    # The last status line: "#N DONE cov: C ft: F corp: U/SIZE ... exec/s: E ...".
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    field() { sed -nE "s/.*$1 ([^ ]+).*/\\1/p" <<<"$last"; }
    execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log" | tail -n 1)
    speed=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log" | tail -n 1)
    line=$(printf '%-16s %12s %10s %8s %8s %10s %8s %s' "$target" "${execs:-?}" \
        "${speed:-?}" "$(field cov:)" "$(field ft:)" "$(field corp:)" "$elapsed" "$result")
    echo "$line"
    table+=$'\n'"$line"
    [ "$result" = ok ] || grep -E 'panicked|Test unit written|SUMMARY' "$log" >&2 || true
done

echo
echo "$table"
if [ -n "$report" ]; then
    printf '%s\n' "$table" >"$report"
fi
exit $status
