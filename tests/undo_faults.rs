//! `undo` against the real engine: a fault step's faults reversed mid-run are gone before the
//! next step (the cgroup file shows the limit lifted, the container answers again after a
//! pause), taken off the ledger, and cleanup has nothing left to undo twice.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled};
use common::{code, run_here, scratch, step};

/// The container's pids limit as its own cgroup file shows it (cgroup v2, else v1).
const PIDS_MAX: &str =
    "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max";

fn read_pids(id: &str) -> String {
    format!(
        "[[steps]]\nid = \"{id}\"\nuses = \"docker.exec\"\nwith = {{ service = \"db\", argv = [\"sh\", \"-c\", \"{PIDS_MAX}\"] }}\n"
    )
}

/// The ledger, read mid-run by a local command: absent once nothing is outstanding.
fn ledger_left(id: &str, dir: &std::path::Path, project: &str) -> String {
    let ledger = dir.join(format!("{project}.json"));
    format!(
        "[[steps]]\nid = \"{id}\"\nuses = \"exec\"\nwith = {{ argv = [\"sh\", \"-c\", \"cat {} 2>/dev/null || echo none\"] }}\n",
        ledger.display()
    )
}

#[test]
fn undo_lifts_a_limit_and_a_pause_mid_run_and_cleanup_has_nothing_left() {
    let project = "cpt-undo-mid";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("undo-mid");
    let steps = [
        "[[steps]]\nid = \"cap\"\nuses = \"docker.limit\"\nwith = { service = \"db\", cpus = 0.5, pids = 20 }\n".to_string(),
        read_pids("capped"),
        "[[steps]]\nid = \"lift\"\nuses = \"undo\"\nwith = { step = \"cap\" }\n".into(),
        read_pids("lifted"),
        ledger_left("ledger_after_lift", &dir, project),
        "[[steps]]\nid = \"freeze\"\nuses = \"docker.pause\"\nwith = { service = \"db\" }\n".into(),
        "[[steps]]\nid = \"thaw\"\nuses = \"undo\"\n".into(),
        "[[steps]]\nid = \"answers\"\nuses = \"docker.exec\"\nwith = { service = \"db\", argv = [\"true\"] }\n".into(),
        ledger_left("ledger_after_thaw", &dir, project),
    ]
    .concat();
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let stdout = |name| {
        step(&report, name)["output"]["stdout"]
            .as_str()
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(stdout("capped"), "20");
    assert_eq!(
        stdout("lifted"),
        "max",
        "the limit is lifted before the next step"
    );
    assert_eq!(
        step(&report, "lift")["output"]["undone"],
        serde_json::json!([format!("restore the cpu, pids limits of {db}")])
    );
    assert_eq!(stdout("ledger_after_lift"), "none", "nothing outstanding");
    assert_eq!(
        step(&report, "thaw")["output"]["undone"],
        serde_json::json!([format!("unpause {db}")])
    );
    assert_eq!(stdout("ledger_after_thaw"), "none");
    assert_eq!(
        report["runs"][0]["undo"],
        serde_json::json!([]),
        "cleanup undid nothing twice"
    );
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Status}}", &db]),
        "running"
    );
    remove_project(project);
}
