//! GitHub Actions: annotations on failed steps and the job summary, through the binary.

mod common;

use common::{code, run_file_env, scratch, write};

const PLAYBOOK: &str = r#"[scenario]
name = "gha"
[matrix]
fault = ["kill", "pause"]
[[steps]]
name = "nap"
uses = "sleep"
with = { duration = "1ms" }
record = "nap_ms"
[[steps]]
name = "check"
uses = "assert"
with.that = ["matrix.fault == 'kill'"]
"#;

#[test]
fn failed_steps_are_annotated_and_summarised() {
    let dir = scratch("github");
    let path = write(&dir, "gha.toml", PLAYBOOK);
    let summary = dir.join("summary.md");
    std::fs::write(&summary, "before\n").unwrap();
    let (out, _) = run_file_env(
        &dir,
        &path,
        &["--trials", "2", "--seed", "5", "-q"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&out), 1);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(
        errors.len(),
        2,
        "one per failing trial of the pause cell:\n{stdout}"
    );
    let prefix = format!(
        "::error file={},line=12,title=gha [fault=pause]%3A check::",
        path.display()
    );
    assert!(errors[0].starts_with(&prefix), "{}", errors[0]);
    assert!(
        errors[0].contains("matrix.fault == 'kill'"),
        "{}",
        errors[0]
    );

    let md = std::fs::read_to_string(&summary).unwrap();
    assert!(md.starts_with("before\n## chaosplay\n"), "appended:\n{md}");
    assert!(md.contains("| gha [fault=kill] | ✅ passed |"), "{md}");
    assert!(md.contains("| gha [fault=pause] | ❌ failed |"), "{md}");
    assert!(md.contains("| 5 |"), "the seed of trial 1:\n{md}");
    assert!(md.contains("check (line 12): "), "{md}");
    assert!(
        md.contains("### gha [fault=kill] — 2/2 trials passed (100%)"),
        "{md}"
    );
    assert!(
        md.contains("### gha [fault=pause] — 0/2 trials passed (0%)"),
        "{md}"
    );
    assert!(md.contains("| metric `nap_ms` |"), "{md}");
}

#[test]
fn nothing_extra_outside_github_actions() {
    let dir = scratch("github-off");
    let path = write(&dir, "gha.toml", PLAYBOOK);
    let summary = dir.join("summary.md");
    let (out, _) = run_file_env(
        &dir,
        &path,
        &["-q"],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert_eq!(code(&out), 1);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("::error"));
    assert!(!summary.exists());
}
