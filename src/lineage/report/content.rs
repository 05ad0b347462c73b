//! What the report says, built from the job, the run summary and the checksums.

use super::{Block, Chart, ChartKind, Document, ValueFormat};
use crate::job::{Action, Job, SuppressedRows};
use crate::lineage::checksums::{FileChecksum, Role};
use crate::lineage::events::describe_action;
use crate::privacy::exposure::ReleasedRisk;
use crate::record::DpSummary;
use crate::record::PrivacySummary;
use crate::record::RunSummary;
use std::path::Path;

/// The report of a completed run. `checksums` are the files it read and wrote (the report
/// itself aside); `lineage` is where the run's events went, if anywhere.
pub fn build(job: &Job, summary: &RunSummary, checksums: &[FileChecksum], lineage: Option<&Path>) -> Document {
    let mut blocks = Vec::new();
    overview(job, summary, &mut blocks);
    columns(job, summary, &mut blocks);
    consent(job, summary, &mut blocks);
    if let Some(p) = &summary.privacy {
        k_anonymity(p, &mut blocks);
    }
    if let Some(r) = &summary.released {
        left_risk(r, &mut blocks);
    }
    distortion(job, summary, &mut blocks);
    if let Some(u) = &summary.utility {
        utility(u, &mut blocks);
    }
    if let Some(dp) = &summary.dp {
        budget(dp, &mut blocks);
    }
    files(checksums, lineage, &mut blocks);
    Document { title: format!("Privacy report: {}", summary.job), blocks }
}

fn overview(job: &Job, summary: &RunSummary, blocks: &mut Vec<Block>) {
    let mut intro = format!(
        "Run {} of job `{}` (namespace `{}`), completed {}, read {} rows and wrote {} de-identified rows to {}.",
        summary.run_id,
        summary.job,
        job.namespace,
        crate::lineage::now(),
        summary.rows_read,
        summary.rows_written,
        summary.output.path
    );
    if let Some(description) = &job.description {
        intro.push_str(&format!(" Purpose of the output: {description}"));
        if let Some(purpose) = &job.purpose {
            intro.push_str(&format!(" (consent checked for `{purpose}`)."));
        }
    } else if let Some(purpose) = &job.purpose {
        intro.push_str(&format!(" Consent was checked for the purpose `{purpose}`."));
    }
    blocks.push(Block::Paragraph(intro));
    if summary.demo_key {
        blocks.push(Block::Warning(
            "This run used the public demo key: its tokens and encrypted values protect nothing. Production runs use a key of their own."
                .into(),
        ));
    }
    if summary.seeded {
        blocks.push(Block::Warning(
            "This run was seeded (--seed): its random draws are reproducible, so any noise in it is NOT differentially private. Use seeded runs for tests only."
                .into(),
        ));
    }
    let mut figures = vec![
        ("Rows read".to_string(), summary.rows_read.to_string()),
        ("Excluded by consent".to_string(), summary.rows_excluded.total().to_string()),
        ("Rows written".to_string(), summary.rows_written.to_string()),
    ];
    if let Some(k) = summary.privacy.as_ref().and_then(|p| p.k) {
        figures.push(("k-anonymity".to_string(), format!("k = {k}")));
    }
    if let Some(dp) = &summary.dp {
        figures.push(("Epsilon spent".to_string(), format!("{}", dp.epsilon)));
    }
    figures.push(("Owner".to_string(), job.owner.clone().unwrap_or_else(|| "not stated".into())));
    figures.push(("Key id".to_string(), summary.key_id.clone().unwrap_or_else(|| "no key used".into())));
    blocks.push(Block::Figures(figures));
}

/// Why a column got its action, in plain words.
fn reason(job: &Job, summary: &RunSummary, column: &str) -> String {
    let Some(spec) = job.column(column) else {
        return "Not named in the job; `unlisted_columns: drop` removes every column the job does not name, so nothing unreviewed reaches the output.".into();
    };
    format!("{}{}", crate::actions::reason(&spec.action, job, summary), crate::actions::measured(column, summary))
}

