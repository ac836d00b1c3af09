//! `tikv-sim store`: a simulated TiKV. It registers with PD (keeping its id in its data
//! directory, as TiKV does), heartbeats, and serves TiKV's status port (`/status`,
//! `/metrics`). Its data port (`--addr`) accepts connections and answers like the status
//! port, so port probes see it open; there is no gRPC, Raft or storage behind it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use tokio::net::TcpListener;

use crate::cluster::{StoreMeta, StoreStats};
use crate::http::{self, Handler, Request, Response};
use crate::{log, units};

/// The file in the data directory that holds the store id.
pub const STORE_ID_FILE: &str = "store_id";
/// How long a store keeps trying to register before giving up (exit 1).
const REGISTER_DEADLINE: Duration = Duration::from_secs(120);
/// First and largest pause between registration attempts.
const BACKOFF_START: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(3);
/// Limit for one request to PD.
const PD_TIMEOUT: Duration = Duration::from_secs(2);
/// What every simulated store reports: a 100 GiB disk with 512 MiB used.
const CAPACITY: u64 = 100 << 30;
const USED: u64 = 512 << 20;
/// The TiKV version the simulator claims to be (TiKV prints it without a `v`).
const VERSION: &str = "8.5.1";

/// Flags of `tikv-sim store`, named like TiKV's.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// PD endpoints (`host:port`, comma-separated); the first that answers is used.
    #[arg(
        long,
        alias = "pd",
        env = "TIKV_SIM_PD_ENDPOINTS",
        value_delimiter = ',',
        required = true
    )]
    pub pd_endpoints: Vec<String>,
    /// Data port to listen on.
    #[arg(long, default_value = "127.0.0.1:20160")]
    pub addr: String,
    /// Address registered with PD [default: --addr]; 0.0.0.0 is rejected, as by TiKV.
    #[arg(long)]
    pub advertise_addr: Option<String>,
    /// Status port to listen on (`/status`, `/metrics`).
    #[arg(long, default_value = "127.0.0.1:20180")]
    pub status_addr: String,
    /// Status address registered with PD [default: --status-addr].
    #[arg(long)]
    pub advertise_status_addr: Option<String>,
    /// Where the store id is kept; a wiped directory means a new store.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Time between heartbeats (TiKV's `pd-heartbeat-tick-interval` for stores is 10s).
    #[arg(long, env = "TIKV_SIM_HEARTBEAT_INTERVAL", default_value = "10s", value_parser = units::parse_duration)]
    pub heartbeat_interval: Duration,
}

impl StoreArgs {
    /// The address PD will know the store by.
    fn advertised(&self) -> Result<String, String> {
        let address = self
            .advertise_addr
            .clone()
            .unwrap_or_else(|| self.addr.clone());
        if address.starts_with("0.0.0.0:") || address.starts_with("[::]:") {
            return Err(format!(
                "invalid advertise-addr {address:?}: an unspecified address cannot be reached; set --advertise-addr"
            ));
        }
        Ok(address)
    }
}

/// Reads the id a previous run stored in `data_dir`, if any.
pub fn read_store_id(data_dir: &Path) -> io::Result<Option<u64>> {
    match std::fs::read_to_string(data_dir.join(STORE_ID_FILE)) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: not a store id: {text:?}",
                    data_dir.join(STORE_ID_FILE).display()
                ),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Stores `id` durably: written to a temporary file, fsynced, renamed into place, and the
/// directory fsynced, so a crash leaves either no id or the whole id.
pub fn write_store_id(data_dir: &Path, id: u64) -> io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(data_dir)?;
    let temporary = data_dir.join(format!("{STORE_ID_FILE}.tmp"));
    let mut file = std::fs::File::create(&temporary)?;
    writeln!(file, "{id}")?;
    file.sync_all()?;
    std::fs::rename(&temporary, data_dir.join(STORE_ID_FILE))?;
    std::fs::File::open(data_dir)?.sync_all()
}

