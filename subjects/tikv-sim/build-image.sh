#!/usr/bin/env bash
# Builds the tikv-sim image (TEST EQUIPMENT, not TiKV) offline: no base image is pulled.
#
#   subjects/tikv-sim/build-image.sh [--force]
#
# Builds the simulator with the workspace's release build (scripts/lib.sh: build_release, the
# same command scripts/try runs, so after it this is a no-op) and packs it with
# ../scratch-image.sh: FROM scratch, the binary at /bin/tikv-sim (the entrypoint), the
# libraries ldd names, and Debian's static busybox for healthchecks. Rebuilt only when the
# binary changes (or with --force). Environment: TIKV_SIM_IMAGE (default
# chaosplay/tikv-sim:local), CARGO_TARGET_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
force=()
for arg in "$@"; do
  case "$arg" in
    --force) force=(--force) ;;
    *) echo "build-image.sh: unknown argument $arg (usage: build-image.sh [--force])" >&2; exit 2 ;;
  esac
done
# Not `-p tikv-sim` alone: that resolves tokio, clap, serde_json… with the simulator's features
# only and rebuilds them next to chaosplay's (about 1.5 min on 2 cores).
(cd "$root" && source scripts/lib.sh && build_release --quiet)
bin="${CARGO_TARGET_DIR:-$root/target}/release/tikv-sim"
exec "$here/../scratch-image.sh" "${force[@]}" \
  --entrypoint /bin/tikv-sim \
  --label "org.opencontainers.image.title=tikv-sim" \
  --label "org.opencontainers.image.description=TEST EQUIPMENT, not TiKV: simulated PD + TiKV for chaosplay" \
  "${TIKV_SIM_IMAGE:-chaosplay/tikv-sim:local}" "$bin:/bin/tikv-sim"
