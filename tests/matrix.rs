//! `[matrix]`: one run per cell, `matrix.<key>` in templates, `--cell` filters, per-cell
//! trial summaries.

mod common;

use common::{chaosplay, code, run, scratch, write};

const PLAYBOOK: &str = r#"
[scenario]
name = "grid"
[matrix]
fault = ["kill", "pause"]
stores = [3, 5]
[[steps]]
name = "echo"
uses = "exec"
with = { argv = ["echo", "{{ matrix.fault }}-{{ matrix.stores }}"] }
record = { name = "stores", value = "output.stdout | trim | length" }
[[steps]]
uses = "assert"
with.that = ["matrix.stores in [3, 5]", "run.scenario == 'grid'"]
"#;

fn names(report: &serde_json::Value) -> Vec<String> {
    report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_cell_runs_with_its_values() {
    let dir = scratch("matrix-all");
    let (out, report) = run(&dir, PLAYBOOK, &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        names(&report),
        [
            "grid [fault=kill,stores=3]",
            "grid [fault=kill,stores=5]",
            "grid [fault=pause,stores=3]",
            "grid [fault=pause,stores=5]",
        ]
    );
    let last = &report["runs"][3];
    assert_eq!(
        last["matrix"],
        serde_json::json!({"fault": "pause", "stores": 5})
    );
    assert_eq!(last["scenario"]["name"], "grid");
    assert_eq!(last["steps"][0]["output"]["stdout"], "pause-5\n");
}

#[test]
fn cell_filters_select_cells() {
    let dir = scratch("matrix-filter");
    let (out, report) = run(
        &dir,
        PLAYBOOK,
        &["--cell", "fault=kill", "--cell", "stores=5"],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(names(&report), ["grid [fault=kill,stores=5]"]);

    let (out, report) = run(&dir, PLAYBOOK, &["--cell", "stores=3"]);
    assert_eq!(code(&out), 0);
    assert_eq!(report["runs"].as_array().unwrap().len(), 2);
}

#[test]
fn a_cell_filter_matching_nothing_is_a_usage_error() {
    let dir = scratch("matrix-nothing");
    let path = write(&dir, "p.toml", PLAYBOOK);
    for filter in ["fault=crash", "faults=kill", "fault"] {
        let out = chaosplay()
            .arg("run")
            .arg(&path)
            .args(["--cell", filter])
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "--cell {filter}");
        assert!(out.stdout.is_empty(), "nothing ran for --cell {filter}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(filter), "{stderr}");
    }
}

#[test]
fn a_cell_filter_matching_nothing_says_what_the_matrix_offers() {
    let dir = scratch("matrix-offers");
    let path = write(&dir, "p.toml", PLAYBOOK);
    let out = chaosplay()
        .arg("plan")
        .arg(&path)
        .args(["--cell", "fault=kil", "--cell", "store=3"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    insta::assert_snapshot!(String::from_utf8_lossy(&out.stderr), @r"
    error: no [matrix] cell matches --cell fault=kil --cell store=3
      `fault` takes kill, pause, not `kil`: did you mean `fault=kill`?
      no [matrix] key `store`: did you mean `stores`?
    ");
}

#[test]
fn trial_summaries_keep_cells_apart() {
    let dir = scratch("matrix-trials");
    let (out, report) = run(&dir, PLAYBOOK, &["--trials", "2", "--cell", "stores=3"]);
    assert_eq!(code(&out), 0);
    let summaries = report["summaries"].as_array().unwrap();
    assert_eq!(summaries.len(), 2, "{summaries:#?}");
    for (summary, fault) in summaries.iter().zip(["kill", "pause"]) {
        assert_eq!(summary["trials"], 2);
        assert_eq!(summary["matrix"]["fault"], fault);
        assert_eq!(
            summary["scenario"],
            format!("grid [fault={fault},stores=3]")
        );
        let len = fault.len() as f64 + 2.0;
        assert_eq!(summary["metrics"]["stores"]["max"], len);
    }
}

#[test]
fn subject_templates_read_the_cell() {
    let dir = scratch("matrix-subject");
    for name in ["a", "b"] {
        std::fs::create_dir_all(dir.join(name)).unwrap();
        write(
            &dir.join(name),
            "compose.yaml",
            &format!("name: proj-{name}\nservices:\n  s:\n    image: busybox\n"),
        );
    }
    let playbook = r#"
[scenario]
name = "subjects"
[matrix]
subject = ["a", "b"]
[subject]
compose = "{{ matrix.subject }}/compose.yaml"
[[steps]]
uses = "log"
with = { message = "{{ matrix.subject }}" }
"#;
    let (out, report) = run(&dir, playbook, &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        names(&report),
        ["subjects [subject=a]", "subjects [subject=b]"]
    );
}
