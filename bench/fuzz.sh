#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS on its corpus (tests/fuzz/corpus/TARGET/, grown in place
# with the inputs that reach new code) and reports executions per target and any crash. A crash
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
for target in "$@"; do
  corpus=tests/fuzz/corpus/$target
  artifacts=$build/artifacts/$target/
  mkdir -p "$corpus" "$artifacts"
  log=$build/$target.log
  "$build/$target" "$corpus" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$artifacts" -max_len=65536 -timeout=10 -rss_limit_mb=4096 > "$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  rate=$(( ${execs:-0} / seconds ))
  crashes=$(find "$artifacts" -type f | wc -l)
  files=$(find "$corpus" -type f | wc -l)
  echo "| $target | $seconds | ${execs:-?} | $rate | $files | $crashes |" >> "$report"
  if [ $rc -ne 0 ] || [ "$crashes" -ne 0 ]; then
    echo "fuzz: $target stopped (exit $rc) with $crashes crash input(s) in $artifacts; see $log" >&2
    status=1
  fi
done
cat "$report"
exit $status
