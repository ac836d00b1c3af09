//! Never leave a cluster broken: the undo ledger survives a SIGKILLed runner, `recover`
//! restores the subject, a run refuses to start over outstanding faults, and two runs cannot
//! share a project.

mod common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::docker::{
    create_network, docker_ok, main_process_state, playbook, remove_project, run_labelled,
    run_labelled_cmd, state,
};
use common::{
    chaosplay, code, recover, run_here, scratch, sigkill, signal, spawn_run, wait_until, write,
};

/// Starts a run of `steps` on `project` and returns once its first fault is registered in the
/// ledger and its Docker call has had half a second to reach the daemon.
fn run_until_a_fault_is_under_way(dir: &std::path::Path, project: &str, steps: &str) -> Child {
    let path = write(dir, "p.toml", &playbook(project, steps));
    let child = spawn_run(dir, &path, &[]);
    let ledger = dir.join(format!("{project}.json"));
    wait_until("the fault is registered", || ledger.exists());
    std::thread::sleep(Duration::from_millis(500));
    child
}

#[test]
fn recover_unpauses_after_the_runner_was_sigkilled() {
    let project = "cpt-ledger-pause";
    remove_project(project);
    run_labelled(project, "db", &[]);
    let dir = scratch("ledger-pause");
    let steps = "[[steps]]\nuses = \"docker.pause\"\nwith = { service = \"db\" }\n[[steps]]\nuses = \"sleep\"\nwith = { duration = \"60s\" }\n";
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the container is paused", || {
        state("cpt-ledger-pause-db-1") == "paused"
    });
    sigkill(&mut child);
    assert_eq!(
        state("cpt-ledger-pause-db-1"),
        "paused",
        "nothing undid the fault: the runner died"
    );
    assert!(
        dir.join(format!("{project}.json")).exists(),
        "the ledger survived the runner"
    );

    // A new run refuses to start over the outstanding fault.
    let out = chaosplay()
        .env("CHAOSPLAY_STATE_DIR", &dir)
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("an earlier run left 1 fault(s) on `cpt-ledger-pause` unreversed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("chaosplay recover --project cpt-ledger-pause"),
        "{stderr}"
    );

    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unpause cpt-ledger-pause-db-1"));
    assert_eq!(state("cpt-ledger-pause-db-1"), "running");
    assert!(!dir.join(format!("{project}.json")).exists());
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn recover_reconnects_a_partitioned_container() {
    let project = "cpt-ledger-net";
    remove_project(project);
    let network = create_network(project, "back", &[]);
    run_labelled(project, "db", &["--network", &network]);
    let dir = scratch("ledger-net");
    let steps = "[[steps]]\nuses = \"network.partition\"\nwith = { service = \"db\" }\n[[steps]]\nuses = \"sleep\"\nwith = { duration = \"60s\" }\n";
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let networks = || {
        docker_ok(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            "cpt-ledger-net-db-1",
        ])
    };
    assert_eq!(networks(), network);
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the container is disconnected", || networks().is_empty());
    sigkill(&mut child);
    assert!(networks().is_empty());
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(networks(), network, "reconnected to its network");
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn ignore_ledger_adopts_outstanding_faults_and_reverses_them() {
    let project = "cpt-ledger-adopt";
    remove_project(project);
    run_labelled(project, "db", &[]);
    let dir = scratch("ledger-adopt");
    let steps = "[[steps]]\nuses = \"docker.pause\"\nwith = { service = \"db\" }\n[[steps]]\nuses = \"sleep\"\nwith = { duration = \"60s\" }\n";
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the container is paused", || {
        state("cpt-ledger-adopt-db-1") == "paused"
    });
    sigkill(&mut child);
    let quick = write(
        &dir,
        "quick.toml",
        &playbook(
            project,
            "[[steps]]\nuses = \"log\"\nwith = { message = \"hi\" }\n",
        ),
    );
    let out = chaosplay()
        .env("CHAOSPLAY_STATE_DIR", &dir)
        .arg("run")
        .arg(&quick)
        .arg("--ignore-ledger")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        state("cpt-ledger-adopt-db-1"),
        "running",
        "the adopting run's cleanup unpaused it"
    );
    assert!(!dir.join(format!("{project}.json")).exists());
    let locks = docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        "label=dev.chaosplay.lock.project=cpt-ledger-adopt",
    ]);
    assert_eq!(
        locks, "",
        "the adopting run took the dead run's lock and released it"
    );
    remove_project(project);
}

