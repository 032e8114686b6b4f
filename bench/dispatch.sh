#!/usr/bin/env bash
# Dispatch end to end: trivial jobs (/bin/true) through HTTP to completion, vramq next to the
# seed article's FastAPI service (the same wrk client and request against /run-script) and the
# machine's spawn ceiling (../shared/peers/raw_spawn). Medians of RUNS runs of SECONDS each.
# With BASELINE_BIN=path/to/an/older/vramq, that build is measured beside it in the same run
# (e.g. the last build before a change: git worktree add /tmp/base REV && make -C /tmp/base build).
# DATA_BASE=/dev/shm puts the data directories on tmpfs (default: /tmp, with the rest): on a disk
# where creating a file is slow (this VM's ext4, without a journal, skips recently deleted inodes
# at ~0.3 ms a file) the three files a run creates (its directory, its two logs) bury the rest.
# SPAWNS: processes per spawn-ceiling run (20000; the smoke test in make test uses fewer).
# Usage: [BASELINE_BIN=...] [DATA_BASE=...] [SPAWNS=N] bench/dispatch.sh [SECONDS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
SECONDS_PER_RUN=${1:-5}
RUNS=${2:-3}
PEERS=../shared/peers
TMP=$(mktemp -d)
DATA=$(mktemp -d -p "${DATA_BASE:-$TMP}")
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP" "$DATA"' EXIT
command -v wrk >/dev/null || { echo "dispatch: wrk missing (apt-get install wrk)"; exit 1; }

gcc -O2 -o "$TMP/spawn_loop" "$PEERS/raw_spawn/spawn_loop.c"
cp "$PEERS/seed_fastapi/main.py" "$PEERS/seed_fastapi/pynvml.py" "$TMP/"


# One wrk run -> "req_per_s p50_ms p99_ms"
measure() {  # url script connections
  wrk -t2 -c"$3" -d"${SECONDS_PER_RUN}s" --latency -s "$2" "$1" 2>/dev/null | awk '
    /Requests\/sec/ {rps=$2}
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    $1=="50%" {p50=ms($2)} $1=="99%" {p99=ms($2)}
    END {printf "%s %.2f %.2f\n", rps, p50, p99}'
}

report() {  # name url script connections
  local rps=() p50=() p99=()
  for _ in $(seq "$RUNS"); do
    read -r r a b < <(measure "$2" "$3" "$4")
    rps+=("$r"); p50+=("$a"); p99+=("$b")
  done
  printf "| %s | %s | %s | %s | %s |\n" "$1" "$4" \
    "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p50[@]}" | median)" \
    "$(printf '%s\n' "${p99[@]}" | median)"
}

echo "dispatch: $(date -u +%FT%TZ), $(nproc) cores, ${SECONDS_PER_RUN}s x ${RUNS} runs per row, data in $(df --output=fstype "$DATA" | tail -1) ($DATA)"
echo "| target | clients | jobs/s (median) | p50 ms | p99 ms |"
echo "| --- | --- | --- | --- | --- |"
for k in 8 64; do
  spawn=$(for _ in $(seq "$RUNS"); do "$TMP/spawn_loop" "${SPAWNS:-20000}" "$k" | awk '{print $4}' | sed 's/.*=//'; done | median)
  printf "| spawn ceiling (posix_spawn /bin/true, no HTTP) | %s in flight | %s | - | - |\n" "$k" "$spawn"
done

VPORT=$(free_port)
build/vramq serve --stop-jobs-on-exit --gpus sim:24GiB --allow-raw-commands --default-vram-mb 0 --queue-max 100000 \
  --listen "127.0.0.1:$VPORT" --data-dir "$DATA/vramq-data" > "$TMP/vramq.log" 2>&1 &
wait_up "http://127.0.0.1:$VPORT/healthz"

if [ -n "${BASELINE_BIN:-}" ]; then
  BPORT=$(free_port)
  "$BASELINE_BIN" serve --gpus sim:24GiB --allow-raw-commands --default-vram-mb 0 \
    --queue-max 100000 --listen "127.0.0.1:$BPORT" --data-dir "$DATA/baseline-data" \
    > "$TMP/baseline.log" 2>&1 &
  wait_up "http://127.0.0.1:$BPORT/healthz"
fi

SPORT=$(free_port)
# 8 slots: (8 x 2048 + 1024) MiB free, 2048 MiB per run; a queue large enough not to refuse.
# `exec`: the background job *is* uvicorn, so that the EXIT trap's kill reaches it (a subshell
# around it would be killed alone and leave uvicorn running).
(cd "$TMP" && FAKE_FREE_VRAM_MB=17408 MODEL_VRAM_REQUIRED=2048 QUEUE_MAX_SIZE=1000 \
  exec /usr/bin/python3 -m uvicorn main:app --port "$SPORT" --log-level warning > "$TMP/seed.log" 2>&1) &
wait_up "http://127.0.0.1:$SPORT/docs"

for c in 8 64; do
  report "vramq POST /run-script" "http://127.0.0.1:$VPORT/run-script" bench/run_script.lua "$c"
  if [ -n "${BASELINE_BIN:-}" ]; then  # the same rows, so that both data dirs grow alike
    report "baseline POST /run-script" "http://127.0.0.1:$BPORT/run-script" bench/run_script.lua "$c"
  fi
  report "seed POST /run-script" "http://127.0.0.1:$SPORT/run-script" bench/run_script.lua "$c"
  report "vramq POST /v1/jobs?wait=30" "http://127.0.0.1:$VPORT" bench/jobs_wait.lua "$c"
  if [ -n "${BASELINE_BIN:-}" ]; then
    report "baseline POST /v1/jobs?wait=30" "http://127.0.0.1:$BPORT" bench/jobs_wait.lua "$c"
  fi
done
