#!/usr/bin/env bash
# A whole k-anonymous run on generated customers (default 10 million rows) with four
# quasi-identifiers (birth date, zip, gender, city; k = 10, 2% suppression, loss metric),
# against a plain copy of the same data through the same binary; then the same job with the
# run's decisions frozen (a scheduled day that does not search) and `anonymize apply` of those
# decisions; and DuckDB's plain Parquet-to-Parquet copy of the same file with as many threads
# (DuckDB's Python package, installed into a venv under the target folder if missing). Prints
# rows per second for each, the ratios (the goal: the k-anonymous run within 1.5x DuckDB's
# copy), each run's peak RSS, and the search's share from the run summary.
# Usage: scripts/bench-k-anonymity.sh [ROWS] [RUNS]
rows=${1:-10000000}
runs=${2:-1}
. "$(dirname "$0")/bench-common.sh"
venv="${CARGO_TARGET_DIR:-target}/bench-venv"
if ! "$venv/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi
# DuckDB's copy, zstd like ours, best of runs; only the COPY statement is timed.
duckdb_best=$("$venv/bin/python" - "$work/input.parquet" "$work/duckdb.parquet" "$runs" "$(nproc)" <<'PY'
import sys, time
import duckdb
source, target, runs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
best = float("inf")
for _ in range(runs):
    start = time.monotonic()
    con.execute(f"COPY (SELECT * FROM read_parquet('{source}')) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    best = min(best, time.monotonic() - start)
print(best)
PY
)
job copy
job kanon '  birth_date: { action: generalize, hierarchy: { type: date, levels: [month, year, 5y, 10y] } }
  zip: { action: generalize, hierarchy: { type: prefix, keep: [4, 3, 2, 1] } }
  gender: generalize
  city: generalize' 'privacy:
  k_anonymity: { k: 10, suppression_limit: 0.02 }'
copy=$(best copy); kanon=$(best kanon --json)
cp "$work/kanon.decisions.json" "$work/day1.decisions.json"
job frozen '  birth_date: { action: generalize, hierarchy: { type: date, levels: [month, year, 5y, 10y] } }
  zip: { action: generalize, hierarchy: { type: prefix, keep: [4, 3, 2, 1] } }
  gender: generalize
  city: generalize' 'privacy:
  k_anonymity: { k: 10, suppression_limit: 0.02, decisions: day1.decisions.json }'
frozen=$(best frozen)
apply_best=
for _ in $(seq "$runs"); do
  start=$(date +%s.%N)
  "$bin" apply "$work/day1.decisions.json" --input "$work/input.parquet" --output "$work/applied.parquet" \
    --overwrite --quiet --keep "$(echo "$columns" | tr ' ' '\n' | grep -vE '^(birth_date|zip|gender|city)$' | paste -sd,)"
  end=$(date +%s.%N)
  apply_best=$(python3 -c "print(min(float('${apply_best:-inf}'), $end - $start))")
done
python3 - "$rows" "$copy" "$kanon" "$(nproc)" "$work/kanon.json" "$frozen" "$apply_best" "$duckdb_best" \
  "$(cat "$work/copy.rss")" "$(cat "$work/kanon.rss")" "$(cat "$work/frozen.rss")" <<'PY'
import json, sys
rows, copy, kanon, cores = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
frozen, applied, duck = float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
copy_rss, kanon_rss, frozen_rss = (float(x) for x in sys.argv[9:12])
p = json.load(open(sys.argv[5]))["privacy"]
print(f"rows: {rows:,}  cores: {cores}  (best of runs, wall time, Parquet zstd in and out)")
print(f"DuckDB copy           {duck:8.3f} s  {rows / duck:12,.0f} rows/s  (COPY statement only, {cores} threads)")
print(f"plain copy            {copy:8.3f} s  {rows / copy:12,.0f} rows/s  peak RSS {copy_rss:7.0f} MB")
print(f"k-anonymous run       {kanon:8.3f} s  {rows / kanon:12,.0f} rows/s  peak RSS {kanon_rss:7.0f} MB  (two passes over the input)")
print(f"k-anonymous / copy    {kanon / copy:8.3f}")
print(f"k-anonymous / DuckDB  {kanon / duck:8.3f}   (goal: at most 1.5)")
levels = ", ".join(f"{q['name']} {q['level']}/{q['max_level']}" for q in p["quasi_identifiers"])
print(f"search                {p['search_seconds']:8.3f} s over {p['lattice_nodes']} transformations "
      f"({p['nodes_computed']} checked, {p.get('nodes_tagged', 0)} tagged, {p.get('nodes_pruned', 0)} pruned); levels {levels}")
print(f"suppressed {p['suppressed_rows']:,} rows, {p['classes']:,} classes, smallest {p['smallest_class']}")
print(f"frozen decisions run  {frozen:8.3f} s  {rows / frozen:12,.0f} rows/s  peak RSS {frozen_rss:7.0f} MB  (no search; / copy {frozen / copy:.3f})")
print(f"anonymize apply       {applied:8.3f} s  {rows / applied:12,.0f} rows/s  (/ copy {applied / copy:.3f})")
PY
