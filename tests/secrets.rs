//! `[secrets]`: values read from the environment reach the steps but never a report or a log.

mod common;

use common::http::serve;
use common::{chaosplay, code, scratch, write};

const SECRET: &str = "hunter2-s3cr3t-value";

#[test]
fn secrets_are_used_but_never_shown() {
    let (port, received) = serve(vec![(200, "application/json", r#"{"ok":true}"#)]);
    let dir = scratch("secrets");
    let playbook = format!(
        r#"
[scenario]
name = "secrets"
[secrets]
token = "CHAOSPLAY_TEST_TOKEN"
[[monitors]]
name = "echo"
uses = "log"
with = {{ message = "m {{{{ vars.token }}}}" }}
interval = "100ms"
show = "{{{{ output.message }}}}"
[[steps]]
id = "call"
uses = "http.request"
with = {{ url = "http://127.0.0.1:{port}/", headers = {{ authorization = "Bearer {{{{ vars.token }}}}" }} }}
[[steps]]
id = "echo"
uses = "exec"
with = {{ argv = ["echo", "{{{{ vars.token }}}}"] }}
[[steps]]
uses = "log"
with = {{ message = "token is {{{{ vars.token }}}}" }}
[[steps]]
uses = "assert"
with.that = ["vars.token == 'something else'"]
"#
    );
    let path = write(&dir, "p.toml", &playbook);
    let report = dir.join("report.json");
    let out = chaosplay()
        .env("CHAOSPLAY_TEST_TOKEN", SECRET)
        .arg("run")
        .arg(&path)
        .arg("--report-json")
        .arg(&report)
        .arg("-v")
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "the assertion fails by design");
    let got = received.recv().unwrap();
    assert!(
        got.headers
            .iter()
            .any(|h| h.ends_with(&format!("Bearer {SECRET}"))),
        "the step used the secret"
    );
    let report = std::fs::read_to_string(&report).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (what, text) in [
        ("report", report.as_str()),
        ("stdout", &stdout),
        ("stderr", &String::from_utf8_lossy(&out.stderr)),
    ] {
        assert!(
            !text.contains(SECRET),
            "the secret leaked into {what}:\n{text}"
        );
    }
    assert!(report.contains("Bearer ••••"), "{report}");
    assert!(stdout.contains("token is ••••"), "{stdout}");
    assert!(
        stdout.contains("vars.token = \"••••\""),
        "the failed assertion shows the masked value: {stdout}"
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
