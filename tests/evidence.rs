//! Keeping the evidence: `continue_on_error`, soft assertions and several metrics per step,
//! driven through the binary.

mod common;

use common::{code, run, scratch, step};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn continue_on_error_reports_the_failure_and_the_run_goes_on_and_passes() {
    let dir = scratch("evidence-continue");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "evidence"
[[steps]]
name = "flaky"
uses = "exec"
with = { argv = ["sh", "-c", "echo boom >&2; exit 3"] }
continue_on_error = true
[[steps]]
name = "after"
uses = "exec"
with = { argv = ["true"] }
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let run = &report["runs"][0];
    assert_eq!(run["status"], "passed");
    let flaky = step(&report, "flaky");
    assert_eq!(flaky["status"], "failed");
    assert_eq!(flaky["tolerated"], true);
    assert_eq!(flaky["warnings"].as_array().unwrap().len(), 1, "{flaky:#}");
    assert_eq!(step(&report, "after")["status"], "passed");
    let text = stdout(&out);
    assert!(
        text.contains("warning: failed (continue_on_error)"),
        "{text}"
    );
    assert!(
        text.contains("1 passed, 1 failed (1 tolerated by continue_on_error), 1 warning"),
        "{text}"
    );
}

#[test]
fn a_failure_without_continue_on_error_still_fails_the_run() {
    let dir = scratch("evidence-mixed");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "evidence"
[[steps]]
name = "tolerated"
uses = "exec"
with = { argv = ["false"] }
continue_on_error = true
[[steps]]
name = "fatal"
uses = "exec"
with = { argv = ["false"] }
[[steps]]
name = "never"
uses = "exec"
with = { argv = ["true"] }
"#,
        &[],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert_eq!(report["runs"][0]["status"], "failed");
    assert_eq!(step(&report, "fatal")["tolerated"], false);
    assert!(
        report["runs"][0]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "never")
    );
}

#[test]
fn a_soft_assertion_warns_and_passes() {
    let dir = scratch("evidence-soft");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "evidence"
[vars]
n = 3
[[steps]]
id = "check"
name = "check"
uses = "assert"
with = { that = ["vars.n == 3", "vars.n > 5"], soft = true }
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let check = step(&report, "check");
    assert_eq!(check["status"], "passed");
    assert_eq!(check["output"]["failed"], 1);
    let warnings = check["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .starts_with("assertion failed: vars.n > 5"),
        "{warnings:?}"
    );
    assert!(stdout(&out).contains("warning: assertion failed: vars.n > 5"));
}

#[test]
fn record_as_a_table_records_several_metrics() {
    let dir = scratch("evidence-record");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "evidence"
[[steps]]
id = "count"
uses = "exec"
with = { argv = ["echo", "hello"] }
record = { code = "output.exit_code", length = "output.stdout | length" }
[[steps]]
uses = "assert"
with.that = ["metrics.code == 0", "metrics.length == 6"]
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(
        report["runs"][0]["metrics"],
        serde_json::json!({"code": 0.0, "length": 6.0})
    );
}
