//! `network.dns` against the real engine: a busybox container looks another up by its service
//! name through Docker's embedded DNS server; during the fault the lookup fails, after cleanup
//! (or `recover`, once the runner was SIGKILLed) it answers again.

mod common;

use common::docker::{create_network, docker, playbook, remove_project, run_labelled};
use common::{code, recover, run_here, scratch, sigkill, spawn_run, wait_until, write};

/// Two services on the project's own network; returns the one that looks the other up.
fn cluster(project: &str) -> String {
    remove_project(project);
    let network = create_network(project, "default", &[]);
    run_labelled(
        project,
        "peer",
        &["--network", &network, "--network-alias", "peer"],
    );
    run_labelled(
        project,
        "db",
        &["--network", &network, "--network-alias", "db"],
    )
}

/// Whether `container` resolves the name `peer` (busybox nslookup, bounded by its own
/// timeouts: a rejected query fails at once).
fn resolves(container: &str) -> bool {
    resolves_name(container, "peer")
}

fn resolves_name(container: &str, name: &str) -> bool {
    docker(&["exec", container, "nslookup", name])
        .status
        .success()
}

const DNS: &str = "[[steps]]\nuses = \"network.dns\"\nwith = { service = \"db\" }\n";

#[test]
fn lookups_fail_during_the_fault_and_answer_after_cleanup() {
    let project = "cpt-dns";
    let db = cluster(project);
    assert!(resolves(&db), "resolves before the fault");
    let dir = scratch("network-dns");
    let steps = format!(
        "{DNS}[[steps]]\nid = \"lookup\"\nuses = \"docker.exec\"\nwith = {{ service = \"db\", argv = [\"nslookup\", \"peer\"], expect_exit = [1] }}\ntimeout = \"20s\"\n"
    );
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["runs"][0]["undo"][0]["ok"], true);
    assert!(resolves(&db), "cleanup gave the container its DNS back");
    remove_project(project);
}

/// With `names`, only queries for those names fail: `peer` (exactly, in any case) and names
/// under `*.example.com` are rejected, `db` and `example.com` itself still go through.
#[test]
fn only_the_named_names_fail() {
    let project = "cpt-dns-names";
    let db = cluster(project);
    let network = format!("{project}_default");
    let aliases = ["x.example.com", "example.com"];
    let web = [
        "--network",
        &network,
        "--network-alias",
        aliases[0],
        "--network-alias",
        aliases[1],
    ];
    run_labelled(project, "web", &web);
    for name in ["peer", "PEER", "db", aliases[0], aliases[1]] {
        assert!(resolves_name(&db, name), "{name} resolves before the fault");
    }
    let dir = scratch("network-dns-names");
    let lookup = |name: &str, exit: u8| {
        format!(
            "[[steps]]\nuses = \"docker.exec\"\nwith = {{ service = \"db\", argv = [\"nslookup\", \"{name}\"], expect_exit = [{exit}] }}\ntimeout = \"20s\"\n"
        )
    };
    let steps = [
        "[[steps]]\nuses = \"network.dns\"\nwith = { service = \"db\", names = [\"peer\", \"*.example.com\"] }\n".to_string(),
        lookup("peer", 1),
        lookup("PEER", 1),
        lookup("db", 0),
        lookup("x.example.com", 1),
        lookup("example.com", 0),
    ]
    .concat();
    let (out, report) = run_here(&dir, &playbook(project, &steps));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(report["runs"][0]["undo"][0]["ok"], true);
    assert!(resolves(&db), "cleanup gave the container its DNS back");
    remove_project(project);
}

#[test]
fn recover_gives_dns_back_after_the_runner_was_sigkilled() {
    let project = "cpt-dns-recover";
    let db = cluster(project);
    let dir = scratch("network-dns-recover");
    let steps = format!("{DNS}[[steps]]\nuses = \"sleep\"\nwith = {{ duration = \"60s\" }}\n");
    let path = write(&dir, "p.toml", &playbook(project, &steps));
    let mut child = spawn_run(&dir, &path, &[]);
    wait_until("lookups fail", || !resolves(&db));
    sigkill(&mut child);
    assert!(!resolves(&db), "nothing undid the fault: the runner died");
    let out = recover(&dir, project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(resolves(&db));
    remove_project(project);
}

#[test]
fn a_container_without_embedded_dns_is_refused() {
    let project = "cpt-dns-bridge";
    remove_project(project);
    run_labelled(project, "db", &[]);
    let dir = scratch("network-dns-bridge");
    let (out, report) = run_here(&dir, &playbook(project, DNS));
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    let message = report["runs"][0]["steps"][0]["error"]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("is on no user-defined network"),
        "{message}"
    );
    assert!(report["runs"][0]["undo"].as_array().unwrap().is_empty());
    remove_project(project);
}
