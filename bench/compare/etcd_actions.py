"""The kill -> wait-unhealthy -> start -> wait-healthy activities, in plain Python.

One module serves both Python sides of bench/compare: Chaos Toolkit calls these functions as
`type: python` activities (etcd-kill.json), which is how Chaos Toolkit is extended, and
etcd_kill.py calls them directly. So the two sides do the same work and differ only in the
harness around it. Docker is driven with python-on-whales (it runs the `docker` CLI), HTTP
with httpx.

Readiness, as on the chaosplay side (etcd-kill.toml): a member is healthy when GET /health on
its published port answers {"health": "true"}; anything else (a refused connection, no answer
within 2 s, health false) is unhealthy. Polls are `interval` seconds apart, bounded by
`timeout`.
"""

import time

import httpx
from python_on_whales import docker

# One client for the process, as a user polling an endpoint would keep (httpx.get() would
# build a client, and load the CA bundle, on every poll).
_client = httpx.Client(timeout=2.0)


def kill(container: str) -> None:
    """SIGKILL the container (docker kill)."""
    docker.kill(container)


def start(container: str) -> None:
    """Start the container again (docker start)."""
    docker.start(container)


def _healthy(url: str) -> bool:
    try:
        return _client.get(url).json().get("health") == "true"
    except (httpx.HTTPError, ValueError):
        return False


def _poll(url: str, want: bool, interval: float, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    polls = 0
    while True:
        polls += 1
        if _healthy(url) == want:
            return polls
        if time.monotonic() >= deadline:
            state = "healthy" if want else "unhealthy"
            raise TimeoutError(f"{url} not {state} after {timeout} s ({polls} polls)")
        time.sleep(interval)


def wait_unhealthy(url: str, interval: float = 0.1, timeout: float = 30.0) -> int:
    """Poll until the member no longer answers /health with true; returns the polls made."""
    return _poll(url, False, float(interval), float(timeout))


def wait_healthy(url: str, interval: float = 0.1, timeout: float = 30.0) -> int:
    """Poll until the member answers /health with true; returns the polls made."""
    return _poll(url, True, float(interval), float(timeout))
