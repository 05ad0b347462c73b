"""Run a job file on Spark: ``anonymize-spark run JOB`` or ``python -m anonymize.spark run JOB``.

The same job file as ``anonymize run``, with the same flags, exit codes, summary, outputs,
lineage, report and budget ledger; the rows are read and written by Spark's executors.

What runs where:

- **Driver** (this process): validates the job once and reads the input's schema (CSV header and
  first rows, Parquet footers) exactly as the command line does, cuts the input into units
  (Parquet row groups packed up to ``spark.sql.files.maxPartitionBytes``; a CSV file whole),
  reserves the privacy budget, merges the census, runs the k-anonymity search, adds aggregate
  noise once, checks ``unique: true`` columns across tasks and the risk guardrail, writes the
  releases, the report and the lineage events, and renames the output folder into place.
- **Executors** (``DataFrame.mapInArrow`` over the units): read their units with the engine's
  own readers (so ``02139`` stays text exactly as the command line types it), make census
  partials, and apply the decisions, writing one part file per unit into the run's temporary
  folder. The key is read on each executor from where the job names it (an environment
  variable or a file the cluster provides); it is never in the job or in what is shipped.

The output is a folder (the job's ``output.path``) of ``part-NNNNN.parquet`` (or ``.csv``)
files and ``_SUCCESS``, visible only once every task succeeded. Input, output and the job's
other files must be visible under the same paths on the driver and every executor (a shared
file system) and the executors need this package installed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import threading
import uuid
from typing import Any, Dict, List, Optional

# Absolute, so that spark-submit can run this file as a script.
from anonymize import AnonymizeError, _native, _raising

__all__ = ["run", "main"]

#: Units are packed up to Spark's own split size unless it says otherwise.
DEFAULT_UNIT_BYTES = 128 * 1024 * 1024


def _bytes(text: str) -> int:
    """Spark's size notation (``134217728``, ``128m``, ``64k``, ``1g``, ``512b``) in bytes."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgtp]?)b?\s*", text.lower())
    if not match:
        raise AnonymizeError(f"spark.sql.files.maxPartitionBytes is not a size: {text!r}", None, 1)
    number, unit = match.groups()
    return int(number) * 1024 ** " kmgtp".index(unit or " ")


def _session(master: Optional[str], name: str):
    try:
        import pandas  # noqa: F401  (mapInArrow needs it, though no row goes through pandas)
        from pyspark.sql import SparkSession
    except ImportError as missing:
        raise AnonymizeError(
            f"{missing.name or 'pyspark'} is not installed",
            "pip install 'anonymize[spark]' (pyspark[sql] >= 3.5: pyspark, pandas, pyarrow) here and on the executors",
            1,
        ) from None
    builder = SparkSession.builder.appName(f"anonymize {name}")
    if master:
        builder = builder.master(master)
    # Otherwise spark-submit's master, or Spark's default (local[*]) when run as a plain script.
    return builder.getOrCreate()


def _parent(spark) -> tuple:
    """The Spark application as the parent run of this run's lineage events."""
    conf = spark.sparkContext.getConf()
    namespace = conf.get("spark.openlineage.namespace", "spark")
    name = spark.sparkContext.appName
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"spark-application:{spark.sparkContext.applicationId}"))
    return namespace, name, run_id


class _Cluster:
    """Runs the engine's tasks with ``mapInArrow``, one unit per Spark task."""

    def __init__(self, spark):
        self.spark = spark

    def __call__(self, kind, shipment, units, decisions, folder, spec) -> List[bytes]:
        from pyspark.sql.types import StringType, StructField, StructType

        sc = self.spark.sparkContext
        if not units:
            return []
        frame = self.spark.createDataFrame(
            sc.parallelize([(u,) for u in units], len(units)),
            StructType([StructField("unit", StringType(), False)]),
        )
        shipped = sc.broadcast(bytes(shipment))
        decided = sc.broadcast(bytes(decisions)) if decisions is not None else None

        def work(batches):
            import pyarrow as pa

            from anonymize import _native as native

            for batch in batches:
                batch_units = batch.column("unit").to_pylist()
                if not batch_units:
                    continue
                reply = native.task(
                    kind,
                    shipped.value,
                    batch_units,
                    decided.value if decided is not None else None,
                    folder,
                    spec,
                )
                yield pa.RecordBatch.from_arrays([pa.array([reply], pa.binary())], names=["reply"])

        group = f"anonymize-{uuid.uuid4()}"
        done: Dict[str, Any] = {}

        def collect():
            # Job groups are per thread: set on the thread that starts the job.
            sc.setJobGroup(group, f"anonymize: {kind} of {len(units)} units", interruptOnCancel=True)
            try:
                done["rows"] = frame.mapInArrow(work, "reply binary").collect()
            except BaseException as error:  # handed to the caller below
                done["error"] = error

        worker = threading.Thread(target=collect, name="anonymize-spark-job", daemon=True)
        worker.start()
        try:
            # Ctrl-C on the driver asks the engine to stop; the running Spark job is cancelled.
            while worker.is_alive():
                worker.join(0.2)
                if _native.interrupted():
                    sc.cancelJobGroup(group)
                    worker.join()
                    raise RuntimeError("interrupted; the Spark job was cancelled")
        finally:
            shipped.unpersist()
            if decided is not None:
                decided.unpersist()
        if "error" in done:
            raise done["error"]
        return [bytes(row.reply) for row in done["rows"]]


