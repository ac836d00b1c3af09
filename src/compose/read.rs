//! Typed access to [`Node`]s: interpolation, type checks, and errors that say
//! where (file, line:col, service and key) a value is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use super::error::{ComposeError, ComposeErrorKind};
use super::interpolate::{InterpolationError, interpolate};
use super::values;
use super::yaml::{Entry, Node, Value};

/// A key, its optional value, and the node they were read from.
pub(crate) type KeyValue<'n> = (String, Option<String>, &'n Node);

/// Where a value sits in the compose model, e.g. service `db`, key `ports[1]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// `service "db"`, `network "n"`, `volume "v"`, or empty at the top level.
    owner: String,
    /// Dotted key path below the owner, e.g. `healthcheck.interval`.
    key: String,
}

impl Scope {
    pub fn owner(kind: &str, name: &str) -> Self {
        Self {
            owner: format!("{kind} \"{name}\""),
            key: String::new(),
        }
    }

    /// The scope of `key` under this one.
    pub fn key(&self, key: &str) -> Self {
        let key = if self.key.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.key)
        };
        Self {
            owner: self.owner.clone(),
            key,
        }
    }

    /// The scope of item `index` of a list.
    pub fn index(&self, index: usize) -> Self {
        Self {
            owner: self.owner.clone(),
            key: format!("{}[{index}]", self.key),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.owner.is_empty(), self.key.is_empty()) {
            (false, false) => write!(f, "{}, key \"{}\"", self.owner, self.key),
            (false, true) => f.write_str(&self.owner),
            (true, false) => write!(f, "key \"{}\"", self.key),
            (true, true) => Ok(()),
        }
    }
}

