//! `chaosplay down --project P` removes what a run left up, and nothing else.

mod common;

use common::docker::{docker_ok, remove_project, run_labelled};
use common::{chaosplay, code};

#[test]
fn down_removes_the_projects_containers_networks_and_volumes() {
    let project = "cpt-down";
    let other = "cpt-down-other";
    remove_project(project);
    remove_project(other);
    let label = format!("com.docker.compose.project={project}");
    let a = run_labelled(project, "etcd0", &[]);
    run_labelled(project, "etcd1", &[]);
    let kept = run_labelled(other, "etcd0", &[]);
    docker_ok(&[
        "volume",
        "create",
        "--label",
        &label,
        &format!("{project}_data"),
    ]);
    docker_ok(&[
        "network",
        "create",
        "--label",
        &label,
        &format!("{project}_default"),
    ]);

    let out = chaosplay()
        .args(["down", "--project", project])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("removing {a}")), "{text}");
    assert!(
        text.contains(&format!("removing volume {project}_data")),
        "{text}"
    );
    assert!(
        text.contains(&format!("removing network {project}_default")),
        "{text}"
    );
    let filter = format!("label={label}");
    for kind in [
        &["ps", "-aq"][..],
        &["volume", "ls", "-q"],
        &["network", "ls", "-q"],
    ] {
        let args: Vec<&str> = kind.iter().copied().chain(["--filter", &filter]).collect();
        assert_eq!(docker_ok(&args).trim(), "", "{kind:?} left behind");
    }
    // The lock it took is gone too, and another project is untouched.
    let lock = format!("chaosplay-lock.{project}");
    assert_eq!(
        docker_ok(&["ps", "-aq", "--filter", &format!("name={lock}")]).trim(),
        ""
    );
    assert_eq!(
        docker_ok(&["inspect", "-f", "{{.State.Running}}", &kept]).trim(),
        "true"
    );

    let again = chaosplay()
        .args(["down", "--project", project])
        .output()
        .unwrap();
    assert_eq!(code(&again), 0);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        format!("nothing of project {project} on the engine\n")
    );
    remove_project(other);
}
