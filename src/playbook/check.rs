//! Checks a step's `with` table against that step's typed parameters before anything runs.
//!
//! This is a serde `Deserializer` over the spanned [`Node`] tree, so a type error points at the
//! exact value the user wrote. Strings holding a template (`"{{ vars.n }}"`) can only be typed
//! once rendered, so here they stand in for any type; the real check happens again on the
//! rendered value right before the step runs.

use std::fmt;
use std::ops::Range;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

use super::node::{Key, Node, Value};
use crate::template::is_template;

use crate::duration::PLACEHOLDER_NEWTYPE;
const DURATION_PLACEHOLDER: &str = "1s";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CheckError {}

impl de::Error for CheckError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CheckError {
            message: msg.to_string(),
            span: None,
        }
    }

    /// serde names the Rust type (`expected u32`); a playbook author needs the range.
    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        let expected = expected.to_string();
        let range = match expected.as_str() {
            "u8" => "a whole number from 0 to 255".to_string(),
            "u16" => "a whole number from 0 to 65535".to_string(),
            "u32" => "a whole number from 0 to 4294967295".to_string(),
            "u64" | "usize" => "a whole number, 0 or more".to_string(),
            _ => expected,
        };
        de::Error::custom(format_args!(
            "invalid value: {unexpected}, expected {range}"
        ))
    }
}

impl CheckError {
    fn at(mut self, span: &Range<usize>) -> Self {
        self.span.get_or_insert_with(|| span.clone());
        self
    }
}

/// What a value being checked is, which decides what stands in for what.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A step's `with` as written: templates stand in for any value, and a string parameter
    /// takes the text of a number or boolean (`argv = ["sleep", 5]`).
    Parameters,
    /// The playbook's own keys as written (`[scenario] name`, `retry`): never rendered, so a
    /// template is just text, and a string must be a string: `name = 5` is a mistake. (A step's
    /// `timeout`, `interval` and `stable_for` take templates: the loader handles those.)
    Playbook,
    /// Rendered parameters (run time): a template is just text.
    Rendered,
}

/// Deserializes step parameters `T` from `node`, accepting templates in place of any value
/// (validation).
pub fn check<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, CheckError> {
    deserialize(node, Mode::Parameters)
}

/// Deserializes one of the playbook's own keys from `node`: a template is text, and only a
/// string is a string.
pub fn check_key<'de, T: de::Deserialize<'de>>(node: &'de Node) -> Result<T, CheckError> {
    deserialize(node, Mode::Playbook)
}

fn deserialize<'de, T: de::Deserialize<'de>>(node: &'de Node, mode: Mode) -> Result<T, CheckError> {
    T::deserialize(NodeDe { node, mode }).map_err(|e| e.at(&node.span))
}

/// Deserializes `T` from rendered parameters, where a template is just text (run time).
pub fn convert<T: de::DeserializeOwned>(value: serde_json::Value) -> Result<T, CheckError> {
    let node = Node::from_json(value);
    T::deserialize(NodeDe {
        node: &node,
        mode: Mode::Rendered,
    })
}

/// A node being deserialized, and what it is.
#[derive(Clone, Copy)]
struct NodeDe<'de> {
    node: &'de Node,
    mode: Mode,
}

impl NodeDe<'_> {
    /// Whether the node is a template standing in for any value.
    fn template(&self) -> bool {
        self.mode == Mode::Parameters
            && matches!(&self.node.value, Value::String(s) if is_template(s))
    }
}

fn type_error(de: NodeDe<'_>, expected: &str) -> CheckError {
    let found = match &de.node.value {
        // Where templates stand in for values, a mismatch is never one; elsewhere a template
        // is text, which its author may not expect.
        Value::String(s) if de.mode == Mode::Playbook && is_template(s) => {
            "a template (templates are not rendered here)"
        }
        other => other.type_name(),
    };
    CheckError {
        message: format!("expected {expected}, found {found}"),
        span: Some(de.node.span.clone()),
    }
}

