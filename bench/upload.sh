#!/usr/bin/env bash
# Uploads (issue 25): one job with a file of SIZE MiB sent as multipart/form-data, RUNS times.
# The server streams it to disk: its peak resident memory (VmHWM) must not grow with the file.
# Prints the upload's time and MB/s (curl, until the job has run and answered) and the server's
# VmHWM before and after. Usage: bench/upload.sh [SIZE_MIB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
SIZE_MIB=${1:-512}
RUNS=${2:-3}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$TMP"' EXIT
cat > "$TMP/tasks.toml" <<'TOML'
[tasks.size]
argv = ["/bin/sh", "-c", "wc -c < \"$1\"", "sh", "{blob}"]
[tasks.size.params]
blob = { type = "file" }
[tasks.size.vram]
base_mb = 100
TOML
head -c $((SIZE_MIB << 20)) /dev/urandom > "$TMP/blob.bin"
port=$(free_port)
URL="http://127.0.0.1:$port"
build/vramq serve --gpus sim:24GiB --tasks "$TMP/tasks.toml" --max-upload-bytes $(((SIZE_MIB + 1) << 20)) \
  --listen "127.0.0.1:$port" --data-dir "$TMP/data" > "$TMP/vramq.log" 2>&1 &
server=$!
wait_up "$URL/healthz"
hwm() { awk '/VmHWM/ {print $2 " kB"}' "/proc/$server/status"; }
echo "server VmHWM before: $(hwm)"
for run in $(seq "$RUNS"); do
  t=$( { /usr/bin/time -f "%e" curl -sf -o "$TMP/out.json" \
           -F 'job={"task":"size"};type=application/json' -F "blob=@$TMP/blob.bin" \
           "$URL/v1/jobs?wait=300"; } 2>&1 )
  bytes=$(/usr/bin/python3 -c "import json; print(json.load(open('$TMP/out.json'))['output'].strip())")
  [ "$bytes" = "$((SIZE_MIB << 20))" ] || { echo "run $run: the job saw $bytes bytes"; exit 1; }
  echo "run $run: $SIZE_MIB MiB in $t s ($(/usr/bin/python3 -c "print(round($SIZE_MIB * 1.048576 / $t))") MB/s); server VmHWM $(hwm)"
done
