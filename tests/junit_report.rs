//! `--report-junit`: the XML is parsed back as a CI system would read it.

mod common;

use common::{chaosplay, code, run_file, scratch, write};

const PASSING: &str = r#"
[scenario]
name = "always-green"
[[steps]]
name = "nap"
uses = "sleep"
with = { duration = "10ms" }
"#;

/// Trial 2 fails at its assertion; the others pass.
const FAILING: &str = r#"
[scenario]
name = "sometimes-red"
[[steps]]
name = "nap"
uses = "sleep"
with = { duration = "10ms" }
[[steps]]
name = "check"
uses = "assert"
with.that = ["run.trial != 2"]
[[finally]]
name = "tidy"
uses = "log"
with = { message = "bye" }
"#;

#[test]
fn junit_has_a_suite_per_playbook_and_a_case_per_trial() {
    let dir = scratch("junit");
    let passing = write(&dir, "passing.toml", PASSING);
    let failing = write(&dir, "failing.toml", FAILING);
    let xml_path = dir.join("reports/junit.xml");
    let (out, report) = run_file(
        &dir,
        &passing,
        &[
            failing.to_str().unwrap(),
            "--trials",
            "3",
            "--seed",
            "5",
            "--report-junit",
            xml_path.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
    let text = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    assert_eq!(root.attribute("tests"), Some("6"));
    assert_eq!(root.attribute("failures"), Some("1"));
    assert_eq!(root.attribute("errors"), Some("0"));

    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    let names: Vec<_> = suites
        .iter()
        .map(|s| s.attribute("name").unwrap())
        .collect();
    assert_eq!(names, ["always-green", "sometimes-red"]);

    let runs = report["runs"].as_array().unwrap();
    for (suite, file_runs) in suites.iter().zip(runs.chunks(3)) {
        assert_eq!(suite.attribute("tests"), Some("3"));
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 3);
        for (case, run) in cases.iter().zip(file_runs) {
            let expected = format!("trial {} (seed {})", run["trial"], run["seed"]);
            assert_eq!(case.attribute("name"), Some(expected.as_str()));
            assert_eq!(case.attribute("classname"), suite.attribute("name"));
            let time: f64 = case.attribute("time").unwrap().parse().unwrap();
            assert!(time >= 0.01, "the nap alone takes 10 ms: {time}");
            let system_out = case
                .children()
                .find(|n| n.has_tag_name("system-out"))
                .and_then(|n| n.text())
                .unwrap();
            assert!(system_out.contains("01 nap"), "{system_out}");
        }
    }
    assert_eq!(suites[0].attribute("failures"), Some("0"));
    assert_eq!(suites[1].attribute("failures"), Some("1"));

    let failures: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .collect();
    assert_eq!(failures.len(), 1);
    let failure = failures[0];
    let case = failure.parent().unwrap();
    assert!(case.attribute("name").unwrap().starts_with("trial 2 "));
    let message = failure.attribute("message").unwrap();
    assert!(message.contains("02 check"), "names the step: {message}");
    assert!(
        message.contains("run.trial != 2"),
        "carries the error: {message}"
    );
    assert_eq!(failure.attribute("type"), Some("failed"));
    let system_out = case
        .children()
        .find(|n| n.has_tag_name("system-out"))
        .and_then(|n| n.text())
        .unwrap();
    assert!(system_out.contains("finally 01 tidy"), "{system_out}");
}

#[test]
fn a_single_run_is_named_after_its_scenario_and_an_unusable_environment_is_an_error() {
    let dir = scratch("junit-single");
    // A step that needs an endpoint nobody serves is an environment error (exit 3).
    let playbook = write(
        &dir,
        "p.toml",
        "[scenario]\nname = \"no-endpoint\"\n[[steps]]\nname = \"get\"\nuses = \"http.request\"\nwith = { url = \"http://127.0.0.1:9/\" }\n",
    );
    let xml_path = dir.join("junit.xml");
    let (out, _) = run_file(
        &dir,
        &playbook,
        &["--report-junit", xml_path.to_str().unwrap()],
    );
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stdout));
    let text = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let case = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase"))
        .unwrap();
    assert_eq!(case.attribute("name"), Some("no-endpoint"));
    let error = case.children().find(|n| n.has_tag_name("error")).unwrap();
    assert_eq!(error.attribute("type"), Some("environment"));
    assert!(error.attribute("message").unwrap().contains("01 get"));
}

/// `--fail-fast` stopping a 3-trial run at its first trial still names the case by trial and
/// seed, as the other trials would have been, and the JSON run says 3 were asked for.
#[test]
fn a_fail_fast_stop_at_trial_one_keeps_the_trial_name() {
    let dir = scratch("junit-fail-fast");
    let red = write(
        &dir,
        "red.toml",
        "[scenario]\nname = \"always-red\"\n[[steps]]\nname = \"check\"\nuses = \"assert\"\nwith.that = [\"false\"]\n",
    );
    let xml_path = dir.join("junit.xml");
    let (out, report) = run_file(
        &dir,
        &red,
        &[
            "--trials",
            "3",
            "--fail-fast",
            "--seed",
            "11",
            "--report-junit",
            xml_path.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 1);
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["trials"], 3);
    let text = std::fs::read_to_string(&xml_path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let names: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(names, ["trial 1 (seed 11)"]);
}

/// `--report-junit /dev/stdout` with the output redirected to a file, through a link of the
/// test's own (`/dev/stdout` itself is the system's): the report lands after the run's output
/// in that file, and neither the link nor the process's fd link is replaced by a rename.
#[test]
fn a_link_to_stdout_gets_the_report_on_stdout_and_stays_a_link() {
    let dir = scratch("junit-stdout-link");
    let playbook = write(&dir, "passing.toml", PASSING);
    let link = dir.join("stdout.xml");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let captured = dir.join("captured.txt");
    let status = chaosplay()
        .arg("run")
        .arg(&playbook)
        .arg("--report-junit")
        .arg(&link)
        .stdout(std::fs::File::create(&captured).unwrap())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let kind = std::fs::symlink_metadata(&link).unwrap().file_type();
    assert!(kind.is_symlink(), "the link was replaced by a {kind:?}");
    let stdout = std::fs::read_to_string(&captured).unwrap();
    let xml = stdout
        .find("<?xml")
        .unwrap_or_else(|| panic!("no report on stdout:\n{stdout}"));
    assert!(xml > 0, "the run's own output comes first:\n{stdout}");
    let doc = roxmltree::Document::parse(&stdout[xml..]).unwrap();
    assert_eq!(doc.root_element().attribute("tests"), Some("1"));
}
