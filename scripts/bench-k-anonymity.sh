#!/usr/bin/env bash
# A whole k-anonymous run on generated customers (default 10 million rows) with four
# quasi-identifiers (birth date, zip, gender, city; k = 10, 2% suppression, loss metric),
# against a plain copy of the same data through the same binary; then the same job with the
# run's decisions frozen (a scheduled day that does not search) and `anonymize apply` of those
# decisions. Prints rows per second for each, the ratios, and the search's share from the run
# summary.
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
python3 - "$rows" "$copy" "$kanon" "$(nproc)" "$work/kanon.json" "$frozen" "$apply_best" <<'PY'
import json, sys
rows, copy, kanon, cores = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
frozen, applied = float(sys.argv[6]), float(sys.argv[7])
p = json.load(open(sys.argv[5]))["privacy"]
print(f"rows: {rows:,}  cores: {cores}  (best of runs, wall time, Parquet zstd in and out)")
print(f"plain copy            {copy:8.3f} s  {rows / copy:12,.0f} rows/s")
print(f"k-anonymous run       {kanon:8.3f} s  {rows / kanon:12,.0f} rows/s  (two passes over the input)")
print(f"k-anonymous / copy    {kanon / copy:8.3f}")
levels = ", ".join(f"{q['name']} {q['level']}/{q['max_level']}" for q in p["quasi_identifiers"])
print(f"search                {p['search_seconds']:8.3f} s over {p['lattice_nodes']} transformations; levels {levels}")
print(f"suppressed {p['suppressed_rows']:,} rows, {p['classes']:,} classes, smallest {p['smallest_class']}")
print(f"frozen decisions run  {frozen:8.3f} s  {rows / frozen:12,.0f} rows/s  (no search; / copy {frozen / copy:.3f})")
print(f"anonymize apply       {applied:8.3f} s  {rows / applied:12,.0f} rows/s  (/ copy {applied / copy:.3f})")
PY
