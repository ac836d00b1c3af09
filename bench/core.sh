#!/usr/bin/env bash
# Interpreter benchmarks (issue: core runner). Prints a table; figures go in bench/RESULTS.md.
#   bench/run.sh            # builds --release, installs hyperfine if missing
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hyperfine >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
fi
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
cargo build --release --quiet
bin=target/release/chaosplay
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 bench/gen.py validate 500 "$work/validate-1000.toml"   # 500 pairs = 1,000 steps
python3 bench/gen.py run 10000 "$work/run-10000.toml"
python3 bench/gen.py run 1 "$work/run-1.toml"

echo "== validate, 1,000-step playbook (goal < 50 ms)"
hyperfine -N --warmup 3 --runs 20 --export-json "$work/validate.json" \
  "$bin validate $work/validate-1000.toml" | grep -E "Time|Range"

echo "== run, 10,000 cheap steps vs 1 step (goal < 100 µs per step)"
hyperfine -N --warmup 1 --runs 5 --export-json "$work/run.json" \
  "$bin run -q --seed 1 $work/run-1.toml" \
  "$bin run -q --seed 1 $work/run-10000.toml" | grep -E "Time|Range"
python3 - "$work/run.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
one, many = r[0]["median"], r[1]["median"]
print(f"per-step overhead: {(many - one) / 9999 * 1e6:.1f} µs (median of runs, 1-step run subtracted)")
PY

echo "== peak RSS (goal < 30 MB)"
for f in validate-1000 run-10000; do
  cmd=run; [ "$f" = validate-1000 ] && cmd=validate
  kb=$( { /usr/bin/time -f '%M' "$bin" $cmd $( [ $cmd = run ] && echo -q ) "$work/$f.toml" >/dev/null; } 2>&1 | tail -1 )
  echo "$f: $((kb / 1024)) MB"
done
