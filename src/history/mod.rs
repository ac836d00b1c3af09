//! Operation histories and their linearizability check (issue #17).
//!
//! A [`History`] is what a workload recorded: each operation's client, invocation and
//! completion times and outcome. [`read`] takes one from text in any of three formats (ours,
//! JSON lines, documented in docs/history.md; Jepsen's etcd logs; EDN key-value histories),
//! [`linearizability::check`] decides whether some sequential order of the operations, each
//! placed between its invocation and completion, is legal for a [`models::Model`].

pub mod edn;
pub mod files;
pub mod jepsen;
pub mod json_lines;
pub mod linearizability;
pub mod models;
pub mod stale;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use linearizability::{Budget, Verdict, check};
pub use models::Model;

/// The unit of time is the recorder's: only the order of times matters. Histories read from
/// Jepsen and EDN files use line numbers, so an explanation points into the file.
pub type Time = u64;

/// One operation as a client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub client: u64,
    /// The object operated on: operations on different keys are independent.
    pub key: Option<String>,
    pub call: Call,
    pub invoke: Time,
    /// When the client saw the outcome. An `Unknown` operation has none that counts: it may
    /// take effect at any point after its invocation, or never.
    pub complete: Option<Time>,
    pub outcome: Outcome,
}

/// What an operation did and, for reads, what it returned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Call {
    /// A register read; `None` is the empty register (`nil`).
    Read(Option<i64>),
    Write(i64),
    /// Compare-and-set: `Ok` means the register held `from` and now holds `to`.
    Cas {
        from: i64,
        to: i64,
    },
    /// A key-value read, returning the whole value.
    Get(String),
    Put(String),
    Append(String),
}

impl Call {
    /// Whether the operation reads only: an unknown read tells nothing and is left out.
    pub fn is_read(&self) -> bool {
        matches!(self, Call::Read(_) | Call::Get(_))
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Read(None) => write!(f, "read → nil"),
            Call::Read(Some(v)) => write!(f, "read → {v}"),
            Call::Write(v) => write!(f, "write {v}"),
            Call::Cas { from, to } => write!(f, "cas {from} → {to}"),
            Call::Get(v) => write!(f, "get → {v:?}"),
            Call::Put(v) => write!(f, "put {v:?}"),
            Call::Append(v) => write!(f, "append {v:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It happened, between invocation and completion, and returned what the call says.
    Ok,
    /// It certainly did not happen: the checker leaves it out.
    Fail,
    /// A timeout or lost connection: it may have happened at any point after its invocation.
    Unknown,
}

impl Operation {
    /// Whether the checker must place the operation: failed ones did not happen, and an
    /// unknown read constrains nothing.
    pub fn counts(&self) -> bool {
        match self.outcome {
            Outcome::Ok => true,
            Outcome::Fail => false,
            Outcome::Unknown => !self.call.is_read(),
        }
    }
}

/// A recorded history: operations in any order (the checker orders them by time). A workload
/// pushes operations as they complete and writes them out with [`History::to_json_lines`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub operations: Vec<Operation>,
}

impl History {
    pub fn push(&mut self, operation: Operation) {
        self.operations.push(operation);
    }

    /// The history in chaosplay's own format, one operation per line.
    pub fn to_json_lines(&self) -> String {
        self.operations
            .iter()
            .map(|op| json_lines::line(op) + "\n")
            .collect()
    }
}

/// The formats [`read`] recognises from a file's first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Jepsen,
    Edn,
}

impl Format {
    /// The model a history in this format is checked against by default. Ours says it itself:
    /// its operations are either register or key-value ones.
    fn model(self) -> Option<Model> {
        match self {
            Format::JsonLines => None,
            Format::Jepsen => Some(Model::Register),
            Format::Edn => Some(Model::Kv),
        }
    }

    fn detect(text: &str) -> Option<Format> {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty())?;
        if first.starts_with("{:") {
            Some(Format::Edn)
        } else if first.starts_with('{') {
            Some(Format::JsonLines)
        } else if first.starts_with("INFO") && first.contains("jepsen") {
            Some(Format::Jepsen)
        } else {
            None
        }
    }
}

/// Why a history file cannot be read: where (1-based line and column) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(line: usize, col: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            col,
            message: message.into(),
        }
    }
}

/// A history read from text, with the model it is to be checked against.
#[derive(Debug)]
pub struct Parsed {
    pub format: Format,
    pub model: Model,
    pub history: History,
    /// The 1-based line of the file each operation of `history` was read from (its
    /// invocation's, in event formats).
    pub lines: Vec<usize>,
}

