//! The single error type of the compose loader.
//!
//! Every error names the file it comes from (the compose file, its `.env` or an
//! `env_file`) and, when it can be pinned down, the line and column, so that a
//! user can jump straight to the offending spot from the terminal.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Source};

/// A position in a source file, both numbers 1-based as editors show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: usize,
    /// Column number in characters, starting at 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why loading a compose file failed, with the file and position it concerns.
///
/// Boxed so that `Result<_, ComposeError>` stays one pointer wide on the happy
/// path; the details are reached through [`ComposeError::kind`] and friends.
#[derive(Debug)]
pub struct ComposeError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    location: Option<Location>,
    kind: ComposeErrorKind,
}

impl ComposeError {
    pub(crate) fn new(path: &Path, location: Option<Location>, kind: ComposeErrorKind) -> Self {
        Self(Box::new(Inner {
            path: path.to_path_buf(),
            location,
            kind,
        }))
    }

    /// The file the error is about.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Where in [`ComposeError::path`] the problem is, when known.
    pub fn location(&self) -> Option<Location> {
        self.0.location
    }

    /// What went wrong.
    pub fn kind(&self) -> &ComposeErrorKind {
        &self.0.kind
    }
}

impl ComposeError {
    /// The error as a diagnostic quoting the compose file (or `.env`) at its position, with
    /// the message it would have without the path and position the snippet shows; `None` when
    /// the position is unknown or the file cannot be read again.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        let location = self.location()?;
        let file = Source::read(self.path()).ok()?;
        let start = file.offset(location.line, location.column);
        let end = match self.kind() {
            // A syntax error is at one character; anything else at a value: to the line's end.
            ComposeErrorKind::Syntax(_) => {
                start + file.text[start..].chars().next().map_or(0, char::len_utf8)
            }
            _ => {
                start
                    + file.text[start..]
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim_end()
                        .len()
            }
        };
        Some(Diagnostic::new(self.kind().to_string(), Some(start..end)).in_file(Arc::new(file)))
    }
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.path.display())?;
        if let Some(location) = self.0.location {
            write!(f, ":{location}")?;
        }
        write!(f, ": {}", self.0.kind)
    }
}

/// The message already carries every detail (including an I/O error's text),
/// so no `source()` chain is exposed: printing the chain would repeat it.
impl std::error::Error for ComposeError {}

/// The kinds of failure, each rendered as a lowercase message.
///
/// `scope` fields read like `service "db"` or `service "db", key "ports[0]"`
/// and tell where in the compose model the problem is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ComposeErrorKind {
    /// The file could not be read.
    #[error("cannot read file: {0}")]
    Read(std::io::Error),
    /// The file is not well-formed YAML.
    #[error("invalid yaml: {0}")]
    Syntax(String),
    /// A line of a `.env` or `env_file` file is not `KEY=VALUE`.
    #[error("invalid env file line: {0}")]
    EnvFile(String),
    /// A key the loader does not implement; `hint` says what to do instead.
    #[error("{}unsupported key \"{key}\"{}", owner_prefix(.owner), hint_suffix(.hint))]
    UnsupportedKey {
        /// `service "db"`, `network "n"`, ... or empty for the top level.
        owner: String,
        /// The key, dotted when nested (`healthcheck.foo`).
        key: String,
        /// A suggestion, e.g. the supported key that was probably meant.
        hint: Option<String>,
    },
    /// `${VAR:?message}` or `${VAR?message}` with the variable missing.
    #[error("{scope}: required variable \"{name}\" is missing a value{}", hint_suffix(.message))]
    MissingVariable {
        /// Where the interpolated string is.
        scope: String,
        /// The variable name.
        name: String,
        /// The message given after `?`, if any.
        message: Option<String>,
    },
    /// `depends_on` names a service that does not exist.
    #[error("service \"{service}\" depends on undefined service \"{dependency}\"")]
    UnknownDependency {
        /// The depending service.
        service: String,
        /// The missing target.
        dependency: String,
    },
    /// `depends_on` edges form a cycle; the list starts and ends with the same service.
    #[error("dependency cycle between services: {}", .0.join(" -> "))]
    DependencyCycle(Vec<String>),
    /// Any other invalid value, with the place and the reason.
    #[error("{}{message}", scope_prefix(.scope))]
    Invalid {
        /// Where the value is; empty for the file as a whole.
        scope: String,
        /// What is wrong with it.
        message: String,
    },
}

fn owner_prefix(owner: &str) -> String {
    if owner.is_empty() {
        "top level: ".to_owned()
    } else {
        format!("{owner}: ")
    }
}

fn scope_prefix(scope: &str) -> String {
    if scope.is_empty() {
        String::new()
    } else {
        format!("{scope}: ")
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(": {h}")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_path_and_location() {
        let err = ComposeError::new(
            Path::new("/p/compose.yaml"),
            Some(Location { line: 3, column: 5 }),
            ComposeErrorKind::UnsupportedKey {
                owner: "service \"db\"".into(),
                key: "deploy".into(),
                hint: None,
            },
        );
        assert_eq!(
            err.to_string(),
            "/p/compose.yaml:3:5: service \"db\": unsupported key \"deploy\""
        );
    }

    #[test]
    fn display_without_location() {
        let err = ComposeError::new(
            Path::new("c.yaml"),
            None,
            ComposeErrorKind::DependencyCycle(vec!["a".into(), "b".into(), "a".into()]),
        );
        assert_eq!(
            err.to_string(),
            "c.yaml: dependency cycle between services: a -> b -> a"
        );
    }

    #[test]
    fn a_positioned_error_quotes_its_file() {
        let dir = crate::test_support::TempDir::new();
        let path = dir.write("compose.yaml", "services:\n  db:\n    deploy: {}\n");
        let kind = ComposeErrorKind::UnsupportedKey {
            owner: "service \"db\"".into(),
            key: "deploy".into(),
            hint: None,
        };
        let at = Some(Location { line: 3, column: 5 });
        let diagnostic = ComposeError::new(&path, at, kind).diagnostic().unwrap();
        let rendered = diagnostic.render(&Source::new("playbook.toml", ""));
        assert!(
            rendered.contains(&format!("{}:3:5", path.display())),
            "{rendered}"
        );
        assert!(
            rendered.contains("3 |     deploy: {}\n  |     ^^^^^^^^^^"),
            "{rendered}"
        );
        let cycle = ComposeErrorKind::DependencyCycle(vec!["a".into(), "a".into()]);
        let unplaced = ComposeError::new(&path, None, cycle);
        assert!(
            unplaced.diagnostic().is_none(),
            "no position: said as before"
        );
    }

    #[test]
    fn read_error_includes_io_message() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = ComposeError::new(Path::new("x.yaml"), None, ComposeErrorKind::Read(io));
        assert_eq!(err.to_string(), "x.yaml: cannot read file: no such file");
    }
}