/// Every integer width checks like i64; the visitor then reports values out of its range.
macro_rules! integers_as_i64 {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
            self.deserialize_i64(visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = CheckError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        let result = match &self.node.value {
            Value::String(s) | Value::Datetime(s) => visitor.visit_str(s),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Unsigned(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Null => visitor.visit_unit(),
            Value::Array(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                mode: self.mode,
            }),
            Value::Table(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                value: None,
                mode: self.mode,
            }),
        };
        result.map_err(|e| e.at(&self.node.span))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::String(_) if self.template() => visitor.visit_bool(false),
            _ => Err(type_error(self, "a boolean")),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::Integer(i) => visitor
                .visit_i64(*i)
                .map_err(|e: CheckError| e.at(&self.node.span)),
            Value::Unsigned(u) => visitor
                .visit_u64(*u)
                .map_err(|e: CheckError| e.at(&self.node.span)),
            Value::String(_) if self.template() => visitor.visit_u64(0),
            _ => Err(type_error(self, "an integer")),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        self.deserialize_i64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Integer(i) => visitor.visit_i64(*i),
            Value::Unsigned(u) => visitor.visit_u64(*u),
            Value::String(_) if self.template() => visitor.visit_f64(0.0),
            _ => Err(type_error(self, "a number")),
        }
        .map_err(|e| e.at(&self.node.span))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::String(s) => visitor
                .visit_str(s)
                .map_err(|e: CheckError| e.at(&self.node.span)),
            // A string parameter takes the text of a scalar, so a rendered
            // `"{{ vars.port }}"` (an integer) still fits `argv`.
            _ if self.mode == Mode::Playbook => Err(type_error(self, "a string")),
            Value::Integer(i) => visitor.visit_string(i.to_string()),
            Value::Unsigned(u) => visitor.visit_string(u.to_string()),
            Value::Float(f) => visitor.visit_string(f.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            _ => Err(type_error(self, "a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::Array(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                mode: self.mode,
            }),
            Value::String(_) if self.template() => visitor.visit_seq(Seq {
                items: [].iter(),
                mode: self.mode,
            }),
            _ => Err(type_error(self, "an array")),
        }
        .map_err(|e| e.at(&self.node.span))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::Table(entries) => visitor.visit_map(Map {
                entries: entries.iter(),
                value: None,
                mode: self.mode,
            }),
            Value::String(_) if self.template() => visitor.visit_map(Map {
                entries: [].iter(),
                value: None,
                mode: self.mode,
            }),
            _ => Err(type_error(self, "a table")),
        }
        .map_err(|e| e.at(&self.node.span))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::Table(entries) => visitor
                .visit_map(Map {
                    entries: entries.iter(),
                    value: None,
                    mode: self.mode,
                })
                .map_err(|e| e.at(&self.node.span)),
            // Every field then takes its default; a missing required field is still reported.
            Value::String(_) if self.template() => visitor
                .visit_map(Map {
                    entries: [].iter(),
                    value: None,
                    mode: self.mode,
                })
                .map_err(|e| e.at(&self.node.span)),
            _ => Err(type_error(self, "a table")),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::String(_) if name == PLACEHOLDER_NEWTYPE && self.template() => visitor
                .visit_newtype_struct(DURATION_PLACEHOLDER.into_deserializer())
                .map_err(|e: CheckError| e.at(&self.node.span)),
            // Said outright: parsed, the template would only be "not a duration".
            Value::String(s)
                if name == PLACEHOLDER_NEWTYPE && self.mode == Mode::Playbook && is_template(s) =>
            {
                Err(type_error(self, "a duration such as \"30s\""))
            }
            // A duration parses the text of a number too, to say the unit is missing
            // (`timeout = 30`) rather than only that it is not a string.
            _ if name == PLACEHOLDER_NEWTYPE && self.mode == Mode::Playbook => visitor
                .visit_newtype_struct(NodeDe {
                    mode: Mode::Parameters,
                    ..self
                }),
            _ => visitor.visit_newtype_struct(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, CheckError> {
        match &self.node.value {
            Value::String(_) if self.template() => {
                let first = variants.first().copied().unwrap_or_default();
                visitor.visit_enum(first.into_deserializer())
            }
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(type_error(self, "a string")),
        }
        .map_err(|e| e.at(&self.node.span))
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, CheckError> {
        self.deserialize_f64(visitor)
    }

    integers_as_i64!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u128);

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct tuple tuple_struct identifier ignored_any
    }
}

