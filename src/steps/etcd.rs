//! `etcd.*`: observe an etcd cluster and read or write keys through etcd's v3 JSON gateway on
//! the client port (no etcdctl, no shell in the container).
//!
//! Steps that look at the whole cluster take a list of `endpoints` and ask each: during a
//! partition, members disagree, and the one that answers first may be the cut-off one.

use std::time::{Duration as StdDuration, Instant};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Effect, StepDoc};
use crate::clients::etcd::{EtcdClient, EtcdError, Member, Status};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

impl From<EtcdError> for StepError {
    fn from(e: EtcdError) -> Self {
        match e {
            EtcdError::InvalidUrl { .. } => StepError::Params(e.to_string()),
            EtcdError::Unreachable { .. } | EtcdError::NoAnswer { .. } => {
                StepError::Environment(e.to_string())
            }
            _ => StepError::Failed(e.to_string()),
        }
    }
}

/// Per request: a wait polls again rather than hang on a cut-off member.
const REQUEST_TIMEOUT: StdDuration = StdDuration::from_secs(2);

fn client(endpoint: &str) -> Result<EtcdClient, StepError> {
    Ok(EtcdClient::new(endpoint, REQUEST_TIMEOUT)?)
}

fn clients(endpoints: &[String]) -> Result<Vec<EtcdClient>, StepError> {
    if endpoints.is_empty() {
        return Err(StepError::Params("`endpoints` is empty".into()));
    }
    endpoints.iter().map(|e| client(e)).collect()
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointParams {
    /// A member's client URL, e.g. `"http://127.0.0.1:2379"`.
    pub endpoint: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointsParams {
    /// Client URLs of the members to ask, e.g. `["http://127.0.0.1:23790", "http://127.0.0.1:23791"]`.
    pub endpoints: Vec<String>,
}

pub const MEMBERS_DOC: StepDoc = StepDoc {
    summary: "List the cluster's members as one member sees them (POST /v3/cluster/member/list).",
    outputs: &[
        (
            "members",
            "every member: id, name, peer_urls, client_urls (ids are strings: they exceed 2^53)",
        ),
        ("count", "how many members"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"members\"\nuses = \"etcd.members\"\nwith = { endpoint = \"http://127.0.0.1:23790\" }",
};

pub async fn members(p: EndpointParams, _cx: &StepContext) -> Result<Value, StepError> {
    let members = client(&p.endpoint)?.members().await?;
    Ok(json!({"count": members.len(), "members": members}))
}

pub const STATUS_DOC: StepDoc = StepDoc {
    summary: "One member's status (POST /v3/maintenance/status): its id and name, the leader it follows, raft term and index, version, database size.",
    outputs: &[
        (
            "member_id",
            "the member's id (a string, as every etcd id here)",
        ),
        ("name", "its name"),
        (
            "leader",
            "the id of the leader it follows; \"0\" if it knows none",
        ),
        ("is_leader", "whether it is the leader"),
        ("raft_term", "its raft term"),
        ("raft_index", "its raft index"),
        ("version", "etcd's version"),
        ("db_size", "its database size in bytes"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"status\"\nuses = \"etcd.status\"\nwith = { endpoint = \"http://127.0.0.1:23790\" }",
};

pub async fn status(p: EndpointParams, _cx: &StepContext) -> Result<Value, StepError> {
    let etcd = client(&p.endpoint)?;
    let (status, members) = tokio::join!(etcd.status(), etcd.members());
    let status = status?;
    let name = name_of(&members?, status.member_id);
    Ok(json!({
        "member_id": status.member_id.to_string(),
        "name": name,
        "leader": status.leader.to_string(),
        "is_leader": status.leader == status.member_id,
        "raft_term": status.raft_term,
        "raft_index": status.raft_index,
        "version": status.version,
        "db_size": status.db_size,
    }))
}

fn name_of(members: &[Member], id: u64) -> String {
    members
        .iter()
        .find(|m| m.id == id)
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

pub const LEADER_DOC: StepDoc = StepDoc {
    summary: "Name the leader, e.g. to partition it: `network.partition` with `service = \"{{ steps.leader.name }}\"` when member names match compose services. Every endpoint is asked; the leader of the highest term any of them reports wins, so a cut-off member's stale view is outvoted.",
    outputs: &[
        ("name", "the leader's member name"),
        ("member_id", "its id"),
        ("client_urls", "its client URLs as it advertises them"),
        ("raft_term", "the term it leads"),
        (
            "endpoint",
            "the endpoint of `endpoints` that is the leader, or null if none of them is",
        ),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"leader\"\nuses = \"etcd.leader\"\nwith = { endpoints = [\"http://127.0.0.1:23790\", \"http://127.0.0.1:23791\", \"http://127.0.0.1:23792\"] }\nuntil = \"output.name\"\ntimeout = \"30s\"",
};

pub async fn leader(p: EndpointsParams, _cx: &StepContext) -> Result<Value, StepError> {
    let etcds = clients(&p.endpoints)?;
    let statuses = statuses(&etcds).await;
    let best = statuses
        .iter()
        .filter_map(|(_, s)| s.as_ref().ok())
        .filter(|s| s.leader != 0)
        .max_by_key(|s| s.raft_term);
    let Some(best) = best else {
        return Err(first_error(statuses, "no endpoint knows a leader"));
    };
    let (leader, term) = (best.leader, best.raft_term);
    let endpoint = statuses
        .iter()
        .find(|(_, s)| s.as_ref().is_ok_and(|s| s.member_id == leader))
        .map(|(e, _)| e.endpoint().to_string());
    let asked = statuses.iter().find(|(_, s)| s.is_ok()).map(|(e, _)| e);
    let members = match asked {
        Some(etcd) => etcd.members().await?,
        None => Vec::new(),
    };
    let member = members.iter().find(|m| m.id == leader);
    Ok(json!({
        "name": member.map(|m| m.name.clone()),
        "member_id": leader.to_string(),
        "client_urls": member.map(|m| m.client_urls.clone()).unwrap_or_default(),
        "raft_term": term,
        "endpoint": endpoint,
    }))
}

type Answers<'a> = Vec<(&'a EtcdClient, Result<Status, EtcdError>)>;

async fn statuses(etcds: &[EtcdClient]) -> Answers<'_> {
    let answers = futures_util::future::join_all(etcds.iter().map(EtcdClient::status)).await;
    etcds.iter().zip(answers).collect()
}

/// The first endpoint's error, or `none` if every endpoint answered.
fn first_error(answers: Answers<'_>, none: &str) -> StepError {
    answers
        .into_iter()
        .find_map(|(_, s)| s.err())
        .map_or_else(|| StepError::Failed(none.into()), StepError::from)
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitHealthyParams {
    /// Client URLs of every member that must be healthy.
    pub endpoints: Vec<String>,
    /// Pause between polls.
    #[serde(default = "half_a_second")]
    pub interval: Duration,
}

fn half_a_second() -> Duration {
    Duration::from_millis(500)
}

pub const WAIT_HEALTHY_DOC: StepDoc = StepDoc {
    summary: "Wait until every endpoint answers, all follow one leader of one term, and each serves a linearizable read (what etcd's /health checks); unreachable or leaderless members count as not yet. Bounded by the step's timeout.",
    outputs: &[
        ("leader", "the leader's id"),
        ("raft_term", "its term"),
        ("elapsed_ms", "how long the wait took"),
        ("polls", "how many times the endpoints were asked"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"etcd.wait_healthy\"\nwith = { endpoints = [\"http://127.0.0.1:23790\", \"http://127.0.0.1:23791\", \"http://127.0.0.1:23792\"] }\ntimeout = \"60s\"",
};

pub async fn wait_healthy(p: WaitHealthyParams, cx: &StepContext) -> Result<Value, StepError> {
    let etcds = clients(&p.endpoints)?;
    let start = Instant::now();
    let mut polls = 0u64;
    loop {
        polls += 1;
        match healthy(&etcds).await {
            Ok((leader, term)) => {
                return Ok(json!({
                    "leader": leader.to_string(),
                    "raft_term": term,
                    "elapsed_ms": start.elapsed().as_millis() as u64,
                    "polls": polls,
                }));
            }
            Err(why) => cx.status(format!("not yet: {why}")),
        }
        tokio::time::sleep(p.interval.0).await;
    }
}

/// The leader and term every member agrees on, each member having served a linearizable
/// read; otherwise why not.
async fn healthy(etcds: &[EtcdClient]) -> Result<(u64, u64), String> {
    let mut agreed: Option<(u64, u64)> = None;
    for (etcd, status) in statuses(etcds).await {
        let status = status.map_err(|e| e.to_string())?;
        let view = (status.leader, status.raft_term);
        if status.leader == 0 {
            return Err(format!("{} knows no leader", etcd.endpoint()));
        }
        if agreed.is_some_and(|a| a != view) {
            return Err("the members do not follow the same leader yet".into());
        }
        agreed = Some(view);
        etcd.get("health", false)
            .await
            .map_err(|e| format!("linearizable read: {e}"))?;
    }
    agreed.ok_or_else(|| "no endpoint".into())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutParams {
    /// A member's client URL.
    pub endpoint: String,
    pub key: String,
    pub value: String,
}

pub const PUT_DOC: StepDoc = StepDoc {
    summary: "Write one key (POST /v3/kv/put). A write that gets no answer is an environment error: it may or may not have taken effect.",
    outputs: &[("revision", "the store revision of the write")],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "uses = \"etcd.put\"\nwith = { endpoint = \"http://127.0.0.1:23790\", key = \"marker\", value = \"before\" }",
};

pub async fn put(p: PutParams, _cx: &StepContext) -> Result<Value, StepError> {
    let revision = client(&p.endpoint)?.put(&p.key, &p.value).await?;
    Ok(json!({"revision": revision}))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetParams {
    /// A member's client URL.
    pub endpoint: String,
    pub key: String,
    /// Let the member answer from its own state without asking the leader: fast, and
    /// possibly stale (a cut-off member answers what it last knew).
    #[serde(default)]
    pub serializable: bool,
}

pub const GET_DOC: StepDoc = StepDoc {
    summary: "Read one key (POST /v3/kv/range), linearizable unless `serializable = true`.",
    outputs: &[
        (
            "value",
            "the value as text, or null if the key does not exist",
        ),
        ("found", "whether the key exists"),
        ("revision", "the store revision the read saw"),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"marker\"\nuses = \"etcd.get\"\nwith = { endpoint = \"http://127.0.0.1:23790\", key = \"marker\" }\nuntil = \"output.value == 'before'\"",
};

pub async fn get(p: GetParams, _cx: &StepContext) -> Result<Value, StepError> {
    let read = client(&p.endpoint)?.get(&p.key, p.serializable).await?;
    Ok(json!({
        "found": read.value.is_some(),
        "value": read.value,
        "revision": read.revision,
    }))
}
