# Shared by the bench-*.sh scripts (sourced, not run): builds the release binary, makes a work
# folder with `rows` generated customers as input.parquet, and defines `best JOB [ARGS...]`,
# the best wall time of `runs` runs of work/JOB.yaml (stops the script if a run fails).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/anonymize"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" sample --rows "$rows" --out "$work/input.parquet" --seed 7 2>/dev/null

# `measured OUT CMD...`: runs CMD with its stdout to OUT and prints its wall time in seconds and
# its peak resident memory in MB (the kernel's ru_maxrss for that process), or fails.
measured() {
  python3 - "$@" <<'PY'
import os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
start = time.monotonic()
pid = os.fork()
if pid == 0:
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.execvp(cmd[0], cmd)
_, status, usage = os.wait4(pid, 0)
if status != 0:
    sys.exit(1)
print(f"{time.monotonic() - start} {usage.ru_maxrss / 1024}")
PY
}

# `best JOB [ARGS...]` prints the best wall time of `runs` runs of work/JOB.yaml; the largest
# peak RSS of those runs (MB) goes to work/JOB.rss.
best() {
  local job=$1 best= rss=0 t m
  shift
  for _ in $(seq "$runs"); do
    read -r t m < <(measured "$work/$job.json" "$bin" run "$work/$job.yaml" --quiet "$@") \
      || { echo "the $job run failed" >&2; exit 1; }
    [ -n "${t:-}" ] || { echo "the $job run failed" >&2; exit 1; }
    best=$(python3 -c "print(min(float('${best:-inf}'), $t))")
    rss=$(python3 -c "print(max($rss, $m))")
  done
  echo "$rss" > "$work/$job.rss"
  echo "$best"
}

# The generated customers' columns (anonymize sample).
columns="customer_id full_name email phone birth_date zip gender city income spend_90d segment card_number signup_date consent_analytics"

# `job NAME [ACTIONS] [EXTRA]` writes work/NAME.yaml: input.parquet to NAME.parquet, every column
# kept unless ACTIONS (YAML lines `  column: action`) gives it another action; EXTRA (top-level
# YAML: privacy, secrets) is appended.
job() {
  local name=$1 actions=${2:-} extra=${3:-} column line
  # A column the sample does not have would otherwise be ignored silently.
  for column in $(printf '%s\n' "$actions" | sed -n 's/^  \([a-z_0-9]*\):.*/\1/p'); do
    case " $columns " in *" $column "*) ;; *) echo "job $name: no column $column" >&2; exit 1 ;; esac
  done
  {
    printf 'version: 1\nname: %s\ninput: { path: input.parquet }\noutput: { path: %s.parquet, overwrite: true }\ncolumns:\n' "$name" "$name"
    for column in $columns; do
      line=$(printf '%s\n' "$actions" | grep -E "^  $column:" || true)
      printf '%s\n' "${line:-  $column: keep}"
    done
    [ -z "$extra" ] || printf '%s\n' "$extra"
  } > "$work/$name.yaml"
}

# `driver_jobs` writes the two jobs the driver benchmarks (bench-python.sh, bench-spark.sh) time:
# work/rowlocal.yaml (two pseudonyms, a mask, two drops; key from ANONYMIZE_BENCH_KEY) and
# work/kanon.yaml (four quasi-identifiers, k = 10, 2 %).
driver_jobs() {
  job rowlocal '  customer_id: { action: pseudonymize, domain: customer }
  email: { action: pseudonymize, keep_domain: true }
  phone: { action: mask, keep_last: 2 }
  full_name: drop
  birth_date: drop' 'secrets: { pseudonym_key: { env: ANONYMIZE_BENCH_KEY } }'
  job kanon '  birth_date: { action: generalize, hierarchy: { type: date, levels: [month, year, 5y, 10y] } }
  zip: { action: generalize, hierarchy: { type: prefix, keep: [4, 3, 2, 1] } }
  gender: generalize
  city: generalize' 'privacy:
  k_anonymity: { k: 10, suppression_limit: 0.02 }'
}

# `package_venv [PACKAGES...]` makes target/bench-python-venv with pyarrow and PACKAGES, builds
# this repository's Python package in release into it (pip install ./python) and sets `venv`.
package_venv() {
  venv="${CARGO_TARGET_DIR:-target}/bench-python-venv"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check pyarrow "$@"
  echo "building the package in release (pip install ./python)" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python
}

