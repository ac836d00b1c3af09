//! YAML text to a small positioned tree, with anchors, aliases and merge keys resolved.
//!
//! `saphyr` parses (YAML 1.2, aliases expanded with a node budget against
//! "billion laughs" inputs, duplicate keys rejected). Scalars are kept as their
//! source text instead of being typed early, because compose semantics depend
//! on the key (`ports: 8080` is a port spec, `retries: 30` a number) and
//! values must be interpolated *before* they are typed (`retries: ${N:-3}`).
//! YAML 1.1 merge keys (`<<`), which YAML 1.2 parsers do not apply, are
//! resolved here.

use std::collections::HashSet;
use std::path::Path;

use saphyr::{AnnotatedMappingOwned, MarkedYamlOwned, ScalarStyle, YamlDataOwned, YamlLoader};
use saphyr_parser::{Marker, Parser, Tag};

use super::error::{ComposeError, ComposeErrorKind, Location};

/// A YAML node and where it starts in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    pub loc: Location,
}

/// The shape of a node; scalars keep their text, untyped.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `~`, `null`, or nothing at all (`key:`).
    Null,
    Scalar(String),
    Seq(Vec<Node>),
    /// Entries in file order, merge keys already applied.
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_loc: Location,
    pub value: Node,
}

impl Value {
    /// A noun for "expected X, found Y" messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Scalar(_) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

fn location(marker: Marker) -> Location {
    Location {
        line: marker.line(),
        column: marker.col() + 1,
    }
}

/// Parses a single-document YAML file into a [`Node`] tree.
pub(crate) fn parse(source: &str, path: &Path) -> Result<Node, ComposeError> {
    let syntax = |marker: Marker, message: String| {
        ComposeError::new(
            path,
            Some(location(marker)),
            ComposeErrorKind::Syntax(message),
        )
    };
    let mut parser = Parser::new_from_str(source);
    let mut loader = YamlLoader::<MarkedYamlOwned>::default();
    loader.early_parse(false);
    parser
        .load(&mut loader, true)
        .map_err(|e| syntax(*e.marker(), e.info().to_owned()))?;
    if let Some(e) = loader.error() {
        return Err(syntax(*e.marker(), e.info().to_owned()));
    }
    let mut docs = loader.into_documents();
    if docs.len() > 1 {
        return Err(syntax(
            docs[1].span.start,
            "expected a single yaml document, found several".to_owned(),
        ));
    }
    match docs.pop() {
        Some(doc) => convert(doc, path),
        None => Ok(Node {
            value: Value::Null,
            loc: Location { line: 1, column: 1 },
        }),
    }
}

fn convert(node: MarkedYamlOwned, path: &Path) -> Result<Node, ComposeError> {
    let loc = location(node.span.start);
    let invalid =
        |message: String| ComposeError::new(path, Some(loc), ComposeErrorKind::Syntax(message));
    let value = match node.data {
        YamlDataOwned::Representation(text, style, tag) => {
            scalar(text, style, tag.as_ref()).map_err(invalid)?
        }
        YamlDataOwned::Sequence(items) => Value::Seq(
            items
                .into_iter()
                .map(|item| convert(item, path))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Mapping(map) => Value::Map(mapping(map, path)?),
        YamlDataOwned::Tagged(tag, _) => {
            return Err(invalid(format!("unsupported yaml tag \"{tag}\"")));
        }
        // `Value` (typed scalars) is not produced with `early_parse(false)`, and
        // the loader resolves aliases or fails; anything else is a parser bug.
        YamlDataOwned::Value(_) | YamlDataOwned::Alias(_) | YamlDataOwned::BadValue => {
            return Err(invalid("invalid or unresolved yaml node".to_owned()));
        }
    };
    Ok(Node { value, loc })
}

/// Interprets a scalar's text: plain `null`-like text is null, core-schema
/// tags are accepted, and any other tag (like compose v2's `!reset`) is refused.
fn scalar(text: String, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        if !tag.is_yaml_core_schema() {
            return Err(format!("unsupported yaml tag \"{tag}\""));
        }
        return Ok(if tag.suffix == "null" {
            Value::Null
        } else {
            Value::Scalar(text)
        });
    }
    let is_null = matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL");
    Ok(if style == ScalarStyle::Plain && is_null {
        Value::Null
    } else {
        Value::Scalar(text)
    })
}

/// A converted mapping entry before merge keys are applied.
enum Item {
    Explicit(Entry),
    /// The mappings named by one `<<` key, highest priority first.
    Merge(Vec<Vec<Entry>>),
}

/// Converts a mapping and applies merge keys as the YAML 1.1 merge spec says:
/// explicit keys always win, and among merged mappings the earlier one wins.
/// Merged entries take the position of the `<<` key so file order stays intuitive.
fn mapping(
    map: AnnotatedMappingOwned<MarkedYamlOwned>,
    path: &Path,
) -> Result<Vec<Entry>, ComposeError> {
    let mut items = Vec::with_capacity(map.len());
    for (key_node, value_node) in map {
        let key_loc = location(key_node.span.start);
        let key_error = |message: &str| {
            ComposeError::new(
                path,
                Some(key_loc),
                ComposeErrorKind::Syntax(message.to_owned()),
            )
        };
        let (key, is_merge) = match key_node.data {
            YamlDataOwned::Representation(text, style, tag) => {
                let merge = text == "<<"
                    && style == ScalarStyle::Plain
                    && tag.as_ref().is_none_or(|t| t.suffix == "merge");
                (text, merge)
            }
            _ => return Err(key_error("mapping keys must be plain strings")),
        };
        let value = convert(value_node, path)?;
        if is_merge {
            items.push(Item::Merge(merge_sources(value, key_loc, path)?));
        } else {
            items.push(Item::Explicit(Entry {
                key,
                key_loc,
                value,
            }));
        }
    }
    // saphyr compares keys with their quoting style, so `a` and `"a"` get here
    // as two keys; they are the same key to us.
    let mut seen = HashSet::new();
    for item in &items {
        let Item::Explicit(entry) = item else {
            continue;
        };
        if !seen.insert(entry.key.clone()) {
            return Err(ComposeError::new(
                path,
                Some(entry.key_loc),
                ComposeErrorKind::Syntax(format!("duplicated key \"{}\" in mapping", entry.key)),
            ));
        }
    }
    let mut entries = Vec::new();
    for item in items {
        match item {
            Item::Explicit(entry) => entries.push(entry),
            Item::Merge(sources) => {
                for entry in sources.into_iter().flatten() {
                    if seen.insert(entry.key.clone()) {
                        entries.push(entry);
                    }
                }
            }
        }
    }
    Ok(entries)
}

/// The value of a `<<` key: one mapping or a list of mappings.
///
/// Errors point at the `<<` key: an aliased value's own position would be the
/// anchor's, which is not where the mistake is.
fn merge_sources(
    value: Node,
    key_loc: Location,
    path: &Path,
) -> Result<Vec<Vec<Entry>>, ComposeError> {
    let not_a_mapping = || {
        ComposeError::new(
            path,
            Some(key_loc),
            ComposeErrorKind::Syntax(
                "merge key \"<<\" needs a mapping or a list of mappings".to_owned(),
            ),
        )
    };
    match value.value {
        Value::Map(entries) => Ok(vec![entries]),
        Value::Seq(items) => items
            .into_iter()
            .map(|item| match item.value {
                Value::Map(entries) => Ok(entries),
                _ => Err(not_a_mapping()),
            })
            .collect(),
        _ => Err(not_a_mapping()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &str) -> Node {
        parse(src, Path::new("test.yaml")).unwrap()
    }

    fn parse_err(src: &str) -> String {
        parse(src, Path::new("test.yaml")).unwrap_err().to_string()
    }

    /// Renders a tree compactly so tests can compare whole structures.
    fn show(node: &Node) -> String {
        match &node.value {
            Value::Null => "~".to_owned(),
            Value::Scalar(s) => s.clone(),
            Value::Seq(items) => format!(
                "[{}]",
                items.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            Value::Map(entries) => format!(
                "{{{}}}",
                entries
                    .iter()
                    .map(|e| format!("{}: {}", e.key, show(&e.value)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    #[test]
    fn scalars_keep_their_text() {
        let node = parse_ok("a: 010\nb: 1.10\nc: yes\nd: '~'\ne: \"\"\nf:\ng: ~\nh: !!str 5\n");
        assert_eq!(
            show(&node),
            "{a: 010, b: 1.10, c: yes, d: ~, e: , f: ~, g: ~, h: 5}"
        );
        let Value::Map(entries) = &node.value else {
            panic!()
        };
        assert_eq!(entries[3].value.value, Value::Scalar("~".into()));
        assert_eq!(entries[5].value.value, Value::Null);
    }

    #[test]
    fn positions_are_one_based() {
        let node = parse_ok("services:\n  db:\n    image: x\n");
        let Value::Map(top) = &node.value else {
            panic!()
        };
        let Value::Map(services) = &top[0].value.value else {
            panic!()
        };
        assert_eq!(services[0].key_loc, Location { line: 2, column: 3 });
        let Value::Map(db) = &services[0].value.value else {
            panic!()
        };
        assert_eq!(
            db[0].value.loc,
            Location {
                line: 3,
                column: 12
            }
        );
    }

    #[test]
    fn anchors_and_aliases() {
        let node = parse_ok("a: &x [1, 2]\nb: *x\nc: &s hello\nd: *s\n");
        assert_eq!(show(&node), "{a: [1, 2], b: [1, 2], c: hello, d: hello}");
    }

    #[test]
    fn merge_key_explicit_keys_win() {
        let node = parse_ok("base: &b {image: a, restart: always}\nsvc:\n  image: b\n  <<: *b\n");
        assert_eq!(
            show(&node),
            "{base: {image: a, restart: always}, svc: {image: b, restart: always}}"
        );
    }

    #[test]
    fn merge_key_list_earlier_wins() {
        let src = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  w: 0\n";
        assert_eq!(
            show(&parse_ok(src)).split("c: ").nth(1).unwrap(),
            "{x: 1, y: 1, z: 2, w: 0}}"
        );
    }

    #[test]
    fn merge_is_shallow_and_nested_merges_resolve() {
        let src = "\
a: &a {env: {A: 1}, k: a}
b: &b
  <<: *a
  k: b
c:
  <<: *b
  env: {B: 2}
";
        let node = parse_ok(src);
        let Value::Map(top) = &node.value else {
            panic!()
        };
        // `c` takes `k` from `b` (which overrode `a`'s) but not `env`: merging is shallow.
        assert_eq!(show(&top[2].value), "{k: b, env: {B: 2}}");
    }

    #[test]
    fn quoted_merge_key_is_a_plain_key() {
        let node = parse_ok("a: {'<<': 1}\n");
        assert_eq!(show(&node), "{a: {<<: 1}}");
    }

    #[test]
    fn merge_of_non_mapping_is_an_error() {
        let err = parse_err("a: &a [1]\nb:\n  <<: *a\n");
        assert!(err.contains("merge key \"<<\" needs a mapping"), "{err}");
        assert!(err.starts_with("test.yaml:3:3:"), "{err}");
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let err = parse_err("services:\n  db:\n    image: [a\n");
        assert!(err.starts_with("test.yaml:4:1: invalid yaml:"), "{err}");
        let err = parse_err("a: b: c\n");
        assert!(err.starts_with("test.yaml:1:5: invalid yaml: "), "{err}");
    }

    #[test]
    fn unknown_alias_is_a_syntax_error() {
        let err = parse_err("a: *nope\n");
        assert!(err.contains("invalid yaml"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = parse_err("a: 1\na: 2\n");
        assert!(err.contains("duplicated key"), "{err}");
        let err = parse_err("a: 1\n\"a\": 2\n");
        assert_eq!(
            err,
            "test.yaml:2:1: invalid yaml: duplicated key \"a\" in mapping"
        );
    }

    #[test]
    fn custom_tags_are_rejected() {
        assert!(parse_err("a: !reset []\n").contains("unsupported yaml tag"));
        assert!(parse_err("a: !reset x\n").contains("unsupported yaml tag"));
    }

    #[test]
    fn several_documents_are_rejected() {
        assert!(parse_err("a: 1\n---\nb: 2\n").contains("single yaml document"));
    }

    #[test]
    fn empty_document_is_null() {
        assert_eq!(parse_ok("").value, Value::Null);
        assert_eq!(parse_ok("# only a comment\n").value, Value::Null);
    }
}
