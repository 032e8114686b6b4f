#!/usr/bin/env bash
# Where dispatch's CPU goes: one vramq under wrk's `/run-script` load (/bin/true jobs) while
# `perf record -a -g` samples the whole machine; prints jobs/s, the CPU share of each command
# (vramq, vramq-supervise, the job) and the system calls that cost the most in the server and
# the supervisors. DATA_BASE: the data directory's parent (default /tmp).
# Usage: [DATA_BASE=...] bench/dispatch_profile.sh [CLIENTS] [SECONDS]   (defaults 8 6)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
CLIENTS=${1:-8}
SECONDS_SAMPLED=${2:-6}
command -v perf >/dev/null || { echo "dispatch_profile: perf missing (apt-get install linux-perf)"; exit 1; }
TMP=$(mktemp -d)
DATA=$(mktemp -d -p "${DATA_BASE:-$TMP}")
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP" "$DATA"' EXIT
PORT=$(free_port)
build/vramq serve --stop-jobs-on-exit --gpus sim:24GiB --allow-raw-commands --default-vram-mb 0 \
  --queue-max 100000 --listen "127.0.0.1:$PORT" --data-dir "$DATA/data" > "$TMP/vramq.log" 2>&1 &
wait_up "http://127.0.0.1:$PORT/healthz"
URL="http://127.0.0.1:$PORT/run-script"
wrk -t2 -c"$CLIENTS" -d2s -s bench/run_script.lua "$URL" > /dev/null  # warm up
wrk -t2 -c"$CLIENTS" -d"$((SECONDS_SAMPLED + 4))s" -s bench/run_script.lua "$URL" > "$TMP/wrk.txt" &
sleep 2
perf record -a -F 499 -g -o "$TMP/perf.data" -- sleep "$SECONDS_SAMPLED" > /dev/null 2>&1
wait %2 2>/dev/null || true
echo "$(grep Requests/sec "$TMP/wrk.txt") ($CLIENTS clients, data in $(df --output=fstype "$DATA" | tail -1))"
echo "-- CPU by command:"
perf report -i "$TMP/perf.data" --sort comm --stdio --no-children -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -5
for comm in vramq vramq-supervise; do
  echo "-- $comm, by system call (share of all CPU, callees included):"
  perf report -i "$TMP/perf.data" --comm "$comm" --sort sym --stdio --children -g none 2>/dev/null |
    grep -E '__x64_sys|exc_page_fault' | head -8
done
