#!/usr/bin/env bash
# A whole k-anonymous run on generated customers (default 10 million rows) with four
# quasi-identifiers (birth date, zip, gender, city; k = 10, 2% suppression, loss metric),
# against a plain copy of the same data through the same binary. Prints rows per second for
# each, the ratio, and the search's share from the run summary.
# Usage: scripts/bench-k-anonymity.sh [ROWS] [RUNS]
rows=${1:-10000000}
runs=${2:-1}
. "$(dirname "$0")/bench-common.sh"
job copy
job kanon '  birth_date: { action: generalize, hierarchy: { type: date, levels: [month, year, 5y, 10y] } }
  zip: { action: generalize, hierarchy: { type: prefix, keep: [4, 3, 2, 1] } }
  gender: generalize
  city: generalize' 'privacy:
  k_anonymity: { k: 10, suppression_limit: 0.02 }'
copy=$(best copy); kanon=$(best kanon --json)
python3 - "$rows" "$copy" "$kanon" "$(nproc)" "$work/kanon.json" <<'PY'
import json, sys
rows, copy, kanon, cores = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
p = json.load(open(sys.argv[5]))["privacy"]
print(f"rows: {rows:,}  cores: {cores}  (best of runs, wall time, Parquet zstd in and out)")
print(f"plain copy            {copy:8.3f} s  {rows / copy:12,.0f} rows/s")
print(f"k-anonymous run       {kanon:8.3f} s  {rows / kanon:12,.0f} rows/s  (two passes over the input)")
print(f"k-anonymous / copy    {kanon / copy:8.3f}")
levels = ", ".join(f"{q['name']} {q['level']}/{q['max_level']}" for q in p["quasi_identifiers"])
print(f"search                {p['search_seconds']:8.3f} s over {p['lattice_nodes']} transformations; levels {levels}")
print(f"suppressed {p['suppressed_rows']:,} rows, {p['classes']:,} classes, smallest {p['smallest_class']}")
PY
