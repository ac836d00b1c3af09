//! The compose lifecycle against the real Docker engine: up in dependency order with health
//! and completion conditions, ps, down leaving nothing behind, reset wiping data, and the
//! errors for an unsupported key and an image that cannot be pulled.

mod common;

use common::docker::{docker_ok, project_objects, remove_project, test_image};
use common::{chaosplay, code, run, scratch, step};

const COMPOSE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/compose-lifecycle/docker-compose.yaml"
);

/// Tests run in parallel: each gets its own project and host port.
fn playbook(project: &str, port: u16, steps: &str) -> String {
    format!(
        "[scenario]\nname = \"compose\"\n[vars]\nport = {port}\n[subject]\ncompose = \"{COMPOSE}\"\nproject = \"{project}\"\nenv = {{ TEST_IMAGE = \"{}\", DB_PORT = \"{port}\" }}\n{steps}",
        test_image()
    )
}

#[test]
fn up_ps_down_leaves_nothing_behind() {
    let project = "cpt-compose";
    remove_project(project);
    let dir = scratch("compose-up");
    let steps = r#"
[[steps]]
id = "up"
uses = "compose.up"
timeout = "60s"
[[steps]]
id = "ps"
uses = "compose.ps"
[[steps]]
id = "page"
uses = "http.request"
with = { url = "http://127.0.0.1:{{ vars.port }}/" }
[[steps]]
id = "alias"
uses = "docker.exec"
with = { service = "app", argv = ["wget", "-q", "-O", "-", "http://database:8080/"] }
[[steps]]
uses = "assert"
with.that = [
  "steps.up.healthy == 1",
  "steps.ps.running == 3",
  "(steps.ps.services | selectattr('service', 'eq', 'init') | first).state == 'exited'",
  "steps.page.status == 200",
]
[[steps]]
uses = "compose.down"
with = { volumes = true }
"#;
    let (out, report) = run(&dir, &playbook(project, 18081, steps), &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "up")["status"], "passed");
    assert!(
        project_objects(project).is_empty(),
        "left behind: {:?}",
        project_objects(project)
    );
}

