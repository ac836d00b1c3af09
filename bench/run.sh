#!/usr/bin/env bash
# The benchmark of issue #7: chaosplay against Chaos Toolkit, a python-on-whales + httpx
# script and docker-compose, on this machine, in one run. Installs what it needs (Debian's
# hyperfine, time, docker-compose and curl; chaostoolkit, python-on-whales and httpx pinned in
# bench/.venv), builds chaosplay, brings up the offline etcd subject, runs the sections and
# prints one table (what, chaosplay, other tool, ratio, goal, met?).
#
#   bench/run.sh [--quick] [--only core,compare,docker,faults,check,hard]
#
# --quick: 3 measured rounds instead of 9 (to check that everything works, not for figures).
# Sections (each also runs alone): core.sh (validation, per-step overhead, peak RSS),
# compare.sh (chaos validate; kill -> unhealthy -> start -> healthy vs Chaos Toolkit and the
# script), docker.sh (reset vs docker-compose; kill + start vs docker CLI and raw API),
# faults.sh (apply + undo of docker.limit, process.signal, docker.stress, disk.fill, disk.throttle vs docker CLI and raw API),
# check.sh (`chaosplay check` vs Porcupine on the recorded histories of issue #17); hard.sh
# (the same on generated concurrent histories, minutes: only with --only hard).
# Raw figures go to bench/.out/<time>/ (the last run is bench/.out/latest), with versions.txt
# and table.md. Docker: compose projects bench* and host ports 24500-24599 only.
set -euo pipefail
started=$SECONDS
only=core,compare,docker,faults,check
while [ $# -gt 0 ]; do
  case $1 in
    --quick) export BENCH_QUICK=1 ;;
    --only) only=${2:?--only needs a list}; shift ;;
    -h | --help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (usage: bench/run.sh [--quick] [--only core,compare,docker,faults,check,hard])" >&2; exit 2 ;;
  esac
  shift
done
here=$(cd "$(dirname "$0")" && pwd)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
export BENCH_OUT=$here/.out/$stamp
source "$here/lib.sh"
mkdir -p "$BENCH_OUT"
ln -sfn "$stamp" "$here/.out/latest"

# Everything installed and built once, up front, so no section's figures include it.
apt_install hyperfine time docker-compose curl
ensure_venv
ensure_docker
ensure_release
export BENCH_SKIP_BUILD=1
trap down_projects EXIT
down_projects # leftovers of an interrupted run

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
  echo "chaosplay: $("$BENCH_BIN" --version 2>/dev/null || echo '?') (commit $(git -C "$repo_dir" rev-parse --short HEAD)$(git -C "$repo_dir" diff --quiet HEAD -- src Cargo.lock || echo ', with uncommitted changes'))"
  echo "rustc: $(rustc --version)"
  echo "docker: engine $(docker version --format '{{.Server.Version}}, API {{.Server.APIVersion}}'), CLI $(docker version --format '{{.Client.Version}}')"
  echo "docker-compose: $(docker-compose version --short 2>/dev/null) (Debian $(dpkg-query -W -f '${Version}' docker-compose))"
  echo "hyperfine: $(hyperfine --version | cut -d' ' -f2)"
  echo "python (venv): $("$BENCH_VENV/bin/python" --version | cut -d' ' -f2)"
  echo "pip (venv): $("$BENCH_VENV/bin/pip" freeze | grep -i -E '^(chaostoolkit|chaostoolkit-lib|python-on-whales|httpx)==' | tr '\n' ' ')"
  echo "rounds: $BENCH_ROUNDS measured after $BENCH_WARMUP warm-up (validate: twice as many, 3 warm-up)"
} | tee "$BENCH_OUT/versions.txt"

IFS=, read -ra sections <<<"$only"
for section in "${sections[@]}"; do
  case $section in
    core | compare | docker | faults | check | hard) log "section: $section"; bash "$here/$section.sh" ;;
    *) echo "unknown section: $section (core, compare, docker, faults, check, hard)" >&2; exit 2 ;;
  esac
done

echo
python3 "$here/drive.py" table "$BENCH_OUT" | tee "$BENCH_OUT/table.md"
echo
echo "raw figures: $BENCH_OUT; took $((SECONDS - started)) s"
