#!/usr/bin/env bash
# Docker backend benchmarks (issue: Docker backend), on the offline etcd subject.
#   1. compose.reset of the etcd cluster vs `docker-compose down -v && docker-compose up -d`
#      plus polling every member's /health (goal: <= 0.4x the compose time).
#   2. kill + start of one container: chaosplay (one process, two steps) vs the docker CLI vs
#      the raw Engine API with curl (goal: no slower than the raw API + 5 ms).
# Sides alternate (A B A B) and medians are compared.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/ensure-docker >/dev/null
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
command -v docker-compose >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
cargo build --release --quiet
bin=$PWD/target/release/chaosplay
subjects/etcd/build-image.sh >/dev/null
work=$(mktemp -d)
compose=$PWD/subjects/etcd/docker-compose.yaml
export ETCD_IMAGE=chaosplay/etcd:local
cleanup() {
  docker-compose -p benchcp -f "$compose" down -v >/dev/null 2>&1 || true
  docker-compose -p benchdc -f "$compose" down -v >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/reset.toml" <<TOML
[scenario]
name = "bench-reset"
[subject]
compose = "$compose"
project = "benchcp"
[[steps]]
uses = "compose.reset"
timeout = "2m"
TOML

# docker-compose's reset, with the same readiness: every member answers /health with true.
cat > "$work/compose-reset.sh" <<'SH'
#!/usr/bin/env bash
set -e
docker-compose -p benchdc -f "$1" down -v >/dev/null 2>&1
ETCD0_PORT=23795 ETCD1_PORT=23796 ETCD2_PORT=23797 docker-compose -p benchdc -f "$1" up -d >/dev/null 2>&1
for port in 23795 23796 23797; do
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" | grep -q '"health":"true"' && break
    sleep 0.05
  done
done
SH
chmod +x "$work/compose-reset.sh"

# Both start from a running cluster, as a scenario's reset does.
"$bin" run -q "$work/reset.toml" >/dev/null
"$work/compose-reset.sh" "$compose"

echo "== reset of the etcd cluster (goal: chaosplay <= 0.4x docker-compose)"
for i in 1 2 3 4 5; do
  a=$( { /usr/bin/time -f %e "$bin" run -q "$work/reset.toml" >/dev/null; } 2>&1 | tail -1 )
  b=$( { /usr/bin/time -f %e "$work/compose-reset.sh" "$compose"; } 2>&1 | tail -1 )
  echo "$a $b"
done > "$work/reset.txt"
python3 - "$work/reset.txt" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
a = statistics.median(r[0] for r in rows); b = statistics.median(r[1] for r in rows)
print(f"chaosplay compose.reset: median {a:.2f} s   docker-compose down -v + up + /health: median {b:.2f} s   ratio {a/b:.2f}x")
PY

echo "== kill + start of one container (goal: chaosplay <= raw API + 5 ms)"
cat > "$work/kill.toml" <<TOML
[scenario]
name = "bench-kill"
[subject]
project = "benchcp"
[[steps]]
uses = "docker.kill"
with = { container = "benchcp-etcd1-1" }
[[steps]]
uses = "docker.start"
with = { container = "benchcp-etcd1-1" }
TOML
sock=/var/run/docker.sock
api=$(docker version --format '{{.Server.APIVersion}}')
hyperfine -N --warmup 2 --runs 15 --export-json "$work/kill.json" \
  "$bin run -q $work/kill.toml" \
  "sh -c 'docker kill benchcp-etcd1-1 >/dev/null && docker start benchcp-etcd1-1 >/dev/null'" \
  "sh -c 'curl -sf --unix-socket $sock -X POST http://localhost/v$api/containers/benchcp-etcd1-1/kill && curl -sf --unix-socket $sock -X POST http://localhost/v$api/containers/benchcp-etcd1-1/start'" \
  | grep -E "Time|±" || true
python3 - "$work/kill.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
cp, cli, raw = (x["median"] * 1000 for x in r)
print(f"medians: chaosplay {cp:.1f} ms, docker CLI {cli:.1f} ms, raw API (curl) {raw:.1f} ms")
print(f"chaosplay vs docker CLI: {cp/cli:.2f}x; chaosplay - raw API: {cp-raw:+.1f} ms (includes chaosplay's process start, playbook load, version negotiation and container lookup)")
PY
