#!/usr/bin/env bash
# Apply + undo of chaosplay's faults against the raw call that does the same, side by side in
# one run (bench/drive.py `faults`, one function per fault in FAULTS): docker.limit vs
# `docker update` / POST /containers/{id}/update; process.signal vs `docker top` + kill;
# docker.stress vs a stress-ng helper made by hand with --cgroup-parent; disk.fill (of a 16 MiB
# tmpfs in the target, never the real disk) vs fallocate + rm through /proc/<pid>/root;
# disk.throttle vs writing the cgroup's blkio file by hand (Docker's update ignores blkio
# rates, so there is no docker CLI or Engine API call to compare with). chaosplay is timed
# twice: the whole process (`run -q` of a one-step playbook, its cleanup undoing the fault) and,
# from its report, the fault's step plus its verified undo.
# Writes $BENCH_OUT/faults.json. Uses compose project benchft (container benchft-db-1, helper
# benchft-stress), no host port. Needs root (process.signal, docker.stress).
#   bench/faults.sh      # part of bench/run.sh; runs on its own too
set -euo pipefail
source "$(dirname "$0")/lib.sh"
apt_install curl
ensure_docker
"$repo_dir/scripts/build-stress-image.sh" >&2
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || ensure_release
mkdir -p "$BENCH_OUT" "$CHAOSPLAY_STATE_DIR"
trap down_projects EXIT

log "apply + undo of each fault: chaosplay vs docker CLI vs raw API"
python3 "$bench_dir/drive.py" faults "$BENCH_OUT"
