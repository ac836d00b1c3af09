//! Process-level test: real `tikv-sim pd` and `tikv-sim store` processes on 127.0.0.1
//! ephemeral ports, short thresholds, every wait bounded.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_tikv-sim");
const WAIT: Duration = Duration::from_secs(15);

/// A child process whose stderr lines arrive on a channel; killed when dropped.
struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(BIN)
            .args(args)
            .env_clear()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tikv-sim");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The text after `marker` on the first line containing it, up to the next space.
    fn wait_for(&mut self, marker: &str) -> String {
        let deadline = Instant::now() + WAIT;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if let Some((_, after)) = line.split_once(marker) {
                        return after
                            .split([' ', ',', ';'])
                            .next()
                            .unwrap_or_default()
                            .to_string();
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no line with {marker:?} within {WAIT:?}; saw {:#?}",
            self.seen
        );
    }

    /// Waits (bounded) for the process to exit; returns its success and all its output.
    fn wait_exit(mut self) -> (bool, String) {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut all = std::mem::take(&mut self.seen);
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
                    all.push(line);
                }
                return (status.success(), all.join("\n"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("process still running after {WAIT:?}");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_store(pd: &str, dir: &Path, n: usize) -> (Proc, String) {
    let dir = dir.join(format!("tikv{n}"));
    let mut store = Proc::start(&[
        "store",
        "--pd-endpoints",
        pd,
        "--addr",
        "127.0.0.1:0",
        "--advertise-addr",
        &format!("tikv{n}:20160"),
        "--status-addr",
        "127.0.0.1:0",
        "--advertise-status-addr",
        &format!("tikv{n}:20180"),
        "--data-dir",
        dir.to_str().unwrap(),
        "--heartbeat-interval",
        "200ms",
    ]);
    let status = store.wait_for("serving status on ");
    (store, status)
}

async fn get(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) = tikv_sim::http::request(addr, "GET", path, None, Duration::from_secs(2))
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Polls `/stores` until `check` holds (bounded); returns the stores and the time taken.
async fn wait_stores(
    pd: &str,
    what: &str,
    check: impl Fn(&[Value]) -> bool,
) -> (Vec<Value>, Duration) {
    let started = Instant::now();
    let mut last = Value::Null;
    while started.elapsed() < WAIT {
        let (status, body) = get(pd, "/pd/api/v1/stores").await;
        if status == 200 {
            let stores = body["stores"].as_array().cloned().unwrap_or_default();
            if check(&stores) {
                return (stores, started.elapsed());
            }
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stores never {what} within {WAIT:?}; last: {last:#}");
}

fn state(stores: &[Value], id: u64) -> &str {
    stores
        .iter()
        .find(|s| s["store"]["id"] == id)
        .and_then(|s| s["store"]["state_name"].as_str())
        .unwrap_or("absent")
}

fn leaders(stores: &[Value], id: u64) -> u64 {
    stores
        .iter()
        .find(|s| s["store"]["id"] == id)
        .and_then(|s| s["status"]["leader_count"].as_u64())
        .unwrap_or(0)
}

#[tokio::test]
async fn kill_and_restart_a_store_between_real_processes() {
    let data = tempfile::tempdir().unwrap();
    let mut pd = Proc::start(&[
        "pd",
        "--listen",
        "127.0.0.1:0",
        "--disconnect-after",
        "1s",
        "--election-delay",
        "600ms",
        "--max-store-down-time",
        "1m",
    ]);
    let pd_addr = pd.wait_for("listening on ");
    let (status, body) = get(&pd_addr, "/pd/api/v1/stores").await;
    assert_eq!(
        status, 500,
        "not bootstrapped before the first store: {body}"
    );

    let mut stores: Vec<(Proc, String)> = (0..3)
        .map(|n| start_store(&pd_addr, data.path(), n))
        .collect();
    let up3 = |s: &[Value]| s.len() == 3 && (1..=3).all(|id| state(s, id) == "Up");
    wait_stores(&pd_addr, "3 Up", up3).await;
    let (status, _) = get(&stores[1].1, "/status").await;
    assert_eq!(status, 200);

    // Kill store 2 (tikv1): Disconnected after ~1 s, its leaders gone after ~0.6 s.
    let killed = stores.remove(1);
    drop(killed);
    let (after_kill, took) = wait_stores(&pd_addr, "1 Disconnected", |s| {
        state(s, 2) == "Disconnected" && state(s, 1) == "Up" && state(s, 3) == "Up"
    })
    .await;
    assert!(
        took >= Duration::from_millis(500),
        "Disconnected too early: {took:?}"
    );
    assert_eq!(
        leaders(&after_kill, 2),
        0,
        "leaders moved off the dead store"
    );
    assert_eq!(leaders(&after_kill, 1) + leaders(&after_kill, 3), 30);
    let (_, count) = get(&pd_addr, "/pd/api/v1/regions/count").await;
    assert_eq!(count["count"], 30);

    // Restart with the same data directory: same id, Up again, leaders come back.
    let (restarted, _) = start_store(&pd_addr, data.path(), 1);
    wait_stores(&pd_addr, "3 Up again", |s| up3(s) && leaders(s, 2) > 0).await;

    // Wiped data directory at the same address: PD refuses, the store exits non-zero.
    drop(restarted);
    std::fs::remove_dir_all(data.path().join("tikv1")).unwrap();
    let wiped = Proc::start(&[
        "store",
        "--pd-endpoints",
        &pd_addr,
        "--addr",
        "127.0.0.1:0",
        "--advertise-addr",
        "tikv1:20160",
        "--status-addr",
        "127.0.0.1:0",
        "--data-dir",
        data.path().join("tikv1").to_str().unwrap(),
    ]);
    let (success, output) = wiped.wait_exit();
    assert!(!success, "a wiped store must not start: {output}");
    assert!(output.contains("duplicated store address"), "{output}");
    drop(stores);
    drop(pd);
}
