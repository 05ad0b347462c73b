//! A format-neutral document tree with source positions.
//!
//! YAML and TOML job files are both parsed into [`Node`], so validation is written once and every
//! problem can point at the line and column it came from. The tree converts to
//! `serde_json::Value` for the serde-derived section types.

use std::fmt;

/// A line and column in the job file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One value of the document with where it stands.
#[derive(Debug, Clone)]
pub struct Node {
    pub value: NodeValue,
    pub position: Option<Position>,
}

/// The value of a [`Node`].
#[derive(Debug, Clone)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Sequence(Vec<Node>),
    /// Keys keep their own position, so an unknown key can be pointed at.
    Mapping(Vec<(String, Option<Position>, Node)>),
    /// An integer beyond 64 bits. Its digits are not kept: a number that long may be key
    /// material pasted into the wrong place, and no setting takes one.
    TooLarge,
}

/// Positions by key path (see [`Node::position_index`]).
#[derive(Debug, Clone, Default)]
pub struct PositionIndex {
    root: Option<Position>,
    positions: std::collections::HashMap<Vec<String>, Position>,
}

impl PositionIndex {
    /// The position of the deepest node of `path` that exists, as [`Node::position_of`].
    pub fn position_of(&self, path: &[String]) -> Option<Position> {
        (1..=path.len()).rev().find_map(|n| self.positions.get(&path[..n]).copied()).or(self.root)
    }
}

/// A document that could not be parsed at all.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    pub message: String,
    pub position: Option<Position>,
}

