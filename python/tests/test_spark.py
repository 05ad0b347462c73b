"""The same job files on Spark (local[2], one session for the module) and on the command line.

Inputs are split into several Parquet files with small row groups, and the session's
`spark.sql.files.maxPartitionBytes` is 16 KiB, so every file is cut across several tasks.
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, big_job, customers_table, main_job_text, run_cli

pyspark = pytest.importorskip("pyspark", reason="scripts/test.sh installs pyspark into its venv")
if os.environ.get("ANONYMIZE_SKIP_SPARK"):
    pytest.skip(os.environ["ANONYMIZE_SKIP_SPARK"], allow_module_level=True)

import anonymize  # noqa: E402
from anonymize import spark as anonymize_spark  # noqa: E402

SPLIT = "16k"


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("anonymize tests")
        .config("spark.sql.files.maxPartitionBytes", SPLIT)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


def split_parquet(table: pa.Table, folder: pathlib.Path, files: int = 3, row_group: int = 97) -> pathlib.Path:
    folder.mkdir()
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), folder / f"part-{i}.parquet", row_group_size=row_group)
    return folder


def rows(path: pathlib.Path):
    """Every row of a file or folder of parts (pyarrow skips `_SUCCESS`), sorted."""
    table = pq.read_table(path)
    return sorted(tuple(map(repr, r.values())) for r in table.to_pylist())


def events(path: pathlib.Path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def validate(path: pathlib.Path):
    check = subprocess.run(
        [sys.executable, str(ROOT / "tests/openlineage/validate.py"), str(path)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def every_kind_of_work(text: str) -> str:
    """The main job with a mask and a date shift too, and the guardrail relaxed for them."""
    text = text.replace("phone:             { action: pseudonymize, domain: phone }", "phone: { action: mask, keep_last: 2 }")
    text = text.replace("signup_date:       drop", "signup_date: { action: shift, by: customer_id, max_days: 30 }")
    text = text.replace("max_unique_rows: 0.05", "max_unique_rows: 1.0")
    assert "keep_last" in text and "max_days" in text, "the main job changed; update this test"
    return text


def cli_then_aside(job: pathlib.Path, work: pathlib.Path, *outputs: str):
    """Runs the command line with --seed 7; moves its outputs aside; returns its summary."""
    done = run_cli("run", str(job), "--seed", "7", "--json", "--quiet", cwd=work)
    assert done.returncode == 0, done.stderr
    for name in outputs:
        os.rename(work / name, work / f"cli-{name}")
    return json.loads(done.stdout)


def test_spark_writes_the_command_lines_rows_releases_and_records(spark, tmp_path):
    folder = split_parquet(customers_table(), tmp_path / "input")
    job = tmp_path / "customers.yaml"
    job.write_text(every_kind_of_work(main_job_text(folder, tmp_path)))
    cli = cli_then_aside(job, tmp_path, "customers_anon.parquet", "customers_spend_by_segment.csv")

    summary = anonymize_spark.run(job, seed=7, spark=spark)
    out = tmp_path / "customers_anon.parquet"
    assert out.is_dir() and (out / "_SUCCESS").exists()
    parts = sorted(p.name for p in out.glob("part-*.parquet"))
    assert len(parts) > 3, f"the input was not cut across tasks: {parts}"
    assert rows(out) == rows(tmp_path / "cli-customers_anon.parquet")
    # Pseudonyms, FF1, masks, shifts, generalized values, noise: every column took part.
    written = pq.read_table(out)
    first = written.slice(0, 1).to_pylist()[0]
    assert len(first["customer_id"]) == 32 and "@" not in first["email"]
    assert set(first["phone"][:-2]) == {"*"} and first["phone"][-2:] != "**", first["phone"]
    assert written.schema.field("signup_date").type == pa.date32()
    raw = customers_table()
    cards = {c for c in written.column("card_number").to_pylist() if c is not None}
    assert cards and not cards & set(raw.column("card_number").to_pylist()), "FF1 left a card number as it was"
    assert (tmp_path / "customers_spend_by_segment.csv").read_bytes() == (
        tmp_path / "cli-customers_spend_by_segment.csv"
    ).read_bytes()
    for figure in ("rows_read", "rows_written", "rows_excluded", "run_id", "privacy", "released", "columns"):
        if figure == "privacy":
            for p in (summary, cli):
                p["privacy"].pop("search_seconds", None)
        assert summary[figure] == cli[figure], figure
    # The ledger: one committed entry per run.
    ledger = json.loads((tmp_path / "customers.budget.json").read_text())
    assert json.dumps(ledger).count('"committed"') == 2
    # Lineage: START and COMPLETE per run, the Spark run's parent is the application, every
    # event valid against the OpenLineage schemas, every part checksummed.
    lineage = tmp_path / "customers_anon.lineage.jsonl"
    kinds = [e["eventType"] for e in events(lineage)]
    assert kinds == ["START", "COMPLETE", "START", "COMPLETE"]
    complete = events(lineage)[-1]
    assert complete["run"]["facets"]["parent"]["job"]["name"] == "anonymize tests"
    validate(lineage)
    verify = run_cli("verify", str(lineage), cwd=tmp_path)
    assert verify.returncode == 0, verify.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_csv_input_is_typed_as_the_command_line_types_it(spark, tmp_path):
    job = tmp_path / "customers.yaml"
    text = main_job_text(ROOT / "sample_data/customers.csv", tmp_path)
    job.write_text(text.replace(f"path: {ROOT}/sample_data/customers.csv\n", f"path: {ROOT}/sample_data/customers.csv\n  types:\n    zip: string\n"))
    cli_then_aside(job, tmp_path, "customers_anon.parquet", "customers_spend_by_segment.csv")
    anonymize_spark.run(job, seed=7, spark=spark)
    ours = pq.read_table(tmp_path / "customers_anon.parquet")
    assert ours.schema.field("zip").type == pa.string()
    assert any(z is not None and z.startswith("0") for z in ours.column("zip").to_pylist()), "leading zeros kept"
    assert rows(tmp_path / "customers_anon.parquet") == rows(tmp_path / "cli-customers_anon.parquet")


def test_adult_on_spark_finds_arxs_optimum_and_k_holds_on_the_union_of_parts(spark, tmp_path):
    adult = pacsv.read_csv(
        ROOT / "sample_data/adult/adult.csv",
        parse_options=pacsv.ParseOptions(delimiter=";"),
        convert_options=pacsv.ConvertOptions(column_types={"age": pa.string()}),
    )
    adult = adult.cast(pa.schema([pa.field(n, pa.string()) for n in adult.column_names]))
    folder = split_parquet(adult, tmp_path / "adult", files=4, row_group=1500)
    text = (ROOT / "pipelines/adult_k5.yaml").read_text().replace("../sample_data/", f"{ROOT}/sample_data/")
    text = text.replace(f"path: {ROOT}/sample_data/adult/adult.csv\n  delimiter: \";\"", f"path: {folder}")
    text = text.replace("../out/", f"{tmp_path}/")
    assert str(folder) in text, "the Adult job's input block changed; update this test"
    job = tmp_path / "adult_k5.yaml"
    job.write_text(text)
    summary = anonymize_spark.run(job, spark=spark)
    privacy = summary["privacy"]
    levels = {q["name"]: q["level"] for q in privacy["quasi_identifiers"]}
    assert levels == {
        "sex": 0, "age": 0, "race": 1, "marital-status": 2, "education": 3,
        "native-country": 2, "workclass": 2, "occupation": 1, "salary-class": 1,
    }
    assert privacy["suppressed_rows"] == 105 and privacy["classes"] == 356
    names = list(levels)
    texts = pacsv.ConvertOptions(column_types={n: pa.string() for n in names})
    parts = sorted(pathlib.Path(summary["output"]["path"]).glob("part-*.csv"))
    assert len(parts) > 4, "the input was not cut across tasks"
    out = pa.concat_tables(pacsv.read_csv(p, convert_options=texts) for p in parts)
    assert out.num_rows == 30162
    suppressed = pc.equal(out.column("sex"), "*")
    kept = out.filter(pc.invert(suppressed))
    sizes = collections.Counter(zip(*(kept.column(n).to_pylist() for n in names)))
    assert min(sizes.values()) >= 5 and len(sizes) == 356
    assert out.num_rows - kept.num_rows == 105


def test_failures_leave_nothing_and_are_recorded(spark, tmp_path):
    folder = split_parquet(customers_table(), tmp_path / "input")
    (tmp_path / "key.hex").write_text("11" * 32)
    base = f"""version: 1
