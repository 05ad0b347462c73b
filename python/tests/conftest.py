"""Shared fixtures: the sample customers as Parquet and the main job pointed at it."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cli() -> str:
    """The command line built by `cargo test` (scripts/test.sh exports ANONYMIZE_BIN)."""
    binary = os.environ.get("ANONYMIZE_BIN") or shutil.which("anonymize")
    if not binary:
        target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        binary = str(target / "debug" / "anonymize")
    assert os.path.exists(binary), f"the anonymize binary is missing at {binary}: run scripts/test.sh"
    return binary


def run_cli(*args: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([cli(), *args], cwd=cwd, capture_output=True, text=True)


def customers_table() -> pa.Table:
    """The shipped sample, typed as the command line types it (`zip` stays text)."""
    convert = pacsv.ConvertOptions(
        column_types={"zip": pa.string(), "card_number": pa.string()}, strings_can_be_null=True
    )
    return pacsv.read_csv(ROOT / "sample_data/customers.csv", convert_options=convert)


def main_job_text(input_path: pathlib.Path, work: pathlib.Path) -> str:
    """pipelines/customers.yaml reading `input_path`, writing and charging under `work`."""
    text = (ROOT / "pipelines/customers.yaml").read_text()
    text = re.sub(r"input:\n  path: [^\n]*\n  types:\n    zip: string\n", f"input:\n  path: {input_path}\n", text)
    assert str(input_path) in text, "the main job's input block changed; update this fixture"
    text = text.replace("../sample_data/", f"{ROOT}/sample_data/").replace("../out/", f"{work}/")
    return text


@pytest.fixture
def customers(tmp_path: pathlib.Path):
    """(the sample as a pyarrow Table, the path of its Parquet copy, the job file's path)."""
    table = customers_table()
    data = tmp_path / "customers.parquet"
    pq.write_table(table, data, row_group_size=1000)
    job = tmp_path / "customers.yaml"
    job.write_text(main_job_text(data, tmp_path))
    return table, data, job


def big_job(work: pathlib.Path) -> pathlib.Path:
    """A k-anonymous job with noise and a ledger over 1 million generated customers in `work`
    (long enough to be interrupted); returns the job file."""
    done = run_cli("sample", "--rows", "1000000", "--out", "big.parquet", cwd=work)
    assert done.returncode == 0, done.stderr
    job = work / "big.yaml"
    job.write_text(
        "version: 1\nname: big\ninput: { path: big.parquet }\nunlisted_columns: drop\ncolumns:\n"
        "  birth_date: { action: generalize, hierarchy: { type: date, levels: [month, year, 5y, 10y] } }\n"
        "  zip: { action: generalize, hierarchy: { type: prefix, keep: [4, 3, 2, 1] } }\n"
        "  gender: generalize\n  city: generalize\n"
        "  income: { action: noise, epsilon: 1, bounds: [0, 200000] }\n"
        "privacy:\n  k_anonymity: { k: 10, suppression_limit: 0.02 }\n"
        "  budget: { ledger: big.budget.json, dataset: big, epsilon: 10 }\n"
        "output: { path: big_out.parquet }\nlineage: big.lineage.jsonl\n"
    )
    return job