struct Seq<'de> {
    items: std::slice::Iter<'de, Node>,
    mode: Mode,
}

impl<'de> de::SeqAccess<'de> for Seq<'de> {
    type Error = CheckError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, CheckError> {
        match self.items.next() {
            Some(node) => seed
                .deserialize(NodeDe {
                    node,
                    mode: self.mode,
                })
                .map(Some)
                .map_err(|e| e.at(&node.span)),
            None => Ok(None),
        }
    }
}

struct Map<'de> {
    entries: std::slice::Iter<'de, (Key, Node)>,
    value: Option<&'de Node>,
    mode: Mode,
}

impl<'de> de::MapAccess<'de> for Map<'de> {
    type Error = CheckError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, CheckError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(key.name.as_str().into_deserializer())
                    .map(Some)
                    .map_err(|e: CheckError| e.at(&key.span))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, CheckError> {
        let node = self
            .value
            .take()
            .expect("serde asks for a value only after a key");
        seed.deserialize(NodeDe {
            node,
            mode: self.mode,
        })
        .map_err(|e| e.at(&node.span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use toml::de::DeTable;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct P {
        count: u32,
        flag: Option<bool>,
        names: Vec<String>,
        #[serde(default)]
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {}

    fn node(text: &str) -> (Node, String) {
        let (t, errors) = DeTable::parse_recoverable(text);
        assert!(errors.is_empty(), "{errors:?}");
        (Node::from_table(&t).unwrap(), text.to_string())
    }

    fn error_at(text: &str) -> (String, String) {
        let (n, text) = node(text);
        let e = check::<P>(&n).unwrap_err();
        (e.message, text[e.span.unwrap()].to_string())
    }

    /// A rendered `{{ run.seed }}` is any u64: beyond i64 it once went through an f64 and
    /// lost its last digits (…551557 became …552000).
    #[test]
    fn rendered_integers_beyond_i64_stay_whole() {
        let seed = 18_446_744_073_709_551_557_u64;
        assert_eq!(
            convert::<String>(seed.into()).unwrap(),
            "18446744073709551557"
        );
        assert_eq!(convert::<u64>(seed.into()).unwrap(), seed);
        assert_eq!(
            convert::<serde_json::Value>(seed.into()).unwrap(),
            serde_json::json!(seed)
        );
        assert_eq!(
            Node::from_json(seed.into()).to_json(),
            serde_json::json!(seed)
        );
    }

    #[test]
    fn templates_stand_in_for_any_type() {
        let (n, _) = node(
            "count = \"{{ vars.n }}\"\nflag = \"{{ x }}\"\nnames = \"{{ y }}\"\ninner = \"{{ z }}\"",
        );
        check::<P>(&n).unwrap();
    }

    #[test]
    fn type_errors_point_at_the_value() {
        assert_eq!(
            error_at("count = \"three\"\nnames = []"),
            (
                "expected an integer, found a string".into(),
                "\"three\"".into()
            )
        );
        assert_eq!(
            error_at("count = 1\nnames = [\"a\", [2]]"),
            ("expected a string, found an array".into(), "[2]".into())
        );
    }

    #[test]
    fn only_parameters_take_the_text_of_a_number_for_a_string() {
        let (n, _) = node("count = 1\nnames = [5, true]");
        check::<P>(&n).unwrap();
        let e = check_key::<P>(&n).unwrap_err();
        assert_eq!(e.message, "expected a string, found an integer");
        let e = check_key::<crate::duration::Duration>(&node("t = 30").0.as_table().unwrap()[0].1);
        assert!(e.unwrap_err().message.contains("time unit needed"));
    }

    #[test]
    fn unknown_keys_point_at_the_key() {
        let (msg, at) = error_at("count = 1\nnames = []\ncuont = 2");
        assert!(msg.starts_with("unknown field `cuont`"), "{msg}");
        assert_eq!(at, "cuont");
    }

    #[test]
    fn out_of_range_points_at_the_value() {
        let (msg, at) = error_at("count = -1\nnames = []");
        assert!(msg.contains("invalid value"), "{msg}");
        assert_eq!(at, "-1");
    }
}
