#!/usr/bin/env bash
# Throughput of the row-local path on 1 million generated rows, from the release binary:
# a plain Parquet copy against pseudonymize x2 + mask x1 + drop x2, same code path.
# Prints rows per second for each and the ratio. Usage: scripts/bench-row-local.sh [ROWS] [RUNS]
rows=${1:-1000000}
runs=${2:-5}
. "$(dirname "$0")/bench-common.sh"
export ANONYMIZE_BENCH_KEY=$(printf '42%.0s' {1..32})
rest='  zip: keep
  gender: keep
  city: keep
  income: keep
  spend_90d: keep
  segment: keep
  card_number: keep
  signup_date: keep
  consent_analytics: keep'
head='version: 1
input: { path: input.parquet }
secrets: { pseudonym_key: { env: ANONYMIZE_BENCH_KEY } }'
cat > "$work/copy.yaml" <<YAML
$head
name: copy
output: { path: copy.parquet, overwrite: true }
columns:
  customer_id: keep
  email: keep
  phone: keep
  full_name: keep
  birth_date: keep
$rest
YAML
cat > "$work/actions.yaml" <<YAML
$head
name: actions
output: { path: actions.parquet, overwrite: true }
columns:
  customer_id: { action: pseudonymize, domain: customer }
  email: { action: pseudonymize, keep_domain: true }
  phone: { action: mask, keep_last: 2 }
  full_name: drop
  birth_date: drop
$rest
YAML
copy=$(best copy); actions=$(best actions)
python3 - "$rows" "$copy" "$actions" "$(nproc)" <<'PY'
import sys
rows, copy, actions, cores = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
print(f"rows: {rows:,}  cores: {cores}  (best of runs, wall time, Parquet zstd in and out)")
print(f"plain copy          {copy:7.3f} s  {rows / copy:12,.0f} rows/s")
print(f"pseudonymize+mask   {actions:7.3f} s  {rows / actions:12,.0f} rows/s")
print(f"actions / copy      {actions / copy:7.3f}   (extra cost of the actions: {(actions - copy) / copy:+.1%} of the copy; goal < +50%)")
PY
