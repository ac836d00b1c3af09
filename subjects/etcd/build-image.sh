#!/usr/bin/env bash
# Builds the etcd image offline from Debian's etcd-server and etcd-client (etcd 3.4.23 on
# Debian 12), with the binaries at the official image's paths (/usr/local/bin/etcd,
# /usr/local/bin/etcdctl). No registry is contacted: it is a FROM scratch image made by
# ../scratch-image.sh (the binaries, every library `ldd` names plus the loader, busybox).
#
#   subjects/etcd/build-image.sh [--force] [TAG]
#
# TAG defaults to $ETCD_IMAGE, else chaosplay/etcd:local. Fast and idempotent: without
# --force nothing is built when the image exists with the same inputs.
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
tag=${tag:-${ETCD_IMAGE:-chaosplay/etcd:local}}

# A local build must not pose as a registry image (e.g. ETCD_IMAGE=quay.io/coreos/etcd:...).
first=${tag%%/*}
if [ "$first" != "$tag" ] && { [[ $first == *[.:]* ]] || [ "$first" = localhost ]; }; then
  echo "error: refusing to tag a local build as $tag, which names a registry image;" \
    "pass a local tag (e.g. chaosplay/etcd:local)" >&2
  exit 2
fi

etcd=/usr/bin/etcd       # package etcd-server
etcdctl=/usr/bin/etcdctl # package etcd-client
if [ ! -x "$etcd" ] || [ ! -x "$etcdctl" ]; then
  echo "installing etcd-server and etcd-client"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
fi

before=$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
"$here/../scratch-image.sh" "${force[@]}" "$tag" \
  "$etcd:/usr/local/bin/etcd" "$etcdctl:/usr/local/bin/etcdctl"
after=$(docker image inspect -f '{{.Id}}' "$tag")

# A new image must run: the loader, libc and both binaries are where they should be.
if [ "$after" != "$before" ]; then
  if ! out=$(docker run --rm --network none --entrypoint /usr/local/bin/etcd "$tag" --version 2>&1) ||
    ! docker run --rm --network none --entrypoint /usr/local/bin/etcdctl "$tag" version >/dev/null 2>&1; then
    echo "error: $tag was built but etcd/etcdctl do not run in it:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$tag: $(echo "$out" | head -1)"
fi
