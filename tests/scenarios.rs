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

/// Sane statistics over trials: counts add up and percentiles are ordered.
fn assert_sane_summary(report: &serde_json::Value, trials: u64) {
    let summary = &report["summaries"][0];
    assert_eq!(summary["trials"], trials);
    assert_eq!(
        summary["passed"].as_u64().unwrap() + summary["failed"].as_u64().unwrap(),
        trials
    );
    assert_eq!(summary["pass_rate"], 1.0);
    let metrics = summary["metrics"].as_object().unwrap();
    assert!(!metrics.is_empty());
    for (name, d) in metrics.iter().chain(summary["steps"].as_object().unwrap()) {
        let v = |k: &str| d[k].as_f64().unwrap();
        assert!(
            v("min") <= v("p50") && v("p50") <= v("p90") && v("p90") <= v("max"),
            "{name}: {d}"
        );
    }
    for d in metrics.values() {
        assert_eq!(d["count"], trials, "every trial recorded every metric");
    }
}

#[test]
fn etcd_member_kill_passes_five_trials_and_loses_no_key() {
    let (out, report) = run_scenario("etcd-member-kill", &["--seed", "11", "--trials", "5", "-q"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    for run in report["runs"].as_array().unwrap() {
        let steps = run["steps"].as_array().unwrap();
        let find = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
        let killed = find("kill")["output"]["container"].as_str().unwrap();
        assert!(killed.starts_with("chaosplay-etcd-etcd"), "{killed}");
        assert_eq!(
            find("read every key back from the restarted member")["output"]["container"],
            killed
        );
    }
    assert_sane_summary(&report, 5);
    assert!(report["summaries"][0]["metrics"]["time_to_notice_ms"].is_object());
    assert!(
        project_objects("chaosplay-etcd").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-etcd")
    );
}

/// The output of the first run's step named `step`.
fn step_output<'a>(report: &'a serde_json::Value, step: &str) -> &'a serde_json::Value {
    let steps = report["runs"][0]["steps"].as_array().unwrap();
    &steps.iter().find(|s| s["name"] == step).unwrap()["output"]
}

