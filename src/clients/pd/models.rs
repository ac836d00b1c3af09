//! Typed views of PD's HTTP responses (v8.5 shapes, field names from PD's Go structs).
//!
//! Every struct is `#[serde(default)]` and ignores unknown fields: PD omits zero values
//! (`omitempty`) and newer PDs add fields, so a missing or extra key must never fail a run.
//! Go encodes nil slices and maps as `null`, so collections also accept `null`.
//! Models serialize with the same snake_case names (collections and options always present),
//! so step outputs keep a stable shape for templates and reports.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize};

use super::{ByteSize, StoreState};

/// `null` (a Go nil slice or map) decodes as the empty value.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `GET /pd/api/v1/stores`. PD lists stores in arbitrary order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoresResponse {
    pub count: u64,
    #[serde(deserialize_with = "null_as_default")]
    pub stores: Vec<StoreInfo>,
}

/// One entry of the stores list, and the answer of `GET /pd/api/v1/store/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreInfo {
    pub store: Store,
    pub status: StoreStatus,
}

/// The store's metadata (PD's `MetaStore`: kvproto `metapb.Store` plus `state_name`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Store {
    pub id: u64,
    pub address: String,
    /// metapb `StoreState` as a number: 0 Up, 1 Offline, 2 Tombstone. PD **omits it when 0**,
    /// hence the default. It never says Disconnected or Down: use [`Store::state_name`].
    pub state: i32,
    #[serde(deserialize_with = "null_as_default")]
    pub labels: Vec<StoreLabel>,
    /// TiKV prints `"8.1.0"`; TiFlash may print `"v8.1.0"`.
    pub version: String,
    pub peer_address: String,
    /// Omitted by PD when empty.
    pub status_address: String,
    pub git_hash: String,
    /// Unix seconds.
    pub start_timestamp: i64,
    pub deploy_path: String,
    /// Unix **nanoseconds**; PD omits it (0 here) when the store never heartbeated.
    /// See [`Store::last_heartbeat_time`].
    pub last_heartbeat: i64,
    pub physically_destroyed: bool,
    /// metapb `NodeState`: 0 Preparing (omitted by PD), 1 Serving, 2 Removing, 3 Removed.
    pub node_state: i32,
    /// The state a scenario cares about; see [`StoreState`].
    pub state_name: StoreState,
}

impl Store {
    /// When the store last heartbeated, or `None` if it never did.
    pub fn last_heartbeat_time(&self) -> Option<SystemTime> {
        let nanos = u64::try_from(self.last_heartbeat).ok().filter(|&n| n > 0)?;
        UNIX_EPOCH.checked_add(Duration::from_nanos(nanos))
    }

