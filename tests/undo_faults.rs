//! `undo` against the real engine: a fault step's faults reversed mid-run are gone before the
//! next step (the cgroup file shows the limit lifted, the container answers again after a
//! pause), taken off the ledger, and cleanup has nothing left to undo twice; a background
//! fault step still running is stopped first, so none of its faults comes back after the undo
//! — nor after `network.heal` or `disk.restore`, for a step of their family.

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
    let stdout = |name| exec_stdout(&report, name);
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

/// A background step that applies one user-defined fault (a marker file in the container) per
/// item, 40 items, each taking a moment: still running when the `undo` comes.
fn drip(id: &str, marker: &str) -> String {
    let items: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    format!(
        "[[steps]]\nid = \"{id}\"\nuses = \"fault.docker_exec\"\nbackground = true\nfor_each = [{}]\nwith = {{ service = \"db\", apply = [\"sh\", \"-c\", \"sleep 0.2; touch /tmp/{marker}-{{{{ item }}}}\"], undo = [\"rm\", \"-f\", \"/tmp/{marker}-{{{{ item }}}}\"], check = [\"sh\", \"-c\", \"! test -e /tmp/{marker}-{{{{ item }}}}\"] }}\n",
        items.join(", ")
    )
}

/// How many of a drip's markers are in the container.
fn markers(id: &str, marker: &str) -> String {
    format!(
        "[[steps]]\nid = \"{id}\"\nuses = \"docker.exec\"\nwith = {{ service = \"db\", argv = [\"sh\", \"-c\", \"ls /tmp | grep -c {marker} || true\"] }}\n"
    )
}

const SETTLE: &str = "[[steps]]\nuses = \"sleep\"\nwith = { duration = \"1500ms\" }\n";

