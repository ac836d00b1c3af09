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
for i in 1 2 3 4 5 6 7 8 9; do
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
# Round robin (A B C A B C …), so machine noise hits every side alike; medians compared.
python3 - "$bin" "$work/kill.toml" "$sock" "$api" <<'PY'
import statistics, subprocess, sys, time
bin, playbook, sock, api = sys.argv[1:]
c = "benchcp-etcd1-1"
sides = {
    "chaosplay run (kill + start steps)": [bin, "run", "-q", playbook],
    "docker CLI (kill; start)": ["sh", "-c", f"docker kill {c} >/dev/null && docker start {c} >/dev/null"],
    "raw Engine API (curl kill; start)": ["sh", "-c", f"curl -sf --unix-socket {sock} -X POST http://localhost/v{api}/containers/{c}/kill && curl -sf --unix-socket {sock} -X POST http://localhost/v{api}/containers/{c}/start"],
}
times = {k: [] for k in sides}
for i in range(17):
    for name, cmd in sides.items():
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        if i >= 2:  # warm-up rounds
            times[name].append((time.perf_counter() - t) * 1000)
med = {k: statistics.median(v) for k, v in times.items()}
for k, v in med.items():
    print(f"{k}: median {v:.1f} ms over {len(times[k])} runs")
cp, cli, raw = med.values()
print(f"chaosplay / docker CLI: {cp/cli:.2f}x; chaosplay - raw API: {cp-raw:+.1f} ms")
PY