name: failing
input: {{ path: {folder} }}
secrets: {{ pseudonym_key: {{ file: {tmp_path}/key.hex }} }}
unlisted_columns: drop
columns:
  customer_id: {{ action: pseudonymize, unique: true }}
  income: {{ action: noise, epsilon: 1, bounds: [0, 200000] }}
privacy:
  budget: {{ ledger: {tmp_path}/budget.json, dataset: failing, epsilon: 10 }}
output: {{ path: {tmp_path}/out.parquet }}
lineage: {tmp_path}/runs.jsonl
"""
    # Executors fail: FF1 refuses 5-digit zips.
    short = tmp_path / "short.yaml"
    short.write_text(base.replace("privacy:", "  zip: { action: encrypt }\nprivacy:"))
    with pytest.raises(anonymize.AnonymizeError) as failed:
        anonymize_spark.run(short, spark=spark)
    assert failed.value.exit_code == 1 and "zip" in failed.value.message
    # A customer in two files (so in two tasks) with `unique: true`.
    os.link(folder / "part-0.parquet", folder / "part-9.parquet")
    unique = tmp_path / "unique.yaml"
    unique.write_text(base)
    with pytest.raises(anonymize.AnonymizeError) as repeated:
        anonymize_spark.run(unique, spark=spark)
    assert repeated.value.exit_code == 1 and "unique" in repeated.value.message
    left = [p.name for p in tmp_path.iterdir() if p.name.startswith(("out", "."))]
    assert not left, f"left behind: {left}"
    ledger = (tmp_path / "budget.json").read_text() if (tmp_path / "budget.json").exists() else ""
    assert '"committed"' not in ledger
    lineage = tmp_path / "runs.jsonl"
    kinds = [e["eventType"] for e in events(lineage)]
    assert kinds == ["START", "FAIL", "START", "FAIL"]
    validate(lineage)
    # The key never reached a message, an event or the shipped job.
    assert "11" * 32 not in lineage.read_text() and "11" * 32 not in str(repeated.value) + str(failed.value)


def test_the_command_is_anonymize_run_on_spark(tmp_path):
    """`python -m anonymize.spark run` takes `anonymize run`'s flags and gives its exit codes."""
    folder = split_parquet(customers_table(), tmp_path / "input", files=2, row_group=500)
    job = tmp_path / "customers.yaml"
    job.write_text(main_job_text(folder, tmp_path))
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": "--conf spark.ui.enabled=false pyspark-shell"}
    command = [sys.executable, "-m", "anonymize.spark", "run", str(job), "--master", "local[2]", "--seed", "3"]
    done = subprocess.run([*command, "--json"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["rows_written"] > 0 and summary["seeded"] is True
    assert "rows" in done.stderr, "the human summary is printed on stderr"
    again = subprocess.run([*command, "--quiet"], capture_output=True, text=True, env=env)
    assert again.returncode == 0, again.stderr  # overwrite: true replaces the folder of parts
    bad = subprocess.run([sys.executable, "-m", "anonymize.spark", "run", str(tmp_path / "missing.yaml")], capture_output=True, text=True, env=env)
    assert bad.returncode == 1 and "missing.yaml" in bad.stderr
    usage = subprocess.run([sys.executable, "-m", "anonymize.spark", "run"], capture_output=True, text=True)
    assert usage.returncode == 1


def test_ctrl_c_cancels_the_spark_job_and_leaves_nothing(tmp_path):
    import signal
    import time

    big_job(tmp_path)
    script = (
        "from anonymize import spark\n"
        "try:\n    spark.run('big.yaml', master='local[2]')\n    print('finished')\n"
        "except KeyboardInterrupt:\n    print('interrupted')\n"
    )
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": "--conf spark.ui.enabled=false pyspark-shell"}
    child = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lineage = tmp_path / "big.lineage.jsonl"
    deadline = time.monotonic() + 120
    while not (lineage.exists() and "START" in lineage.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the census tasks are running
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=180)
    assert out.split() == ["interrupted"], (out, err)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("big_out", ".")))
    assert left == [], left
    spending = json.loads((tmp_path / "big.budget.json").read_text())["datasets"]["big"]["spending"]
    assert all(e["state"] != "committed" for e in spending), spending
    assert [e["eventType"] for e in events(lineage)] == ["START", "FAIL"]