#[test]
fn undo_stops_a_background_fault_step_still_running_and_nothing_of_it_stays() {
    let project = "cpt-undobg";
    remove_project(project);
    run_labelled(project, "db", &[]);
    let dir = scratch("undo-background");
    let steps = [
        drip("drip", "drip"),
        // Some of its faults in place, however slow the engine is today.
        format!(
            "{}until = \"output.stdout | trim | int > 0\"\ninterval = \"100ms\"\ntimeout = \"30s\"\n",
            markers("applied", "drip")
        ),
        "[[steps]]\nid = \"lift\"\nuses = \"undo\"\nwith = { step = \"drip\" }\n".into(),
        // Long enough for the next items to land, had the step gone on.
        SETTLE.into(),
        markers("after_lift", "drip"),
        ledger_left("ledger_after_lift", &dir, project),
        // Without `step`: every background fault step still running is stopped too.
        drip("again", "again"),
        SETTLE.into(),
        "[[steps]]\nid = \"all\"\nuses = \"undo\"\n".into(),
        SETTLE.into(),
        markers("after_all", "again"),
        ledger_left("ledger_after_all", &dir, project),
        "[[steps]]\nid = \"joined\"\nuses = \"await\"\nwith = { steps = [\"drip\", \"again\"] }\n"
            .into(),
    ]
    .concat();
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    remove_project(project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let stdout = |name| exec_stdout(&report, name);
    let applied: u32 = stdout("applied").parse().unwrap();
    assert!(applied > 0, "the drip applied faults before the undo");
    let lift = &step(&report, "lift")["output"];
    assert_eq!(lift["stopped"], serde_json::json!(["drip"]), "{lift:#}");
    assert!(lift["undone"].as_array().unwrap().len() as u32 >= applied);
    assert_eq!(stdout("after_lift"), "0", "no marker left nor added later");
    assert_eq!(stdout("ledger_after_lift"), "none");
    assert_eq!(
        step(&report, "all")["output"]["stopped"],
        serde_json::json!(["again"])
    );
    assert_eq!(stdout("after_all"), "0");
    assert_eq!(stdout("ledger_after_all"), "none");
    assert_eq!(step(&report, "drip")["status"], "stopped");
    assert_eq!(
        step(&report, "joined")["output"],
        serde_json::json!({"drip": "stopped", "again": "stopped"})
    );
    assert_eq!(report["runs"][0]["undo"], serde_json::json!([]));
}

/// A background step that applies `uses` with `with` to `db` once per item, 500 items: still
/// running when the heal comes, however fast the engine.
fn fault_loop(id: &str, uses: &str, with: &str) -> String {
    let items: Vec<String> = (0..500).map(|i| i.to_string()).collect();
    format!(
        "[[steps]]\nid = \"{id}\"\nuses = \"{uses}\"\nbackground = true\nfor_each = [{}]\nwith = {{ service = \"db\", {with} }}\n",
        items.join(", ")
    )
}

/// A local command printing `on` while `shell` finds the fault in place, else `off`; with
/// `until`, it waits until the fault is on.
fn in_force(id: &str, shell: &str, wait: bool) -> String {
    let until = match wait {
        true => {
            "until = \"output.stdout | trim == 'on'\"\ninterval = \"100ms\"\ntimeout = \"30s\"\n"
        }
        false => "",
    };
    format!(
        "[[steps]]\nid = \"{id}\"\nuses = \"exec\"\nwith = {{ argv = [\"sh\", \"-c\", \"{shell} && echo on || echo off\"] }}\n{until}"
    )
}

#[test]
fn heal_and_restore_stop_a_background_fault_step_of_their_family_still_running() {
    let project = "cpt-healbg";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("heal-background");
    let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", &db]);
    // The loss chain in db's namespace, and db's write limits in its blkio group (cgroup v1).
    let chain = format!("nsenter -t {pid} -n iptables -w 5 -S CHAOSPLAY-LOSS >/dev/null 2>&1");
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let blkio = cgroup
        .lines()
        .find_map(|l| l.split_once(":blkio:").map(|(_, p)| p.to_string()))
        .expect("a blkio cgroup (these tests run on cgroup v1)");
    let limits = format!("grep -q . /sys/fs/cgroup/blkio{blkio}/blkio.throttle.write_bps_device");
    let steps = [
        fault_loop("drop", "network.loss", "loss_percent = 1"),
        in_force("dropping", &chain, true),
        "[[steps]]\nid = \"heal\"\nuses = \"network.heal\"\nwith = { service = \"db\" }\n".into(),
        // Long enough for the next items to land, had the step gone on.
        SETTLE.into(),
        in_force("after_heal", &chain, false),
        ledger_left("ledger_after_heal", &dir, project),
        fault_loop("slow", "disk.throttle", "write_bps = \"1m\""),
        in_force("slowed", &limits, true),
        "[[steps]]\nid = \"restore\"\nuses = \"disk.restore\"\nwith = { service = \"db\" }\n"
            .into(),
        SETTLE.into(),
        in_force("after_restore", &limits, false),
        ledger_left("ledger_after_restore", &dir, project),
    ]
    .concat();
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    remove_project(project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let stdout = |name| exec_stdout(&report, name);
    assert_eq!(
        stdout("after_heal"),
        "off",
        "no loss rule left nor added later"
    );
    assert_eq!(stdout("ledger_after_heal"), "none");
    assert_eq!(
        stdout("after_restore"),
        "off",
        "no write limit left nor set later"
    );
    assert_eq!(stdout("ledger_after_restore"), "none");
    let heal = &step(&report, "heal")["output"];
    assert_eq!(heal["stopped"], serde_json::json!(["drop"]), "{heal:#}");
    assert!(!heal["healed"].as_array().unwrap().is_empty(), "{heal:#}");
    let restore = &step(&report, "restore")["output"];
    assert_eq!(
        restore["stopped"],
        serde_json::json!(["slow"]),
        "{restore:#}"
    );
    assert!(!restore["restored"].as_array().unwrap().is_empty());
    assert_eq!(step(&report, "drop")["status"], "stopped");
    assert_eq!(step(&report, "slow")["status"], "stopped");
    assert_eq!(report["runs"][0]["undo"], serde_json::json!([]));
}

/// What the exec step `name` printed, trimmed.
fn exec_stdout(report: &serde_json::Value, name: &str) -> String {
    step(report, name)["output"]["stdout"]
        .as_str()
        .unwrap()
        .trim()
        .to_string()
}
