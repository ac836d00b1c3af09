//! A Docker daemon that misbehaves: answering its ping and failing everything else, taking
//! requests and never answering, or going bad in the middle of a run. Each is an honest fake
//! daemon on a Unix socket in the test's own directory (`DOCKER_HOST=unix://…`), with the
//! per-call deadline shortened through `CHAOSPLAY_DOCKER_TIMEOUT` so that the tests are quick.
//! Every case is an environment error (exit 3) in bounded time, naming the daemon, and what
//! cleanup could not undo stays in the ledger for `chaosplay recover`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{chaosplay, code, scratch, write};

/// What the fake daemon does once it misbehaves.
#[derive(Clone, Copy)]
enum Fault {
    /// 500 with a plain-text body, as a crashed handler or a proxy answers.
    Broken,
    /// Reads the request and never answers.
    Stall,
    /// Starts an answer and closes the connection half way through it.
    HangUp,
    /// Not a fault: a working daemon refusing one request, with its JSON message.
    PortTaken,
}

/// How the fake daemon behaves.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Takes connections and never reads or answers, not even `/_ping`.
    Silent,
    /// Answers `/_ping`, then `healthy` requests as a daemon with one container of service
    /// `db` in project `p` would, then every further one with `fault`.
    Pings { healthy: usize, fault: Fault },
}

struct FakeDaemon {
    socket: PathBuf,
}

impl FakeDaemon {
    fn start(dir: &Path, behaviour: Behaviour) -> FakeDaemon {
        let socket = dir.join("docker.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let served = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let served = Arc::clone(&served);
                std::thread::spawn(move || serve(stream, behaviour, &served));
            }
        });
        FakeDaemon { socket }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

