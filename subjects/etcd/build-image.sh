#!/usr/bin/env bash
# Builds chaosplay/etcd:local offline from Debian's etcd-server and etcd-client, at the paths
# of the official image (/usr/local/bin/etcd, /usr/local/bin/etcdctl).
#   subjects/etcd/build-image.sh [--force]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
exec "$here/../scratch-image.sh" "$@" "${ETCD_IMAGE:-chaosplay/etcd:local}" \
  "$(command -v etcd):/usr/local/bin/etcd" "$(command -v etcdctl):/usr/local/bin/etcdctl"
