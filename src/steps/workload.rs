//! `workload.etcd`: a recorded workload against etcd, for a linearizability check
//! (`history.check`) of what happened *during* a fault.
//!
//! `clients` clients each issue one operation at a time, at their share of `rate`, on random
//! keys of `keys`, and record it as chaosplay's JSON-lines history (docs/history.md): when it
//! was invoked, when it completed, and whether it certainly happened (`ok`), certainly did
//! not (`fail`) or may have (`unknown`: no answer in time, or an error after the request
//! was sent). As in Jepsen, a client whose operation is unknown never issues another: that
//! operation stays open for the checker, so the client is retired and its slot continues
//! with a new client id (`id + clients`), on the same endpoint.
//!
//! Each slot is pinned to one endpoint of `endpoints` (slot `i` to `endpoints[i % n]`), so a
//! member that a fault cuts off keeps being asked: a serializable read it answers from its
//! own stale state is exactly what the check must catch.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rand::{RngExt, SeedableRng};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::clients::etcd::{EtcdClient, EtcdError};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};
use crate::history::{Call, History, Operation, Outcome};

mod http;
pub use http::{
    HTTP_DOC, HttpWorkloadParams, REQUEST_NAMES, RESPONSE_NAMES, TEMPLATE_FIELDS, http,
};

