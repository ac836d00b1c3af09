//! `chaosplay down --project P` removes what a run left up, and nothing else; a host port
//! the subject cannot publish is named, by `plan` before the run and as an environment error
//! during it.

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

/// A host port taken by something else is the machine's state, not the scenario's: exit 3,
/// naming the port.
#[test]
fn a_host_port_already_in_use_is_an_environment_error_naming_it() {
    let project = "cpt-port-taken";
    remove_project(project);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = common::scratch("port-taken");
    let image = common::docker::test_image();
    common::write(
        &dir,
        "compose.yaml",
        &format!(
            "services:\n  web:\n    image: {image}\n    command: [\"sleep\", \"3600\"]\n    ports: [\"127.0.0.1:{port}:80\"]\n"
        ),
    );
    let playbook = format!(
        "[scenario]\nname = \"port\"\n[subject]\ncompose = \"compose.yaml\"\nproject = \"{project}\"\n[[steps]]\nuses = \"compose.up\"\n[[finally]]\nuses = \"compose.down\"\n"
    );
    let path = common::write(&dir, "p.toml", &playbook);
    // `plan` sees it first.
    let plan = chaosplay().arg("plan").arg(&path).output().unwrap();
    assert_eq!(code(&plan), 0, "{}", String::from_utf8_lossy(&plan.stderr));
    let warned = format!(
        "  warning: host port 127.0.0.1:{port} is in use now; unless this project's own container holds it, starting `web` will fail (exit 3)"
    );
    assert!(String::from_utf8_lossy(&plan.stdout).contains(&warned));
    let out = chaosplay()
        .arg("run")
        .arg(&path)
        .env("CHAOSPLAY_STATE_DIR", &dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        code(&out),
        3,
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("host port 127.0.0.1:{port} is already in use")),
        "{text}"
    );
    drop(listener);
    remove_project(project);
}
