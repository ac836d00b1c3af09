#!/usr/bin/env bash
# Regenerates the artefacts made from the code: the playbook JSON Schema and the README's step
# catalogue. Tests fail while either is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin=target/debug/chaosplay
"$bin" schema > schemas/playbook.schema.json
catalogue=$(mktemp)
"$bin" steps --format markdown > "$catalogue"
awk -v cat="$catalogue" '
  /^<!-- steps:start/ { print; while ((getline line < cat) > 0) print line; skip = 1; next }
  /^<!-- steps:end -->/ { skip = 0 }
  !skip { print }
' README.md > README.md.new
mv README.md.new README.md
rm -f "$catalogue"
echo "regenerated schemas/playbook.schema.json and the README step catalogue"
