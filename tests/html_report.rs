//! `--report-html`: the report is opened in a real headless browser (Debian's chromium), which
//! must render it without script errors and show the scenario and the container a fault hit.
//! Never skipped: without chromium (`.ci/ensure-chromium` installs it) the test fails.

mod common;

use std::path::Path;
use std::process::Command;

use common::docker::{playbook, remove_project, run_labelled};
use common::http::serve;
use common::{code, run, scratch};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Loads `page` in headless chromium and returns the DOM after load, and chromium's stderr
/// (where `--enable-logging=stderr` puts the page's console messages and uncaught errors).
fn dump_dom(page: &Path, profile: &Path) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "this test needs Debian's chromium at {CHROMIUM}: run .ci/ensure-chromium"
    );
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn html_report_renders_in_a_browser_with_the_fault_and_its_container() {
    let project = "cpt-html";
    remove_project(project);
    let victim = run_labelled(project, "tikv0", &[]);
    let (port, _) = serve(vec![(200, "application/json", r#"{"health":"true"}"#); 100]);
    let dir = scratch("html-report");
    // A name and a message with markup: they must come out as text, not elements.
    let steps = r#"
[vars]
url = ""
[[monitors]]
name = "health <probe>"
uses = "http.request"
with = { url = "{{ vars.url }}" }
interval = "100ms"
show = "health={{ output.json.health }}"
[[steps]]
id = "kill"
uses = "docker.kill"
with = { service = "tikv*" }
[[steps]]
uses = "docker.wait"
with = { container = "{{ steps.kill.container }}", state = "exited" }
timeout = "20s"
[[steps]]
uses = "log"
with = { message = "<script>alert(1)</script>" }
record = { name = "answer", value = "42" }
"#;
    let html = dir.join("out/report.html");
    let (out, _) = run(
        &dir,
        &playbook(project, steps).replace("\"faults\"", "\"html <b>report</b>\""),
        &[
            "--var",
            &format!("url=http://127.0.0.1:{port}/health"),
            "--report-html",
            html.to_str().unwrap(),
        ],
    );
    remove_project(project);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));

    let text = std::fs::read_to_string(&html).unwrap();
    for load in ["src=", "href=", "url(", "@import"] {
        assert!(
            !text.contains(load),
            "the report loads nothing: found {load}"
        );
    }
    assert!(!text.contains("<b>report</b>") && !text.contains("<script>alert"));

    let (dom, stderr) = dump_dom(&html, &dir.join("chromium-profile"));
    assert!(
        dom.contains("<div id=\"rendered\""),
        "the page's script ran to the end: {dom}"
    );
    assert!(!stderr.contains("Uncaught"), "script errors: {stderr}");
    assert!(
        dom.contains("html &lt;b&gt;report&lt;/b&gt;"),
        "the scenario name, escaped"
    );
    assert!(
        dom.contains(&victim),
        "the killed container {victim} is shown"
    );
    assert!(dom.contains("⚡ 01 kill"), "the fault is marked");
    assert!(
        dom.contains("health &lt;probe&gt;"),
        "the monitor has a lane"
    );
    assert!(
        dom.contains("health=true"),
        "the monitor's show text is a tooltip"
    );
    assert!(dom.contains("answer"), "the metrics table");
    assert!(
        dom.contains(&format!("start {victim}")),
        "the undo list names the restart"
    );
}
