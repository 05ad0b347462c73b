//! The human summary `anonymize run` (and `anonymize-spark run`) prints on stderr (the
//! library's [`RunSummary`] is data; its wording lives here, for every driver).

use crate::job::{Algorithm, SuppressedRows};
use crate::privacy::exposure::ReleasedRisk;
use crate::record::{DpSummary, PrivacySummary, RunSummary};
use std::path::Path;

/// The short human summary printed to stderr.
pub fn human(summary: &RunSummary) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let verb = if summary.dry_run { "planned (dry run, nothing read or written)" } else { "finished" };
    let _ = writeln!(s, "anonymize: job `{}` {verb} in {:.2} s", summary.job, summary.elapsed_seconds);
    let files = crate::job::plural(summary.input_files.len(), "file");
    let first = summary.input_files.first().map_or("", String::as_str);
    let _ = writeln!(s, "  input      {first} ({files}, {})", human_bytes(summary.input_bytes));
    if !summary.dry_run {
        let e = &summary.rows_excluded;
        let _ = writeln!(
            s,
            "  rows       {} read, {} excluded by consent ({} without consent, {} on exclusion lists), {} written",
            summary.rows_read,
            e.total(),
            e.by_column,
            e.by_list,
            summary.rows_written
        );
    }
    let state = if summary.output.written { "" } else { " (not written)" };
    let _ = writeln!(s, "  output     {}{state}", Path::new(&summary.output.path).display());
    let would = if summary.dry_run { " (would be written)" } else { "" };
    if let Some(decisions) = &summary.decisions {
        let _ =
            writeln!(s, "  decisions  {decisions} (reuse with `anonymize apply` or `privacy.k_anonymity.decisions`)");
    }
    if let Some(report) = &summary.report {
        let _ = writeln!(s, "  report     {report}{would}");
    }
    if let Some(lineage) = &summary.lineage {
        let _ =
            writeln!(s, "  lineage    {lineage}{}", if summary.dry_run { " (events would be appended)" } else { "" });
    }
    if let Some(id) = &summary.key_id {
        let _ = writeln!(s, "  key id     {id}");
    }
    let _ = writeln!(s, "  threads    {}", summary.threads);
    let _ = writeln!(s, "  columns");
    let width = summary.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
    for c in &summary.columns {
        let detail = if c.detail.is_empty() { String::new() } else { format!(" ({})", c.detail) };
        let _ = writeln!(s, "    {:width$}  {}{detail}", c.name, c.action);
    }
    if let Some(p) = &summary.privacy {
        privacy_lines(p, &mut s);
    }
    if let Some(r) = &summary.released {
        released_lines(r, &mut s);
    }
    if let Some(u) = &summary.utility {
        utility_lines(u, &mut s);
    }
    if let Some(n) = summary.lattice_size {
        let _ = writeln!(s, "  k-anonymity  the search would consider {n} transformations");
    }
    if let Some(dp) = &summary.dp {
        dp_lines(dp, &mut s);
    }
    if summary.demo_key {
        let _ = writeln!(
            s,
            "warning: this run used the public demo key; its tokens protect nothing. Use your own key (anonymize keygen)."
        );
    }
    if summary.seeded {
        let _ = writeln!(
            s,
            "note: --seed was given; random draws are reproducible and any noise is not differentially private"
        );
    }
    s
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// The privacy lines of the human summary.
fn privacy_lines(privacy: &PrivacySummary, s: &mut String) {
    use std::fmt::Write;
    let percent = |x: f64| format!("{:.1}%", 100.0 * x);
    match (privacy.k, privacy.algorithm) {
        (Some(k), _) if privacy.frozen.is_some() => {
            let from = privacy.frozen.as_ref().map_or(String::new(), |f| format!("{} (run {})", f.path, f.run_id));
            let _ = writeln!(
                s,
                "  k-anonymity  k = {k} met (smallest class {}) with frozen decisions from {from}; no search",
                privacy.smallest_class
            );
        }
        (Some(k), Algorithm::Optimal) => {
            let _ = writeln!(
                s,
                "  k-anonymity  k = {k} met (smallest class {}), optimal over {} transformations ({} checked, {} tagged by monotonicity, {} pruned by bounds) in {:.2} s",
                privacy.smallest_class,
                privacy.lattice_nodes,
                privacy.nodes_computed,
                privacy.nodes_tagged,
                privacy.nodes_pruned,
                privacy.search_seconds
            );
        }
        (Some(k), Algorithm::Mondrian) => {
            let _ = writeln!(
                s,
                "  k-anonymity  k = {k} met (smallest class {}), Mondrian partitioning in {:.2} s",
                privacy.smallest_class, privacy.search_seconds
            );
        }
        (None, _) => {
            let _ = writeln!(s, "  generalized  to pinned levels (no k-anonymity target)");
        }
    }
    if let Some(l) = &privacy.l_diversity {
        let _ = writeln!(s, "  l-diversity  l = {l} on {}", privacy.sensitive.join(", "));
    }
    if let Some(t) = privacy.t_closeness {
        let _ = writeln!(s, "  t-closeness  t = {t} on {}", privacy.sensitive.join(", "));
    }
    let levels: Vec<String> = privacy
        .quasi_identifiers
        .iter()
        .map(|q| match q.level {
            Some(l) => format!("{} {l}/{}{}", q.name, q.max_level, if q.pinned { " (pinned)" } else { "" }),
            None => format!("{} (per class)", q.name),
        })
        .collect();
    let _ = writeln!(s, "  levels       {}", levels.join(", "));
    let mode = match privacy.suppressed_rows_mode {
        SuppressedRows::Mask => "masked with *",
        SuppressedRows::Remove => "removed",
        SuppressedRows::Flag => "masked with *, flagged in `suppressed`",
    };
    let _ = writeln!(
        s,
        "  suppressed   {} of {} rows ({}; limit {}), {mode}",
        privacy.suppressed_rows,
        privacy.rows,
        percent(privacy.suppressed_rows as f64 / privacy.rows.max(1) as f64),
        percent(privacy.suppression_limit)
    );
    let m = &privacy.metrics;
    let _ = writeln!(
        s,
        "  classes      {}; metric {:?}: discernibility {:.0}, aecs {:.2}, precision {:.4}, loss {:.4}, entropy {:.1}",
        privacy.classes, privacy.metric, m.discernibility, m.aecs, m.precision, m.loss, m.entropy
    );
    if privacy.metric == crate::job::Metric::Classification {
        let _ = writeln!(
            s,
            "               classification {:.4} (rows whose target is not their class's most frequent value, suppressed rows counting 1)",
            m.classification
        );
    }
    for column in privacy.starred_columns() {
        let _ = writeln!(s, "  note         {}", crate::record::starred_warning(column));
    }
    for e in &privacy.sensitive_effects {
        let values: Vec<String> = e
            .values
            .iter()
            .take(4)
            .map(|(v, all, suppressed)| format!("{v} {} of all, {} of suppressed", percent(*all), percent(*suppressed)))
            .collect();
        let _ = writeln!(
            s,
            "  sensitive    {}: {}; one value in its class for {} of rows ({} classes)",
            e.column,
            if e.suppressed_rows == 0 { "no row suppressed".to_string() } else { values.join("; ") },
            percent(e.single_value_share),
            e.single_value_classes
        );
    }
    for p in &privacy.protected_groups {
        let groups: Vec<String> = p
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{} {} of {} ({:.2}x){}",
                    g.value,
                    percent(g.share),
                    g.rows,
                    g.ratio,
                    if g.flagged { " FLAGGED" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "  protected    {} suppressed per group (overall {}{}): {}",
            p.column,
            percent(p.overall_share),
            privacy.fairness.map_or(String::new(), |r| format!(", bound {r}x")),
            groups.join("; ")
        );
    }
    let (b, a) = (&privacy.risk_before, &privacy.risk_after);
    let _ = writeln!(
        s,
        "  risk         highest {:.3} -> {:.3}, average {:.4} -> {:.4}, unique rows {} -> {}, rows above 0.2 {} -> {}",
        b.prosecutor_highest,
        a.prosecutor_highest,
        b.prosecutor_average,
        a.prosecutor_average,
        percent(b.unique_rows),
        percent(a.unique_rows),
        percent(b.rows_above_0_2),
        percent(a.rows_above_0_2)
    );
}

