#!/usr/bin/env bash
# Docker backend benchmarks (item 3 of the issue), on the offline etcd subject:
#   1. compose.reset of the cluster vs docker-compose (down -v, up -d, every member's /health
#      true), also with `docker-compose kill` first (goal: <= 0.4x docker-compose);
#   2. kill + start of one container: chaosplay (one process) vs the docker CLI vs the raw
#      Engine API with curl.
# Writes $BENCH_OUT/reset.json and rawkill.json. Uses compose projects benchcp, benchdc and
# benchkl, host ports 24500-24522.
#   bench/docker.sh      # part of bench/run.sh; runs on its own too
set -euo pipefail
source "$(dirname "$0")/lib.sh"
apt_install docker-compose curl
ensure_docker
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || ensure_release
mkdir -p "$BENCH_OUT" "$CHAOSPLAY_STATE_DIR"
trap down_projects EXIT

log "reset of the etcd cluster: chaosplay vs docker-compose (goal: <= 0.4x)"
python3 "$bench_dir/drive.py" reset "$BENCH_OUT"
log "kill + start of one container: chaosplay vs docker CLI vs raw API"
python3 "$bench_dir/drive.py" rawkill "$BENCH_OUT"
