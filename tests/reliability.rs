//! Never leave a cluster broken: the undo ledger survives a SIGKILLed runner, `recover`
//! restores the subject, a run refuses to start over outstanding faults, and two runs cannot
//! share a project.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::docker::{create_network, docker_ok, playbook, remove_project, run_labelled, state};
use common::{chaosplay, code, recover, scratch, spawn_run, write};

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigkill(child: &mut Child) {
    assert!(
        Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let _ = child.wait();
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
