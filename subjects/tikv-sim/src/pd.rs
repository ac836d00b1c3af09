//! `tikv-sim pd`: PD's HTTP API (`/pd/api/v1/...`) over the [`Cluster`] model, plus the
//! internal routes the simulated stores use (`/sim/v1/register`, `/sim/v1/heartbeat`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use tokio::net::TcpListener;

use crate::cluster::{
    Cluster, ClusterError, ClusterOptions, Settings, Snapshot, StoreMeta, StoreStats, Thresholds,
};
use crate::http::{self, Handler, Request, Response};
use crate::{log, units, views};

/// How often the rules are applied even when nobody asks (elections, balancing rounds).
const TICK: Duration = Duration::from_millis(200);
/// Heartbeat times are saved at most this often; registrations and settings at once.
const SAVE_INTERVAL: Duration = Duration::from_secs(1);
/// The state file in `--data-dir`.
pub const STATE_FILE: &str = "tikv-sim-pd.json";

/// Flags of `tikv-sim pd`. Thresholds also come from `TIKV_SIM_*` environment variables so
/// a compose file can shorten them; the defaults are real PD's and TiKV's.
#[derive(Debug, Clone, Args)]
pub struct PdArgs {
    /// Address to serve the HTTP API on.
    #[arg(long, default_value = "0.0.0.0:2379")]
    pub listen: String,
    /// Member name (`/health`, `/members`).
    #[arg(long, default_value = "pd0")]
    pub name: String,
    /// Client URL announced in `/health` and `/members` [default: http://<name>:2379].
    #[arg(long)]
    pub advertise_client_urls: Option<String>,
    /// Peer URL announced in `/members` [default: http://<name>:2380].
    #[arg(long)]
    pub advertise_peer_urls: Option<String>,
    /// Where PD keeps its state across restarts (as real PD does in etcd); without it, a
    /// restarted PD has forgotten every store.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// No heartbeat for longer than this: "Disconnected" (PD's constant is 20s).
    #[arg(long, env = "TIKV_SIM_DISCONNECT_AFTER", default_value = "20s", value_parser = units::parse_duration)]
    pub disconnect_after: Duration,
    /// No heartbeat for longer than this: "Down" (`schedule.max-store-down-time`; also
    /// settable with POST /pd/api/v1/config).
    #[arg(long, env = "TIKV_SIM_MAX_STORE_DOWN_TIME", default_value = "30m", value_parser = units::parse_duration)]
    pub max_store_down_time: Duration,
    /// No heartbeat for longer than this: the store's leaders move (Raft election). Keep it
    /// above the stores' heartbeat interval.
    #[arg(long, env = "TIKV_SIM_ELECTION_DELAY", default_value = "10s", value_parser = units::parse_duration)]
    pub election_delay: Duration,
    /// No heartbeat for longer than this: its replicas are reported as down peers.
    #[arg(long, env = "TIKV_SIM_MAX_PEER_DOWN_DURATION", default_value = "10m", value_parser = units::parse_duration)]
    pub max_peer_down_duration: Duration,
    /// Regions created when the first store registers.
    #[arg(long, env = "TIKV_SIM_REGIONS", default_value_t = 30)]
    pub regions: u64,
    /// Replicas per region (`replication.max-replicas`).
    #[arg(long, env = "TIKV_SIM_MAX_REPLICAS", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_replicas: u64,
    /// Leader transfers per balancing round (`schedule.leader-schedule-limit`).
    #[arg(long, env = "TIKV_SIM_LEADER_SCHEDULE_LIMIT", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub leader_schedule_limit: u64,
}

impl PdArgs {
    fn options(&self) -> ClusterOptions {
        ClusterOptions {
            thresholds: Thresholds {
                disconnect_after: self.disconnect_after,
                election_delay: self.election_delay,
                max_peer_down_duration: self.max_peer_down_duration,
            },
            settings: Settings {
                max_store_down_time: self.max_store_down_time,
                leader_schedule_limit: self.leader_schedule_limit,
                max_replicas: self.max_replicas,
            },
            regions: self.regions,
        }
    }
}