def run(
    job_path: str,
    seed: Optional[int] = None,
    master: Optional[str] = None,
    threads: Optional[int] = None,
    dry_run: bool = False,
    batch_rows: Optional[int] = None,
    report_format: Optional[str] = None,
    spark: Any = None,
    _human: Optional[list] = None,
) -> Dict[str, Any]:
    """Runs the job file on Spark and returns the summary (``anonymize run --json``'s) as a dict.

    Args:
        job_path: the job file.
        seed: reproducible draws (for tests: the output is then not differentially private).
        master: the Spark master URL (default: the session's, else ``local[*]``).
        threads: the driver's threads for the search (default: all cores).
        dry_run: validate and plan only.
        batch_rows: rows per record batch on the executors (memory tuning; no result changes).
        report_format: ``html`` or ``markdown`` (default: from the job's ``report:`` path).
        spark: a SparkSession to use (default: one is made, or the active one is reused).

    Raises:
        AnonymizeError: as ``anonymize run`` fails (message, hint, exit code); nothing is left
            under the output's name, the budget reservation is released and FAIL recorded.
    """
    job_path = os.fspath(job_path)
    if spark is None:
        name = os.path.splitext(os.path.basename(job_path))[0]
        spark = _session(master, name)
    unit_bytes = _bytes(spark.conf.get("spark.sql.files.maxPartitionBytes", str(DEFAULT_UNIT_BYTES)))
    summary, human = _raising(
        _native.run_distributed,
        job_path,
        _Cluster(spark),
        unit_bytes,
        seed,
        threads,
        dry_run,
        batch_rows,
        report_format,
        _parent(spark),
    )
    if _human is not None:
        _human.append(human)
    return json.loads(summary)


def main(argv: Optional[List[str]] = None) -> int:
    """``anonymize-spark run JOB [--seed N] [--master URL] ...``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="anonymize-spark",
        description="Run an anonymize job file on Spark (same job, flags, outputs and exit codes as `anonymize run`).",
        epilog="The output is a folder of part files at the job's output path, renamed into place when every "
        "task succeeded. Executors read the key from the job's `env:` variable (set it with "
        "spark.executorEnv.NAME) or `file:` (a path every executor sees). Exit codes: 0 done, 1 the job or "
        "the data, 2 internal or cluster failure, 3 the privacy budget.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run a job file on Spark")
    run_parser.add_argument("job", help="the job file (.yaml, .yml or .toml)")
    run_parser.add_argument("--seed", type=int, help="reproducible draws (tests only: not differentially private)")
    run_parser.add_argument("--master", help="Spark master URL (default: spark-submit's, else local[*])")
    run_parser.add_argument("--threads", type=int, help="driver threads for the search (default: all cores)")
    run_parser.add_argument("--dry-run", action="store_true", help="validate and plan only; write nothing")
    run_parser.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    run_parser.add_argument("--json", action="store_true", help="print the run summary as JSON on stdout")
    run_parser.add_argument("--batch-rows", type=int, help="rows per record batch on executors (never changes results)")
    run_parser.add_argument("--report-format", choices=["html", "markdown"], help="the privacy report's format")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:
        # Usage errors are the caller's mistake: exit 1, as the command line does.
        return 0 if exit.code in (0, None) else 1
    if args.seed is not None and args.seed < 0:
        print("error: --seed must be a non-negative integer", file=sys.stderr)
        return 1
    human: list = []
    try:
        summary = run(
            args.job,
            seed=args.seed,
            master=args.master,
            threads=args.threads,
            dry_run=args.dry_run,
            batch_rows=args.batch_rows,
            report_format=args.report_format,
            _human=human,
        )
    except AnonymizeError as error:
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    if not args.quiet and human:
        print(human[0], end="", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
