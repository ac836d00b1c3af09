//! chaosplay's own history format: one JSON object per line, one line per operation (not per
//! event), so a recorder appends a line when an operation ends and a reader needs no pairing.
//!
//! ```json
//! {"client":1,"f":"write","value":3,"invoke":10,"complete":14,"outcome":"ok"}
//! {"client":2,"f":"cas","from":3,"to":4,"invoke":11,"outcome":"unknown"}
//! {"client":3,"key":"k1","f":"get","value":"ab","invoke":12,"complete":13,"outcome":"ok"}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Call, History, Lines, Operation, Outcome, ParseError, Time};

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Function {
    Read,
    Write,
    Cas,
    Get,
    Put,
    Append,
}

/// One line as written: the fields every operation has, and those of its function.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    client: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    f: Function,
    /// `null` (the empty register) is a value here, unlike a missing field.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<i64>,
    invoke: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    complete: Option<Time>,
    outcome: Outcome,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The line of one operation, without its newline.
pub fn line(op: &Operation) -> String {
    let (f, value, from, to) = match &op.call {
        Call::Read(v) => (
            Function::Read,
            Some(v.map_or(Value::Null, Value::from)),
            None,
            None,
        ),
        Call::Write(v) => (Function::Write, Some(Value::from(*v)), None, None),
        Call::Cas { from, to } => (Function::Cas, None, Some(*from), Some(*to)),
        Call::Get(v) => (Function::Get, Some(Value::from(v.as_str())), None, None),
        Call::Put(v) => (Function::Put, Some(Value::from(v.as_str())), None, None),
        Call::Append(v) => (Function::Append, Some(Value::from(v.as_str())), None, None),
    };
    let line = Line {
        client: op.client,
        key: op.key.clone(),
        f,
        // A read that did not return has no result to write.
        value: value.filter(|_| !op.call.is_read() || op.outcome == Outcome::Ok),
        from,
        to,
        invoke: op.invoke,
        complete: op.complete,
        outcome: op.outcome,
    };
    serde_json::to_string(&line).expect("a history line serializes")
}

/// The `f` of a call, as a line names it.
pub fn function_name(call: &Call) -> &'static str {
    match call {
        Call::Read(_) => "read",
        Call::Write(_) => "write",
        Call::Cas { .. } => "cas",
        Call::Get(_) => "get",
        Call::Put(_) => "put",
        Call::Append(_) => "append",
    }
}

pub(super) fn parse(text: &str) -> Result<(History, Lines), ParseError> {
    let mut history = History::default();
    let mut lines = Vec::new();
    for (index, text) in text.lines().enumerate() {
        let number = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(text).map_err(|e| {
            // serde_json's message ends with its own "at line 1 column N": ours says where.
            let message = e.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(&*message, |(m, _)| m);
            // …and counts its column in bytes from 1, ours in characters.
            ParseError::new(
                number,
                super::column(text, e.column().saturating_sub(1)),
                message,
            )
        })?;
        let op = operation(line).map_err(|message| ParseError::new(number, 1, message))?;
        history.push(op);
        lines.push(number);
    }
    Ok((history, lines))
}

fn operation(line: Line) -> Result<Operation, String> {
    let unknown_read =
        matches!(line.f, Function::Read | Function::Get) && line.outcome != Outcome::Ok;
    let call = match line.f {
        Function::Read if unknown_read => Call::Read(None),
        Function::Get if unknown_read => Call::Get(String::new()),
        Function::Read => Call::Read(match line.value {
            Some(Value::Null) => None,
            value => Some(integer(value, "read")?),
        }),
        Function::Write => Call::Write(integer(line.value, "write")?),
        Function::Cas => match (line.from, line.to) {
            (Some(from), Some(to)) => Call::Cas { from, to },
            _ => return Err("a `cas` needs integers `from` and `to`".into()),
        },
        Function::Get => Call::Get(string(line.value, "get")?),
        Function::Put => Call::Put(string(line.value, "put")?),
        Function::Append => Call::Append(string(line.value, "append")?),
    };
    match (line.outcome, line.complete) {
        (Outcome::Ok, None) => return Err("an `ok` operation needs its `complete` time".into()),
        (Outcome::Ok, Some(c)) if c < line.invoke => {
            return Err(format!(
                "`complete` ({c}) is before `invoke` ({})",
                line.invoke
            ));
        }
        _ => {}
    }
    Ok(Operation {
        client: line.client,
        key: line.key,
        call,
        invoke: line.invoke,
        complete: line.complete,
        outcome: line.outcome,
    })
}

fn integer(value: Option<Value>, f: &str) -> Result<i64, String> {
    value
        .as_ref()
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("a `{f}` needs an integer `value`"))
}

fn string(value: Option<Value>, f: &str) -> Result<String, String> {
    match value {
        Some(Value::String(s)) => Ok(s),
        _ => Err(format!("a `{f}` needs a string `value`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_survives_writing_and_reading() {
        let text = concat!(
            r#"{"client":1,"f":"write","value":3,"invoke":10,"complete":14,"outcome":"ok"}"#,
            "\n",
            r#"{"client":2,"f":"cas","from":3,"to":4,"invoke":11,"outcome":"unknown"}"#,
            "\n",
            r#"{"client":3,"f":"read","value":null,"invoke":12,"complete":13,"outcome":"ok"}"#,
            "\n",
            r#"{"client":4,"key":"k","f":"append","value":"ab","invoke":1,"complete":2,"outcome":"fail"}"#,
            "\n",
        );
        let (history, lines) = parse(text).unwrap();
        assert_eq!(lines, [1, 2, 3, 4]);
        assert_eq!(history.operations[1].call, Call::Cas { from: 3, to: 4 });
        assert_eq!(history.operations[2].call, Call::Read(None));
        assert_eq!(history.to_json_lines(), text);
    }

    #[test]
    fn errors_say_where() {
        let err = parse("\n{\"client\":1,\"f\":\"wrote\"}").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(
            err.col > 1 && err.message.contains("unknown variant"),
            "{err}"
        );
        // serde_json counts bytes; the column is in characters (found by fuzzing).
        let err = parse(r#"{"key":"ééé","bad":1}"#).unwrap_err();
        assert_eq!((err.line, err.col), (1, 18), "{err}");
        let err =
            parse(r#"{"client":1,"f":"cas","from":1,"invoke":1,"outcome":"fail"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:1: a `cas` needs integers `from` and `to`"
        );
        let err =
            parse(r#"{"client":1,"f":"write","value":1,"invoke":5,"complete":4,"outcome":"ok"}"#)
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "1:1: `complete` (4) is before `invoke` (5)"
        );
    }
}
