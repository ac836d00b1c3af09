//! Key-value histories as EDN maps, one event per line, in real-time order:
//!
//! ```text
//! {:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}
//! {:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}
//! ```
//!
//! Only what such a line holds is read — a flat map of keywords to integers, keywords,
//! strings and `nil` — by hand: a whole EDN crate would bring sets, tags and nesting that no
//! history uses. Times are line numbers.

use std::borrow::Cow;
use std::collections::HashMap;

use super::{Call, History, Lines, Operation, Outcome, ParseError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom<'a> {
    Nil,
    Integer(u64),
    Keyword(&'a str),
    /// Borrowed from the line unless it has escapes.
    Str(Cow<'a, str>),
}

/// One event line read: its entries in order, each value with the byte offset where it starts.
/// Parsing is most of what `chaosplay check` does on a key-value history (callgrind: four
/// fifths of its instructions went to a hash map, key strings and columns per line), so a line's
/// five entries are a list borrowed from the text, and a column is counted only for an error.
struct Event<'a> {
    text: &'a str,
    line: usize,
    entries: Vec<(&'a str, (usize, Atom<'a>))>,
}

impl<'a> Event<'a> {
    /// The value of `:name` (the last one, if the line repeats it).
    fn field(&self, name: &str) -> Result<&(usize, Atom<'a>), ParseError> {
        self.entries
            .iter()
            .rev()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
            .ok_or_else(|| ParseError::new(self.line, 1, format!("the map has no `:{name}`")))
    }

    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, column(self.text, at), message)
    }

    fn string(&self, (at, atom): &(usize, Atom<'a>)) -> Result<String, ParseError> {
        match atom {
            Atom::Str(s) => Ok(s.to_string()),
            _ => Err(self.error(*at, "expected a string")),
        }
    }
}

/// The 1-based column, in characters, of byte offset `at` of a line.
fn column(text: &str, at: usize) -> usize {
    text[..at].chars().count() + 1
}

/// Whitespace in EDN, commas included.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c == ','
}

/// The byte offset of the first character of `s` that `stop` accepts (else its length):
/// `str::find` with a byte loop for ASCII, the part of every line that parsing spends most on.
fn scan(s: &str, stop: impl Fn(char) -> bool) -> usize {
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if !b.is_ascii() {
            return i + s[i..].find(&stop).unwrap_or(s.len() - i);
        }
        if stop(char::from(b)) {
            return i;
        }
    }
    s.len()
}

/// Reads one `{:k v, …}` line.
struct Reader<'a> {
    text: &'a str,
    at: usize,
    line: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, column(self.text, self.at), message)
    }

    /// Skips whitespace and commas (whitespace in EDN).
    fn skip(&mut self) {
        self.at += scan(&self.text[self.at..], |c| !is_space(c));
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        self.skip();
        if self.peek() != Some(c) {
            return Err(self.error(format!("expected `{c}`")));
        }
        self.at += 1;
        Ok(())
    }

    fn map(mut self) -> Result<Event<'a>, ParseError> {
        self.expect('{')?;
        let mut entries = Vec::with_capacity(5);
        loop {
            self.skip();
            if self.peek() == Some('}') {
                self.at += 1;
                break;
            }
            let Atom::Keyword(key) = self.atom()? else {
                return Err(self.error("expected a keyword key"));
            };
            self.skip();
            let at = self.at;
            entries.push((key, (at, self.atom()?)));
        }
        self.skip();
        match self.peek() {
            None => Ok(Event {
                text: self.text,
                line: self.line,
                entries,
            }),
            Some(_) => Err(self.error("expected the end of the line after the map")),
        }
    }

    fn atom(&mut self) -> Result<Atom<'a>, ParseError> {
        self.skip();
        match self.peek() {
            Some('"') => self.string(),
            Some(_) => {
                let rest = &self.text[self.at..];
                let end = scan(rest, |c| is_space(c) || matches!(c, '}' | '{' | '"'));
                let word = &rest[..end];
                let atom = match word {
                    "nil" => Atom::Nil,
                    w if w.len() > 1 && w.starts_with(':') => Atom::Keyword(&w[1..]),
                    w => Atom::Integer(w.parse().map_err(|_| {
                        self.error(format!(
                            "expected nil, an integer, a keyword or a string, found `{w}`"
                        ))
                    })?),
                };
                self.at += end;
                Ok(atom)
            }
            None => Err(self.error("expected a value")),
        }
    }

    fn string(&mut self) -> Result<Atom<'a>, ParseError> {
        let start = self.at;
        self.at += 1;
        let rest = &self.text[self.at..];
        // Most strings have no escape: borrowed as they are.
        match rest.find(['"', '\\']) {
            Some(i) if rest.as_bytes()[i] == b'"' => {
                self.at += i + 1;
                return Ok(Atom::Str(Cow::Borrowed(&rest[..i])));
            }
            None => {
                return Err(ParseError::new(
                    self.line,
                    column(self.text, start),
                    "unterminated string",
                ));
            }
            Some(_) => {}
        }
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += i + 1;
                    return Ok(Atom::Str(Cow::Owned(out)));
                }
                '\\' => out.push(match chars.next().map(|(_, c)| c) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some(c @ ('"' | '\\')) => c,
                    _ => {
                        self.at += i;
                        return Err(self.error("unknown escape in a string"));
                    }
                }),
                c => out.push(c),
            }
        }
        Err(ParseError::new(
            self.line,
            column(self.text, start),
            "unterminated string",
        ))
    }
}

