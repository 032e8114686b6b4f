#!/usr/bin/env bash
# Submit-to-start latency on an idle simulated GPU: see bench/start_latency.py.
# Usage: [BASELINE_BIN=...] [DATA_BASE=...] bench/start_latency.sh [RUNS]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/start_latency.py "$@"
