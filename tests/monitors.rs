//! `[[monitors]]`: read-only steps sampled in the background for the whole run.

mod common;

use common::http::serve;
use common::{code, run, scratch};

#[test]
fn monitors_sample_for_the_whole_run_and_land_in_the_report() {
    let (port, _) = serve(vec![(200, "application/json", r#"{"health":"true"}"#); 200]);
    let dir = scratch("monitors");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "monitored"
[vars]
url = ""
[[monitors]]
name = "health"
uses = "http.request"
with = { url = "{{ vars.url }}" }
interval = "100ms"
show = "health={{ output.json.health }}"
[[steps]]
uses = "sleep"
with = { duration = "600ms" }
[[finally]]
uses = "sleep"
with = { duration = "200ms" }
"#,
        &["--var", &format!("url=http://127.0.0.1:{port}/health")],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let series = &report["runs"][0]["monitors"][0];
    assert_eq!(series["name"], "health");
    assert_eq!(series["uses"], "http.request");
    let samples = series["samples"].as_array().unwrap();
    // ~800 ms of run at one sample per 100 ms: bounded both ways, not timed exactly.
    assert!(
        (4..=12).contains(&samples.len()),
        "{} samples",
        samples.len()
    );
    let times: Vec<u64> = samples
        .iter()
        .map(|s| s["at_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]));
    assert!(
        *times.last().unwrap() >= 600,
        "sampling goes on through cleanup: {times:?}"
    );
    assert!(
        samples
            .iter()
            .all(|s| s["ok"] == true && s["show"] == "health=true")
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("health=true"));
}

#[test]
fn a_monitor_must_be_read_only_and_may_not_read_step_outputs() {
    common::Test::new("monitors-invalid")
        .validate()
        .playbook(
            r#"
[scenario]
name = "x"
[[monitors]]
uses = "docker.kill"
with = { service = "a" }
[[monitors]]
uses = "log"
with = { message = "{{ steps.a.stdout }}" }
record = "m"
[[steps]]
id = "a"
uses = "exec"
with = { argv = ["true"] }
"#,
        )
        .code(2)
        .stderr_has("`docker.kill` changes things, so it cannot be a monitor")
        .stderr_has("unknown key `record` in a [[monitors]] entry")
        .stderr_has("no step with id `a`")
        .run();
}