pub(super) fn parse(text: &str) -> Result<(History, Lines), ParseError> {
    let mut history = History::default();
    let mut lines = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    for (index, text) in text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line = index + 1;
        let event = Reader { text, at: 0, line }.map()?;
        let (at, process) = event.field("process")?;
        let &Atom::Integer(client) = process else {
            return Err(event.error(*at, "`:process` must be an integer"));
        };
        let (at, kind) = event.field("type")?;
        let wrong_type = || event.error(*at, "`:type` must be :invoke, :ok, :fail or :info");
        let outcome = match kind {
            Atom::Keyword("invoke") => {
                open.insert(client, history.operations.len());
                lines.push(line);
                history.push(invocation(&event, client)?);
                continue;
            }
            Atom::Keyword("ok") => Outcome::Ok,
            Atom::Keyword("fail") => Outcome::Fail,
            Atom::Keyword("info") => Outcome::Unknown,
            _ => return Err(wrong_type()),
        };
        let Some(at) = open.remove(&client) else {
            return Err(ParseError::new(
                line,
                1,
                format!("process {client} has no operation open"),
            ));
        };
        let op = &mut history.operations[at];
        op.outcome = outcome;
        op.complete = Some(line as u64);
        if let (Call::Get(value), Outcome::Ok) = (&mut op.call, outcome) {
            *value = event.string(event.field("value")?)?;
        }
    }
    Ok((history, lines))
}

fn invocation(event: &Event<'_>, client: u64) -> Result<Operation, ParseError> {
    let (at, f) = event.field("f")?;
    let key = event.field("key")?;
    let value = || event.string(event.field("value")?);
    let call = match f {
        Atom::Keyword("get") => Call::Get(String::new()),
        Atom::Keyword("put") => Call::Put(value()?),
        Atom::Keyword("append") => Call::Append(value()?),
        _ => return Err(event.error(*at, "`:f` must be :get, :put or :append")),
    };
    Ok(Operation {
        client,
        key: Some(event.string(key)?),
        call,
        invoke: event.line as u64,
        complete: None,
        outcome: Outcome::Unknown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pair_into_operations() {
        let text = r#"{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}
{:process 3, :type :invoke, :f :get, :key "4", :value nil}
{:process 0, :type :ok, :f :append, :key "4", :value "x 0 1 y"}
{:process 3, :type :ok, :f :get, :key "4", :value "x \"0\" 1 y"}
{:process 1, :type :invoke, :f :put, :key "5", :value "z"}
"#;
        let (history, lines) = parse(text).unwrap();
        let ops = &history.operations;
        assert_eq!(lines, [1, 2, 5]);
        assert_eq!(ops[0].call, Call::Append("x 0 1 y".into()));
        assert_eq!((ops[0].invoke, ops[0].complete), (1, Some(3)));
        assert_eq!(ops[1].call, Call::Get("x \"0\" 1 y".into()));
        assert_eq!(ops[1].key.as_deref(), Some("4"));
        assert_eq!((ops[2].outcome, ops[2].complete), (Outcome::Unknown, None));
    }

    #[test]
    fn non_ascii_text_is_read_and_counted_in_characters() {
        // U+00A0 is whitespace to EDN as to Rust; the byte scanner hands it to `str::find`.
        let line = "{:process 0,\u{a0}:type :invoke, :f :put, :key \"é\", :value \"ü\\\"\"}";
        let (history, _) = parse(line).unwrap();
        assert_eq!(history.operations[0].call, Call::Put("ü\"".into()));
        assert_eq!(history.operations[0].key.as_deref(), Some("é"));
        let err = parse("{:key \"é\", :process 1é}").unwrap_err();
        assert!(err.to_string().starts_with("1:21: expected nil"), "{err}");
        assert!(err.to_string().ends_with("found `1é`"), "{err}");
    }

    #[test]
    fn errors_say_where() {
        let err = parse("{:process 0, :type :invoke, :f :cas, :key \"4\"}").unwrap_err();
        assert_eq!(err.to_string(), "1:32: `:f` must be :get, :put or :append");
        let err = parse("\n{:process x}").unwrap_err();
        assert!(err.to_string().starts_with("2:11: expected nil"), "{err}");
        let err = parse("{:process 0, :value \"abc}").unwrap_err();
        assert_eq!(err.to_string(), "1:21: unterminated string");
    }
}