#[test]
fn etcd_leader_cpu_starve_moves_leadership_slows_writes_and_recovers() {
    let (out, report) = run_scenario("etcd-leader-cpu-starve", &["-q"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let leader = step_output(&report, "find the leader (its member number)")["stdout"]
        .as_str()
        .unwrap()
        .trim()
        .to_string();
    let stressed = step_output(&report, "stress")["container"]
        .as_str()
        .unwrap();
    assert_eq!(stressed, format!("chaosplay-etcd-cpu-etcd{leader}-1"));
    let new = step_output(&report, "another member becomes leader")["stdout"]
        .as_str()
        .unwrap();
    assert_ne!(new.trim(), leader, "leadership moved");
    let metrics = &report["runs"][0]["metrics"];
    assert!(metrics["time_to_new_leader_ms"].is_number(), "{metrics}");
    assert!(metrics["time_to_recover_ms"].is_number(), "{metrics}");
    // Recovery is shown with the fault gone: the scenario's `undo` step lifted the cap and
    // removed the helper before it (verified, or the step would fail), so cleanup had no
    // fault left to undo; compose.down removed the rest.
    let lift = &step_output(&report, "stop the stress and lift the cap")["undone"];
    assert_eq!(
        lift.as_array().map(Vec::len),
        Some(2),
        "the stress and the cap: {lift}"
    );
    assert_eq!(report["runs"][0]["undo"], serde_json::json!([]));
    // The scenario asserts the latency and errors itself.
    assert!(
        project_objects("chaosplay-etcd-cpu").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-etcd-cpu")
    );
}

#[test]
fn etcd_member_freeze_is_noticed_and_the_member_catches_up_after_sigcont() {
    let (out, report) = run_scenario("etcd-member-freeze", &["-q"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let freeze = step_output(&report, "freeze");
    assert_eq!(freeze["signal"], "STOP");
    assert_eq!(freeze["processes"][0]["name"], "etcd");
    assert!(
        freeze["container"]
            .as_str()
            .unwrap()
            .starts_with("chaosplay-etcd-freeze-etcd")
    );
    let metrics = &report["runs"][0]["metrics"];
    assert!(metrics["time_to_notice_ms"].is_number(), "{metrics}");
    assert!(metrics["time_to_rejoin_ms"].is_number(), "{metrics}");
    assert!(
        project_objects("chaosplay-etcd-freeze").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-etcd-freeze")
    );
}

#[test]
fn tikv_without_its_images_names_the_image_and_exits_3() {
    // The official images cannot be pulled here. Point them at a registry on a closed local
    // port, so the pull fails at once without any traffic leaving the machine.
    let _one_at_a_time = TIKV.lock().unwrap_or_else(|e| e.into_inner());
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

/// The TiKV scenarios share one compose project and PD's port, so they run one at a time.
static TIKV: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_tikv_sim(name: &str, args: &[&str]) -> serde_json::Value {
    let _one_at_a_time = TIKV.lock().unwrap_or_else(|e| e.into_inner());
    let args: Vec<&str> = ["--var", "subject=sim"]
        .iter()
        .chain(args)
        .copied()
        .collect();
    let (out, report) = run_scenario(name, &args);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        project_objects("chaosplay-tikv").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-tikv")
    );
    report
}

#[test]
fn tikv_node_kill_on_the_simulator() {
    let report = run_tikv_sim("tikv-node-kill", &["--seed", "21", "--trials", "5", "-q"]);
    assert_sane_summary(&report, 5);
    assert!(report["summaries"][0]["metrics"]["time_to_disconnected_ms"].is_object());
    // Which container was killed, when PD noticed, when the store was back.
    let kill = &step(&report, "kill")["output"];
    assert!(
        kill["container"]
            .as_str()
            .unwrap()
            .starts_with("chaosplay-tikv-tikv")
    );
    assert!(kill["at"].is_string());
    let noticed = step(&report, "PD reports the store Disconnected");
    assert!(noticed["start_ms"].as_u64().unwrap() + noticed["duration_ms"].as_u64().unwrap() > 0);
    let store = &noticed["output"]["matched"][0];
    assert!(
        store["address"]
            .as_str()
            .unwrap()
            .starts_with(kill["service"].as_str().unwrap())
    );
    let back = step(&report, "all stores Up again");
    assert!(
        back["output"]["matched"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == store["id"]),
        "the store kept its id"
    );
}

#[test]
fn tikv_pd_leader_kill_on_the_simulator() {
    let report = run_tikv_sim("tikv-pd-leader-kill", &["--seed", "22"]);
    assert_eq!(
        step(&report, "kill the PD leader")["output"]["service"],
        "pd0"
    );
}

#[test]
fn tikv_store_partition_on_the_simulator() {
    let report = run_tikv_sim("tikv-store-partition", &["--seed", "23"]);
    let cut = &step(&report, "partition a store from PD")["output"];
    assert!(
        cut["container"]
            .as_str()
            .unwrap()
            .starts_with("chaosplay-tikv-tikv")
    );
    assert!(
        report["runs"][0]["undo"].as_array().unwrap().is_empty(),
        "network.heal cleared the undo"
    );
}

#[test]
fn etcd_disk_full_stops_the_filled_member_and_it_rejoins_with_every_key() {
    let dir = common::scratch("scenario-etcd-disk-full");
    let path = std::path::PathBuf::from(format!(
        "{}/scenarios/etcd-disk-full.toml",
        env!("CARGO_MANIFEST_DIR")
    ));
    let state = dir.to_str().unwrap();
    let (out, report) = common::run_file_env(
        &dir,
        &path,
        &["--seed", "3", "-q"],
        &[("CHAOSPLAY_STATE_DIR", state)],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let full = &step(&report, "full")["output"];
    let filled = full["container"].as_str().unwrap();
    assert!(filled.starts_with("chaosplay-etcd-disk-etcd"), "{filled}");
    assert_eq!(full["filled"][0]["fstype"], "tmpfs");
    let why = step(&report, "why")["output"]["logs"].as_str().unwrap();
    assert!(why.contains("no space left on device"), "{why}");
    common::assert_nothing_to_recover(&dir, "chaosplay-etcd-disk");
    assert!(
        !std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .contains("/tmp/chaosplay-etcd-disk/"),
        "the members' tmpfs mounts are left"
    );
    assert!(
        project_objects("chaosplay-etcd-disk").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-etcd-disk")
    );
}

#[test]
fn etcd_dns_failure_keeps_the_member_serving_and_it_resolves_again_after_heal() {
    let dir = common::scratch("scenario-etcd-dns-failure");
    let path = std::path::PathBuf::from(format!(
        "{}/scenarios/etcd-dns-failure.toml",
        env!("CARGO_MANIFEST_DIR")
    ));
    let state = dir.to_str().unwrap();
    let (out, report) = common::run_file_env(
        &dir,
        &path,
        &["--seed", "5", "-q"],
        &[("CHAOSPLAY_STATE_DIR", state)],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "dns")["output"]["service"], "etcd0");
    let by_name = step(&report, "a client in etcd0 naming another member fails");
    assert_ne!(by_name["output"]["exit_code"], 0);
    let redial = step(&report, "etcd0 cannot dial the restarted member by name");
    let logs = redial["output"]["logs"].as_str().unwrap();
    assert!(logs.contains("lookup etcd1"), "{logs}");
    let local = step(
        &report,
        "etcd0 still commits writes over its open peer connections",
    );
    assert_eq!(local["output"]["exit_code"], 0);
    common::assert_nothing_to_recover(&dir, "chaosplay-etcd-dns");
    assert!(
        project_objects("chaosplay-etcd-dns").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-etcd-dns")
    );
}

#[test]
fn tikv_operator_eval_times_the_reference_operator_on_the_simulator() {
    let report = run_tikv_sim(
        "tikv-operator-eval",
        &["--seed", "24", "--trials", "2", "-q"],
    );
    assert_sane_summary(&report, 2);
    for run in report["runs"].as_array().unwrap() {
        let metrics = &run["metrics"];
        assert_eq!(metrics["diagnosis_right"], 1.0, "{metrics}");
        let detect = metrics["time_to_detect_ms"].as_f64().unwrap();
        let repair = metrics["time_to_repair_ms"].as_f64().unwrap();
        // PD calls a store Disconnected 3 s (the simulator's setting) after its last heartbeat:
        // the operator cannot know sooner, and repairs after it reports.
        assert!(detect > 0.0 && detect < repair, "{metrics}");
    }
    let diagnosis = &step(&report, "the operator reports its diagnosis")["output"];
    let kill = &step(&report, "kill")["output"];
    assert_eq!(diagnosis["body"]["container"], kill["container"]);
    assert_eq!(diagnosis["path"], "/diagnosis");
}

/// Without an operator nobody reports or repairs: the run fails saying what did not come, and
/// cleanup still starts the killed store and removes the cluster.
#[test]
fn tikv_operator_eval_without_an_operator_fails_and_cleanup_restores() {
    let _one_at_a_time = TIKV.lock().unwrap_or_else(|e| e.into_inner());
    let (out, report) = run_scenario(
        "tikv-operator-eval",
        &[
            "--var",
            "subject=sim",
            "--var",
            "operator=false",
            "--var",
            "detect_within=8s",
            "--seed",
            "25",
        ],
    );
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    let diagnosis = step(&report, "the operator reports its diagnosis");
    assert_eq!(diagnosis["status"], "timed_out", "{diagnosis:#}");
    let message = step(&report, "wait for the operator's report")["error"]["message"]
        .as_str()
        .unwrap();
    assert!(message.contains("`diagnosis` timed out"), "{message}");
    let killed = step(&report, "kill")["output"]["container"]
        .as_str()
        .unwrap();
    let undo = report["runs"][0]["undo"].as_array().unwrap();
    assert_eq!(undo.len(), 1, "{undo:?}");
    assert_eq!(undo[0]["description"], format!("start {killed}"));
    assert_eq!(undo[0]["ok"], true);
    assert!(
        project_objects("chaosplay-tikv").is_empty(),
        "left behind: {:?}",
        project_objects("chaosplay-tikv")
    );
}
