#!/usr/bin/env python3
"""Measurement driver for bench/: runs the sides of each comparison in alternation and
writes raw figures as JSON; `table` turns them into the final table.

    drive.py validate OUT   chaosplay validate vs chaos validate (wall time, peak RSS)
    drive.py kill OUT       kill -> wait-unhealthy -> start -> wait-healthy: chaosplay vs
                            Chaos Toolkit vs a python-on-whales + httpx script
    drive.py reset OUT      compose.reset vs docker-compose (down -v, up -d, /health)
    drive.py rawkill OUT    kill + start of one container: chaosplay vs docker CLI vs raw API
    drive.py faults OUT     apply + undo of each fault in FAULTS: chaosplay vs docker CLI vs raw API
    drive.py table DIR      the final table from DIR/*.json (markdown on stdout)

Every child process is timed from spawn to exit with time.perf_counter; peak RSS is measured
in the warm-up rounds through GNU time (the largest of the process and of the children it
waited for). Rounds rotate
the order of the sides (A B C, B C A, …) so drift and noise hit every side alike; warm-up
rounds are discarded; medians are compared. Standard library only, so it runs on any python3.

Environment (set by bench/run.sh via bench/lib.sh): BENCH_BIN (chaosplay), BENCH_VENV,
BENCH_ROUNDS, BENCH_WARMUP, CHAOSPLAY_STATE_DIR; BENCH_BASELINE (optional, set by hand): a
second chaosplay binary timed beside BENCH_BIN in the kill comparison.
"""

import datetime
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
COMPARE = os.path.join(HERE, "compare")
COMPOSE = os.path.join(ROOT, "subjects", "etcd", "docker-compose.yaml")
IMAGE = "chaosplay/etcd:local"

# The kill comparison's cluster: chaosplay brings it up, every side kills the same member.
KILL_PROJECT, KILL_PORTS = "benchkl", (24500, 24501, 24502)
KILL_CONTAINER, KILL_PORT = "benchkl-etcd1-1", 24501
INTERVAL_S = 0.1  # the poll interval on every side (etcd-kill.toml/.json say the same)
# The reset comparison: one project per side, so neither inherits the other's leftovers.
RESET_CP, RESET_CP_PORTS = "benchcp", (24510, 24511, 24512)
RESET_DC, RESET_DC_PORTS = "benchdc", (24520, 24521, 24522)
HEALTH_TIMEOUT_S = 90  # every wait for a healthy cluster is bounded by this
PROCESS_TIMEOUT_S = 300  # and every process the benchmark starts by this


def env_int(name, default):
    return int(os.environ.get(name, default))


BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target", "release", "chaosplay"))
VENV = os.environ.get("BENCH_VENV", os.path.join(HERE, ".venv"))
CHAOS = os.path.join(VENV, "bin", "chaos")
VPYTHON = os.path.join(VENV, "bin", "python")
# Another chaosplay binary (e.g. a build of the commit before a change) timed as one more side
# of the kill comparison, in the same rounds, so a before/after ratio is taken under one load.
BASELINE = os.environ.get("BENCH_BASELINE")
ROUNDS = env_int("BENCH_ROUNDS", 9)
WARMUP = env_int("BENCH_WARMUP", 1)


class Failed(Exception):
    pass


def chaosplay_sides():
    """(side name, binary): chaosplay, and the baseline binary when BENCH_BASELINE names one."""
    return [("chaosplay", BIN)] + ([("chaosplay baseline", BASELINE)] if BASELINE else [])


def spawn(cmd, env=None, cwd=None, rss=False):
    """Runs cmd to completion: (wall seconds, peak RSS in KiB or None). Raises Failed on exit != 0.

    Peak RSS is only measured when asked (warm-up rounds), through GNU time, which adds its own
    fork and exec to the wall time. It cannot come from this process's wait4: a child's peak
    RSS counts the memory of the process that forked it until its exec, i.e. this Python.
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss_file:
        full_env = dict(os.environ, **(env or {}))
        if rss:
            cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *cmd]
        start = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=full_env, cwd=cwd)
        # A blocking wait, bounded by a timer that kills the process: Popen.wait(timeout=…)
        # polls with sleeps that grow to 50 ms, which added 0–50 ms to every measured process
        # (it made chaosplay's overhead look bimodal, 10 or 50 ms).
        killed = threading.Event()

        def kill():
            killed.set()
            p.kill()

        watchdog = threading.Timer(PROCESS_TIMEOUT_S, kill)
        watchdog.start()
        try:
            p.wait()
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - start
        if killed.is_set():
            raise Failed(f"{' '.join(cmd)} still running after {PROCESS_TIMEOUT_S} s: killed")
        if p.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-3000:]
            raise Failed(f"{' '.join(cmd)} exited {p.returncode}:\n{tail}")
        peak = int(rss_file.read().split()[-1]) if rss else None
    return wall, peak


def health(port, timeout=2.0):
    """True if the member on 127.0.0.1:port answers /health with {"health": "true"}."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", "/health")
        body = conn.getresponse().read()
        conn.close()
        return json.loads(body).get("health") == "true"
    except (OSError, ValueError, http.client.HTTPException):
        return False


