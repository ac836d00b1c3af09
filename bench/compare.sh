#!/usr/bin/env bash
# chaosplay vs Chaos Toolkit vs a python-on-whales + httpx script (items 1, 2, 4 and 5 of the
# issue): validation of the equivalent experiments, and kill -> wait-unhealthy -> start ->
# wait-healthy on the etcd subject (total, tool overhead, detection latency, peak RSS).
# Writes $BENCH_OUT/validate.json and kill.json. Uses compose project benchkl, ports 24500-24502.
#   bench/compare.sh     # part of bench/run.sh; runs on its own too
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_venv
ensure_docker
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || ensure_release
mkdir -p "$BENCH_OUT" "$CHAOSPLAY_STATE_DIR"
trap down_projects EXIT

log "validate: chaosplay validate vs chaos validate (goal: >= 40x faster)"
python3 "$bench_dir/drive.py" validate "$BENCH_OUT"
log "kill -> wait-unhealthy -> start -> wait-healthy (goal: tool overhead <= 10 ms)"
python3 "$bench_dir/drive.py" kill "$BENCH_OUT"
