#!/usr/bin/env bash
# Builds the tikv-sim image (TEST EQUIPMENT, not TiKV) offline: no base image is pulled.
#
#   subjects/tikv-sim/build-image.sh [--force]
#
# 1. cargo build --release -p tikv-sim (from the repository root, found from this script).
# 2. A FROM scratch image: /bin/tikv-sim, every library ldd names plus the dynamic loader,
#    and Debian's static busybox as /bin/busybox with /bin/sh, /bin/wget, ... linked to it
#    (for healthchecks). busybox-static is installed with apt-get when missing.
# 3. Skipped when the image already carries the binary's sha256 in its label; --force rebuilds.
#
# Environment: TIKV_SIM_IMAGE (default chaosplay/tikv-sim:local), CARGO_TARGET_DIR.
# Prints one line at the end.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
image="${TIKV_SIM_IMAGE:-chaosplay/tikv-sim:local}"
label="org.chaosplay.tikv-sim.sha256"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image.sh: unknown argument $arg (usage: build-image.sh [--force])" >&2; exit 2 ;;
  esac
done

cd "$root"
cargo build --quiet --release --locked -p tikv-sim
bin="${CARGO_TARGET_DIR:-$root/target}/release/tikv-sim"
sha="$(sha256sum "$bin" | cut -d' ' -f1)"

existing="$(docker image inspect -f "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)"
if [[ $force -eq 0 && "$existing" == "$sha" ]]; then
  size="$(docker image inspect -f '{{ .Size }}' "$image")"
  echo "tikv-sim image $image is up to date (binary sha256 ${sha:0:12}, $((size / 1000 / 1000)) MB)"
  exit 0
fi

# A static busybox: the dynamic one of Debian's busybox package would need more libraries.
busybox=/bin/busybox
if ! [[ -x $busybox ]] || ldd "$busybox" >/dev/null 2>&1; then
  echo "installing busybox-static (a static /bin/busybox for healthchecks)" >&2
  apt-get install -y -qq busybox-static >/dev/null
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "build-image.sh: $busybox is not static; install busybox-static" >&2
  exit 1
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"
mkdir -p "$rootfs/bin" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
cp "$bin" "$rootfs/bin/tikv-sim"
strip "$rootfs/bin/tikv-sim" 2>/dev/null || true
# Libraries and the loader at the paths ldd prints (symlinks resolved into files).
ldd "$bin" | grep -o '/[^ ]*' | sort -u | while read -r lib; do
  cp -L --parents "$lib" "$rootfs"
done
cp "$busybox" "$rootfs/bin/busybox"
for tool in sh wget cat ls ps sleep kill env nc; do
  ln -s busybox "$rootfs/bin/$tool"
done

cat >"$context/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
LABEL $label="$sha" \\
      org.opencontainers.image.title="tikv-sim" \\
      org.opencontainers.image.description="TEST EQUIPMENT, not TiKV: simulated PD + TiKV for chaosplay"
ENV PATH=/bin
ENTRYPOINT ["/bin/tikv-sim"]
EOF

# The classic builder needs nothing from a registry for FROM scratch.
previous="$(docker image inspect -f '{{ .Id }}' "$image" 2>/dev/null || true)"
# Its deprecation notice is noise here: show the builder's stderr only when it fails.
if ! DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}" docker build --quiet --tag "$image" "$context" \
  >/dev/null 2>"$context/build.err"; then
  cat "$context/build.err" >&2
  exit 1
fi
# Do not leave the replaced image behind as a dangling one (kept if a container uses it).
if [[ -n $previous && "$previous" != "$(docker image inspect -f '{{ .Id }}' "$image")" ]]; then
  docker image rm "$previous" >/dev/null 2>&1 || true
fi
size="$(docker image inspect -f '{{ .Size }}' "$image")"
echo "built tikv-sim image $image (binary sha256 ${sha:0:12}, $((size / 1000 / 1000)) MB)"
