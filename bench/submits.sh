#!/usr/bin/env bash
# Durable submits and responsiveness under load. vramq gets one 2 GiB simulated GPU, no buffer,
# and raw jobs of 2 GiB: the first job holds the GPU, everything after it stays queued, so each
# 202 is pure submit (validate, group-committed SQLite row, queue). Compared in the same run with
# vramq's own GET /healthz. Then /healthz and /v1/gpus p99 (4 clients) while a submit storm runs.
# Usage: bench/submits.sh [SECONDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
SECONDS_PER_RUN=${1:-5}
RUNS=${2:-3}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; pkill -f "/bin/sleep 3600" || true; rm -rf "$TMP"' EXIT

port=$(free_port)
URL="http://127.0.0.1:$port"
build/vramq serve --stop-jobs-on-exit --gpus sim:2GiB --vram-buffer-mb 0 --allow-raw-commands --default-vram-mb 2048 \
  --queue-max 10000000 --listen "127.0.0.1:$port" --data-dir "$TMP/data" > "$TMP/vramq.log" 2>&1 &
wait_up "$URL/healthz"

measure() {  # path script connections threads seconds -> "rps p50 p99"
  wrk_measure "$URL$1" "$2" "$3" "$4" "$5"
}
row() {  # name path script
  local r=() a=() b=()
  for _ in $(seq "$RUNS"); do
    read -r x y z < <(measure "$2" "$3" 64 2 "$SECONDS_PER_RUN")
    r+=("$x"); a+=("$y"); b+=("$z")
  done
  printf "| %s | 64 | %s | %s | %s |\n" "$1" "$(printf '%s\n' "${r[@]}" | median)" \
    "$(printf '%s\n' "${a[@]}" | median)" "$(printf '%s\n' "${b[@]}" | median)"
}
queued() { curl -s "$URL/readyz" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["queued"])'; }

echo "submits: $(date -u +%FT%TZ), $(nproc) cores, ${SECONDS_PER_RUN}s x ${RUNS} runs per row"
echo "| target | connections | req/s (median) | p50 ms | p99 ms |"
echo "| --- | --- | --- | --- | --- |"
row "GET /healthz (static responder)" /healthz ""
row "POST /v1/jobs, durable 202" /v1/jobs bench/submit.lua
echo "queued after the submit runs: $(queued)"
echo
echo "responsiveness: 4 clients on a read endpoint while 64 connections submit"
echo "| endpoint | queued at start | p50 ms | p99 ms |"
echo "| --- | --- | --- | --- |"
for path in /healthz /v1/gpus; do
  start_q=$(queued)
  wrk -t1 -c64 -d"$((SECONDS_PER_RUN + 2))s" -s bench/submit.lua "$URL/v1/jobs" > /dev/null 2>&1 &
  storm=$!
  sleep 1
  read -r _ p50 p99 < <(measure "$path" "" 4 1 "$SECONDS_PER_RUN")
  wait "$storm" || true
  printf "| %s | %s | %s | %s |\n" "$path" "$start_q" "$p50" "$p99"
done
echo "queued at the end: $(queued); vramq RSS: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' /proc/$(pgrep -f "vramq serve --stop-jobs-on-exit --gpus sim:2GiB" | head -1)/status)"
