//! `http.request` against a real HTTP server on 127.0.0.1 started by the test.

mod common;

use common::http::{serve, serve_tls};
use common::{code, run, run_file_env, scratch, step, write};

#[test]
fn sends_method_headers_and_json_and_captures_the_response() {
    let (port, received) = serve(vec![(201, "application/json", r#"{"ok":true,"n":[1,2]}"#)]);
    let dir = scratch("http-post");
    let (out, report) = run(
        &dir,
        r#"
[scenario]
name = "http"
[vars]
port = 0
[[steps]]
id = "post"
name = "post"
uses = "http.request"
with = { method = "post", url = "http://127.0.0.1:{{ vars.port }}/pd/api/v1/config", headers = { x-run = "{{ run.seed }}" }, json = { max-store-down-time = "1m", n = "{{ vars.port }}" }, expect_status = [200, 201] }
[[steps]]
uses = "assert"
with.that = ["steps.post.status == 201", "steps.post.json.ok", "steps.post.json.n | length == 2", "steps.post.headers['x-test'] == 'yes'"]
"#,
        &["--var", &format!("port={port}"), "--seed", "7"],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let got = received.recv().unwrap();
    assert_eq!(got.request_line, "POST /pd/api/v1/config HTTP/1.1");
    assert!(
        got.headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("x-run: 7")),
        "{:?}",
        got.headers
    );
    assert!(
        got.headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("content-type: application/json"))
    );
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"max-store-down-time": "1m", "n": port})
    );
    assert_eq!(step(&report, "post")["output"]["status"], 201);
}

#[test]
fn an_unexpected_status_fails() {
    let (port, _received) = serve(vec![(500, "text/plain", "not json")]);
    let dir = scratch("http-500");
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"x\"\n[vars]\nport = 0\n[[steps]]\nname = \"get\"\nuses = \"http.request\"\nwith = { url = \"http://127.0.0.1:{{ vars.port }}/health\", expect_status = [200] }\n",
        &["--var", &format!("port={port}")],
    );
    assert_eq!(code(&out), 1);
    let get = step(&report, "get");
    assert_eq!(get["error"]["kind"], "failed");
    assert!(
        get["error"]["message"]
            .as_str()
            .unwrap()
            .contains("answered 500, expected [200]")
    );
}

#[test]
fn until_rides_out_errors_and_bad_statuses() {
    let (port, _received) = serve(vec![
        (503, "text/plain", "starting"),
        (200, "application/json", r#"{"health":"false"}"#),
        (200, "application/json", r#"{"health":"true"}"#),
    ]);
    let dir = scratch("http-until");
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"x\"\n[vars]\nport = 0\n[[steps]]\nname = \"health\"\nuses = \"http.request\"\nwith = { url = \"http://127.0.0.1:{{ vars.port }}/health\" }\nuntil = \"output.json.health == 'true'\"\ninterval = \"20ms\"\ntimeout = \"10s\"\n",
        &["--var", &format!("port={port}")],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "health")["polls"], 3);
}

#[test]
fn accept_errors_makes_a_refused_connection_an_output() {
    // A port that was just free: nothing listens on it, so the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = scratch("http-accept-errors");
    let (out, report) = run(
        &dir,
        "[scenario]\nname = \"x\"\n[vars]\nport = 0\n[[steps]]\nid = \"down\"\nuses = \"http.request\"\nwith = { url = \"http://127.0.0.1:{{ vars.port }}/health\", accept_errors = true, timeout = \"2s\" }\nuntil = \"output.error or output.json.health != 'true'\"\ninterval = \"20ms\"\ntimeout = \"10s\"\n[[steps]]\nuses = \"assert\"\nwith.that = [\"steps.down.status is none\", \"'cannot connect' in steps.down.error\"]\n",
        &["--var", &format!("port={port}")],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "down")["polls"], 1);
}

/// HTTPS checks the server's certificate against the system's roots, which `SSL_CERT_FILE`
/// and `SSL_CERT_DIR` replace: the test CA makes it pass, roots without it make it fail with
/// the reason.
#[test]
fn https_verifies_the_certificate_against_the_system_roots() {
    let port = serve_tls(2, r#"{"health":"true"}"#);
    let dir = scratch("https");
    let playbook = write(
        &dir,
        "https.toml",
        "[scenario]\nname = \"https\"\n[vars]\nport = 0\n[[steps]]\nname = \"get\"\nuses = \"http.request\"\nwith = { url = \"https://127.0.0.1:{{ vars.port }}/health\", timeout = \"5s\" }\n",
    );
    let port = format!("port={port}");
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls/ca.pem");
    let no_dir = dir.join("no-certs");
    std::fs::create_dir_all(&no_dir).unwrap();
    let (out, report) = run_file_env(
        &dir,
        &playbook,
        &["--var", &port],
        &[
            ("SSL_CERT_FILE", ca.to_str().unwrap()),
            ("SSL_CERT_DIR", no_dir.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "get")["output"]["json"]["health"], "true");

    // Roots that do not hold the test CA (an unrelated one, so the outcome does not depend on
    // whether this machine has a CA bundle).
    let other = ca.with_file_name("other-ca.pem");
    let (out, report) = run_file_env(
        &dir,
        &playbook,
        &["--var", &port],
        &[
            ("SSL_CERT_FILE", other.to_str().unwrap()),
            ("SSL_CERT_DIR", no_dir.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stdout));
    let error = &step(&report, "get")["error"];
    assert_eq!(error["kind"], "environment");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
}

/// The system's roots are only read for HTTPS: without any, plain HTTP works in the same run
/// and HTTPS fails with the reason.
#[test]
fn plain_http_needs_no_system_roots() {
    let (http_port, _received) = serve(vec![(200, "text/plain", "ok")]);
    let https_port = serve_tls(1, "ok");
    let dir = scratch("https-no-roots");
    let empty = write(&dir, "empty.pem", "");
    let no_dir = dir.join("no-certs");
    std::fs::create_dir_all(&no_dir).unwrap();
    let playbook = write(
        &dir,
        "mixed.toml",
        "[scenario]\nname = \"mixed\"\n[vars]\nhttp = 0\nhttps = 0\n[[steps]]\nname = \"plain\"\nuses = \"http.request\"\nwith = { url = \"http://127.0.0.1:{{ vars.http }}/\" }\n[[steps]]\nname = \"tls\"\nuses = \"http.request\"\nwith = { url = \"https://127.0.0.1:{{ vars.https }}/\", timeout = \"5s\" }\n",
    );
    let (out, report) = run_file_env(
        &dir,
        &playbook,
        &[
            "--var",
            &format!("http={http_port}"),
            "--var",
            &format!("https={https_port}"),
        ],
        &[
            ("SSL_CERT_FILE", empty.to_str().unwrap()),
            ("SSL_CERT_DIR", no_dir.to_str().unwrap()),
        ],
    );
    assert_eq!(code(&out), 3, "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(step(&report, "plain")["status"], "passed");
    let message = step(&report, "tls")["error"]["message"].as_str().unwrap();
    assert!(message.contains("No CA certificates"), "{message}");
}
