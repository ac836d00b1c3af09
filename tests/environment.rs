//! Faults of the environment rather than of the subject: a target that goes away during a
//! wait, a container removed by someone else mid-scenario, a full disk when the report is
//! written. Each must end in a clear error and the right exit code, with cleanup still run.
//! (The Docker daemon restarting mid-run has its own test binary: it restarts the daemon.)

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::docker::{docker, playbook, remove_project, run_labelled};
use common::http::serve;
use common::{chaosplay, code, run, run_file_env, scratch, step, write};

/// A `[[finally]]` step that leaves a marker, so a test can tell cleanup ran.
fn finally_marker(dir: &Path) -> (String, std::path::PathBuf) {
    let marker = dir.join("finally-ran");
    let _ = std::fs::remove_file(&marker);
    let toml = format!(
        "[[finally]]\nname = \"mark\"\nuses = \"exec\"\nwith = {{ argv = [\"touch\", \"{}\"] }}\n",
        marker.display()
    );
    (toml, marker)
}

fn message<'a>(report: &'a serde_json::Value, name: &str) -> &'a str {
    step(report, name)["error"]["message"].as_str().unwrap()
}

#[test]
fn an_http_target_that_goes_away_mid_wait_ends_the_wait_with_its_last_error() {
    // Two answers, then the listener is gone: every later poll is refused.
    let (port, _) = serve(vec![(503, "text/plain", "starting"); 2]);
    let dir = scratch("env-http-gone");
    let (finally, marker) = finally_marker(&dir);
    let playbook = format!(
        "[scenario]\nname = \"x\"\n[vars]\nport = 0\n[[steps]]\nname = \"health\"\nuses = \"http.request\"\nwith = {{ url = \"http://127.0.0.1:{{{{ vars.port }}}}/health\" }}\nuntil = \"output.status == 200\"\ninterval = \"50ms\"\ntimeout = \"1s\"\n{finally}"
    );
    let (out, report) = run(&dir, &playbook, &["--var", &format!("port={port}")]);
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    let health = step(&report, "health");
    assert_eq!(health["error"]["kind"], "timeout");
    let message = message(&report, "health");
    assert!(
        message.starts_with("timed out after 1s: last error:") && message.contains("refused"),
        "the wait says the target stopped answering: {message}"
    );
    assert!(health["polls"].as_u64().unwrap() > 2, "{health}");
    assert_eq!(step(&report, "mark")["status"], "passed");
    assert!(marker.exists(), "[[finally]] ran");
}

#[test]
fn pd_going_away_mid_wait_ends_the_wait_with_its_last_error() {
    let not_bootstrapped = r#""[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped, please start TiKV first""#;
    let (port, _) = serve(vec![(500, "application/json", not_bootstrapped); 2]);
    let dir = scratch("env-pd-gone");
    let (finally, marker) = finally_marker(&dir);
    let playbook = format!(
        "[scenario]\nname = \"pd\"\n[vars]\npd = \"\"\n[[steps]]\nname = \"up\"\nuses = \"pd.wait_stores\"\nwith = {{ pd = \"{{{{ vars.pd }}}}\", count = 3, interval = \"50ms\" }}\ntimeout = \"1s\"\n{finally}"
    );
    let (out, report) = run(
        &dir,
        &playbook,
        &["--var", &format!("pd=http://127.0.0.1:{port}")],
    );
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    let message = message(&report, "up");
    assert!(
        message.starts_with("timed out after 1s: last status: not yet:")
            && message.contains(&format!("127.0.0.1:{port}")),
        "the wait names PD and says it stopped answering: {message}"
    );
    assert!(!message.contains("not bootstrapped"), "{message}");
    assert!(marker.exists(), "[[finally]] ran");
}

