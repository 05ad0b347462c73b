#!/usr/bin/env bash
# The Python package against the command line, side by side in one run, on generated customers
# (default 1 million rows): a row-local job (two pseudonyms, a mask, two drops) and a k-anonymous
# job (four quasi-identifiers, k = 10, 2 %), each run by the release binary (`anonymize run`) and by
# `anonymize.Job.transform` on the same rows read with pyarrow, in one Python process (the
# package built in release by `pip install ./python` into a venv under the target folder).
# Prints best-of-runs wall times, the ratio, and checks that both give the same rows.
# Usage: scripts/bench-python.sh [ROWS] [RUNS]
rows=${1:-1000000}
runs=${2:-3}
. "$(dirname "$0")/bench-common.sh"
export ANONYMIZE_BENCH_KEY=$(printf '42%.0s' {1..32})
package_venv
driver_jobs
rowlocal=$(best rowlocal --seed 1); kanon=$(best kanon --seed 1)
"$venv/bin/python" - "$work" "$rows" "$runs" "$rowlocal" "$kanon" "$(nproc)" <<'PY'
import sys, time
import pyarrow.parquet as pq
import anonymize
work, rows, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cli = {"rowlocal": float(sys.argv[4]), "kanon": float(sys.argv[5])}
print(f"rows: {rows:,}  cores: {sys.argv[6]}  (best of {runs}, wall time; Python: read_table + transform)")
for name, label in (("rowlocal", "row-local job"), ("kanon", "k-anonymous job")):
    job = anonymize.Job.load(f"{work}/{name}.yaml")
    best = float("inf")
    for _ in range(runs):
        start = time.monotonic()
        out = job.transform(pq.read_table(f"{work}/input.parquet"), seed=1)
        best = min(best, time.monotonic() - start)
    same = out.equals(pq.read_table(f"{work}/{name}.parquet", schema=out.schema))
    print(f"{label:16} command line {cli[name]:7.3f} s   Python {best:7.3f} s   Python / command line {best / cli[name]:5.2f}"
          f"   same rows: {same}")
    if not same:
        sys.exit(f"{label}: Python's rows differ from the command line's")
PY