    /// The value of the `engine` label: TiFlash registers as a store labelled
    /// `engine=tiflash`, while TiKV carries no such label. Counting "TiKV stores" must
    /// leave TiFlash out.
    pub fn engine(&self) -> &str {
        self.labels
            .iter()
            .find(|label| label.key == "engine")
            .map_or("tikv", |label| label.value.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreLabel {
    pub key: String,
    pub value: String,
}

/// What the store reported in its last heartbeat (PD's `StoreStatus`). After a store dies
/// these values are stale, not zeroed: they are its last report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreStatus {
    /// PD sends the sizes as strings like `"311.7GiB"`; see [`ByteSize`].
    pub capacity: ByteSize,
    pub available: ByteSize,
    pub used_size: ByteSize,
    pub leader_count: u64,
    pub leader_weight: f64,
    pub leader_score: f64,
    /// Approximate size of the led regions, in MiB.
    pub leader_size: i64,
    pub region_count: u64,
    pub region_weight: f64,
    pub region_score: f64,
    /// Approximate size of all the store's regions, in MiB.
    pub region_size: i64,
    pub learner_count: u64,
    pub pending_peer_count: u64,
    pub slow_score: u64,
    pub slow_trend: Option<SlowTrend>,
    pub sending_snap_count: u64,
    pub receiving_snap_count: u64,
    pub is_busy: bool,
    /// RFC 3339; absent until the store reported statistics.
    pub start_ts: Option<String>,
    /// RFC 3339, the same instant as [`Store::last_heartbeat`].
    pub last_heartbeat_ts: Option<String>,
    /// A Go duration string such as `"36m20.48s"`.
    pub uptime: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlowTrend {
    pub cause_value: f64,
    pub cause_rate: f64,
    pub result_value: f64,
    pub result_rate: f64,
}

/// One entry of `GET /pd/api/v1/health`. PD answers 200 even when a member is unhealthy,
/// so health is read from `health`, not from the status code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthMember {
    pub name: String,
    /// Random etcd member ids use the whole u64 range (often above `i64::MAX`).
    pub member_id: u64,
    #[serde(deserialize_with = "null_as_default")]
    pub client_urls: Vec<String>,
    pub health: bool,
}

/// `GET /pd/api/v1/members`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MembersResponse {
    pub header: ResponseHeader,
    #[serde(deserialize_with = "null_as_default")]
    pub members: Vec<Member>,
    /// The PD leader; absent during an election.
    pub leader: Option<Member>,
    pub etcd_leader: Option<Member>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponseHeader {
    pub cluster_id: u64,
}

/// A PD member (`pdpb.Member`); also the answer of `GET /pd/api/v1/leader`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Member {
    pub name: String,
    /// Uses the whole u64 range (often above `i64::MAX`).
    pub member_id: u64,
    #[serde(deserialize_with = "null_as_default")]
    pub peer_urls: Vec<String>,
    #[serde(deserialize_with = "null_as_default")]
    pub client_urls: Vec<String>,
    pub deploy_path: String,
    /// With a `v` prefix (`"v8.1.0"`), unlike a store's `version`.
    pub binary_version: String,
    pub git_hash: String,
}

/// `GET /pd/api/v1/cluster` (`metapb.Cluster`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cluster {
    pub id: u64,
    /// The replication factor: how many replicas each region wants.
    pub max_peer_count: u32,
}

/// `GET /pd/api/v1/cluster/status`: a readiness gate that answers even before the first
/// TiKV registers (then with Go's zero time as `raft_bootstrap_time`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterStatus {
    /// RFC 3339; `"0001-01-01T00:00:00Z"` until bootstrapped (Go's `omitempty` does not
    /// apply to a `time.Time`).
    pub raft_bootstrap_time: String,
    pub is_initialized: bool,
    pub replication_status: String,
}

impl ClusterStatus {
    /// Whether a TiKV has bootstrapped the Raft cluster.
    pub fn is_bootstrapped(&self) -> bool {
        !self.raft_bootstrap_time.is_empty() && !self.raft_bootstrap_time.starts_with("0001-01-01")
    }
}

/// `GET /pd/api/v1/status`: the PD build, for reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PdStatus {
    pub build_ts: String,
    /// With a `v` prefix (`"v8.5.1"`).
    pub version: String,
    pub git_hash: String,
    /// Unix seconds.
    pub start_timestamp: i64,
}

/// `GET /pd/api/v1/regions/check/{kind}` and `/regions/count` (where `regions` is `null`).
/// PD writes the check lists with easyjson and no content type, so Go sniffs
/// `text/plain`: the client parses the body whatever the header says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegionsResponse {
    pub count: u64,
    #[serde(deserialize_with = "null_as_default")]
    pub regions: Vec<Region>,
}

