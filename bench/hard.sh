#!/usr/bin/env bash
# Hard histories (issue #17, "must stay tractable"): `chaosplay check` against Porcupine on
# concurrent register histories that bench/gen_register.py makes, linearizable by
# construction, from 50 to 150 clients on 10 keys (5 to 15 operations in flight per key),
# 20,000 operations each. One process per side per history (they take seconds, not ms), each
# with a 60 s budget; chaosplay with its default 1 GiB memory budget per key. Writes
# $BENCH_OUT/hard.json.
#   bench/hard.sh            # bench/run.sh --only hard; not in the default sections (minutes)
#   HARD_CLIENTS="50 100" HARD_SEEDS="1 2 3" bench/hard.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
apt_install time golang-go
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || ensure_release
mkdir -p "$BENCH_OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
porcupine=$(build_porcupine "$work")

python3 - "$BENCH_BIN" "$porcupine" "$work" "$BENCH_OUT/hard.json" "$bench_dir" <<'PY'
import json, os, re, subprocess, sys, time
binary, porcupine, work, out, here = sys.argv[1:]
clients = [int(c) for c in os.environ.get("HARD_CLIENTS", "50 80 100 120 150").split()]
seeds = [int(s) for s in os.environ.get("HARD_SEEDS", "1 2").split()]

def timed(cmd, env=None):
    """Verdict line, wall seconds and peak RSS (MiB) of one process."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    rss = int(done.stderr.strip().splitlines()[-1]) / 1024
    return done.stdout, wall, rss

rows = []
for n in clients:
    for seed in seeds:
        path = f"{work}/c{n}-s{seed}.jsonl"
        with open(path, "w") as f:
            subprocess.run([sys.executable, f"{here}/gen_register.py", str(n), str(seed), "20000"], stdout=f, check=True)
        text, wall, rss = timed([binary, "check", "--timeout", "60s", path])
        ours = text.split(": ", 1)[1].split(" —")[0].strip()
        row = {"clients": n, "seed": seed, "chaosplay": {"verdict": ours, "wall_s": wall, "rss_mib": rss}}
        if porcupine:
            env = dict(os.environ, HISTORY=path, TIMEOUT="60s")
            text, wall, rss = timed([porcupine, "-test.run", "TestJSONLines", "-test.v"], env)
            theirs = re.search(r"verdict ([a-z ]+),", text).group(1)
            row["porcupine"] = {"verdict": theirs, "wall_s": wall, "rss_mib": rss}
        rows.append(row)
        line = "; ".join(f"{side} {r['verdict']} in {r['wall_s']:.2f} s, {r['rss_mib']:.0f} MiB"
                         for side, r in row.items() if isinstance(r, dict))
        print(f"  {n} clients, seed {seed}: {line}", flush=True)
json.dump({"rows": rows, "load": os.getloadavg()[0]}, open(out, "w"), indent=1)
PY
