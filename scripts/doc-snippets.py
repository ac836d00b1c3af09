#!/usr/bin/env python3
"""Writes the playbook snippets of Markdown files as TOML files, for scripts/lint-schema.sh.

usage: doc-snippets.py OUT_DIR FILE.md...

Each ```toml block becomes OUT_DIR/<file>-<line>.toml: a whole playbook as written; the tables
of one without [scenario] (or without [[steps]]) completed with the smallest ones; the keys of
one step (with `uses`) put under [[steps]]. Any other block (a --vars-file, a step's
`with` alone) is left out, and said.
"""
import pathlib
import re
import sys
import tomllib

TOP = {"scenario", "vars", "matrix", "subject", "steps", "finally", "monitors", "secrets"}
STEP = {"id", "name", "uses", "with", "if", "timeout", "retry", "until", "interval",
        "stable_for", "background", "record", "continue_on_error"}
SCENARIO = '[scenario]\nname = "snippet"\n'
A_STEP = '\n[[steps]]\nuses = "log"\nwith = { message = "snippet" }\n'


def playbook(text):
    try:
        keys = set(tomllib.loads(text))
    except tomllib.TOMLDecodeError as e:
        return None, f"not TOML ({e})"
    if keys <= TOP:
        head = "" if "scenario" in keys else SCENARIO
        tail = "" if "steps" in keys else A_STEP
        return head + text + tail, None
    if keys <= STEP and "uses" in keys:
        return SCENARIO + "[[steps]]\n" + text, None
    if keys <= STEP:
        return None, "a part of a step, without `uses`"
    return None, "not a playbook or a step"


def main():
    out = pathlib.Path(sys.argv[1])
    for md in sys.argv[2:]:
        lines = pathlib.Path(md).read_text().splitlines()
        start = None
        for n, line in enumerate(lines, 1):
            if start is None and re.match(r"^\s*```toml\s*$", line):
                start = n
            elif start is not None and re.match(r"^\s*```\s*$", line):
                indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
                text = "\n".join(l[indent:] for l in lines[start:n - 1]) + "\n"
                name = f"{pathlib.Path(md).stem}-{start}.toml"
                complete, why = playbook(text)
                if complete is None:
                    print(f"{md}:{start}: not checked: {why}")
                else:
                    (out / name).write_text(f"# {md}:{start}\n" + complete)
                start = None


main()
