//! Filters and tests playbooks need beyond minijinja's own: base64, JSON and regular
//! expressions, named as Ansible names them (`b64encode`, `from_json`, `regex_replace`, `is
//! match`), since that is where people who write these expressions learned them.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};
use regex::{Regex, RegexBuilder};

/// Filters added to minijinja's.
pub const FILTERS: &[&str] = &[
    "b64encode",
    "b64decode",
    "from_json",
    "to_json",
    "regex_search",
    "regex_findall",
    "regex_replace",
];

/// Tests added to minijinja's.
pub const TESTS: &[&str] = &["match", "search"];

/// minijinja's own filters (with the `builtins` and `json` features), for did-you-mean.
pub const BUILTIN_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "zip",
];

/// minijinja's own tests (with the `builtins` feature), for did-you-mean.
pub const BUILTIN_TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Filters and tests whose first argument is a regular expression, checked at validation
/// when written literally.
pub const TAKE_A_PATTERN: &[&str] = &[
    "regex_search",
    "regex_findall",
    "regex_replace",
    "match",
    "search",
];

pub fn register(env: &mut Environment<'static>) {
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("from_json", from_json);
    env.add_filter("to_json", to_json);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_replace", regex_replace);
    env.add_test("match", is_match);
    env.add_test("search", is_search);
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Standard base64 (what etcd's JSON gateway and Kubernetes secrets use), padding optional
/// when decoding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `"etcd" | b64encode` is `"ZXRjZA=="`: the text's UTF-8 bytes, encoded.
fn b64encode(value: &str) -> String {
    BASE64.encode(value)
}

/// `"ZXRjZA==" | b64decode` is `"etcd"`; decoded bytes that are not UTF-8 text are an error.
fn b64decode(value: &str) -> Result<String, Error> {
    let bytes = BASE64
        .decode(value.trim())
        .map_err(|e| invalid(format!("b64decode: not base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: the decoded bytes are not UTF-8 text"))
}

/// `'{"a": [1]}' | from_json` is the table `{a: [1]}`.
fn from_json(value: &str) -> Result<Value, Error> {
    let parsed: serde_json::Value =
        serde_json::from_str(value).map_err(|e| invalid(format!("from_json: {e}")))?;
    Ok(Value::from(minijinja::value::Serde(parsed)))
}

/// The value as compact JSON text, or indented by `indent` spaces. Unlike minijinja's
/// `tojson`, meant for HTML, nothing is escaped beyond what JSON requires: the text goes into
/// request bodies and commands.
fn to_json(value: &Value, indent: Option<usize>) -> Result<String, Error> {
    let json = serde_json::to_value(value).map_err(|e| invalid(format!("to_json: {e}")))?;
    let text = match indent {
        None => serde_json::to_string(&json),
        Some(n) => {
            let indent = " ".repeat(n.min(16));
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            serde::Serialize::serialize(&json, &mut ser)
                .map(|()| String::from_utf8(out).unwrap_or_default())
        }
    };
    text.map_err(|e| invalid(format!("to_json: {e}")))
}

/// Largest compiled pattern: far beyond anything written by hand, and a bound on the memory
/// a pattern read from a step's output can take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles a pattern (Rust `regex` syntax: matching is linear in the text, so no pattern can
/// hang a run). Used at validation too, on patterns written literally.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            // regex draws its own caret over several lines; the diagnostic draws ours.
            regex::Error::Syntax(text) => {
                let last = text.lines().last().unwrap_or_default();
                last.trim_start_matches("error: ").to_string()
            }
            other => other.to_string(),
        })
}

fn regex(filter: &str, pattern: &str) -> Result<Regex, Error> {
    compile(pattern).map_err(|e| invalid(format!("{filter}: invalid regular expression: {e}")))
}

/// The first match of `pattern`, or of its capture group `group` (a number or a name); none
/// when nothing matches.
fn regex_search(value: &str, pattern: &str, group: Option<Value>) -> Result<Value, Error> {
    let re = regex("regex_search", pattern)?;
    let Some(captures) = re.captures(value) else {
        return Ok(Value::from(()));
    };
    let found = match &group {
        None => captures.get(0),
        Some(g) => match (g.as_usize(), g.as_str()) {
            (Some(i), _) => captures.get(i),
            (None, Some(name)) => captures.name(name),
            _ => return Err(invalid("regex_search: `group` is a number or a name")),
        },
    };
    Ok(found.map_or(Value::from(()), |m| Value::from(m.as_str())))
}