impl Node {
    /// Looks up a child of a mapping by key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            NodeValue::Mapping(entries) => entries.iter().find(|(k, _, _)| k == key).map(|(_, _, n)| n),
            _ => None,
        }
    }

    /// Follows a dotted path of keys and sequence indices (`columns.email.domain`, `aggregates.0`)
    /// and returns the position of the deepest node reached.
    pub fn position_of(&self, path: &[String]) -> Option<Position> {
        let mut node = self;
        let mut best = self.position;
        for segment in path {
            let next = match &node.value {
                NodeValue::Mapping(entries) => entries.iter().find(|(k, _, _)| k == segment).map(|(_, kp, n)| {
                    best = kp.or(n.position).or(best);
                    n
                }),
                NodeValue::Sequence(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)).inspect(|n| {
                    best = n.position.or(best);
                }),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        best
    }

    /// Every key path of the document with its position, for looking many up: a lookup in
    /// [`PositionIndex`] costs the path's depth, where [`Node::position_of`] scans mappings
    /// (so a job with tens of thousands of problems is still reported in linear time).
    pub fn position_index(&self) -> PositionIndex {
        let mut index = PositionIndex { root: self.position, positions: std::collections::HashMap::new() };
        let mut path = Vec::new();
        self.index_into(&mut path, &mut index);
        index
    }

    fn index_into(&self, path: &mut Vec<String>, index: &mut PositionIndex) {
        match &self.value {
            NodeValue::Mapping(entries) => {
                for (key, key_position, node) in entries {
                    path.push(key.clone());
                    if let Some(p) = key_position.or(node.position) {
                        index.positions.entry(path.clone()).or_insert(p);
                    }
                    node.index_into(path, index);
                    path.pop();
                }
            }
            NodeValue::Sequence(items) => {
                for (i, node) in items.iter().enumerate() {
                    path.push(i.to_string());
                    if let Some(p) = node.position {
                        index.positions.entry(path.clone()).or_insert(p);
                    }
                    node.index_into(path, index);
                    path.pop();
                }
            }
            _ => {}
        }
    }

    /// A short name of the node's kind, for messages ("a string", "a mapping").
    pub fn kind(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Integer(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Sequence(_) => "a list",
            NodeValue::Mapping(_) => "a mapping",
            NodeValue::TooLarge => "an integer beyond 64 bits",
        }
    }

    /// The tree without positions, for serde-derived section types.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Integer(i) => Value::from(*i),
            // NaN and infinities have no JSON form; they become strings so that the typed
            // deserialization refuses them with a message instead of silently reading null.
            NodeValue::Float(f) if !f.is_finite() => Value::String(f.to_string()),
            NodeValue::Float(f) => Value::from(*f),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::Sequence(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Mapping(entries) => {
                Value::Object(entries.iter().map(|(k, _, n)| (k.clone(), n.to_json())).collect())
            }
            // Refused by the parser before any typed deserialization sees it.
            NodeValue::TooLarge => Value::Null,
        }
    }

    /// The key paths of every integer beyond 64 bits under this node.
    pub fn too_large(&self) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        self.collect_too_large(&mut Vec::new(), &mut found);
        found
    }

    fn collect_too_large(&self, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
        match &self.value {
            NodeValue::TooLarge => found.push(path.clone()),
            NodeValue::Sequence(items) => {
                for (i, n) in items.iter().enumerate() {
                    path.push(i.to_string());
                    n.collect_too_large(path, found);
                    path.pop();
                }
            }
            NodeValue::Mapping(entries) => {
                for (k, _, n) in entries {
                    path.push(k.clone());
                    n.collect_too_large(path, found);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// Parses a YAML document.
///
/// # Errors
/// A [`SyntaxError`] with the parser's message and position.
pub fn parse_yaml(text: &str) -> Result<Node, SyntaxError> {
    // YAML 1.2 booleans only: `y`, `no` and `off` stay strings (the "Norway problem").
    let mut options = serde_saphyr::options::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    // Duplicates reach our own visitor, which finds them with a set: the library's own check
    // is quadratic in a mapping's keys (80,000 keys took 21 s) and its message advises about
    // its own options.
    options.duplicate_keys = serde_saphyr::options::DuplicateKeyPolicy::PassThrough;
    // A job is a handful of levels deep; 32 is room enough and keeps recursion shallow.
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_depth = 32;
    options.budget = Some(budget);
    // `.inf` and `.nan` reach validation, which names the key that must be finite.
    options.non_finite_float_policy = serde_saphyr::options::NonFiniteFloatPolicy::PassThrough;
    match serde_saphyr::from_str_with_options::<Option<serde_saphyr::Spanned<YamlNode>>>(text, options) {
        Ok(Some(root)) => Ok(from_yaml(root)),
        Ok(None) => Ok(Node { value: NodeValue::Mapping(Vec::new()), position: None }),
        Err(error) => {
            let position =
                error.location().filter(|l| l.line() > 0).map(|l| Position { line: l.line(), column: l.column() });
            let message = error.without_snippet().to_string();
            Err(SyntaxError { message: first_line(&message), position })
        }
    }
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    // serde-saphyr appends " at line L column C"; the position is reported separately.
    match line.rfind(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

fn yaml_position(location: serde_saphyr::Location) -> Option<Position> {
    (location.line() > 0).then(|| Position { line: location.line(), column: location.column() })
}

fn from_yaml(spanned: serde_saphyr::Spanned<YamlNode>) -> Node {
    let position = yaml_position(spanned.referenced);
    let value = match spanned.value {
        YamlNode::Null => NodeValue::Null,
        YamlNode::Bool(b) => NodeValue::Bool(b),
        YamlNode::Integer(i) => NodeValue::Integer(i),
        YamlNode::Float(f) => NodeValue::Float(f),
        YamlNode::String(s) => NodeValue::String(s),
        YamlNode::Sequence(items) => NodeValue::Sequence(items.into_iter().map(from_yaml).collect()),
        YamlNode::Mapping(entries) => NodeValue::Mapping(
            entries.into_iter().map(|(k, v)| (k.value.0, yaml_position(k.referenced), from_yaml(v))).collect(),
        ),
        YamlNode::TooLarge => NodeValue::TooLarge,
    };
    Node { value, position }
}

/// The raw YAML value, deserialized through serde-saphyr so that `Spanned` records positions.
enum YamlNode {
    Null,
    Bool(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Sequence(Vec<serde_saphyr::Spanned<YamlNode>>),
    Mapping(Vec<(serde_saphyr::Spanned<KeyText>, serde_saphyr::Spanned<YamlNode>)>),
    TooLarge,
}

/// A mapping key as text, whatever scalar it was written as.
struct KeyText(String);

impl<'de> serde::Deserialize<'de> for KeyText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> serde::Deserialize<'de> for YamlNode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = YamlNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<YamlNode, E> {
                Ok(YamlNode::Null)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<YamlNode, E> {
                Ok(YamlNode::Null)
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<YamlNode, D::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<YamlNode, E> {
                Ok(YamlNode::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<YamlNode, E> {
                Ok(YamlNode::Integer(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<YamlNode, E> {
                Ok(i64::try_from(v).map_or(YamlNode::TooLarge, YamlNode::Integer))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<YamlNode, E> {
                Ok(YamlNode::Float(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<YamlNode, E> {
                Ok(YamlNode::String(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<YamlNode, E> {
                Ok(YamlNode::String(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<YamlNode, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(YamlNode::Sequence(items))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<YamlNode, A::Error> {
                let mut entries: Vec<(serde_saphyr::Spanned<KeyText>, serde_saphyr::Spanned<YamlNode>)> = Vec::new();
                // A set, not a scan of the entries: a mapping of n keys is checked in O(n).
                let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
                while let Some(key) = map.next_key::<serde_saphyr::Spanned<KeyText>>()? {
                    if !seen.insert(key.value.0.clone()) {
                        return Err(serde::de::Error::custom(format_args!(
                            "duplicate key `{}`",
                            crate::keys::redact(&key.value.0)
                        )));
                    }
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(YamlNode::Mapping(entries))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Parses a TOML document.
///
/// # Errors
/// A [`SyntaxError`] with the parser's message and position.
pub fn parse_toml(text: &str) -> Result<Node, SyntaxError> {
    let lines = LineIndex::new(text);
    match toml::de::DeTable::parse(text) {
        Ok(table) => {
            let position = lines.position(table.span().start);
            Ok(Node { value: toml_table(table.into_inner(), &lines), position })
        }
        Err(error) => Err(SyntaxError {
            message: error.message().trim().to_string(),
            position: error.span().and_then(|s| lines.position(s.start)),
        }),
    }
}

fn toml_table(table: toml::de::DeTable<'_>, lines: &LineIndex) -> NodeValue {
    NodeValue::Mapping(
        table
            .into_iter()
            .map(|(key, value)| {
                let key_position = lines.position(key.span().start);
                (key.into_inner().into_owned(), key_position, toml_node(value, lines))
            })
            .collect(),
    )
}

fn toml_node(value: toml::Spanned<toml::de::DeValue<'_>>, lines: &LineIndex) -> Node {
    use toml::de::DeValue;
    let position = lines.position(value.span().start);
    let value = match value.into_inner() {
        DeValue::String(s) => NodeValue::String(s.into_owned()),
        DeValue::Integer(i) => {
            let digits = i.as_str().replace('_', "");
            let digits = digits.strip_prefix('+').unwrap_or(&digits);
            match i64::from_str_radix(digits, i.radix()) {
                Ok(v) => NodeValue::Integer(v),
                Err(_) => NodeValue::TooLarge,
            }
        }
        DeValue::Float(f) => match f.as_str().replace('_', "").parse::<f64>() {
            Ok(v) => NodeValue::Float(v),
            Err(_) => NodeValue::String(f.to_string()),
        },
        DeValue::Boolean(b) => NodeValue::Bool(b),
        DeValue::Datetime(d) => NodeValue::String(d.to_string()),
        DeValue::Array(items) => NodeValue::Sequence(items.into_iter().map(|v| toml_node(v, lines)).collect()),
        DeValue::Table(table) => toml_table(table, lines),
    };
    Node { value, position }
}

/// Turns byte offsets into line and column numbers.
struct LineIndex {
    starts: Vec<usize>,
    text_len: usize,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts, text_len: text.len() }
    }

    fn position(&self, offset: usize) -> Option<Position> {
        if offset > self.text_len {
            return None;
        }
        let line = self.starts.partition_point(|&s| s <= offset);
        let column = offset - self.starts[line - 1] + 1;
        Some(Position { line: line as u64, column: column as u64 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_positions_point_at_keys_and_values() {
        let node = parse_yaml("a: 1\nb:\n  c: [x, y]\n").unwrap();
        let path = |p: &str| p.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(node.position_of(&path("b.c")), Some(Position { line: 3, column: 3 }));
        assert_eq!(node.position_of(&path("a")), Some(Position { line: 1, column: 1 }));
        let index = node.position_index();
        for p in ["b.c", "a", "b.c.1", "b.nothing", "nothing"] {
            assert_eq!(index.position_of(&path(p)), node.position_of(&path(p)), "{p}");
        }
        assert_eq!(node.get("b").unwrap().get("c").unwrap().to_json(), serde_json::json!(["x", "y"]));
    }

    #[test]
    fn toml_positions_point_at_keys() {
        let node = parse_toml("a = 1\n[b]\nc = [\"x\", \"y\"]\n").unwrap();
        let path = |p: &str| p.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(node.position_of(&path("b.c")), Some(Position { line: 3, column: 1 }));
        assert_eq!(node.to_json(), serde_json::json!({"a": 1, "b": {"c": ["x", "y"]}}));
    }

    #[test]
    fn duplicate_yaml_keys_are_refused() {
        let error = parse_yaml("a: 1\na: 2\n").unwrap_err();
        assert!(error.message.contains("duplicate"), "{}", error.message);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let error = parse_yaml("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(error.position.is_some());
        let error = parse_toml("a = \n").unwrap_err();
        assert_eq!(error.position.map(|p| p.line), Some(1));
    }
}
