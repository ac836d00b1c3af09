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
//!
//! Reading is most of what `chaosplay check` does on a key-value history, so the reader works
//! on bytes (a character is decoded only where a byte is not ASCII), keeps the five values a
//! history uses in fixed places borrowed from the line, and counts a column only for an error.

use std::borrow::Cow;

use foldhash::HashMap;

use super::{Call, History, Lines, Operation, Outcome, ParseError, column};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom<'a> {
    Nil,
    Integer(u64),
    Keyword(&'a str),
    /// Borrowed from the line unless it has escapes.
    Str(Cow<'a, str>),
}

/// A value of a line with the byte offset where it starts, for an error's column.
type Value<'a> = (usize, Atom<'a>);

/// The keys an event's values are read from; others are read and ignored.
#[derive(Debug, Clone, Copy)]
enum Field {
    Process,
    Type,
    F,
    Key,
    Value,
}

impl Field {
    fn of(keyword: &str) -> Option<Field> {
        Some(match keyword {
            "process" => Field::Process,
            "type" => Field::Type,
            "f" => Field::F,
            "key" => Field::Key,
            "value" => Field::Value,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Field::Process => "process",
            Field::Type => "type",
            Field::F => "f",
            Field::Key => "key",
            Field::Value => "value",
        }
    }
}

/// One event line read.
struct Event<'a> {
    text: &'a str,
    line: usize,
    /// By [`Field`]; the last one where the line repeats a key.
    values: [Option<Value<'a>>; 5],
}

impl<'a> Event<'a> {
    fn field(&self, field: Field) -> Result<&Value<'a>, ParseError> {
        self.values[field as usize].as_ref().ok_or_else(|| {
            ParseError::new(self.line, 1, format!("the map has no `:{}`", field.name()))
        })
    }

    fn error(&self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, column(self.text, at), message)
    }

    fn string(&self, (at, atom): &Value<'a>) -> Result<String, ParseError> {
        match atom {
            Atom::Str(s) => Ok(s.to_string()),
            _ => Err(self.error(*at, "expected a string")),
        }
    }
}

/// What a byte is to the reader, looked up rather than compared: the reader's time goes to
/// these loops.
const WORD: u8 = 0;
/// Whitespace, commas included (whitespace in EDN).
const SPACE: u8 = 1;
/// Braces and quotes end a word.
const DELIMITER: u8 = 2;
/// The first or a further byte of a character that is not ASCII: decoded to tell.
const WIDE: u8 = 3;