def wait_healthy(ports, interval=INTERVAL_S, limit=HEALTH_TIMEOUT_S):
    """Polls until every member answers /health true; bounded by `limit` seconds."""
    deadline = time.monotonic() + limit
    pending = list(ports)
    while pending:
        pending = [p for p in pending if not health(p)]
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise Failed(f"ports {pending} not healthy within {limit} s")
        time.sleep(interval)


def rounds_of(sides, rounds=None, warmup=None):
    """Yields (round, is_warmup, side) with the side order rotated every round."""
    rounds = ROUNDS if rounds is None else rounds
    warmup = WARMUP if warmup is None else warmup
    names = list(sides)
    for r in range(warmup + rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            yield r, r < warmup, name


def load():
    return {"load1": os.getloadavg()[0]}


def write(out, name, data, rounds=None, warmup=None):
    data["when"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    data["rounds"] = ROUNDS if rounds is None else rounds
    data["warmup"] = WARMUP if warmup is None else warmup
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump(data, f, indent=1)


def compose_env(ports):
    return {
        "ETCD_IMAGE": IMAGE,
        "ETCD0_PORT": str(ports[0]),
        "ETCD1_PORT": str(ports[1]),
        "ETCD2_PORT": str(ports[2]),
    }


def chaosplay_reset(project, ports, playbook="etcd-reset.toml"):
    """The cluster reset as chaosplay does it (etcd-reset.toml); (wall s, peak RSS KiB)."""
    args = [BIN, "run", "-q", os.path.join(COMPARE, playbook), "--var", f"project={project}"]
    for i, port in enumerate(ports):
        args += ["--var", f"port{i}={port}"]
    return spawn(args)


# --- 1. validate ------------------------------------------------------------------------------


def cmd_validate(out):
    sides = {
        "chaosplay": ([BIN, "validate", os.path.join(COMPARE, "etcd-kill.toml")], None),
        "chaos": (
            [CHAOS, "--no-version-check", "--no-log-file", "validate", os.path.join(COMPARE, "etcd-kill.json")],
            {"PYTHONPATH": COMPARE},
        ),
        # What importing the activity module alone costs (chaos validate imports it).
        "import etcd_actions": ([VPYTHON, "-c", "import etcd_actions"], {"PYTHONPATH": COMPARE}),
    }
    data = {"sides": {k: {"wall_ms": [], "rss_kb": []} for k in sides}, "load_before": load()}
    rounds, warmup = ROUNDS * 2, max(WARMUP, 3)  # cheap: twice the rounds, 3 warm-ups
    for _, warm, name in rounds_of(sides, rounds, warmup):
        cmd, env = sides[name]
        wall, rss = spawn(cmd, env=env, rss=warm)
        if warm:
            data["sides"][name]["rss_kb"].append(rss)
        else:
            data["sides"][name]["wall_ms"].append(wall * 1000)
    data["load_after"] = load()
    write(out, "validate", data, rounds, warmup)
    report(data)


# --- 2 and 4. kill -> wait-unhealthy -> start -> wait-healthy -----------------------------------


# Each parser returns the activities as (name, start s, end s) and the length of the run
# proper in seconds (from the tool's own record; None where it keeps none), so that what the
# tool does outside it (process start, imports, parsing, validation, report) can be told apart.


def activities_chaosplay(path):
    run = json.load(open(path))["runs"][0]
    if run["status"] != "passed":
        raise Failed(f"chaosplay run {run['status']}")
    # Microseconds: the whole-millisecond fields are truncated, which would add 0-1 ms per
    # step to the overhead.
    acts = [
        (s["id"], s["start_us"] / 1e6, (s["start_us"] + s["duration_us"]) / 1e6)
        for s in run["steps"]
    ]
    return acts, run["duration_us"] / 1e6


def lead_tail_ms(acts, run_s):
    """chaosplay's run proper before its first step (engine ping, the project lock's create)
    and after its last one (cleanup, the lock's remove), in ms: step times count from the
    run's start."""
    return acts[0][1] * 1000, (run_s - acts[-1][2]) * 1000


def activities_chaos(path):
    journal = json.load(open(path))
    if journal["status"] != "completed":
        raise Failed(f"chaos run {journal['status']}")
    acts = []
    for r in journal["run"]:
        if r["status"] != "succeeded":
            raise Failed(f"chaos activity {r['activity']['name']} {r['status']}: {r.get('exception')}")
        start = datetime.datetime.fromisoformat(r["start"]).timestamp()
        end = datetime.datetime.fromisoformat(r["end"]).timestamp()
        acts.append((r["activity"]["name"], start, end))
    return acts, journal["duration"]


def activities_script(path):
    return [(a["name"], a["start"], a["end"]) for a in json.load(open(path))["activities"]], None


def cmd_kill(out):
    work = tempfile.mkdtemp(prefix="bench-kill-")
    report_path = os.path.join(work, "out.json")
    py_env = {"PYTHONPATH": COMPARE}
    sides = {
        name: (
            [binary, "run", "-q", os.path.join(COMPARE, "etcd-kill.toml"), "--report-json", report_path],
            None,
            activities_chaosplay,
        )
        for name, binary in chaosplay_sides()
    }
    sides |= {
        # chaostoolkit.log is written as by default; only the version check (a request to the
        # Chaos Toolkit release server, unreachable here) is turned off.
        "chaos": (
            [CHAOS, "--no-version-check", "run", "--journal-path", report_path, os.path.join(COMPARE, "etcd-kill.json")],
            py_env,
            activities_chaos,
        ),
        "python-on-whales": (
            [VPYTHON, os.path.join(COMPARE, "etcd_kill.py"), KILL_CONTAINER, f"http://127.0.0.1:{KILL_PORT}/health", str(INTERVAL_S), report_path],
            py_env,
            activities_script,
        ),
    }
    chaosplay_reset(KILL_PROJECT, KILL_PORTS)
    wait_healthy(KILL_PORTS)
    fields = ("total_ms", "activity_ms", "overhead_ms", "outside_run_ms", "lead_ms", "tail_ms", "detect_ms", "kill_ms", "start_ms", "unhealthy_ms", "healthy_ms", "rss_kb")
    data = {"sides": {k: {f: [] for f in fields} for k in sides}, "load_before": load()}
    for _, warm, name in rounds_of(sides):
        cmd, env, parse = sides[name]
        wait_healthy(KILL_PORTS)  # every side starts from the same healthy cluster
        if os.path.exists(report_path):
            os.remove(report_path)
        wall, rss = spawn(cmd, env=env, cwd=work, rss=warm)
        acts, run_s = parse(report_path)
        names = [a[0] for a in acts]
        if len(acts) != 4:
            raise Failed(f"{name}: expected 4 activities, got {names}")
        dur = [(end - start) * 1000 for _, start, end in acts]
        kill_end, unhealthy_end = acts[0][2], acts[1][2]
        row = {
            "total_ms": wall * 1000,
            "activity_ms": sum(dur),
            "overhead_ms": wall * 1000 - sum(dur),
            "detect_ms": (unhealthy_end - kill_end) * 1000,
            "kill_ms": dur[0],
            "unhealthy_ms": dur[1],
            "start_ms": dur[2],
            "healthy_ms": dur[3],
            "rss_kb": rss,
        }
        if run_s is not None:
            row["outside_run_ms"] = (wall - run_s) * 1000
        if parse is activities_chaosplay:
            row["lead_ms"], row["tail_ms"] = lead_tail_ms(acts, run_s)
        if warm:  # timed through GNU time: only the peak RSS is kept
            data["sides"][name]["rss_kb"].append(rss)
        else:
            for f in fields:
                if f in row and f != "rss_kb":
                    data["sides"][name][f].append(row[f])
    wait_healthy(KILL_PORTS)
    data["load_after"] = load()
    shutil.rmtree(work, ignore_errors=True)
    write(out, "kill", data)
    report(data)


# --- 3. reset ---------------------------------------------------------------------------------


def docker_compose(project, ports, *args):
    cmd = ["docker-compose", "-p", project, "-f", COMPOSE, *args]
    return spawn(cmd, env=compose_env(ports))[0]


def compose_reset(project, ports, kill_first):
    """docker-compose's reset with the same end state; wall seconds to all three healthy."""
    start = time.perf_counter()
    if kill_first:  # what someone who knows the data is wiped anyway would type
        docker_compose(project, ports, "kill")
    docker_compose(project, ports, "down", "-v")
    docker_compose(project, ports, "up", "-d")
    wait_healthy(ports)
    return time.perf_counter() - start


def cmd_reset(out):
    sides = {
        "chaosplay": lambda: chaosplay_reset(RESET_CP, RESET_CP_PORTS)[0],
        # The same, but ready when /health says so, as on the docker-compose side.
        "chaosplay, /health readiness": lambda: chaosplay_reset(RESET_CP, RESET_CP_PORTS, "etcd-reset-health.toml")[0],
        "docker-compose": lambda: compose_reset(RESET_DC, RESET_DC_PORTS, False),
        "docker-compose, kill first": lambda: compose_reset(RESET_DC, RESET_DC_PORTS, True),
    }
    # Every side starts from a running, healthy cluster, as a scenario's reset does.
    chaosplay_reset(RESET_CP, RESET_CP_PORTS)
    compose_reset(RESET_DC, RESET_DC_PORTS, True)
    data = {"sides": {k: {"wall_ms": []} for k in sides}, "load_before": load()}
    for _, warm, name in rounds_of(sides):
        wall = sides[name]()
        if not warm:
            data["sides"][name]["wall_ms"].append(wall * 1000)
    data["load_after"] = load()
    write(out, "reset", data)
    report(data)


# --- kill + start of one container, against the raw Engine API -------------------------------


def cmd_rawkill(out):
    api = subprocess.run(
        ["docker", "version", "--format", "{{.Server.APIVersion}}"], check=True, capture_output=True, text=True
    ).stdout.strip()
    sock, c = "/var/run/docker.sock", KILL_CONTAINER
    playbook = os.path.join(tempfile.mkdtemp(prefix="bench-rawkill-"), "kill-start.toml")
    with open(playbook, "w") as f:
        f.write(
            f'[scenario]\nname = "kill-start"\n[subject]\nproject = "{KILL_PROJECT}"\n'
            f'[[steps]]\nuses = "docker.kill"\nwith = {{ container = "{c}" }}\n'
            f'[[steps]]\nuses = "docker.start"\nwith = {{ container = "{c}" }}\n'
        )
    curl = f"curl -sf --unix-socket {sock} -X POST http://localhost/v{api}/containers/{c}"
    sides = {
        "chaosplay": [BIN, "run", "-q", playbook],
        "docker CLI": ["sh", "-c", f"docker kill {c} >/dev/null && docker start {c} >/dev/null"],
        "raw API (curl)": ["sh", "-c", f"{curl}/kill && {curl}/start"],
    }
    data = {"sides": {k: {"wall_ms": []} for k in sides}, "load_before": load()}
    chaosplay_reset(KILL_PROJECT, KILL_PORTS)
    wait_healthy(KILL_PORTS)
    for _, warm, name in rounds_of(sides):
        wall, _ = spawn(sides[name])
        if not warm:
            data["sides"][name]["wall_ms"].append(wall * 1000)
    wait_healthy(KILL_PORTS)
    data["load_after"] = load()
    shutil.rmtree(os.path.dirname(playbook), ignore_errors=True)
    write(out, "rawkill", data)
    report(data)


# --- apply + undo of one fault, against the raw call -----------------------------------------
# One function per fault (add yours to FAULTS): given the target `t` (its name, its id, and the
# curl prefixes `get`/`post` of the Engine API), it returns a label and its sides, each a
# command that applies the fault once and undoes it: chaosplay (a one-step playbook whose
# cleanup undoes the fault and verifies the undo), the docker CLI, and the Engine API through
# curl. The raw sides get the target's id for free and check nothing.
FAULT_PROJECT, FAULT_TARGET = "benchft", "benchft-db-1"
FAULT_HELPER = "benchft-stress"  # the hand-made stress helper of the CLI and curl sides


def fault_playbook(name, step):
    path = os.path.join(tempfile.mkdtemp(prefix="bench-fault-"), f"{name}.toml")
    with open(path, "w") as f:
        f.write(f'[scenario]\nname = "{name}"\n[subject]\nproject = "{FAULT_PROJECT}"\n[[steps]]\n{step}\n')
    return path


def fault_limit(t):
    """docker.limit cpus = 0.5 vs `docker update` / POST /containers/{id}/update, there and back."""
    c, quota, lift = t["name"], '{"CpuQuota":50000,"CpuPeriod":100000}', '{"CpuQuota":-1}'
    return "docker.limit (cpus 0.5)", {
        "chaosplay": fault_playbook("limit", f'uses = "docker.limit"\nwith = {{ container = "{c}", cpus = 0.5 }}'),
        "docker CLI": f"docker update --cpu-quota 50000 --cpu-period 100000 {c} >/dev/null && docker update --cpu-quota -1 {c} >/dev/null",
        "raw API (curl)": f"{t['post']}/containers/{c}/update -d '{quota}' >/dev/null && {t['post']}/containers/{c}/update -d '{lift}' >/dev/null",
    }


def fault_signal(t):
    """process.signal SIGSTOP (undo SIGCONT) of the target's `sleep` vs top + the host's kill."""
    c = t["name"]
    return "process.signal (SIGSTOP, undo SIGCONT)", {
        "chaosplay": fault_playbook("signal", f'uses = "process.signal"\nwith = {{ container = "{c}", process = "sleep", signal = "SIGSTOP" }}'),
        "docker CLI": f"pid=$(docker top {c} -o pid,comm | awk '$2 == \"sleep\" {{print $1}}') && kill -STOP $pid && kill -CONT $pid",
        "raw API (curl)": f"pid=$({t['get']}/containers/{c}/top?ps_args=-o+pid,comm | grep -o '\"[0-9]*\",\"sleep\"' | cut -d'\"' -f2) && kill -STOP $pid && kill -CONT $pid",
    }


def fault_stress(t):
    """docker.stress (1 CPU worker at 20 %) vs a stress-ng helper made by hand with
    --cgroup-parent (Docker's own way, for cgroup v1 with the cgroupfs driver only), removed."""
    c, h, args = t["name"], FAULT_HELPER, ["--cpu", "1", "--cpu-load", "20"]
    body = json.dumps({"Image": "chaosplay/stress-ng:local", "Entrypoint": ["stress-ng"], "Cmd": args, "HostConfig": {"CgroupParent": f"/docker/{t['id']}", "NetworkMode": "none"}})
    return "docker.stress (1 CPU worker)", {
        "chaosplay": fault_playbook("stress", f'uses = "docker.stress"\nwith = {{ container = "{c}", cpu = {{ workers = 1, load = 20 }} }}'),
        "docker CLI": f"docker run -d --name {h} --network none --cgroup-parent /docker/{t['id']} --entrypoint stress-ng chaosplay/stress-ng:local {' '.join(args)} >/dev/null && docker rm -f {h} >/dev/null",
        "raw API (curl)": f"{t['post']}/containers/create?name={h} -d '{body}' >/dev/null && {t['post']}/containers/{h}/start && {t['post'].replace('-X POST', '-X DELETE')}/containers/{h}'?force=1' >/dev/null",
    }


FILL_DIR, FILL_SIZE = "/fill", "16m"  # a small tmpfs in the target: never the real disk


def fault_fill(t):
    """disk.fill of the target's 16 MiB tmpfs to 4 MiB free vs a 12 MiB fallocate through the
    container's root from the host (as chaosplay does it: the image has no tools), removed."""
    c, pid_cli = t["name"], f"docker inspect -f '{{{{.State.Pid}}}}' {t['name']}"
    pid_api = f"{t['get']}/containers/{c}/json | grep -o '\"Pid\":[0-9]*' | cut -d: -f2"
    by_hand = f"f=/proc/$pid/root{FILL_DIR}/filler && fallocate -l 12M $f && rm $f"
    return "disk.fill (16 MiB tmpfs, 4 MiB left)", {
        "chaosplay": fault_playbook("fill", f'uses = "disk.fill"\nwith = {{ container = "{c}", path = "{FILL_DIR}", free = "4m" }}'),
        "docker CLI": f"pid=$({pid_cli}) && {by_hand}",
        "raw API (curl)": f"pid=$({pid_api}) && {by_hand}",
    }


def data_root_disk():
    """`MAJ:MIN` of the disk holding Docker's data root (a partition stands for its disk)."""
    root = subprocess.run(["docker", "info", "-f", "{{.DockerRootDir}}"], check=True, capture_output=True, text=True).stdout.strip()
    dev = subprocess.run(["findmnt", "-n", "-o", "MAJ:MIN", "-T", root], check=True, capture_output=True, text=True).stdout.split()[0]
    sys_dev = f"/sys/dev/block/{dev}"
    if os.path.exists(f"{sys_dev}/partition"):
        dev = open(f"{sys_dev}/../dev").read().strip()
    return dev


def fault_throttle(t):
    """disk.throttle write_bps 1 MiB/s on the data root's disk vs writing the target's cgroup
    file by hand (Docker 20.10's container update takes blkio rates and ignores them, so there
    is no docker CLI or Engine API call to compare with), then lifting it."""
    c, dev = t["name"], data_root_disk()
    if os.path.isdir("/sys/fs/cgroup/blkio"):
        f = f"/sys/fs/cgroup/blkio/docker/{t['id']}/blkio.throttle.write_bps_device"
        by_hand = f"echo '{dev} 1048576' > {f} && echo '{dev} 0' > {f}"
    else:
        f = f"/sys/fs/cgroup/docker/{t['id']}/io.max"
        by_hand = f"echo '{dev} wbps=1048576' > {f} && echo '{dev} wbps=max' > {f}"
    return "disk.throttle (write 1 MiB/s)", {
        "chaosplay": fault_playbook("throttle", f'uses = "disk.throttle"\nwith = {{ container = "{c}", write_bps = "1m" }}'),
        "cgroup file (sh)": by_hand,
    }


FAULTS = [fault_limit, fault_signal, fault_stress, fault_fill, fault_throttle]


def in_run_ms(report_path):
    """The fault's own time inside a chaosplay run: its step plus its verified undo."""
    run = json.load(open(report_path))["runs"][0]
    us = sum(s["duration_us"] for s in run["steps"]) + sum(u["duration_us"] for u in run["undo"])
    if not all(u["ok"] for u in run["undo"]):
        raise Failed(f"an undo failed: {run['undo']}")
    return us / 1000


def cmd_faults(out):
    api_version = subprocess.run(
        ["docker", "version", "--format", "{{.Server.APIVersion}}"], check=True, capture_output=True, text=True
    ).stdout.strip()
    curl = f"curl -sf --unix-socket /var/run/docker.sock"
    c = FAULT_TARGET
    subprocess.run(["docker", "rm", "-f", c, FAULT_HELPER], capture_output=True)
    cid = subprocess.run(
        ["docker", "run", "-d", "--name", c, "--label", f"com.docker.compose.project={FAULT_PROJECT}",
         "--label", "com.docker.compose.service=db", "--tmpfs", f"{FILL_DIR}:size={FILL_SIZE}",
         IMAGE, "sh", "-c", "sleep 3600 & wait"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    t = {
        "name": c,
        "id": cid,
        "get": f"{curl} http://localhost/v{api_version}",
        "post": f"{curl} -X POST -H 'Content-Type: application/json' http://localhost/v{api_version}",
    }
    report_path = os.path.join(tempfile.mkdtemp(prefix="bench-faults-"), "report.json")
    data = {"faults": {}, "load_before": load()}
    try:
        for fault in FAULTS:
            label, sides = fault(t)
            figures = {k: {"wall_ms": []} for k in sides}
            figures["chaosplay"]["in_run_ms"] = []
            for _, warm, name in rounds_of(sides):
                if name == "chaosplay":
                    wall, _ = spawn([BIN, "run", "-q", "--report-json", report_path, sides[name]])
                else:
                    wall, _ = spawn(["sh", "-c", sides[name]])
                if not warm:
                    figures[name]["wall_ms"].append(wall * 1000)
                    if name == "chaosplay":
                        figures[name]["in_run_ms"].append(in_run_ms(report_path))
            shutil.rmtree(os.path.dirname(sides["chaosplay"]), ignore_errors=True)
            data["faults"][label] = figures
            print(f" {label}")
            report({"sides": figures, "load_before": data["load_before"], "load_after": load()})
    finally:
        subprocess.run(["docker", "rm", "-f", c, FAULT_HELPER], capture_output=True)
        shutil.rmtree(os.path.dirname(report_path), ignore_errors=True)
    data["load_after"] = load()
    write(out, "faults", data)


# --- output -----------------------------------------------------------------------------------


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def report(data):
    """Prints each side's medians (with min-max) as the section ends."""
    for side, figures in data["sides"].items():
        parts = []
        for f, xs in figures.items():
            if not xs:
                continue
            scale, unit = (1 / 1024, "MiB") if f == "rss_kb" else (1, "ms")
            parts.append(f"{f.removesuffix('_kb').removesuffix('_ms')} {med(xs) * scale:.1f} {unit} [{min(xs) * scale:.1f}-{max(xs) * scale:.1f}]")
        print(f"  {side}: " + ", ".join(parts))
    print(f"  load average (1 min) before/after: {data['load_before']['load1']:.2f} / {data['load_after']['load1']:.2f}")


def fmt_ms(ms):
    if ms != ms:
        return "—"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def cmd_table(out):
    def get(name):
        path = os.path.join(out, f"{name}.json")
        return json.load(open(path)) if os.path.exists(path) else None

    rows = []  # (what, chaosplay, other tool, ratio, goal, met)

    def ratio(a, b):
        return a / b if b else float("nan")

    core = get("core")
    if core:
        rows.append(("validate, 1,000-step playbook", fmt_ms(core["validate_1000_ms"]), "—", "—", "< 50 ms", core["validate_1000_ms"] < 50))
        rows.append(("interpreter overhead per step (10,000 `assert` steps)", f"{core['per_step_us']:.1f} µs", "—", "—", "< 100 µs", core["per_step_us"] < 100))
        for label, key in (("validate 1,000 steps", "rss_validate_1000_kb"), ("run 10,000 steps", "rss_run_10000_kb")):
            mb = core[key] / 1024
            rows.append((f"peak RSS, {label}", f"{mb:.1f} MiB", "—", "—", "≤ 30 MB", core[key] * 1024 <= 30e6))
    v = get("validate")
    if v:
        a = med(v["sides"]["chaosplay"]["wall_ms"])
        b = med(v["sides"]["chaos"]["wall_ms"])
        imp = med(v["sides"]["import etcd_actions"]["wall_ms"])
        rows.append(("validate the kill experiment (process wall time)", fmt_ms(a), f"chaos validate: {fmt_ms(b)} (of which {fmt_ms(imp)} is python + importing the activity module)", f"{ratio(a, b):.3f}× ({ratio(b, a):.0f}× faster)", "≥ 40× faster", b / a >= 40))
        rows.append(("peak RSS, validate", f"{med(v['sides']['chaosplay']['rss_kb']) / 1024:.1f} MiB", f"chaos: {med(v['sides']['chaos']['rss_kb']) / 1024:.1f} MiB", f"{ratio(med(v['sides']['chaosplay']['rss_kb']), med(v['sides']['chaos']['rss_kb'])):.2f}×", "≤ 30 MB", med(v["sides"]["chaosplay"]["rss_kb"]) * 1024 <= 30e6))
    k = get("kill")
    if k:
        s = k["sides"]
        cp = {f: med(xs) for f, xs in s["chaosplay"].items()}
        for other in ("chaos", "python-on-whales"):
            o = {f: med(xs) for f, xs in s[other].items()}
            label = "Chaos Toolkit" if other == "chaos" else "python-on-whales + httpx script"
            rows.append((f"kill → unhealthy → start → healthy, total wall time, vs {label}", fmt_ms(cp["total_ms"]), fmt_ms(o["total_ms"]), f"{ratio(cp['total_ms'], o['total_ms']):.2f}×", "—", None))
            rows.append((f"tool overhead per run (total − activities), vs {label}", fmt_ms(cp["overhead_ms"]), fmt_ms(o["overhead_ms"]), f"{ratio(cp['overhead_ms'], o['overhead_ms']):.3f}×", "≤ 10 ms", cp["overhead_ms"] <= 10))
            rows.append((f"detection latency (kill returned → probe saw it, 100 ms polls), vs {label}", fmt_ms(cp["detect_ms"]), fmt_ms(o["detect_ms"]), f"{ratio(cp['detect_ms'], o['detect_ms']):.2f}×", "—", None))
            rows.append((f"kill + start calls (inside the activities), vs {label}", fmt_ms(cp["kill_ms"] + cp["start_ms"]), fmt_ms(o["kill_ms"] + o["start_ms"]), f"{ratio(cp['kill_ms'] + cp['start_ms'], o['kill_ms'] + o['start_ms']):.2f}×", "—", None))
            rows.append((f"peak RSS of the kill run, vs {label}", f"{cp['rss_kb'] / 1024:.1f} MiB", f"{o['rss_kb'] / 1024:.1f} MiB", f"{ratio(cp['rss_kb'], o['rss_kb']):.2f}×", "≤ 30 MB", cp["rss_kb"] * 1024 <= 30e6))
        if "chaosplay baseline" in s:
            b = {f: med(xs) for f, xs in s["chaosplay baseline"].items()}
            for f, what in (("overhead_ms", "tool overhead per run"), ("lead_ms", "run start → first step"), ("tail_ms", "last step → run end"), ("total_ms", "total wall time")):
                rows.append((f"kill run, {what}, vs chaosplay baseline (BENCH_BASELINE)", fmt_ms(cp[f]), fmt_ms(b[f]), f"{ratio(cp[f], b[f]):.2f}×", "—", None))
    r = get("reset")
    if r:
        a = med(r["sides"]["chaosplay"]["wall_ms"])
        for other in ("docker-compose", "docker-compose, kill first"):
            b = med(r["sides"][other]["wall_ms"])
            cmd = "down -v; up -d; poll /health" if other == "docker-compose" else "kill; down -v; up -d; poll /health"
            rows.append((f"reset of the etcd cluster (to all healthy), vs docker-compose {cmd}", fmt_ms(a), fmt_ms(b), f"{ratio(a, b):.2f}×", "≤ 0.4×" if other == "docker-compose" else "—", a / b <= 0.4 if other == "docker-compose" else None))
        h = med(r["sides"]["chaosplay, /health readiness"]["wall_ms"])
        b = med(r["sides"]["docker-compose"]["wall_ms"])
        rows.append(("reset, chaosplay ready by /health polls like the docker-compose side (compose.reset wait = false + http.request), vs docker-compose down -v; up -d; poll /health", fmt_ms(h), fmt_ms(b), f"{ratio(h, b):.2f}×", "(≤ 0.4×)", h / b <= 0.4))
    rk = get("rawkill")
    if rk:
        a = med(rk["sides"]["chaosplay"]["wall_ms"])
        for other in ("docker CLI", "raw API (curl)"):
            b = med(rk["sides"][other]["wall_ms"])
            rows.append((f"kill + start of one container, one process, vs {other}", fmt_ms(a), fmt_ms(b), f"{ratio(a, b):.2f}× ({a - b:+.1f} ms)", "—", None))

    f = get("faults")
    for label, sides in (f or {"faults": {}})["faults"].items():
        a = med(sides["chaosplay"]["wall_ms"])
        inside = med(sides["chaosplay"]["in_run_ms"])
        others = [o for o in sides if o != "chaosplay"]
        for other in others:
            b = med(sides[other]["wall_ms"])
            rows.append((f"apply + undo of {label}, one process, vs {other}", fmt_ms(a), fmt_ms(b), f"{ratio(a, b):.2f}× ({a - b:+.1f} ms)", "—", None))
        raw = others[-1]  # the rawest: curl where there is a call to make, else by hand
        b = med(sides[raw]["wall_ms"])
        rows.append((f"apply + verified undo of {label} inside the run (step + undo), vs {raw}", fmt_ms(inside), fmt_ms(b), f"{ratio(inside, b):.2f}×", "—", None))

    c = get("check")
    if c:
        for name, label in (("jepsen", "check the 61 Jepsen etcd histories"), ("kv", "check the 4 kv histories, per key")):
            s = c["sections"][name]
            a = med(s["chaosplay"]["wall_s"]) * 1000
            p = s.get("porcupine")
            if p:
                b = med(p["wall_s"]) * 1000
                rows.append((f"{label}, vs Porcupine's tests (process wall time)", fmt_ms(a), fmt_ms(b), f"{ratio(a, b):.2f}×", "≤ 0.5×", a / b <= 0.5))
                rows.append((f"peak RSS, {label}", f"{s['chaosplay']['rss_kb'] / 1024:.1f} MiB", f"{p['rss_kb'] / 1024:.1f} MiB", f"{ratio(s['chaosplay']['rss_kb'], p['rss_kb']):.2f}×", "—", None))
            else:
                rows.append((f"{label} (Porcupine absent)", fmt_ms(a), "—", "—", "≤ 0.5×", None))

    print("| what | chaosplay | other tool | ratio (chaosplay ÷ other) | goal | met? |")
    print("|---|---|---|---|---|---|")
    for what, a, b, rat, goal, met in rows:
        mark = "—" if met is None else ("yes" if met else "**no**")
        print(f"| {what} | {a} | {b} | {rat} | {goal} | {mark} |")
    loads = [d["load_before"]["load1"] for d in (v, k, r, rk) if d] + [d["load_after"]["load1"] for d in (v, k, r, rk) if d]
    if loads:
        print(f"\nLoad average (1 min) at the sections' starts and ends: {min(loads):.2f}–{max(loads):.2f} on {os.cpu_count()} cores.")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("validate", "kill", "reset", "rawkill", "faults", "table"):
        sys.exit(__doc__)
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    try:
        globals()[f"cmd_{sys.argv[1]}"](out)
    except Failed as e:
        sys.exit(f"bench: {e}")


if __name__ == "__main__":
    main()