fn columns(job: &Job, summary: &RunSummary, blocks: &mut Vec<Block>) {
    blocks.push(Block::Heading("What happened to every column".into()));
    blocks.push(Block::Paragraph(format!(
        "{} input columns: {} reach the output, {} changed by a protecting action, {} removed.",
        summary.columns.len(),
        summary.columns.iter().filter(|c| c.output_type.is_some()).count(),
        summary
            .columns
            .iter()
            .filter(|c| c.output_type.is_some()
                && !matches!(job.column(&c.name).map(|s| &s.action), Some(Action::Keep { .. })))
            .count(),
        summary.columns.iter().filter(|c| c.output_type.is_none()).count(),
    )));
    let rows = summary
        .columns
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                describe_action(job, summary, &c.name),
                reason(job, summary, &c.name),
                c.output_type.clone().map_or_else(|| "removed".to_string(), |t| format!("{} → {t}", c.input_type)),
            ]
        })
        .collect();
    blocks
        .push(Block::Table { head: vec!["Column".into(), "What was done".into(), "Why".into(), "Type".into()], rows });
}

fn consent(job: &Job, summary: &RunSummary, blocks: &mut Vec<Block>) {
    blocks.push(Block::Heading("Consent".into()));
    let e = &summary.rows_excluded;
    let checks = job.consent.as_ref();
    let column = checks.and_then(|c| c.column.as_deref());
    let lists = checks.map_or(0, |c| c.exclude.len());
    if column.is_none() && lists == 0 {
        blocks.push(Block::Warning(
            "This job declares no consent column and no opt-out or deletion list: every input row was used. Make sure the data may be used for this purpose without per-subject consent.".into(),
        ));
    } else {
        let how = match (column, lists) {
            (Some(c), 0) => format!("the consent column `{c}` must be true"),
            (None, n) => format!("subjects on {} are excluded", crate::job::plural(n, "opt-out or deletion list")),
            (Some(c), n) => format!(
                "the consent column `{c}` must be true and subjects on {} are excluded",
                crate::job::plural(n, "opt-out or deletion list")
            ),
        };
        blocks.push(Block::Paragraph(format!(
            "Consent is checked first ({how}). {} of {} rows were excluded before any processing: {} without consent for this purpose and {} whose subject is on an opt-out or deletion list{}. Excluded rows never reach an output, the statistics, the search or the noise.",
            e.total(),
            summary.rows_read,
            e.by_column,
            e.by_list,
            if summary.consent_files.is_empty() { String::new() } else { format!(" ({})", summary.consent_files.join(", ")) }
        )));
    }
    let suppressed_removed = summary
        .privacy
        .as_ref()
        .filter(|p| p.suppressed_rows_mode == SuppressedRows::Remove)
        .map_or(0, |p| p.suppressed_rows);
    let mut parts = vec![("written".to_string(), summary.rows_written as f64)];
    if suppressed_removed > 0 {
        parts.push(("suppressed and removed (k-anonymity)".into(), suppressed_removed as f64));
    }
    parts.push(("excluded: no consent".into(), e.by_column as f64));
    parts.push(("excluded: opt-out or deletion list".into(), e.by_list as f64));
    blocks.push(Block::Chart(Chart {
        title: "Where the input rows went".into(),
        caption: format!("{} rows read, split by what became of them.", summary.rows_read),
        kind: ChartKind::Stacked { parts, format: ValueFormat::Count },
    }));
}

