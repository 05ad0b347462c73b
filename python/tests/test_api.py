"""The Python API against the command line: same rows, same figures, same errors."""

from __future__ import annotations

import json
import os
import pathlib

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import anonymize
from conftest import ROOT, big_job, run_cli

SEED = 11


def ledger_entries(work: pathlib.Path) -> list:
    ledger = json.loads((work / "customers.budget.json").read_text())
    return ledger["datasets"]["sample_customers"]["spending"]


def test_transform_gives_the_command_lines_rows_for_every_arrow_object(customers, tmp_path):
    table, data, job_path = customers
    # The command line's output for the job on the Parquet file holding these rows.
    done = run_cli("run", str(job_path), "--seed", str(SEED), "--json", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = pq.read_table(tmp_path / "customers_anon.parquet")
    cli_summary = json.loads(done.stdout)
    assert 0 < expected.num_rows < table.num_rows  # consent and exclusions removed rows
    release = tmp_path / "customers_spend_by_segment.csv"
    release.unlink()  # the run's; transform must not make it again

    job = anonymize.Job.load(job_path)
    inputs = {
        "pyarrow Table": table,
        "pyarrow RecordBatchReader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=700)),
        "polars DataFrame": pl.from_arrow(table),
        # pandas with Arrow-backed columns keeps the types (NumPy turns integers with nulls into floats).
        "pandas DataFrame": table.to_pandas(types_mapper=pd.ArrowDtype),
    }
    for kind, data in inputs.items():
        out = job.transform(data, seed=SEED, threads=2)
        assert isinstance(out, pa.Table), kind
        assert out.column_names == expected.column_names, kind
        assert out.to_pylist() == expected.to_pylist(), f"{kind}: rows differ from the command line's"
        summary = job.last_summary
        assert summary["rows_written"] == cli_summary["rows_written"], kind
        assert summary["rows_excluded"] == cli_summary["rows_excluded"], kind
        assert summary["privacy"]["quasi_identifiers"] == cli_summary["privacy"]["quasi_identifiers"], kind
    # Each transform charged the budget like a run: one committed entry each, plus the run's.
    entries = ledger_entries(tmp_path)
    assert [e["state"] for e in entries] == ["committed"] * (1 + len(inputs))
    # The job's releases are a run's: transform wrote none.
    assert not release.exists() and not list(tmp_path.glob("customers_spend_by_segment*"))


def test_run_is_the_command_lines_run(customers, tmp_path):
    table, data, job_path = customers
    summary = anonymize.run(job_path, seed=SEED, threads=1)
    produced = pq.read_table(tmp_path / "customers_anon.parquet")
    (tmp_path / "customers_anon.parquet").rename(tmp_path / "from_python.parquet")
    done = run_cli("run", str(job_path), "--seed", str(SEED), "--json", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert produced.to_pylist() == pq.read_table(tmp_path / "customers_anon.parquet").to_pylist()
    cli_summary = json.loads(done.stdout)
    for key in ("job", "rows_read", "rows_written", "rows_excluded", "columns", "output_schema"):
        assert summary[key] == cli_summary[key], key
    for side in (summary, cli_summary):
        side["privacy"].pop("search_seconds")
    assert summary["privacy"] == cli_summary["privacy"]
    # Lineage, report and the release, as the command line makes them.
    events = [json.loads(line) for line in (tmp_path / "customers_anon.lineage.jsonl").read_text().splitlines()]
    assert [e["eventType"] for e in events] == ["START", "COMPLETE", "START", "COMPLETE"]
    assert (tmp_path / "customers_anon.report.html").exists()
    assert (tmp_path / "customers_spend_by_segment.csv").exists()
    # A dry run writes nothing.
    plan = anonymize.run(job_path, dry_run=True)
    assert plan["dry_run"] is True and plan["rows_written"] == 0


def test_failures_raise_with_the_command_lines_message_hint_and_exit_code(customers, tmp_path):
    table, data, job_path = customers
    with pytest.raises(anonymize.AnonymizeError) as missing:
        anonymize.run(tmp_path / "nope.yaml")
    assert missing.value.exit_code == 1 and "cannot read job file" in missing.value.message

    invalid_text = job_path.read_text().replace("suppression_limit: 0.04", "suppression_limit: 4")
    with pytest.raises(anonymize.AnonymizeError) as invalid:
        anonymize.Job.from_yaml(invalid_text, tmp_path)
    assert "suppression_limit" in invalid.value.message and invalid.value.exit_code == 1
    # A job that does not fit the data: the command line's message and hint.
    typo = job_path.read_text().replace("gender:            generalize", "gendre:            generalize")
    (tmp_path / "typo.yaml").write_text(typo)
    cli = run_cli("run", "typo.yaml", cwd=tmp_path)
    with pytest.raises(anonymize.AnonymizeError) as unfit:
        anonymize.Job.from_yaml(typo, tmp_path).transform(table)
    assert cli.returncode == unfit.value.exit_code == 1
    # The same problem, hint and all; only the job's name differs (this one was given as text).
    assert unfit.value.message.split("does not fit its input")[1] in cli.stderr
    assert "gendre" in unfit.value.message

    # A table without the job's columns: the command line's message, no value in it.
    job = anonymize.Job.load(job_path)
    with pytest.raises(anonymize.AnonymizeError) as wrong:
        job.transform(table.drop_columns(["zip"]))
    assert "zip" in wrong.value.message and wrong.value.exit_code == 1
    for value in table.column("email").to_pylist()[:50]:
        assert value not in str(wrong.value)

    with pytest.raises(TypeError):
        job.transform([1, 2, 3])


def test_the_key_never_reaches_python(customers, tmp_path, monkeypatch):
    table, data, job_path = customers
    key = "5f" * 32
    text = job_path.read_text()
    text = text.replace(
        f"pseudonym_key: {{ file: {ROOT}/sample_data/keys/DEMO-KEY-public-do-not-use.hex }}",
        "pseudonym_key: { env: PYTHON_TEST_KEY }",
    )
    assert "PYTHON_TEST_KEY" in text
    job_path.write_text(text)
    monkeypatch.setenv("PYTHON_TEST_KEY", key)
    job = anonymize.Job.load(job_path)
    out = job.transform(table, seed=SEED)
    seen = [repr(job), str(vars(job) if hasattr(job, "__dict__") else ""), json.dumps(job.last_summary)]
    seen += [str(getattr(job, name, "")) for name in dir(job) if not name.startswith("__")]
    assert all(key not in s and key.upper() not in s for s in seen)
    # Tokens are keyed: no raw identifier survives in the output.
    written = json.dumps(out.to_pylist(), default=str)
    for column in ("email", "phone", "full_name"):
        for value in table.column(column).drop_null().to_pylist():
            assert value not in written, column
    # A wrong key is refused without echoing it.
    monkeypatch.setenv("PYTHON_TEST_KEY", "zz" + key[2:])
    with pytest.raises(anonymize.AnonymizeError) as refused:
        anonymize.Job.load(job_path).transform(table, seed=SEED)
    assert key[2:] not in str(refused.value) and refused.value.hint


def test_risk_gives_the_command_lines_figures(customers, tmp_path):
    table, data, job_path = customers
    done = run_cli("risk", str(data), "--quasi-identifiers", "zip,gender,birth_date", "--sensitive", "segment", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    expected = json.loads(done.stdout)
    expected.pop("data")
    for data_object in (table, pl.from_arrow(table), table.to_pandas(), str(data)):
        assert anonymize.risk(data_object, ["zip", "gender", "birth_date"], sensitive="segment") == expected
    csv = anonymize.risk(ROOT / "sample_data/customers.csv", ["gender"])
    assert csv["rows"] == table.num_rows
    with pytest.raises(anonymize.AnonymizeError) as unknown:
        anonymize.risk(table, ["zipp"])
    assert unknown.value.hint == "did you mean `zip`?"


def test_budget_cannot_be_overspent_from_python(customers, tmp_path):
    table, data, job_path = customers
    job_path.write_text(job_path.read_text().replace("epsilon: 300", "epsilon: 3.5"))
    anonymize.run(job_path)  # epsilon 3: the two noise columns and the release
    job = anonymize.Job.load(job_path)
    with pytest.raises(anonymize.AnonymizeError) as spent:
        job.transform(table)  # epsilon 1 more: refused before any row is read
    assert "budget" in spent.value.message, spent.value.message
    assert [e["state"] for e in ledger_entries(tmp_path)] == ["committed"]


def test_ctrl_c_stops_a_run_and_leaves_nothing(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    big_job(tmp_path)
    script = (
        "import anonymize\n"
        "try:\n    anonymize.run('big.yaml')\n    print('finished')\n"
        "except KeyboardInterrupt:\n    print('interrupted')\n"
        "anonymize.run('big.yaml', dry_run=True)\nprint('usable again')\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lineage = tmp_path / "big.lineage.jsonl"
    deadline = time.monotonic() + 60
    while not (lineage.exists() and "START" in lineage.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # into the census pass
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=120)
    assert out.split() == ["interrupted", "usable", "again"], (out, err)
    # Nothing under the output's name, no temporary file, the reservation released, FAIL recorded.
    # (The ledger's lock file and its folder of run locks stay, as after any run; the folder empty.)
    left = sorted(p.name for p in tmp_path.iterdir())
    ledger = ["big.budget.json", "big.budget.json.lock", "big.budget.json.runs"]
    assert left == [*ledger, "big.lineage.jsonl", "big.parquet", "big.yaml"], left
    assert list((tmp_path / "big.budget.json.runs").iterdir()) == []
    spending = json.loads((tmp_path / "big.budget.json").read_text())["datasets"]["big"]["spending"]
    assert all(e["state"] != "committed" for e in spending), spending
    events = [json.loads(line)["eventType"] for line in lineage.read_text().splitlines()]
    assert events == ["START", "FAIL"], events