#[test]
fn two_runs_cannot_share_a_project() {
    let project = "cpt-ledger-lock";
    let dir = scratch("ledger-lock");
    let slow = write(
        &dir,
        "slow.toml",
        &playbook(
            project,
            "[[steps]]\nuses = \"sleep\"\nwith = { duration = \"30s\" }\n",
        ),
    );
    let mut first = spawn_run(&dir, &slow, &[]);
    let lock = dir.join(format!("{project}.lock"));
    wait_until("the first run holds the lock", || lock.exists());
    let out = chaosplay()
        .env("CHAOSPLAY_STATE_DIR", &dir)
        .arg("run")
        .arg(&slow)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another chaosplay run is using `cpt-ledger-lock`"),
        "{stderr}"
    );
    sigkill(&mut first);
    // The lock dies with its holder.
    let out = chaosplay()
        .env("CHAOSPLAY_STATE_DIR", &dir)
        .arg("run")
        .arg(write(
            &dir,
            "quick.toml",
            &playbook(
                project,
                "[[steps]]\nuses = \"log\"\nwith = { message = \"hi\" }\n",
            ),
        ))
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
}

/// The busybox `sleep` of the test containers runs as PID 1, which ignores SIGTERM: a
/// `docker stop` of it takes its whole grace period, in the daemon, whatever the runner does.
const STOP_4S: &str =
    "[[steps]]\nuses = \"docker.stop\"\nwith = { service = \"db\", grace = \"4s\" }\n";

#[test]
fn an_interrupted_stop_is_waited_out_before_the_container_is_started_again() {
    let project = "cpt-undo-stop-int";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("undo-stop-int");
    let child = run_until_a_fault_is_under_way(&dir, project, STOP_4S);
    let stop_over = Instant::now() + Duration::from_secs(4);
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", String::from_utf8_lossy(&out.stdout));
    std::thread::sleep(
        stop_over.saturating_duration_since(Instant::now()) + Duration::from_secs(1),
    );
    assert_eq!(state(&db), "running", "the stop landed after the undo");
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn recover_waits_out_a_stop_the_killed_runner_left_in_flight() {
    let project = "cpt-undo-stop-kill";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("undo-stop-kill");
    let mut child = run_until_a_fault_is_under_way(&dir, project, STOP_4S);
    let stop_over = Instant::now() + Duration::from_secs(4);
    sigkill(&mut child);
    assert_eq!(
        state(&db),
        "running",
        "the daemon is still in its grace period"
    );
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("start {db}")));
    std::thread::sleep(
        stop_over.saturating_duration_since(Instant::now()) + Duration::from_secs(1),
    );
    assert_eq!(
        state(&db),
        "running",
        "recover started it after the stop landed"
    );
    common::assert_nothing_to_recover(&dir, project);
    remove_project(project);
}

