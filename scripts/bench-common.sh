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

best() {
  local job=$1 best=
  shift
  for _ in $(seq "$runs"); do
    local start end t
    start=$(date +%s.%N)
    "$bin" run "$work/$job.yaml" --quiet "$@" > "$work/$job.json" || { echo "the $job run failed" >&2; exit 1; }
    end=$(date +%s.%N)
    t=$(python3 -c "print($end - $start)")
    best=$(python3 -c "print(min(float('${best:-inf}'), $t))")
  done
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
