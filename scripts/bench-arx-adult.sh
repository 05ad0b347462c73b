#!/usr/bin/env bash
# Our optimal k-anonymity search against ARX 3.9.2 on Adult (30,162 rows, nine quasi-identifiers,
# ARX's hierarchies), at the 24 configurations k in {2, 5, 10, 50} x suppression limit in
# {0, 0.04, 0.05} x metric in {discernibility, precision}. Each configuration is a whole run of
# the release binary; the figure compared is the run's `privacy.search_seconds` (from the merged
# census to the chosen levels: setting up the problem, the search and the chosen node's classes),
# median of RUNS runs, against ARX's recorded median search time on this machine kind
# (../shared/reference/arx_adult_timings.json, 3 runs each; ARX's own data encoding is part of
# its figure). Prints per line ours, ARX's, the ratio, how many transformations were checked,
# tagged and pruned, the levels and suppression, the peak RSS of the run; the worst ratio last.
# Usage: scripts/bench-arx-adult.sh [RUNS]
set -euo pipefail
runs=${1:-5}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/anonymize"
reference=${ARX_TIMINGS:-../shared/reference/arx_adult_timings.json}
[ -f "$reference" ] || { echo "ARX's timings are not at $reference (set ARX_TIMINGS)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$bin" "$work" "$reference" "$runs" "$PWD/sample_data/adult" <<'PY'
import json, os, statistics, subprocess, sys

bin, work, reference, runs, data = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
arx = {e["id"]: e for e in json.load(open(reference))["k_anonymity"]}
columns = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation",
           "salary-class"]


def job(k, limit, metric):
    lines = [
        "version: 1",
        f"name: adult_k{k}_{limit}_{metric}",
        f"input: {{ path: {data}/adult.csv, delimiter: ';' }}",
        f"output: {{ path: {work}/out.csv, overwrite: true }}",
        "columns:",
    ]
    for c in columns:
        lines.append(f"  {c}: {{ action: generalize, hierarchy: {{ type: file, path: {data}/adult_hierarchy_{c}.csv }} }}")
    lines.append(f"privacy: {{ k_anonymity: {{ k: {k}, suppression_limit: {limit}, metric: {metric} }} }}")
    path = os.path.join(work, "job.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run(path):
    child = subprocess.run([bin, "run", path, "--json", "--quiet"], capture_output=True)
    if child.returncode != 0:
        sys.exit(f"{path}: exit {child.returncode}: {child.stderr.decode()}")
    return json.loads(child.stdout)["privacy"]


def peak_rss_mb(path):
    # A separate run whose peak resident memory is read from the kernel (ru_maxrss, KiB).
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(bin, [bin, "run", path, "--json", "--quiet"])
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        sys.exit(f"{path}: the run failed")
    return usage.ru_maxrss / 1024


print(f"Adult, 9 quasi-identifiers, {runs} runs per configuration (median); ARX: median of 3, same machine kind")
print(f"{'configuration':<28}{'ours ms':>9}{'ARX ms':>9}{'ARX/ours':>10}{'checked':>9}{'tagged':>8}{'pruned':>8}"
      f"{'suppr':>7}{'RSS MB':>8}  levels")
worst = None
for metric, arx_metric in [("discernibility", "discernability"), ("precision", "precision")]:
    for limit, arx_limit in [(0, "0.0"), (0.04, "0.04"), (0.05, "0.05")]:
        for k in [2, 5, 10, 50]:
            name = f"k{k}_supp{arx_limit}_{arx_metric}"
            path = job(k, limit, metric)
            results = [run(path) for _ in range(runs)]
            ours = statistics.median(r["search_seconds"] for r in results) * 1000
            theirs = arx[name]["timing"]["arx_search_ms_median"]
            ratio = theirs / ours
            p = results[0]
            levels = "".join(str(q["level"]) for q in p["quasi_identifiers"])
            tagged = p.get("nodes_tagged", "-")
            pruned = p.get("nodes_pruned", "-")
            rss = peak_rss_mb(path)
            print(f"{name:<28}{ours:9.1f}{theirs:9d}{ratio:10.1f}{p['nodes_computed']:9d}{tagged:>8}{pruned:>8}"
                  f"{p['suppressed_rows']:7d}{rss:8.0f}  {levels}")
            if worst is None or ratio < worst[0]:
                worst = (ratio, name)
print(f"worst ratio: ARX / ours = {worst[0]:.1f} at {worst[1]} (goal: at least 10 everywhere)")
PY
