//! Container fault steps against the real Docker engine: selectors, scoping, seeded picks,
//! kill/start, stop/start, pause/unpause, exec, logs, wait, and automatic undo.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled, state};
use common::{chaosplay, code, run, scratch, step};

/// A pretend compose project of `services`, plus a decoy outside it with a matching name.
struct Fixture {
    project: String,
    decoy: String,
}

impl Fixture {
    fn new(project: &str, services: &[&str]) -> Fixture {
        remove_project(project);
        let decoy = format!("{project}-decoy-tikv0-1");
        let _ = common::docker::docker(&["rm", "-f", &decoy]);
        for s in services {
            run_labelled(project, s, &[]);
        }
        // Same service label, other project: selectors must never see it.
        run_labelled(&format!("{project}-decoy"), "tikv0", &[]);
        Fixture {
            project: project.to_string(),
            decoy,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        remove_project(&self.project);
        remove_project(&format!("{}-decoy", self.project));
    }
}

#[test]
fn kill_picks_by_seed_within_the_project_and_start_restores() {
    let f = Fixture::new("cpt-kill", &["tikv0", "tikv1", "tikv2", "pd0"]);
    let dir = scratch("docker-kill");
    let steps = r#"
[[steps]]
id = "kill"
uses = "docker.kill"
with = { service = "tikv*", pick = "random" }
[[steps]]
uses = "docker.wait"
with = { container = "{{ steps.kill.container }}", state = "exited" }
timeout = "20s"
[[steps]]
uses = "docker.start"
with = { container = "{{ steps.kill.container }}" }
"#;
    let (out, report) = run(&dir, &playbook(&f.project, steps), &["--seed", "7"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let killed = step(&report, "kill")["output"]["container"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(killed.starts_with("cpt-kill-tikv"), "{killed}");
    assert_eq!(state(&killed), "running");
    assert_eq!(state(&f.decoy), "running");
    assert!(
        report["runs"][0]["undo"].as_array().unwrap().is_empty(),
        "the explicit start cleared the undo"
    );
    // The same seed picks the same container.
    let (_, again) = run(&dir, &playbook(&f.project, steps), &["--seed", "7"]);
    assert_eq!(step(&again, "kill")["output"]["container"], killed.as_str());
}

#[test]
fn undo_restores_faults_when_the_playbook_fails() {
    let f = Fixture::new("cpt-undo", &["etcd0", "etcd1", "etcd2"]);
    let dir = scratch("docker-undo");
    let steps = r#"
[[steps]]
id = "kill"
uses = "docker.kill"
with = { service = "etcd0" }
[[steps]]
id = "pause"
uses = "docker.pause"
with = { service = "etcd1" }
[[steps]]
uses = "assert"
with.that = ["false"]
"#;
    let (out, report) = run(&dir, &playbook(&f.project, steps), &[]);
    assert_eq!(code(&out), 1);
    let undone: Vec<_> = report["runs"][0]["undo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["description"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        undone,
        ["unpause cpt-undo-etcd1-1", "start cpt-undo-etcd0-1"]
    );
    assert_eq!(state("cpt-undo-etcd0-1"), "running");
    assert_eq!(state("cpt-undo-etcd1-1"), "running");
}

#[test]
fn stop_exec_logs_and_restart() {
    let f = Fixture::new("cpt-misc", &["db"]);
    let dir = scratch("docker-misc");
    let steps = r#"
[[steps]]
id = "write"
uses = "docker.exec"
with = { service = "db", argv = ["sh", "-c", "echo hello > /tmp/f; echo to-log > /proc/1/fd/1; cat /tmp/f"] }
[[steps]]
id = "fail"
uses = "docker.exec"
with = { service = "db", argv = ["sh", "-c", "exit 3"], expect_exit = [3] }
[[steps]]
id = "stop"
uses = "docker.stop"
with = { service = "db", grace = "1s" }
[[steps]]
uses = "docker.start"
with = { service = "db" }
[[steps]]
uses = "docker.restart"
with = { service = "db", grace = "0s" }
[[steps]]
id = "logs"
uses = "docker.logs"
with = { service = "db", tail = 10 }
[[steps]]
uses = "assert"
with.that = ["steps.write.stdout == 'hello\n'", "steps.fail.exit_code == 3", "'to-log' in steps.logs.logs"]
"#;
    let (out, report) = run(&dir, &playbook(&f.project, steps), &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "stop")["output"]["service"], "db");
    assert_eq!(state("cpt-misc-db-1"), "running");
}

#[test]
fn zero_matches_and_missing_subject_are_clear_errors() {
    let f = Fixture::new("cpt-none", &["a"]);
    let dir = scratch("docker-none");
    let (out, report) = run(
        &dir,
        &playbook(
            &f.project,
            "[[steps]]\nname = \"k\"\nuses = \"docker.kill\"\nwith = { service = \"tikv*\" }\n",
        ),
        &[],
    );
    assert_eq!(code(&out), 1);
    let message = step(&report, "k")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        message,
        "no container matches service `tikv*` in compose project `cpt-none`; there are: cpt-none-a-1"
    );
    // Without a subject a selector must opt in to `scope = "any"`.
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"x\"\n[[steps]]\nname = \"k\"\nuses = \"docker.kill\"\nwith = { service = \"a\" }\n",
        &[],
    );
    assert_eq!(code(&out), 1);
    assert!(
        step(&report, "k")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no [subject]")
    );
    assert_eq!(state("cpt-none-a-1"), "running");
}

#[test]
fn a_dead_docker_host_is_one_sentence_and_exit_3() {
    let dir = scratch("docker-dead");
    let path = common::write(
        &dir,
        "p.toml",
        "[scenario]\nname = \"x\"\n[subject]\nproject = \"p\"\n[[steps]]\nuses = \"docker.kill\"\nwith = { service = \"a\" }\n",
    );
    let out = chaosplay()
        .env("DOCKER_HOST", format!("unix://{}/nope.sock", dir.display()))
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot reach the Docker daemon at unix://"),
        "{stderr}"
    );
    let _ = docker_ok(&["version", "--format", "{{.Server.Version}}"]);
}