fn k_anonymity(p: &PrivacySummary, blocks: &mut Vec<Block>) {
    blocks.push(Block::Heading("k-anonymity and re-identification risk".into()));
    let target = match p.k {
        Some(k) => format!(
            "Every combination of the quasi-identifiers ({}) in the output is shared by at least k = {k} rows (the smallest class has {}), so no row can be told apart from {} others by them.",
            p.quasi_identifiers.iter().map(|q| q.name.as_str()).collect::<Vec<_>>().join(", "),
            p.smallest_class,
            k - 1
        ),
        None => "The quasi-identifiers were generalized to pinned levels; no k was required.".into(),
    };
    let mut text = format!(
        "{target} {} of {} rows ({:.1}%, limit {:.1}%) could not be placed in a large enough class and were suppressed ({}). The output has {} classes.",
        p.suppressed_rows,
        p.rows,
        100.0 * p.suppressed_rows as f64 / p.rows.max(1) as f64,
        100.0 * p.suppression_limit,
        match p.suppressed_rows_mode {
            SuppressedRows::Mask => "their quasi-identifiers shown as *",
            SuppressedRows::Remove => "removed",
            SuppressedRows::Flag => "their quasi-identifiers shown as *, and `suppressed` true",
        },
        p.classes
    );
    if let Some(l) = &p.l_diversity {
        text.push_str(&format!(" Every class also has l-diversity {l} in {}.", p.sensitive.join(", ")));
    }
    if let Some(t) = p.t_closeness {
        text.push_str(&format!(
            " Every class's distribution of {} is within t = {t} of the whole table's.",
            p.sensitive.join(", ")
        ));
    }
    if let Some(f) = &p.frozen {
        text.push_str(&format!(
            " The levels were not searched: they were frozen, reused from the decisions of run {} (`{}`), and k was checked on this run's rows.",
            f.run_id, f.path
        ));
    }
    blocks.push(Block::Paragraph(text));
    for e in &p.sensitive_effects {
        sensitive_effect(e, p.k.unwrap_or(5), blocks);
    }
    for column in p.starred_columns() {
        blocks.push(Block::Warning(crate::record::starred_warning(column)));
    }
    for column in &p.protected_groups {
        protected_groups(column, p.fairness, blocks);
    }
    let sizes = &p.risk_after.class_sizes;
    let max = sizes.iter().map(|b| b.rows).max().unwrap_or(0) as f64;
    blocks.push(Block::Chart(Chart {
        title: "Class sizes in the output".into(),
        caption: "Rows in classes of each size, over the quasi-identifiers (suppressed rows count as one class when they are kept with *).".into(),
        kind: ChartKind::Bars {
            bars: sizes.iter().map(|b| (format!("size {}", b.sizes), b.rows as f64)).collect(),
            max,
            format: ValueFormat::Count,
        },
    }));
    let (b, a) = (&p.risk_before, &p.risk_after);
    blocks.push(Block::Chart(Chart {
        title: "Re-identification risk before and after".into(),
        caption: "Probability that an attacker who knows a person's quasi-identifiers picks out their row (prosecutor and journalist models: highest and average; marketer: share re-identified in a mass attack).".into(),
        kind: ChartKind::BeforeAfter {
            rows: vec![
                ("highest (prosecutor)".into(), b.prosecutor_highest, a.prosecutor_highest),
                ("average (prosecutor)".into(), b.prosecutor_average, a.prosecutor_average),
                ("highest (journalist)".into(), b.journalist_highest, a.journalist_highest),
                ("marketer".into(), b.marketer, a.marketer),
            ],
            max: 1.0,
            format: ValueFormat::Probability,
        },
    }));
    blocks.push(Block::Chart(Chart {
        title: "Rows at risk before and after".into(),
        caption: "Share of rows that are unique over the quasi-identifiers, and share whose re-identification probability is above 0.2.".into(),
        kind: ChartKind::BeforeAfter {
            rows: vec![
                ("unique rows".into(), b.unique_rows, a.unique_rows),
                ("rows with risk above 0.2".into(), b.rows_above_0_2, a.rows_above_0_2),
            ],
            max: 1.0,
            format: ValueFormat::Percent,
        },
    }));
}

/// What de-identification did to each group of a protected column: a chart of suppression
/// shares, a table with the loss, and every group suppressed more than twice the overall share
/// flagged.
fn protected_groups(p: &crate::record::ProtectedColumn, bound: Option<f64>, blocks: &mut Vec<Block>) {
    let percent = |x: f64| format!("{:.1}%", 100.0 * x);
    let flagged: Vec<&str> = p.groups.iter().filter(|g| g.flagged).map(|g| g.value.as_str()).collect();
    let mut text = format!(
        "Protected column `{}`: {} of all rows were suppressed. Suppression removes rare combinations, and rare combinations belong to minorities: ",
        p.column,
        percent(p.overall_share)
    );
    if flagged.is_empty() {
        text.push_str("no group is suppressed more than twice the overall share.");
    } else {
        text.push_str(&format!("FLAGGED, suppressed more than twice the overall share: {}.", flagged.join(", ")));
    }
    if let Some(r) = bound {
        text.push_str(&format!(
            " The search was bound by `privacy.fairness`: no group of at least k rows above {r} times the base share."
        ));
    }
    text.push_str(" These figures describe this dataset, not the population it was drawn from.");
    blocks.push(Block::Paragraph(text));
    let max = p.groups.iter().map(|g| g.share).fold(0.0, f64::max).max(p.overall_share).max(1e-9);
    blocks.push(Block::Chart(Chart {
        title: format!("Rows suppressed per group of {}", p.column),
        caption: format!("Share of each group's rows suppressed; overall {}.", percent(p.overall_share)),
        kind: ChartKind::Bars {
            bars: p.groups.iter().map(|g| (g.value.clone(), g.share)).collect(),
            max,
            format: ValueFormat::Percent,
        },
    }));
    blocks.push(Block::Table {
        head: vec![
            "group".into(),
            "rows".into(),
            "suppressed".into(),
            "share".into(),
            "× overall".into(),
            "mean loss".into(),
        ],
        rows: p
            .groups
            .iter()
            .map(|g| {
                vec![
                    format!("{}{}", g.value, if g.flagged { " (flagged)" } else { "" }),
                    g.rows.to_string(),
                    g.suppressed.to_string(),
                    percent(g.share),
                    format!("{:.2}", g.ratio),
                    format!("{:.3}", g.mean_loss),
                ]
            })
            .collect(),
    });
}

