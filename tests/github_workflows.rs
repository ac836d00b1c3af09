//! The GitHub Actions files cannot run here (no GitHub, no internet), so they are checked
//! statically: they parse as YAML (saphyr, the compose parser's), have the keys GitHub
//! requires, every `${{ inputs.* }}`, `steps.*`, `matrix.*` and `needs` they use is declared,
//! every `run:` is valid bash (`bash -n`, with the `${{ }}` expressions replaced), and the README's
//! example of the action only passes inputs the action declares.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use saphyr::{LoadableYamlNode, Yaml};

fn load(path: &str) -> Yaml<'static> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let text: &'static str = Box::leak(text.into_boxed_str());
    let mut docs = Yaml::load_from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(docs.len(), 1, "{path}: one YAML document");
    let doc = docs.pop().unwrap();
    assert!(doc.is_mapping(), "{path}: a mapping at the top");
    doc
}

fn get<'a>(node: &'a Yaml<'static>, key: &str, what: &str) -> &'a Yaml<'static> {
    node.as_mapping_get(key)
        .unwrap_or_else(|| panic!("{what}: no `{key}`"))
}

fn str_of<'a>(node: &'a Yaml<'static>, key: &str, what: &str) -> &'a str {
    get(node, key, what)
        .as_str()
        .unwrap_or_else(|| panic!("{what}: `{key}` is not a string"))
}

fn keys(node: &Yaml<'static>, what: &str) -> BTreeSet<String> {
    node.as_mapping()
        .unwrap_or_else(|| panic!("{what}: not a mapping"))
        .keys()
        .map(|k| {
            k.as_str()
                .unwrap_or_else(|| panic!("{what}: a non-string key"))
                .to_string()
        })
        .collect()
}

/// Every `${{ … }}` expression in the scalars under `node`.
fn expressions(node: &Yaml<'static>, out: &mut Vec<String>) {
    if let Some(s) = node.as_str() {
        let mut rest = s;
        while let Some(start) = rest.find("${{") {
            let end = rest[start..].find("}}").expect("an unclosed ${{") + start;
            out.push(rest[start + 3..end].trim().to_string());
            rest = &rest[end + 2..];
        }
    } else if let Some(seq) = node.as_vec() {
        seq.iter().for_each(|n| expressions(n, out));
    } else if let Some(map) = node.as_mapping() {
        map.iter().for_each(|(k, v)| {
            expressions(k, out);
            expressions(v, out);
        });
    }
}

/// The identifiers following `prefix` (e.g. `inputs.`) in the expressions.
fn referenced(exprs: &[String], prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for e in exprs {
        let mut rest = e.as_str();
        while let Some(i) = rest.find(prefix) {
            let before = rest[..i].chars().last();
            let tail = &rest[i + prefix.len()..];
            let name: String = tail
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect();
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') {
                found.insert(name);
            }
            rest = tail;
        }
    }
    found
}

/// Checks a list of steps; returns their ids.
fn check_steps(steps: &Yaml<'static>, what: &str, composite: bool) -> BTreeSet<String> {
    let steps = steps
        .as_vec()
        .unwrap_or_else(|| panic!("{what}: steps is not a list"));
    assert!(!steps.is_empty(), "{what}: no steps");
    let mut ids = BTreeSet::new();
    for (i, step) in steps.iter().enumerate() {
        let what = format!("{what} step {}", i + 1);
        let run = step.as_mapping_get("run");
        let uses = step.as_mapping_get("uses");
        assert!(
            run.is_some() != uses.is_some(),
            "{what}: exactly one of `run` and `uses`"
        );
        if let Some(uses) = uses {
            let uses = uses.as_str().unwrap();
            let (action, version) = uses
                .split_once('@')
                .unwrap_or_else(|| panic!("{what}: `uses: {uses}` is not pinned to a version"));
            assert!(
                action.contains('/') && !version.is_empty(),
                "{what}: {uses}"
            );
        }
        if let Some(run) = run {
            if composite {
                str_of(step, "shell", &what);
            }
            bash_syntax(run.as_str().unwrap(), &what);
        }
        if let Some(id) = step.as_mapping_get("id") {
            assert!(
                ids.insert(id.as_str().unwrap().to_string()),
                "{what}: duplicate id"
            );
        }
    }
    ids
}