/// Every match of `pattern`, in order.
fn regex_findall(value: &str, pattern: &str) -> Result<Value, Error> {
    let re = regex("regex_findall", pattern)?;
    Ok(Value::from(
        re.find_iter(value)
            .map(|m| m.as_str().to_string())
            .collect::<Vec<_>>(),
    ))
}

/// Every match of `pattern` replaced by `replacement`, which reads capture groups as `$1` or
/// `${name}`.
fn regex_replace(value: &str, pattern: &str, replacement: &str) -> Result<String, Error> {
    let re = regex("regex_replace", pattern)?;
    Ok(re.replace_all(value, replacement).into_owned())
}

/// `value is match(pattern)`: the pattern matches at the start of the text (as Ansible's and
/// Python's `match`; add `$` to match all of it).
fn is_match(value: &str, pattern: &str) -> Result<bool, Error> {
    regex("match", pattern)?;
    Ok(regex("match", &format!(r"\A(?:{pattern})"))?.is_match(value))
}

/// `value is search(pattern)`: the pattern matches anywhere in the text.
fn is_search(value: &str, pattern: &str) -> Result<bool, Error> {
    Ok(regex("search", pattern)?.is_match(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::environment;

    fn eval(expr: &str) -> Result<serde_json::Value, String> {
        let env = environment();
        env.compile_expression(expr)
            .and_then(|e| e.eval(()))
            .map(|v| serde_json::to_value(v).unwrap())
            .map_err(|e| crate::template::error_message(&e))
    }

    #[test]
    fn every_name_offered_for_a_suggestion_exists() {
        let env = environment();
        let check = |what: &str, names: &[&str]| {
            for name in names {
                let known = env
                    .compile_expression(&format!("n is {what}"))
                    .and_then(|e| e.eval(minijinja::context! { n => *name }))
                    .unwrap();
                assert!(known.is_true(), "{what} {name}");
            }
        };
        check("filter", BUILTIN_FILTERS);
        check("filter", FILTERS);
        check("test", BUILTIN_TESTS);
        check("test", TESTS);
    }

    #[test]
    fn base64_round_trips_and_decodes_without_padding() {
        assert_eq!(eval("'etcd' | b64encode").unwrap(), "ZXRjZA==");
        assert_eq!(eval("'ZXRjZA==' | b64decode").unwrap(), "etcd");
        assert_eq!(eval("'ZXRjZA' | b64decode").unwrap(), "etcd");
        assert!(eval("'%%' | b64decode").unwrap_err().contains("not base64"));
        assert!(
            eval("'/w==' | b64decode")
                .unwrap_err()
                .contains("not UTF-8")
        );
    }

    #[test]
    fn json_parses_and_serialises() {
        assert_eq!(
            eval(r#"'{"a": [1, "x"]}' | from_json"#).unwrap(),
            serde_json::json!({"a": [1, "x"]})
        );
        assert_eq!(eval("{'a': '<b>'} | to_json").unwrap(), r#"{"a":"<b>"}"#);
        assert_eq!(eval("[1] | to_json(2)").unwrap(), "[\n  1\n]");
        assert!(
            eval("'{' | from_json")
                .unwrap_err()
                .contains("from_json: EOF")
        );
    }

    #[test]
    fn regular_expressions_search_find_replace_and_test() {
        assert_eq!(eval(r"'etcd12:2379' | regex_search('\\d+')").unwrap(), "12");
        assert_eq!(
            eval(r"'etcd12:2379' | regex_search('(?P<port>\\d+)$', 'port')").unwrap(),
            "2379"
        );
        assert_eq!(
            eval("'abc' | regex_search('x')").unwrap(),
            serde_json::Value::Null
        );
        assert_eq!(
            eval("'a1b22' | regex_findall('[0-9]+')").unwrap(),
            serde_json::json!(["1", "22"])
        );
        assert_eq!(
            eval("'etcd0,etcd1' | regex_replace('etcd(\\d)', 'm$1')").unwrap(),
            "m0,m1"
        );
        assert_eq!(eval("'etcd0' is match('etcd')").unwrap(), true);
        assert_eq!(eval("'xetcd0' is match('etcd')").unwrap(), false);
        assert_eq!(eval("'xetcd0' is search('etcd')").unwrap(), true);
        assert!(
            eval("'a' is match('(')")
                .unwrap_err()
                .contains("match: invalid regular expression: unclosed group")
        );
    }
}