/// Histories are data other tools recorded, far larger than anything written by hand (a
/// Jepsen run of ten minutes is ~100 MB). Bounded still: a path naming a pipe that never ends
/// must fail, not fill the memory.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The text of a history file: a regular file or a pipe, up to [`MAX_FILE_BYTES`]. A device
/// is refused without reading (a typo for `/dev/zero` would be read to the cap).
pub fn read_file(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::FileTypeExt;
    let kind = std::fs::metadata(path)?.file_type();
    if kind.is_block_device() || kind.is_char_device() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a device, not a file",
        ));
    }
    crate::text_file::read_at_most(path, MAX_FILE_BYTES)
}

/// Reads a history in any known format; `model` (the user's `--model`) overrides the one the
/// format implies, and every operation must belong to it.
pub fn read(text: &str, model: Option<Model>) -> Result<Parsed, ParseError> {
    let format = Format::detect(text).ok_or_else(|| {
        ParseError::new(
            1,
            1,
            "not a history: expected JSON lines, a Jepsen log or EDN maps (see docs/history.md)",
        )
    })?;
    let (history, lines) = match format {
        Format::JsonLines => json_lines::parse(text)?,
        Format::Jepsen => jepsen::parse(text)?,
        Format::Edn => edn::parse(text)?,
    };
    let model = match model.or(format.model()) {
        Some(model) => model,
        None => Model::infer(&history).map_err(|at| {
            ParseError::new(
                lines[at],
                1,
                "register operations (read, write, cas) and key-value ones (get, put, append) \
                 are mixed: check them apart",
            )
        })?,
    };
    if let Some(at) = history.operations.iter().position(|op| !model.fits(op)) {
        let op = &history.operations[at].call;
        return Err(ParseError::new(
            lines[at],
            1,
            format!("`{op}` is not an operation of the {model} model"),
        ));
    }
    Ok(Parsed {
        format,
        model,
        history,
        lines,
    })
}

/// The 1-based column, in characters, of the character at byte offset `at` of a line (one
/// past the last at its end), as errors give it: readers count bytes.
fn column(line: &str, at: usize) -> usize {
    line.char_indices()
        .take_while(|&(i, c)| i + c.len_utf8() <= at)
        .count()
        + 1
}

/// Where each operation of a parsed history was invoked in the file (its line).
type Lines = Vec<usize>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_told_by_the_first_line() {
        assert_eq!(Format::detect("\n{\"client\": 1}"), Some(Format::JsonLines));
        assert_eq!(Format::detect("{:process 0}"), Some(Format::Edn));
        assert_eq!(
            Format::detect("INFO  jepsen.util - 3\t:invoke\t:read\tnil"),
            Some(Format::Jepsen)
        );
        assert_eq!(Format::detect("hello"), None);
        assert_eq!(Format::detect(""), None);
    }

    #[test]
    fn a_model_that_does_not_fit_is_refused_with_the_line() {
        let text =
            "INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\n";
        assert_eq!(read(text, None).unwrap().model, Model::Register);
        let err = read(text, Some(Model::Kv)).unwrap_err();
        assert_eq!((err.line, err.col), (1, 1));
        assert!(
            err.message.contains("not an operation of the kv model"),
            "{err}"
        );
    }

    #[test]
    fn a_history_file_may_be_large_but_not_a_device() {
        let err = read_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err.to_string(), "it is a device, not a file");
        let dir = crate::test_support::TempDir::new();
        // Past a playbook's cap, far below a history's.
        let big = "\n".repeat(usize::try_from(crate::text_file::MAX_BYTES).unwrap() + 1);
        assert_eq!(read_file(&dir.write("h", &big)).unwrap().len(), big.len());
    }

    #[test]
    fn columns_count_characters_whatever_byte_they_are_given() {
        let line = "aé\"x";
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 9].map(|at| column(line, at)),
            [1, 2, 2, 3, 4, 5, 5]
        );
    }

    #[test]
    fn failed_operations_and_unknown_reads_do_not_count() {
        let op = |call, outcome| Operation {
            client: 0,
            key: None,
            call,
            invoke: 0,
            complete: Some(1),
            outcome,
        };
        assert!(op(Call::Write(1), Outcome::Ok).counts());
        assert!(op(Call::Write(1), Outcome::Unknown).counts());
        assert!(!op(Call::Write(1), Outcome::Fail).counts());
        assert!(!op(Call::Read(None), Outcome::Unknown).counts());
    }
}
