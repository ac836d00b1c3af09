//! User-defined faults (`fault.exec`, `fault.docker_exec`) have the guarantees of built-in
//! ones: the undo is in the ledger before the apply runs, it runs at cleanup and by `recover`,
//! and a check that does not pass fails the undo (exit 4) and keeps it for `recover`.

mod common;

use common::docker::{docker, playbook, remove_project, run_labelled};
use common::{code, recover, run_here, scratch, sigkill, spawn_run, step, wait_until, write};

/// A fault inside a container: a file that must not be there.
const IN_CONTAINER: &str = r#"
[[steps]]
id = "break"
uses = "fault.docker_exec"
with = { service = "db", apply = ["touch", "/tmp/broken"], undo = ["rm", "-f", "/tmp/broken"], check = ["sh", "-c", "! test -e /tmp/broken"] }
"#;

fn broken(container: &str) -> bool {
    docker(&["exec", container, "test", "-e", "/tmp/broken"])
        .status
        .success()
}

#[test]
fn apply_undo_and_check_run_in_the_container_and_on_this_machine() {
    let project = "cpt-fault-exec";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("fault-exec");
    let steps = format!(
        r#"{IN_CONTAINER}
[[steps]]
id = "seen"
uses = "docker.exec"
with = {{ service = "db", argv = ["test", "-e", "/tmp/broken"] }}
[[steps]]
uses = "fault.exec"
with = {{ apply = ["touch", "marker"], undo = ["rm", "marker"], check = ["sh", "-c", "! test -e marker"] }}
[[steps]]
uses = "exec"
with = {{ argv = ["test", "-e", "marker"] }}
"#
    );
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "break")["output"]["container"], db.as_str());
    let undone: Vec<_> = report["runs"][0]["undo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["description"].as_str().unwrap().to_string(),
                u["ok"].clone(),
            )
        })
        .collect();
    assert_eq!(
        undone,
        [
            (
                format!("run `rm marker` in {}", dir.display()),
                serde_json::Value::Bool(true)
            ),
            (
                format!("run `rm -f /tmp/broken` in {db}"),
                serde_json::Value::Bool(true)
            ),
        ]
    );
    assert!(!broken(&db), "the undo ran in the container");
    assert!(!dir.join("marker").exists(), "the undo ran here");
    remove_project(project);
}

#[test]
fn an_undo_whose_check_fails_is_exit_4_and_stays_for_recover() {
    let project = "cpt-fault-exec-check";
    remove_project(project);
    run_labelled(project, "db", &[]);
    let dir = scratch("fault-exec-check");
    let steps = r#"
[[steps]]
uses = "fault.docker_exec"
with = { service = "db", apply = ["true"], undo = ["true"], check = ["sh", "-c", "echo still broken >&2; exit 1"] }
"#;
    let (out, report) = run_here(&dir, &playbook(project, steps));
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stdout));
    let undo = &report["runs"][0]["undo"][0];
    assert_eq!(undo["ok"], false);
    let error = undo["error"].as_str().unwrap();
    assert!(error.contains("not seen done within 10s"), "{error}");
    assert!(error.contains("exited with 1: still broken"), "{error}");
    assert!(
        dir.join(format!("{project}.json")).exists(),
        "kept for recover"
    );
    let out = recover(&dir, project);
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(dir.join(format!("{project}.json")).exists(), "still kept");
    remove_project(project);
}

#[test]
fn recover_runs_the_undo_a_sigkilled_runner_left() {
    let project = "cpt-fault-exec-recover";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("fault-exec-recover");
    let steps =
        format!("{IN_CONTAINER}[[steps]]\nuses = \"sleep\"\nwith = {{ duration = \"60s\" }}\n");
    let path = write(&dir, "p.toml", &playbook(project, &steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the fault is applied", || broken(&db));
    sigkill(&mut child);
    assert!(broken(&db), "the runner died mid-fault");
    let out = recover(&dir, project);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{stdout}");
    assert!(
        stdout.contains(&format!("run `rm -f /tmp/broken` in {db}")),
        "{stdout}"
    );
    assert!(!broken(&db));
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}
