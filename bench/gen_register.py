#!/usr/bin/env python3
"""A concurrent register history in chaosplay's JSON lines, linearizable by construction.

    bench/gen_register.py CLIENTS SEED OPS > history.jsonl

CLIENTS clients issue reads (50 %), writes (40 %) and compare-and-sets (10 %) on 10 keys
holding values 0-4. Each operation takes effect at a random point between its invocation and
its completion, so the history is linearizable; 3 % of the writes and compare-and-sets time
out (unknown: the effect happened, the client never learns it and is replaced by a fresh
one, as in Jepsen). More clients per key means more concurrent operations: the hard case of
the search.
"""
import heapq
import json
import random
import sys

KEYS, VALUES, UNKNOWN = 10, 5, 0.03


def operation(client, now, rng):
    key = rng.randrange(KEYS)
    roll = rng.random()
    op = {"client": client, "key": f"k{key}", "invoke": int(now * 1000)}
    if roll < 0.5:
        op["f"] = "read"
    elif roll < 0.9:
        op.update(f="write", value=rng.randrange(VALUES))
    else:
        op.update(f="cas", **{"from": rng.randrange(VALUES), "to": rng.randrange(VALUES)})
    return key, op


def take_effect(op, key, state, rng):
    if op["f"] == "read":
        op["value"], op["outcome"] = state[key], "ok"
    elif op["f"] == "write":
        state[key], op["outcome"] = op["value"], "ok"
    elif state[key] == op["from"]:
        state[key], op["outcome"] = op["to"], "ok"
    else:
        op["outcome"] = "fail"
    if op["f"] != "read" and rng.random() < UNKNOWN:
        op["outcome"] = "unknown"


def main(clients, seed, limit):
    rng = random.Random(seed)
    state = [None] * KEYS
    events = [(rng.random() * 5, "invoke", c) for c in range(clients)]
    heapq.heapify(events)
    running, written, fresh = {}, 0, clients
    while events and written < limit:
        now, what, client = heapq.heappop(events)
        if what == "invoke":
            running[client] = operation(client, now, rng)
            effect = now + rng.random() * 2
            heapq.heappush(events, (effect, "effect", client))
            heapq.heappush(events, (effect + rng.random() * 2, "complete", client))
        elif what == "effect":
            key, op = running[client]
            take_effect(op, key, state, rng)
        else:
            _, op = running.pop(client)
            if op["outcome"] != "unknown":
                op["complete"] = int(now * 1000) + 1
            else:
                client, fresh = fresh, fresh + 1
            print(json.dumps(op))
            written += 1
            heapq.heappush(events, (now + rng.random() * 0.5, "invoke", client))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
