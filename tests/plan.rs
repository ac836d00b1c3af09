//! `chaosplay plan` (and `run --dry-run`) shows what a run would do and touches nothing.

mod common;

use common::docker::{docker_ok, playbook, remove_project, run_labelled};
use common::{chaosplay, code, scratch, write};

fn states(containers: &[&str]) -> Vec<String> {
    containers
        .iter()
        .map(|c| {
            docker_ok(&[
                "inspect",
                "-f",
                "{{.State.Status}} {{.State.StartedAt}} {{.State.Pid}}",
                c,
            ])
        })
        .collect()
}

#[test]
fn plan_names_the_targets_and_touches_nothing() {
    let project = "cpt-plan";
    remove_project(project);
    let a = run_labelled(project, "tikv0", &[]);
    let b = run_labelled(project, "tikv1", &[]);
    let pd = run_labelled(project, "pd0", &[]);
    let dir = scratch("plan");
    let steps = r#"
[[steps]]
id = "kill"
uses = "docker.kill"
with = { service = "tikv*", pick = "random" }
[[steps]]
uses = "docker.pause"
with = { service = "pd0" }
[[steps]]
uses = "docker.start"
with = { container = "{{ steps.kill.container }}" }
"#;
    let path = write(&dir, "p.toml", &playbook(project, steps));
    let before = states(&[&a, &b, &pd]);
    for args in [vec!["plan"], vec!["run", "--dry-run"]] {
        let out = chaosplay().args(&args).arg(&path).output().unwrap();
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("hits    1 at random (by the seed) of: {a}, {b}")),
            "{text}"
        );
        assert!(text.contains(&format!("hits    {pd}")), "{text}");
        assert!(
            text.contains("undo    start the containers it hit"),
            "{text}"
        );
        assert!(
            text.contains("undo    unpause the containers it hit"),
            "{text}"
        );
        assert!(text.contains("hits    decided at run time"), "{text}");
        assert!(text.ends_with("nothing was run.\n\n"), "{text}");
    }
    assert_eq!(
        states(&[&a, &b, &pd]),
        before,
        "plan must not touch any container"
    );
    assert!(!dir.join("report.json").exists());
    remove_project(project);
}

/// A plan reaches for the Docker daemon only when a step needs one: a playbook of `log` and
/// `http.request` steps says nothing about Docker, one with a container step says why the
/// daemon cannot be reached and that its targets are unknown.
#[test]
fn plan_mentions_docker_only_when_a_step_needs_it() {
    let dir = scratch("plan-docker-need");
    let dead = format!("unix://{}", dir.join("no-docker.sock").display());
    let pure = write(
        &dir,
        "pure.toml",
        "[scenario]\nname = \"pure\"\n[[steps]]\nuses = \"log\"\nwith = { message = \"hi\" }\n[[steps]]\nuses = \"http.request\"\nwith = { url = \"http://127.0.0.1:9/\" }\n",
    );
    let out = chaosplay()
        .env("DOCKER_HOST", &dead)
        .arg("plan")
        .arg(&pure)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("docker:"), "{text}");

    let faulty = write(
        &dir,
        "faulty.toml",
        "[scenario]\nname = \"faulty\"\n[subject]\nproject = \"cpt-plan-need\"\n[[steps]]\nuses = \"docker.kill\"\nwith = { service = \"db\" }\n",
    );
    let out = chaosplay()
        .env("DOCKER_HOST", &dead)
        .arg("plan")
        .arg(&faulty)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("docker: cannot reach the Docker daemon"),
        "{text}"
    );
    assert!(
        text.contains("unknown: the Docker daemon cannot be reached"),
        "{text}"
    );
}

/// A fault after `compose.reset` hits containers the reset creates: before the run there may
/// be none, which the plan must not call a miss.
#[test]
fn faults_after_a_reset_are_resolved_when_they_run() {
    let project = "cpt-plan-after-reset";
    remove_project(project);
    let dir = scratch("plan-after-reset");
    write(
        &dir,
        "compose.yaml",
        "services:\n  etcd0:\n    image: chaosplay/none:local\n",
    );
    let text = format!(
        r#"
[scenario]
name = "after reset"
[subject]
compose = "compose.yaml"
project = "{project}"
[[steps]]
uses = "docker.kill"
with = {{ service = "etcd*" }}
[[steps]]
uses = "compose.reset"
[[steps]]
uses = "docker.pause"
with = {{ service = "etcd*" }}
"#
    );
    let path = write(&dir, "p.toml", &text);
    let out = chaosplay().arg("plan").arg(&path).output().unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // Before the reset, nothing is there: said plainly. After it, left to the run.
    assert!(text.contains("hits    nothing"), "{text}");
    assert!(
        text.contains(
            "hits    resolved when the step runs: `compose.reset` (line 11) creates the containers before it"
        ),
        "{text}"
    );
    remove_project(project);
}
