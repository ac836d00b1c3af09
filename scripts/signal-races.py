#!/usr/bin/env python3
"""Signals a run at random moments while its faults are in flight, and counts how often a
container is left down afterwards. The figures in docs/reliability.md ("Signal races") come
from this script; the regression tests in tests/reliability.rs pin each case at one moment.

    scripts/signal-races.py [--tries N] [--bin target/debug/chaosplay]

Needs a Docker engine and the test image chaosplay-test/busybox:1 (any Docker-backed test
builds it). Every container it makes is removed at the end; it talks to nothing but the
local engine.
"""
import argparse
import os
import random
import signal
import subprocess
import tempfile
import time

PROJECT = "cpt-signal-races"
IMAGE = "chaosplay-test/busybox:1"
SERVICES = ["tikv0", "tikv1", "tikv2"]

CASES = {
    # name: (steps, signal, the window after the fault is registered, recover afterwards)
    "SIGINT during docker.kill of all three": (
        'uses = "docker.kill"\nwith = { service = "tikv*", pick = "all" }',
        signal.SIGINT, (0.0, 0.25), False),
    "SIGTERM during docker.stop (grace 3s)": (
        'uses = "docker.stop"\nwith = { service = "tikv0", grace = "3s" }',
        signal.SIGTERM, (0.1, 2.5), False),
    "SIGKILL during docker.stop (grace 3s), then recover": (
        'uses = "docker.stop"\nwith = { service = "tikv0", grace = "3s" }',
        signal.SIGKILL, (0.1, 2.5), True),
}


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def reset():
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split()
    if ids:
        docker("rm", "-f", *ids)
    for s in SERVICES:
        docker("run", "-d", "--name", f"{PROJECT}-{s}-1",
               "--label", f"com.docker.compose.project={PROJECT}",
               "--label", f"com.docker.compose.service={s}", IMAGE, "sleep", "3600")


def down():
    """Containers of the project that are not running."""
    out = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={PROJECT}",
                 "--format", "{{.Names}} {{.State}}").stdout
    return [line.split()[0] for line in out.splitlines() if not line.endswith(" running")]


def one_try(binary, steps, sig, window, then_recover, state_dir):
    playbook = os.path.join(state_dir, "p.toml")
    with open(playbook, "w") as f:
        f.write(f'[scenario]\nname = "race"\n[subject]\nproject = "{PROJECT}"\n'
                f'[[steps]]\n{steps}\n[[steps]]\nuses = "sleep"\nwith = {{ duration = "30s" }}\n')
    env = dict(os.environ, CHAOSPLAY_STATE_DIR=state_dir)
    run = subprocess.Popen([binary, "run", "-q", playbook], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ledger = os.path.join(state_dir, f"{PROJECT}.json")
    deadline = time.monotonic() + 20
    while not os.path.exists(ledger) and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(random.uniform(*window))
    run.send_signal(sig)
    run.wait(timeout=60)
    if then_recover:
        subprocess.run([binary, "recover", "--project", PROJECT], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    time.sleep(4)  # past the longest grace: a fault still landing would show now
    return down()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--bin", default="target/debug/chaosplay")
    args = parser.parse_args()
    try:
        for name, (steps, sig, window, then_recover) in CASES.items():
            broken = 0
            for _ in range(args.tries):
                reset()
                with tempfile.TemporaryDirectory() as state_dir:
                    left = one_try(args.bin, steps, sig, window, then_recover, state_dir)
                broken += bool(left)
            print(f"{name}: a container left down in {broken} of {args.tries} tries")
    finally:
        ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split()
        if ids:
            docker("rm", "-f", *ids)


if __name__ == "__main__":
    main()