const MAX_CLIENTS: u32 = 256;
const MAX_KEYS: u32 = 1000;
const MAX_RATE: u32 = 10_000;
const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(3600);
const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The operations recorded: those of the register model, or of the key-value one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadModel {
    /// read, write, cas (compare-and-set) of integers, each written value unique.
    #[default]
    Register,
    /// get, put, append of strings (append reads, then sets if unchanged: a changed value
    /// makes it `fail`).
    Kv,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EtcdWorkloadParams {
    /// Client URLs of the members; client slot `i` is pinned to `endpoints[i % n]`.
    pub endpoints: Vec<String>,
    /// `register` (read / write / cas) or `kv` (get / put / append).
    #[serde(default)]
    pub model: WorkloadModel,
    /// Concurrent clients, 1–256.
    #[serde(default = "default_clients")]
    #[schemars(range(min = 1, max = 256))]
    pub clients: u32,
    /// Keys operated on, 1–1000, each its own register or value (checked apart).
    #[serde(default = "default_keys")]
    #[schemars(range(min = 1, max = 1000))]
    pub keys: u32,
    /// The keys' names start with this; every key under it is deleted before the workload
    /// starts, as the models start empty.
    #[serde(default = "default_prefix")]
    pub key_prefix: String,
    /// Operations per second, all clients together, 1–10000: each client starts its next
    /// operation at its share of the rate, or at once when the last one took longer.
    #[serde(default = "default_rate")]
    #[schemars(range(min = 1, max = 10000))]
    pub rate: u32,
    /// How long to issue operations, at most 1h.
    pub duration: Duration,
    /// Stop after this many operations, whatever the duration.
    #[serde(default)]
    pub max_ops: Option<u64>,
    /// Per-operation timeout (at most 1m): an operation without an answer by then is unknown.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Serializable reads: a member answers from its own state without asking the leader
    /// (possibly stale — not linearizable). Linearizable reads by default.
    #[serde(default)]
    pub serializable: bool,
    /// Where to write the history (relative paths start at the current directory); by
    /// default `chaosplay-histories/<scenario>-t<trial>-<step>-<started_at>.jsonl`.
    #[serde(default)]
    pub file: Option<String>,
}

fn default_clients() -> u32 {
    6
}
fn default_keys() -> u32 {
    1
}
fn default_prefix() -> String {
    "chaosplay/workload/".into()
}
fn default_rate() -> u32 {
    50
}
fn default_timeout() -> Duration {
    Duration::from_secs(1)
}

impl Params for EtcdWorkloadParams {
    fn bounds(&self) -> Vec<OutOfBounds> {
        let mut broken = self.shape().bounds(self.endpoints.is_empty());
        if self.key_prefix.is_empty() {
            broken.push(OutOfBounds::new(
                "key_prefix",
                "`key_prefix` must not be empty: the keys under it are deleted first",
            ));
        }
        broken
    }
}

/// `shape()` for each workload step's parameters, which declare the [`Shape`]'s fields
/// themselves instead of flattening one shared struct: serde's `flatten` does not work with
/// `deny_unknown_fields` (a misspelt key would lose its list of expected keys, hence its
/// did-you-mean), and the defaults and docs of some fields differ per target.
macro_rules! shape_of_params {
    ($($params:ty),+) => {$(
        impl $params {
            fn shape(&self) -> Shape {
                Shape {
                    model: self.model,
                    clients: self.clients,
                    keys: self.keys,
                    key_prefix: self.key_prefix.clone(),
                    rate: self.rate,
                    duration: self.duration,
                    max_ops: self.max_ops,
                    timeout: self.timeout,
                }
            }
        }
    )+};
}
shape_of_params!(EtcdWorkloadParams, HttpWorkloadParams);

/// What every target's workload shares: how many clients issue which operations on which
/// keys, how fast and for how long.
struct Shape {
    model: WorkloadModel,
    clients: u32,
    keys: u32,
    key_prefix: String,
    rate: u32,
    duration: Duration,
    max_ops: Option<u64>,
    timeout: Duration,
}

impl Shape {
    fn bounds(&self, no_endpoints: bool) -> Vec<OutOfBounds> {
        let mut broken = Vec::new();
        let mut range = |field, ok: bool, what: String| {
            if !ok {
                broken.push(OutOfBounds::new(field, what));
            }
        };
        range(
            "clients",
            (1..=MAX_CLIENTS).contains(&self.clients),
            format!("`clients` must be 1–{MAX_CLIENTS}, not {}", self.clients),
        );
        range(
            "keys",
            (1..=MAX_KEYS).contains(&self.keys),
            format!("`keys` must be 1–{MAX_KEYS}, not {}", self.keys),
        );
        range(
            "rate",
            (1..=MAX_RATE).contains(&self.rate),
            format!("`rate` must be 1–{MAX_RATE} per second, not {}", self.rate),
        );
        range(
            "duration",
            !self.duration.0.is_zero() && self.duration.0 <= MAX_DURATION,
            format!(
                "`duration` must be more than 0 and at most 1h, not {}",
                self.duration
            ),
        );
        range(
            "timeout",
            !self.timeout.0.is_zero() && self.timeout.0 <= MAX_TIMEOUT,
            format!(
                "`timeout` must be more than 0 and at most 1m, not {}",
                self.timeout
            ),
        );
        range(
            "endpoints",
            !no_endpoints,
            "`endpoints` needs at least one URL".into(),
        );
        broken
    }
}

pub const ETCD_DOC: StepDoc = StepDoc {
    summary: "Record a workload against etcd for `history.check`: `clients` clients, each pinned to one of `endpoints`, issue register (read/write/cas) or kv (get/put/append) operations on `keys` keys at `rate` per second for `duration`, each written to a JSON-lines history with its invocation, completion and outcome (ok, fail, unknown). A client whose operation is unknown is retired for a new client id. Run it with `background = true` during a fault; `await` with `cancel = true` ends it early and keeps the history.",
    outputs: &[
        ("history", "the path of the history file (absolute)"),
        ("operations", "operations recorded"),
        ("ok", "operations that certainly happened"),
        ("fail", "operations that certainly did not"),
        ("unknown", "operations without a definite outcome"),
        (
            "by_f",
            "operations per function (`read`, `write`, `cas`, `get`, `put`, `append`)",
        ),
        (
            "client_ids",
            "client ids used: `clients` plus one per retired client",
        ),
        (
            "elapsed_ms",
            "from the first invocation to the last completion",
        ),
    ],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"workload\"\nuses = \"workload.etcd\"\nwith = { endpoints = [\"http://127.0.0.1:23790\", \"http://127.0.0.1:23791\", \"http://127.0.0.1:23792\"], clients = 6, rate = 100, duration = \"20s\" }\nbackground = true",
};

/// What the clients share: when the recording started, what it recorded, and how many
/// operations were started (for `max_ops`).
struct Recording {
    start: Instant,
    history: Mutex<History>,
    started: AtomicU64,
    /// The last value handed out to be written.
    values: AtomicU64,
    max_ops: u64,
    /// Cancelled at the end of `duration`, when the step is stopped, or when it is broken.
    done: CancellationToken,
    /// The first request template or response expression that could not be evaluated.
    broken: Mutex<Option<String>>,
}

impl Recording {
    fn micros(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    fn push(&self, op: Operation) {
        self.history
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(op);
    }

    /// A value never written before in this recording.
    fn next_value(&self) -> i64 {
        self.values.fetch_add(1, Ordering::Relaxed) as i64 + 1
    }

    /// Ends the recording for a template or expression that cannot be evaluated (the first
    /// one is reported).
    fn break_with(&self, why: String) {
        self.broken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(why);
        self.done.cancel();
    }

    /// Claims the next operation, unless the recording is over.
    fn claim(&self) -> bool {
        !self.done.is_cancelled() && self.started.fetch_add(1, Ordering::Relaxed) < self.max_ops
    }
}

pub async fn etcd(p: EtcdWorkloadParams, cx: &StepContext) -> Result<Value, StepError> {
    let endpoints: Vec<EtcdClient> = p
        .endpoints
        .iter()
        .map(|e| EtcdClient::new(e, p.timeout.0))
        .collect::<Result<_, _>>()?;
    let path = history_path(p.file.as_deref(), cx)?;
    // The models start from an empty register or value: a key left by an earlier run would
    // make the first read look like a violation.
    cx.status(format!("deleting the keys under {:?}", p.key_prefix));
    endpoints[0].delete_prefix(&p.key_prefix).await?;
    let stores: Vec<Store> = endpoints
        .iter()
        .map(|client| Store::Etcd {
            client,
            serializable: p.serializable,
        })
        .collect();
    record(&p.shape(), &stores, &path, cx).await
}

/// Runs the clients of `shape` against `stores` (slot `i` pinned to `stores[i % n]`) and
/// writes their history to `path`.
async fn record(
    shape: &Shape,
    stores: &[Store<'_>],
    path: &std::path::Path,
    cx: &StepContext,
) -> Result<Value, StepError> {
    let recording = Recording {
        start: Instant::now(),
        history: Mutex::default(),
        started: AtomicU64::new(0),
        values: AtomicU64::new(0),
        max_ops: shape.max_ops.unwrap_or(u64::MAX),
        done: CancellationToken::new(),
        broken: Mutex::default(),
    };
    cx.status(format!(
        "{} clients, {} {} key(s), {}/s for {}",
        shape.clients,
        shape.keys,
        model_name(shape.model),
        shape.rate,
        shape.duration
    ));
    let period =
        std::time::Duration::from_secs_f64(f64::from(shape.clients) / f64::from(shape.rate));
    let slots = (0..shape.clients).map(|slot| {
        let client = Client {
            slot: u64::from(slot),
            clients: u64::from(shape.clients),
            store: &stores[slot as usize % stores.len()],
            shape,
            rng: rand::rngs::ChaCha8Rng::seed_from_u64(cx.next_seed()),
            last: Default::default(),
        };
        // Slots start spread over one period, not all at once.
        let offset = period.mul_f64(f64::from(slot) / f64::from(shape.clients));
        client.run(&recording, period, offset)
    });
    let ending = async {
        tokio::select! {
            _ = tokio::time::sleep(shape.duration.0) => {}
            _ = cx.stopped() => {}
            _ = recording.done.cancelled() => {}
        }
        recording.done.cancel();
    };
    // Clients that all stopped at `max_ops` end the recording before its `duration`.
    let clients = async {
        let ids = futures_util::future::join_all(slots).await;
        recording.done.cancel();
        ids
    };
    let (ids, ()) = tokio::join!(clients, ending);
    let history = recording
        .history
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    write_history(path, &history)?;
    // A request template or response expression that cannot be evaluated is the playbook's
    // fault, not the store's: the history so far is kept, but the step fails with it.
    if let Some(broken) = recording
        .broken
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
    {
        return Err(StepError::Template(broken));
    }
    Ok(summary(&history, path, ids.iter().sum()))
}

/// Where a client slot sends its operations.
enum Store<'a> {
    Etcd {
        client: &'a EtcdClient,
        serializable: bool,
    },
    Http(http::Endpoint<'a>),
}

fn model_name(model: WorkloadModel) -> &'static str {
    match model {
        WorkloadModel::Register => "register",
        WorkloadModel::Kv => "kv",
    }
}

/// The history file: `file` from the current directory, or a name of the run's own.
fn history_path(file: Option<&str>, cx: &StepContext) -> Result<PathBuf, StepError> {
    let path = match file {
        Some(file) => PathBuf::from(file),
        None => PathBuf::from("chaosplay-histories").join(cx.artifact_stem() + ".jsonl"),
    };
    std::path::absolute(&path)
        .map_err(|e| StepError::Environment(format!("cannot resolve {}: {e}", path.display())))
}

fn write_history(path: &std::path::Path, history: &History) -> Result<(), StepError> {
    let failed = |e: std::io::Error| {
        StepError::Environment(format!("cannot write the history {}: {e}", path.display()))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    std::fs::write(path, history.to_json_lines()).map_err(failed)
}

fn summary(history: &History, path: &std::path::Path, client_ids: u64) -> Value {
    let mut by_f = std::collections::BTreeMap::<&str, u64>::new();
    let mut by_outcome = std::collections::HashMap::<Outcome, u64>::new();
    for op in &history.operations {
        *by_f
            .entry(crate::history::json_lines::function_name(&op.call))
            .or_default() += 1;
        *by_outcome.entry(op.outcome).or_default() += 1;
    }
    let count = |outcome| by_outcome.get(&outcome).copied().unwrap_or(0);
    let first = history.operations.iter().map(|o| o.invoke).min();
    let last = history.operations.iter().filter_map(|o| o.complete).max();
    json!({
        "history": path.display().to_string(),
        "operations": history.operations.len(),
        "ok": count(Outcome::Ok),
        "fail": count(Outcome::Fail),
        "unknown": count(Outcome::Unknown),
        "by_f": by_f,
        "client_ids": client_ids,
        "elapsed_ms": first.zip(last).map_or(0, |(f, l)| l.saturating_sub(f) / 1000),
    })
}

/// One client slot: its endpoint, its random choices, and the client id it is at.
struct Client<'a> {
    slot: u64,
    clients: u64,
    store: &'a Store<'a>,
    shape: &'a Shape,
    rng: rand::rngs::ChaCha8Rng,
    /// The register value this slot last read or wrote, per key: what its next
    /// compare-and-set expects.
    last: std::collections::HashMap<String, i64>,
}

impl Client<'_> {
    /// Issues operations until the recording ends; returns how many client ids it used.
    async fn run(
        mut self,
        recording: &Recording,
        period: std::time::Duration,
        offset: std::time::Duration,
    ) -> u64 {
        let mut id = self.slot;
        let mut ids = 1;
        let mut due = tokio::time::Instant::now() + offset;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = recording.done.cancelled() => break,
            }
            if !recording.claim() {
                break;
            }
            let key = format!(
                "{}{}",
                self.shape.key_prefix,
                self.rng.random_range(0..self.shape.keys)
            );
            let call = self.choose(&key, id, recording.next_value());
            let invoke = recording.micros();
            let (call, outcome) = match self.store {
                Store::Etcd {
                    client,
                    serializable,
                } => perform(client, *serializable, &key, call).await,
                Store::Http(endpoint) => match endpoint.perform(&key, call, id).await {
                    Ok(done) => done,
                    Err((done, why)) => {
                        recording.break_with(why);
                        done
                    }
                },
            };
            let complete = recording.micros();
            self.remember(&key, &call, outcome);
            recording.push(Operation {
                client: id,
                key: Some(key),
                call,
                invoke,
                complete: Some(complete),
                outcome,
            });
            if outcome == Outcome::Unknown {
                id += self.clients;
                ids += 1;
            }
            due = (due + period).max(tokio::time::Instant::now());
        }
        ids
    }

    /// The next operation, its result left empty for reads. Every value written is unique
    /// (`value`, from a counter of the whole recording), so a read tells which write it saw:
    /// the checker's search narrows at once, and a stale read can be proven without it
    /// (`history::stale`). A compare-and-set expects what this client last saw of the key,
    /// so it often succeeds. In the kv model the values are `<client>.<value>,`, so a get
    /// tells which appends it saw.
    fn choose(&mut self, key: &str, id: u64, value: i64) -> Call {
        match (self.shape.model, self.rng.random_range(0..3)) {
            (WorkloadModel::Register, 0) => Call::Read(None),
            (WorkloadModel::Register, 1) => Call::Write(value),
            (WorkloadModel::Register, _) => Call::Cas {
                from: self.last.get(key).copied().unwrap_or(0),
                to: value,
            },
            (WorkloadModel::Kv, 0) => Call::Get(String::new()),
            (WorkloadModel::Kv, 1) => Call::Put(format!("{id}.{value},")),
            (WorkloadModel::Kv, _) => Call::Append(format!("{id}.{value},")),
        }
    }

    fn remember(&mut self, key: &str, call: &Call, outcome: Outcome) {
        let seen = match (call, outcome) {
            (Call::Read(Some(v)) | Call::Write(v) | Call::Cas { to: v, .. }, Outcome::Ok) => *v,
            _ => return,
        };
        self.last.insert(key.to_string(), seen);
    }
}