/// Shared state of the PD process.
struct Pd {
    member: views::Member,
    cluster: Mutex<Cluster>,
    /// The state file, with what was last written there and when.
    state_file: Option<PathBuf>,
    saved: Mutex<(Vec<u8>, Instant)>,
}

/// Loads the state saved in `data_dir`, if any; a file that does not parse is an error
/// rather than a silently empty cluster.
fn load(data_dir: &Path, options: ClusterOptions) -> std::io::Result<Option<Cluster>> {
    let path = data_dir.join(STATE_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    Ok(Some(Cluster::restore(options, snapshot)))
}

/// Replaces `path` atomically: temporary file, fsync, rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Binds `--listen` and serves until `shutdown` completes.
pub async fn run(args: PdArgs, shutdown: impl Future<Output = ()>) -> std::io::Result<()> {
    let listener = TcpListener::bind(&args.listen).await?;
    serve(listener, args, shutdown).await
}

/// Serves on `listener` (the address in `args` is ignored) until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    args: PdArgs,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let client_url = args
        .advertise_client_urls
        .clone()
        .unwrap_or_else(|| format!("http://{}:2379", args.name));
    let peer_url = args
        .advertise_peer_urls
        .clone()
        .unwrap_or_else(|| format!("http://{}:2380", args.name));
    let mut restored = None;
    if let Some(dir) = &args.data_dir {
        std::fs::create_dir_all(dir)?;
        restored = load(dir, args.options())?;
        if let Some(cluster) = &restored {
            let path = dir.join(STATE_FILE);
            log!(
                "state restored from {} ({} stores)",
                path.display(),
                cluster.stores().count()
            );
        }
    }
    let pd = Arc::new(Pd {
        member: views::Member::new(
            &args.name,
            vec![client_url],
            vec![peer_url],
            SystemTime::now(),
        ),
        cluster: Mutex::new(restored.unwrap_or_else(|| Cluster::new(args.options()))),
        state_file: args.data_dir.as_ref().map(|dir| dir.join(STATE_FILE)),
        saved: Mutex::new((Vec::new(), Instant::now())),
    });
    log!(
        "pd {} listening on {} (disconnect after {}, down after {}, election delay {}, {} regions)",
        args.name,
        listener.local_addr()?,
        units::format_duration(args.disconnect_after),
        units::format_duration(args.max_store_down_time),
        units::format_duration(args.election_delay),
        args.regions
    );
    let ticker = {
        let pd = pd.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            loop {
                interval.tick().await;
                let mut cluster = pd.lock();
                cluster.tick(SystemTime::now());
                pd.save(&cluster, false);
            }
        })
    };
    let handler: Handler = Arc::new(move |request: &Request| pd.handle(request, SystemTime::now()));
    http::serve(listener, handler, shutdown).await;
    ticker.abort();
    Ok(())
}

impl Pd {
    fn lock(&self) -> std::sync::MutexGuard<'_, Cluster> {
        // A panic in a handler leaves the model consistent enough for test equipment.
        self.cluster.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the state file when the state changed: at once if `urgent`, else at most once
    /// per [`SAVE_INTERVAL`]. A failed write is logged; PD keeps serving.
    fn save(&self, cluster: &Cluster, urgent: bool) {
        let Some(path) = &self.state_file else { return };
        let bytes = serde_json::to_vec(&cluster.snapshot()).unwrap_or_default();
        let mut saved = self.saved.lock().unwrap_or_else(PoisonError::into_inner);
        if saved.0 == bytes || (!urgent && saved.1.elapsed() < SAVE_INTERVAL) {
            return;
        }
        match write_atomically(path, &bytes) {
            Ok(()) => *saved = (bytes, Instant::now()),
            Err(error) => log!("cannot save {}: {error}", path.display()),
        }
    }