/// The utility evaluation: train-on-anonymized against train-on-original.
fn utility(u: &crate::record::UtilitySummary, blocks: &mut Vec<Block>) {
    let percent = |x: f64| format!("{:.1}%", 100.0 * x);
    let auc = |a: Option<f64>| a.map_or("n/a".to_string(), |a| format!("{a:.3}"));
    blocks.push(Block::Heading("What the output keeps for machine learning".into()));
    blocks.push(Block::Paragraph(format!(
        "To measure what de-identification costs a model that predicts `{}`, the {} input rows with consent and a target value{} were split (seed {}, stratified by the target) into {} train rows and {} held-out test rows. The train part was anonymized exactly as this job says ({} rows suppressed); the test part was recoded with the train part's decisions, without suppression, as new rows would be in production. The same models were trained on the anonymized and on the original train part (features: {}) and scored on the test part in the matching form. Always predicting the most frequent class scores {}. These figures come from this dataset and split; they are not differentially private, and the real output above is the job run on all rows, untouched by this evaluation.",
        u.target,
        u.rows,
        u.sampled_from.map_or(String::new(), |n| format!(" (a seeded sample of the {n} available)")),
        u.seed,
        u.train_rows,
        u.test_rows,
        u.train_suppressed_rows,
        u.features.join(", "),
        percent(u.majority_baseline)
    )));
    for m in &u.models {
        if m.accuracy_loss_points > 3.0 {
            blocks.push(Block::Warning(format!(
                "The {} loses {:.1} accuracy points when trained on the anonymized rows. If the output is meant for machine learning, consider `metric: classification` with `target: {}` (README.md, \"Choosing a metric\").",
                m.family.label(),
                m.accuracy_loss_points,
                u.target
            )));
        }
    }
    let mut rows: Vec<Vec<String>> = u
        .models
        .iter()
        .map(|m| {
            vec![
                m.family.label().to_string(),
                percent(m.original.accuracy),
                percent(m.anonymized.accuracy),
                format!("{:+.1}", -m.accuracy_loss_points),
                auc(m.original.auc),
                auc(m.anonymized.auc),
            ]
        })
        .collect();
    rows.push(vec![
        "majority class".into(),
        percent(u.majority_baseline),
        percent(u.majority_baseline),
        "0.0".into(),
        "0.500".into(),
        "0.500".into(),
    ]);
    blocks.push(Block::Table {
        head: vec![
            "model".into(),
            "accuracy, original".into(),
            "accuracy, anonymized".into(),
            "points".into(),
            "AUC, original".into(),
            "AUC, anonymized".into(),
        ],
        rows,
    });
    blocks.push(Block::Chart(Chart {
        title: "Test accuracy, trained on original and on anonymized rows".into(),
        caption: format!(
            "Accuracy on the {} held-out rows; the majority class scores {}.",
            u.test_rows,
            percent(u.majority_baseline)
        ),
        kind: ChartKind::BeforeAfter {
            rows: u
                .models
                .iter()
                .map(|m| (m.family.label().to_string(), m.original.accuracy, m.anonymized.accuracy))
                .collect(),
            max: 1.0,
            format: ValueFormat::Percent,
        },
    }));
    let mut head = vec!["class".to_string()];
    for m in &u.models {
        head.push(format!("recall, {} (original → anonymized)", m.family.label()));
    }
    let rows = u
        .classes
        .iter()
        .enumerate()
        .map(|(c, class)| {
            let mut row = vec![class.clone()];
            for m in &u.models {
                let f = |r: &[Option<f64>]| r.get(c).copied().flatten().map_or("n/a".to_string(), percent);
                row.push(format!("{} → {}", f(&m.original.recall), f(&m.anonymized.recall)));
            }
            row
        })
        .collect();
    blocks.push(Block::Table { head, rows });
    blocks.push(Block::Chart(Chart {
        title: "Distribution distance per column".into(),
        caption: "Total variation distance between each column's original train values and what the output shows for the same rows, each shown label spread evenly over the original values it stands for: 0 untouched, 1 nothing left.".into(),
        kind: ChartKind::Bars {
            bars: u.distances.iter().map(|(c, d)| (c.clone(), *d)).collect(),
            max: 1.0,
            format: ValueFormat::Probability,
        },
    }));
    if !u.groups.is_empty() {
        let mut head = vec!["protected group".to_string(), "test rows".to_string()];
        for m in &u.models {
            head.push(format!("accuracy, {} (original → anonymized)", m.family.label()));
        }
        let rows = u
            .groups
            .iter()
            .map(|g| {
                let mut row = vec![format!("{} = {}", g.column, g.group), g.rows.to_string()];
                row.extend(g.accuracy.iter().map(|(o, a)| format!("{} → {}", percent(*o), percent(*a))));
                row
            })
            .collect();
        blocks.push(Block::Paragraph(
            "Accuracy per group of each protected column, on the held-out rows (values held by fewer than k test rows form \"other\"): a model trained on the output may serve some groups worse than others.".into(),
        ));
        blocks.push(Block::Table { head, rows });
    }
}

