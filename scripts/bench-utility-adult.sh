#!/usr/bin/env bash
# What our output keeps for machine learning, on Adult (30,162 rows, ARX's hierarchies): the
# eight features as quasi-identifiers, `salary-class` kept and predicted. For each variant of the
# job and each of SEEDS split seeds, `anonymize evaluate` splits the rows 70/30 (stratified by the
# target), anonymizes the train part as the variant says, recodes the test part with its
# decisions, and trains a logistic regression and gradient-boosted trees (smartcore) on the
# anonymized and on the original train part. Printed per variant: the mean accuracy and AUC of
# both families, both ways, and the smallest class of the anonymized train parts (counted from
# their output values). Each variant is also run for real on all rows, and k is checked on the
# written file by a separate count (Python, here). Last: scikit-learn's HistGradientBoosting and
# logistic regression on the original data, 70/30 stratified splits with the same seeds (its own
# splits: the protocol, not the same rows), installed into target/bench-venv if missing; and
# whether the goal holds (target-aware variant, trees: accuracy >= 0.825, AUC >= 0.870).
# Usage: scripts/bench-utility-adult.sh [SEEDS]
set -euo pipefail
seeds=${1:-3}
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/anonymize"
venv="${CARGO_TARGET_DIR:-target}/bench-venv"
if ! "$venv/bin/python" -c 'import sklearn, pandas' 2>/dev/null; then
  echo "setup: installing scikit-learn and pandas into $venv (for the comparison only)" >&2
  python3 -m venv "$venv" 2>/dev/null || true
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check scikit-learn pandas \
    || echo "setup: scikit-learn could not be installed; its comparison is skipped" >&2
fi
python=python3
"$venv/bin/python" -c 'import sklearn, pandas' 2>/dev/null && python="$venv/bin/python"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" - "$bin" "$work" "$seeds" "$PWD/sample_data/adult" <<'PY'
import csv, json, statistics, subprocess, sys
from collections import Counter

bin, work, seeds, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
features = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"]

variants = [
    ("discernibility", 5, "metric: discernibility"),
    ("loss (default)", 5, "metric: loss"),
    ("classification, optimal", 5, "metric: classification, target: salary-class"),
    ("classification w=1, optimal", 5, "metric: classification, target: salary-class, classification_weight: 1"),
    ("classification, Mondrian", 5, "metric: classification, target: salary-class, algorithm: mondrian"),
    ("Mondrian k=10, loss", 10, "algorithm: mondrian"),
]