    fn handle(&self, request: &Request, now: SystemTime) -> Response {
        let mut cluster = self.lock();
        cluster.tick(now);
        let path = request.path.trim_end_matches('/');
        let result = if let Some(route) = path.strip_prefix("/pd/api/v1/") {
            self.api(&mut cluster, request, route, now)
        } else if let Some(route) = path.strip_prefix("/sim/v1/") {
            internal(&mut cluster, request, route, now)
        } else {
            None
        };
        // Registrations, removals and settings are saved before PD answers, as real PD
        // commits them to etcd first; heartbeats are saved by the ticker.
        if request.method != "GET" && !path.ends_with("/heartbeat") {
            self.save(&cluster, true);
        }
        result.unwrap_or_else(|| Response::text(404, "404 page not found\n"))
    }

    /// PD's public routes; `None` for an unknown route or method.
    fn api(
        &self,
        cluster: &mut Cluster,
        request: &Request,
        route: &str,
        now: SystemTime,
    ) -> Option<Response> {
        let method = request.method.as_str();
        Some(match (method, route) {
            ("GET", "ping") => Response::empty(200),
            ("GET", "health") => ok(&self.member.health()),
            ("GET", "members") => ok(&self.member.members()),
            ("GET", "leader") => ok(&self.member.leader()),
            ("GET", "status") => ok(&self.member.status()),
            ("GET", "version") => ok(&serde_json::json!({"version": views::PD_VERSION})),
            ("GET", "cluster") => ok(&self.member.cluster(cluster)),
            ("GET", "cluster/status") => ok(&views::cluster_status(cluster)),
            ("GET", "config") => ok(&views::config(cluster)),
            ("POST", "config") => {
                match serde_json::from_slice::<serde_json::Map<_, _>>(&request.body) {
                    Err(error) => Response::json(400, &error.to_string()),
                    Ok(changes) => match cluster.update_settings(&changes) {
                        Ok(()) => Response::json(200, &"The config is updated."),
                        Err(message) => Response::json(400, &message),
                    },
                }
            }
            ("GET", "stores") => {
                let mut states = Vec::new();
                for value in request.query_all("state") {
                    match value.parse() {
                        Ok(state) => states.push(state),
                        Err(_) => {
                            let message =
                                format!("strconv.Atoi: parsing {value:?}: invalid syntax");
                            return Some(Response::json(400, &message));
                        }
                    }
                }
                answer(views::stores(cluster, &states, now))
            }
            ("GET", "regions/count") => answer(views::regions_count(cluster)),
            ("GET", "stats/region") => answer(views::region_stats(cluster)),
            ("GET", route) if route.starts_with("regions/check/") => {
                let kind = &route["regions/check/".len()..];
                if !views::REGION_CHECKS.contains(&kind) {
                    return None;
                }
                answer(views::region_check(cluster, kind, now))
            }
            (_, route) if route.starts_with("store/") => {
                let text = &route["store/".len()..];
                let Ok(id) = text.parse::<u64>() else {
                    return Some(invalid_id(text));
                };
                match method {
                    "GET" => answer(
                        cluster
                            .store(id)
                            .map(|store| views::store_info(cluster, store, now)),
                    ),
                    "DELETE" => answer(
                        cluster
                            .remove_store(id)
                            .map(|()| "The store is set as Offline."),
                    ),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
}

fn ok(value: &impl serde::Serialize) -> Response {
    Response::json(200, value)
}

/// 200 with the JSON value, or PD's status and error string.
fn answer<T: serde::Serialize>(result: Result<T, ClusterError>) -> Response {
    match result {
        Ok(value) => Response::json(200, &value),
        Err(error) => {
            let status = match error {
                ClusterError::NotBootstrapped => 500,
                ClusterError::StoreNotFound(_) => 404,
                ClusterError::DuplicatedAddress { .. } | ClusterError::StoreRemoved(_) => 400,
            };
            Response::json(status, &error.to_string())
        }
    }
}

/// PD's answer to `/store/abc`: an `apiutil` input error.
fn invalid_id(text: &str) -> Response {
    Response::json(
        400,
        &serde_json::json!({
            "code": "input",
            "msg": format!("strconv.ParseUint: parsing {text:?}: invalid syntax"),
            "data": {"Func": "ParseUint", "Num": text, "Err": {}},
        }),
    )
}

/// Routes for the simulated stores: `register` answers `{"id": N}`, `heartbeat` `{}`.
fn internal(
    cluster: &mut Cluster,
    request: &Request,
    route: &str,
    now: SystemTime,
) -> Option<Response> {
    if request.method != "POST" {
        return None;
    }
    Some(match route {
        "register" => match serde_json::from_slice::<StoreMeta>(&request.body) {
            Err(error) => Response::json(400, &error.to_string()),
            Ok(meta) => {
                let address = meta.address.clone();
                let result = cluster.register(meta, now);
                match &result {
                    Ok(id) => log!("store {id} registered at {address}"),
                    Err(error) => log!("registration at {address} refused: {error}"),
                }
                answer(result.map(|id| serde_json::json!({"id": id})))
            }
        },
        "heartbeat" => match serde_json::from_slice::<StoreStats>(&request.body) {
            Err(error) => Response::json(400, &error.to_string()),
            Ok(stats) => answer(
                cluster
                    .heartbeat(stats, now)
                    .map(|()| serde_json::json!({})),
            ),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::cluster::tests::{at, meta, options, stats};

    fn pd() -> Pd {
        Pd {
            member: views::Member::new("pd0", vec![], vec![], at(0.0)),
            cluster: Mutex::new(Cluster::new(options())),
            state_file: None,
            saved: Mutex::new((Vec::new(), Instant::now())),
        }
    }

    fn call(
        pd: &Pd,
        method: &str,
        target: &str,
        body: Option<Value>,
        now: SystemTime,
    ) -> (u16, Value) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let request = Request {
            method: method.into(),
            path: path.into(),
            query: query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.into(), v.into())
                })
                .collect(),
            body: body
                .map(|b| serde_json::to_vec(&b).unwrap())
                .unwrap_or_default(),
        };
        let response = pd.handle(&request, now);
        let value = if response.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&response.body).unwrap_or(Value::String(
                String::from_utf8_lossy(&response.body).into(),
            ))
        };
        (response.status, value)
    }

    #[test]
    fn routes_before_and_after_bootstrap() {
        let pd = pd();
        let not_bootstrapped = json!(
            "[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped, please start TiKV first"
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/ping", None, at(0.0)),
            (200, Value::Null)
        );
        for route in [
            "stores",
            "store/1",
            "regions/count",
            "regions/check/miss-peer",
            "stats/region",
        ] {
            let (status, body) = call(&pd, "GET", &format!("/pd/api/v1/{route}"), None, at(0.0));
            assert_eq!((status, &body), (500, &not_bootstrapped), "{route}");
        }
        let (_, status) = call(&pd, "GET", "/pd/api/v1/cluster/status", None, at(0.0));
        assert_eq!(status["raft_bootstrap_time"], "0001-01-01T00:00:00Z");

        let (status, id) = call(
            &pd,
            "POST",
            "/sim/v1/register",
            Some(json!(meta(None, "tikv0"))),
            at(0.0),
        );
        assert_eq!((status, id), (200, json!({"id": 1})));
        let (status, _) = call(
            &pd,
            "POST",
            "/sim/v1/heartbeat",
            Some(json!(stats(1))),
            at(0.0),
        );
        assert_eq!(status, 200);
        let (status, body) = call(
            &pd,
            "POST",
            "/sim/v1/register",
            Some(json!(meta(None, "tikv0"))),
            at(0.0),
        );
        assert_eq!(status, 400);
        assert!(
            body.as_str().unwrap().contains("duplicated store address"),
            "{body}"
        );
        let (status, body) = call(
            &pd,
            "POST",
            "/sim/v1/heartbeat",
            Some(json!(stats(7))),
            at(0.0),
        );
        assert_eq!(
            (status, body),
            (404, json!("[PD:core:ErrStoreNotFound]store 7 not found"))
        );

        let (status, stores) = call(&pd, "GET", "/pd/api/v1/stores", None, at(1.0));
        assert_eq!((status, &stores["count"]), (200, &json!(1)));
        assert_eq!(stores["stores"][0]["store"]["state_name"], "Up");
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/stores?state=2", None, at(1.0)).1["count"],
            0
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/stores?state=x", None, at(1.0)).0,
            400
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/store/99", None, at(1.0)),
            (404, json!("[PD:core:ErrStoreNotFound]store 99 not found"))
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/store/abc", None, at(1.0)).1["code"],
            "input"
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/store/1", None, at(1.0)).1["store"]["id"],
            1
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/regions/count", None, at(1.0)).1,
            json!({"count": 30, "regions": null})
        );
        assert_eq!(
            call(
                &pd,
                "GET",
                "/pd/api/v1/regions/check/miss-peer",
                None,
                at(1.0)
            )
            .1["count"],
            30
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/regions/check/nope", None, at(1.0)).0,
            404
        );
        assert_eq!(call(&pd, "GET", "/pd/api/v1/nope", None, at(1.0)).0, 404);
    }

    #[test]
    fn config_post_changes_the_down_threshold_live() {
        let pd = pd();
        call(
            &pd,
            "POST",
            "/sim/v1/register",
            Some(json!(meta(None, "tikv0"))),
            at(0.0),
        );
        call(
            &pd,
            "POST",
            "/sim/v1/heartbeat",
            Some(json!(stats(1))),
            at(0.0),
        );
        let state = |now| {
            call(&pd, "GET", "/pd/api/v1/store/1", None, now).1["store"]["state_name"].clone()
        };
        assert_eq!(state(at(5.0)), "Disconnected");
        let (_, config) = call(&pd, "GET", "/pd/api/v1/config", None, at(5.0));
        assert_eq!(config["schedule"]["max-store-down-time"], "10s");
        let changed = call(
            &pd,
            "POST",
            "/pd/api/v1/config",
            Some(json!({"max-store-down-time": "4s"})),
            at(5.0),
        );
        assert_eq!(changed, (200, json!("The config is updated.")));
        assert_eq!(state(at(5.0)), "Down");
        let refused = call(
            &pd,
            "POST",
            "/pd/api/v1/config",
            Some(json!({"max-store-down-time": "x"})),
            at(5.0),
        );
        assert_eq!(refused.0, 400);
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/config", None, at(5.0)).1["schedule"]["max-store-down-time"],
            "4s"
        );
    }

