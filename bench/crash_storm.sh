#!/usr/bin/env bash
# Crash storm (bench/crash_storm.py): kill -9 of the server at random moments for N cycles while
# 4 clients submit with Idempotency-Key. Usage: bench/crash_storm.sh [CYCLES]   (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/crash_storm.py "${1:-100}"
