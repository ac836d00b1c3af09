//! Parser for `.env` and `env_file` files: `KEY=VALUE` lines.
//!
//! Kept deliberately simple (no interpolation, no multi-line values) but
//! accepting what people commonly write: comments, blank lines, an optional
//! `export ` prefix, single quotes (literal) and double quotes (with `\n`,
//! `\t`, `\"` and `\\` escapes), and ` # comments` after unquoted values.

use std::collections::BTreeMap;

/// Parses the whole file; on error returns the 1-based line number and why.
pub(crate) fn parse(content: &str) -> Result<BTreeMap<String, String>, (usize, String)> {
    let mut vars = BTreeMap::new();
    for (index, raw) in content.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (key, value) = parse_line(line).map_err(|msg| (index + 1, msg))?;
        vars.insert(key, value);
    }
    Ok(vars)
}

fn parse_line(line: &str) -> Result<(String, String), String> {
    let Some((key, value)) = line.split_once('=') else {
        return Err(format!("expected KEY=VALUE, found \"{line}\""));
    };
    let key = key.trim();
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Err(format!("invalid variable name \"{key}\""));
    }
    let value = value.trim_start();
    let value = if let Some(quoted) = value.strip_prefix('\'') {
        let (inner, rest) = quoted
            .split_once('\'')
            .ok_or_else(|| format!("unterminated single quote in value of \"{key}\""))?;
        expect_comment_only(rest, key)?;
        inner.to_owned()
    } else if let Some(quoted) = value.strip_prefix('"') {
        let (inner, rest) = double_quoted(quoted)
            .ok_or_else(|| format!("unterminated double quote in value of \"{key}\""))?;
        expect_comment_only(rest, key)?;
        inner
    } else {
        let end = value.find(" #").or_else(|| value.find("\t#"));
        value[..end.unwrap_or(value.len())].trim_end().to_owned()
    };
    Ok((key.to_owned(), value))
}

/// Unescapes a double-quoted value; returns it and the text after the closing quote.
fn double_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                other @ ('"' | '\\' | '$') => out.push(other),
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            _ => out.push(c),
        }
    }
    None
}

fn expect_comment_only(rest: &str, key: &str) -> Result<(), String> {
    let rest = rest.trim();
    if rest.is_empty() || rest.starts_with('#') {
        Ok(())
    } else {
        Err(format!(
            "unexpected text after the quoted value of \"{key}\""
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let vars = parse(
            "# comment\n\
             \n\
             PLAIN=value\n\
             SPACED = spaced value   \n\
             export EXPORTED=1\n\
             EMPTY=\n\
             COMMENTED=abc # trailing comment\n\
             HASH=a#b\n\
             SINGLE='lit $X \\n' # c\n\
             DOUBLE=\"a \\\"q\\\" \\n b\"\n\
             EQ=a=b\n",
        )
        .unwrap();
        let get = |k: &str| vars.get(k).map(String::as_str);
        assert_eq!(get("PLAIN"), Some("value"));
        assert_eq!(get("SPACED"), Some("spaced value"));
        assert_eq!(get("EXPORTED"), Some("1"));
        assert_eq!(get("EMPTY"), Some(""));
        assert_eq!(get("COMMENTED"), Some("abc"));
        assert_eq!(get("HASH"), Some("a#b"));
        assert_eq!(get("SINGLE"), Some("lit $X \\n"));
        assert_eq!(get("DOUBLE"), Some("a \"q\" \n b"));
        assert_eq!(get("EQ"), Some("a=b"));
        assert_eq!(vars.len(), 9);
    }

    #[test]
    fn later_lines_override_earlier_ones() {
        let vars = parse("A=1\nA=2\n").unwrap();
        assert_eq!(vars["A"], "2");
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("A=1\nnot a pair\n").unwrap_err().0, 2);
        assert!(
            parse("A='open\n")
                .unwrap_err()
                .1
                .contains("unterminated single quote")
        );
        assert!(
            parse("A=\"open\n")
                .unwrap_err()
                .1
                .contains("unterminated double quote")
        );
        assert!(
            parse("A=\"x\" y\n")
                .unwrap_err()
                .1
                .contains("unexpected text")
        );
        assert!(
            parse("BAD KEY=1\n")
                .unwrap_err()
                .1
                .contains("invalid variable name")
        );
        assert!(parse("=1\n").is_err());
    }
}
