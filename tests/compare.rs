//! `chaosplay compare` and `merge` on reports of real trial runs, and on reports written here
//! whose figures are known, so the output can be pinned.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{chaosplay, code, run_file, scratch, write};

/// A nap whose length comes from `--var`, recorded as a metric: NEW runs it longer.
const PLAYBOOK: &str = r#"
[scenario]
name = "recovery"
[vars]
nap = "20ms"
[[steps]]
name = "nap"
uses = "sleep"
with = { duration = "{{ vars.nap }}" }
record = "nap_ms"
"#;

/// Runs the playbook's trials with `nap` and returns the report's path.
fn trials(dir: &Path, name: &str, nap: &str, count: &str) -> PathBuf {
    let piece = dir.join(name);
    std::fs::create_dir_all(&piece).unwrap();
    let playbook = write(&piece, "playbook.toml", PLAYBOOK);
    let nap = format!("nap={nap}");
    let (out, _) = run_file(&piece, &playbook, &["--trials", count, "-q", "--var", &nap]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    piece.join("report.json")
}

fn compare(base: &Path, new: &Path, args: &[&str]) -> Output {
    chaosplay()
        .arg("compare")
        .args([base, new])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_slower_nap_is_a_regression() {
    let dir = scratch("compare-slower");
    let base = trials(&dir, "base", "20ms", "6");
    let new = trials(&dir, "new", "80ms", "6");
    let out = compare(&base, &new, &[]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.ends_with("regressed: recovery: metric nap_ms slower, step 01 nap slower\n"),
        "{text}"
    );
    // The other way round it got faster, which gates nothing.
    let out = compare(&new, &base, &[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).contains("faster"), "{}", stdout(&out));
}

#[test]
fn the_same_nap_is_no_change() {
    let dir = scratch("compare-same");
    let base = trials(&dir, "base", "50ms", "6");
    let new = trials(&dir, "new", "50ms", "6");
    // A generous threshold: this asserts the verdict, not the machine's scheduling noise.
    let out = compare(&base, &new, &["--threshold", "50%"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(stdout(&out).ends_with("no significant regression\n"));
    let out = compare(&base, &base, &["--format", "json"]);
    assert_eq!(code(&out), 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let nap = &json["scenarios"][0]["metrics"][0];
    assert_eq!(nap["verdict"], "no_significant_change", "{json:#}");
    assert_eq!(nap["difference"]["estimate"], 0.0);
    assert_eq!(
        nap["resolution"], 0.001,
        "a sleep is timed to the microsecond"
    );
}

#[test]
fn pieces_merged_compare_as_one_trial_set() {
    let dir = scratch("compare-merge");
    let first = trials(&dir, "first", "20ms", "2");
    let second = trials(&dir, "second", "20ms", "2");
    let merged = dir.join("merged.json");
    let out = chaosplay()
        .args(["merge", "-o"])
        .args([&merged, &first, &second])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 4);
    assert_eq!(report["summaries"][0]["trials"], 4);
    assert_eq!(report["summaries"][0]["metrics"]["nap_ms"]["count"], 4);
    // Two trials a side give no 95% interval; four do.
    let alone = compare(&first, &second, &["--format", "json"]);
    let alone: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
    assert!(alone["scenarios"][0]["metrics"][0]["difference"]["interval"].is_null());
    let out = compare(&merged, &merged, &["--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let interval = &json["scenarios"][0]["metrics"][0]["difference"]["interval"];
    assert!(interval.is_array(), "{json:#}");

    let again = chaosplay()
        .args(["merge", "-o"])
        .args([&dir.join("twice.json"), &merged, &first])
        .output()
        .unwrap();
    assert_eq!(code(&again), 2);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("it would count twice"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// A report of `trials` runs of `scenario`, with the given `time_to_up_ms` values (polled
/// every second), step durations of 10 ms and a failure in the trials listed in `failed`.
fn synthetic(dir: &Path, name: &str, scenario: &str, values: &[f64], failed: &[usize]) -> PathBuf {
    let runs: Vec<serde_json::Value> = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let status = if failed.contains(&i) {
                "failed"
            } else {
                "passed"
            };
            serde_json::json!({
                "name": scenario,
                "file": "scenario.toml",
                "matrix": {},
                "seed": i,
                "trial": i + 1,
                "started_at": format!("2025-06-01T09:30:{i:02}.000000Z"),
                "status": status,
                "metrics": { "time_to_up_ms": value },
                "resolutions": { "time_to_up_ms": 1000.0 },
                "steps": [{
                    "phase": "steps", "index": 0, "name": "wait", "status": "passed",
                    "duration_us": 10_000 + i, "resolution_us": null,
                }],
            })
        })
        .collect();
    let report = serde_json::json!({
        "format": "chaosplay-report/1",
        "tool_version": "0.1.0",
        "exit_code": 0,
        "summaries": [],
        "runs": runs,
    });
    write(dir, name, &report.to_string())
}

#[test]
fn markdown_for_a_step_summary() {
    let dir = scratch("compare-markdown");
    synthetic(
        &dir,
        "base.json",
        "tikv-node-kill",
        &[
            4100.0, 4000.0, 5200.0, 4300.0, 3900.0, 4200.0, 4050.0, 4400.0,
        ],
        &[],
    );
    synthetic(
        &dir,
        "new.json",
        "tikv-node-kill",
        &[
            8200.0, 9100.0, 8400.0, 7900.0, 8800.0, 8300.0, 8600.0, 8000.0,
        ],
        &[5, 6, 7],
    );
    let out = chaosplay()
        .current_dir(&dir)
        .args(["compare", "base.json", "new.json", "--format", "markdown"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 1);
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn a_shift_within_the_polling_resolution_is_not_significant() {
    let dir = scratch("compare-resolution");
    let values = [4000.0, 4010.0, 4020.0, 4030.0, 4040.0, 4050.0];
    let base = synthetic(&dir, "base.json", "s", &values, &[]);
    let shifted: Vec<f64> = values.iter().map(|v| v + 900.0).collect();
    let new = synthetic(&dir, "new.json", "s", &shifted, &[]);
    let out = compare(&base, &new, &[]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("no significant change (within the resolution, 1000)"),
        "{}",
        stdout(&out)
    );
    // Twice the shift is beyond the resolution.
    let shifted: Vec<f64> = values.iter().map(|v| v + 1800.0).collect();
    let new = synthetic(&dir, "new.json", "s", &shifted, &[]);
    let out = compare(&base, &new, &[]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
}

#[test]
fn different_scenarios_or_unreadable_reports_are_usage_errors() {
    let dir = scratch("compare-mismatch");
    let base = synthetic(&dir, "base.json", "one", &[1.0, 2.0], &[]);
    let new = synthetic(&dir, "new.json", "other", &[1.0, 2.0], &[]);
    let out = compare(&base, &new, &[]);
    assert_eq!(code(&out), 2);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: the reports are of different scenarios: BASE has `one`, NEW has `other`\n"
    );
    let not_json = write(&dir, "not.json", "{");
    let out = compare(&base, &not_json, &[]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not JSON"));
    let out = compare(&base, &dir.join("missing.json"), &[]);
    assert_eq!(code(&out), 2);
    let out = compare(&base, std::path::Path::new("/dev/zero"), &[]);
    assert_eq!(code(&out), 2, "read forever before");
    assert!(String::from_utf8_lossy(&out.stderr).contains("it is not a file"));
    let out = compare(&base, &base, &["--confidence", "100%"]);
    assert_eq!(code(&out), 2, "clap refuses it");
}

#[test]
fn polled_durations_carry_their_resolution() {
    let dir = scratch("compare-resolutions");
    let (out, report) = common::run(
        &dir,
        r#"
[scenario]
name = "polls"
[[steps]]
name = "poll"
uses = "exec"
with = { argv = ["true"] }
until = "output.exit_code == 0"
interval = "250ms"
record = "poll_ms"
[[steps]]
name = "retried"
uses = "exec"
with = { argv = ["sh", "-c", "test -e marker || { touch marker; exit 1; }"] }
retry = { attempts = 2, delay = "30ms" }
record = "retried_ms"
[[steps]]
name = "count"
uses = "exec"
with = { argv = ["echo", "3"] }
record = { name = "three", value = "output.stdout | trim | int" }
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let run = &report["runs"][0];
    assert_eq!(run["steps"][0]["resolution_us"], 250_000);
    assert_eq!(
        run["steps"][1]["resolution_us"], 30_000,
        "the retry's delay"
    );
    assert!(run["steps"][2]["resolution_us"].is_null());
    assert_eq!(
        run["resolutions"],
        serde_json::json!({"poll_ms": 250.0, "retried_ms": 30.0}),
        "a value from an expression has no known resolution"
    );
}