#[test]
fn a_container_removed_by_someone_else_mid_scenario() {
    let project = "cpt-removed";
    remove_project(project);
    let container = run_labelled(project, "db", &[]);
    let dir = scratch("env-removed");
    let state_dir = dir.join("state");
    let go = dir.join("go");
    let _ = std::fs::remove_file(&go);
    let (finally, marker) = finally_marker(&dir);
    // The scenario kills db (its undo: start it), then holds until the test has removed the
    // container, then tries to start it again.
    let steps = format!(
        "[[steps]]\nid = \"kill\"\nuses = \"docker.kill\"\nwith = {{ service = \"db\" }}\n[[steps]]\nname = \"hold\"\nuses = \"exec\"\nwith = {{ argv = [\"sh\", \"-c\", \"until [ -e {go} ]; do sleep 0.05; done\"] }}\ntimeout = \"30s\"\n[[steps]]\nname = \"start\"\nuses = \"docker.start\"\nwith = {{ container = \"{{{{ steps.kill.container }}}}\" }}\n{finally}",
        go = go.display()
    );
    let path = write(&dir, "p.toml", &playbook(project, &steps));
    let report_path = dir.join("report.json");
    let child = common::spawn_run(
        &state_dir,
        &path,
        &["--report-json", report_path.to_str().unwrap()],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::docker::state(&container) != "exited" {
        assert!(Instant::now() < deadline, "db was never killed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(docker(&["rm", "-f", &container]).status.success());
    std::fs::write(&go, "").unwrap();
    let out = child.wait_with_output().unwrap();
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 1, "{stdout}");
    assert_eq!(
        message(&report, "start"),
        format!(
            "no container matches container `{container}` in compose project `{project}`; there are no containers there"
        )
    );
    // The kill's undo has nothing left to restart: a success that says why, and the ledger
    // drops it, so `recover` has nothing to replay.
    let undo = &report["runs"][0]["undo"][0];
    assert_eq!(undo["ok"], true, "{undo}");
    assert_eq!(
        undo["note"],
        format!("nothing to undo: container {container} no longer exists")
    );
    assert!(stdout.contains("no longer exists"), "{stdout}");
    assert!(marker.exists(), "[[finally]] ran");
    common::assert_nothing_to_recover(&state_dir, project);
    remove_project(project);
}

/// Mounts a tmpfs of `size` at `dir`; it is unmounted when dropped.
struct SmallDisk {
    dir: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(dir: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(dir).unwrap();
        let _ = Command::new("umount").arg(dir).output();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs to fill it, which needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            dir: dir.to_path_buf(),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).output();
    }
}

#[test]
fn a_full_disk_when_writing_reports_is_a_clear_error_and_leaves_no_partial_report() {
    let dir = scratch("env-disk-full");
    let disk = SmallDisk::mount(&dir.join("disk"), "64k");
    // Fill the disk to the last few hundred bytes: less than any report needs.
    let filler = disk.dir.join("filler");
    let mut size = 64 * 1024;
    while std::fs::write(&filler, vec![0u8; size]).is_err() {
        size -= 512;
    }
    let (finally, marker) = finally_marker(&dir);
    let path = write(
        &dir,
        "p.toml",
        &format!(
            "[scenario]\nname = \"disk\"\n[[steps]]\nuses = \"log\"\nwith = {{ message = \"hello\" }}\n{finally}"
        ),
    );
    let json = disk.dir.join("report.json");
    let junit = disk.dir.join("junit.xml");
    let out = chaosplay()
        .arg("run")
        .arg(&path)
        .arg("--report-json")
        .arg(&json)
        .arg("--report-junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        code(&out),
        3,
        "a report that cannot be written fails the run: {stderr}"
    );
    for (format, report) in [("JSON", &json), ("JUnit", &junit)] {
        assert!(
            stderr.contains(&format!(
                "error: cannot write the {format} report to {}: No space left on device",
                report.display()
            )),
            "{stderr}"
        );
    }
    assert!(marker.exists(), "the run itself, cleanup included, went on");
    let mut left: Vec<_> = std::fs::read_dir(&disk.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["filler"], "no partial report is left behind");
    // The same run with room for its reports writes them.
    std::fs::remove_file(&filler).unwrap();
    let (out, report) = run_file_env(
        &dir,
        &path,
        &["--report-junit", junit.to_str().unwrap()],
        &[],
    );
    assert_eq!(code(&out), 0);
    assert_eq!(report["runs"][0]["status"], "passed");
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("<testsuites")
    );
}
