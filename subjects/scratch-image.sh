#!/usr/bin/env bash
# Builds a Docker image offline from binaries on this machine: FROM scratch, each binary with
# every library `ldd` names (and the dynamic loader), plus Debian's static busybox as /bin/sh,
# wget and the other applets healthchecks and `docker.exec` use. No registry is contacted.
#
#   subjects/scratch-image.sh [--force] [--entrypoint PATH] [--label K=V]... TAG SOURCE:DEST...
#
# Idempotent: the image carries a label with the hash of its inputs and is rebuilt only when
# they change (or with --force).
set -euo pipefail

force=0
entrypoint=
labels=()
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1; shift ;;
    --entrypoint) entrypoint=$2; shift 2 ;;
    --label) labels+=("$2"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -ge 2 ] || { echo "usage: $0 [--force] [--entrypoint PATH] [--label K=V]... TAG SOURCE:DEST..." >&2; exit 2; }
tag=$1; shift

busybox=/bin/busybox
if [ ! -x "$busybox" ] || ! "$busybox" --list >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi

hash=$( { for pair in "$@"; do sha256sum "${pair%%:*}"; echo "${pair#*:}"; done; sha256sum "$busybox"; echo "$entrypoint ${labels[*]:-}"; } | sha256sum | cut -c1-16)
if [ $force = 0 ] && [ "$(docker image inspect -f '{{index .Config.Labels "chaosplay.inputs"}}' "$tag" 2>/dev/null)" = "$hash" ]; then
  echo "$tag is up to date"
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/bin" "$ctx/root/tmp"
chmod 1777 "$ctx/root/tmp"
cp "$busybox" "$ctx/root/bin/busybox"
for applet in sh ash wget cat ls ps kill sleep echo true false mkdir rm grep head tail nc date id hostname; do
  ln -sf busybox "$ctx/root/bin/$applet"
done
for pair in "$@"; do
  src=${pair%%:*}; dest=${pair#*:}
  mkdir -p "$ctx/root$(dirname "$dest")"
  cp "$src" "$ctx/root$dest"
  # Dynamic libraries and the loader, at the paths the binary expects them.
  for lib in $(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' || true); do
    mkdir -p "$ctx/root$(dirname "$lib")"
    cp -L "$lib" "$ctx/root$lib"
  done
done
{
  echo "FROM scratch"
  echo "COPY root/ /"
  echo "ENV PATH=/usr/local/bin:/usr/bin:/bin"
  echo "LABEL chaosplay.inputs=\"$hash\""
  for label in "${labels[@]}"; do echo "LABEL ${label%%=*}=\"${label#*=}\""; done
  if [ -n "$entrypoint" ]; then echo "ENTRYPOINT [\"$entrypoint\"]"; fi
} > "$ctx/Dockerfile"
# The classic builder needs nothing from a registry for FROM scratch.
docker build -q -t "$tag" "$ctx" >/dev/null 2> >(grep -v -e DEPRECATED -e buildx -e BuildKit -e docs.docker.com -e '^ *$' >&2 || true)
echo "built $tag ($(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1/1e6}'))"
