//! The shipped scenarios, end to end on the real Docker engine, as a user runs them.

mod common;

use common::docker::project_objects;
use common::{chaosplay, code, step};

fn run_scenario(name: &str, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let dir = common::scratch(&format!("scenario-{name}"));
    let report = dir.join("report.json");
    let out = chaosplay()
        .arg("run")
        .arg(format!(
            "{}/scenarios/{name}.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .arg("--report-json")
        .arg(&report)
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| {
        panic!(
            "no report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, serde_json::from_str(&text).unwrap())
}

#[test]
fn etcd_member_kill_passes_and_loses_no_key() {
    let (out, report) = run_scenario("etcd-member-kill", &["--seed", "11"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let killed = step(&report, "kill")["output"]["container"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(killed.starts_with("chaosplay-etcd-etcd"), "{killed}");
    assert_eq!(
        step(&report, "read every key back from the restarted member")["output"]["container"],
        killed.as_str()
    );
    assert!(
        project_objects("chaosplay-etcd").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-etcd")
    );
}
