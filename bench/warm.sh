#!/usr/bin/env bash
# Warm workers vs a process per run (vramq and the seed's design) and the latency a warm worker
# adds: see bench/warm.py. Usage: bench/warm.sh [RUNS] [LOAD_S] [RUN_S]   (defaults 200 3 0.2)
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/warm.py "$@"