fn serve(stream: UnixStream, behaviour: Behaviour, served: &AtomicUsize) {
    let (healthy, fault) = match behaviour {
        Behaviour::Silent => return hold(stream),
        Behaviour::Pings { healthy, fault } => (healthy, fault),
    };
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    while let Some(request) = read_request(&mut reader) {
        if request.contains(" /_ping ") || request.contains("/_ping HTTP") {
            // HTTP/1.0, as chaosplay's own ping asks: the answer ends with the connection.
            let _ = out.write_all(
                b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK",
            );
            return;
        }
        if served.fetch_add(1, Ordering::SeqCst) < healthy {
            // The container a start is refused for is not running.
            let state = match fault {
                Fault::PortTaken => "exited",
                _ => "running",
            };
            let (status, body) = healthy_answer(&request, state);
            respond(&mut out, status, "application/json", &body);
            continue;
        }
        match fault {
            Fault::Broken => respond(
                &mut out,
                "500 Internal Server Error",
                "text/plain",
                "Internal Server Error\n",
            ),
            Fault::PortTaken => respond(
                &mut out,
                "500 Internal Server Error",
                "application/json",
                PORT_TAKEN,
            ),
            Fault::Stall => return hold(out),
            Fault::HangUp => {
                let _ = out.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n[{\"Id\": \"ab",
                );
                return;
            }
        }
    }
}

const PORT_TAKEN: &str = r#"{"message": "driver failed programming external connectivity on endpoint p-db-1: Bind for 0.0.0.0:8080 failed: port is already allocated"}"#;

/// Keeps the connection open, answering nothing, until the test process ends.
fn hold(stream: UnixStream) {
    std::thread::sleep(Duration::from_secs(3600));
    drop(stream);
}

/// The request line of the next request (headers and body consumed), `None` at the end.
fn read_request(reader: &mut BufReader<UnixStream>) -> Option<String> {
    let mut request = String::new();
    reader.read_line(&mut request).ok().filter(|n| *n > 0)?;
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(request)
}

/// What a daemon with one container, `p-db-1` in `state`, answers, taking and releasing the
/// project's lock (`chaosplay-lock.p`) as any daemon would.
fn healthy_answer(request: &str, state: &str) -> (&'static str, String) {
    let path = request.split(' ').nth(1).unwrap_or_default();
    if path.contains("/containers/create?name=chaosplay-lock.p") {
        return ("201 Created", r#"{"Id": "10c0", "Warnings": []}"#.into());
    }
    if request.starts_with("DELETE ") && path.contains("/containers/10c0") {
        return ("204 No Content", String::new());
    }
    if path.contains("/containers/json") {
        let list = format!(
            r#"[{{"Id": "0123456789ab", "Names": ["/p-db-1"], "State": "{state}", "Labels": {{"com.docker.compose.project": "p", "com.docker.compose.service": "db"}}}}]"#
        );
        return ("200 OK", list);
    }
    if request.starts_with("POST ") && path.contains("/containers/p-db-1/") {
        return ("204 No Content", String::new());
    }
    (
        "404 Not Found",
        r#"{"message": "page not found"}"#.to_string(),
    )
}

fn respond(out: &mut UnixStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

/// The per-call deadline of these runs.
const CALL_TIMEOUT: &str = "1s";

/// Runs `playbook` against the fake daemon with its ledgers in `dir/state`; returns the output
/// and how long it took.
fn run(dir: &Path, daemon: &FakeDaemon, playbook: &str) -> (Output, Duration) {
    let path = write(dir, "p.toml", playbook);
    let started = Instant::now();
    let out = chaosplay()
        .env("DOCKER_HOST", daemon.host())
        .env("CHAOSPLAY_DOCKER_TIMEOUT", CALL_TIMEOUT)
        .env("CHAOSPLAY_STATE_DIR", dir.join("state"))
        .arg("run")
        .arg(&path)
        .output()
        .unwrap();
    (out, started.elapsed())
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Take the project's lock, kill the service `db`, then list its containers again: the second
/// step meets the fault.
/// The step and cleanup timeouts only bound a run that does not notice the daemon's fault.
const KILL_THEN_LIST: &str = "[scenario]\nname = \"x\"\nstep_timeout = \"15s\"\nfinally_timeout = \"15s\"\n[subject]\nproject = \"p\"\n[[steps]]\nname = \"kill\"\nuses = \"docker.kill\"\nwith = { service = \"db\" }\n[[steps]]\nname = \"again\"\nuses = \"docker.kill\"\nwith = { service = \"db\" }\n";

/// The run's ledger holds the undo of the kill, and `recover` against the same daemon keeps it.
fn assert_kept_for_recover(dir: &Path, daemon: &FakeDaemon) {
    let ledger = std::fs::read_to_string(dir.join("state/p.json")).expect("the ledger is kept");
    assert!(ledger.contains("p-db-1"), "{ledger}");
    let out = chaosplay()
        .env("DOCKER_HOST", daemon.host())
        .env("CHAOSPLAY_DOCKER_TIMEOUT", CALL_TIMEOUT)
        .env("CHAOSPLAY_STATE_DIR", dir.join("state"))
        .args(["recover", "--project", "p"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", text(&out));
    let after = std::fs::read_to_string(dir.join("state/p.json")).expect("recover keeps it");
    assert!(after.contains("p-db-1"), "{after}");
}

#[test]
fn a_daemon_answering_its_ping_and_500_to_the_rest_is_exit_3_naming_it() {
    let dir = scratch("daemon-broken");
    let daemon = FakeDaemon::start(
        &dir,
        Behaviour::Pings {
            healthy: 0,
            fault: Fault::Broken,
        },
    );
    let (out, took) = run(&dir, &daemon, KILL_THEN_LIST);
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    let sentence = format!(
        "the Docker daemon at {} is not working (lock project p: HTTP 500 \"Internal Server Error\")",
        daemon.host()
    );
    assert!(all.contains(&sentence), "{all}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_daemon_that_takes_connections_and_never_answers_is_exit_3_naming_it() {
    let dir = scratch("daemon-silent");
    let daemon = FakeDaemon::start(&dir, Behaviour::Silent);
    let (out, took) = run(&dir, &daemon, KILL_THEN_LIST);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: the Docker daemon at {} did not answer within 1s\n",
            daemon.host()
        )
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_daemon_that_answers_its_ping_and_then_nothing_is_exit_3_naming_it() {
    let dir = scratch("daemon-mute");
    let daemon = FakeDaemon::start(
        &dir,
        Behaviour::Pings {
            healthy: 0,
            fault: Fault::Stall,
        },
    );
    let (out, took) = run(&dir, &daemon, KILL_THEN_LIST);
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    let sentence = format!(
        "the Docker daemon at {} did not answer within 1s",
        daemon.host()
    );
    assert!(all.contains(&sentence), "{all}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_daemon_refusing_a_start_with_its_own_500_is_a_step_failure() {
    let dir = scratch("daemon-port-taken");
    let daemon = FakeDaemon::start(
        &dir,
        Behaviour::Pings {
            healthy: 2,
            fault: Fault::PortTaken,
        },
    );
    let playbook = "[scenario]\nname = \"x\"\n[subject]\nproject = \"p\"\n[[steps]]\nuses = \"docker.start\"\nwith = { service = \"db\" }\n";
    let (out, _) = run(&dir, &daemon, playbook);
    let all = text(&out);
    assert_eq!(code(&out), 1, "{all}");
    assert!(
        all.contains("start p-db-1: driver failed programming external connectivity on endpoint p-db-1: Bind for 0.0.0.0:8080 failed: port is already allocated"),
        "{all}"
    );
    assert!(!all.contains("Docker daemon"), "{all}");
}

#[test]
fn a_daemon_stalling_mid_run_is_exit_3_and_the_undo_waits_in_the_ledger() {
    let dir = scratch("daemon-stall");
    let daemon = FakeDaemon::start(
        &dir,
        Behaviour::Pings {
            healthy: 3,
            fault: Fault::Stall,
        },
    );
    let (out, took) = run(&dir, &daemon, KILL_THEN_LIST);
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    let sentence = format!(
        "the Docker daemon at {} did not answer within 1s",
        daemon.host()
    );
    assert!(all.contains("✓ kill"), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "error: {sentence}; 1 undo left in the ledger: run `chaosplay recover` when the daemon is back"
        )),
        "{all}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_kept_for_recover(&dir, &daemon);
}

#[test]
fn a_daemon_hanging_up_mid_run_is_exit_3_and_the_undo_waits_in_the_ledger() {
    let dir = scratch("daemon-hangup");
    let daemon = FakeDaemon::start(
        &dir,
        Behaviour::Pings {
            healthy: 3,
            fault: Fault::HangUp,
        },
    );
    let (out, took) = run(&dir, &daemon, KILL_THEN_LIST);
    let all = text(&out);
    assert_eq!(code(&out), 3, "{all}");
    // What is left of the wait, rounded for people: `1s` or `999ms`, not `999ms 411us 20ns`.
    let waited = all
        .split("waiting up to ")
        .nth(1)
        .and_then(|rest| rest.split(" for the Docker daemon").next())
        .unwrap_or_else(|| panic!("cleanup did not wait for the daemon: {all}"));
    assert!(
        waited == "1s" || (waited.ends_with("ms") && !waited.contains(' ')),
        "{waited}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "error: the Docker daemon at {} is not working (",
            daemon.host()
        )),
        "{all}"
    );
    assert!(
        stderr.ends_with(
            "; 1 undo left in the ledger: run `chaosplay recover` when the daemon is back\n"
        ),
        "{all}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_kept_for_recover(&dir, &daemon);
}
