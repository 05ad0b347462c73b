#!/usr/bin/env bash
# Spark against the command line, side by side in one run, on generated customers (default
# 10 million rows in one Parquet file): a row-local job (two pseudonyms, a mask, two drops) and a
# k-anonymous job (four quasi-identifiers, k = 10, 2 %), each run by the release binary
# (`anonymize run`) and by `anonymize.spark.run` on Spark local[2]. Beside them, what each side
# costs with no engine work: the binary copying every column (`keep`), and Spark reading the
# same file, passing every batch through an identity `mapInArrow` and writing Parquet. Prints
# best-of-runs wall times (the Spark session's start-up is printed once, not counted), the ratios
# to each side's own copy, and checks that Spark wrote the command line's rows.
# Usage: scripts/bench-spark.sh [ROWS] [RUNS]
rows=${1:-10000000}
runs=${2:-2}
. "$(dirname "$0")/bench-common.sh"
export ANONYMIZE_BENCH_KEY=$(printf '42%.0s' {1..32})
command -v java >/dev/null || { echo "Spark needs Java 17 (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
package_venv "pyspark[sql]>=3.5,<5"
job copy ''
driver_jobs
copy=$(best copy); rowlocal=$(best rowlocal --seed 1); kanon=$(best kanon --seed 1)
for name in rowlocal kanon; do mv "$work/$name.parquet" "$work/$name.cli.parquet"; done
PYSPARK_PYTHON="$venv/bin/python" "$venv/bin/python" - "$work" "$rows" "$runs" "$copy" "$rowlocal" "$kanon" "$(nproc)" <<'PY'
import shutil, sys, time
import pyarrow.dataset as ds
work, rows, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cli = {"copy": float(sys.argv[4]), "rowlocal": float(sys.argv[5]), "kanon": float(sys.argv[6])}
start = time.monotonic()
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[2]").appName("anonymize bench")
         .config("spark.driver.memory", "6g").config("spark.ui.enabled", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
print(f"rows: {rows:,}  cores: {sys.argv[7]}  Spark {spark.version} local[2]  (best of {runs}, wall time;"
      f" the Spark session took {time.monotonic() - start:.1f} s to start, not counted)")
from anonymize import spark as anonymize_spark

def best(run):
    times = []
    for _ in range(runs):
        begin = time.monotonic()
        run()
        times.append(time.monotonic() - begin)
    return min(times)

def identity():
    shutil.rmtree(f"{work}/identity.parquet", ignore_errors=True)
    frame = spark.read.parquet(f"{work}/input.parquet")
    frame.mapInArrow(lambda batches: batches, frame.schema).write.parquet(f"{work}/identity.parquet")

spark_times = {"copy": best(identity)}
for name in ("rowlocal", "kanon"):
    spark_times[name] = best(lambda: anonymize_spark.run(f"{work}/{name}.yaml", seed=1, spark=spark))
    ours = ds.dataset(f"{work}/{name}.parquet").to_table()
    same = ours.equals(ds.dataset(f"{work}/{name}.cli.parquet").to_table().cast(ours.schema))
    if not same:
        sys.exit(f"{name}: Spark's rows differ from the command line's")
print(f"{'':16} {'command line':>14} {'/ its copy':>11} {'Spark':>10} {'/ identity':>11} {'Spark / command line':>21}")
for name, label in (("copy", "copy / identity"), ("rowlocal", "row-local job"), ("kanon", "k-anonymous job")):
    c, s = cli[name], spark_times[name]
    print(f"{label:16} {c:12.2f} s {c / cli['copy']:11.2f} {s:8.2f} s {s / spark_times['copy']:11.2f} {s / c:21.2f}")
print("same rows as the command line: yes (both jobs)")
spark.stop()
PY