/// The utility evaluation: both model families, trained on original and anonymized rows.
pub fn utility_lines(u: &crate::record::UtilitySummary, s: &mut String) {
    use std::fmt::Write;
    let percent = |x: f64| format!("{:.1}%", 100.0 * x);
    let sampled = u.sampled_from.map_or(String::new(), |n| format!(", a seeded sample of {n}"));
    let _ = writeln!(
        s,
        "  utility      predicting `{}` from {} columns: {} train rows ({} suppressed by the job's anonymization, smallest class {}), {} test rows{sampled}; majority class {}",
        u.target,
        u.features.len(),
        u.train_rows,
        u.train_suppressed_rows,
        u.train_smallest_class,
        u.test_rows,
        percent(u.majority_baseline)
    );
    for m in &u.models {
        let auc = |a: Option<f64>| a.map_or("n/a".to_string(), |a| format!("{a:.3}"));
        let _ = writeln!(
            s,
            "               {:24} accuracy {} -> {} ({:+.1} points), AUC {} -> {} (original -> anonymized)",
            m.family.label(),
            percent(m.original.accuracy),
            percent(m.anonymized.accuracy),
            -m.accuracy_loss_points,
            auc(m.original.auc),
            auc(m.anonymized.auc)
        );
    }
    let distances: Vec<String> = u.distances.iter().map(|(c, d)| format!("{c} {d:.2}")).collect();
    let _ = writeln!(s, "               distribution distance (total variation): {}", distances.join(", "));
    if let Some(m) = u.models.last() {
        let recall: Vec<String> = u
            .classes
            .iter()
            .zip(m.original.recall.iter().zip(&m.anonymized.recall))
            .map(|(c, (o, a))| {
                let f = |r: &Option<f64>| r.map_or("n/a".to_string(), percent);
                format!("{c} {} -> {}", f(o), f(a))
            })
            .collect();
        let _ = writeln!(s, "               recall per class ({}): {}", m.family.label(), recall.join("; "));
    }
    for g in &u.groups {
        let accuracy: Vec<String> = g
            .accuracy
            .iter()
            .zip(&u.models)
            .map(|((o, a), m)| format!("{} {} -> {}", m.family.label(), percent(*o), percent(*a)))
            .collect();
        let _ = writeln!(
            s,
            "               group {} = {} ({} rows): accuracy {}",
            g.column,
            g.group,
            g.rows,
            accuracy.join(", ")
        );
    }
}

