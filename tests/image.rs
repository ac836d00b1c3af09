//! chaosplay's own container image (scripts/build-image.sh): built from the debug binary this
//! `cargo test` has just built (so the test compiles nothing more; the release binary is packed
//! the same way, with the same libraries), then run as CI would run it — the engine's socket
//! mounted, the working directory at the same path as on the host — against a labelled busybox
//! container of a unique project: pause it, see the engine report it paused, unpause it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::docker::{docker, docker_ok, playbook, remove_project, run_labelled, state};
use common::{code, scratch, step, write};

/// The image under test (unique per test process, removed at the end) and the project its
/// scenario works on.
struct Fixture {
    tag: String,
    project: String,
}

impl Fixture {
    fn new() -> Fixture {
        let pid = std::process::id();
        let fixture = Fixture {
            tag: format!("chaosplay-test/chaosplay:{pid}"),
            project: format!("cpt-image-{pid}"),
        };
        remove_project(&fixture.project);
        fixture
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        remove_project(&self.project);
        let _ = docker(&["image", "rm", "-f", &self.tag]);
    }
}

/// The engine's socket on this host: DOCKER_HOST's path if it is a unix socket, else the default.
fn socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(host) if host.starts_with("unix://") => PathBuf::from(&host["unix://".len()..]),
        Ok(host) if !host.is_empty() => {
            panic!(
                "this test mounts the engine's unix socket into the image; DOCKER_HOST={host} is not one"
            )
        }
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

fn build_image(tag: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-image.sh");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--binary")
        .arg(common::bin())
        .arg(tag)
        .output()
        .expect("bash runs scripts/build-image.sh");
    assert!(
        out.status.success(),
        "scripts/build-image.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_image_runs_a_scenario_against_the_engine_through_the_mounted_socket() {
    common::docker::require_docker();
    let f = Fixture::new();
    build_image(&f.tag);

    // FROM scratch with only what the binary needs: no shell was pulled in from a base image.
    let entrypoint = docker_ok(&[
        "image",
        "inspect",
        "-f",
        "{{json .Config.Entrypoint}}",
        &f.tag,
    ]);
    assert_eq!(entrypoint, r#"["/usr/local/bin/chaosplay"]"#);
    let version = docker_ok(&["run", "--rm", &f.tag, "--version"]);
    assert!(version.starts_with("chaosplay "), "{version}");

    let app = run_labelled(&f.project, "app", &[]);
    let dir = scratch("image");
    let steps = r#"
[[steps]]
id = "pause"
uses = "docker.pause"
with = { service = "app" }
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
with = { service = "app", state = "running" }
timeout = "10s"
"#;
    let path = write(&dir, "playbook.toml", &playbook(&f.project, steps));
    let report = dir.join("report.json");
    let socket = socket();
    let socket = socket.to_str().unwrap();
    let dir_str = dir.to_str().unwrap();
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "host"])
        .args(["-v", &format!("{socket}:/var/run/docker.sock")])
        .args(["-v", &format!("{dir_str}:{dir_str}"), "-w", dir_str])
        .arg(&f.tag)
        .arg("run")
        .arg(&path)
        .arg("--report-json")
        .arg(&report)
        .output()
        .expect("the docker CLI runs");
    assert_eq!(
        code(&out),
        0,
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&report).expect("the run in the container wrote its report to the mount"),
    )
    .unwrap();
    assert_eq!(step(&report, "pause")["output"]["container"], app.as_str());
    assert_eq!(
        step(&report, "frozen")["output"]["containers"][0]["state"],
        "paused",
        "the engine saw the container paused"
    );
    assert!(report["runs"][0]["undo"].as_array().unwrap().is_empty());
    assert_eq!(state(&app), "running");
}
