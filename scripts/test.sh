#!/usr/bin/env bash
# The test command of the README: sets up what the test suite needs, then runs `cargo test`.
#
# On a fresh machine with only Rust and Python 3 it
#   - creates a Python virtual environment (target/test-venv, or $ANONYMIZE_TEST_VENV) with the
#     OpenLineage validator's packages (jsonschema and its format checkers), from PyPI;
#   - installs Debian's chromium for the privacy-report browser tests when it is missing and the
#     machine lets it (root, or sudo without a password); otherwise those tests say they were
#     skipped and why;
# then runs `cargo test --locked` with the venv's python first on PATH, and then the Python
# package's tests: maturin, pyarrow, polars, pandas, pytest and pyspark from PyPI into the same
# venv (and Debian's Java 17 for Spark when java is missing and the machine lets it), the
# package (python/) built in the dev profile and installed there, pytest over python/tests
# against the command line `cargo test` built (the Spark tests run Spark local[2]). Extra arguments go to `cargo test` (for example
# `scripts/test.sh hostile`), and then the Python tests are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
venv="${ANONYMIZE_TEST_VENV:-$target/test-venv}"
as_root=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then as_root="sudo -n"; else as_root="none"; fi
fi

python_ok() { "$venv/bin/python" -c 'import jsonschema, referencing, rfc3987, rfc3339_validator' 2>/dev/null; }
if ! python_ok; then
  echo "test setup: creating $venv with the OpenLineage validator's packages" >&2
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian's python3 keeps venv in a package of its own.
    if [ "$as_root" != "none" ]; then
      $as_root apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q python3-venv >/dev/null
      python3 -m venv "$venv"
    else
      echo "test setup: python3 cannot create a virtual environment (install python3-venv)" >&2
      exit 1
    fi
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check jsonschema rfc3987 rfc3339-validator
  python_ok
fi
export PATH="$(cd "$venv/bin" && pwd):$PATH"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$as_root" != "none" ]; then
    echo "test setup: installing Debian's chromium for the report's browser tests" >&2
    $as_root apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q chromium >/dev/null
  else
    export ANONYMIZE_SKIP_BROWSER="chromium is not installed and this user cannot install it (not root, no sudo)"
    echo "test setup: $ANONYMIZE_SKIP_BROWSER; the browser tests will say they were skipped" >&2
  fi
fi

cargo test --locked "$@"
[ "$#" -eq 0 ] || exit 0

python_packages_ok() { "$venv/bin/python" -c 'import maturin, pyarrow, polars, pandas, pytest, pyspark' 2>/dev/null; }
if ! python_packages_ok; then
  echo "test setup: installing maturin, pyarrow, polars, pandas, pytest and pyspark into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin pyarrow polars pandas pytest "pyspark>=3.5,<5"
fi
if ! command -v java >/dev/null 2>&1; then
  if [ "$as_root" != "none" ]; then
    echo "test setup: installing Debian's Java 17 for the Spark tests" >&2
    $as_root apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -q openjdk-17-jre-headless >/dev/null
  else
    export ANONYMIZE_SKIP_SPARK="java is not installed and this user cannot install it (not root, no sudo)"
    echo "test setup: $ANONYMIZE_SKIP_SPARK; the Spark tests will say they were skipped" >&2
  fi
fi
# The package as `pip install ./python` builds it, in the dev profile (shares cargo test's
# dependencies; the README's install builds release).
echo "test setup: building and installing the Python package (python/)" >&2
MATURIN_PEP517_ARGS="--profile dev" "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-build-isolation --force-reinstall --no-deps ./python
ANONYMIZE_BIN="$(cd "$target" && pwd)/debug/anonymize" "$venv/bin/python" -m pytest -q python/tests
