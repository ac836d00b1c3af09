//! `load.http` against HTTP servers on 127.0.0.1 started by the tests. Counts are checked with
//! tolerant bounds and wall time hardly at all: the machine may be busy with other tests.

mod common;

use std::time::Duration;

use common::http::{Answer, LoadServer};
use common::{code, run, scratch, step};

fn answer(status: u16) -> Answer {
    Answer {
        status,
        delay: Duration::ZERO,
    }
}

fn u64_at(value: &serde_json::Value, pointer: &str) -> u64 {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("no integer at {pointer} in {value:#}"))
}

fn f64_at(value: &serde_json::Value, pointer: &str) -> f64 {
    value
        .pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {value:#}"))
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_healthy_server_takes_the_rate_without_errors() {
    let server = LoadServer::start(|_| answer(200));
    let dir = scratch("load-healthy");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "load"
[vars]
port = 0
[[steps]]
id = "load"
name = "load"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/get", rate = 100, duration = "2s" }
[[steps]]
uses = "assert"
with.that = ["steps.load.errors == 0", "steps.load.error_rate < 0.05", "steps.load.latency_ms.p50 > 0"]
"#,
        &["--var", &format!("port={}", server.port)],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let load = &step(&report, "load")["output"];
    let sent = u64_at(load, "/sent");
    // 200 requests fall due; a stalled runtime may drop a few (a burst of late ticks finds
    // every slot busy), never more.
    assert_eq!(sent + u64_at(load, "/dropped"), 200, "{load:#}");
    assert!(sent >= 180, "{load:#}");
    assert_eq!(u64_at(load, "/ok"), sent);
    assert_eq!(server.received(), sent);
    let latency: Vec<f64> = ["p50", "p90", "p99", "max"]
        .iter()
        .map(|q| f64_at(load, &format!("/latency_ms/{q}")))
        .collect();
    assert!(latency.windows(2).all(|w| w[0] <= w[1]), "{latency:?}");
    let timeline = load["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2, "{load:#}");
    let ok: u64 = timeline.iter().map(|s| s["ok"].as_u64().unwrap()).sum();
    assert_eq!(ok, sent);
    assert_eq!(timeline[1]["t"], 1);
    assert_eq!(load["partial"], false);
    assert_eq!(u64_at(load, "/longest_unavailable_s"), 0);
}

#[test]
fn every_tenth_request_failing_gives_a_tenth_error_rate() {
    let server = LoadServer::start(|n| answer(if n % 10 == 9 { 503 } else { 200 }));
    let dir = scratch("load-503");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "load"
[vars]
port = 0
[[steps]]
id = "load"
name = "load"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", rate = 100, duration = "1s" }
[[steps]]
id = "lenient"
name = "lenient"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", method = "POST", json = { k = 1 }, rate = 50, duration = "1s", expect_status = [200, 503] }
"#,
        &["--var", &format!("port={}", server.port)],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let load = &step(&report, "load")["output"];
    let rate = f64_at(load, "/error_rate");
    assert!((0.07..=0.13).contains(&rate), "{load:#}");
    assert_eq!(
        u64_at(load, "/errors_by_kind/status_503"),
        u64_at(load, "/errors")
    );
    assert_eq!(
        u64_at(load, "/ok") + u64_at(load, "/errors"),
        u64_at(load, "/sent")
    );
    // With 503 expected, the same answers are all successes.
    let lenient = &step(&report, "lenient")["output"];
    assert_eq!(u64_at(lenient, "/errors"), 0, "{lenient:#}");
    assert_eq!(f64_at(lenient, "/error_rate"), 0.0);
}

#[test]
fn a_dead_port_is_all_connect_errors() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let dir = scratch("load-dead");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "load"
[vars]
port = 0
[[steps]]
id = "load"
name = "load"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", rate = 50, duration = "1s" }
[[steps]]
uses = "assert"
with.that = ["steps.load.error_rate == 1", "steps.load.latency_ms.p50 is none"]
"#,
        &["--var", &format!("port={port}")],
    );
    // Errors are measured, not a failure of the step.
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let load = &step(&report, "load")["output"];
    assert_eq!(u64_at(load, "/ok"), 0);
    assert!(u64_at(load, "/errors_by_kind/connect") > 0, "{load:#}");
    assert_eq!(
        u64_at(load, "/errors_by_kind/connect"),
        u64_at(load, "/errors")
    );
    // Down for the whole second of the schedule.
    assert_eq!(u64_at(load, "/unavailable_s"), 1, "{load:#}");
    assert_eq!(u64_at(load, "/longest_unavailable_s"), 1, "{load:#}");
}

#[test]
fn a_slow_server_makes_drops_and_timeouts() {
    let server = LoadServer::start(|_| Answer {
        status: 200,
        delay: Duration::from_millis(400),
    });
    let dir = scratch("load-slow");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "load"
[vars]
port = 0
[[steps]]
id = "drops"
name = "drops"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", rate = 20, duration = "1s", concurrency = 2 }
[[steps]]
id = "timeouts"
name = "timeouts"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", rate = 10, duration = "1s", timeout = "100ms" }
"#,
        &["--var", &format!("port={}", server.port)],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    // Two slots busy 400 ms each take about 6 of the 20 requests due in a second.
    let drops = &step(&report, "drops")["output"];
    let (sent, dropped) = (u64_at(drops, "/sent"), u64_at(drops, "/dropped"));
    assert_eq!(sent + dropped, 20, "{drops:#}");
    assert!((2..=10).contains(&sent), "{drops:#}");
    assert_eq!(u64_at(drops, "/errors"), 0);
    assert_eq!(u64_at(drops, "/errors_by_kind/dropped"), dropped);
    assert_eq!(f64_at(drops, "/error_rate"), dropped as f64 / 20.0);
    let timeouts = &step(&report, "timeouts")["output"];
    assert_eq!(
        u64_at(timeouts, "/errors_by_kind/timeout"),
        10,
        "{timeouts:#}"
    );
    assert_eq!(f64_at(timeouts, "/error_rate"), 1.0);
}

#[test]
fn await_with_cancel_stops_the_load_and_keeps_its_figures() {
    let server = LoadServer::start(|_| answer(200));
    let dir = scratch("load-stop");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "load"
[vars]
port = 0
[[steps]]
id = "load"
name = "load"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", rate = 50, duration = "60s" }
background = true
timeout = "2m"
[[steps]]
id = "other"
name = "other"
uses = "exec"
with = { argv = ["sleep", "60"] }
background = true
[[steps]]
uses = "sleep"
with = { duration = "1s" }
[[steps]]
id = "stop"
uses = "await"
with = { steps = ["load", "other"], cancel = true }
[[steps]]
uses = "assert"
with.that = ["steps.stop.load == 'stopped'", "steps.load.sent > 0", "steps.load.error_rate == 0"]
"#,
        &["--var", &format!("port={}", server.port)],
    );
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    let load = step(&report, "load");
    assert_eq!(load["status"], "stopped");
    assert!(load["error"].is_null());
    let output = &load["output"];
    // About a second of a 60 s schedule: stopped long before its end.
    let sent = u64_at(output, "/sent");
    assert!((10..=500).contains(&sent), "{output:#}");
    assert_eq!(u64_at(output, "/ok"), sent);
    assert_eq!(output["partial"], true);
    assert!(u64_at(load, "/duration_ms") < 30_000, "{load:#}");
    assert!(output["timeline"].as_array().unwrap().len() < 30);
    // Any other kind is dropped when stopped, without output.
    let other = step(&report, "other");
    assert_eq!(other["status"], "stopped");
    assert!(other["output"].is_null());
}

#[test]
fn a_failed_run_cancels_the_load_and_keeps_its_figures_as_partial() {
    let server = LoadServer::start(|_| answer(200));
    let dir = scratch("load-abort");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "load"
[vars]
port = 0
[[steps]]
id = "load"
name = "load"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", rate = 50, duration = "60s" }
background = true
timeout = "2m"
[[steps]]
uses = "exec"
with = { argv = ["sh", "-c", "sleep 0.3; false"] }
"#,
        &["--var", &format!("port={}", server.port)],
    );
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let load = step(&report, "load");
    assert_eq!(load["status"], "cancelled");
    assert_eq!(load["error"]["kind"], "cancelled");
    // What it measured until the run failed is the evidence: kept, and marked partial.
    let output = &load["output"];
    assert_eq!(output["partial"], true, "{output:#}");
    assert!(u64_at(output, "/sent") > 0, "{output:#}");
    assert_eq!(u64_at(output, "/unavailable_s"), 0, "{output:#}");
    assert!(u64_at(load, "/duration_ms") < 30_000, "{load:#}");
}