/// What suppression took from a sensitive column, and attribute disclosure in the output.
fn sensitive_effect(e: &crate::record::SensitiveEffect, k: u64, blocks: &mut Vec<Block>) {
    let percent = |x: f64| format!("{:.1}%", 100.0 * x);
    let mut text = format!(
        "Sensitive column `{}`: in {} of the output's rows ({} classes), every row of the class holds the same value, so anyone who knows a person's quasi-identifiers learns it (attribute disclosure; l-diversity bounds it).",
        e.column,
        percent(e.single_value_share),
        e.single_value_classes
    );
    if e.suppressed_rows > 0 {
        text.push_str(&format!(
            " Suppression is not random: the {} suppressed rows hold its values in other shares than all rows, below. Values held by fewer than {} rows are not named.",
            e.suppressed_rows,
            k.max(2)
        ));
        blocks.push(Block::Paragraph(text));
        let mut rows: Vec<Vec<String>> =
            e.values.iter().map(|(v, all, suppressed)| vec![v.clone(), percent(*all), percent(*suppressed)]).collect();
        if e.other.0 > 0.0 {
            rows.push(vec!["(other values)".into(), percent(e.other.0), percent(e.other.1)]);
        }
        blocks.push(Block::Table { head: vec!["value".into(), "all rows".into(), "suppressed rows".into()], rows });
    } else {
        blocks.push(Block::Paragraph(text));
    }
}

/// The risk the output leaves over everything it releases as values.
fn left_risk(r: &ReleasedRisk, blocks: &mut Vec<Block>) {
    blocks.push(Block::Heading("What the output leaves: risk over its released attributes".into()));
    let hidden = if r.not_counted.is_empty() {
        String::new()
    } else {
        format!(
            " Not counted: {}, whose values are replaced by tokens, ciphertexts (linkable only with the key) or differentially private noise.",
            r.not_counted.iter().map(|n| format!("{} ({})", n.name, n.why)).collect::<Vec<_>>().join(", ")
        )
    };
    if r.columns.is_empty() {
        blocks.push(Block::Paragraph(format!("The output releases no column as values.{hidden}")));
        return;
    }
    let mut text = format!(
        "Measured on the written rows, over every column the output holds as values ({}): an attacker who knows these values of a person finds their row among {} rows with those values. {:.1}% of the {} rows are unique over them (prosecutor risk 1); the highest risk is {:.3}, the average {:.4}.{hidden}",
        r.columns.join(", "),
        if r.risk.smallest_class <= 1 {
            "as few as 1".to_string()
        } else {
            format!("at least {}", r.risk.smallest_class)
        },
        100.0 * r.risk.unique_rows,
        r.risk.rows,
        r.risk.prosecutor_highest,
        r.risk.prosecutor_average
    );
    if !r.drivers.is_empty() {
        text.push_str(&format!(
            " Uniqueness is driven by {}: {} alone make {:.1}% of rows unique{}.",
            r.drivers.join(" + "),
            if r.drivers.len() == 1 { "it" } else { "they" },
            100.0 * r.drivers_unique_rows,
            if r.drivers_exact { "" } else { " (a small set found greedily; a smaller one may exist)" }
        ));
    }
    if !r.columns_measured {
        text.push_str(&format!(
            " The output has more than {} distinct released rows or values: the figures per column and the driving columns were not measured (the figures above are).",
            crate::privacy::exposure::DETAIL_LIMIT
        ));
    }
    blocks.push(Block::Paragraph(text));
    blocks.push(Block::Table {
        head: vec![
            "column".into(),
            "distinct values".into(),
            "distinct / rows".into(),
            "rows it alone makes unique".into(),
        ],
        rows: r
            .per_column
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.distinct.to_string(),
                    format!("{:.2}%", 100.0 * c.distinct_ratio),
                    format!("{:.2}%", 100.0 * c.unique_rows_alone),
                ]
            })
            .collect(),
    });
    let max = r.risk.class_sizes.iter().map(|b| b.rows).max().unwrap_or(0) as f64;
    blocks.push(Block::Chart(Chart {
        title: "Class sizes over the released attributes".into(),
        caption: "Rows in classes of each size, a class being the rows that share every released value.".into(),
        kind: ChartKind::Bars {
            bars: r.risk.class_sizes.iter().map(|b| (format!("size {}", b.sizes), b.rows as f64)).collect(),
            max,
            format: ValueFormat::Count,
        },
    }));
}

