//! Masking `[secrets]` in everything the run reports. A secret rarely reaches a report as
//! written: an assertion shows values JSON-escaped, a template or `{:?}` escapes them the Rust
//! way, a URL carries them percent-encoded, XML and HTML carry entities. Rather than list whole
//! encoded forms (encoders differ in which characters they escape, so a secret can appear half
//! escaped), every character of a secret may match any way the tool or its libraries spell
//! that character. Secrets of any length are masked, as GitHub Actions does: a one-character
//! secret hides every occurrence of that character, which is noisy but never leaks it.

use std::collections::HashSet;

/// What a secret's value becomes in reports and logs.
pub const REDACTED: &str = "••••";

/// The secrets of a run, each as the spellings of its characters, longest secret first: where
/// secrets overlap, the longest is masked whole rather than leaving the rest of it in view.
#[derive(Debug, Default)]
pub struct Secrets(Vec<Vec<Vec<String>>>);

impl Secrets {
    pub fn new(values: &[String]) -> Self {
        let mut secrets: Vec<Vec<Vec<String>>> = values
            .iter()
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().map(spellings).collect())
            .collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Secrets(secrets)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of a secret, in any of its spellings, replaced by
    /// [`REDACTED`].
    pub fn mask(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match self.0.iter().find_map(|secret| matched(secret, rest)) {
                Some(len) => {
                    out.push_str(REDACTED);
                    rest = &rest[len..];
                }
                None => {
                    out.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        out
    }
}

/// How many bytes at the start of `text` spell `secret` (given as its characters'
/// spellings), trying longer spellings first so that `\\` is taken whole rather than as a
/// lone `\`, and backtracking when a choice leads nowhere.
fn matched(secret: &[Vec<String>], text: &str) -> Option<usize> {
    matched_from(secret, 0, text, 0, &mut HashSet::new())
}

/// [`matched`] from character `at` of the secret and byte `offset` of the text. Dead ends are
/// remembered: a secret of many backslashes can be spelled in exponentially many ways, and
/// without that memory a near miss would try them all.
fn matched_from(
    secret: &[Vec<String>],
    at: usize,
    text: &str,
    offset: usize,
    dead: &mut HashSet<(usize, usize)>,
) -> Option<usize> {
    let Some(spellings) = secret.get(at) else {
        return Some(offset);
    };
    if dead.contains(&(at, offset)) {
        return None;
    }
    let found = spellings.iter().find_map(|spelling| {
        let next = offset + spelling.len();
        text[offset..]
            .starts_with(spelling.as_str())
            .then(|| matched_from(secret, at + 1, text, next, dead))
            .flatten()
    });
    if found.is_none() {
        dead.insert((at, offset));
    }
    found
}

/// Every way the tool may write `c`, longest first: as itself; Rust-escaped (`{:?}`,
/// minijinja's debug output); JSON-escaped (serde_json, and minijinja's `tojson`, which also
/// escapes `<`, `>`, `&`, `'`); percent-encoded in either case, with `+` for a space (URLs
/// as sent, and as servers echo them back); and as an XML or HTML entity (quick-junit, the
/// HTML report, minijinja's autoescape).
fn spellings(c: char) -> Vec<String> {
    let mut all = vec![c.to_string(), c.escape_debug().to_string()];
    all.push(format!("\\u{{{:x}}}", c as u32));
    all.extend(json_escapes(c));
    all.extend(percent_encodings(c));
    all.extend(entities(c));
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
    all
}

fn json_escapes(c: char) -> Vec<String> {
    let short = match c {
        '"' => Some("\\\""),
        '\\' => Some("\\\\"),
        '/' => Some("\\/"),
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        '\t' => Some("\\t"),
        '\u{8}' => Some("\\b"),
        '\u{c}' => Some("\\f"),
        _ => None,
    };
    let mut units = [0; 2];
    let utf16 = c.encode_utf16(&mut units);
    let lower: String = utf16.iter().map(|u| format!("\\u{u:04x}")).collect();
    let upper: String = utf16.iter().map(|u| format!("\\u{u:04X}")).collect();
    short
        .map(String::from)
        .into_iter()
        .chain([lower, upper])
        .collect()
}

fn percent_encodings(c: char) -> Vec<String> {
    let mut utf8 = [0; 4];
    let bytes = c.encode_utf8(&mut utf8).as_bytes();
    let upper: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
    let lower: String = bytes.iter().map(|b| format!("%{b:02x}")).collect();
    let plus = (c == ' ').then(|| "+".to_string());
    [upper, lower].into_iter().chain(plus).collect()
}

fn entities(c: char) -> Vec<String> {
    let named = match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        _ => None,
    };
    let code = c as u32;
    let numeric = [
        format!("&#{code};"),
        format!("&#x{code:x};"),
        format!("&#x{code:X};"),
    ];
    named.map(String::from).into_iter().chain(numeric).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWKWARD: &str = "a\"b\\c'd<e>f&g%h+i j/k?l=mé\nn\to";

    fn masks_all(secret: &str, forms: &[String]) {
        let secrets = Secrets::new(&[secret.to_string()]);
        for form in forms {
            let text = format!("before {form} after");
            assert_eq!(
                secrets.mask(&text),
                format!("before {REDACTED} after"),
                "form {form:?}"
            );
        }
    }

    #[test]
    fn every_encoding_the_tool_produces_is_masked() {
        let unquote = |quoted: String| quoted[1..quoted.len() - 1].to_string();
        let minijinja = |template: &str| {
            let env = crate::template::environment();
            env.render_str(template, minijinja::context! { s => AWKWARD })
                .unwrap()
        };
        let mut escaped_url = reqwest::Url::parse("http://127.0.0.1/").unwrap();
        escaped_url.query_pairs_mut().append_pair("q", AWKWARD);
        let form = escaped_url.query().unwrap().strip_prefix("q=").unwrap();
        masks_all(
            AWKWARD,
            &[
                AWKWARD.to_string(),
                unquote(serde_json::to_string(AWKWARD).unwrap()),
                unquote(format!("{AWKWARD:?}")),
                unquote(format!("{:?}", minijinja::Value::from(AWKWARD))),
                unquote(minijinja("{{ s | tojson }}")),
                minijinja("{% autoescape true %}{{ s }}{% endautoescape %}"),
                form.to_string(),
            ],
        );
    }

    #[test]
    fn a_partly_encoded_secret_is_masked() {
        masks_all(
            "a b/c",
            &["a%20b/c".into(), "a+b%2Fc".into(), "a%20b%2fc".into()],
        );
    }

    #[test]
    fn overlapping_secrets_are_masked_whole() {
        let secrets = Secrets::new(&["ab".into(), "abcd".into()]);
        assert_eq!(
            secrets.mask("xabcdx ab"),
            format!("x{REDACTED}x {REDACTED}")
        );
    }

    #[test]
    fn the_longest_spelling_is_taken() {
        let secrets = Secrets::new(&["a\\".into()]);
        assert_eq!(secrets.mask(r#""a\\""#), format!("\"{REDACTED}\""));
    }

    #[test]
    fn a_secret_with_many_spellings_is_matched_in_polynomial_time() {
        let secret = format!("{}x", "\\".repeat(40));
        let text = format!("{}y", "\\".repeat(80));
        let started = std::time::Instant::now();
        assert_eq!(Secrets::new(&[secret]).mask(&text), text);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_one_character_secret_masks_every_occurrence() {
        let secrets = Secrets::new(&["&".into(), String::new()]);
        assert_eq!(
            secrets.mask("a & b &amp; c %26"),
            format!("a {REDACTED} b {REDACTED} c {REDACTED}")
        );
    }
}