def job(name, k, settings):
    lines = [
        "version: 1",
        f"name: {name}",
        f"input: {{ path: {data}/adult.csv, delimiter: ';' }}",
        f"output: {{ path: {work}/{name}.csv, overwrite: true }}",
        "columns:",
    ]
    for c in features:
        lines.append(f"  {c}: {{ action: generalize, hierarchy: {{ type: file, path: {data}/adult_hierarchy_{c}.csv }} }}")
    lines.append("  salary-class: keep")
    lines.append(f"privacy: {{ k_anonymity: {{ k: {k}, suppression_limit: 0.04, {settings} }} }}")
    lines.append("utility: { target: salary-class, holdout: 0.3 }")
    path = f"{work}/{name}.yaml"
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def smallest_class(path):
    """k counted from the written file: rows grouped by their quasi-identifiers' values,
    suppressed rows (every quasi-identifier `*`) aside."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    classes = Counter(tuple(r[c] for c in features) for r in rows if any(r[c] != "*" for c in features))
    return min(classes.values()), len(rows)


mean = lambda xs: statistics.mean(xs)
print(f"Adult, 8 quasi-identifiers, target salary-class, suppression limit 4%, {seeds} split seeds (70/30)")
print(f"{'variant':30} {'k':>3} {'smallest':>8} {'file k':>6} | {'logistic orig':>13} {'anon':>11} | {'trees orig':>11} {'anon':>11}")
print(f"{'':30} {'':>3} {'(train)':>8} {'':>6} | {'acc / AUC':>13} {'acc / AUC':>11} | {'acc / AUC':>11} {'acc / AUC':>11}")
results = {}
for i, (label, k, settings) in enumerate(variants):
    path = job(f"v{i}", k, settings)
    per_seed = []
    for seed in range(seeds):
        out = subprocess.run([bin, "evaluate", path, "--split-seed", str(seed), "--json"], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{label}: evaluate failed: {out.stderr}")
        per_seed.append(json.loads(out.stdout))
    run = subprocess.run([bin, "run", path, "--quiet"], capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{label}: run failed: {run.stderr}")
    file_k, _ = smallest_class(f"{work}/v{i}.csv")
    assert file_k >= k, f"{label}: a class of {file_k} rows in the output"
    smallest = min(u["train_smallest_class"] for u in per_seed)
    assert smallest >= k, f"{label}: a class of {smallest} rows in an anonymized train part"
    cells = []
    for family in range(2):
        for side in ["original", "anonymized"]:
            acc = mean([u["models"][family][side]["accuracy"] for u in per_seed])
            auc = mean([u["models"][family][side]["auc"] for u in per_seed])
            cells.append(f"{acc:.3f}/{auc:.3f}")
            results[(label, family, side)] = (acc, auc)
    baseline = mean([u["majority_baseline"] for u in per_seed])
    print(f"{label:30} {k:>3} {smallest:>8} {file_k:>6} | {cells[0]:>13} {cells[1]:>11} | {cells[2]:>11} {cells[3]:>11}")
print(f"{'majority class':30} {'':>3} {'':>8} {'':>6} | {baseline:.3f}")

try:
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    frame = pd.read_csv(f"{data}/adult.csv", sep=";")
    y = (frame["salary-class"] == ">50K").astype(int).to_numpy()
    x = frame[features]
    scores = {"hgb": [], "logistic": []}
    for seed in range(seeds):
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
        categorical = [c for c in features if c != "age"]
        ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1).fit(x_train[categorical])
        to_trees = lambda d: np.column_stack([d[["age"]].to_numpy(), ordinal.transform(d[categorical])])
        hgb = HistGradientBoostingClassifier(categorical_features=list(range(1, len(features))), random_state=seed)
        hgb.fit(to_trees(x_train), y_train)
        p = hgb.predict_proba(to_trees(x_test))[:, 1]
        scores["hgb"].append((accuracy_score(y_test, p > 0.5), roc_auc_score(y_test, p)))
        onehot = OneHotEncoder(handle_unknown="ignore").fit(x_train[categorical])
        mu, sd = x_train["age"].mean(), x_train["age"].std()
        to_linear = lambda d: np.column_stack([((d["age"] - mu) / sd).to_numpy(), onehot.transform(d[categorical]).toarray()])
        logistic = LogisticRegression(max_iter=2000).fit(to_linear(x_train), y_train)
        p = logistic.predict_proba(to_linear(x_test))[:, 1]
        scores["logistic"].append((accuracy_score(y_test, p > 0.5), roc_auc_score(y_test, p)))
    print("scikit-learn on the original data (its own stratified 70/30 splits, same seeds):")
    for name, rust_family in [("HistGradientBoosting", 1), ("LogisticRegression", 0)]:
        s = scores["hgb" if rust_family == 1 else "logistic"]
        ours = results[("loss (default)", rust_family, "original")]
        print(f"  {name:22} accuracy {mean([a for a, _ in s]):.3f} AUC {mean([b for _, b in s]):.3f}"
              f"   ours ({['logistic regression', 'gradient-boosted trees'][rust_family]}): accuracy {ours[0]:.3f} AUC {ours[1]:.3f}")
except ImportError:
    print("scikit-learn is not available: no comparison")

acc, auc = results[("classification, Mondrian", 1, "anonymized")]
orig = results[("classification, Mondrian", 1, "original")][0]
ok = acc >= 0.825 and auc >= 0.870
print(f"goal (classification, Mondrian, trees on anonymized rows: accuracy >= 0.825, AUC >= 0.870, within 1.5 points of original): "
      f"accuracy {acc:.3f}, AUC {auc:.3f}, {100 * (orig - acc):.1f} points below original -> {'met' if ok and orig - acc <= 0.015 else 'NOT met'}")
PY
