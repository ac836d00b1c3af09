#!/usr/bin/env bash
# Builds a container image of chaosplay itself, offline (no base image is pulled): FROM scratch,
# the binary at /usr/local/bin/chaosplay (the entrypoint), the libraries `ldd` names and the
# dynamic loader, Debian's CA bundle (for https:// in http.request) and Debian's static busybox
# (/bin/sh and the applets `exec` steps commonly use). Packed by subjects/scratch-image.sh, as
# the subjects' images are; rebuilt only when an input changes (or with --force).
#
#   scripts/build-image.sh [--binary PATH] [--force] [TAG]
#
# TAG defaults to $CHAOSPLAY_IMAGE or chaosplay:local. Without --binary it runs the workspace's
# release build (scripts/lib.sh: build_release) and packs target/release/chaosplay; with
# --binary it packs that file as it is, stripped of debug info first (tests/image.rs packs the
# debug binary `cargo test` has just built, so the test builds nothing else).
#
# Use it with the engine's socket mounted, the working tree at the same path as on the host
# (compose bind mounts are resolved by the engine, on the host) and the host's network (so
# ports published on 127.0.0.1 are reachable):
#
#   docker run --rm -v /var/run/docker.sock:/var/run/docker.sock \
#     -v "$PWD:$PWD" -w "$PWD" --network host chaosplay:local run scenarios/…
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

binary=
force=()
tag=${CHAOSPLAY_IMAGE:-chaosplay:local}
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --force) force=(--force); shift ;;
    -*) echo "build-image.sh: unknown option $1 (usage: build-image.sh [--binary PATH] [--force] [TAG])" >&2; exit 2 ;;
    *) tag=$1; shift ;;
  esac
done

if [ -z "$binary" ]; then
  build_release --quiet
  binary="$(target_dir)/release/chaosplay"
else
  [ -x "$binary" ] || { echo "build-image.sh: $binary is not an executable" >&2; exit 2; }
  # A debug binary is mostly debug info (≈190 MB of 200): packing a stripped copy keeps the
  # build context, the image and the input hash small. Same code, same libraries.
  stripped=$(mktemp -d)
  trap 'rm -rf "$stripped"' EXIT
  objcopy --strip-debug "$binary" "$stripped/chaosplay"
  binary=$stripped/chaosplay
fi

certs=/etc/ssl/certs/ca-certificates.crt
sources=("$binary:/usr/local/bin/chaosplay")
if [ -f "$certs" ]; then
  sources+=("$certs:$certs")
else
  echo "build-image.sh: warning: no $certs (Debian's ca-certificates): https:// will not verify in the image" >&2
fi

# Not exec: the trap above removes the stripped copy afterwards.
subjects/scratch-image.sh "${force[@]}" \
  --entrypoint /usr/local/bin/chaosplay \
  --label "org.opencontainers.image.title=chaosplay" \
  --label "org.opencontainers.image.description=Runs chaos-engineering scenarios from TOML playbooks; mount the Docker socket" \
  --label "org.opencontainers.image.version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)" \
  "$tag" "${sources[@]}"
