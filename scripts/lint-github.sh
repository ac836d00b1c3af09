#!/usr/bin/env bash
# Validates action.yml and .github/workflows/*.yml against the JSON Schemas GitHub's files are
# checked with (SchemaStore's github-action and github-workflow schemas, vendored in
# check-jsonschema: no download at check time). Complements tests/github_workflows.rs, which
# checks references (inputs, steps, matrix, needs) and the bash of every `run:`.
#
#   scripts/lint-github.sh
#
# Needs PyPI once (and Debian's python3-venv, installed if missing): installs the pinned check-jsonschema into a venv in the target directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

venv="$(target_dir)/lint-github-venv"
version=0.39.0
if ! "$venv/bin/check-jsonschema" --version 2>/dev/null | grep -q "$version"; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian splits venv/ensurepip out of python3.
    rm -rf "$venv"
    root=(); [ "$(id -u)" = 0 ] || root=(sudo)
    "${root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${root[@]}" apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check "check-jsonschema==$version"
fi
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-actions action.yml
"$venv/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
