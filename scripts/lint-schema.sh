#!/usr/bin/env bash
# Checks every shipped playbook and every TOML snippet of the docs against
# schemas/playbook.schema.json with Taplo (`taplo check --schema`, the engine behind the Even
# Better TOML editor extension), so an editor never shows red squiggles on a file chaosplay
# accepts. tests/ prove that chaosplay accepts them; this proves the schema agrees.
#
#   scripts/lint-schema.sh
#
# Needs npm once (Debian's npm, installed if missing): installs the pinned @taplo/cli into the
# target directory; it runs offline after that.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/lib.sh

prefix="$(target_dir)/taplo"
version=0.7.0
taplo="$prefix/node_modules/.bin/taplo"
if ! [ -x "$taplo" ] || ! grep -q "\"version\": \"$version\"" "$prefix/node_modules/@taplo/cli/package.json" 2>/dev/null; then
  if ! command -v npm >/dev/null; then
    root=(); [ "$(id -u)" = 0 ] || root=(sudo)
    "${root[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${root[@]}" apt-get install -y -qq npm >/dev/null
  fi
  npm install --silent --no-audit --no-fund --prefix "$prefix" "@taplo/cli@$version"
fi

schema="file://$PWD/schemas/playbook.schema.json"
snippets="$(target_dir)/schema-snippets"
rm -rf "$snippets" && mkdir -p "$snippets"
# Playbook snippets of the docs, as files: a whole playbook as written; a part of one (tables
# without [scenario], or the keys of one step) completed into the smallest playbook around it.
python3 scripts/doc-snippets.py "$snippets" README.md docs/*.md

status=0
for file in scenarios/*.toml scenarios/examples/*.toml "$snippets"/*.toml; do
  if ! out=$("$taplo" check --no-auto-config --schema "$schema" "$file" 2>&1); then
    echo "$out" | grep -v ' INFO ' >&2
    echo "error: $file does not pass the schema" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "schema: every scenario, example and docs snippet passes taplo check"
exit "$status"
