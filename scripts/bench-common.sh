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
