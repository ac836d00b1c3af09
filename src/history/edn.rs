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

use std::collections::HashMap;

use super::{Call, History, Lines, Operation, Outcome, ParseError};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Nil,
    Integer(u64),
    Keyword(String),
    Str(String),
}

/// A map's entries, each value with the 1-based column where it starts.
type Map = HashMap<String, (usize, Atom)>;

/// Reads one `{:k v, …}` line.
struct Reader<'a> {
    text: &'a str,
    at: usize,
    line: usize,
}

impl Reader<'_> {
    fn col(&self) -> usize {
        self.text[..self.at].chars().count() + 1
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.line, self.col(), message)
    }

    /// Skips whitespace and commas (whitespace in EDN).
    fn skip(&mut self) {
        let rest = &self.text[self.at..];
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        self.at += rest.len() - trimmed.len();
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

    fn map(&mut self) -> Result<Map, ParseError> {
        self.expect('{')?;
        let mut map = Map::new();
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
            let col = self.col();
            map.insert(key, (col, self.atom()?));
        }
        self.skip();
        match self.peek() {
            None => Ok(map),
            Some(_) => Err(self.error("expected the end of the line after the map")),
        }
    }

    fn atom(&mut self) -> Result<Atom, ParseError> {
        self.skip();
        match self.peek() {
            Some('"') => self.string(),
            Some(_) => {
                let rest = &self.text[self.at..];
                let end = rest
                    .find(|c: char| c.is_whitespace() || matches!(c, ',' | '}' | '{' | '"'))
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                let atom = match word {
                    "nil" => Atom::Nil,
                    w if w.len() > 1 && w.starts_with(':') => Atom::Keyword(w[1..].to_string()),
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

    fn string(&mut self) -> Result<Atom, ParseError> {
        let start = self.col();
        self.at += 1;
        let mut out = String::new();
        let mut chars = self.text[self.at..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += i + 1;
                    return Ok(Atom::Str(out));
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
        Err(ParseError::new(self.line, start, "unterminated string"))
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
        let field = |name: &str| {
            event
                .get(name)
                .ok_or_else(|| ParseError::new(line, 1, format!("the map has no `:{name}`")))
        };
        let (col, process) = field("process")?;
        let &Atom::Integer(client) = process else {
            return Err(ParseError::new(line, *col, "`:process` must be an integer"));
        };
        let (col, kind) = field("type")?;
        let wrong_type =
            || ParseError::new(line, *col, "`:type` must be :invoke, :ok, :fail or :info");
        let Atom::Keyword(kind) = kind else {
            return Err(wrong_type());
        };
        if kind == "invoke" {
            open.insert(client, history.operations.len());
            lines.push(line);
            history.push(invocation(
                &event,
                line,
                client,
                field("f")?,
                field("key")?,
            )?);
            continue;
        }
        let outcome = match kind.as_str() {
            "ok" => Outcome::Ok,
            "fail" => Outcome::Fail,
            "info" => Outcome::Unknown,
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
            *value = string(field("value")?, line)?;
        }
    }
    Ok((history, lines))
}

fn invocation(
    event: &Map,
    line: usize,
    client: u64,
    (col, f): &(usize, Atom),
    key: &(usize, Atom),
) -> Result<Operation, ParseError> {
    let value = || {
        let value = event
            .get("value")
            .ok_or_else(|| ParseError::new(line, 1, "the map has no `:value`"))?;
        string(value, line)
    };
    let call = match f {
        Atom::Keyword(f) if f == "get" => Call::Get(String::new()),
        Atom::Keyword(f) if f == "put" => Call::Put(value()?),
        Atom::Keyword(f) if f == "append" => Call::Append(value()?),
        _ => {
            return Err(ParseError::new(
                line,
                *col,
                "`:f` must be :get, :put or :append",
            ));
        }
    };
    Ok(Operation {
        client,
        key: Some(string(key, line)?),
        call,
        invoke: line as u64,
        complete: None,
        outcome: Outcome::Unknown,
    })
}

fn string((col, atom): &(usize, Atom), line: usize) -> Result<String, ParseError> {
    match atom {
        Atom::Str(s) => Ok(s.clone()),
        _ => Err(ParseError::new(line, *col, "expected a string")),
    }
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
    fn errors_say_where() {
        let err = parse("{:process 0, :type :invoke, :f :cas, :key \"4\"}").unwrap_err();
        assert_eq!(err.to_string(), "1:32: `:f` must be :get, :put or :append");
        let err = parse("\n{:process x}").unwrap_err();
        assert!(err.to_string().starts_with("2:11: expected nil"), "{err}");
        let err = parse("{:process 0, :value \"abc}").unwrap_err();
        assert_eq!(err.to_string(), "1:21: unterminated string");
    }
}
