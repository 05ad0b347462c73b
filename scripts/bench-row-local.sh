#!/usr/bin/env bash
# Throughput of the row-local path on 1 million generated rows, from the release binary:
# a plain Parquet copy against pseudonymize x2 + mask x1 + drop x2, same code path.
# Prints rows per second for each, the ratio and each run's peak RSS (a row-local job's memory
# does not grow with the rows: compare 1M and 10M). Usage: scripts/bench-row-local.sh [ROWS] [RUNS]
rows=${1:-1000000}
runs=${2:-5}
. "$(dirname "$0")/bench-common.sh"
export ANONYMIZE_BENCH_KEY=$(printf '42%.0s' {1..32})
job copy
job actions '  customer_id: { action: pseudonymize, domain: customer }
  email: { action: pseudonymize, keep_domain: true }
  phone: { action: mask, keep_last: 2 }
  full_name: drop
  birth_date: drop' 'secrets: { pseudonym_key: { env: ANONYMIZE_BENCH_KEY } }'
copy=$(best copy); actions=$(best actions)
python3 - "$rows" "$copy" "$actions" "$(nproc)" "$(cat "$work/copy.rss")" "$(cat "$work/actions.rss")" <<'PY'
import sys
rows, copy, actions, cores = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
copy_rss, actions_rss = float(sys.argv[5]), float(sys.argv[6])
print(f"rows: {rows:,}  cores: {cores}  (best of runs, wall time, Parquet zstd in and out)")
print(f"plain copy          {copy:7.3f} s  {rows / copy:12,.0f} rows/s  peak RSS {copy_rss:6.0f} MB")
print(f"pseudonymize+mask   {actions:7.3f} s  {rows / actions:12,.0f} rows/s  peak RSS {actions_rss:6.0f} MB")
print(f"actions / copy      {actions / copy:7.3f}   (extra cost of the actions: {(actions - copy) / copy:+.1%} of the copy; goal < +50%)")
PY
