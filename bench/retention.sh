#!/usr/bin/env bash
# Retention under an endless stream of jobs: trivial jobs (/bin/true) submitted as fast as wrk
# can for SECONDS, with --retain-ended-count KEEP (and no age limit), while the data directory's
# size, its database's and its job directories' count are sampled every 5 s. Bounded means: the
# size levels off instead of growing with the number of jobs.
# Usage: bench/retention.sh [SECONDS=600] [KEEP=10000]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
SECONDS_TOTAL=${1:-600}
KEEP=${2:-10000}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
command -v wrk >/dev/null || { echo "retention: wrk missing (apt-get install wrk)"; exit 1; }
cat > "$TMP/true.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/v1/jobs"
wrk.body = '{"command": ["/bin/true"], "vram_mb": 1}'
wrk.headers["Content-Type"] = "application/json"
LUA
port=$(free_port)
build/vramq serve --listen 127.0.0.1:"$port" --data-dir "$TMP/data" --gpus sim:24GiB \
  --gpu-lock-dir "$TMP" --allow-raw-commands --queue-max 2000 --retain-ended 0 \
  --retain-ended-count "$KEEP" --retention-interval-s 5 --stop-jobs-on-exit \
  > "$TMP/server.log" 2>&1 &
server=$!
wait_up "http://127.0.0.1:$port/healthz"
wrk -t2 -c16 -d"${SECONDS_TOTAL}s" -s "$TMP/true.lua" "http://127.0.0.1:$port" > "$TMP/wrk.log" 2>&1 &
load=$!
echo "| s | jobs submitted | ended jobs kept | data dir MiB | vramq.db + wal MiB | job dirs |"
echo "| --- | --- | --- | --- | --- | --- |"
start=$(date +%s)
while kill -0 "$load" 2>/dev/null; do
  sleep 5
  now=$(( $(date +%s) - start ))
  last=$(curl -sf "http://127.0.0.1:$port/v1/jobs?limit=1" | /usr/bin/python3 -c \
    'import json,sys; j=json.load(sys.stdin)["jobs"]; print(j[0]["id"] if j else 0)')
  kept=$(sqlite3 "file:$TMP/data/vramq.db?mode=ro" \
    "SELECT count(*) FROM jobs WHERE state NOT IN ('queued','running')" 2>/dev/null || echo ?)
  # (files vanish under du while retention removes them: what it could count is enough)
  size=$({ du -sm "$TMP/data" 2>/dev/null || true; } | cut -f1)
  db=$({ du -cm "$TMP/data"/vramq.db* 2>/dev/null || true; } | tail -1 | cut -f1)
  dirs=$(ls -U "$TMP/data/jobs" 2>/dev/null | wc -l)
  echo "| $now | $last | $kept | $size | $db | $dirs |"
done
grep -c "retention: removed" "$TMP/server.log" | xargs -I{} echo "retention sweeps logged: {}"
grep "Requests/sec" "$TMP/wrk.log" || true