    #[test]
    fn state_survives_a_restart_through_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = pd();
        first.state_file = Some(dir.path().join(STATE_FILE));
        let register = |pd: &Pd, host: &str, t: f64| {
            call(
                pd,
                "POST",
                "/sim/v1/register",
                Some(json!(meta(None, host))),
                at(t),
            )
            .1
        };
        register(&first, "tikv0", 0.0);
        register(&first, "tikv1", 0.0);
        assert!(
            dir.path().join(STATE_FILE).exists(),
            "registrations are saved at once"
        );

        let restored = load(dir.path(), options()).unwrap().expect("a saved state");
        assert_eq!(restored.snapshot(), first.lock().snapshot());
        let mut second = pd();
        second.cluster = Mutex::new(restored);
        assert_eq!(
            register(&second, "tikv2", 1.0),
            json!({"id": 3}),
            "ids go on"
        );

        std::fs::write(dir.path().join(STATE_FILE), "{").unwrap();
        assert!(
            load(dir.path(), options()).is_err(),
            "a corrupt file is an error"
        );
        assert!(load(&dir.path().join("none"), options()).unwrap().is_none());
    }

    #[test]
    fn delete_store_sets_it_offline() {
        let pd = pd();
        call(
            &pd,
            "POST",
            "/sim/v1/register",
            Some(json!(meta(None, "tikv0"))),
            at(0.0),
        );
        assert_eq!(
            call(&pd, "DELETE", "/pd/api/v1/store/1", None, at(0.0)),
            (200, json!("The store is set as Offline."))
        );
        assert_eq!(
            call(&pd, "GET", "/pd/api/v1/store/1", None, at(0.0)).1["store"]["state_name"],
            "Offline"
        );
    }
}
