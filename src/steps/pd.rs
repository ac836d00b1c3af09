//! `pd.*`: observe and steer a TiKV cluster through PD's HTTP API.
//!
//! Waits treat "not bootstrapped" and an unreachable PD as "not yet" — during a reset or a PD
//! kill both are expected — and a timeout reports the last thing PD said.

use std::collections::BTreeMap;
use std::time::Instant;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::undo::Undo;
use super::{Effect, StepDoc};
use crate::clients::pd::{PdClient, PdError, RegionCheck, StoreState, find_config};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

impl From<PdError> for StepError {
    fn from(e: PdError) -> Self {
        match e {
            PdError::InvalidUrl { .. } => StepError::Params(e.to_string()),
            PdError::Unreachable { .. } | PdError::Client { .. } => {
                StepError::Environment(e.to_string())
            }
            _ => StepError::Failed(e.to_string()),
        }
    }
}

fn client(url: &str) -> Result<PdClient, StepError> {
    Ok(PdClient::new(url)?)
}

/// A store state as a playbook names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum State {
    Up,
    Disconnected,
    Down,
    Offline,
    Tombstone,
}

impl State {
    fn store_state(self) -> StoreState {
        match self {
            State::Up => StoreState::Up,
            State::Disconnected => StoreState::Disconnected,
            State::Down => StoreState::Down,
            State::Offline => StoreState::Offline,
            State::Tombstone => StoreState::Tombstone,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// At least `count` stores in the state.
    #[default]
    AtLeast,
    /// Exactly `count` stores in the state.
    Exactly,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitStoresParams {
    /// PD's base URL, e.g. `"http://127.0.0.1:2379"`.
    pub pd: String,
    /// The store state to wait for.
    #[serde(default = "up")]
    pub state: State,
    /// How many stores must be in that state.
    pub count: u32,
    /// `at_least` (default) or `exactly`.
    #[serde(default)]
    pub compare: Compare,
    /// Only count stores of this engine (`tikv`, `tiflash`); TiFlash stores are PD stores too.
    #[serde(default = "tikv")]
    pub engine: String,
    /// Pause between polls.
    #[serde(default = "one_second")]
    pub interval: Duration,
}

fn up() -> State {
    State::Up
}

fn tikv() -> String {
    "tikv".into()
}

fn one_second() -> Duration {
    Duration::from_secs(1)
}

pub const WAIT_STORES_DOC: StepDoc = StepDoc {
    summary: "Wait until PD reports `count` stores in `state` (e.g. 3 Up, or 1 Disconnected after a kill). Not bootstrapped and unreachable PD count as not yet; bounded by the step's timeout.",
    outputs: &[
        (
            "stores",
            "every store: id, address, engine, state, leader_count, region_count, last_heartbeat",
        ),
        ("by_state", "how many stores are in each state"),
        ("matched", "the stores in the wanted state"),
        ("count", "how many stores are listed"),
        ("elapsed_ms", "how long the wait took"),
        ("polls", "how many times PD was asked"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"down\"\nuses = \"pd.wait_stores\"\nwith = { pd = \"{{ vars.pd }}\", state = \"Disconnected\", count = 1 }\ntimeout = \"60s\"",
};

pub async fn wait_stores(p: WaitStoresParams, cx: &StepContext) -> Result<Value, StepError> {
    let pd = client(&p.pd)?;
    let wanted = p.state.store_state();
    let start = Instant::now();
    let mut polls = 0u64;
    loop {
        polls += 1;
        match pd.stores(None).await {
            Ok(response) => {
                let mut summary = response.summary();
                summary.stores.retain(|s| s.engine == p.engine);
                let matched: Vec<_> = summary
                    .stores
                    .iter()
                    .filter(|s| s.state == wanted)
                    .collect();
                let n = matched.len();
                let by_state =
                    summary
                        .stores
                        .iter()
                        .fold(BTreeMap::<String, usize>::new(), |mut m, s| {
                            *m.entry(s.state.as_str().to_string()).or_default() += 1;
                            m
                        });
                cx.status(format!(
                    "{n}/{} {wanted} ({})",
                    p.count,
                    by_state
                        .iter()
                        .map(|(k, v)| format!("{v} {k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                let done = match p.compare {
                    Compare::AtLeast => n >= p.count as usize,
                    Compare::Exactly => n == p.count as usize,
                };
                if done {
                    return Ok(json!({
                        "stores": summary.stores,
                        "by_state": by_state,
                        "matched": matched,
                        "count": summary.stores.len(),
                        "elapsed_ms": start.elapsed().as_millis() as u64,
                        "polls": polls,
                    }));
                }
            }
            Err(e) if e.is_not_ready() => cx.status(format!("not yet: {e}")),
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(p.interval.0).await;
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PdParams {
    /// PD's base URL, e.g. `"http://127.0.0.1:2379"`.
    pub pd: String,
}

pub const CAPTURE_DOC: StepDoc = StepDoc {
    summary: "Snapshot the cluster as PD sees it: stores by state, leaders and regions per store, total regions, PD health and leader, cluster status.",
    outputs: &[
        (
            "stores",
            "every store: id, address, engine, state, leader_count, region_count, last_heartbeat",
        ),
        ("by_state", "how many stores are in each state"),
        ("region_count", "total regions (GET /regions/count)"),
        ("leaders", "leader count per store id"),
        ("pd_leader", "name of the PD leader"),
        ("pd_members", "PD members: name, member_id, health"),
        (
            "initialized",
            "whether the cluster is bootstrapped and initialised",
        ),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"before\"\nuses = \"pd.capture\"\nwith = { pd = \"{{ vars.pd }}\" }",
};

pub async fn capture(p: PdParams, cx: &StepContext) -> Result<Value, StepError> {
    let pd = client(&p.pd)?;
    cx.status("reading stores, regions and members");
    let (stores, regions, health, leader, status) = tokio::join!(
        pd.stores(None),
        pd.regions_count(),
        pd.health(),
        pd.leader(),
        pd.cluster_status()
    );
    let summary = stores?.summary();
    let leaders: Map<String, Value> = summary
        .stores
        .iter()
        .map(|s| (s.id.to_string(), json!(s.leader_count)))
        .collect();
    let status = status?;
    Ok(json!({
        "stores": summary.stores,
        "by_state": summary.by_state.iter().map(|(k, v)| (k.as_str().to_string(), json!(v))).collect::<Map<_, _>>(),
        "region_count": regions?,
        "leaders": leaders,
        "pd_leader": leader?.name,
        "pd_members": health?,
        "initialized": status.is_initialized && status.is_bootstrapped(),
    }))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitHealthyParams {
    /// PD's base URL.
    pub pd: String,
    /// Pause between polls.
    #[serde(default = "one_second")]
    pub interval: Duration,
}

pub const WAIT_HEALTHY_DOC: StepDoc = StepDoc {
    summary: "Wait until every PD member is healthy and the cluster is bootstrapped and initialised; bounded by the step's timeout.",
    outputs: &[
        ("members", "PD members: name, member_id, health"),
        ("elapsed_ms", "how long the wait took"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"pd.wait_healthy\"\nwith = { pd = \"{{ vars.pd }}\" }\ntimeout = \"2m\"",
};

pub async fn wait_healthy(p: WaitHealthyParams, cx: &StepContext) -> Result<Value, StepError> {
    let pd = client(&p.pd)?;
    let start = Instant::now();
    loop {
        let attempt = async {
            let members = pd.health().await?;
            let status = pd.cluster_status().await?;
            Ok::<_, PdError>((members, status))
        };
        match attempt.await {
            Ok((members, status)) => {
                let healthy = members.iter().filter(|m| m.health).count();
                let ready = status.is_initialized && status.is_bootstrapped();
                cx.status(format!(
                    "{healthy}/{} PD members healthy, cluster {}",
                    members.len(),
                    if ready {
                        "initialised"
                    } else {
                        "not initialised"
                    }
                ));
                if ready && healthy == members.len() && !members.is_empty() {
                    return Ok(
                        json!({"members": members, "elapsed_ms": start.elapsed().as_millis() as u64}),
                    );
                }
            }
            Err(e) if e.is_not_ready() => cx.status(format!("not yet: {e}")),
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(p.interval.0).await;
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionsCheckParams {
    /// PD's base URL.
    pub pd: String,
}

pub const REGIONS_CHECK_DOC: StepDoc = StepDoc {
    summary: "Count regions with missing, extra, pending, down or offline peers, and empty regions. Note PD reports down peers only after max-peer-down-duration (10 minutes by default).",
    outputs: &[
        ("miss_peer", "regions missing a replica"),
        ("extra_peer", "regions with a replica too many"),
        ("pending_peer", "regions with a pending (lagging) peer"),
        ("down_peer", "regions with a down peer"),
        ("offline_peer", "regions with a peer on an offline store"),
        ("empty_region", "empty regions"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"regions\"\nuses = \"pd.regions_check\"\nwith = { pd = \"{{ vars.pd }}\" }",
};

pub async fn regions_check(p: RegionsCheckParams, cx: &StepContext) -> Result<Value, StepError> {
    let pd = client(&p.pd)?;
    let mut out = Map::new();
    for kind in RegionCheck::ALL {
        cx.status(format!("checking {kind}"));
        let response = pd.regions_check(kind).await?;
        out.insert(kind.as_str().replace('-', "_"), json!(response.count));
    }
    Ok(out.into())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigParams {
    /// PD's base URL.
    pub pd: String,
    /// Settings to change, with PD's kebab-case names, e.g. `{ max-store-down-time = "1m" }`.
    pub set: BTreeMap<String, Value>,
}

pub const CONFIG_DOC: StepDoc = StepDoc {
    summary: "Change PD settings (e.g. max-store-down-time). Undo: the previous values are restored during cleanup.",
    outputs: &[
        ("previous", "the values before the change"),
        ("set", "the values set"),
    ],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::Setting {
        undo: "restore the previous values",
    },
    example: "uses = \"pd.config\"\nwith = { pd = \"{{ vars.pd }}\", set = { max-store-down-time = \"1m\" } }",
};

pub async fn config(p: ConfigParams, cx: &StepContext) -> Result<Value, StepError> {
    let pd = client(&p.pd)?;
    let current = pd.config().await?;
    let mut previous = Map::new();
    for key in p.set.keys() {
        let value = find_config(&current, key).ok_or_else(|| {
            StepError::Failed(format!(
                "PD has no setting `{key}` (GET /pd/api/v1/config does not list it)"
            ))
        })?;
        previous.insert(key.clone(), value);
    }
    cx.register_undo(Undo::PdConfig {
        pd: p.pd.clone(),
        values: previous.clone(),
    })?;
    let set: Map<String, Value> = p.set.into_iter().collect();
    cx.status(format!(
        "setting {}",
        set.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    pd.set_config(&set).await?;
    Ok(json!({"previous": previous, "set": set}))
}

pub const LEADER_DOC: StepDoc = StepDoc {
    summary: "Name the PD leader, e.g. to kill it: `docker.kill` with `service = \"{{ steps.leader.name }}\"` when PD member names match compose services.",
    outputs: &[
        ("name", "the leader's member name"),
        ("member_id", "its member id"),
        ("client_urls", "its client URLs"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"leader\"\nuses = \"pd.leader\"\nwith = { pd = \"{{ vars.pd }}\" }",
};

pub async fn leader(p: PdParams, _cx: &StepContext) -> Result<Value, StepError> {
    let leader = client(&p.pd)?.leader().await?;
    Ok(
        json!({"name": leader.name, "member_id": leader.member_id, "client_urls": leader.client_urls}),
    )
}