#[test]
fn labels_and_names_follow_docker_compose() {
    let project = "cpt-labels";
    remove_project(project);
    let dir = scratch("compose-labels");
    let (out, _) = run(
        &dir,
        &playbook(
            project,
            18082,
            "[[steps]]\nuses = \"compose.up\"\ntimeout = \"60s\"\n",
        ),
        &[],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let labels = docker_ok(&[
        "inspect",
        "-f",
        "{{index .Config.Labels \"com.docker.compose.project\"}} {{index .Config.Labels \"com.docker.compose.service\"}} {{index .Config.Labels \"com.docker.compose.container-number\"}} {{index .Config.Labels \"com.docker.compose.oneoff\"}}",
        "cpt-labels-db-1",
    ]);
    assert_eq!(labels, "cpt-labels db 1 False");
    let networks = docker_ok(&[
        "network",
        "ls",
        "--filter",
        "label=com.docker.compose.project=cpt-labels",
        "--format",
        "{{.Name}}",
    ]);
    let mut networks: Vec<_> = networks.lines().collect();
    networks.sort();
    // `late` lists no networks, so it is on the implicit default one, as with Docker Compose.
    assert_eq!(
        networks,
        ["cpt-labels_back", "cpt-labels_default", "cpt-labels_front"]
    );
    let bind = docker_ok(&["port", "cpt-labels-db-1", "8080/tcp"]);
    assert_eq!(bind, "127.0.0.1:18082");
    remove_project(project);
}

#[test]
fn reset_wipes_the_data_and_comes_back_healthy() {
    let project = "cpt-reset";
    remove_project(project);
    let dir = scratch("compose-reset");
    let steps = r#"
[[steps]]
uses = "compose.up"
timeout = "60s"
[[steps]]
id = "before"
uses = "docker.exec"
with = { service = "db", argv = ["sh", "-c", "ls /data/marker-* | wc -l"] }
[[steps]]
id = "reset"
uses = "compose.reset"
timeout = "60s"
[[steps]]
id = "after"
uses = "docker.exec"
with = { service = "db", argv = ["sh", "-c", "ls /data/marker-* | wc -l"] }
[[steps]]
uses = "assert"
with.that = ["steps.before.stdout | trim == '1'", "steps.after.stdout | trim == '1'", "steps.reset.healthy == 1"]
[[finally]]
uses = "compose.down"
with = { volumes = true, kill = true }
"#;
    let (out, _) = run(&dir, &playbook(project, 18083, steps), &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(project_objects(project).is_empty());
}

#[test]
fn an_unsupported_compose_key_is_reported_at_validation() {
    let test = common::Test::new("compose-unsupported");
    common::write(
        test.dir(),
        "docker-compose.yaml",
        "services:\n  db:\n    image: x\n    deploy:\n      replicas: 2\n",
    );
    test.playbook(
        r#"
[scenario]
name = "x"
[subject]
compose = "docker-compose.yaml"
[[steps]]
uses = "compose.up"
"#,
    )
    .code(2)
    .stderr_has("error: invalid compose file: service \"db\": unsupported key \"deploy\"")
    .stderr_has("docker-compose.yaml:4:5\n")
    .stderr_has("= note: the compose file of [subject], named at ")
    .run();
}

#[test]
fn an_image_that_cannot_be_pulled_is_named_and_exits_3() {
    let project = "cpt-missing";
    remove_project(project);
    let dir = scratch("compose-missing");
    // A registry on a closed local port: the pull fails at once, and no traffic leaves.
    common::write(
        &dir,
        "docker-compose.yaml",
        "services:\n  db:\n    image: 127.0.0.1:9/chaosplay/missing:1\n",
    );
    let (out, report) = run(
        &dir,
        &format!(
            "[scenario]\nname = \"x\"\n[subject]\ncompose = \"docker-compose.yaml\"\nproject = \"{project}\"\n[[steps]]\nname = \"up\"\nuses = \"compose.up\"\n"
        ),
        &[],
    );
    assert_eq!(code(&out), 3);
    let message = step(&report, "up")["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.starts_with("image `127.0.0.1:9/chaosplay/missing:1` (service `db`) is not on this machine and could not be pulled:"), "{message}");
    assert!(
        project_objects(project).is_empty(),
        "nothing may be left behind"
    );
}

#[test]
fn parallel_trials_each_get_a_project_and_ports_of_their_own() {
    let dir = scratch("compose-parallel");
    for trial in 1..=3 {
        remove_project(&format!("cpt-par-t{trial}"));
    }
    let steps = r#"
[[steps]]
uses = "compose.up"
timeout = "60s"
[[steps]]
name = "page"
uses = "http.request"
with = { url = "http://127.0.0.1:{{ 18090 + run.trial }}/" }
[[steps]]
id = "kill"
uses = "docker.kill"
with = { service = "db" }
[[finally]]
uses = "compose.down"
with = { volumes = true, kill = true }
"#;
    let text = format!(
        "[scenario]\nname = \"parallel\"\n[subject]\ncompose = \"{COMPOSE}\"\nproject = \"cpt-par\"\nenv = {{ TEST_IMAGE = \"{}\", DB_PORT = \"{{{{ 18090 + run.trial }}}}\" }}\n{steps}",
        test_image()
    );
    let (out, report) = run(&dir, &text, &["--trials", "3", "--jobs", "3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(code(&out), 0, "{stdout}");
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let mut windows = Vec::new();
    for (trial, run) in (1..).zip(runs) {
        assert_eq!(run["trial"], trial);
        let kill = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "kill")
            .unwrap();
        assert_eq!(
            kill["output"]["container"],
            format!("cpt-par-t{trial}-db-1"),
            "each trial kills in its own project"
        );
        let start = chrono::DateTime::parse_from_rfc3339(run["started_at"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        windows.push((start, start + run["duration_ms"].as_i64().unwrap()));
        assert!(
            project_objects(&format!("cpt-par-t{trial}")).is_empty(),
            "trial {trial} cleaned up after itself"
        );
        assert!(
            stdout.contains(&format!("[t{trial}] passed: parallel")),
            "{stdout}"
        );
    }
    let latest_start = windows.iter().map(|w| w.0).max().unwrap();
    let earliest_end = windows.iter().map(|w| w.1).min().unwrap();
    assert!(
        latest_start < earliest_end,
        "the trials ran at the same time: {windows:?}"
    );
}

#[test]
fn parallel_trials_that_would_share_a_host_port_are_refused_before_anything_runs() {
    let dir = scratch("compose-parallel-clash");
    let text = format!(
        "[scenario]\nname = \"clash\"\n[subject]\ncompose = \"{COMPOSE}\"\nproject = \"cpt-clash\"\nenv = {{ TEST_IMAGE = \"{}\", DB_PORT = \"18099\" }}\n[[steps]]\nuses = \"compose.up\"\n",
        test_image()
    );
    let path = common::write(&dir, "p.toml", &text);
    let out = chaosplay()
        .args(["run", "--trials", "2", "--jobs", "2"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "trials 1 and 2 would both publish host port 127.0.0.1:18099 (service `db`, then `db`)"
        ),
        "{stderr}"
    );
    for trial in 1..=2 {
        assert!(project_objects(&format!("cpt-clash-t{trial}")).is_empty());
    }
    // One at a time, the same playbook is fine: trials share the project in turn.
    let out = chaosplay().args(["validate"]).arg(&path).output().unwrap();
    assert_eq!(code(&out), 0);
}
