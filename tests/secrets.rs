//! `[secrets]`: values read from the environment reach the steps but never a report or a log.

mod common;

use std::path::Path;

use common::http::serve;
use common::{chaosplay, code, scratch, write};

/// Every character that some encoding escapes: quotes and backslash (Rust and JSON), markup
/// (XML, HTML, minijinja's `tojson`), URL delimiters and `%`, `+`, space (percent-encoding),
/// a non-ASCII letter, a newline and a tab.
const TOKEN: &str = "Zq7K\"q8\\'<>&%+ /?=é\n\t-tok";
/// The same without what an HTTP header cannot carry (control and non-ASCII characters), for
/// the request's header and query.
const KEY: &str = "Kx9\"w\\'<>&%+ /?=-key";
const MASK: &str = "••••";

/// Every way the secret can be written by the tool or the libraries it uses: as is,
/// Rust-debug-escaped, JSON-escaped, percent-encoded (`%20` and `+` for a space), XML- and
/// HTML-escaped.
fn representations(secret: &str) -> Vec<String> {
    let unquote = |quoted: String| quoted[1..quoted.len() - 1].to_string();
    let percent: String = secret
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let markup = |apostrophe: &str| {
        secret
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', apostrophe)
    };
    vec![
        secret.to_string(),
        unquote(format!("{secret:?}")),
        unquote(serde_json::to_string(secret).unwrap()),
        percent.replace("%20", "+"),
        percent,
        markup("&apos;"),
        markup("&#39;"),
    ]
}

/// What a reader of `text` sees once the format's own escaping is undone, beside the text
/// itself: a secret escaped twice (an unmasked JSON-escaped value inside the JSON report) shows
/// here as escaped once.
fn views(path: &Path, text: &str) -> Vec<String> {
    let decoded = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => strings(&serde_json::from_str(text).unwrap()).join("\n"),
        Some("xml") => roxmltree::Document::parse(text)
            .unwrap()
            .descendants()
            .flat_map(|n| {
                let attributes = n.attributes().map(|a| a.value().to_string());
                n.text().map(String::from).into_iter().chain(attributes)
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some("html") => text
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
        // GitHub workflow commands.
        _ => text
            .replace("%0A", "\n")
            .replace("%0D", "\r")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%"),
    };
    vec![text.to_string(), decoded]
}

fn strings(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items.iter().flat_map(strings).collect(),
        serde_json::Value::Object(map) => map.values().flat_map(strings).collect(),
        _ => Vec::new(),
    }
}

/// `text` (from `path`) shows the mask, so it had something to hide, and no spelling of
/// either secret.
fn assert_masked(what: &str, path: &Path, text: &str) {
    assert!(text.contains(MASK), "nothing was masked in {what}:\n{text}");
    for view in views(path, text) {
        for secret in [TOKEN, KEY] {
            for form in representations(secret) {
                assert!(
                    !view.contains(&form),
                    "the secret leaked into {what} as {form:?}:\n{view}"
                );
            }
        }
    }
}

/// A server that echoes the query back, as diagnostics endpoints do: the key comes back
/// percent-encoded both ways, into the step's output.
fn echo_body() -> &'static str {
    let [percent, form] = [3, 4].map(|i| representations(KEY)[i].clone());
    let body =
        serde_json::json!({ "query": format!("key={percent}"), "form": format!("key={form}") });
    Box::leak(body.to_string().into_boxed_str())
}

#[test]
fn secrets_are_used_but_never_shown() {
    let (port, received) = serve(vec![(200, "application/json", echo_body())]);
    let dir = scratch("secrets");
    let playbook = format!(
        r#"
[scenario]
name = "secrets"
[secrets]
tok = "CHAOSPLAY_TEST_TOKEN"
key = "CHAOSPLAY_TEST_KEY"
[[monitors]]
name = "echo"
uses = "log"
with = {{ message = "m {{{{ vars.tok }}}}" }}
interval = "100ms"
show = "{{{{ output.message }}}}"
[[steps]]
id = "call"
uses = "http.request"
with = {{ url = "http://127.0.0.1:{port}/?key={{{{ vars.key }}}}", headers = {{ authorization = "Bearer {{{{ vars.key }}}}" }} }}
[[steps]]
id = "echo"
uses = "exec"
with = {{ argv = ["echo", "{{{{ vars.tok }}}}"] }}
[[steps]]
id = "json"
uses = "exec"
with = {{ argv = ["printf", "%s", "{{{{ vars.tok | tojson }}}}"] }}
[[steps]]
uses = "log"
with = {{ message = "token is {{{{ vars.tok }}}}" }}
[[steps]]
uses = "assert"
with.that = ["vars.tok == 'something else'"]
"#
    );
    let path = write(&dir, "p.toml", &playbook);
    let [json, junit, html, summary] =
        ["report.json", "report.xml", "report.html", "summary.md"].map(|name| dir.join(name));
    let out = chaosplay()
        .env("CHAOSPLAY_TEST_TOKEN", TOKEN)
        .env("CHAOSPLAY_TEST_KEY", KEY)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .arg("run")
        .arg(&path)
        .args(["--report-json", json.to_str().unwrap()])
        .args(["--report-junit", junit.to_str().unwrap()])
        .args(["--report-html", html.to_str().unwrap()])
        .arg("-v")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "the assertion fails by design");
    let got = received.recv().unwrap();
    assert!(
        got.headers
            .iter()
            .any(|h| h.ends_with(&format!("Bearer {KEY}"))),
        "the step used the secret in a header: {:?}",
        got.headers
    );
    assert!(
        got.request_line.contains("?key=Kx9%22w"),
        "the step sent the secret in the query: {}",
        got.request_line
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for file in [&json, &junit, &html, &summary] {
        let text = std::fs::read_to_string(file).unwrap();
        assert_masked(&file.display().to_string(), file, &text);
    }
    assert_masked("stdout", Path::new("stdout"), &stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for form in representations(TOKEN)
        .into_iter()
        .chain(representations(KEY))
    {
        assert!(
            !stderr.contains(&form),
            "the secret leaked into stderr as {form:?}:\n{stderr}"
        );
    }
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(report.contains("Bearer ••••"), "{report}");
    assert!(stdout.contains("token is ••••"), "{stdout}");
    assert!(
        stdout.contains("vars.tok = \"••••\""),
        "the failed assertion shows the masked value: {stdout}"
    );
    let annotation = stdout.lines().find(|l| l.starts_with("::error "));
    assert!(
        annotation.is_some_and(|a| a.contains("vars.tok = \"••••\"")),
        "the GitHub annotation names the variable, masked: {stdout}"
    );

    let plan = chaosplay()
        .env("CHAOSPLAY_TEST_TOKEN", TOKEN)
        .env("CHAOSPLAY_TEST_KEY", KEY)
        .arg("plan")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&plan), 0, "{}", String::from_utf8_lossy(&plan.stderr));
    assert_masked(
        "the plan",
        Path::new("plan"),
        &String::from_utf8_lossy(&plan.stdout),
    );
}

#[test]
fn a_missing_secret_is_a_validation_error() {
    let dir = scratch("secrets-missing");
    let path = write(
        &dir,
        "p.toml",
        "[scenario]\nname = \"x\"\n[secrets]\ntoken = \"CHAOSPLAY_TEST_UNSET_VAR\"\n[[steps]]\nuses = \"log\"\nwith = { message = \"hi\" }\n",
    );
    let out = chaosplay()
        .env_remove("CHAOSPLAY_TEST_UNSET_VAR")
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secret `token` reads $CHAOSPLAY_TEST_UNSET_VAR, which is not set"),
        "{stderr}"
    );
}
