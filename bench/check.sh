#!/usr/bin/env bash
# The checker benchmark of issue #17: `chaosplay check` against Porcupine (the Go
# linearizability checker) on the same recorded histories, on this machine, in one run.
# Writes $BENCH_OUT/check.json.
#   bench/check.sh        # part of bench/run.sh (section `check`); runs on its own too
#
# Porcupine's source is not in this repository: it is built from ../shared/porcupine (beside
# the checkout) into a temporary directory with Debian's golang-go, offline. Without it, only
# chaosplay is timed. The histories are the repository's copy, tests/fixtures/histories.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
apt_install time golang-go
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || ensure_release
mkdir -p "$BENCH_OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
histories=$repo_dir/tests/fixtures/histories

porcupine=$(build_porcupine "$work")
python3 - "$BENCH_BIN" "$porcupine" "$work/porcupine" "$histories" "$BENCH_OUT/check.json" <<'PY'
import glob, json, os, resource, statistics, subprocess, sys, time
binary, porcupine, porcupine_dir, histories, out = sys.argv[1:]
rounds = int(os.environ.get("BENCH_ROUNDS", 9)) * 2
warmup = 3
jepsen = sorted(glob.glob(f"{histories}/jepsen-etcd/*.log"))
kv = sorted(glob.glob(f"{histories}/kv/*.txt"))
comparisons = {
    "jepsen": ([binary, "check", *jepsen], ["-test.run", "TestEtcdJepsen", "-test.parallel", "1"]),
    "kv": ([binary, "check", *kv], ["-test.run", "TestKv[0-9]", "-test.parallel", "1"]),
}
# chaosplay exits 1 (some histories are not linearizable, as they should be); Porcupine's
# tests exit 0 when every verdict is the expected one.
expected = {"chaosplay": 1, "porcupine": 0}

def run(side, cmd, cwd=None):
    """Wall and CPU (user + sys) seconds of one process, from spawn to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != expected[side]:
        sys.exit(f"bench: {' '.join(cmd[:3])}… exited {done.returncode}: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu

def rss(cmd, cwd=None):
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], cwd=cwd,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return int(done.stderr.decode().strip().splitlines()[-1])

result = {"rounds": rounds, "warmup": warmup, "load_before": os.getloadavg()[0], "sections": {}}
for name, (ours, theirs) in comparisons.items():
    sides = {"chaosplay": (ours, None)}
    if porcupine:
        sides["porcupine"] = ([porcupine, *theirs], porcupine_dir)
    figures = {side: {"wall_s": [], "cpu_s": []} for side in sides}
    order = list(sides)
    for r in range(warmup + rounds):
        for side in order[r % len(order):] + order[:r % len(order)]:
            wall, cpu = run(side, *sides[side])
            if r >= warmup:
                figures[side]["wall_s"].append(wall)
                figures[side]["cpu_s"].append(cpu)
    for side, (cmd, cwd) in sides.items():
        figures[side]["rss_kb"] = rss(cmd, cwd)
    result["sections"][name] = figures
    line = []
    for side, f in figures.items():
        w = f["wall_s"]
        line.append(f"{side} {statistics.median(w) * 1000:.1f} ms [{min(w) * 1000:.1f}-{max(w) * 1000:.1f}] "
                    f"(cpu {statistics.median(f['cpu_s']) * 1000:.1f} ms), peak RSS {f['rss_kb'] / 1024:.1f} MiB")
    if porcupine:
        ratio = statistics.median(figures["chaosplay"]["wall_s"]) / statistics.median(figures["porcupine"]["wall_s"])
        line.append(f"ratio {ratio:.3f}× (goal ≤ 0.5×)")
    print(f"  {name}: " + "; ".join(line))
result["load_after"] = os.getloadavg()[0]
json.dump(result, open(out, "w"), indent=1)
print(f"  load average (1 min) before/after: {result['load_before']:.2f} / {result['load_after']:.2f}")
PY