/// Performs the call: the call as recorded (with a read's result) and its outcome.
async fn perform(etcd: &EtcdClient, serializable: bool, key: &str, call: Call) -> (Call, Outcome) {
    match call {
        Call::Read(_) => match etcd.get(key, serializable).await {
            Ok(read) => match read.value.as_deref().map(str::parse::<i64>) {
                None => (Call::Read(None), Outcome::Ok),
                Some(Ok(v)) => (Call::Read(Some(v)), Outcome::Ok),
                // Not written by this workload: the read tells nothing checkable.
                Some(Err(_)) => (Call::Read(None), Outcome::Fail),
            },
            Err(e) => (call, outcome_of(&e)),
        },
        Call::Get(_) => match etcd.get(key, serializable).await {
            Ok(read) => (Call::Get(read.value.unwrap_or_default()), Outcome::Ok),
            Err(e) => (call, outcome_of(&e)),
        },
        Call::Write(v) => {
            let outcome = put_outcome(etcd.put(key, &v.to_string()).await);
            (call, outcome)
        }
        Call::Put(ref value) => {
            let outcome = put_outcome(etcd.put(key, value).await);
            (call, outcome)
        }
        Call::Cas { from, to } => {
            let done = etcd
                .compare_and_set(key, Some(&from.to_string()), &to.to_string())
                .await;
            (call, set_outcome(done))
        }
        Call::Append(ref suffix) => {
            let outcome = append(etcd, key, suffix, serializable).await;
            (call, outcome)
        }
    }
}

