//! The shipped scenarios, end to end on the real Docker engine, as a user runs them.

mod common;

use common::docker::project_objects;
use common::{code, step};

fn run_scenario(name: &str, args: &[&str]) -> (std::process::Output, serde_json::Value) {
    let dir = common::scratch(&format!("scenario-{name}"));
    let path = std::path::PathBuf::from(format!(
        "{}/scenarios/{name}.toml",
        env!("CARGO_MANIFEST_DIR")
    ));
    common::run_file(&dir, &path, args)
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

#[test]
fn tikv_without_its_images_names_the_image_and_exits_3() {
    // The official images cannot be pulled here. Point them at a registry on a closed local
    // port, so the pull fails at once without any traffic leaving the machine.
    let dir = common::scratch("scenario-tikv-missing");
    let path = std::path::PathBuf::from(format!(
        "{}/scenarios/tikv-node-kill.toml",
        env!("CARGO_MANIFEST_DIR")
    ));
    let env = [
        ("PD_IMAGE", "127.0.0.1:9/pingcap/pd:v8.5.1"),
        ("TIKV_IMAGE", "127.0.0.1:9/pingcap/tikv:v8.5.1"),
    ];
    let (out, report) = common::run_file_env(&dir, &path, &[], &env);
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stdout));
    let message = step(&report, "compose.reset")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("image `127.0.0.1:9/pingcap/pd:v8.5.1` (service `pd0`) is not on this machine and could not be pulled"),
        "{message}"
    );
    assert!(
        project_objects("chaosplay-tikv").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-tikv")
    );
}
