#!/bin/sh
# Rewrites the column table of results/README.md from `sabench columns`
# (the test docs::results_readme_lists_every_column checks they agree).
# A maintenance script, not a test: `make columns` runs it after a column
# is added or its meaning changes.
set -eu
bin=${1:-build/sabench}
table=$(mktemp)
"$bin" columns | sed -E 's/^([^ ]+) +(FLOP\/B|GFLOP\/s|GB\/s|tokens|pairs|count|keys|rows|FLOP|0\/1|B|s|%)? +(.*)$/| `\1` | \2 | \3 |/' > "$table"
awk -v table="$table" '
  /^\|---\|---\|---\|$/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
  skip && /^\| `/ { next }
  { skip = 0; print }
' results/README.md > results/README.md.new
mv results/README.md.new results/README.md
rm -f "$table"
