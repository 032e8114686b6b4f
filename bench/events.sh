#!/usr/bin/env bash
# What the live view costs (issue 13). Three servers side by side, the same submit storm (64
# connections of durable POST /v1/jobs that stay queued, as bench/submits.sh) with /healthz
# measured by 4 more clients meanwhile:
#   off: --event-ring-size 0 (nothing published);  on, 0 listeners: events published, nobody
#   reads them;  on, 50 listeners: 50 `curl -N /v1/events` each reading every event.
# Each run starts fresh servers; rows give the medians over RUNS runs; RSS is the server's at the
# end of a run (with its listeners still attached).
# Usage: bench/events.sh [SECONDS] [RUNS] [LISTENERS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
SECONDS_PER_RUN=${1:-5}
RUNS=${2:-3}
LISTENERS=${3:-50}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; pkill -f "/bin/sleep 3600" || true; rm -rf "$TMP"' EXIT

one_run() {  # name ring listeners -> appends "rps healthz_p99 rss_mib events_read_mib" to $TMP/name
  local name=$1 ring=$2 listeners=$3 port pid url
  port=$(free_port)
  url="http://127.0.0.1:$port"
  rm -rf "$TMP/data"
  build/vramq serve --stop-jobs-on-exit --gpus sim:2GiB --vram-buffer-mb 0 --allow-raw-commands \
    --default-vram-mb 2048 --queue-max 10000000 --event-ring-size "$ring" \
    --listen "127.0.0.1:$port" --data-dir "$TMP/data" > "$TMP/vramq.log" 2>&1 &
  pid=$!
  wait_up "$url/healthz"
  local curls=()
  for i in $(seq "$listeners"); do
    curl -sN "$url/v1/events" > "$TMP/listener.$i" &
    curls+=($!)
  done
  sleep 0.5
  wrk_measure "$url/healthz" "" 4 1 "$SECONDS_PER_RUN" > "$TMP/healthz.txt" &
  local hz=$!
  read -r rps _ _ < <(wrk_measure "$url/v1/jobs" bench/submit.lua 64 2 "$SECONDS_PER_RUN")
  wait "$hz" || true
  local p99
  read -r _ _ p99 < "$TMP/healthz.txt"
  local rss
  rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  local read_mib=0
  if [ "$listeners" -gt 0 ]; then
    read_mib=$(du -cm "$TMP"/listener.* | tail -1 | cut -f1)
  fi
  kill "${curls[@]}" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -f "$TMP"/listener.*
  echo "$rps $p99 $rss $read_mib" >> "$TMP/$name"
}

echo "events: $(date -u +%FT%TZ), $(nproc) cores, ${SECONDS_PER_RUN}s x ${RUNS} runs, ${LISTENERS} listeners"
for _ in $(seq "$RUNS"); do
  one_run off 0 0
  one_run on0 10000 0
  one_run onN 10000 "$LISTENERS"
done
col() { awk -v c="$2" '{print $c}' "$TMP/$1" | median; }
base=$(col off 1)
echo "| server | submits/s (median) | vs off | /healthz p99 ms under the storm | RSS MiB at the end | events read, MiB (all listeners) |"
echo "| --- | --- | --- | --- | --- | --- |"
for n in off on0 onN; do
  case $n in off) label="events off (--event-ring-size 0)";; on0) label="events on, 0 listeners";;
    onN) label="events on, $LISTENERS listeners";; esac
  printf "| %s | %s | %.2fx | %s | %s | %s |\n" "$label" "$(col $n 1)" \
    "$(echo "$(col $n 1) / $base" | bc -l)" "$(col $n 2)" "$(col $n 3)" "$(col $n 4)"
done
