//! `workload.http` against small in-process HTTP stores, without Docker: one linearizable,
//! whose history `history.check` passes, and one serving stale reads, which it must flag.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::code;

/// How the store answers reads.
#[derive(Clone, Copy, PartialEq)]
enum Reads {
    /// From the current state.
    Current,
    /// From a copy refreshed only every tenth write: stale, not linearizable.
    Stale,
}

/// The store's state: the values, and the copy stale reads are served from.
#[derive(Default)]
struct State {
    values: HashMap<String, String>,
    copy: HashMap<String, String>,
    writes: u64,
}

/// A key-value store over HTTP on 127.0.0.1: `GET /kv/<key>` answers `{"value": …}` (null
/// when unset); `PUT /kv/<key>` sets the body; `POST /cas/<key>?from=<a>&to=<b>` sets `b` if
/// the value is `a`, else answers 409; `POST /append/<key>` appends the body. Every 13th
/// write is applied but answered 503, which the workload must record as unknown. Bounded in
/// connections, requests per connection and idle time.
fn serve(reads: Reads) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = Arc::new(Mutex::new(State::default()));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(500) {
            let Ok(stream) = stream else { continue };
            let state = Arc::clone(&state);
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                for _ in 0..100_000 {
                    let Some((method, target, body)) = read_request(&mut reader) else {
                        return;
                    };
                    let (status, reply) = answer(&state, reads, &method, &target, body);
                    let text = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if stream.write_all(text.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn answer(
    state: &Mutex<State>,
    reads: Reads,
    method: &str,
    target: &str,
    body: String,
) -> (u16, String) {
    let mut s = state.lock().unwrap();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (route, key) = path.trim_start_matches('/').split_once('/').unwrap();
    let key = key.to_string();
    if method == "GET" && route == "kv" {
        let values = if reads == Reads::Stale {
            &s.copy
        } else {
            &s.values
        };
        return (
            200,
            serde_json::json!({ "value": values.get(&key) }).to_string(),
        );
    }
    let to = match (method, route) {
        ("PUT", "kv") => body,
        ("POST", "append") => format!("{}{body}", s.values.get(&key).map_or("", |v| v)),
        ("POST", "cas") => {
            let arg = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                    .unwrap_or_default()
                    .to_string()
            };
            if s.values.get(&key) != Some(&arg("from")) {
                return (409, "{}".into());
            }
            arg("to")
        }
        _ => return (404, "{}".into()),
    };
    s.values.insert(key, to);
    s.writes += 1;
    if s.writes.is_multiple_of(10) {
        s.copy = s.values.clone();
    }
    if s.writes.is_multiple_of(13) {
        return (503, "{}".into());
    }
    (200, "{}".into())
}

/// Reads one request: its method, target and body; `None` when the connection ends.
fn read_request(reader: &mut BufReader<impl Read>) -> Option<(String, String, String)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut length = 0;
    for _ in 0..100 {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            let mut body = vec![0; length];
            reader.read_exact(&mut body).ok()?;
            return Some((method, target, String::from_utf8(body).ok()?));
        }
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    None
}

/// A playbook recording `model` against the store on `port` into `dir`, then checking the
/// history (expecting `expect`).
fn playbook(dir: &std::path::Path, port: u16, model: &str, expect: &str) -> String {
    let file = dir.join("history.jsonl").display().to_string();
    let requests = match model {
        "register" => {
            r#"requests.read = { url = "{{ endpoint }}/kv/{{ key }}", value = "json.value" }
requests.write = { method = "PUT", url = "{{ endpoint }}/kv/{{ key }}", body = "{{ value }}" }
requests.cas = { method = "POST", url = "{{ endpoint }}/cas/{{ key }}?from={{ expected }}&to={{ value }}", fail = "status == 409" }"#
        }
        _ => {
            r#"requests.get = { url = "{{ endpoint }}/kv/{{ key }}", value = "json.value" }
requests.put = { method = "PUT", url = "{{ endpoint }}/kv/{{ key }}", body = "{{ value }}", headers = { x-client = "{{ client }}" } }
requests.append = { method = "POST", url = "{{ endpoint }}/append/{{ key }}", body = "{{ value }}" }"#
        }
    };
    format!(
        r#"
[scenario]
name = "http-{model}"

[[steps]]
id = "workload"
uses = "workload.http"
[steps.with]
endpoints = ["http://127.0.0.1:{port}/"]
model = "{model}"
clients = 4
keys = 2
rate = 400
duration = "10s"
max_ops = 400
file = '{file}'
{requests}

[[steps]]
id = "check"
uses = "history.check"
with = {{ history = "{{{{ steps.workload.history }}}}", expect = "{expect}" }}
"#
    )
}

fn outputs(run: &serde_json::Value, id: &str) -> serde_json::Value {
    common::step(run, id)["output"].clone()
}

/// A linearizable store passes, in both models; its 503s are unknown and retire clients.
#[test]
fn a_linearizable_http_store_passes_the_check() {
    for model in ["register", "kv"] {
        let dir = common::scratch(&format!("workload-http-{model}"));
        let port = serve(Reads::Current);
        let (out, run) = common::run_here(&dir, &playbook(&dir, port, model, "linearizable"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(code(&out), 0, "{model}: {stdout}");
        let workload = outputs(&run, "workload");
        assert_eq!(workload["operations"], 400, "{workload}");
        assert!(workload["ok"].as_u64().unwrap() > 100, "{workload}");
        assert!(workload["unknown"].as_u64().unwrap() > 0, "{workload}");
        let retired = workload["client_ids"].as_u64().unwrap() - 4;
        assert_eq!(Some(retired), workload["unknown"].as_u64(), "{workload}");
        assert_eq!(outputs(&run, "check")["verdict"], "linearizable");
    }
}

/// A store serving reads from a stale copy is flagged, with reads among the anomaly.
#[test]
fn an_http_store_serving_stale_reads_is_flagged() {
    let dir = common::scratch("workload-http-stale");
    let port = serve(Reads::Stale);
    let (out, run) = common::run_here(&dir, &playbook(&dir, port, "register", "not_linearizable"));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let check = outputs(&run, "check");
    assert_eq!(check["verdict"], "not linearizable", "{check}");
}

/// Request templates and response expressions are compiled at load, their names and
/// filters checked.
#[test]
fn bad_request_templates_are_refused_at_load() {
    let dir = common::scratch("workload-http-invalid");
    let text = playbook(&dir, 1, "register", "linearizable")
        .replace("{{ key }}\", value", "{{ keyy }}\", value")
        .replace("status == 409", "status ==")
        .replace("value = \"json.value\"", "value = \"json.value | intt\"");
    let path = common::write(&dir, "p.toml", &text);
    let out = common::chaosplay()
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(stderr.contains("unknown name `keyy`"), "{stderr}");
    assert!(stderr.contains("did you mean `key`?"), "{stderr}");
    assert!(stderr.contains("invalid expression"), "{stderr}");
    assert!(stderr.contains("p.toml:17:"), "{stderr}");
    assert!(stderr.contains("unknown filter `intt`"), "{stderr}");
}

/// An expression that fails on a real response stops the workload: the step fails with the
/// expression's error, and the history recorded so far is kept.
#[test]
fn an_expression_failing_at_run_time_fails_the_step() {
    let dir = common::scratch("workload-http-broken");
    let port = serve(Reads::Current);
    let text = playbook(&dir, port, "register", "linearizable").replace(
        "value = \"json.value\"",
        "value = \"json.value ~ (1 // 0)\"",
    );
    let (out, run) = common::run_here(&dir, &text);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_ne!(code(&out), 0, "{stdout}");
    let workload = common::step(&run, "workload");
    assert!(
        workload.to_string().contains("requests.read.value"),
        "{workload}"
    );
    assert!(dir.join("history.jsonl").exists());
}