#[test]
fn a_stopping_signal_is_undone_by_sigcont_at_cleanup_and_by_recover() {
    let project = "cpt-undo-sigstop";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let dir = scratch("undo-sigstop");
    let stop =
        "[[steps]]\nuses = \"docker.kill\"\nwith = { service = \"db\", signal = \"SIGSTOP\" }\n";
    let (out, report) = run_here(&dir, &playbook(project, stop));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let undo = &report["runs"][0]["undo"][0];
    assert_eq!(
        undo["description"],
        format!("resume {db} (SIGCONT)").as_str()
    );
    assert_eq!(undo["ok"], true);
    assert!(!main_process_state(&db).starts_with('T'), "still frozen");

    let steps = format!("{stop}[[steps]]\nuses = \"sleep\"\nwith = {{ duration = \"60s\" }}\n");
    let path = write(&dir, "p.toml", &playbook(project, &steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("the container is frozen", || {
        main_process_state(&db).starts_with('T')
    });
    sigkill(&mut child);
    assert_eq!(
        state(&db),
        "running",
        "Docker calls a frozen container running"
    );
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        !main_process_state(&db).starts_with('T'),
        "recover left it frozen"
    );
    remove_project(project);
}

#[test]
fn an_undo_waits_for_a_signal_to_take_the_container_down_before_starting_it() {
    let project = "cpt-undo-sigterm";
    remove_project(project);
    // Exits two seconds after SIGTERM, as a server draining its connections would.
    let db = run_labelled_cmd(
        project,
        "db",
        &[],
        &[
            "sh",
            "-c",
            "trap 'sleep 2; exit 0' TERM; while true; do sleep 1; done",
        ],
    );
    let dir = scratch("undo-sigterm");
    let steps =
        "[[steps]]\nuses = \"docker.kill\"\nwith = { service = \"db\", signal = \"SIGTERM\" }\n";
    let (out, report) = run_here(&dir, &playbook(project, steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["runs"][0]["undo"][0]["ok"], true);
    // Long enough for the trap to have ended a container that cleanup did not wait for.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(state(&db), "running", "it went down after cleanup looked");
    remove_project(project);
}

#[test]
fn an_undo_whose_effect_is_not_seen_fails_and_stays_for_recover() {
    let project = "cpt-undo-unverified";
    remove_project(project);
    // Runs once; every later start exits at once with 7.
    let db = run_labelled_cmd(
        project,
        "db",
        &[],
        &[
            "sh",
            "-c",
            "test -e /started && exit 7; touch /started; exec sleep 3600",
        ],
    );
    let dir = scratch("undo-unverified");
    let kill = "[[steps]]\nuses = \"docker.kill\"\nwith = { service = \"db\" }\n";
    let (out, report) = run_here(&dir, &playbook(project, kill));
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stdout));
    let undo = &report["runs"][0]["undo"][0];
    assert_eq!(undo["ok"], false);
    let error = undo["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("{db} is exited with code 7")),
        "{error}"
    );
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
fn the_project_lock_is_on_the_engine_whatever_the_state_dir() {
    let project = "cpt-lock-engine";
    remove_project(project);
    let db = run_labelled(project, "db", &[]);
    let (dir, other_dir) = (scratch("lock-engine"), scratch("lock-engine-other"));
    let steps = "[[steps]]\nuses = \"docker.pause\"\nwith = { service = \"db\" }\n[[steps]]\nuses = \"sleep\"\nwith = { duration = \"60s\" }\n";
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let mut first = spawn_run(&dir, &path, &[]);
    wait_until("the container is paused", || state(&db) == "paused");

    // Another state directory and home: refused, naming the holder, touching nothing.
    let out = chaosplay()
        .env("CHAOSPLAY_STATE_DIR", &other_dir)
        .env("HOME", &other_dir)
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stdout));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another chaosplay run holds `cpt-lock-engine` on the Docker engine"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {} on ", first.id())),
        "{stderr}"
    );
    assert!(stderr.contains("scenario `faults`"), "{stderr}");
    assert_eq!(state(&db), "paused", "the refused run touched nothing");

    // Without the run's lock file, recover and --ignore-ledger still keep off its faults.
    std::fs::remove_file(dir.join(format!("{project}.lock"))).unwrap();
    let out = recover(&dir, project);
    assert_eq!(code(&out), 4, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipped `cpt-lock-engine`"));
    let out = chaosplay()
        .env("CHAOSPLAY_STATE_DIR", &dir)
        .arg("run")
        .arg(&path)
        .arg("--ignore-ledger")
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(state(&db), "paused", "nobody reversed a live run's fault");

    // A holder that died is proven dead on its own machine: recover takes its lock over.
    sigkill(&mut first);
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(state(&db), "running");
    let locks = docker_ok(&[
        "ps",
        "-aq",
        "--filter",
        "label=dev.chaosplay.lock.project=cpt-lock-engine",
    ]);
    assert_eq!(locks, "", "recover released the lock");
    remove_project(project);
}
