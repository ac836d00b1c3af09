//! `process.signal` against the real engine: a worker inside a busybox container is stopped
//! and resumed at cleanup (and by `recover` after a SIGKILLed runner), a killed worker stays
//! dead while the container runs on, and the main process is refused.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled_cmd, state};
use common::{code, recover, run_here, scratch, sigkill, spawn_run, step, wait_until, write};

/// A main shell with two workers: `sleep 1000` and `sleep 999`.
const WORKERS: &[&str] = &["sh", "-c", "sleep 1000 & sleep 999 & wait"];

/// `ps` state of the container's process whose command line is `command`, `None` if none.
fn process_state(container: &str, command: &str) -> Option<String> {
    let top = docker_ok(&["top", container, "-o", "pid,stat,args"]);
    top.lines().skip(1).find_map(|line| {
        let mut words = line.split_whitespace();
        let stat = words.nth(1)?;
        (words.collect::<Vec<_>>().join(" ") == command).then(|| stat.to_string())
    })
}

fn stopped(container: &str, command: &str) -> bool {
    process_state(container, command).is_some_and(|s| s.starts_with('T'))
}

const STOP: &str = r#"
[[steps]]
id = "freeze"
uses = "process.signal"
with = { service = "db", command = "sleep 1000", signal = "SIGSTOP" }

[[steps]]
id = "seen"
uses = "docker.exec"
with = { service = "db", argv = ["ps", "-o", "stat,args"] }
"#;

#[test]
fn a_stopped_worker_is_resumed_at_cleanup() {
    let project = "cpt-proc-stop";
    remove_project(project);
    let db = run_labelled_cmd(project, "db", &[], WORKERS);
    let dir = scratch("proc-stop");
    let (out, report) = run_here(&dir, &playbook(project, STOP));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let freeze = &step(&report, "freeze")["output"];
    assert_eq!(freeze["signal"], "STOP");
    let hit = freeze["processes"].as_array().unwrap();
    assert_eq!(hit.len(), 1, "{freeze:#}");
    assert_eq!(hit[0]["command"], "sleep 1000");
    let seen = step(&report, "seen")["output"]["stdout"].as_str().unwrap();
    assert!(
        seen.lines()
            .any(|l| l.trim().starts_with('T') && l.ends_with("sleep 1000")),
        "the worker was not stopped during the run:\n{seen}"
    );
    assert!(
        !seen
            .lines()
            .any(|l| l.trim().starts_with('T') && l.ends_with("sleep 999")),
        "another worker was stopped:\n{seen}"
    );
    assert_eq!(process_state(&db, "sleep 1000").as_deref(), Some("S"));
    remove_project(project);
}

#[test]
fn a_killed_worker_stays_dead_and_the_main_process_is_refused() {
    let project = "cpt-proc-kill";
    remove_project(project);
    let db = run_labelled_cmd(project, "db", &[], WORKERS);
    let dir = scratch("proc-kill");
    let kill = r#"
[[steps]]
id = "kill"
uses = "process.signal"
with = { service = "db", command = "sleep 99*", signal = "KILL" }
"#;
    let (out, report) = run_here(&dir, &playbook(project, kill));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        step(&report, "kill")["output"]["processes"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    wait_until("the worker is gone", || {
        process_state(&db, "sleep 999").is_none()
    });
    assert!(
        process_state(&db, "sleep 1000").is_some(),
        "another worker was hit"
    );
    assert_eq!(state(&db), "running", "the main process was hit");

    let main = r#"
[[steps]]
id = "main"
uses = "process.signal"
with = { service = "db", process = "sh", signal = "STOP" }
"#;
    let (out, report) = run_here(&dir, &playbook(project, main));
    assert_ne!(code(&out), 0);
    let error = step(&report, "main")["error"]["message"].to_string();
    assert!(error.contains("main process (PID 1)"), "{error}");
    assert!(!stopped(&db, "sh -c sleep 1000 & sleep 999 & wait"));
    remove_project(project);
}

#[test]
fn recover_resumes_the_workers_a_sigkilled_runner_left_stopped() {
    let project = "cpt-proc-recover";
    remove_project(project);
    let db = run_labelled_cmd(project, "db", &[], WORKERS);
    let dir = scratch("proc-recover");
    let steps = r#"
[[steps]]
id = "freeze"
uses = "process.signal"
with = { service = "db", process = "sleep", signal = "STOP" }

[[steps]]
uses = "sleep"
with = { duration = "60s" }
"#;
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the workers are stopped", || {
        stopped(&db, "sleep 1000") && stopped(&db, "sleep 999")
    });
    sigkill(&mut child);
    assert!(stopped(&db, "sleep 1000"), "the runner died mid-fault");
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(!stopped(&db, "sleep 1000") && !stopped(&db, "sleep 999"));
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}
