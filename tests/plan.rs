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
