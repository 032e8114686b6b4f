#!/usr/bin/env bash
# Submit-to-start latency and jobs/s through Slurm vs the local executor: see bench/slurm.py.
# Usage: bench/slurm.sh [N] [RUN_S] [POLL_MS]   (defaults 40 0.5 200; needs root for the cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/slurm.py "$@"
