# shellcheck shell=bash
# Shared setup for the bench/ scripts; sourced, not run. Every function is idempotent and
# quick when there is nothing to do, so each section script can also be run on its own.
#
# Exports for bench/drive.py: BENCH_BIN, BENCH_VENV, BENCH_ROUNDS, BENCH_WARMUP,
# CHAOSPLAY_STATE_DIR; and BENCH_OUT, the directory the sections write their JSON into.

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(dirname "$bench_dir")
compose_file=$repo_dir/subjects/etcd/docker-compose.yaml

export BENCH_BIN=$repo_dir/target/release/chaosplay
export BENCH_VENV=$bench_dir/.venv
export BENCH_OUT=${BENCH_OUT:-$bench_dir/.out/latest}
# 9 measured rounds after 1 warm-up; --quick (BENCH_QUICK=1) only checks that all works.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  export BENCH_ROUNDS=${BENCH_ROUNDS:-3} BENCH_WARMUP=${BENCH_WARMUP:-1}
else
  export BENCH_ROUNDS=${BENCH_ROUNDS:-9} BENCH_WARMUP=${BENCH_WARMUP:-1}
fi
# The benchmark's own undo ledger, on the same file system as the default one (fsync costs the
# same), so it never meets the ledgers of real runs or of the tests.
export CHAOSPLAY_STATE_DIR=$bench_dir/.out/state
# Only these compose projects, and host ports 24500-24599, belong to the benchmark; other work
# on the same engine uses other names and ports.
bench_projects=(benchkl benchcp benchdc benchft)

log() { printf '== %s\n' "$*" >&2; }

# apt_install PACKAGE...: installs the Debian packages that are missing (one update, one install).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing from Debian: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_release() {
  log "building chaosplay (release)"
  (cd "$repo_dir" && cargo build --release --quiet)
}

# The engine and the offline etcd image (both idempotent and fast when already there).
ensure_docker() {
  bash "$repo_dir/.ci/ensure-docker" >&2
  "$repo_dir/subjects/etcd/build-image.sh" >&2
}

# A Python for the venv: chaostoolkit's newest releases need >= 3.12, so prefer one (pyenv's,
# where there is one), else the system's python3 with the last chaostoolkit for it (the pins
# in compare/requirements.txt carry both).
pick_python() {
  local p
  for p in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3; do
    if "$p" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
      command -v "$p" || echo "$p"
      return
    fi
  done
  command -v python3
}

# bench/.venv with the pinned Chaos Toolkit, python-on-whales and httpx; rebuilt only when the
# pins or the interpreter change.
ensure_venv() {
  local req=$bench_dir/compare/requirements.txt python stamp
  python=$(pick_python)
  stamp="$("$python" -c 'import sys; print(sys.version)' | head -1) $(sha256sum "$req" | cut -c1-16)"
  if [ -x "$BENCH_VENV/bin/chaos" ] && [ "$(cat "$BENCH_VENV/.stamp" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  log "creating $BENCH_VENV with $python"
  rm -rf "$BENCH_VENV"
  if ! "$python" -m venv "$BENCH_VENV" 2>/dev/null; then
    apt_install python3-venv # Debian splits venv/ensurepip out of python3
    rm -rf "$BENCH_VENV"
    "$python" -m venv "$BENCH_VENV"
  fi
  "$BENCH_VENV/bin/pip" install -q -r "$req"
  echo "$stamp" >"$BENCH_VENV/.stamp"
}

# Removes the benchmark's clusters: killed first, since the data goes anyway and a graceful
# stop of a whole etcd cluster is slow (subjects/etcd/README.md).
down_projects() {
  local p
  for p in "${bench_projects[@]}"; do
    [ -n "$(docker ps -aq --filter "label=com.docker.compose.project=$p")" ] || continue
    ETCD_IMAGE=chaosplay/etcd:local docker-compose -p "$p" -f "$compose_file" kill >/dev/null 2>&1 || true
    ETCD_IMAGE=chaosplay/etcd:local docker-compose -p "$p" -f "$compose_file" down -v >/dev/null 2>&1 || true
    # Containers of the project that are no service of the etcd file (benchft's target).
    docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f >/dev/null
  done
}

# build_porcupine WORK: builds Porcupine's test binary from ../shared/porcupine (beside the
# checkout; its source is not in this repository) in WORK, offline with Debian's golang-go,
# with bench/porcupine/*_test.go added to its package; prints the binary's path (nothing when
# Porcupine is absent). Its tests read WORK/porcupine/test_data/{jepsen,kv}: the repository's
# copies of the histories, tests/fixtures/histories.
build_porcupine() {
  local work=$1 src
  src=$(cd "$repo_dir/.." && pwd)/shared/porcupine
  if [ ! -f "$src/checker.go" ]; then
    log "Porcupine is absent ($src): timing chaosplay alone"
    return
  fi
  log "building Porcupine from $src (offline)"
  cp -r "$src" "$work/porcupine"
  chmod -R u+w "$work/porcupine"
  cp "$bench_dir"/porcupine/*_test.go "$work/porcupine/"
  rm -rf "$work/porcupine/test_data"
  mkdir "$work/porcupine/test_data"
  ln -s "$repo_dir/tests/fixtures/histories/jepsen-etcd" "$work/porcupine/test_data/jepsen"
  ln -s "$repo_dir/tests/fixtures/histories/kv" "$work/porcupine/test_data/kv"
  (cd "$work/porcupine" && GOFLAGS=-mod=mod GOPROXY=off GOCACHE=$work/gocache \
    go test -c -o "$work/porcupine.test" .) >&2
  echo "$work/porcupine.test"
}
