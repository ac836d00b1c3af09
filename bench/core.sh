#!/usr/bin/env bash
# Core runner benchmarks (items 1 and 5 of the issue, without Docker): validation of a
# 1,000-step playbook, the interpreter's overhead per step, peak RSS. Writes $BENCH_OUT/core.json.
#   bench/core.sh        # part of bench/run.sh; runs on its own too
set -euo pipefail
source "$(dirname "$0")/lib.sh"
apt_install hyperfine time
[ "${BENCH_SKIP_BUILD:-0}" = 1 ] || ensure_release
mkdir -p "$BENCH_OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=$BENCH_BIN

python3 "$bench_dir/gen.py" validate 500 "$work/validate-1000.toml" # 500 pairs = 1,000 steps
python3 "$bench_dir/gen.py" run 10000 "$work/run-10000.toml"
python3 "$bench_dir/gen.py" run 1 "$work/run-1.toml"

runs=20 long=5
[ "${BENCH_QUICK:-0}" = 1 ] && runs=5 long=2

log "validate, 1,000-step playbook (goal < 50 ms)"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/validate.json" \
  "$bin validate $work/validate-1000.toml" | grep -E "Time|Range" >&2

# The per-step cost is the slope between a 1-step and a 10,000-step run, so process start,
# parsing of the small file and exit cancel out.
log "run, 10,000 cheap steps vs 1 step (goal < 100 µs per step)"
hyperfine -N --warmup 1 --runs "$long" --export-json "$work/run.json" \
  "$bin run -q --seed 1 $work/run-1.toml" \
  "$bin run -q --seed 1 $work/run-10000.toml" | grep -E "Time|Range" >&2

log "peak RSS (goal < 30 MB)"
rss() { { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -1; }
rss_validate=$(rss "$bin" validate "$work/validate-1000.toml")
rss_run=$(rss "$bin" run -q "$work/run-10000.toml")

python3 - "$work" "$rss_validate" "$rss_run" "$BENCH_OUT/core.json" <<'PY'
import json, sys
work, rss_v, rss_r, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
v = json.load(open(f"{work}/validate.json"))["results"][0]
one, many = json.load(open(f"{work}/run.json"))["results"]
core = {
    "validate_1000_ms": v["median"] * 1000,
    "validate_1000_stddev_ms": v["stddev"] * 1000,
    "run_1_ms": one["median"] * 1000,
    "run_10000_ms": many["median"] * 1000,
    "per_step_us": (many["median"] - one["median"]) / 9999 * 1e6,
    "rss_validate_1000_kb": rss_v,
    "rss_run_10000_kb": rss_r,
}
json.dump(core, open(out, "w"), indent=1)
print(f"  validate 1,000 steps {core['validate_1000_ms']:.1f} ms; run 1 step {core['run_1_ms']:.1f} ms, "
      f"10,000 steps {core['run_10000_ms']:.1f} ms: {core['per_step_us']:.1f} µs per step; "
      f"peak RSS {rss_v / 1024:.1f} MiB (validate), {rss_r / 1024:.1f} MiB (run 10,000)")
PY
