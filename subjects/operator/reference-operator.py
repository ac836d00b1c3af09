#!/usr/bin/env python3
"""A reference operator for chaosplay's operator evaluation: TEST EQUIPMENT, not an operator
to run a cluster with.

It watches PD's store list, and when a store is Disconnected or Down it reports its diagnosis
(store id and address, as JSON) to a URL, then restarts the store's container (found by the
compose service named by the store's address host). It stands in for the operator or agent a
scenario evaluates, so the scenario itself can be tested: see ../../docs/operator.md.

Python 3 standard library only (urllib), plus the `docker` CLI. Every loop is bounded: the
whole run by --deadline, each request by --request-timeout.
"""

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

BROKEN = ("Disconnected", "Down")


def log(message):
    print(f"reference-operator: {message}", file=sys.stderr, flush=True)


def get_json(url, timeout):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


def broken_stores(pd, timeout):
    """The stores PD reports Disconnected or Down, as (id, address, state)."""
    listing = get_json(f"{pd}/pd/api/v1/stores", timeout)
    for entry in listing.get("stores") or []:
        store = entry.get("store", {})
        state = store.get("state_name", "")
        if state in BROKEN:
            yield store.get("id"), store.get("address", ""), state


def container_of(project, address):
    """The container of the compose service named by the address's host (`tikv1:20160`)."""
    service = address.rsplit(":", 1)[0]
    names = subprocess.run(
        ["docker", "ps", "--all", "--format", "{{.Names}}",
         "--filter", f"label=com.docker.compose.project={project}",
         "--filter", f"label=com.docker.compose.service={service}"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.split()
    return names[0] if names else None


def report(url, diagnosis, timeout, attempts=5):
    """POSTs the diagnosis; a few attempts, since the listener may be briefly busy."""
    body = json.dumps(diagnosis).encode()
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout):
                return True
        except (urllib.error.URLError, OSError) as e:
            log(f"report attempt {attempt} failed: {e}")
            time.sleep(0.2)
    return False


def repair(container, timeout):
    subprocess.run(["docker", "restart", "--time", "2", container],
                   capture_output=True, timeout=timeout, check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pd", required=True, help="PD's URL, e.g. http://127.0.0.1:2379")
    parser.add_argument("--report", required=True, help="where to POST the diagnosis")
    parser.add_argument("--project", required=True, help="the compose project of the cluster")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between looks")
    parser.add_argument("--deadline", type=float, default=300, help="give up after seconds")
    parser.add_argument("--request-timeout", type=float, default=2)
    parser.add_argument("--once", action="store_true", help="exit after one repair")
    parser.add_argument("--no-repair", action="store_true",
                        help="report but do not restart (a faulty operator, for tests)")
    args = parser.parse_args()

    handled = set()
    end = time.monotonic() + args.deadline
    while time.monotonic() < end:
        try:
            broken = list(broken_stores(args.pd, args.request_timeout))
        except (urllib.error.URLError, OSError, ValueError) as e:
            log(f"PD did not answer: {e}")
            broken = []
        # A store that is Up again may break again later.
        handled &= {store_id for store_id, _, _ in broken}
        for store_id, address, state in broken:
            if store_id in handled:
                continue
            handled.add(store_id)
            container = container_of(args.project, address)
            log(f"store {store_id} ({address}) is {state}; container {container}")
            diagnosis = {"store_id": store_id, "address": address, "state": state,
                         "container": container}
            if not report(args.report, diagnosis, args.request_timeout):
                log("the diagnosis could not be reported")
            if container and not args.no_repair:
                repair(container, timeout=60)
                log(f"restarted {container}")
            if args.once:
                return 0
        time.sleep(args.interval)
    log(f"deadline of {args.deadline:g}s reached")
    return 0 if not args.once else 1


if __name__ == "__main__":
    sys.exit(main())