fn distortion(job: &Job, summary: &RunSummary, blocks: &mut Vec<Block>) {
    let generalized = summary.privacy.as_ref().map(|p| p.quasi_identifiers.as_slice()).unwrap_or_default();
    let noisy = summary.dp.as_ref().map(|d| d.columns.as_slice()).unwrap_or_default();
    if generalized.is_empty() && noisy.is_empty() {
        return;
    }
    blocks.push(Block::Heading("Distortion per column".into()));
    if !generalized.is_empty() {
        blocks.push(Block::Paragraph(
            "Generalized columns: information loss is 0 when every value is kept as it was and 100% when every value is * (suppressed rows count fully).".into(),
        ));
        blocks.push(Block::Chart(Chart {
            title: "Information loss of generalized columns".into(),
            caption: "Per quasi-identifier: how much of its detail the output gave up.".into(),
            kind: ChartKind::Bars {
                bars: generalized.iter().map(|q| (q.name.clone(), q.loss)).collect(),
                max: 1.0,
                format: ValueFormat::Percent,
            },
        }));
        blocks.push(Block::Table {
            head: vec!["Column".into(), "Level".into(), "Information loss".into()],
            rows: generalized
                .iter()
                .map(|q| {
                    vec![
                        q.name.clone(),
                        match q.level {
                            Some(l) => format!("{l} of {}{}", q.max_level, if q.pinned { " (pinned)" } else { "" }),
                            None => "per class (Mondrian)".into(),
                        },
                        ValueFormat::Percent.show(q.loss),
                    ]
                })
                .collect(),
        });
    }
    if !noisy.is_empty() {
        noise_distortion(job, noisy, blocks);
    }
}