/// `bash -n` on a `run:` script, its `${{ }}` expressions replaced by a word.
fn bash_syntax(script: &str, what: &str) {
    let mut text = String::new();
    let mut rest = script;
    while let Some(start) = rest.find("${{") {
        let end = rest[start..].find("}}").unwrap() + start;
        text.push_str(&rest[..start]);
        text.push_str("EXPR");
        rest = &rest[end + 2..];
    }
    text.push_str(rest);
    let mut child = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bash runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{what}: the script is not valid bash: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn action_yml_declares_what_it_uses_and_uploads_the_reports() {
    let action = load("action.yml");
    str_of(&action, "name", "action.yml");
    str_of(&action, "description", "action.yml");
    let runs = get(&action, "runs", "action.yml");
    assert_eq!(str_of(runs, "using", "runs"), "composite");

    let inputs = get(&action, "inputs", "action.yml");
    let declared = keys(inputs, "inputs");
    for required in ["playbooks", "vars", "trials", "report-junit", "report-html"] {
        assert!(declared.contains(required), "no input `{required}`");
    }
    for name in &declared {
        let input = get(inputs, name, "inputs");
        str_of(input, "description", &format!("input {name}"));
        for key in keys(input, name) {
            assert!(
                ["description", "required", "default", "deprecationMessage"]
                    .contains(&key.as_str()),
                "input {name}: unknown key {key}"
            );
        }
    }
    assert_eq!(
        get(get(inputs, "playbooks", "inputs"), "required", "playbooks").as_bool(),
        Some(true)
    );

    let steps = get(runs, "steps", "runs");
    let ids = check_steps(steps, "action.yml", true);

    let mut exprs = Vec::new();
    expressions(&action, &mut exprs);
    for used in referenced(&exprs, "inputs.") {
        assert!(
            declared.contains(&used),
            "`inputs.{used}` is used but not declared"
        );
    }
    for used in referenced(&exprs, "steps.") {
        assert!(
            ids.contains(&used),
            "`steps.{used}` is used but no step has that id"
        );
    }
    for (name, output) in get(&action, "outputs", "action.yml").as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        str_of(output, "value", &format!("output {name}"));
    }

    // The reports are uploaded, also when the run failed, and the step then fails.
    let steps = steps.as_vec().unwrap();
    let upload = steps
        .iter()
        .find(|s| {
            s.as_mapping_get("uses")
                .and_then(|u| u.as_str())
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("a step uploads the reports");
    assert!(str_of(upload, "if", "upload").contains("always()"));
    let path = str_of(get(upload, "with", "upload"), "path", "upload");
    assert!(path.contains("steps.run.outputs.junit") && path.contains("steps.run.outputs.html"));
    let run = steps
        .iter()
        .find(|s| s.as_mapping_get("id").and_then(|i| i.as_str()) == Some("run"))
        .unwrap();
    let script = str_of(run, "run", "the run step");
    for flag in ["--report-junit", "--report-html", "--trials", "--var"] {
        assert!(script.contains(flag), "the run step never passes {flag}");
    }
    let last = steps.last().unwrap();
    assert!(str_of(last, "run", "the last step").contains("exit"));
}

#[test]
fn the_release_workflow_builds_both_linux_targets_with_checksums_on_a_tag() {
    let wf = load(".github/workflows/release.yml");
    str_of(&wf, "name", "release.yml");
    let on = get(&wf, "on", "release.yml");
    let tags = get(get(on, "push", "on"), "tags", "on.push")
        .as_vec()
        .expect("on.push.tags is a list");
    assert!(tags.iter().any(|t| t.as_str() == Some("v*")));

    let jobs = get(&wf, "jobs", "release.yml");
    let names = keys(jobs, "jobs");
    let mut targets = BTreeSet::new();
    for name in &names {
        let job = get(jobs, name, "jobs");
        let what = format!("job {name}");
        get(job, "runs-on", &what);
        check_steps(get(job, "steps", &what), &what, false);
        if let Some(needs) = job.as_mapping_get("needs") {
            let needs: Vec<&str> = match needs.as_str() {
                Some(one) => vec![one],
                None => needs
                    .as_vec()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
                    .collect(),
            };
            for n in needs {
                assert!(names.contains(n), "{what} needs an unknown job {n}");
            }
        }
        let mut exprs = Vec::new();
        expressions(job, &mut exprs);
        let matrix = job
            .as_mapping_get("strategy")
            .and_then(|s| s.as_mapping_get("matrix"));
        let mut matrix_keys = BTreeSet::new();
        if let Some(matrix) = matrix {
            for entry in get(matrix, "include", "matrix").as_vec().unwrap() {
                matrix_keys.extend(keys(entry, "matrix entry"));
                targets.insert(str_of(entry, "target", "matrix entry").to_string());
            }
        }
        for used in referenced(&exprs, "matrix.") {
            assert!(
                matrix_keys.contains(&used),
                "{what} uses matrix.{used}, not in its matrix"
            );
        }
    }
    assert_eq!(
        targets,
        BTreeSet::from([
            "aarch64-unknown-linux-musl".to_string(),
            "x86_64-unknown-linux-musl".to_string()
        ])
    );
    let release = get(jobs, "release", "jobs");
    assert_eq!(
        str_of(
            get(release, "permissions", "release"),
            "contents",
            "permissions"
        ),
        "write"
    );
    let mut text = String::new();
    for step in get(release, "steps", "release").as_vec().unwrap() {
        if let Some(run) = step.as_mapping_get("run") {
            text.push_str(run.as_str().unwrap());
        }
    }
    assert!(text.contains("sha256sum") && text.contains("SHA256SUMS"));
    assert!(text.contains("gh release create"));
}

#[test]
fn the_readme_example_passes_only_inputs_the_action_declares() {
    let action = load("action.yml");
    let declared = keys(get(&action, "inputs", "action.yml"), "inputs");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut checked = 0;
    for block in readme.split("```yaml\n").skip(1) {
        let block = block.split("```").next().unwrap();
        if !block.contains("/chaosplay@") {
            continue;
        }
        let text: &'static str = Box::leak(block.to_string().into_boxed_str());
        let docs =
            Yaml::load_from_str(text).unwrap_or_else(|e| panic!("README yaml: {e}\n{block}"));
        let mut found = Vec::new();
        find_uses(&docs[0], &mut found);
        for with in found {
            for key in keys(with, "with") {
                assert!(
                    declared.contains(&key),
                    "README passes `{key}`, not an input of action.yml"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "the README shows the action in use");
}

/// The `with` mappings of steps that use chaosplay's action.
fn find_uses<'a>(node: &'a Yaml<'static>, out: &mut Vec<&'a Yaml<'static>>) {
    if let Some(seq) = node.as_vec() {
        seq.iter().for_each(|n| find_uses(n, out));
    } else if let Some(map) = node.as_mapping() {
        if node
            .as_mapping_get("uses")
            .and_then(|u| u.as_str())
            .is_some_and(|u| u.contains("/chaosplay@"))
        {
            out.push(
                node.as_mapping_get("with")
                    .expect("the example passes inputs"),
            );
        }
        map.values().for_each(|v| find_uses(v, out));
    }
}
