#!/usr/bin/env python3
"""kill -> wait-unhealthy -> start -> wait-healthy on one etcd member, as a plain script.

The python-on-whales + httpx side of bench/compare (the activities are in etcd_actions.py,
shared with the Chaos Toolkit experiment). It times each activity with time.perf_counter and
writes them as JSON, so the benchmark can subtract them from the process's wall time:

    etcd_kill.py CONTAINER HEALTH_URL INTERVAL_S TIMINGS_JSON
"""

import json
import sys
import time

import etcd_actions

container, url, interval, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]

activities = []


def timed(name, fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    activities.append({"name": name, "start": start, "end": time.perf_counter(), "result": result})


timed("kill", etcd_actions.kill, container)
timed("wait-unhealthy", etcd_actions.wait_unhealthy, url, interval)
timed("start", etcd_actions.start, container)
timed("wait-healthy", etcd_actions.wait_healthy, url, interval)

with open(out, "w") as f:
    json.dump({"activities": activities}, f)
