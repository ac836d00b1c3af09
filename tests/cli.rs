//! The CLI's informational commands, and the generated artefacts that must not drift from the
//! code: the JSON Schema and the step catalogue.

mod common;

use common::{chaosplay, code};

fn stdout(args: &[&str]) -> String {
    let out = chaosplay().args(args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn committed(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn committed_schema_matches_the_code() {
    assert_eq!(
        committed("schemas/playbook.schema.json"),
        stdout(&["schema"]),
        "run `chaosplay schema > schemas/playbook.schema.json`"
    );
}

#[test]
fn committed_step_catalogue_matches_the_code() {
    assert_eq!(
        committed("docs/steps.md"),
        stdout(&["steps", "--format", "markdown"]),
        "run `chaosplay steps --format markdown > docs/steps.md`"
    );
}

#[test]
fn steps_lists_and_details() {
    let list = stdout(&["steps"]);
    for name in ["sleep", "log", "assert", "exec", "http.request", "await"] {
        assert!(
            list.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{list}"
        );
    }
    insta::assert_snapshot!(stdout(&["steps", "exec"]));
}

#[test]
fn unknown_step_name_suggests_the_closest() {
    let out = chaosplay().args(["steps", "exce"]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: unknown step `exce`; did you mean `exec`?\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = chaosplay().args(["run"]).output().unwrap();
    assert_eq!(code(&out), 2);
    let out = chaosplay()
        .args(["run", "x.toml", "--var", "novalue"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("must look like KEY=VALUE"));
    let out = chaosplay()
        .args(["validate", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("cannot read playbook /nonexistent.toml")
    );
}

#[test]
fn completions_are_generated() {
    assert!(stdout(&["completions", "bash"]).contains("chaosplay"));
}

#[test]
fn the_example_playbook_passes() {
    let out = chaosplay()
        .args([
            "run",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scenarios/examples/local-http.toml"
            ),
            "--var",
            "port=18932",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("passed: local-http"));
}
