#!/usr/bin/env bash
# Builds docker.stress's helper image offline from Debian's stress-ng (0.15.06 on Debian 12):
# FROM scratch, stress-ng with every library `ldd` names, plus busybox for the helper's
# first process (it waits in sh until it is inside the target's control groups). Made by
# subjects/scratch-image.sh; no registry is contacted.
#
#   scripts/build-stress-image.sh [--force] [TAG]
#
# TAG defaults to chaosplay/stress-ng:local, the image docker.stress uses unless its `image`
# says otherwise. Fast and idempotent: nothing is built when the image has the same inputs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

force=()
tag=
for arg in "$@"; do
  case $arg in
    --force) force=(--force) ;;
    -h | --help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "unknown option: $arg (usage: $0 [--force] [TAG])" >&2; exit 2 ;;
    *) [ -z "$tag" ] || { echo "usage: $0 [--force] [TAG]" >&2; exit 2; }; tag=$arg ;;
  esac
done
tag=${tag:-chaosplay/stress-ng:local}

stress=/usr/bin/stress-ng # package stress-ng
if [ ! -x "$stress" ]; then
  echo "installing stress-ng"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng >/dev/null
fi

before=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
"$here/../subjects/scratch-image.sh" "${force[@]}" --label dev.chaosplay.helper=stress \
  "$tag" "$stress:/usr/bin/stress-ng"
after=$(docker image inspect -f '{{.Id}}' "$tag")

# A new image must run: the loader, libc and stress-ng are where they should be.
if [ "$after" != "$before" ]; then
  if ! out=$(docker run --rm --network none --entrypoint /usr/bin/stress-ng "$tag" --version 2>&1); then
    echo "error: $tag was built but stress-ng does not run in it:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$tag: $out"
fi
