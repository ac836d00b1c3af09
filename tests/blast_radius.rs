//! A chaos tool must never hit what it does not own. Every step kind that selects containers
//! (found in the registry, so a new one is covered the day it is added) is planned against
//! a subject whose lookalikes sit just outside it: same service label in another project, the
//! same name pattern without compose labels, a one-off container of the project itself. None
//! may be selected unless the step says `scope = "any"`.

mod common;

use std::collections::BTreeMap;

use common::docker::{docker, docker_ok, remove_project, run_labelled, test_image};
use common::{chaosplay, code, scratch, write};

const PROJECT: &str = "cpt-blast";

/// The keys of a container selector: the rest of a step's `with` is what it needs besides.
const SELECTOR_KEYS: &[&str] = &[
    "service",
    "container",
    "exclude",
    "labels",
    "pick",
    "count",
    "percent",
    "scope",
];

/// Every step kind that selects containers, as the registry says (`chaosplay steps --format
/// json`), so a new one is covered the day it is added, with the parameters it needs besides
/// its selector taken from its documented example.
fn selecting_kinds() -> BTreeMap<String, toml::Table> {
    let out = chaosplay()
        .args(["steps", "--format", "json"])
        .output()
        .unwrap();
    let steps: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut kinds = BTreeMap::new();
    for step in steps.iter().filter(|s| s["selects"] == true) {
        let kind = step["name"].as_str().unwrap();
        let example: toml::Table = toml::from_str(step["example"].as_str().unwrap()).unwrap();
        let mut extra = example["with"].as_table().cloned().unwrap_or_default();
        extra.retain(|key, _| !SELECTOR_KEYS.contains(&key));
        assert!(
            !extra.to_string().contains("{{"),
            "the example of {kind} must need no earlier step besides its selector: {extra}"
        );
        kinds.insert(kind.to_string(), extra);
    }
    kinds
}

/// Lookalikes of the subject's `tikv0`: none of them belongs to the project.
struct Lookalikes {
    names: Vec<String>,
}

impl Lookalikes {
    fn start() -> Lookalikes {
        let image = test_image();
        let other = format!("{PROJECT}-other");
        remove_project(&other);
        let mut names = vec![run_labelled(&other, "tikv0", &[])];
        // Named like a member of the project, without any compose label.
        let unlabelled = format!("{PROJECT}-tikv0-2");
        let _ = docker(&["rm", "-f", &unlabelled]);
        docker_ok(&["run", "-d", "--name", &unlabelled, image, "sleep", "3600"]);
        names.push(unlabelled);
        // The service label alone, without a project.
        let loose = format!("{PROJECT}-loose");
        let _ = docker(&["rm", "-f", &loose]);
        docker_ok(&[
            "run",
            "-d",
            "--name",
            &loose,
            "--label",
            "com.docker.compose.service=tikv0",
            image,
            "sleep",
            "3600",
        ]);
        names.push(loose);
        // A one-off of the project itself (`docker compose run`): not a member of the cluster.
        let oneoff = format!("{PROJECT}-tikv0-run-1");
        let _ = docker(&["rm", "-f", &oneoff]);
        docker_ok(&[
            "run",
            "-d",
            "--name",
            &oneoff,
            "--label",
            &format!("com.docker.compose.project={PROJECT}"),
            "--label",
            "com.docker.compose.service=tikv0",
            "--label",
            "com.docker.compose.oneoff=True",
            image,
            "sleep",
            "3600",
        ]);
        names.push(oneoff);
        Lookalikes { names }
    }
}

impl Drop for Lookalikes {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = docker(&["rm", "-f", name]);
        }
    }
}

/// `chaosplay plan` of one step per selecting kind; returns each step's "hits" line.
fn plan_hits(selector: &str) -> BTreeMap<String, String> {
    let kinds = selecting_kinds();
    let selector: toml::Table = toml::from_str::<toml::Table>(&format!("s = {{ {selector} }}"))
        .unwrap()["s"]
        .as_table()
        .cloned()
        .unwrap();
    let mut toml = format!("[scenario]\nname = \"blast\"\n[subject]\nproject = \"{PROJECT}\"\n");
    for (kind, extra) in &kinds {
        let mut with = selector.clone();
        with.extend(extra.clone());
        toml.push_str(&format!(
            "[[steps]]\nname = \"{kind}\"\nuses = \"{kind}\"\nwith = {}\n",
            toml::Value::Table(with)
        ));
    }
    let dir = scratch("blast-radius");
    let path = write(&dir, "p.toml", &toml);
    let out = chaosplay().arg("plan").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        code(&out),
        0,
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Steps print as `N name (uses, line L)` followed by indented details, `hits    …` among
    // them.
    let mut hits = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(kind) = kinds.keys().find(|k| line.contains(&format!("({k}, line"))) {
            current = Some(kind.clone());
        } else if let (Some(kind), Some(h)) = (&current, line.trim().strip_prefix("hits")) {
            hits.insert(kind.clone(), h.trim().to_string());
        }
    }
    assert_eq!(
        hits.keys().collect::<Vec<_>>(),
        kinds.keys().collect::<Vec<_>>(),
        "every selecting step is planned with its targets:\n{text}"
    );
    hits
}

#[test]
fn no_selector_reaches_outside_the_subject_unless_told_to() {
    remove_project(PROJECT);
    let member = run_labelled(PROJECT, "tikv0", &[]);
    let lookalikes = Lookalikes::start();
    let kinds = selecting_kinds();
    assert!(
        kinds.len() >= 14,
        "the registry lists the selecting steps: {kinds:?}"
    );

    for selector in [
        r#"service = "tikv0", pick = "all""#,
        r#"service = "*", pick = "all""#,
        r#"labels = { "com.docker.compose.service" = "tikv0" }, pick = "all""#,
    ] {
        for (kind, hits) in plan_hits(selector) {
            assert_eq!(
                hits, member,
                "{kind} with {{ {selector} }} hits only the member"
            );
        }
    }
    // Named outright, a lookalike is still out of reach.
    for name in &lookalikes.names {
        for (kind, hits) in plan_hits(&format!(r#"container = "{name}""#)) {
            assert!(
                hits.starts_with("nothing: no container matches"),
                "{kind} must not reach {name}: {hits}"
            );
        }
    }
    // `scope = "any"` is the explicit way out, and then the lookalikes are reachable: the
    // assertions above are not vacuous.
    for (kind, hits) in plan_hits(r#"service = "tikv0", pick = "all", scope = "any""#) {
        for name in lookalikes.names.iter().filter(|n| !n.contains("-run-")) {
            if name.ends_with("-tikv0-2") {
                continue; // no service label: `service` cannot match it
            }
            assert!(
                hits.contains(name.as_str()),
                "{kind} with scope any reaches {name}: {hits}"
            );
        }
        assert!(
            !hits.contains("-run-"),
            "one-off containers are never members: {hits}"
        );
    }
    drop(lookalikes);
    remove_project(PROJECT);
}
