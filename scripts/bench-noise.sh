#!/usr/bin/env bash
# The noise action on generated customers (default 10 million rows): income (Laplace, integer),
# spend_90d (Gaussian, float) and signup_date (Laplace, days) against a plain copy of the same
# data through the same binary. Prints rows per second and the ratio.
# Usage: scripts/bench-noise.sh [ROWS] [RUNS]
rows=${1:-10000000}
runs=${2:-1}
. "$(dirname "$0")/bench-common.sh"
job copy
job noise '  income: { action: noise, mechanism: laplace, epsilon: 1.0, bounds: [0, 500000] }
  spend_90d: { action: noise, mechanism: gaussian, epsilon: 1.0, delta: 1.0e-6, bounds: [0, 20000] }
  signup_date: { action: noise, epsilon: 1.0, bounds: ["2015-01-01", "2025-12-31"], unit: days }' 'privacy:
  budget: { ledger: budget.json, dataset: bench, epsilon: 1000000, delta: 0.5 }'
copy=$(best copy); noise=$(best noise)
python3 - "$rows" "$copy" "$noise" "$(nproc)" <<'PY'
import sys
rows, copy, noise, cores = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
print(f"rows: {rows:,}  cores: {cores}  (best of runs, wall time, Parquet zstd in and out)")
print(f"plain copy        {copy:8.3f} s  {rows / copy:12,.0f} rows/s")
print(f"noise x3 columns  {noise:8.3f} s  {rows / noise:12,.0f} rows/s  ({3 * rows / noise:,.0f} noisy values/s)")
print(f"noise / copy      {noise / copy:8.3f}")
PY
