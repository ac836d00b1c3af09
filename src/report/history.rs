//! What `chaosplay check` prints: one line per history file, as text or JSON, and the
//! diagnostics of files that cannot be read.

use serde_json::{Value, json};

use crate::diagnostic::{Diagnostic, Source};
use crate::history::files::{Checked, FileError};
use crate::history::linearizability::Violation;
use crate::history::{Format, Operation, Outcome, Parsed, Verdict, json_lines};

/// `<file>: linearizable`, `<file>: not linearizable — <why>` or `<file>: unknown — <why>`;
/// nothing for a file that cannot be read (see [`diagnostic`]).
pub fn text(checked: &Checked) -> Option<String> {
    let (parsed, verdict) = checked.result.as_ref().ok()?;
    let file = checked.path.display();
    Some(match verdict {
        Verdict::Linearizable => format!("{file}: linearizable\n"),
        Verdict::NotLinearizable(v) => format!("{file}: not linearizable — {}\n", why(v, parsed)),
        Verdict::Unknown(exhausted) => {
            format!("{file}: unknown — {exhausted} before a verdict\n")
        }
    })
}

/// The blocked operation(s), the longest legal prefix and the state(s) it leaves. Jepsen and
/// EDN histories are timed by line number, so their operations are shown with their lines.
pub fn why(v: &Violation, parsed: &Parsed) -> String {
    let by_line = parsed.format != Format::JsonLines;
    let op = |&i: &usize| describe(&parsed.history.operations[i], by_line);
    let key = v
        .key
        .as_ref()
        .map(|k| format!("key {k:?}: "))
        .unwrap_or_default();
    let blocked: Vec<String> = v.blocked.iter().map(op).collect();
    let prefix = match v.prefix.last() {
        Some(last) => format!(
            "the longest legal orders found place {} of its {} operations (one ends with {})",
            v.prefix.len(),
            v.operations,
            op(last)
        ),
        None => format!("no operation of its {} can go first", v.operations),
    };
    format!(
        "{key}{prefix}, leaving the {} at {}; {} cannot be placed after them",
        parsed.model,
        v.states.join(" or "),
        blocked.join(" nor ")
    )
}

/// `client 3 read → 2 [85, 86]`, or `(lines 85–86)`; an unknown operation ends at `∞`.
pub fn describe(op: &Operation, by_line: bool) -> String {
    let unknown = op.outcome == Outcome::Unknown;
    let call = if unknown {
        format!("{} (unknown)", op.call)
    } else {
        op.call.to_string()
    };
    let end = match op.complete.filter(|_| !unknown) {
        Some(t) => t.to_string(),
        None => "∞".to_string(),
    };
    match by_line {
        true if unknown => format!("client {} {call} (from line {})", op.client, op.invoke),
        true => format!("client {} {call} (lines {}–{end})", op.client, op.invoke),
        false => format!("client {} {call} [{}, {end}]", op.client, op.invoke),
    }
}

/// One JSON object per file (JSON lines): `verdict` is `linearizable`, `not_linearizable`,
/// `unknown` or `error`.
pub fn json(checked: &Checked) -> String {
    let mut line = json!({
        "file": checked.path.display().to_string(),
        "elapsed_ms": checked.elapsed.as_secs_f64() * 1000.0,
        "search_bytes": checked.held_bytes,
    });
    let fields = match &checked.result {
        Err(e) => json!({ "verdict": "error", "error": error_text(e) }),
        Ok((parsed, verdict)) => {
            let ops = |ids: &[usize]| -> Vec<Value> {
                ids.iter()
                    .map(|&i| {
                        serde_json::from_str(&json_lines::line(&parsed.history.operations[i]))
                            .expect("a history line is JSON")
                    })
                    .collect()
            };
            match verdict {
                Verdict::Linearizable => json!({ "verdict": "linearizable" }),
                Verdict::Unknown(e) => json!({ "verdict": "unknown", "reason": e.to_string() }),
                Verdict::NotLinearizable(v) => json!({
                    "verdict": "not_linearizable",
                    "key": v.key,
                    "operations": v.operations,
                    "blocked": ops(&v.blocked),
                    "states": v.states,
                    "prefix": ops(&v.prefix),
                }),
            }
        }
    };
    let (Value::Object(line_fields), Value::Object(more)) = (&mut line, fields) else {
        unreachable!("both are objects")
    };
    line_fields.insert("model".into(), model_name(checked));
    line_fields.extend(more);
    line.to_string() + "\n"
}

fn model_name(checked: &Checked) -> Value {
    match &checked.result {
        Ok((parsed, _)) => parsed.model.to_string().into(),
        Err(_) => Value::Null,
    }
}

fn error_text(e: &FileError) -> String {
    match e {
        FileError::Read(e) => format!("cannot read it: {e}"),
        FileError::Parse(e, _) => e.to_string(),
    }
}

/// For a file that cannot be read or parsed: `error: …` with `--> file:line:col` and the line.
pub fn diagnostic(checked: &Checked) -> Option<String> {
    let path = checked.path.display();
    match checked.result.as_ref().err()? {
        FileError::Read(e) => Some(format!("error: cannot read {path}: {e}\n")),
        FileError::Parse(e, text) => {
            let source = Source::new(&checked.path, text.as_str());
            let offset = source.offset(e.line, e.col);
            let span = offset..offset + text[offset..].chars().next().map_or(0, char::len_utf8);
            Some(Diagnostic::new(&e.message, Some(span)).render(&source))
        }
    }
}
