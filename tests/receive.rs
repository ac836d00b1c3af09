//! `http.receive`: a party outside chaosplay reports back by POSTing to it.

mod common;

use common::{code, run, scratch, step};

/// A local `exec` step that POSTs `body` to 127.0.0.1:`port``path` with Python's urllib (every
/// machine has python3), as an operator would.
fn post(id: &str, port: u16, path: &str, body: &str) -> String {
    let script = format!(
        "import urllib.request as u; u.urlopen(u.Request('http://127.0.0.1:{port}{path}', data={body:?}.encode(), headers={{'Content-Type': 'application/json'}}), timeout=5).read()"
    );
    format!(
        "[[steps]]\nid = \"{id}\"\nuses = \"exec\"\nwith = {{ argv = [\"python3\", \"-c\", {script:?}], expect_exit = [] }}\n"
    )
}

#[test]
fn a_background_receive_is_listening_before_the_next_step_reports() {
    let dir = scratch("receive-background");
    // No pause between the steps: the report comes the moment the receive is started.
    let playbook = format!(
        r#"[scenario]
name = "receive"
[[steps]]
id = "diag"
uses = "http.receive"
background = true
with = {{ port = 18741, path = "/diagnosis" }}
timeout = "20s"
{}{}[[steps]]
uses = "await"
with = {{ steps = ["diag"] }}
[[steps]]
uses = "assert"
with.that = ["steps.diag.body.store_id == 4", "steps.diag.path == '/diagnosis'", "(steps.diag.at | timestamp) <= now()"]
"#,
        post("elsewhere", 18741, "/other", r#"{"store_id": 1}"#),
        post(
            "report",
            18741,
            "/diagnosis",
            r#"{"store_id": 4, "address": "tikv1:20160"}"#
        ),
    );
    let (out, report) = run(&dir, &playbook, &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    // The POST to another path was refused and did not count.
    let elsewhere = &step(&report, "elsewhere")["output"];
    assert_ne!(elsewhere["exit_code"], 0, "{elsewhere:#}");
    assert!(
        elsewhere["stderr"].as_str().unwrap().contains("404"),
        "{elsewhere:#}"
    );
    assert_eq!(step(&report, "report")["output"]["exit_code"], 0);
    let diag = &step(&report, "diag")["output"];
    assert_eq!(diag["body"]["address"], "tikv1:20160");
    assert_eq!(diag["text"], r#"{"store_id": 4, "address": "tikv1:20160"}"#);
}

#[test]
fn a_text_report_is_kept_as_text_in_the_foreground() {
    let dir = scratch("receive-text");
    let playbook = r#"[scenario]
name = "receive"
[[steps]]
id = "reporter"
uses = "exec"
background = true
with = { argv = ["python3", "-c", "import time, urllib.request as u\nfor _ in range(50):\n  try:\n    u.urlopen(u.Request('http://127.0.0.1:18742/', data=b'store 4 is down'), timeout=5); break\n  except OSError: time.sleep(0.1)"] }
[[steps]]
id = "diag"
uses = "http.receive"
with = { port = 18742 }
timeout = "20s"
"#;
    let (out, report) = run(&dir, playbook, &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let diag = &step(&report, "diag")["output"];
    assert_eq!(diag["body"], "store 4 is down");
    assert_eq!(diag["path"], "/");
}

#[test]
fn no_report_times_the_step_out() {
    let dir = scratch("receive-timeout");
    let playbook = r#"[scenario]
name = "receive"
[[steps]]
uses = "http.receive"
with = { port = 18743 }
timeout = "300ms"
"#;
    let (out, report) = run(&dir, playbook, &[]);
    assert_eq!(code(&out), 1);
    assert_eq!(step(&report, "http.receive")["status"], "timed_out");
}

#[test]
fn a_port_in_use_is_an_environment_error() {
    let dir = scratch("receive-in-use");
    let _holder = std::net::TcpListener::bind("127.0.0.1:18744").unwrap();
    let playbook = r#"[scenario]
name = "receive"
[[steps]]
id = "diag"
uses = "http.receive"
background = true
with = { port = 18744 }
[[steps]]
uses = "await"
with = { steps = ["diag"] }
"#;
    let (out, report) = run(&dir, playbook, &[]);
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stdout));
    let error = &step(&report, "diag")["error"];
    assert_eq!(error["kind"], "environment");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("cannot listen on 127.0.0.1:18744 for reports")
            && message.contains("another process holds the port"),
        "{message}"
    );
}

#[test]
fn a_skipped_background_receive_does_not_hold_the_playbook() {
    let dir = scratch("receive-skipped");
    let playbook = r#"[scenario]
name = "receive"
[[steps]]
id = "diag"
uses = "http.receive"
background = true
if = "false"
with = { port = 18745 }
[[steps]]
id = "next"
uses = "log"
with = { message = "went on" }
"#;
    let (out, report) = run(&dir, playbook, &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "diag")["status"], "skipped");
    assert_eq!(step(&report, "next")["status"], "passed");
}