/// Reads values out of the tree of one file.
pub(crate) struct Reader<'a> {
    pub file: &'a Path,
    pub vars: &'a BTreeMap<String, String>,
    /// Warnings for the user, in the order they were found.
    pub warnings: Vec<String>,
    /// Variables already warned about, so each is reported once.
    warned: BTreeSet<String>,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a Path, vars: &'a BTreeMap<String, String>) -> Self {
        Self {
            file,
            vars,
            warnings: Vec::new(),
            warned: BTreeSet::new(),
        }
    }

    /// An [`ComposeErrorKind::Invalid`] at `node`.
    pub fn invalid(&self, node: &Node, scope: &Scope, message: impl fmt::Display) -> ComposeError {
        ComposeError::new(
            self.file,
            Some(node.loc),
            ComposeErrorKind::Invalid {
                scope: scope.to_string(),
                message: message.to_string(),
            },
        )
    }

    /// An [`ComposeErrorKind::UnsupportedKey`] for `entry`, suggesting the closest of
    /// `supported` when the key looks like a typo of it: one edit away (two for
    /// long keys), so unrelated keys (`internal` vs `external`) don't get a
    /// misleading suggestion.
    pub fn unsupported(&self, entry: &Entry, scope: &Scope, supported: &[&str]) -> ComposeError {
        let closest = supported
            .iter()
            .map(|s| (strsim::damerau_levenshtein(s, &entry.key), s))
            .min_by_key(|(distance, _)| *distance)
            .filter(|(distance, _)| {
                let allowed = if entry.key.chars().count() >= 10 {
                    2
                } else {
                    1
                };
                *distance <= allowed
            })
            .map(|(_, s)| format!("did you mean \"{s}\"?"));
        self.unsupported_with(entry, scope, closest)
    }

    /// Like [`Reader::unsupported`] with a fixed hint.
    pub fn unsupported_with(
        &self,
        entry: &Entry,
        scope: &Scope,
        hint: Option<String>,
    ) -> ComposeError {
        ComposeError::new(
            self.file,
            Some(entry.key_loc),
            ComposeErrorKind::UnsupportedKey {
                owner: scope.owner.clone(),
                key: scope.key(&entry.key).key,
                hint,
            },
        )
    }

    /// A scalar's interpolated text. Null is refused: use [`Reader::opt_string`].
    pub fn string(&mut self, node: &Node, scope: &Scope) -> Result<String, ComposeError> {
        match &node.value {
            Value::Scalar(text) => self.interpolate(text, node, scope),
            other => Err(self.invalid(
                node,
                scope,
                format!("expected a string, found {}", other.kind_name()),
            )),
        }
    }

    /// Like [`Reader::string`] but null gives `None`.
    pub fn opt_string(
        &mut self,
        node: &Node,
        scope: &Scope,
    ) -> Result<Option<String>, ComposeError> {
        match node.value {
            Value::Null => Ok(None),
            _ => self.string(node, scope).map(Some),
        }
    }

    /// Interpolates `text`; errors and warnings name `scope`.
    pub fn interpolate(
        &mut self,
        text: &str,
        node: &Node,
        scope: &Scope,
    ) -> Result<String, ComposeError> {
        let mut unset = Vec::new();
        let result = interpolate(text, self.vars, &mut unset).map_err(|e| match e {
            InterpolationError::Missing { name, message } => ComposeError::new(
                self.file,
                Some(node.loc),
                ComposeErrorKind::MissingVariable {
                    scope: scope.to_string(),
                    name,
                    message,
                },
            ),
            InterpolationError::Invalid(message) => self.invalid(node, scope, message),
        })?;
        for name in unset {
            if self.warned.insert(name.clone()) {
                self.warnings.push(format!(
                    "{}:{}: variable \"{name}\" is not set, using an empty string ({scope})",
                    self.file.display(),
                    node.loc
                ));
            }
        }
        Ok(result)
    }

    /// A boolean: `true`/`false` (also YAML 1.1's `yes`/`no`/`on`/`off`), any case.
    pub fn bool(&mut self, node: &Node, scope: &Scope) -> Result<bool, ComposeError> {
        let text = self.string(node, scope)?;
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            _ => Err(self.invalid(
                node,
                scope,
                format!("expected true or false, found \"{text}\""),
            )),
        }
    }

    /// A number of type `T`.
    pub fn number<T: FromStr>(&mut self, node: &Node, scope: &Scope) -> Result<T, ComposeError> {
        let text = self.string(node, scope)?;
        text.parse()
            .map_err(|_| self.invalid(node, scope, format!("expected a number, found \"{text}\"")))
    }

    /// A compose duration such as `1m30s`.
    pub fn duration(&mut self, node: &Node, scope: &Scope) -> Result<Duration, ComposeError> {
        let text = self.string(node, scope)?;
        values::duration(&text).map_err(|e| self.invalid(node, scope, e))
    }

    /// The items of a list; null is an empty list.
    pub fn list<'n>(&self, node: &'n Node, scope: &Scope) -> Result<&'n [Node], ComposeError> {
        match &node.value {
            Value::Seq(items) => Ok(items),
            Value::Null => Ok(&[]),
            other => Err(self.invalid(
                node,
                scope,
                format!("expected a list, found {}", other.kind_name()),
            )),
        }
    }

    /// The entries of a mapping; null is an empty mapping.
    pub fn map<'n>(&self, node: &'n Node, scope: &Scope) -> Result<&'n [Entry], ComposeError> {
        match &node.value {
            Value::Map(entries) => Ok(entries),
            Value::Null => Ok(&[]),
            other => Err(self.invalid(
                node,
                scope,
                format!("expected a mapping, found {}", other.kind_name()),
            )),
        }
    }

    /// A list of strings.
    pub fn strings(&mut self, node: &Node, scope: &Scope) -> Result<Vec<String>, ComposeError> {
        self.list(node, scope)?
            .iter()
            .enumerate()
            .map(|(i, item)| self.string(item, &scope.index(i)))
            .collect()
    }

    /// The items of a value that may be one item or a list of them (as
    /// `tmpfs` and `env_file` allow), each with its own scope for errors.
    pub fn one_or_many<'n>(&self, node: &'n Node, scope: &Scope) -> Vec<(&'n Node, Scope)> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (item, scope.index(i)))
                .collect(),
            _ => vec![(node, scope.clone())],
        }
    }

    /// A mapping or a list of `KEY<sep>VALUE` strings, as `environment`,
    /// `labels` and `extra_hosts` allow. A value is `None` when the mapping
    /// value is null or the list item has no separator. Each pair comes with
    /// the node it was read from, for errors about it.
    pub fn key_values<'n>(
        &mut self,
        node: &'n Node,
        scope: &Scope,
        separators: &[char],
    ) -> Result<Vec<KeyValue<'n>>, ComposeError> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let text = self.string(item, &scope.index(i))?;
                    Ok(match text.split_once(separators) {
                        Some((k, v)) => (k.to_owned(), Some(v.to_owned()), item),
                        None => (text, None, item),
                    })
                })
                .collect(),
            _ => self
                .map(node, scope)?
                .iter()
                .map(|entry| {
                    let value = self.opt_string(&entry.value, &scope.key(&entry.key))?;
                    Ok((entry.key.clone(), value, &entry.value))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::yaml::parse;

    fn with_reader<T>(vars: &[(&str, &str)], f: impl FnOnce(&mut Reader) -> T) -> T {
        let vars: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut reader = Reader::new(Path::new("c.yaml"), &vars);
        f(&mut reader)
    }

    fn node(src: &str) -> Node {
        parse(src, Path::new("c.yaml")).unwrap()
    }

    #[test]
    fn scope_rendering() {
        let svc = Scope::owner("service", "db");
        assert_eq!(svc.to_string(), "service \"db\"");
        assert_eq!(
            svc.key("healthcheck").key("interval").to_string(),
            "service \"db\", key \"healthcheck.interval\""
        );
        assert_eq!(
            svc.key("ports").index(2).to_string(),
            "service \"db\", key \"ports[2]\""
        );
        assert_eq!(Scope::default().key("name").to_string(), "key \"name\"");
    }

    #[test]
    fn strings_are_interpolated_and_unset_vars_warned_once() {
        with_reader(&[("A", "1")], |r| {
            let scope = Scope::owner("service", "s").key("image");
            assert_eq!(r.string(&node("x${A}${B}"), &scope).unwrap(), "x1");
            assert_eq!(r.string(&node("${B}"), &scope).unwrap(), "");
            assert_eq!(r.warnings.len(), 1);
            assert_eq!(
                r.warnings[0],
                "c.yaml:1:1: variable \"B\" is not set, using an empty string \
                 (service \"s\", key \"image\")"
            );
        });
    }

    #[test]
    fn missing_required_variable_names_variable_message_and_place() {
        with_reader(&[], |r| {
            let scope = Scope::owner("service", "db")
                .key("environment")
                .key("PASSWORD");
            let err = r
                .string(&node("\n  ${DB_PASS:?set a password}"), &scope)
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                "c.yaml:2:3: service \"db\", key \"environment.PASSWORD\": required variable \
                 \"DB_PASS\" is missing a value: set a password"
            );
            assert!(
                matches!(err.kind(), ComposeErrorKind::MissingVariable { name, .. } if name == "DB_PASS")
            );
        });
    }

    #[test]
    fn typed_values() {
        with_reader(&[("N", "3"), ("ON", "True")], |r| {
            let s = Scope::default();
            assert_eq!(r.number::<u32>(&node("${N}"), &s).unwrap(), 3);
            assert!(r.number::<u32>(&node("x"), &s).is_err());
            assert!(r.bool(&node("${ON}"), &s).unwrap());
            assert!(!r.bool(&node("no"), &s).unwrap());
            assert!(r.bool(&node("maybe"), &s).is_err());
            assert_eq!(
                r.duration(&node("1m"), &s).unwrap(),
                Duration::from_secs(60)
            );
            let err = r.string(&node("[a]"), &s).unwrap_err().to_string();
            assert!(err.ends_with("expected a string, found a list"), "{err}");
            assert_eq!(r.opt_string(&node("~"), &s).unwrap(), None);
        });
    }

    #[test]
    fn key_value_forms() {
        with_reader(&[], |r| {
            let s = Scope::default();
            let list_node = node("[A=1, B, C=x=y]");
            let list: Vec<_> = r
                .key_values(&list_node, &s, &['='])
                .unwrap()
                .into_iter()
                .map(|(k, v, _)| (k, v))
                .collect();
            assert_eq!(
                list,
                [
                    ("A".into(), Some("1".into())),
                    ("B".into(), None),
                    ("C".into(), Some("x=y".into()))
                ]
            );
            let map_node = node("{A: 1, B: }");
            let map: Vec<_> = r
                .key_values(&map_node, &s, &['='])
                .unwrap()
                .into_iter()
                .map(|(k, v, _)| (k, v))
                .collect();
            assert_eq!(map, [("A".into(), Some("1".into())), ("B".into(), None)]);
            assert!(r.key_values(&node("just a string"), &s, &['=']).is_err());
        });
    }

    #[test]
    fn unsupported_key_suggests_close_match() {
        with_reader(&[], |r| {
            let root = node("enviroment: {}\nfoo: 1\nsecrets: 1\ntmp: 1\ninternal: 1\n");
            let Value::Map(entries) = &root.value else {
                panic!()
            };
            let scope = Scope::owner("service", "db");
            let err = r.unsupported(&entries[0], &scope, &["environment", "image"]);
            assert_eq!(
                err.to_string(),
                "c.yaml:1:1: service \"db\": unsupported key \"enviroment\": did you mean \"environment\"?"
            );
            for unrelated in &entries[2..] {
                let err = r.unsupported(unrelated, &scope, &["services", "tty", "external"]);
                assert!(!err.to_string().contains("did you mean"), "{err}");
            }
            let err = r.unsupported(&entries[1], &scope.key("healthcheck"), &["test"]);
            assert_eq!(
                err.to_string(),
                "c.yaml:2:1: service \"db\": unsupported key \"healthcheck.foo\""
            );
        });
    }
}
