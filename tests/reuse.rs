//! Reuse in playbooks, end to end through the binary: computed values (`set`), filters,
//! loops (`for_each`) and step groups in their own files.

mod common;

use common::{chaosplay, code, run, scratch, step};

/// `chaosplay validate` on a fixture of tests/fixtures/invalid: its stderr, after checking it
/// exits 2 and prints nothing on stdout.
fn invalid(fixture: &str) -> String {
    let output = chaosplay()
        .current_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/invalid"
        ))
        .args(["validate", fixture])
        .output()
        .unwrap();
    assert_eq!(code(&output), 2, "validate {fixture} must exit 2");
    assert!(output.stdout.is_empty(), "nothing on stdout when invalid");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn set_mistakes_are_caught_at_validation() {
    insta::assert_snapshot!(invalid("set.toml"));
}

#[test]
fn set_names_values_computed_at_run_time() {
    let dir = scratch("reuse-set");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "set"
[[steps]]
id = "status"
uses = "exec"
with = { argv = ["echo", "etcd1 etcd0 etcd2"] }
[[steps]]
id = "picked"
uses = "set"
with = { members = "{{ steps.status.stdout | trim | split(' ') | list }}", count = 3, label = "leader={{ steps.status.stdout.split(' ')[0] }}" }
[[steps]]
name = "check"
uses = "assert"
with.that = [
  "steps.picked.members == ['etcd1', 'etcd0', 'etcd2']",
  "steps.picked.count == 3",
  "steps.picked.label == 'leader=etcd1'",
]
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        step(&report, "picked")["output"],
        serde_json::json!({"members": ["etcd1", "etcd0", "etcd2"], "count": 3, "label": "leader=etcd1"})
    );
    assert_eq!(step(&report, "check")["status"], "passed");
}

#[test]
fn unknown_filters_and_tests_are_caught_at_validation() {
    insta::assert_snapshot!(invalid("filters.toml"));
}

#[test]
fn filters_decode_parse_and_match_at_run_time() {
    let dir = scratch("reuse-filters");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "filters"
[[steps]]
id = "kv"
uses = "exec"
with = { argv = ["echo", '{"key": "ZXRjZDE=", "members": ["etcd0:2379", "etcd1:2379"]}'] }
[[steps]]
id = "parsed"
uses = "set"
with = { doc = "{{ steps.kv.stdout | from_json }}" }
[[steps]]
id = "derived"
uses = "set"
with = { key = "{{ steps.parsed.doc.key | b64decode }}", ports = "{{ steps.parsed.doc.members | map('regex_replace', '^.*:', '') | list }}", body = "{{ {'k': steps.parsed.doc.key} | to_json }}" }
[[steps]]
name = "check"
uses = "assert"
with.that = [
  "steps.derived.key == 'etcd1'",
  "steps.derived.key is match('etcd[0-9]$')",
  "steps.derived.ports == ['2379', '2379']",
  "steps.derived.body == '{\"k\":\"ZXRjZDE=\"}'",
  "'etcd1' | b64encode == steps.parsed.doc.key",
]
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(step(&report, "check")["status"], "passed");
}