/// Why a store gave up.
#[derive(Debug)]
pub enum StoreError {
    /// Bad flags or data directory.
    Setup(String),
    /// PD refused the store for good (duplicated address, removed store).
    Refused(String),
    /// PD could not be reached before the deadline.
    Unreachable(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Setup(m) => write!(f, "{m}"),
            StoreError::Refused(m) => write!(f, "PD refused the store: {m}"),
            StoreError::Unreachable(m) => write!(f, "PD unreachable: {m}"),
        }
    }
}

/// Counters behind `/metrics`.
#[derive(Debug, Default)]
struct Metrics {
    store_id: AtomicU64,
    heartbeats: AtomicU64,
    heartbeat_failures: AtomicU64,
}

/// The store as it registers and heartbeats.
struct Store {
    args: StoreArgs,
    meta: StoreMeta,
    metrics: Metrics,
    started: Instant,
}

/// Runs a store until `shutdown` completes or PD refuses it.
pub async fn run(args: StoreArgs, shutdown: impl Future<Output = ()>) -> Result<(), StoreError> {
    let address = args.advertised().map_err(StoreError::Setup)?;
    let setup = |what: &str, e: io::Error| StoreError::Setup(format!("{what}: {e}"));
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| setup(&format!("{}", args.data_dir.display()), e))?;
    let known = read_store_id(&args.data_dir).map_err(|e| setup("store id", e))?;
    let status_listener = TcpListener::bind(&args.status_addr)
        .await
        .map_err(|e| setup(&format!("status-addr {}", args.status_addr), e))?;
    let data_listener = TcpListener::bind(&args.addr)
        .await
        .map_err(|e| setup(&format!("addr {}", args.addr), e))?;
    let started = SystemTime::now();
    let store = Arc::new(Store {
        meta: StoreMeta {
            id: known,
            address,
            status_address: args
                .advertise_status_addr
                .clone()
                .unwrap_or_else(|| args.status_addr.clone()),
            version: VERSION.into(),
            git_hash: "0".repeat(40),
            start_timestamp: units::unix_secs(started),
            deploy_path: "/".into(),
        },
        args,
        metrics: Metrics::default(),
        started: Instant::now(),
    });

    let id = store.register_with_retries(known).await?;
    if known != Some(id) {
        write_store_id(&store.args.data_dir, id).map_err(|e| setup("writing the store id", e))?;
    }
    store.metrics.store_id.store(id, Ordering::Relaxed);
    log!(
        "store {id} ({}) serving status on {}, data port on {}; heartbeat every {}",
        store.meta.address,
        status_listener
            .local_addr()
            .map_err(|e| setup("status-addr", e))?,
        data_listener.local_addr().map_err(|e| setup("addr", e))?,
        units::format_duration(store.args.heartbeat_interval)
    );

    let handler: Handler = {
        let store = store.clone();
        Arc::new(move |request: &Request| store.status(request))
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|&stop| stop).await;
    };
    let servers = [
        tokio::spawn(http::serve(
            status_listener,
            handler.clone(),
            until_stopped(stopped.clone()),
        )),
        tokio::spawn(http::serve(data_listener, handler, until_stopped(stopped))),
    ];
    let result = tokio::select! {
        () = shutdown => Ok(()),
        result = store.heartbeat_loop(id) => result,
    };
    let _ = stop.send(true);
    for server in servers {
        let _ = server.await;
    }
    result
}

