#!/usr/bin/env bash
# Memory after many completed jobs: trivial jobs (/bin/true, POST /v1/jobs?wait=30, 64 wrk
# connections) run to completion in steps; after each step, the number of finished jobs in the
# store, vramq's RSS and its peak RSS. Flat RSS means nothing is kept per finished job in memory.
# Usage: bench/completed_memory.sh [TOTAL_JOBS] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
TOTAL=${1:-1000000}
STEPS=${2:-5}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
command -v wrk >/dev/null || { echo "completed_memory: wrk missing (apt-get install wrk)"; exit 1; }

port=$(free_port)
URL="http://127.0.0.1:$port"
build/vramq serve --stop-jobs-on-exit --gpus sim:24GiB --allow-raw-commands --default-vram-mb 0 \
  --retain-ended 0 --retain-ended-count 0 \
  --listen "127.0.0.1:$port" --data-dir "$TMP/data" > "$TMP/vramq.log" 2>&1 &
pid=$!
wait_up "$URL/healthz"

finished() {
  /usr/bin/python3 -c 'import sqlite3,sys; db=sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True); print(db.execute("SELECT COUNT(*) FROM jobs WHERE finished_at > 0").fetchone()[0])' "$TMP/data/vramq.db"
}
mib() { awk -v k="$1" '$1==k":" {printf "%.1f", $2/1024}' "/proc/$pid/status"; }

echo "completed: $(date -u +%FT%TZ), $(nproc) cores, $TOTAL jobs in $STEPS steps"
echo "| finished jobs | RSS MiB | peak RSS MiB | jobs/s in the step |"
echo "| --- | --- | --- | --- |"
printf "| 0 | %s | %s | - |\n" "$(mib VmRSS)" "$(mib VmHWM)"
done_jobs=0
prev=0
for step in $(seq "$STEPS"); do
  target=$((TOTAL * step / STEPS))
  t0=$(date +%s.%N)
  while [ "$done_jobs" -lt "$target" ]; do
    wrk -t2 -c64 -d10s -s bench/jobs_wait.lua "$URL/v1/jobs?wait=30" > /dev/null 2>&1
    done_jobs=$(finished)
  done
  rate=$(awk -v n="$done_jobs" -v prev="$prev" -v t0="$t0" -v t1="$(date +%s.%N)" \
    'BEGIN {printf "%.0f", (n - prev) / (t1 - t0)}')
  prev=$done_jobs
  printf "| %s | %s | %s | %s |\n" "$done_jobs" "$(mib VmRSS)" "$(mib VmHWM)" "$rate"
done
