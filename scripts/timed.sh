#!/usr/bin/env bash
# scripts/timed.sh LOG NAME COMMAND...: runs COMMAND, appends "NAME SECONDS STATUS" to LOG, and
# exits with COMMAND's status. `make test` prints the log last, so that the end of a CI log
# (all a CI run shows) says where the time went.
set -u
log=$1 name=$2
shift 2
start=$(date +%s)
"$@"
rc=$?
printf '%-14s %5ss%s\n' "$name" "$(( $(date +%s) - start ))" "$([ $rc = 0 ] || echo "  (exit $rc)")" >> "$log"
exit $rc
