//! From the document tree to the validated [`Job`], collecting every problem on the way.

use super::config::*;
use super::issues::{Issue, Issues, KeyPath, closest};
use super::model::*;
use super::tree::{Node, NodeValue};
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

const TOP_LEVEL_KEYS: &[&str] = &[
    "version",
    "name",
    "namespace",
    "owner",
    "purpose",
    "description",
    "input",
    "consent",
    "secrets",
    "unlisted_columns",
    "columns",
    "privacy",
    "aggregates",
    "output",
    "lineage",
    "report",
    "utility",
];

/// Collects problems while walking the tree.
pub(crate) struct Parser<'a> {
    root: &'a Node,
    positions: super::tree::PositionIndex,
    dir: &'a Path,
    pub(super) issues: Issues,
}

impl<'a> Parser<'a> {
    pub(super) fn new(root: &'a Node, dir: &'a Path) -> Self {
        Self { root, positions: root.position_index(), dir, issues: Issues::default() }
    }

    pub(crate) fn issue(&mut self, path: &KeyPath, message: impl Into<String>) {
        self.issue_with_hint(path, message, None::<String>);
    }

    pub(crate) fn issue_with_hint(
        &mut self,
        path: &KeyPath,
        message: impl Into<String>,
        hint: Option<impl Into<String>>,
    ) {
        self.issues.push(Issue {
            path: path.clone(),
            position: self.positions.position_of(&path.0),
            message: message.into(),
            hint: hint.map(Into::into),
        });
    }

    /// Deserializes a node into a serde type; a failure becomes an issue with the inner path.
    fn de<T: DeserializeOwned>(&mut self, node: &Node, path: &KeyPath) -> Option<T> {
        // Integers beyond 64 bits were reported once, where they stand, when parsing began.
        if !node.too_large().is_empty() {
            return None;
        }
        self.de_json(node.to_json(), path)
    }

