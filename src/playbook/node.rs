//! A TOML value that remembers where it came from. Every later check (unknown keys, parameter
//! types, template syntax) points at the user's text through these spans.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A key of a TOML table and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Only in rendered parameters (a template can evaluate to none); TOML has no null.
    Null,
    String(String),
    Integer(i64),
    /// Only in rendered parameters: an integer beyond i64 (a `run.seed` is any u64), kept
    /// whole rather than rounded through a float.
    Unsigned(u64),
    Float(f64),
    Bool(bool),
    /// TOML datetimes are kept as their text: no step takes one, so they only need to be shown.
    Datetime(String),
    Array(Vec<Node>),
    Table(Vec<(Key, Node)>),
}

impl Value {
    /// The word used in "expected …, found …" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "none",
            Value::String(_) => "a string",
            Value::Integer(_) | Value::Unsigned(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

impl Node {
    pub fn table(span: Range<usize>, entries: Vec<(Key, Node)>) -> Self {
        Node {
            span,
            value: Value::Table(entries),
        }
    }

    /// The tree of a parsed TOML document, or where it has integers beyond 64 bits: the TOML
    /// spec requires an error for an integer that cannot be represented losslessly, and toml
    /// leaves that check to its caller.
    pub fn from_table(table: &Spanned<DeTable<'_>>) -> Result<Self, Vec<Range<usize>>> {
        let mut out_of_range = Vec::new();
        let entries = convert_table(table.get_ref(), &mut out_of_range);
        match out_of_range.is_empty() {
            true => Ok(Node::table(table.span(), entries)),
            false => Err(out_of_range),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_table(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_table()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// Whether any string in the tree is a template.
    pub fn has_template(&self) -> bool {
        self.strings()
            .iter()
            .any(|(s, _)| crate::template::is_template(s))
    }

    /// Every string in the tree with its span, in document order.
    pub fn strings(&self) -> Vec<(&str, Range<usize>)> {
        let mut out = Vec::new();
        self.collect_strings(&mut out);
        out
    }

    fn collect_strings<'a>(&'a self, out: &mut Vec<(&'a str, Range<usize>)>) {
        match &self.value {
            Value::String(s) => out.push((s, self.span.clone())),
            Value::Array(items) => items.iter().for_each(|n| n.collect_strings(out)),
            Value::Table(entries) => entries.iter().for_each(|(_, n)| n.collect_strings(out)),
            _ => {}
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::String(s) | Value::Datetime(s) => serde_json::Value::String(s.clone()),
            Value::Integer(i) => (*i).into(),
            Value::Unsigned(u) => (*u).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Bool(b) => (*b).into(),
            Value::Array(items) => items.iter().map(Node::to_json).collect(),
            Value::Table(entries) => entries
                .iter()
                .map(|(k, v)| (k.name.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

impl Node {
    /// A node for rendered JSON: no spans, since it was not written by the user as such.
    pub fn from_json(value: serde_json::Value) -> Node {
        let value = match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Integer(i),
                (None, Some(u)) => Value::Unsigned(u),
                (None, None) => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Node::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Table(
                map.into_iter()
                    .map(|(name, v)| (Key { name, span: 0..0 }, Node::from_json(v)))
                    .collect(),
            ),
        };
        Node { span: 0..0, value }
    }
}

/// Converts a table, adding to `out_of_range` the span of every integer beyond i64.
fn convert_table(table: &DeTable<'_>, out_of_range: &mut Vec<Range<usize>>) -> Vec<(Key, Node)> {
    let mut entries: Vec<(Key, Node)> = table
        .iter()
        .map(|(k, v)| {
            let key = Key {
                name: k.get_ref().to_string(),
                span: k.span(),
            };
            (key, convert(v, out_of_range))
        })
        .collect();
    // Tables assembled from `[a.b]` headers can list keys out of source order.
    entries.sort_by_key(|(k, _)| k.span.start);
    entries
}

fn convert(value: &Spanned<DeValue<'_>>, out_of_range: &mut Vec<Range<usize>>) -> Node {
    let span = value.span();
    let value = match value.get_ref() {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Integer(n),
            Err(_) => {
                out_of_range.push(span.clone());
                Value::Integer(0)
            }
        },
        DeValue::Float(f) => Value::Float(parse_float(f.as_str())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Datetime(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| convert(item, out_of_range))
                .collect(),
        ),
        DeValue::Table(t) => Value::Table(convert_table(t, out_of_range)),
    };
    Node { span, value }
}

fn parse_float(text: &str) -> f64 {
    match text.trim_start_matches('+') {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        t if t.ends_with("nan") => f64::NAN,
        t => t.replace('_', "").parse().unwrap_or(f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_spans_and_source_order() {
        let text = "b = 1\na = \"x\"\n[t]\nk = [1, 2.5, true]\n";
        let (table, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty());
        let node = Node::from_table(&table).unwrap();
        let names: Vec<_> = node
            .as_table()
            .unwrap()
            .iter()
            .map(|(k, _)| k.name.as_str())
            .collect();
        assert_eq!(names, ["b", "a", "t"]);
        let a = node.get("a").unwrap();
        assert_eq!(&text[a.span.clone()], "\"x\"");
        assert_eq!(
            node.get("t").unwrap().to_json(),
            serde_json::json!({"k": [1, 2.5, true]})
        );
    }

    #[test]
    fn integers_beyond_64_bits_are_errors_at_their_place() {
        let text = "a = [9223372036854775807, -9223372036854775808]\nb = [1, 9223372036854775808]\nc = 0x7fffffffffffffff\nd = 0xffffffffffffffff\n";
        let (table, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty());
        let spans = Node::from_table(&table).unwrap_err();
        let bad: Vec<&str> = spans.into_iter().map(|s| &text[s]).collect();
        assert_eq!(bad, ["9223372036854775808", "0xffffffffffffffff"]);
    }
}