/// What the output leaves: risk over its released attributes.
fn released_lines(r: &ReleasedRisk, s: &mut String) {
    use std::fmt::Write;
    let percent = |x: f64| format!("{:.1}%", 100.0 * x);
    if r.columns.is_empty() {
        let _ = writeln!(s, "  left risk    no column is released as values (tokens, ciphertexts and noise only)");
        return;
    }
    let _ = writeln!(
        s,
        "  left risk    over {}: unique rows {}, prosecutor risk highest {:.3}, average {:.4}",
        r.columns.join(", "),
        percent(r.risk.unique_rows),
        r.risk.prosecutor_highest,
        r.risk.prosecutor_average
    );
    if !r.columns_measured {
        let _ = writeln!(
            s,
            "               (more than {} distinct released rows or values: the driving columns were not measured)",
            crate::privacy::exposure::DETAIL_LIMIT
        );
    }
    if !r.drivers.is_empty() {
        let _ = writeln!(
            s,
            "               driven by {} (alone: {} of rows unique)",
            r.drivers.join(" + "),
            percent(r.drivers_unique_rows)
        );
    }
}

/// The lines of the human summary.
fn dp_lines(dp: &DpSummary, s: &mut String) {
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "  privacy      epsilon {} delta {} {} on dataset `{}` ({} noise columns{}); left: epsilon {:.6}, delta {:.3e}",
        dp.epsilon,
        dp.delta,
        if dp.planned { "would be spent" } else { "spent" },
        dp.dataset,
        dp.columns.len(),
        if dp.planned { String::new() } else { format!(", {} releases", dp.releases.len()) },
        dp.epsilon_left,
        dp.delta_left
    );
    if let (Some(rho), Some(e)) = (dp.gaussian_rho, dp.gaussian_epsilon_from_rho) {
        let _ = writeln!(s, "               gaussian columns: rho {rho:.6} (zCDP), i.e. epsilon {e:.6} at their delta");
    }
    for r in &dp.releases {
        let _ = writeln!(
            s,
            "  release      {} -> {} (epsilon {}: {} per measure{}; {} groups released; {} rows left out: no privacy unit, beyond max_groups_per_unit, or not a public group)",
            r.name,
            r.path,
            r.epsilon,
            r.epsilon_per_share,
            if r.partition_selection { " and for partition selection" } else { "" },
            r.groups_released,
            r.rows_dropped
        );
    }
    if dp.seeded {
        let _ = writeln!(s, "               seeded: this output is NOT differentially private (tests only)");
    }
}
