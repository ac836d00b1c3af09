//! Support for tests against the real Docker engine. They never skip: a machine without a
//! daemon fails them (run `.ci/ensure-docker` first), so CI cannot pass without testing Docker.

use std::path::Path;
use std::process::Command;
use std::sync::Once;

/// A tiny image built offline: Debian's static busybox in an empty image, every applet
/// installed in /bin.
pub const TEST_IMAGE: &str = "chaosplay-test/busybox:1";

/// Builds [`TEST_IMAGE`] once per test process (and not at all if it exists).
pub fn test_image() -> &'static str {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        require_docker();
        if docker(&["image", "inspect", TEST_IMAGE]).status.success() {
            return;
        }
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "the test image needs Debian's busybox-static (/bin/busybox): apt-get install busybox-static"
        );
        // Under the target dir, as every test's scratch: a failed build leaves nothing in /tmp.
        let dir = super::scratch(&format!("test-image-{}", std::process::id()));
        std::fs::copy(busybox, dir.join("busybox")).unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nRUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/tmp\", \"/www\"]\nENV PATH=/bin\nCMD [\"sleep\", \"3600\"]\n",
        )
        .unwrap();
        let out = docker(&["build", "-q", "-t", TEST_IMAGE, dir.to_str().unwrap()]);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success(), "building {TEST_IMAGE} failed: {}", String::from_utf8_lossy(&out.stderr));
    });
    TEST_IMAGE
}

pub fn require_docker() {
    let out = Command::new("docker")
        .args(["version", "--format", "{{.Server.APIVersion}}"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "these tests need a Docker engine (run .ci/ensure-docker): {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("these tests need the docker CLI and engine (run .ci/ensure-docker): {e}"),
    }
}

pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("the docker CLI runs")
}

/// `docker …` that must succeed; returns its trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Names of containers, networks or volumes carrying the compose project label.
pub fn project_objects(project: &str) -> Vec<String> {
    let filter = format!("label=com.docker.compose.project={project}");
    let mut found = Vec::new();
    for (kind, args) in [
        (
            "container",
            vec!["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
        ),
        (
            "network",
            vec![
                "network",
                "ls",
                "--filter",
                &filter,
                "--format",
                "{{.Name}}",
            ],
        ),
        (
            "volume",
            vec!["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"],
        ),
    ] {
        for name in docker_ok(&args).lines().filter(|l| !l.is_empty()) {
            found.push(format!("{kind} {name}"));
        }
    }
    found
}

/// Removes everything of a compose project (for test setup and teardown).
pub fn remove_project(project: &str) {
    let filter = format!("label=com.docker.compose.project={project}");
    for id in docker_ok(&["ps", "-aq", "--filter", &filter]).lines() {
        docker(&["rm", "-f", "-v", id]);
    }
    for id in docker_ok(&["network", "ls", "-q", "--filter", &filter]).lines() {
        docker(&["network", "rm", id]);
    }
    for id in docker_ok(&["volume", "ls", "-q", "--filter", &filter]).lines() {
        docker(&["volume", "rm", "-f", id]);
    }
}

/// Creates a user-defined network of a (pretend) compose project, labelled as Docker Compose
/// labels its own so [`remove_project`] removes it; `extra` adds e.g. `--subnet`. Returns the
/// engine's name for it, `<project>_<name>`.
pub fn create_network(project: &str, name: &str, extra: &[&str]) -> String {
    let full = format!("{project}_{name}");
    let project_label = format!("com.docker.compose.project={project}");
    let network_label = format!("com.docker.compose.network={name}");
    let mut args = vec![
        "network",
        "create",
        "--label",
        &project_label,
        "--label",
        &network_label,
    ];
    args.extend_from_slice(extra);
    args.push(&full);
    docker_ok(&args);
    full
}

/// Starts a container of a (pretend) compose project, labelled as Docker Compose labels its own.
pub fn run_labelled(project: &str, service: &str, extra: &[&str]) -> String {
    run_labelled_cmd(project, service, extra, &["sleep", "3600"])
}

/// [`run_labelled`] running `command` instead of a long sleep.
pub fn run_labelled_cmd(project: &str, service: &str, extra: &[&str], command: &[&str]) -> String {
    let name = format!("{project}-{service}-1");
    let image = test_image();
    let project_label = format!("com.docker.compose.project={project}");
    let service_label = format!("com.docker.compose.service={service}");
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &name,
        "--label",
        &project_label,
        "--label",
        &service_label,
        "--label",
        "com.docker.compose.container-number=1",
        "--label",
        "com.docker.compose.oneoff=False",
    ];
    args.extend_from_slice(extra);
    args.push(image);
    args.extend_from_slice(command);
    docker_ok(&args);
    name
}

/// A playbook whose subject is `project`, with `steps` (TOML) appended.
pub fn playbook(project: &str, steps: &str) -> String {
    format!("[scenario]\nname = \"faults\"\n[subject]\nproject = \"{project}\"\n{steps}")
}

pub fn state(container: &str) -> String {
    docker_ok(&["inspect", "-f", "{{.State.Status}}", container])
}

/// The `ps` state of the container's main process (`S`, `R`, `T` for stopped, …), read on the
/// engine's host as the daemon sees it.
pub fn main_process_state(container: &str) -> String {
    let pid = docker_ok(&["inspect", "-f", "{{.State.Pid}}", container]);
    let top = docker_ok(&["top", container, "-o", "pid,stat"]);
    top.lines()
        .find_map(|line| {
            let mut cols = line.split_whitespace();
            (cols.next() == Some(pid.as_str())).then(|| cols.next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| panic!("pid {pid} of {container} not in:\n{top}"))
}

/// Builds docker.stress's helper image once per test process (scripts/build-stress-image.sh,
/// offline from Debian's stress-ng; quick when it is up to date).
pub fn stress_image() {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        require_docker();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-stress-image.sh");
        let out = Command::new("bash").arg(script).output().unwrap();
        assert!(
            out.status.success(),
            "scripts/build-stress-image.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
}
