#!/usr/bin/env bash
# The real-GPU check (issue 5): on a machine with an NVIDIA GPU, driver and nvcc, build a tiny
# CUDA program, start vramq --gpus nvml, and check readings, attribution, peak, enforcement and an
# out-of-memory retry on the real device. Not part of `make test` (no GPU there).
# usage: tests/gpu/check_real_gpu.sh [VRAMQ_BINARY]
# On a GPU machine without C++20 toolchain or packages: build vramq elsewhere and copy it with the
# shared libraries `ldd build/vramq` lists (boost_json, boost_url, sqlite3, spdlog, fmt, tomlplusplus),
# then run this with LD_LIBRARY_PATH pointing at them.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=$(realpath "${1:-build/vramq}")
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT

nvidia-smi
nvcc -O2 -o "$TMP/hold_vram" tests/gpu/hold_vram.cu
"$BIN" serve --gpus nvml --allow-raw-commands --listen 127.0.0.1:0 --data-dir "$TMP/data" \
  --gpu-poll-ms 200 --vram-grace-ms 1000 > "$TMP/vramq.log" 2>&1 &
url=""
for _ in $(seq 100); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$TMP/vramq.log" | head -1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$TMP/vramq.log"; exit 1; }
rc=0
python3 tests/gpu/check_real_gpu.py "$url" "$TMP/hold_vram" || rc=$?
echo "--- vramq log"
cat "$TMP/vramq.log"
exit $rc