impl Store {
    /// POSTs `body` to `route` on the first PD endpoint that answers.
    async fn post(
        &self,
        route: &str,
        body: &impl serde::Serialize,
    ) -> io::Result<(u16, serde_json::Value)> {
        let body = serde_json::to_vec(body).map_err(io::Error::other)?;
        let mut last = io::Error::other("no PD endpoint");
        for endpoint in &self.args.pd_endpoints {
            let endpoint = endpoint.trim_start_matches("http://");
            match http::request(endpoint, "POST", route, Some(&body), PD_TIMEOUT).await {
                Ok((status, bytes)) => {
                    let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                        serde_json::Value::String(String::from_utf8_lossy(&bytes).into())
                    });
                    return Ok((status, value));
                }
                Err(error) => last = io::Error::new(error.kind(), format!("{endpoint}: {error}")),
            }
        }
        Err(last)
    }

    /// One registration; `Ok(Err(..))` when PD refused for good.
    async fn register(&self, id: Option<u64>) -> io::Result<Result<u64, String>> {
        let meta = StoreMeta {
            id,
            ..self.meta.clone()
        };
        let (status, body) = self.post("/sim/v1/register", &meta).await?;
        match (status, body["id"].as_u64()) {
            (200, Some(id)) => Ok(Ok(id)),
            (400, _) => Ok(Err(body
                .as_str()
                .map_or_else(|| body.to_string(), str::to_string))),
            _ => Err(io::Error::other(format!("PD answered {status}: {body}"))),
        }
    }

    /// Registers, retrying with a doubling pause (capped) until [`REGISTER_DEADLINE`]:
    /// PD may start after the store.
    async fn register_with_retries(&self, id: Option<u64>) -> Result<u64, StoreError> {
        let deadline = Instant::now() + REGISTER_DEADLINE;
        let mut pause = BACKOFF_START;
        loop {
            match self.register(id).await {
                Ok(Ok(id)) => return Ok(id),
                Ok(Err(refusal)) => return Err(StoreError::Refused(refusal)),
                Err(error) if Instant::now() + pause >= deadline => {
                    return Err(StoreError::Unreachable(error.to_string()));
                }
                Err(error) => {
                    log!(
                        "registration failed ({error}); retrying in {}",
                        units::format_duration(pause)
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Heartbeats every interval, the first at once. A PD that forgot the store (404,
    /// after a PD restart) gets a new registration with the same id. Returns only when PD
    /// refuses the store for good.
    async fn heartbeat_loop(&self, id: u64) -> Result<(), StoreError> {
        let mut interval = tokio::time::interval(self.args.heartbeat_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stats = StoreStats {
            id,
            capacity: CAPACITY,
            available: CAPACITY - USED,
            used_size: USED,
        };
        let mut failing = false;
        loop {
            interval.tick().await;
            let outcome = match self.post("/sim/v1/heartbeat", &stats).await {
                Ok((200, _)) => Ok(()),
                Ok((404, _)) => match self.register(Some(id)).await {
                    Ok(Ok(_)) => Err("PD did not know the store; registered again".to_string()),
                    Ok(Err(refusal)) => return Err(StoreError::Refused(refusal)),
                    Err(error) => Err(error.to_string()),
                },
                Ok((400, body)) => return Err(StoreError::Refused(body.to_string())),
                Ok((status, body)) => Err(format!("PD answered {status}: {body}")),
                Err(error) => Err(error.to_string()),
            };
            match outcome {
                Ok(()) => {
                    self.metrics.heartbeats.fetch_add(1, Ordering::Relaxed);
                    if std::mem::take(&mut failing) {
                        log!("heartbeats accepted again");
                    }
                }
                Err(error) => {
                    self.metrics
                        .heartbeat_failures
                        .fetch_add(1, Ordering::Relaxed);
                    // Log the first failure of a streak, not every one.
                    if !std::mem::replace(&mut failing, true) {
                        log!("heartbeat failed: {error}");
                    }
                }
            }
        }
    }

    /// The status port: `GET /status` (200, empty) and `GET /metrics` (Prometheus text).
    fn status(&self, request: &Request) -> Response {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/status") => Response::empty(200),
            ("GET", "/metrics") => Response {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                body: self.metrics_text().into_bytes(),
            },
            _ => Response::text(404, "not found\n"),
        }
    }

    fn metrics_text(&self) -> String {
        let m = &self.metrics;
        let metric = |name: &str, kind: &str, help: &str, value: u64| {
            format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n")
        };
        [
            metric(
                "tikv_sim_store_id",
                "gauge",
                "Store id assigned by PD.",
                m.store_id.load(Ordering::Relaxed),
            ),
            metric(
                "tikv_sim_heartbeats_total",
                "counter",
                "Heartbeats PD accepted.",
                m.heartbeats.load(Ordering::Relaxed),
            ),
            metric(
                "tikv_sim_heartbeat_failures_total",
                "counter",
                "Heartbeats that failed or PD refused.",
                m.heartbeat_failures.load(Ordering::Relaxed),
            ),
            metric(
                "tikv_sim_uptime_seconds",
                "gauge",
                "Seconds since the store started.",
                self.started.elapsed().as_secs(),
            ),
        ]
        .concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pd::{self, PdArgs};
    use clap::Parser;

    #[derive(Parser)]
    struct Pd {
        #[command(flatten)]
        args: PdArgs,
    }

    #[derive(Parser)]
    struct St {
        #[command(flatten)]
        args: StoreArgs,
    }

    /// A PD on an ephemeral port; stops when the returned sender is dropped.
    async fn start_pd() -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let args = Pd::parse_from(["pd", "--disconnect-after", "3s"]).args;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(pd::serve(listener, args, async {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    fn store_args(pd: &str, dir: &Path, host: &str) -> StoreArgs {
        St::parse_from([
            "store",
            "--pd-endpoints",
            pd,
            "--advertise-addr",
            &format!("{host}:20160"),
            "--data-dir",
            dir.to_str().unwrap(),
        ])
        .args
    }

    fn store(args: StoreArgs) -> Store {
        Store {
            meta: StoreMeta {
                id: None,
                address: args.advertised().unwrap(),
                status_address: String::new(),
                version: VERSION.into(),
                git_hash: String::new(),
                start_timestamp: 0,
                deploy_path: "/".into(),
            },
            args,
            metrics: Metrics::default(),
            started: Instant::now(),
        }
    }

    #[test]
    fn id_file_round_trips_and_rejects_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_store_id(dir.path()).unwrap(), None);
        write_store_id(dir.path(), 42).unwrap();
        assert_eq!(read_store_id(dir.path()).unwrap(), Some(42));
        std::fs::write(dir.path().join(STORE_ID_FILE), "x").unwrap();
        assert!(read_store_id(dir.path()).is_err());
    }

    #[test]
    fn unspecified_advertise_address_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = store_args("pd:2379", dir.path(), "tikv0");
        args.advertise_addr = Some("0.0.0.0:20160".into());
        assert!(args.advertised().is_err());
    }

    #[tokio::test]
    async fn restart_keeps_the_id_and_a_wiped_store_is_new() {
        let (pd, _stop) = start_pd().await;
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("tikv0");
        let first = store(store_args(&pd, &dir, "tikv0"));
        let id = first.register_with_retries(None).await.unwrap();
        write_store_id(&dir, id).unwrap();
        assert_eq!(id, 1);

        // Restart: the id comes from the data directory and PD accepts it.
        let known = read_store_id(&dir).unwrap();
        assert_eq!(known, Some(1));
        let again = store(store_args(&pd, &dir, "tikv0"));
        assert_eq!(again.register_with_retries(known).await.unwrap(), 1);

        // Wiped, same address: PD refuses ("duplicated store address").
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(read_store_id(&dir).unwrap(), None);
        match again.register_with_retries(None).await {
            Err(StoreError::Refused(message)) => {
                assert!(message.contains("duplicated store address"), "{message}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Wiped, at a new address: a new store with a new id.
        let other = store(store_args(&pd, &dir, "tikv9"));
        assert_eq!(other.register_with_retries(None).await.unwrap(), 2);
    }

    #[test]
    fn status_port_answers_status_and_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(store_args("pd:2379", dir.path(), "tikv0"));
        let get = |path: &str| Request {
            method: "GET".into(),
            path: path.into(),
            query: vec![],
            body: vec![],
        };
        assert_eq!(s.status(&get("/status")), Response::empty(200));
        let metrics = String::from_utf8(s.status(&get("/metrics")).body).unwrap();
        assert!(
            metrics.contains("\ntikv_sim_heartbeats_total 0\n"),
            "{metrics}"
        );
        assert_eq!(s.status(&get("/nope")).status, 404);
    }
}
