//! Jepsen's etcd logs: one event per line, `INFO  jepsen.util - PROCESS TYPE F VALUE`, the
//! fields separated by tabs or spaces. A process has one operation open at a time, so a
//! completion belongs to the process's last invocation. Times are line numbers.
//!
//! ```text
//! INFO  jepsen.util - 0  :invoke  :cas  [2 4]
//! INFO  jepsen.util - 0  :fail  :cas  [2 4]
//! INFO  jepsen.util - 2  :info  :write  :timed-out
//! ```

use foldhash::HashMap;

use super::{Call, History, Lines, Operation, Outcome, ParseError};

/// The words of a line after the `INFO  jepsen.util -` prefix, each with its 1-based column.
struct Words<'a> {
    line: usize,
    words: Vec<(usize, &'a str)>,
}

impl<'a> Words<'a> {
    fn new(line: usize, text: &'a str) -> Self {
        let mut words = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    words.push((s, &text[s..i]));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        let words = words
            .into_iter()
            .map(|(at, w)| (text[..at].chars().count() + 1, w))
            .collect();
        Words { line, words }
    }

    /// The word at `index`, or an error naming what was expected there.
    fn get(&self, index: usize, what: &str) -> Result<(usize, &'a str), ParseError> {
        self.words.get(index).copied().ok_or_else(|| {
            let col = self.words.last().map_or(1, |(c, w)| c + w.chars().count());
            ParseError::new(self.line, col, format!("expected {what}"))
        })
    }

    fn error(&self, (col, word): (usize, &str), what: &str) -> ParseError {
        ParseError::new(self.line, col, format!("expected {what}, found `{word}`"))
    }
}

pub(super) fn parse(text: &str) -> Result<(History, Lines), ParseError> {
    let mut history = History::default();
    let mut lines = Vec::new();
    // Each process's open operation: its index in `history`.
    let mut open: HashMap<u64, usize> = HashMap::default();
    for (index, text) in text.lines().enumerate() {
        let words = Words::new(index + 1, text);
        if words.words.is_empty() {
            continue;
        }
        let prefix: Vec<&str> = words.words.iter().take(3).map(|(_, w)| *w).collect();
        if prefix != ["INFO", "jepsen.util", "-"] {
            return Err(words.error(words.words[0], "`INFO  jepsen.util - `"));
        }
        let process = words.get(3, "a process number")?;
        let client = process
            .1
            .parse()
            .map_err(|_| words.error(process, "a process number"))?;
        let kind = words.get(4, "`:invoke`, `:ok`, `:fail` or `:info`")?;
        if kind.1 == ":invoke" {
            let call = invocation(&words)?;
            open.insert(client, history.operations.len());
            lines.push(words.line);
            history.push(Operation {
                client,
                key: None,
                call,
                invoke: words.line as u64,
                complete: None,
                outcome: Outcome::Unknown,
            });
            continue;
        }
        let outcome = match kind.1 {
            ":ok" => Outcome::Ok,
            ":fail" => Outcome::Fail,
            ":info" => Outcome::Unknown,
            _ => return Err(words.error(kind, "`:invoke`, `:ok`, `:fail` or `:info`")),
        };
        let Some(at) = open.remove(&client) else {
            return Err(words.error(process, "a process with an operation open"));
        };
        complete(&mut history.operations[at], &words, outcome)?;
    }
    Ok((history, lines))
}

fn invocation(words: &Words) -> Result<Call, ParseError> {
    let f = words.get(5, "`:read`, `:write` or `:cas`")?;
    match f.1 {
        ":read" => Ok(Call::Read(None)),
        ":write" => Ok(Call::Write(integer(words, 6)?)),
        ":cas" => cas(words),
        _ => Err(words.error(f, "`:read`, `:write` or `:cas`")),
    }
}

/// `[FROM TO]`, split into two words by the space inside.
fn cas(words: &Words) -> Result<Call, ParseError> {
    let first = words.get(6, "`[FROM TO]`")?;
    let second = words.get(7, "`[FROM TO]`")?;
    let from = first.1.strip_prefix('[').and_then(|v| v.parse().ok());
    let to = second.1.strip_suffix(']').and_then(|v| v.parse().ok());
    match (from, to) {
        (Some(from), Some(to)) => Ok(Call::Cas { from, to }),
        (None, _) => Err(words.error(first, "`[FROM`")),
        (_, None) => Err(words.error(second, "`TO]`")),
    }
}

fn integer(words: &Words, index: usize) -> Result<i64, ParseError> {
    let word = words.get(index, "an integer")?;
    word.1.parse().map_err(|_| words.error(word, "an integer"))
}

/// Closes `op` with the completion on this line; an `:ok` read carries its result.
fn complete(op: &mut Operation, words: &Words, outcome: Outcome) -> Result<(), ParseError> {
    let f = words.get(5, "the function of the open operation")?;
    let expected = match op.call {
        Call::Read(_) => ":read",
        Call::Write(_) => ":write",
        _ => ":cas",
    };
    if f.1 != expected {
        return Err(words.error(f, &format!("`{expected}` (the process's open operation)")));
    }
    if let (Call::Read(value), Outcome::Ok) = (&mut op.call, outcome) {
        let word = words.get(6, "`nil` or an integer")?;
        *value = match word.1 {
            "nil" => None,
            v => Some(
                v.parse()
                    .map_err(|_| words.error(word, "`nil` or an integer"))?,
            ),
        };
    }
    op.outcome = outcome;
    op.complete = Some(words.line as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "INFO  jepsen.util - 3\t:invoke\t:write\t4
INFO  jepsen.util - 0   :invoke :cas    [2 4]
INFO  jepsen.util - 3\t:ok\t:write\t4
INFO  jepsen.util - 0\t:fail\t:cas\t[2 4]
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:ok\t:read\t3
INFO  jepsen.util - 2\t:invoke\t:write\t1
INFO  jepsen.util - 2\t:info\t:write\t:timed-out
INFO  jepsen.util - 4\t:invoke\t:write\t2
";

    #[test]
    fn events_pair_into_operations_timed_by_line() {
        let (history, lines) = parse(LOG).unwrap();
        let ops = &history.operations;
        assert_eq!(lines, [1, 2, 5, 7, 9]);
        assert_eq!((ops[0].invoke, ops[0].complete), (1, Some(3)));
        assert_eq!(ops[1].call, Call::Cas { from: 2, to: 4 });
        assert_eq!(ops[1].outcome, Outcome::Fail);
        assert_eq!(ops[2].call, Call::Read(Some(3)));
        assert_eq!(ops[3].outcome, Outcome::Unknown);
        // Still open at the end of the log: unknown.
        assert_eq!((ops[4].outcome, ops[4].complete), (Outcome::Unknown, None));
    }

    #[test]
    fn errors_say_where() {
        let err = parse("INFO  jepsen.util - 1\t:ok\t:read\t3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:21: expected a process with an operation open, found `1`"
        );
        let err = parse("INFO  jepsen.util - 1\t:invoke\t:cas\t[2 x]\n").unwrap_err();
        assert_eq!(err.to_string(), "1:39: expected `TO]`, found `x]`");
        let err = parse("INFO  jepsen.util - 1\t:invoke\t:write\n").unwrap_err();
        assert_eq!(err.to_string(), "1:37: expected an integer");
    }
}
