//! The Docker daemon restarting in the middle of a run. This test stops and starts the
//! engine itself, so it is alone in its test binary (cargo runs test binaries one at a time)
//! and runs where the engine is ours to restart: under CI (started by `.ci/ensure-docker`), or
//! when CHAOSPLAY_TEST_RESTART_DOCKER=1 says so.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::docker::{playbook, remove_project, run_labelled, state};
use common::{scratch, step, write};

const PIDFILE: &str = "/var/run/docker.pid";

fn may_restart_the_daemon() -> bool {
    let asked = |var: &str, value: &str| std::env::var(var).is_ok_and(|v| v == value);
    asked("CI", "true") || asked("CHAOSPLAY_TEST_RESTART_DOCKER", "1")
}

/// Whether `pid` is a live process (a zombie has already exited).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat.rsplit(") ").next().and_then(|s| s.get(..1)),
            Some("Z" | "X")
        )
    })
}

/// Stops dockerd with SIGTERM (as `systemctl restart docker` does) and waits until it is gone.
fn stop_dockerd() {
    let pid = std::fs::read_to_string(PIDFILE).unwrap_or_else(|e| {
        panic!("no {PIDFILE} ({e}): is this engine started by .ci/ensure-docker?")
    });
    let pid = pid.trim();
    assert!(
        Command::new("kill")
            .args(["-TERM", pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "dockerd {pid} did not stop within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The run under test, killed if the test fails before it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_dockerd() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/ensure-docker");
    let out = Command::new("bash").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "restarting the engine failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_daemon_restart_mid_run_is_an_environment_error_and_cleanup_waits_for_it() {
    if !may_restart_the_daemon() {
        eprintln!("not run: it restarts the Docker daemon; set CHAOSPLAY_TEST_RESTART_DOCKER=1");
        return;
    }
    assert!(
        std::env::var_os("DOCKER_HOST").is_none(),
        "this test restarts the local engine; unset DOCKER_HOST"
    );
    let project = "cpt-daemon";
    remove_project(project);
    // A short stop timeout, so the daemon's own shutdown does not wait 10 s for busybox.
    let container = run_labelled(project, "db", &["--stop-timeout", "1"]);
    let dir = scratch("daemon-restart");
    let state_dir = dir.join("state");
    let marker = dir.join("finally-ran");
    let _ = std::fs::remove_file(&marker);
    // Kill db (its undo: start it), then poll the daemon until it goes away.
    let steps = format!(
        "[[steps]]\nid = \"kill\"\nuses = \"docker.kill\"\nwith = {{ service = \"db\" }}\n[[steps]]\nname = \"watch\"\nuses = \"docker.logs\"\nwith = {{ container = \"{{{{ steps.kill.container }}}}\" }}\nuntil = \"output.logs == 'never'\"\ninterval = \"100ms\"\ntimeout = \"2m\"\n[[finally]]\nname = \"mark\"\nuses = \"exec\"\nwith = {{ argv = [\"touch\", \"{}\"] }}\n",
        marker.display()
    );
    let path = write(&dir, "p.toml", &playbook(project, &steps));
    let report_path = dir.join("report.json");
    let mut child = KillOnDrop(common::spawn_run(
        &state_dir,
        &path,
        &["--report-json", report_path.to_str().unwrap()],
    ));
    let (lines, seen) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let wait_for = |text: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match seen.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(_) => {}
                Err(e) => panic!("the run never printed `{text}`: {e}"),
            }
        }
    };
    wait_for("✓ kill (docker.kill)");
    assert_eq!(state(&container), "exited");

    stop_dockerd();
    // The run notices, stops its steps, and its cleanup waits for the daemon to come back.
    wait_for("waiting up to");
    start_dockerd();

    let status = child.0.wait().unwrap();
    let stdout = reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(
        status.code(),
        Some(3),
        "an environment error: {stdout}{stderr}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let watch = step(&report, "watch");
    assert_eq!(watch["error"]["kind"], "environment", "{watch}");
    assert!(
        watch["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach the Docker daemon at unix:///var/run/docker.sock"),
        "{watch}"
    );
    // Not ridden out like an unreachable target: the step ended when the daemon went away,
    // long before its 2-minute timeout.
    assert!(watch["duration_ms"].as_u64().unwrap() < 60_000, "{watch}");
    let undo = &report["runs"][0]["undo"][0];
    assert_eq!(
        undo["ok"], true,
        "the kill was undone once the daemon was back: {undo}"
    );
    assert_eq!(state(&container), "running");
    assert!(marker.exists(), "[[finally]] ran");
    common::assert_nothing_to_recover(&state_dir, project);
    remove_project(project);
}