static CLASS: [u8; 256] = {
    let mut class = [WORD; 256];
    let mut b = 0;
    while b < 256 {
        class[b] = match b as u8 {
            b' ' | b',' | b'\t'..=b'\r' => SPACE,
            b'{' | b'}' | b'"' => DELIMITER,
            0x80.. => WIDE,
            _ => WORD,
        };
        b += 1;
    }
    class
};

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
        self.at = self.run(SPACE);
    }

    /// The end of the run of `class` bytes (`SPACE` or `WORD`) from `at`: a character that is
    /// not ASCII belongs to the run of its kind, whitespace or word.
    fn run(&self, class: u8) -> usize {
        let bytes = self.text.as_bytes();
        let mut end = self.at;
        while let Some(&b) = bytes.get(end) {
            match CLASS[usize::from(b)] {
                c if c == class => end += 1,
                WIDE => match self.text[end..].chars().next() {
                    Some(c) if c.is_whitespace() == (class == SPACE) => end += c.len_utf8(),
                    _ => break,
                },
                _ => break,
            }
        }
        end
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn map(mut self) -> Result<Event<'a>, ParseError> {
        self.skip();
        if self.peek() != Some(b'{') {
            return Err(self.error("expected `{`"));
        }
        self.at += 1;
        let mut values: [Option<Value<'a>>; 5] = Default::default();
        loop {
            self.skip();
            if self.peek() == Some(b'}') {
                self.at += 1;
                break;
            }
            let Atom::Keyword(key) = self.atom()? else {
                return Err(self.error("expected a keyword key"));
            };
            self.skip();
            let value = (self.at, self.atom()?);
            if let Some(field) = Field::of(key) {
                values[field as usize] = Some(value);
            }
        }
        self.skip();
        match self.peek() {
            None => Ok(Event {
                text: self.text,
                line: self.line,
                values,
            }),
            Some(_) => Err(self.error("expected the end of the line after the map")),
        }
    }

    fn atom(&mut self) -> Result<Atom<'a>, ParseError> {
        self.skip();
        match self.peek() {
            Some(b'"') => self.string(),
            Some(_) => {
                let end = self.run(WORD);
                let word = &self.text[self.at..end];
                let atom = match word.as_bytes() {
                    b"nil" => Atom::Nil,
                    [b':', _, ..] => Atom::Keyword(&word[1..]),
                    _ => Atom::Integer(word.parse().map_err(|_| {
                        self.error(format!(
                            "expected nil, an integer, a keyword or a string, found `{word}`"
                        ))
                    })?),
                };
                self.at = end;
                Ok(atom)
            }
            None => Err(self.error("expected a value")),
        }
    }

    fn string(&mut self) -> Result<Atom<'a>, ParseError> {
        let (start, line, text) = (self.at, self.line, self.text);
        let unterminated = || ParseError::new(line, column(text, start), "unterminated string");
        let rest = &self.text[start + 1..];
        // Most strings have no escape: borrowed as they are.
        match rest.bytes().position(|b| b == b'"' || b == b'\\') {
            Some(i) if rest.as_bytes()[i] == b'"' => {
                self.at = start + 1 + i + 1;
                return Ok(Atom::Str(Cow::Borrowed(&rest[..i])));
            }
            None => return Err(unterminated()),
            Some(_) => {}
        }
        let mut out = String::new();
        let mut chars = rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at = start + 1 + i + 1;
                    return Ok(Atom::Str(Cow::Owned(out)));
                }
                '\\' => out.push(match chars.next().map(|(_, c)| c) {
                    Some('n') => '\n',
                    Some('t') => '\t',
                    Some('r') => '\r',
                    Some(c @ ('"' | '\\')) => c,
                    _ => {
                        self.at = start + 1 + i;
                        return Err(self.error("unknown escape in a string"));
                    }
                }),
                c => out.push(c),
            }
        }
        Err(unterminated())
    }
}

pub(super) fn parse(text: &str) -> Result<(History, Lines), ParseError> {
    let mut history = History::default();
    let mut lines = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::default();
    for (index, text) in text.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line = index + 1;
        let event = Reader { text, at: 0, line }.map()?;
        let (at, process) = event.field(Field::Process)?;
        let &Atom::Integer(client) = process else {
            return Err(event.error(*at, "`:process` must be an integer"));
        };
        let (at, kind) = event.field(Field::Type)?;
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
            *value = event.string(event.field(Field::Value)?)?;
        }
    }
    Ok((history, lines))
}

fn invocation(event: &Event<'_>, client: u64) -> Result<Operation, ParseError> {
    let (at, f) = event.field(Field::F)?;
    let key = event.field(Field::Key)?;
    let value = || event.string(event.field(Field::Value)?);
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
    fn other_keys_are_read_and_ignored_and_a_repeated_key_counts_last() {
        let line = "{:time 12, :process 1, :index nil, :type :invoke, :f :put, :key \"k\", \
                    :value \"a\", :value \"b\", :node :n1}";
        let (history, _) = parse(line).unwrap();
        assert_eq!(history.operations[0].call, Call::Put("b".into()));
        assert_eq!(history.operations[0].client, 1);
        let err = parse("{:process 0, :type :invoke, :f :put, :value \"a\"}").unwrap_err();
        assert_eq!(err.to_string(), "1:1: the map has no `:key`");
    }

    #[test]
    fn every_byte_has_its_class() {
        for b in 0..=255u8 {
            let class = CLASS[usize::from(b)];
            let expected = match b {
                _ if !b.is_ascii() => WIDE,
                b'{' | b'}' | b'"' => DELIMITER,
                _ if char::from(b).is_whitespace() || b == b',' => SPACE,
                _ => WORD,
            };
            assert_eq!(class, expected, "byte {b:#04x}");
        }
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