/// Each noisy column's scale and 95% error, absolute and against its declared bounds.
fn noise_distortion(job: &Job, noisy: &[crate::dp::mechanism::Calibrated], blocks: &mut Vec<Block>) {
    blocks.push(Block::Paragraph(
        "Noisy columns: each value moved by random noise; 95% of values moved by less than the stated distance (before any clamping of the output). Relative error compares that distance with the width of the declared bounds.".into(),
    ));
    // (column, error bound, error relative to the bounds' width)
    let errors: Vec<(&crate::dp::mechanism::Calibrated, f64, Option<f64>)> = noisy
        .iter()
        .map(|c| {
            let width = match job.column(&c.column).map(|s| &s.action) {
                Some(Action::Noise(n)) => Some(n.bounds.high - n.bounds.low).filter(|w| *w > 0.0),
                _ => None,
            };
            let error = c.error_95();
            (c, error, width.map(|w| error / w))
        })
        .collect();
    let rows: Vec<Vec<String>> = errors
        .iter()
        .map(|(c, error, relative)| {
            let unit = if c.kind == crate::dp::mechanism::ValueKind::Date { " days" } else { "" };
            vec![
                c.column.clone(),
                format!("{:?}", c.mechanism).to_lowercase(),
                format!("{}", c.epsilon),
                format!("{:.4}{unit}", c.noise_scale()),
                format!("±{error:.4}{unit}"),
                relative.map_or_else(|| "-".into(), |r| ValueFormat::Percent.show(r)),
            ]
        })
        .collect();
    blocks.push(Block::Table {
        head: vec![
            "Column".into(),
            "Mechanism".into(),
            "Epsilon".into(),
            "Noise scale".into(),
            "95% of values within".into(),
            "Relative to bounds".into(),
        ],
        rows,
    });
    let swamped: Vec<&str> =
        errors.iter().filter(|(_, _, r)| r.is_some_and(|r| r > 1.0)).map(|(c, _, _)| c.column.as_str()).collect();
    if !swamped.is_empty() {
        blocks.push(Block::Warning(format!(
            "In {} the noise is wider than the bounds themselves: single values carry little information. Use them only summed over many rows, or publish aggregates (the `aggregates` releases) instead.",
            swamped.join(", ")
        )));
    }
    blocks.push(Block::Chart(Chart {
        title: "Noise relative to each column's bounds".into(),
        caption: "The 95% error bound as a share of the declared bounds' width.".into(),
        kind: ChartKind::Bars {
            bars: errors.iter().map(|(c, _, r)| (c.column.clone(), r.unwrap_or(0.0))).collect(),
            max: 1.0,
            format: ValueFormat::Percent,
        },
    }));
}

fn budget(dp: &DpSummary, blocks: &mut Vec<Block>) {
    blocks.push(Block::Heading("Differential privacy budget".into()));
    let before = (dp.epsilon_total - dp.epsilon - dp.epsilon_left).max(0.0);
    blocks.push(Block::Paragraph(format!(
        "Dataset `{}` has a total budget of epsilon {} and delta {} (ledger {}). This run spent epsilon {} and delta {} (sequential composition over its {} noise columns and {} releases); earlier runs spent epsilon {:.4}; epsilon {:.4} and delta {:.3e} are left. The ledger refuses any run that would spend more than is left.",
        dp.dataset,
        dp.epsilon_total,
        dp.delta_total,
        dp.ledger,
        dp.epsilon,
        dp.delta,
        dp.columns.len(),
        dp.releases.len(),
        before,
        dp.epsilon_left,
        dp.delta_left
    )));
    blocks.push(Block::Chart(Chart {
        title: "Epsilon spent and left".into(),
        caption: format!(
            "The dataset's total epsilon of {}, split into earlier runs, this run and what is left.",
            dp.epsilon_total
        ),
        kind: ChartKind::Stacked {
            parts: vec![
                ("earlier runs".into(), before),
                ("this run".into(), dp.epsilon),
                ("left".into(), dp.epsilon_left),
            ],
            format: ValueFormat::Epsilon,
        },
    }));
    if !dp.releases.is_empty() {
        blocks.push(Block::Table {
            head: vec!["Release".into(), "File".into(), "Epsilon".into(), "Delta".into(), "Groups released".into()],
            rows: dp
                .releases
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.path.clone(),
                        format!("{}", r.epsilon),
                        format!("{}", r.delta),
                        r.groups_released.to_string(),
                    ]
                })
                .collect(),
        });
    }
}

fn files(checksums: &[FileChecksum], lineage: Option<&Path>, blocks: &mut Vec<Block>) {
    blocks.push(Block::Heading("Files and checksums".into()));
    blocks.push(Block::Paragraph(match lineage {
        Some(path) => format!(
            "BLAKE3 checksums of the files this run read and wrote. `anonymize verify {}` recomputes them and says whether any file changed since.",
            path.display()
        ),
        None => "BLAKE3 checksums of the files this run read and wrote. Set `lineage:` in the job to record them for `anonymize verify`.".into(),
    }));
    let role = |r: Role| match r {
        Role::Job => "job file",
        Role::Input => "input",
        Role::ConsentList => "consent list",
        Role::Output => "output",
        Role::Release => "release",
        Role::Decisions => "decisions",
        Role::Report => "report",
    };
    blocks.push(Block::Table {
        head: vec!["Role".into(), "File".into(), "Bytes".into(), "BLAKE3".into()],
        rows: checksums
            .iter()
            .map(|c| vec![role(c.role).into(), c.path.clone(), c.size.to_string(), c.blake3.clone()])
            .collect(),
    });
}