    pub(crate) fn de_json<T: DeserializeOwned>(&mut self, value: serde_json::Value, path: &KeyPath) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(error) => {
                let mut full = path.clone();
                for segment in error.path().iter() {
                    match segment {
                        serde_path_to_error::Segment::Seq { index } => full = full.join(index),
                        serde_path_to_error::Segment::Map { key } => full = full.join(key),
                        serde_path_to_error::Segment::Enum { variant } => full = full.join(variant),
                        serde_path_to_error::Segment::Unknown => {}
                    }
                }
                let mut message = error.into_inner().to_string();
                // Non-finite numbers travel as text (JSON has no infinity); say what they are.
                for non_finite in ["inf", "-inf", "NaN"] {
                    if message == format!("invalid type: string \"{non_finite}\", expected f64") {
                        message = format!("expected a finite number, found {non_finite}");
                    }
                }
                let hint = unknown_field_hint(&message);
                self.issue_with_hint(&full, message, hint);
                None
            }
        }
    }

    pub(crate) fn resolve(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() { p.to_path_buf() } else { normalize(&self.dir.join(p)) }
    }

    /// Parses the whole document.
    pub(super) fn job(&mut self, file: &Path, file_blake3: String) -> Option<Job> {
        let root = self.root;
        let NodeValue::Mapping(entries) = &root.value else {
            self.issue(&KeyPath::default(), format!("a job file is a mapping of keys, found {}", root.kind()));
            return None;
        };
        for path in root.too_large() {
            self.issue(
                &KeyPath(path),
                "this integer does not fit in 64 bits; no setting takes a number this large (it is not shown here)",
            );
        }
        for (key, _, _) in entries {
            if !TOP_LEVEL_KEYS.contains(&key.as_str()) {
                let hint = closest(key, TOP_LEVEL_KEYS.iter().copied()).map(|c| format!("did you mean `{c}`?"));
                self.issue_with_hint(&KeyPath::root(key), format!("unknown key `{key}`"), hint);
            }
        }
        let required = |this: &mut Self, key: &str| -> Option<&'a Node> {
            let node = root.get(key);
            if node.is_none() {
                this.issue(&KeyPath::default(), format!("missing key `{key}`"));
            }
            node
        };

        let version = required(self, "version").and_then(|n| self.de::<u32>(n, &KeyPath::root("version")));
        if let Some(v) = version
            && v != 1
        {
            self.issue(
                &KeyPath::root("version"),
                format!("version {v} is not supported; this anonymize reads version 1"),
            );
        }
        let name = required(self, "name").and_then(|n| self.de::<String>(n, &KeyPath::root("name")));
        if let Some(name) = &name
            && (name.trim().is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            self.issue(&KeyPath::root("name"), "a job name is one word: letters, digits, `_`, `-` and `.`");
        }
        let optional_text = |this: &mut Self, key: &str| -> Option<String> {
            root.get(key).and_then(|n| this.de::<Option<String>>(n, &KeyPath::root(key))).flatten()
        };
        let namespace = optional_text(self, "namespace").unwrap_or_else(|| "anonymize".to_string());
        let owner = optional_text(self, "owner");
        let purpose = optional_text(self, "purpose");
        let description = optional_text(self, "description");

        let input = required(self, "input").and_then(|n| self.input(n));
        let consent = root.get("consent").and_then(|n| self.consent(n, purpose.as_deref()));
        let pseudonym_key = root.get("secrets").and_then(|n| self.secrets(n));
        let unlisted_columns = root
            .get("unlisted_columns")
            .map_or(Some(UnlistedColumns::Error), |n| self.de(n, &KeyPath::root("unlisted_columns")));
        let columns = required(self, "columns").and_then(|n| self.columns(n));
        let privacy = root.get("privacy").map_or(Some(Privacy::default()), |n| self.privacy(n));
        let aggregates = root.get("aggregates").map_or(Some(Vec::new()), |n| self.aggregates(n));
        let mut output = required(self, "output").and_then(|n| self.output(n));
        // Only a job with quasi-identifiers has decisions to write.
        let quasi = columns.as_ref().is_some_and(|c| c.iter().any(|c| matches!(c.action, Action::Generalize(_))));
        if let Some(output) = output.as_mut().filter(|_| !quasi) {
            output.decisions = None;
        }
        let lineage = optional_text(self, "lineage").map(|p| self.resolve(&p));
        let report = optional_text(self, "report").map(|p| self.resolve(&p));
        let utility = root.get("utility").and_then(|n| self.utility(n));

        if let (Some(columns), Some(privacy), Some(aggregates)) = (&columns, &privacy, &aggregates) {
            self.cross_checks(columns, privacy, aggregates, pseudonym_key.is_some(), root.get("secrets").is_some());
            if let Some(utility) = &utility {
                self.target_check(columns, &utility.target, &KeyPath::root("utility").join("target"));
                if !columns.iter().any(|c| matches!(c.action, Action::Generalize(_))) {
                    self.issue(
                        &KeyPath::root("utility"),
                        "`utility` compares models trained on generalized and original data, and no column is `generalize`",
                    );
                }
            }
        }
        if let (Some(input), Some(output)) = (&input, &output)
            && same_file(&input.path, &output.path)
        {
            self.issue(
                &KeyPath::root("output").join("path"),
                "the output path is the input path; the raw data would be overwritten",
            );
        }

        self.check_written_paths(
            input.as_ref(),
            consent.as_ref(),
            output.as_ref(),
            aggregates.as_deref(),
            lineage.as_deref(),
            report.as_deref(),
            privacy.as_ref().and_then(|p| p.budget.as_ref()).map(|b| b.ledger.as_path()),
        );

        Some(Job {
            file: file.to_path_buf(),
            file_blake3,
            name: name?,
            namespace,
            owner,
            purpose,
            description,
            input: input?,
            consent,
            pseudonym_key,
            unlisted_columns: unlisted_columns?,
            columns: columns?,
            privacy: privacy?,
            aggregates: aggregates?,
            output: output?,
            lineage,
            report,
            utility,
            document: root.clone(),
        })
        .filter(|_| version == Some(1))
    }

    /// Every file a run writes or locks (output, releases, lineage, report, budget ledger) is
    /// distinct from the others and from every file it reads, compared by their real paths
    /// (symbolic links and `..` resolved, also for files that do not exist yet), and none of them
    /// is a file that a folder or glob input would read on the next run.
    #[allow(clippy::too_many_arguments)]
    fn check_written_paths(
        &mut self,
        input: Option<&Input>,
        consent: Option<&Consent>,
        output: Option<&Output>,
        aggregates: Option<&[Aggregate]>,
        lineage: Option<&Path>,
        report: Option<&Path>,
        ledger: Option<&Path>,
    ) {
        use crate::files::real_path;
        let mut written: Vec<(KeyPath, &Path)> = Vec::new();
        if let Some(output) = output {
            written.push((KeyPath::root("output").join("path"), &output.path));
        }
        if let Some(decisions) = output.and_then(|o| o.decisions.as_deref()) {
            written.push((KeyPath::root("output").join("decisions"), decisions));
        }
        for (i, aggregate) in aggregates.unwrap_or_default().iter().enumerate() {
            written.push((KeyPath::root("aggregates").join(i).join("path"), &aggregate.path));
        }
        if let Some(lineage) = lineage {
            written.push((KeyPath::root("lineage"), lineage));
        }
        if let Some(report) = report {
            written.push((KeyPath::root("report"), report));
        }
        if let Some(ledger) = ledger {
            written.push((KeyPath::root("privacy").join("budget").join("ledger"), ledger));
        }
        let real: Vec<PathBuf> = written.iter().map(|(_, p)| real_path(p)).collect();
        let input_real = input.map(|i| real_path(&i.path));
        let lists: Vec<PathBuf> = consent.iter().flat_map(|c| &c.exclude).map(|e| real_path(&e.path)).collect();
        for (i, (key, path)) in written.iter().enumerate() {
            // The output may be a folder of part files a cluster's run wrote (it replaces it; the
            // command line refuses it when it runs).
            let parts_folder = output.is_some() && i == 0 && crate::files::is_parts_folder(path).unwrap_or(false);
            if let Err(e) = crate::files::check_replaceable(path)
                && !parts_folder
            {
                self.issue(key, format!("`{}` cannot be written: {e}; a run never replaces it", path.display()));
                continue;
            }
            // `output.path` against the input has its own message above.
            let checks_input = !(output.is_some() && i == 0);
            let reads_it = lists.contains(&real[i]) || (checks_input && input_real.as_ref() == Some(&real[i]));
            if reads_it {
                self.issue(key, "this path is a file the job reads; the raw data would be overwritten");
            } else if let Some((other, _)) =
                written[..i].iter().zip(&real).find(|(_, r)| **r == real[i]).map(|(w, _)| w)
            {
                self.issue(key, format!("this path is also `{other}`; every file a run writes needs its own path"));
            } else if let Some(input) = input
                && input_real.as_ref() != Some(&real[i])
                && super::would_read(&input.path, path)
            {
                self.issue_with_hint(
                    key,
                    format!(
                        "`input.path` `{}` would read this file: each run would read the previous run's output",
                        input.path.display()
                    ),
                    Some("write outputs outside the input folder, or narrow the input to a glob that excludes them"),
                );
            }
        }
    }

    fn input(&mut self, node: &Node) -> Option<Input> {
        let path = KeyPath::root("input");
        let config: InputConfig = self.de(node, &path)?;
        let format = config.format.or_else(|| format_from_extension(Path::new(&config.path)));
        let mut csv = CsvOptions::default();
        if format == Some(DataFormat::Parquet) {
            for (key, set) in [
                ("delimiter", config.delimiter.is_some()),
                ("has_header", config.has_header.is_some()),
                ("null_values", config.null_values.is_some()),
                ("types", config.types.is_some()),
            ] {
                if set {
                    self.issue(
                        &path.join(key),
                        format!("`{key}` applies to CSV input only; Parquet files carry their own schema"),
                    );
                }
            }
        }
        if let Some(d) = &config.delimiter {
            match single_byte(d) {
                Some(b) => csv.delimiter = b,
                None => self.issue(
                    &path.join("delimiter"),
                    "a delimiter is one ASCII character, such as \",\", \";\" or \"\\t\"",
                ),
            }
        }
        if let Some(h) = config.has_header {
            csv.has_header = h;
        }
        if let Some(n) = config.null_values {
            csv.null_values = n;
        }
        if let Some(t) = config.types {
            csv.types = t;
        }
        if config.path.trim().is_empty() {
            self.issue(&path.join("path"), "the input path is empty");
        }
        Some(Input { path: self.resolve(&config.path), format: config.format, csv })
    }

    fn consent(&mut self, node: &Node, purpose: Option<&str>) -> Option<Consent> {
        let path = KeyPath::root("consent");
        let config: ConsentConfig = self.de(node, &path)?;
        let column = config.column.or_else(|| purpose.map(|p| format!("consent_{p}")));
        if column.is_none() && config.exclude.is_empty() {
            self.issue_with_hint(
                &path,
                "consent names neither a column nor an exclusion list",
                Some("set `consent.column`, or `purpose` to use the column `consent_<purpose>`"),
            );
        }
        let mut exclude = Vec::new();
        for (i, e) in config.exclude.into_iter().enumerate() {
            let p = path.join("exclude").join(i);
            let resolved = self.resolve(&e.path);
            let format = e.format.or_else(|| format_from_extension(&resolved));
            match format {
                None => self.issue(
                    &p.join("path"),
                    "cannot tell the list's format from its extension; set `format: csv` or `format: parquet`",
                ),
                Some(_) if !resolved.is_file() => {
                    self.issue(&p.join("path"), format!("exclusion list `{}` does not exist", e.path))
                }
                Some(format) => exclude.push(Exclusion { path: resolved, key: e.key, format }),
            }
        }
        Some(Consent { column, exclude })
    }

    /// Secrets are read by hand: a value written inline must never be echoed in a message.
    fn secrets(&mut self, node: &Node) -> Option<KeySource> {
        let path = KeyPath::root("secrets");
        let NodeValue::Mapping(entries) = &node.value else {
            self.issue(&path, format!("expected a mapping of secret names, found {}", node.kind()));
            return None;
        };
        let mut source = None;
        for (name, _, value) in entries {
            let p = path.join(name);
            if name != "pseudonym_key" {
                let name = crate::keys::redact(name);
                self.issue(&p, format!("unknown secret `{name}`; the only secret is `pseudonym_key`"));
                continue;
            }
            let how = "write `{ env: VARIABLE }` or `{ file: PATH }`";
            match &value.value {
                NodeValue::Mapping(fields) if fields.len() == 1 => {
                    let (kind, _, v) = &fields[0];
                    // A key pasted where its variable or file name belongs must not be echoed
                    // by "variable `…` is not set" (nor reach lineage that way).
                    let pasted = "this looks like key material, not a name (the value is not shown here); the key \
                                  itself never goes in a job file";
                    match (kind.as_str(), &v.value) {
                        ("env" | "file", NodeValue::String(name))
                            if Path::new(name)
                                .components()
                                .any(|c| crate::keys::looks_like_key_material(&c.as_os_str().to_string_lossy())) =>
                        {
                            self.issue_with_hint(&p.join(kind), pasted, Some(how))
                        }
                        ("env", NodeValue::String(var)) if !is_variable_name(var) => self.issue_with_hint(
                            &p.join(kind),
                            "an environment variable name is letters, digits and `_`, not starting with a digit \
                             (the value is not shown here)",
                            Some(how),
                        ),
                        ("env", NodeValue::String(var)) => source = Some(KeySource::Env(var.clone())),
                        ("file", NodeValue::String(file)) if !file.is_empty() => {
                            source = Some(KeySource::File(self.resolve(file)))
                        }
                        // Reported where parsing began; nothing more to say.
                        ("env" | "file", NodeValue::TooLarge) => {}
                        ("env" | "file", _) => {
                            self.issue(&p.join(kind), format!("expected a non-empty name, found {}", v.kind()))
                        }
                        _ => self.issue_with_hint(&p, format!("unknown key source `{kind}`"), Some(how)),
                    }
                }
                NodeValue::Mapping(_) => self.issue_with_hint(&p, "a key has exactly one source", Some(how)),
                _ => self.issue_with_hint(
                    &p,
                    "keys are never written in job files (the value is not shown here)",
                    Some(format!("{how}; generate a key with `anonymize keygen`")),
                ),
            }
        }
        source
    }

    fn columns(&mut self, node: &Node) -> Option<Vec<ColumnSpec>> {
        let path = KeyPath::root("columns");
        let NodeValue::Mapping(entries) = &node.value else {
            self.issue(&path, format!("expected a mapping from column names to actions, found {}", node.kind()));
            return None;
        };
        if entries.is_empty() {
            self.issue(&path, "no columns are listed");
        }
        let mut columns = Vec::new();
        let mut ok = true;
        for (name, _, spec) in entries {
            match self.column(name, spec, &path.join(name)) {
                Some((action, protected)) => columns.push(ColumnSpec { name: name.clone(), action, protected }),
                None => ok = false,
            }
        }
        ok.then_some(columns)
    }

    fn column(&mut self, name: &str, node: &Node, path: &KeyPath) -> Option<(Action, bool)> {
        let (action, payload) = match &node.value {
            NodeValue::String(action) => (action.clone(), serde_json::Map::new()),
            NodeValue::Mapping(entries) => {
                let Some(action) = node.get("action") else {
                    self.issue_with_hint(
                        path,
                        "missing key `action`",
                        Some(format!("one of: {}", crate::actions::names().join(", "))),
                    );
                    return None;
                };
                let NodeValue::String(action) = &action.value else {
                    self.issue(&path.join("action"), format!("expected an action name, found {}", action.kind()));
                    return None;
                };
                let payload = entries
                    .iter()
                    .filter(|(k, _, _)| k != "action")
                    .map(|(k, _, v)| (k.clone(), v.to_json()))
                    .collect();
                (action.clone(), payload)
            }
            _ => {
                self.issue(path, format!("expected an action name or a mapping with `action`, found {}", node.kind()));
                return None;
            }
        };
        // `protected` belongs to every action: it marks the column's groups, not what is done.
        let mut payload = payload;
        let protected = match payload.remove("protected") {
            None => false,
            Some(serde_json::Value::Bool(b)) => b,
            Some(_) => {
                self.issue(&path.join("protected"), "`protected` is true or false");
                return None;
            }
        };
        let value = serde_json::Value::Object(payload);
        match crate::actions::find(&action) {
            Some(definition) => (definition.parse)(self, name, value, path).map(|a| (a, protected)),
            None => {
                let names = crate::actions::names();
                let hint = closest(&action, names.iter().copied()).map(|c| format!("did you mean `{c}`?"));
                self.issue_with_hint(
                    &path.join("action"),
                    format!("unknown action `{action}`, expected one of: {}", names.join(", ")),
                    hint,
                );
                None
            }
        }
    }

    pub(crate) fn epsilon(&mut self, value: f64, path: &KeyPath) -> Option<Epsilon> {
        let epsilon = Epsilon::new(value);
        if epsilon.is_none() {
            self.issue(path, "epsilon is a finite number greater than 0");
        }
        epsilon
    }

    pub(crate) fn bounds(&mut self, values: &[f64], path: &KeyPath) -> Option<Bounds> {
        let bounds = match values {
            [low, high] => Bounds::new(*low, *high),
            _ => None,
        };
        if bounds.is_none() {
            self.issue(
                path,
                "bounds are [low, high]: two finite numbers with low < high and a finite width high - low",
            );
        }
        bounds
    }

    fn privacy(&mut self, node: &Node) -> Option<Privacy> {
        let path = KeyPath::root("privacy");
        let config: PrivacyConfig = self.de(node, &path)?;
        let mut ok = true;
        let k_anonymity = config.k_anonymity.and_then(|c| {
            let p = path.join("k_anonymity");
            let k = K::new(c.k);
            if k.is_none() {
                self.issue(&p.join("k"), format!("k is at least 2, not {}", c.k));
            }
            let limit_ok = c.suppression_limit.is_finite() && (0.0..1.0).contains(&c.suppression_limit);
            if !limit_ok {
                self.issue(&p.join("suppression_limit"), "the suppression limit is a fraction of rows in [0, 1)");
            }
            if c.unknown_values.is_some() && c.decisions.is_none() {
                self.issue_with_hint(
                    &p.join("unknown_values"),
                    "`unknown_values` applies to frozen `decisions` only (a search compiles hierarchies over the values it sees)",
                    Some("remove `unknown_values`, or add `decisions: PATH`"),
                );
            }
            let classification_weight = c.classification_weight.unwrap_or(0.5);
            if c.metric == crate::privacy::search::Metric::Classification && c.target.is_none() {
                self.issue_with_hint(
                    &p.join("metric"),
                    "`metric: classification` needs `target`, the column the data will be used to predict",
                    Some("add `target: COLUMN` (a kept column, not a quasi-identifier)"),
                );
            }
            if c.metric != crate::privacy::search::Metric::Classification {
                for (key, set) in [("target", c.target.is_some()), ("classification_weight", c.classification_weight.is_some())] {
                    if set {
                        self.issue_with_hint(
                            &p.join(key),
                            format!("`{key}` is read by `metric: classification` only"),
                            Some("set `metric: classification`, or remove it"),
                        );
                    }
                }
            }
            if !(classification_weight.is_finite() && (0.0..=1.0).contains(&classification_weight)) {
                self.issue(&p.join("classification_weight"), "`classification_weight` is in [0, 1]");
            }
            let built = Some(KAnonymity {
                k: k?,
                suppression_limit: c.suppression_limit,
                suppressed_rows: c.suppressed_rows,
                metric: c.metric,
                algorithm: c.algorithm,
                decisions: c.decisions.as_deref().map(|d| self.resolve(d)),
                unknown_values: c.unknown_values.unwrap_or_default(),
                enforce_limit: true,
                target: c.target,
                classification_weight,
            })
            .filter(|_| limit_ok);
            ok &= built.is_some();
            built
        });
        let l_diversity = config.l_diversity.and_then(|c| {
            if c.l < 2 {
                self.issue(&path.join("l_diversity").join("l"), format!("l is at least 2, not {}", c.l));
                ok = false;
                return None;
            }
            Some(LDiversity { l: c.l, variant: c.variant })
        });
        let t_closeness = config.t_closeness.and_then(|c| {
            if !(c.t.is_finite() && c.t > 0.0 && c.t <= 1.0) {
                self.issue(&path.join("t_closeness").join("t"), "t is in (0, 1]");
                ok = false;
                return None;
            }
            Some(c.t)
        });
        let budget = config.budget.and_then(|c| {
            let p = path.join("budget");
            let epsilon = self.epsilon(c.epsilon, &p.join("epsilon"));
            let delta = Delta::new(c.delta);
            if delta.is_none() {
                self.issue(&p.join("delta"), "delta is in [0, 1)");
            }
            if c.dataset.trim().is_empty() {
                self.issue(&p.join("dataset"), "the dataset name is empty");
            }
            let built =
                Some(Budget { ledger: self.resolve(&c.ledger), dataset: c.dataset, epsilon: epsilon?, delta: delta? });
            ok &= built.is_some();
            built
        });
        let max_unique_rows = config.risk.and_then(|c| {
            if !(c.max_unique_rows.is_finite() && (0.0..=1.0).contains(&c.max_unique_rows)) {
                self.issue(
                    &path.join("risk").join("max_unique_rows"),
                    "max_unique_rows is a share of output rows in [0, 1] (0.05: at most 5% of rows unique)",
                );
                ok = false;
                return None;
            }
            Some(c.max_unique_rows)
        });
        let fairness = config.fairness.and_then(|c| {
            let p = path.join("fairness");
            if !(c.max_suppression_ratio.is_finite() && c.max_suppression_ratio >= 1.0) {
                self.issue(
                    &p.join("max_suppression_ratio"),
                    "max_suppression_ratio is a finite number of at least 1 (2: no group suppressed more than twice as much as the data)",
                );
                ok = false;
                return None;
            }
            if c.protected.is_empty() {
                self.issue(&p.join("protected"), "name at least one protected column");
                ok = false;
                return None;
            }
            Some((c.protected, c.max_suppression_ratio))
        });
        ok.then_some(Privacy { k_anonymity, l_diversity, t_closeness, budget, max_unique_rows, fairness })
    }

    fn aggregates(&mut self, node: &Node) -> Option<Vec<Aggregate>> {
        let path = KeyPath::root("aggregates");
        let NodeValue::Sequence(items) = &node.value else {
            self.issue(&path, format!("expected a list of releases, found {}", node.kind()));
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.aggregate(item, &path.join(i)) {
                Some(a) if out.iter().any(|o: &Aggregate| o.name == a.name) => {
                    self.issue(&path.join(i).join("name"), format!("two releases are named `{}`", a.name));
                    ok = false;
                }
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn aggregate(&mut self, node: &Node, path: &KeyPath) -> Option<Aggregate> {
        let mut value = node.to_json();
        let measures = value.as_object_mut().and_then(|m| m.remove("measures"));
        let c: AggregateOptions = self.de_json(value, path)?;
        let epsilon = self.epsilon(c.epsilon, &path.join("epsilon"));
        let delta = match c.delta {
            None => None,
            Some(d) if d.is_finite() && d > 0.0 && d < 1.0 => Delta::new(d),
            Some(_) => {
                self.issue(&path.join("delta"), "delta is in (0, 1)");
                return None;
            }
        };
        if c.public_groups.is_none() && !c.group_by.is_empty() && delta.is_none() {
            self.issue_with_hint(
                &path.join("delta"),
                "groups that are not public need `delta` for private partition selection",
                Some("set `delta` (such as 1.0e-6) or list the groups in `public_groups`"),
            );
        }
        if c.max_groups_per_unit == 0 {
            self.issue(&path.join("max_groups_per_unit"), "max_groups_per_unit is at least 1");
        }
        let resolved = self.resolve(&c.path);
        let format = format_from_extension(&resolved);
        if format.is_none() {
            self.issue(&path.join("path"), "a release is written as `.csv` or `.parquet`");
        }
        let measures = self.measures(measures, &path.join("measures"))?;
        if delta.is_none() && measures.iter().any(|m| matches!(m, Measure::Histogram { bins: None, .. })) {
            self.issue_with_hint(
                &path.join("delta"),
                "a histogram without `bins` releases the categories found in the data and needs `delta` to select them",
                Some("set `delta` (such as 1.0e-6), or give the histogram numeric `bins`"),
            );
            return None;
        }
        Some(Aggregate {
            name: c.name,
            path: resolved,
            format: format?,
            privacy_unit: c.privacy_unit,
            group_by: c.group_by,
            max_groups_per_unit: c.max_groups_per_unit.max(1),
            measures,
            epsilon: epsilon?,
            delta,
            public_groups: c.public_groups,
        })
        .filter(|_| c.max_groups_per_unit > 0)
    }

    fn measures(&mut self, value: Option<serde_json::Value>, path: &KeyPath) -> Option<Vec<Measure>> {
        let Some(serde_json::Value::Array(items)) = value else {
            self.issue(
                path,
                "a release lists its `measures`: count, { sum: COLUMN, bounds: [..] }, { mean: .. }, { histogram: .. }",
            );
            return None;
        };
        if items.is_empty() {
            self.issue(path, "no measures are listed");
            return None;
        }
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let p = path.join(i);
            match item {
                serde_json::Value::String(s) if s == "count" => out.push(Measure::Count),
                serde_json::Value::Object(mut m) => {
                    let kind = ["sum", "mean", "histogram"].into_iter().find(|k| m.contains_key(*k));
                    let Some(kind) = kind else {
                        self.issue(&p, "a measure is `count` or a mapping with `sum`, `mean` or `histogram`");
                        return None;
                    };
                    let Some(serde_json::Value::String(column)) = m.remove(kind) else {
                        self.issue(&p.join(kind), "expected a column name");
                        return None;
                    };
                    let rest = serde_json::Value::Object(m);
                    if kind == "histogram" {
                        let c: HistogramMeasureConfig = self.de_json(rest, &p)?;
                        out.push(Measure::Histogram { column, bins: c.bins });
                    } else {
                        let c: BoundedMeasureConfig = self.de_json(rest, &p)?;
                        let bounds = self.bounds(&c.bounds, &p.join("bounds"))?;
                        out.push(if kind == "sum" {
                            Measure::Sum { column, bounds }
                        } else {
                            Measure::Mean { column, bounds }
                        });
                    }
                }
                _ => {
                    self.issue(&p, "a measure is `count` or a mapping with `sum`, `mean` or `histogram`");
                    return None;
                }
            }
        }
        Some(out)
    }

    fn output(&mut self, node: &Node) -> Option<Output> {
        let path = KeyPath::root("output");
        let c: OutputConfig = self.de(node, &path)?;
        let resolved = self.resolve(&c.path);
        let format = c.format.or_else(|| format_from_extension(&resolved));
        if format.is_none() {
            self.issue_with_hint(
                &path.join("path"),
                "cannot tell the output format from the extension",
                Some("end the path with .parquet or .csv, or set `format`"),
            );
        }
        let decisions = Some(match &c.decisions {
            Some(d) => self.resolve(d),
            None => decisions_beside(&resolved),
        });
        Some(Output { path: resolved, format: format?, overwrite: c.overwrite, decisions })
    }

    /// A target (of the classification metric or the utility report) is a kept column.
    fn target_check(&mut self, columns: &[ColumnSpec], target: &str, path: &KeyPath) {
        match columns.iter().find(|c| c.name == target).map(|c| &c.action) {
            Some(Action::Keep { .. }) => {}
            Some(other) => self.issue_with_hint(
                path,
                format!(
                    "the target `{target}` is `{}`; a target is predicted from the other columns and kept as it is",
                    other.name()
                ),
                Some("give the target column `action: keep`"),
            ),
            None => self.issue_with_hint(
                path,
                format!("`{target}` is not a column of the job"),
                Some("list the target under `columns` with `action: keep`"),
            ),
        }
    }

    /// `utility:`.
    fn utility(&mut self, node: &Node) -> Option<crate::job::model::Utility> {
        let path = KeyPath::root("utility");
        let config: crate::job::config::UtilityConfig = self.de(node, &path)?;
        // Problems are recorded (the job is refused); the section is still returned so that
        // its target is checked too.
        let holdout = config.holdout.unwrap_or(0.3);
        if !(holdout.is_finite() && holdout > 0.0 && holdout < 1.0) {
            self.issue(&path.join("holdout"), "the holdout is the share of rows kept for testing, in (0, 1)");
        }
        let max_rows = config.max_rows.unwrap_or(200_000);
        if max_rows < 100 {
            self.issue(&path.join("max_rows"), "the evaluation needs at least 100 rows to train and test on");
        }
        Some(crate::job::model::Utility { target: config.target, holdout, seed: config.seed.unwrap_or(0), max_rows })
    }

    /// Checks that need more than one section.
    fn cross_checks(
        &mut self,
        columns: &[ColumnSpec],
        privacy: &Privacy,
        aggregates: &[Aggregate],
        has_key: bool,
        has_secrets: bool,
    ) {
        for c in columns {
            if c.action.needs_key() && !has_key && !has_secrets {
                self.issue_with_hint(
                    &KeyPath::root("columns").join(&c.name),
                    format!("`{}` needs a key, and `secrets.pseudonym_key` is not set", c.action.name()),
                    Some("add `secrets: { pseudonym_key: { env: ANONYMIZE_KEY } }`"),
                );
            }
            if let Action::Generalize(g) = &c.action
                && g.level.is_none()
                && privacy.k_anonymity.is_none()
            {
                self.issue_with_hint(
                    &KeyPath::root("columns").join(&c.name),
                    "`generalize` without a fixed `level` needs `privacy.k_anonymity` to choose one",
                    Some("set `level`, or add `privacy: { k_anonymity: { k: 10 } }`"),
                );
            }
        }
        let sensitive = columns.iter().any(|c| matches!(c.action, Action::Keep { sensitive: true }));
        if !sensitive {
            for (key, set) in
                [("l_diversity", privacy.l_diversity.is_some()), ("t_closeness", privacy.t_closeness.is_some())]
            {
                if set {
                    self.issue_with_hint(
                        &KeyPath::root("privacy").join(key),
                        format!("`{key}` protects sensitive columns, and no column is `sensitive: true`"),
                        Some("mark the protected column `{ action: keep, sensitive: true }`"),
                    );
                }
            }
        }
        if let Some((protected, _)) = &privacy.fairness {
            for (i, name) in protected.iter().enumerate() {
                if !columns.iter().any(|c| &c.name == name) {
                    self.issue_with_hint(
                        &KeyPath::root("privacy").join("fairness").join("protected").join(i),
                        format!("`{name}` is not a column of the job"),
                        Some("list the column under `columns` (any action: `drop` keeps it out of the output and still counts its groups)"),
                    );
                }
            }
            if privacy.k_anonymity.is_none() {
                self.issue(
                    &KeyPath::root("privacy").join("fairness"),
                    "`fairness` bounds what k-anonymity's suppression does to groups, and `k_anonymity` is not set",
                );
            }
        }
        if let Some(target) = privacy.k_anonymity.as_ref().and_then(|k| k.target.as_ref()) {
            self.target_check(columns, target, &KeyPath::root("privacy").join("k_anonymity").join("target"));
        }
        let quasi = columns.iter().any(|c| matches!(c.action, Action::Generalize(_)));
        if let Some(c) = columns.iter().find(|c| c.protected).filter(|_| !quasi) {
            self.issue(
                &KeyPath::root("columns").join(&c.name).join("protected"),
                "`protected` reports what generalization and suppression do to the column's groups, and no column is `generalize`",
            );
        }
        if privacy.k_anonymity.is_some() && !quasi {
            self.issue(
                &KeyPath::root("privacy").join("k_anonymity"),
                "k-anonymity needs quasi-identifiers, and no column is `generalize`",
            );
        }
        let mut spend = 0.0;
        let mut uses_dp = false;
        for c in columns {
            if let Action::Noise(n) = &c.action {
                spend += n.epsilon.get();
                uses_dp = true;
            }
        }
        for a in aggregates {
            spend += a.epsilon.get();
            uses_dp = true;
        }
        match &privacy.budget {
            None if uses_dp => self.issue_with_hint(
                &KeyPath::root("privacy"),
                "noise and aggregates spend privacy budget, and `privacy.budget` is not set",
                Some("add `budget: { ledger: PATH, dataset: NAME, epsilon: TOTAL }` so spending is accounted across runs"),
            ),
            Some(b) if spend > b.epsilon.get() => self.issue(
                &KeyPath::root("privacy").join("budget").join("epsilon"),
                format!("one run of this job spends epsilon {spend}, more than the budget's total of {}", b.epsilon.get()),
            ),
            _ => {}
        }
    }
}

/// The default decisions file of an output: `NAME.decisions.json` beside it, `NAME` being the
/// output's file name without its extension.
fn decisions_beside(output: &Path) -> PathBuf {
    let stem = output.file_stem().map_or_else(|| "output".into(), |s| s.to_string_lossy().into_owned());
    output.with_file_name(format!("{stem}.decisions.json"))
}

fn unknown_field_hint(message: &str) -> Option<String> {
    // serde: "unknown field `x`, expected one of `a`, `b`" / "expected `a` or `b`"
    let field = message.strip_prefix("unknown field `")?.split('`').next()?;
    let expected: Vec<&str> = message.split("expected").nth(1)?.split('`').skip(1).step_by(2).collect();
    closest(field, expected).map(|c| format!("did you mean `{c}`?"))
}

/// `[A-Za-z_][A-Za-z0-9_]*`, what every shell and scheduler accepts as a variable name.
fn is_variable_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

pub(crate) fn single_byte(text: &str) -> Option<u8> {
    let text = if text == "\\t" { "\t" } else { text };
    match text.as_bytes() {
        [b] if b.is_ascii() && *b != b'"' && *b != b'\n' && *b != b'\r' => Some(*b),
        _ => None,
    }
}

/// `csv` or `parquet` from a path's extension.
pub fn format_from_extension(path: &Path) -> Option<DataFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "tsv" | "txt" => Some(DataFormat::Csv),
        "parquet" | "pq" => Some(DataFormat::Parquet),
        _ => None,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    crate::files::real_path(a) == crate::files::real_path(b)
}

/// Removes `.` and `name/..` pairs without touching the file system, so messages and
/// summaries show `sample_data/x.csv` rather than `pipelines/../sample_data/x.csv`.
fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component<'_>> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() { PathBuf::from(".") } else { out.iter().collect() }
}
