//! `${VAR}` interpolation with the syntax and semantics of Docker Compose.
//!
//! Supported: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?message}`, `${VAR?message}`, `${VAR:+replacement}`,
//! `${VAR+replacement}`, and `$$` for a literal `$`. Defaults and replacements
//! may themselves contain interpolations (`${A:-${B:-x}}`). As in Compose, a
//! variable used without a default that is not set becomes the empty string;
//! the caller is told so it can warn, because that is usually a typo.

use std::collections::BTreeMap;

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InterpolationError {
    /// `${NAME?message}` or `${NAME:?message}` with `NAME` missing (or empty for `:?`).
    Missing {
        name: String,
        message: Option<String>,
    },
    /// Malformed syntax, e.g. an unterminated `${` or a lone `$`.
    Invalid(String),
}

/// Expands every `$` form in `input` using `vars`.
///
/// Names of variables that were referenced without a default but are not
/// set are appended to `unset`.
pub(crate) fn interpolate(
    input: &str,
    vars: &BTreeMap<String, String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let end = closing_brace(body_and_tail).ok_or_else(|| {
                InterpolationError::Invalid(format!("unterminated \"${{\" in \"{input}\""))
            })?;
            out.push_str(&braced(&body_and_tail[..end], vars, unset)?);
            rest = &body_and_tail[end + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(InterpolationError::Invalid(format!(
                    "invalid interpolation in \"{input}\": \"$\" must start a variable \
                     (write \"$$\" for a literal dollar sign)"
                )));
            }
            let name = &after[..len];
            match vars.get(name) {
                Some(value) => out.push_str(value),
                None => unset.push(name.to_owned()),
            }
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Length in bytes of the variable name at the start of `s` (0 if none).
fn name_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if !bytes
        .first()
        .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
    {
        return 0;
    }
    bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count()
}

/// Index of the `}` closing a `${`, skipping nested `${...}` and `$$`.
fn closing_brace(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'$', Some(b'$')) => i += 1,
            (b'$', Some(b'{')) => {
                depth += 1;
                i += 1;
            }
            (b'}', _) if depth == 0 => return Some(i),
            (b'}', _) => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Evaluates the inside of `${...}`.
fn braced(
    body: &str,
    vars: &BTreeMap<String, String>,
    unset: &mut Vec<String>,
) -> Result<String, InterpolationError> {
    let len = name_len(body);
    if len == 0 {
        return Err(InterpolationError::Invalid(format!(
            "invalid variable name in \"${{{body}}}\""
        )));
    }
    let (name, modifier) = body.split_at(len);
    let value = vars.get(name);
    if modifier.is_empty() {
        if value.is_none() {
            unset.push(name.to_owned());
        }
        return Ok(value.cloned().unwrap_or_default());
    }
    let (colon, op_and_word) = match modifier.strip_prefix(':') {
        Some(rest) => (true, rest),
        None => (false, modifier),
    };
    // With `:`, a set-but-empty variable counts as missing.
    let present = value.filter(|v| !(colon && v.is_empty()));
    let mut chars = op_and_word.chars();
    let op = chars.next();
    let word = chars.as_str();
    match (op, present) {
        (Some('-'), Some(v)) | (Some('?'), Some(v)) => Ok(v.clone()),
        (Some('-'), None) | (Some('+'), Some(_)) => interpolate(word, vars, unset),
        (Some('+'), None) => Ok(String::new()),
        (Some('?'), None) => Err(InterpolationError::Missing {
            name: name.to_owned(),
            message: (!word.is_empty()).then(|| word.to_owned()),
        }),
        _ => Err(InterpolationError::Invalid(format!(
            "invalid interpolation \"${{{body}}}\": expected \"}}\", \":-\", \"-\", \":?\", \"?\", \":+\" or \"+\" after the name"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("SET", "value"),
            ("EMPTY", ""),
            ("TAG", "v1"),
            ("NUM_2", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn expand(s: &str) -> Result<String, InterpolationError> {
        interpolate(s, &vars(), &mut Vec::new())
    }

    fn ok(s: &str) -> String {
        expand(s).unwrap()
    }

    #[test]
    fn plain_and_braced_forms() {
        assert_eq!(ok("image:$TAG"), "image:v1");
        assert_eq!(ok("image:${TAG}-x"), "image:v1-x");
        assert_eq!(ok("$TAG$NUM_2."), "v12.");
        assert_eq!(ok("no vars at all"), "no vars at all");
        assert_eq!(ok("ünïcode ${TAG} ✓"), "ünïcode v1 ✓");
    }

    #[test]
    fn dollar_escape() {
        assert_eq!(ok("$$HOME"), "$HOME");
        assert_eq!(ok("a$$$TAG"), "a$v1");
        assert_eq!(ok("$${TAG}"), "${TAG}");
    }

    #[test]
    fn default_with_and_without_colon() {
        assert_eq!(ok("${UNSET:-d}"), "d");
        assert_eq!(ok("${EMPTY:-d}"), "d");
        assert_eq!(ok("${SET:-d}"), "value");
        assert_eq!(ok("${UNSET-d}"), "d");
        assert_eq!(ok("${EMPTY-d}"), "");
        assert_eq!(ok("${SET-d}"), "value");
        assert_eq!(ok("${UNSET:-}"), "");
        assert_eq!(ok("${UNSET:-a:b-c}"), "a:b-c");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(ok("${UNSET:-${TAG}}"), "v1");
        assert_eq!(ok("${UNSET:-${ALSO_UNSET:-deep}}"), "deep");
        assert_eq!(ok("${UNSET:-$$}"), "$");
    }

    #[test]
    fn replacement_forms() {
        assert_eq!(ok("${SET:+yes}"), "yes");
        assert_eq!(ok("${EMPTY:+yes}"), "");
        assert_eq!(ok("${EMPTY+yes}"), "yes");
        assert_eq!(ok("${UNSET+yes}"), "");
    }

    #[test]
    fn required_variables() {
        assert_eq!(ok("${SET:?boom}"), "value");
        assert_eq!(ok("${EMPTY?boom}"), "");
        assert_eq!(
            expand("x ${EMPTY:?must be set}"),
            Err(InterpolationError::Missing {
                name: "EMPTY".into(),
                message: Some("must be set".into())
            })
        );
        assert_eq!(
            expand("${UNSET?}"),
            Err(InterpolationError::Missing {
                name: "UNSET".into(),
                message: None
            })
        );
    }

    #[test]
    fn unset_without_default_is_empty_and_reported() {
        let mut unset = Vec::new();
        let out = interpolate("a${NOPE}b$ALSO_NOPE", &vars(), &mut unset).unwrap();
        assert_eq!(out, "ab");
        assert_eq!(unset, ["NOPE", "ALSO_NOPE"]);
        let mut unset = Vec::new();
        interpolate("${NOPE:-x}${EMPTY}", &vars(), &mut unset).unwrap();
        assert!(unset.is_empty());
    }

    #[test]
    fn malformed_templates() {
        for bad in [
            "cost: 5$", "$ 1", "$1", "${", "${TAG", "${}", "${1A}", "${TAG!x}",
        ] {
            assert!(
                matches!(expand(bad), Err(InterpolationError::Invalid(_))),
                "{bad:?} should be invalid"
            );
        }
        let Err(InterpolationError::Invalid(msg)) = expand("5$") else {
            panic!()
        };
        assert!(msg.contains("$$"), "{msg}");
    }
}
