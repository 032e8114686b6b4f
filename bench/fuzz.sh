#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS on a working copy of its corpus (BUILD/corpus/TARGET/,
# seeded from tests/fuzz/corpus/TARGET/), then merges back into the repository's corpus only the
# inputs that reach code it did not (so that it stays small), and reports executions per target
# and any crash. With FUZZ_PARALLEL=N, N targets run at once. A crash
# leaves its input in BUILD/artifacts/TARGET/: copy it into the corpus (it becomes a test that
# `make test` replays) and fix the bug.
# Usage: bench/fuzz.sh BUILD SECONDS TARGET...
set -uo pipefail
build=$1
seconds=$2
shift 2
report=$build/fuzz-report.md
{
  echo "| target | seconds | executions | exec/s | corpus | crashes |"
  echo "| --- | --- | --- | --- | --- | --- |"
} > "$report"
status=0
started=$build/.fuzz-started
touch "$started"
run_one() {  # target
  local target=$1 corpus=tests/fuzz/corpus/$1 work=$build/corpus/$1 artifacts=$build/artifacts/$1/
  local log=$build/$1.log
  mkdir -p "$corpus" "$work" "$artifacts"
  cp -n "$corpus"/* "$work"/ 2>/dev/null || true
  "$build/$target" "$work" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts" -max_len=65536 -timeout=10 -rss_limit_mb=4096 > "$log" 2>&1
  echo $? > "$build/$target.rc"
  "$build/$target" -merge=1 "$corpus" "$work" > "$build/$target.merge.log" 2>&1 || true
}
pids=()
for target in "$@"; do
  run_one "$target" &
  pids+=($!)
  if [ ${#pids[@]} -ge "${FUZZ_PARALLEL:-1}" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
wait
for target in "$@"; do
  log=$build/$target.log
  rc=$(cat "$build/$target.rc")
  artifacts=$build/artifacts/$target/
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  rate=$(( ${execs:-0} / seconds ))
  crashes=$(find "$artifacts" -type f -newer "$started" | wc -l)  # this run's only
  files=$(find "tests/fuzz/corpus/$target" -type f | wc -l)
  echo "| $target | $seconds | ${execs:-?} | $rate | $files | $crashes |" >> "$report"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    echo "fuzz: $target stopped (exit $rc) with $crashes crash input(s) in $artifacts; see $log" >&2
    status=1
  fi
done
cat "$report"
exit $status
