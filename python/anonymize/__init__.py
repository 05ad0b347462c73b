"""De-identify customer data in Python: the engine of the ``anonymize`` command line, in-process.

Three entry points:

- :func:`run` runs a job file exactly like ``anonymize run`` (same outputs, lineage, report and
  budget ledger) and returns its summary as a dict.
- :class:`Job` loads a job file once; :meth:`Job.transform` applies it to any Arrow tabular object
  (a pyarrow Table or RecordBatchReader, a polars DataFrame, a pandas DataFrame) in place of the
  job's input and returns a pyarrow Table with the rows the command line would write.
- :func:`risk` measures the re-identification risk of a table, like ``anonymize risk``.

Failures raise :class:`AnonymizeError`, with the command line's message, hint and exit code.
Keys never enter Python: a job names where its key is (an environment variable or a file) and the
engine reads it there when it runs.

Example::

    import anonymize, polars as pl
    job = anonymize.Job.load("pipelines/customers.yaml")
    safe = job.transform(pl.read_parquet("customers.parquet"))   # a pyarrow.Table
    summary = anonymize.run("pipelines/customers.yaml", seed=7)  # like `anonymize run --seed 7`
    print(anonymize.risk(safe, ["zip", "birth_date"])["prosecutor_highest"])
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Sequence, Union

from . import _native

__all__ = ["AnonymizeError", "Job", "run", "risk", "__version__"]
__version__ = _native.version()

PathLike = Union[str, "os.PathLike[str]"]


class AnonymizeError(Exception):
    """A job that could not be loaded or run, or data that could not be read.

    Attributes:
        message: what went wrong, as the command line prints it (never a cell value or a key).
        hint: what to do about it, or None.
        exit_code: the command line's exit code for it (1: the job or the data; 2: the machine;
            3: the privacy budget; see the README).
    """

    def __init__(self, message: str, hint: Optional[str] = None, exit_code: int = 1):
        super().__init__(message if hint is None else f"{message}\nhint: {hint}")
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


def _raising(call, *args, **kwargs):
    try:
        return call(*args, **kwargs)
    except _native.Failure as failure:
        message, hint, exit_code = failure.args
        raise AnonymizeError(message, hint, exit_code) from None


def _arrow(data: Any) -> Any:
    """Any Arrow tabular object as something with ``__arrow_c_stream__``."""
    if hasattr(data, "__arrow_c_stream__"):
        return data
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        import pyarrow as pa

        return pa.Table.from_pandas(data, preserve_index=False)
    raise TypeError(
        f"expected an Arrow tabular object (pyarrow, polars, pandas; anything with "
        f"__arrow_c_stream__), got {type(data).__name__}"
    )


def run(
    job_path: PathLike,
    seed: Optional[int] = None,
    threads: Optional[int] = None,
    dry_run: bool = False,
) -> Dict[str, Any]:
    """Runs the job file at ``job_path`` exactly like ``anonymize run`` and returns the summary
    (the command line's ``--json`` output) as a dict.

    Args:
        job_path: the job file (.yaml, .yml or .toml).
        seed: makes every random draw reproducible (for tests; the output is then not
            differentially private, and the summary says so).
        threads: worker threads (default: all cores); the output is identical for any value.
        dry_run: validate and plan only; read schemas, write nothing.

    Raises:
        AnonymizeError: the job is invalid, its input unreadable, its budget exhausted, ...
            Nothing is left under an output's name when a run fails.
    """
    return json.loads(_raising(_native.run, os.fspath(job_path), seed, threads, dry_run))


class Job:
    """A validated job file, ready to transform tables in memory."""

    __slots__ = ("_native", "last_summary")

    def __init__(self, native: Any):
        self._native = native
        #: The summary of the last :meth:`transform` (a dict), or None.
        self.last_summary: Optional[Dict[str, Any]] = None

    @classmethod
    def load(cls, path: PathLike) -> "Job":
        """Loads and validates the job file at ``path``; raises :class:`AnonymizeError` with
        every problem found."""
        return cls(_raising(_native.Job.load, os.fspath(path)))

    @classmethod
    def from_yaml(cls, text: str, base_dir: PathLike = ".") -> "Job":
        """Validates a job given as YAML text; its relative paths (hierarchies, consent lists,
        the key file, the ledger) resolve against ``base_dir``."""
        return cls(_raising(_native.Job.from_yaml, text, os.fspath(base_dir)))

    @property
    def name(self) -> str:
        """The job's ``name``."""
        return self._native.name

    def __repr__(self) -> str:
        return repr(self._native)

    def transform(self, data: Any, seed: Optional[int] = None, threads: Optional[int] = None):
        """Applies the job to ``data`` in place of its input and returns a ``pyarrow.Table``.

        ``data`` is any Arrow tabular object: a pyarrow Table or RecordBatchReader, a polars
        DataFrame, a pandas DataFrame (converted through pyarrow), or anything with
        ``__arrow_c_stream__``. It is read whole into memory (the engine makes two passes).

        The rows and values are those ``anonymize run`` writes for a job whose input is one file
        holding these rows with these types: consent filtering, pseudonyms, k-anonymity,
        noise (keyed by each row's position) and the guardrails all apply, and noise columns
        are charged to the job's budget ledger. The job's releases, decisions file, lineage and
        report are not made (use :func:`run`). The run's summary is kept in
        :attr:`last_summary`.
        """
        table, summary = _raising(self._native.transform, _arrow(data), seed, threads)
        self.last_summary = json.loads(summary)
        return table


def risk(
    data: Any,
    quasi_identifiers: Sequence[str],
    sensitive: Optional[str] = None,
    delimiter: str = ",",
) -> Dict[str, Any]:
    """The re-identification risk of ``data`` over ``quasi_identifiers``, as ``anonymize risk
    --json`` reports it: rows, classes, smallest class, prosecutor, journalist and marketer risk,
    unique rows, class-size buckets, and with ``sensitive`` the distinct l reached.

    ``data`` is an Arrow tabular object (as for :meth:`Job.transform`) or a path to a CSV or
    Parquet file, folder or glob (CSV fields split on ``delimiter``).
    """
    if isinstance(data, (str, os.PathLike)):
        source: Any = os.fspath(data)
    else:
        source = _arrow(data)
    return json.loads(_raising(_native.risk, source, list(quasi_identifiers), sensitive, delimiter))