#[test]
fn parameters_out_of_bounds_are_refused_at_validation() {
    let dir = scratch("load-bounds");
    let path = common::write(
        &dir,
        "p.toml",
        r#"[scenario]
name = "load"
[[steps]]
name = "load"
uses = "load.http"
with = { url = "http://127.0.0.1:9/", rate = 20000, duration = "1s" }
"#,
    );
    let out = common::chaosplay().arg("run").arg(&path).output().unwrap();
    assert_eq!(code(&out), 2, "refused before anything runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`rate` must be 1–10000 requests per second, not 20000")
            && stderr.contains("p.toml:6:46"),
        "{stderr}"
    );
}

#[test]
fn an_interrupted_run_keeps_the_loads_figures_as_partial() {
    let server = LoadServer::start(|_| answer(200));
    let dir = scratch("load-interrupt");
    let path = common::write(
        &dir,
        "p.toml",
        r#"
[scenario]
name = "load"
[vars]
port = 0
[[steps]]
id = "load"
name = "load"
uses = "load.http"
with = { url = "http://127.0.0.1:{{ vars.port }}/", rate = 50, duration = "60s" }
background = true
timeout = "2m"
[[steps]]
uses = "sleep"
with = { duration = "60s" }
"#,
    );
    let report = dir.join("report.json");
    let port = format!("port={}", server.port);
    let child = common::spawn_run(
        &dir,
        &path,
        &["--var", &port, "--report-json", report.to_str().unwrap()],
    );
    common::wait_until("requests arrive", || server.received() >= 20);
    common::signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 130, "{}", stdout(&out));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let load = step(&report, "load");
    assert_eq!(load["status"], "cancelled");
    let output = &load["output"];
    assert_eq!(output["partial"], true, "{output:#}");
    assert!(u64_at(output, "/sent") >= 20, "{output:#}");
    assert_eq!(u64_at(output, "/ok"), u64_at(output, "/sent"), "{output:#}");
}