/// A region as PD's `RegionInfo` shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Region {
    pub id: u64,
    /// Hex-encoded keys; empty means unbounded.
    pub start_key: String,
    pub end_key: String,
    pub epoch: RegionEpoch,
    #[serde(deserialize_with = "null_as_default")]
    pub peers: Vec<Peer>,
    /// PD always writes a leader object; a region without a leader shows one with id 0.
    pub leader: Option<Peer>,
    /// Listed only after `max-peer-down-duration` (10 min by default): empty in short runs.
    #[serde(deserialize_with = "null_as_default")]
    pub down_peers: Vec<DownPeer>,
    #[serde(deserialize_with = "null_as_default")]
    pub pending_peers: Vec<Peer>,
    pub cpu_usage: u64,
    pub written_bytes: u64,
    pub read_bytes: u64,
    pub written_keys: u64,
    pub read_keys: u64,
    /// In MiB.
    pub approximate_size: i64,
    pub approximate_keys: i64,
    pub approximate_kv_size: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegionEpoch {
    pub conf_ver: u64,
    pub version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Peer {
    pub id: u64,
    pub store_id: u64,
    /// `"Voter"`, `"Learner"`, `"IncomingVoter"` or `"DemotingVoter"`.
    pub role_name: String,
    pub is_learner: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DownPeer {
    pub peer: Peer,
    pub down_seconds: u64,
}

/// The region health checks of `GET /pd/api/v1/regions/check/{kind}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionCheck {
    /// Regions with fewer replicas than `max-replicas`.
    MissPeer,
    ExtraPeer,
    /// Peers whose Raft log lags the leader's.
    PendingPeer,
    /// Peers down for longer than `max-peer-down-duration` (10 min by default).
    DownPeer,
    /// Peers on stores being taken offline.
    OfflinePeer,
    EmptyRegion,
}

impl RegionCheck {
    pub const ALL: [RegionCheck; 6] = [
        RegionCheck::MissPeer,
        RegionCheck::ExtraPeer,
        RegionCheck::PendingPeer,
        RegionCheck::DownPeer,
        RegionCheck::OfflinePeer,
        RegionCheck::EmptyRegion,
    ];

    /// The path segment PD expects.
    pub fn as_str(self) -> &'static str {
        match self {
            RegionCheck::MissPeer => "miss-peer",
            RegionCheck::ExtraPeer => "extra-peer",
            RegionCheck::PendingPeer => "pending-peer",
            RegionCheck::DownPeer => "down-peer",
            RegionCheck::OfflinePeer => "offline-peer",
            RegionCheck::EmptyRegion => "empty-region",
        }
    }
}

impl fmt::Display for RegionCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A region check name that PD does not serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown region check {0:?} (expected one of miss-peer, extra-peer, pending-peer, down-peer, offline-peer, empty-region)"
)]
pub struct ParseRegionCheckError(String);

impl FromStr for RegionCheck {
    type Err = ParseRegionCheckError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RegionCheck::ALL
            .into_iter()
            .find(|check| check.as_str() == s)
            .ok_or_else(|| ParseRegionCheckError(s.to_string()))
    }
}

/// `GET /pd/api/v1/stats/region`: totals, then per-store maps. Go encodes the `map[uint64]…`
/// keys as **strings** (`"1": 11`); serde_json reads them back into `u64` keys (and writes
/// them as strings again). Sizes are in MiB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegionStats {
    pub count: u64,
    pub empty_count: u64,
    pub storage_size: i64,
    pub user_storage_size: i64,
    pub storage_keys: i64,
    #[serde(deserialize_with = "null_as_default")]
    pub store_leader_count: BTreeMap<u64, u64>,
    #[serde(deserialize_with = "null_as_default")]
    pub store_peer_count: BTreeMap<u64, u64>,
    #[serde(deserialize_with = "null_as_default")]
    pub store_leader_size: BTreeMap<u64, i64>,
    #[serde(deserialize_with = "null_as_default")]
    pub store_leader_keys: BTreeMap<u64, i64>,
    #[serde(deserialize_with = "null_as_default")]
    pub store_peer_size: BTreeMap<u64, i64>,
    #[serde(deserialize_with = "null_as_default")]
    pub store_peer_keys: BTreeMap<u64, i64>,
}