#[test]
fn pause_freezes_and_unpause_clears_the_undo() {
    let f = Fixture::new("cpt-pause", &["db", "app"]);
    let dir = scratch("docker-pause");
    let steps = r#"
[[steps]]
id = "pause"
uses = "docker.pause"
with = { service = "db" }
[[steps]]
id = "frozen"
uses = "docker.wait"
with = { container = "{{ steps.pause.container }}", state = "paused" }
timeout = "10s"
[[steps]]
uses = "docker.unpause"
with = { container = "{{ steps.pause.container }}" }
[[steps]]
uses = "docker.wait"
with = { service = "*", state = "running" }
timeout = "10s"
"#;
    let (out, report) = run(&dir, &playbook(&f.project, steps), &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        step(&report, "frozen")["output"]["containers"][0]["state"],
        "paused"
    );
    assert!(report["runs"][0]["undo"].as_array().unwrap().is_empty());
    assert_eq!(state("cpt-pause-db-1"), "running");
}

/// Milliseconds since the epoch of an RFC 3339 time, as the report writes them.
fn epoch_ms(rfc3339: &str) -> f64 {
    let t = humantime::parse_rfc3339(rfc3339).unwrap_or_else(|e| panic!("{rfc3339}: {e}"));
    t.duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

#[test]
fn wait_is_told_of_a_kill_by_the_engine_event_not_by_its_fallback_look() {
    let f = Fixture::new("cpt-wait-event", &["db"]);
    let dir = scratch("docker-wait-event");
    // The kill comes a second after the wait's first look, whose fallback would look again
    // only after a minute: only the event can end the wait in time.
    let steps = r#"
[[steps]]
id = "later"
uses = "exec"
background = true
with = { argv = ["sh", "-c", "sleep 1 && docker kill cpt-wait-event-db-1"] }
[[steps]]
id = "down"
uses = "docker.wait"
with = { service = "db", state = "exited", interval = "60s" }
timeout = "30s"
[[steps]]
uses = "await"
with = { steps = ["later"] }
"#;
    let (out, report) = run(&dir, &playbook(&f.project, steps), &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let down = step(&report, "down");
    assert_eq!(down["output"]["seen_by"], "event", "{down:#}");
    let resolution_us = down["resolution_us"].as_u64().unwrap();
    assert!(
        resolution_us < 60_000_000,
        "the event, not the 60s interval, sets the resolution: {down:#}"
    );
    // The step ended after the engine stamped the change, and no earlier than the resolution
    // it claims after it (the lag is measured before the step's end is taken).
    let run = &report["runs"][0];
    let end_ms = epoch_ms(run["started_at"].as_str().unwrap())
        + (down["start_us"].as_u64().unwrap() + down["duration_us"].as_u64().unwrap()) as f64
            / 1000.0;
    let changed_ms = epoch_ms(down["output"]["changed_at"].as_str().unwrap());
    let after_change_ms = end_ms - changed_ms;
    assert!(
        after_change_ms >= -1.0,
        "ended {after_change_ms} ms after the change"
    );
    assert!(
        resolution_us as f64 / 1000.0 <= after_change_ms + 1.0,
        "resolution {resolution_us} µs, ended {after_change_ms} ms after the change"
    );
    assert_eq!(state("cpt-wait-event-db-1"), "exited");
}
