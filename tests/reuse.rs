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

#[test]
fn loop_mistakes_are_caught_at_validation() {
    insta::assert_snapshot!(invalid("for_each.toml"));
}

#[test]
fn for_each_runs_once_per_item_and_outputs_a_list_in_order() {
    let dir = scratch("reuse-for-each");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "loops"
[vars]
members = ["etcd0", "etcd1", "etcd2"]
[[steps]]
id = "touch"
uses = "exec"
for_each = "{{ vars.members }}"
with = { argv = ["sh", "-c", "echo {{ index }} > {{ item }}; echo {{ item | upper }}"] }
[[steps]]
id = "literal"
uses = "set"
for_each = [1, 2, "{{ vars.members | length }}"]
with = { double = "{{ item * 2 }}" }
[[steps]]
name = "check"
uses = "assert"
with.that = [
  "steps.touch | map(attribute='stdout') | map('trim') | list == ['ETCD0', 'ETCD1', 'ETCD2']",
  "steps.literal | map(attribute='double') | list == [2, 4, 6]",
]
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(step(&report, "check")["status"], "passed");
    for (i, member) in ["etcd0", "etcd1", "etcd2"].iter().enumerate() {
        let written = std::fs::read_to_string(dir.join(member)).unwrap();
        assert_eq!(written.trim(), i.to_string());
    }
    assert_eq!(
        step(&report, "touch")["params"].as_array().unwrap().len(),
        3
    );
}

#[test]
fn a_failing_item_fails_the_step_naming_the_item() {
    let dir = scratch("reuse-for-each-fail");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "loop fails"
[[steps]]
id = "each"
uses = "exec"
for_each = ["ok", "bad", "never"]
with = { argv = ["sh", "-c", "test {{ item }} != bad && touch {{ item }}"] }
"#,
        &[],
    );
    assert_eq!(code(&out), 1);
    let each = step(&report, "each");
    let message = each["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("item 1 (\"bad\"): "), "{message}");
    assert!(dir.join("ok").exists() && !dir.join("never").exists());
}

#[test]
fn a_background_loop_is_awaited_with_its_list() {
    let dir = scratch("reuse-for-each-background");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "background loop"
[[steps]]
id = "waits"
uses = "sleep"
for_each = ["50ms", "60ms"]
with = { duration = "{{ item }}" }
background = true
[[steps]]
uses = "await"
with = { steps = ["waits"] }
[[steps]]
name = "check"
uses = "assert"
with.that = ["steps.waits | length == 2", "steps.waits[1].slept_ms >= 60"]
"#,
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(step(&report, "check")["status"], "passed");
}

#[test]
fn step_group_mistakes_point_into_the_group_file() {
    insta::assert_snapshot!(invalid("groups.toml"));
}

#[test]
fn step_groups_run_with_inputs_and_outputs_from_steps_loops_and_finally() {
    let dir = scratch("reuse-groups");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/groups");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    for file in ["playbook.toml", "lib/member.toml"] {
        std::fs::copy(fixtures.join(file), dir.join(file)).unwrap();
    }
    let (out, report) = common::run_file(&dir, &dir.join("playbook.toml"), &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(step(&report, "check")["status"], "passed");
    assert_eq!(
        step(&report, "one")["output"],
        serde_json::json!({"said": "etcd1", "address": "etcd1:2380"})
    );
    // exec's cwd is the playbook's directory, whichever file the step is in.
    let calls = std::fs::read_to_string(dir.join("calls")).unwrap();
    assert_eq!(calls, "etcd1\netcd0\netcd2\ncleanup\n");
}

#[test]
fn a_failing_step_in_a_group_fails_the_calling_step_naming_it() {
    let dir = scratch("reuse-group-fails");
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    common::write(
        &dir,
        "lib/fails.toml",
        "[[steps]]\nname = \"boom\"\nuses = \"exec\"\nwith = { argv = [\"false\"] }\n",
    );
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"g\"\n[[steps]]\nid = \"g\"\nuses = \"./lib/fails.toml\"\n",
        &[],
    );
    assert_eq!(code(&out), 1);
    let message = step(&report, "g")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("lib/fails.toml:3 `boom`: "), "{message}");
}