/// Append is read, then set if unchanged: a value changed in between (or a read that failed)
/// makes it certainly not happen.
async fn append(etcd: &EtcdClient, key: &str, suffix: &str, serializable: bool) -> Outcome {
    let read = match etcd.get(key, serializable).await {
        Ok(read) => read,
        Err(_) => return Outcome::Fail,
    };
    let to = format!("{}{suffix}", read.value.as_deref().unwrap_or(""));
    set_outcome(etcd.compare_and_set(key, read.value.as_deref(), &to).await)
}

fn put_outcome(done: Result<u64, EtcdError>) -> Outcome {
    done.map_or_else(|e| outcome_of(&e), |_| Outcome::Ok)
}

fn set_outcome(done: Result<bool, EtcdError>) -> Outcome {
    match done {
        Ok(true) => Outcome::Ok,
        Ok(false) => Outcome::Fail,
        Err(e) => outcome_of(&e),
    }
}

/// A request that never reached etcd certainly did nothing; any other error may hide an
/// operation etcd still applies (a proposal that times out can commit later).
fn outcome_of(e: &EtcdError) -> Outcome {
    if e.certainly_not_applied() {
        Outcome::Fail
    } else {
        Outcome::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(client: u64, call: Call, outcome: Outcome) -> Operation {
        Operation {
            client,
            key: Some("k".into()),
            call,
            invoke: 1000,
            complete: Some(5000),
            outcome,
        }
    }

    #[test]
    fn the_summary_counts_outcomes_and_functions() {
        let history = History {
            operations: vec![
                op(0, Call::Write(1), Outcome::Ok),
                op(1, Call::Read(Some(1)), Outcome::Ok),
                op(2, Call::Cas { from: 3, to: 2 }, Outcome::Fail),
                op(3, Call::Write(3), Outcome::Unknown),
            ],
        };
        let out = summary(&history, std::path::Path::new("/h.jsonl"), 5);
        assert_eq!(
            out,
            json!({
                "history": "/h.jsonl", "operations": 4, "ok": 2, "fail": 1, "unknown": 1,
                "by_f": {"cas": 1, "read": 1, "write": 2}, "client_ids": 5, "elapsed_ms": 4,
            })
        );
    }

    /// A request that never reached etcd did nothing; one that got no answer may have.
    #[test]
    fn only_a_request_that_never_left_certainly_failed() {
        let unreachable = EtcdError::Unreachable {
            endpoint: "e".into(),
            reason: "refused".into(),
        };
        let no_answer = EtcdError::NoAnswer {
            endpoint: "e".into(),
            reason: "timeout".into(),
        };
        let refused = EtcdError::Api {
            endpoint: "e".into(),
            status: 503,
            message: "etcdserver: request timed out".into(),
        };
        assert_eq!(outcome_of(&unreachable), Outcome::Fail);
        assert_eq!(outcome_of(&no_answer), Outcome::Unknown);
        assert_eq!(outcome_of(&refused), Outcome::Unknown);
        assert_eq!(set_outcome(Ok(false)), Outcome::Fail);
        assert_eq!(set_outcome(Ok(true)), Outcome::Ok);
    }
}
