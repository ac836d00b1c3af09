//! PD's answers as JSON, with PD's field names, field order and omission rules
//! (Go's `omitempty`: `state` and `node_state` vanish when 0, `last_heartbeat` when never
//! heard, `status_address` when empty). Weights and scores are whole numbers here, which
//! Go prints without a decimal point (`1`, not `1.0`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cluster::{Cluster, ClusterError, MetaState, Region, StoreRecord};
use crate::units;

/// Every simulated region is this big (MiB) and holds no keys: an empty cluster.
const REGION_SIZE_MIB: u64 = 1;
/// The PD version the simulator claims to be.
pub const PD_VERSION: &str = "v8.5.1";
const ZERO_HASH: &str = "0000000000000000000000000000000000000000";

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Serialize)]
pub struct StoresBody {
    pub count: usize,
    pub stores: Vec<StoreInfo>,
}

#[derive(Debug, Serialize)]
pub struct StoreInfo {
    pub store: StoreView,
    pub status: StatusView,
}

#[derive(Debug, Serialize)]
pub struct StoreView {
    pub id: u64,
    pub address: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub state: u64,
    pub version: String,
    pub peer_address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_address: String,
    pub git_hash: String,
    pub start_timestamp: u64,
    pub deploy_path: String,
    /// Unix nanoseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub last_heartbeat: u64,
    /// 0 Preparing (never heartbeated), 1 Serving, 2 Removing, 3 Removed.
    #[serde(skip_serializing_if = "is_zero")]
    pub node_state: u64,
    pub state_name: &'static str,
}

#[derive(Debug, Serialize)]
pub struct StatusView {
    pub capacity: String,
    pub available: String,
    pub used_size: String,
    pub leader_count: u64,
    pub leader_weight: u64,
    pub leader_score: u64,
    pub leader_size: u64,
    pub region_count: u64,
    pub region_weight: u64,
    pub region_score: u64,
    pub region_size: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub slow_score: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_ts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_ts: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uptime: Option<String>,
}

/// One store as `GET /stores` and `GET /store/{id}` show it.
pub fn store_info(cluster: &Cluster, store: &StoreRecord, now: SystemTime) -> StoreInfo {
    let leaders = cluster.leader_counts().get(&store.id).copied().unwrap_or(0);
    let regions = cluster.peer_counts().get(&store.id).copied().unwrap_or(0);
    let started = UNIX_EPOCH + Duration::from_secs(store.meta.start_timestamp);
    let stats = store.stats;
    let size = |f: fn(&crate::cluster::StoreStats) -> u64| {
        units::format_bytes(stats.as_ref().map_or(0, f))
    };
    let node_state = match (store.state, store.last_heartbeat) {
        (MetaState::Up, None) => 0,
        (MetaState::Up, Some(_)) => 1,
        (MetaState::Offline, _) => 2,
        (MetaState::Tombstone, _) => 3,
    };
    StoreInfo {
        store: StoreView {
            id: store.id,
            address: store.meta.address.clone(),
            state: store.state as u64,
            version: store.meta.version.clone(),
            peer_address: store.meta.address.clone(),
            status_address: store.meta.status_address.clone(),
            git_hash: store.meta.git_hash.clone(),
            start_timestamp: store.meta.start_timestamp,
            deploy_path: store.meta.deploy_path.clone(),
            last_heartbeat: store.last_heartbeat.map_or(0, |t| {
                u64::try_from(units::unix_nanos(t)).unwrap_or(u64::MAX)
            }),
            node_state,
            state_name: cluster.state_name(store, now),
        },
        status: StatusView {
            capacity: size(|s| s.capacity),
            available: size(|s| s.available),
            used_size: size(|s| s.used_size),
            leader_count: leaders,
            leader_weight: 1,
            leader_score: leaders * REGION_SIZE_MIB,
            leader_size: leaders * REGION_SIZE_MIB,
            region_count: regions,
            region_weight: 1,
            region_score: regions * REGION_SIZE_MIB,
            region_size: regions * REGION_SIZE_MIB,
            slow_score: u64::from(stats.is_some()),
            start_ts: stats.map(|_| units::rfc3339(started)),
            last_heartbeat_ts: store.last_heartbeat.map(units::rfc3339),
            uptime: store
                .last_heartbeat
                .and_then(|t| t.duration_since(started).ok())
                .filter(|d| !d.is_zero())
                .map(units::format_duration),
        },
    }
}

/// `GET /stores` with PD's filter: the numeric metapb states asked for, by default Up and
/// Offline (so Tombstones are left out).
pub fn stores(
    cluster: &Cluster,
    states: &[u64],
    now: SystemTime,
) -> Result<StoresBody, ClusterError> {
    cluster.ensure_bootstrapped()?;
    let wanted: &[u64] = if states.is_empty() { &[0, 1] } else { states };
    let stores: Vec<StoreInfo> = cluster
        .stores()
        .filter(|s| wanted.contains(&(s.state as u64)))
        .map(|s| store_info(cluster, s, now))
        .collect();
    Ok(StoresBody {
        count: stores.len(),
        stores,
    })
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct PeerView {
    pub role_name: &'static str,
    pub id: u64,
    pub store_id: u64,
}

#[derive(Debug, Serialize)]
pub struct Epoch {
    pub conf_ver: u64,
    pub version: u64,
}

#[derive(Debug, Serialize)]
pub struct DownPeer {
    pub peer: PeerView,
    pub down_seconds: u64,
}

#[derive(Debug, Serialize)]
pub struct RegionView {
    pub id: u64,
    pub start_key: String,
    pub end_key: String,
    pub epoch: Epoch,
    pub peers: Vec<PeerView>,
    pub leader: PeerView,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub down_peers: Vec<DownPeer>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending_peers: Vec<PeerView>,
    pub cpu_usage: u64,
    pub written_bytes: u64,
    pub read_bytes: u64,
    pub written_keys: u64,
    pub read_keys: u64,
    pub approximate_size: u64,
    pub approximate_keys: u64,
    pub approximate_kv_size: u64,
}

fn peer_view(peer: crate::cluster::Peer) -> PeerView {
    PeerView {
        role_name: "Voter",
        id: peer.id,
        store_id: peer.store_id,
    }
}

/// A region as its leader reports it: replicas on stores dead for Raft are pending, and
/// also down once silent for `max-peer-down-duration`. A leader that is itself dead
/// reports nothing new, so PD keeps the last report (no down or pending peers).
pub fn region_view(cluster: &Cluster, region: &Region, now: SystemTime) -> RegionView {
    let leader = region
        .peers
        .iter()
        .copied()
        .find(|p| p.id == region.leader)
        .unwrap_or(region.peers[0]);
    let reporting = cluster.raft_alive(leader.store_id, now);
    let silence = |store_id: u64| {
        cluster
            .stores()
            .find(|s| s.id == store_id)
            .and_then(|s| cluster.silence(s, now))
    };
    let pending: Vec<_> = region
        .peers
        .iter()
        .copied()
        .filter(|p| reporting && !cluster.raft_alive(p.store_id, now))
        .collect();
    let down_peers = pending
        .iter()
        .filter_map(|&p| {
            let silent = silence(p.store_id)?;
            (silent > cluster.thresholds.max_peer_down_duration).then(|| DownPeer {
                peer: peer_view(p),
                down_seconds: silent.as_secs(),
            })
        })
        .collect();
    RegionView {
        id: region.id,
        start_key: region.start_key.clone(),
        end_key: region.end_key.clone(),
        epoch: Epoch {
            conf_ver: region.conf_ver,
            version: region.version,
        },
        peers: region.peers.iter().copied().map(peer_view).collect(),
        leader: peer_view(leader),
        down_peers,
        pending_peers: pending.into_iter().map(peer_view).collect(),
        cpu_usage: 0,
        written_bytes: 0,
        read_bytes: 0,
        written_keys: 0,
        read_keys: 0,
        approximate_size: REGION_SIZE_MIB,
        approximate_keys: 0,
        approximate_kv_size: 0,
    }
}

/// `{count, regions}`; `regions` is `null` for `/regions/count`.
#[derive(Debug, Serialize)]
pub struct RegionsBody {
    pub count: usize,
    pub regions: Option<Vec<RegionView>>,
}

/// The kinds of `GET /regions/check/{kind}`.
pub const REGION_CHECKS: [&str; 6] = [
    "miss-peer",
    "extra-peer",
    "pending-peer",
    "down-peer",
    "offline-peer",
    "empty-region",
];

/// `GET /regions/check/{kind}` (kind among [`REGION_CHECKS`]; anything else matches nothing).
/// Every simulated region is empty (1 MiB, PD's empty-region bound).
pub fn region_check(
    cluster: &Cluster,
    kind: &str,
    now: SystemTime,
) -> Result<RegionsBody, ClusterError> {
    let want = usize::try_from(cluster.settings.max_replicas).unwrap_or(usize::MAX);
    let offline = |store_id: u64| {
        cluster
            .stores()
            .any(|s| s.id == store_id && s.state == MetaState::Offline)
    };
    let regions: Vec<RegionView> = cluster
        .regions()?
        .iter()
        .map(|r| (r, region_view(cluster, r, now)))
        .filter(|(region, view)| match kind {
            "miss-peer" => region.peers.len() < want,
            "extra-peer" => region.peers.len() > want,
            "pending-peer" => !view.pending_peers.is_empty(),
            "down-peer" => !view.down_peers.is_empty(),
            "offline-peer" => region.peers.iter().any(|p| offline(p.store_id)),
            "empty-region" => view.approximate_size <= REGION_SIZE_MIB,
            _ => false,
        })
        .map(|(_, view)| view)
        .collect();
    Ok(RegionsBody {
        count: regions.len(),
        regions: Some(regions),
    })
}

/// `GET /regions/count`.
pub fn regions_count(cluster: &Cluster) -> Result<RegionsBody, ClusterError> {
    Ok(RegionsBody {
        count: cluster.regions()?.len(),
        regions: None,
    })
}

/// `GET /stats/region`: counts and sizes per store, keyed by store id as a string.
#[derive(Debug, Serialize)]
pub struct RegionStats {
    pub count: usize,
    pub empty_count: usize,
    pub storage_size: u64,
    pub user_storage_size: u64,
    pub storage_keys: u64,
    pub store_leader_count: BTreeMap<String, u64>,
    pub store_peer_count: BTreeMap<String, u64>,
    pub store_leader_size: BTreeMap<String, u64>,
    pub store_leader_keys: BTreeMap<String, u64>,
    pub store_peer_size: BTreeMap<String, u64>,
    pub store_peer_keys: BTreeMap<String, u64>,
}

pub fn region_stats(cluster: &Cluster) -> Result<RegionStats, ClusterError> {
    let count = cluster.regions()?.len();
    let by_id = |counts: BTreeMap<u64, u64>, per_region: u64| {
        counts
            .into_iter()
            .map(|(id, n)| (id.to_string(), n * per_region))
            .collect::<BTreeMap<_, _>>()
    };
    Ok(RegionStats {
        count,
        empty_count: count,
        storage_size: count as u64 * REGION_SIZE_MIB,
        user_storage_size: 0,
        storage_keys: 0,
        store_leader_count: by_id(cluster.leader_counts(), 1),
        store_peer_count: by_id(cluster.peer_counts(), 1),
        store_leader_size: by_id(cluster.leader_counts(), REGION_SIZE_MIB),
        store_leader_keys: by_id(cluster.leader_counts(), 0),
        store_peer_size: by_id(cluster.peer_counts(), REGION_SIZE_MIB),
        store_peer_keys: by_id(cluster.peer_counts(), 0),
    })
}

#[derive(Debug, Serialize)]
pub struct ClusterStatus {
    pub raft_bootstrap_time: String,
    pub is_initialized: bool,
    pub replication_status: &'static str,
}

/// `GET /cluster/status`: Go's zero time until bootstrapped. Initialised like PD: more than
/// one region, or the first region fully replicated.
pub fn cluster_status(cluster: &Cluster) -> ClusterStatus {
    let initialized = cluster.regions().is_ok_and(|regions| {
        regions.len() > 1
            || regions
                .first()
                .is_some_and(|r| r.peers.len() as u64 >= cluster.settings.max_replicas)
    });
    ClusterStatus {
        raft_bootstrap_time: cluster
            .bootstrapped_at()
            .map_or_else(|| units::ZERO_TIME.to_string(), units::rfc3339),
        is_initialized: initialized,
        replication_status: "",
    }
}

/// `GET /config`: the settings the simulator honours, nested by section like PD's.
pub fn config(cluster: &Cluster) -> serde_json::Value {
    let s = cluster.settings;
    serde_json::json!({
        "schedule": {
            "max-store-down-time": units::format_duration(s.max_store_down_time),
            "leader-schedule-limit": s.leader_schedule_limit,
        },
        "replication": {
            "max-replicas": s.max_replicas,
        },
    })
}

/// The PD member this process plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub member_id: u64,
    pub cluster_id: u64,
    pub client_urls: Vec<String>,
    pub peer_urls: Vec<String>,
    /// Unix seconds.
    pub start_timestamp: u64,
}

impl Member {
    /// Ids are derived from the name (and the cluster id also from the start time, as a
    /// fresh PD gets a new one). The member id has its top bit set, like many real etcd ids,
    /// so clients that parse it as i64 fail here too.
    pub fn new(
        name: &str,
        client_urls: Vec<String>,
        peer_urls: Vec<String>,
        started: SystemTime,
    ) -> Member {
        let hash = fnv1a(name.as_bytes());
        let secs = units::unix_secs(started);
        Member {
            name: name.to_string(),
            member_id: hash | 1 << 63,
            cluster_id: (secs << 32) | (hash & 0xffff_ffff),
            client_urls,
            peer_urls,
            start_timestamp: secs,
        }
    }

    /// `GET /health`: one healthy member.
    pub fn health(&self) -> serde_json::Value {
        serde_json::json!([{
            "name": self.name,
            "member_id": self.member_id,
            "client_urls": self.client_urls,
            "health": true,
        }])
    }

    /// `GET /leader` (a `pdpb.Member` with its empty fields omitted).
    pub fn leader(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "member_id": self.member_id,
            "peer_urls": self.peer_urls,
            "client_urls": self.client_urls,
        })
    }

    /// `GET /members`: this member, leader of itself.
    pub fn members(&self) -> serde_json::Value {
        let member = serde_json::json!({
            "name": self.name,
            "member_id": self.member_id,
            "peer_urls": self.peer_urls,
            "client_urls": self.client_urls,
            "deploy_path": "/",
            "binary_version": PD_VERSION,
            "git_hash": ZERO_HASH,
        });
        serde_json::json!({
            "header": {"cluster_id": self.cluster_id},
            "members": [member],
            "leader": member,
            "etcd_leader": member,
        })
    }

    /// `GET /status`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "build_ts": "",
            "version": PD_VERSION,
            "git_hash": ZERO_HASH,
            "start_timestamp": self.start_timestamp,
        })
    }

    /// `GET /cluster`.
    pub fn cluster(&self, cluster: &Cluster) -> serde_json::Value {
        serde_json::json!({"id": self.cluster_id, "max_peer_count": cluster.settings.max_replicas})
    }
}

/// FNV-1a, 64 bits: a stable hash without a dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::cluster::tests::{at, meta, options, stats, three_stores};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/pd/");

    fn fixture(name: &str) -> Value {
        let text = std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn keys(value: &Value) -> BTreeSet<String> {
        value.as_object().unwrap().keys().cloned().collect()
    }

    fn json(value: &impl Serialize) -> Value {
        serde_json::to_value(value).unwrap()
    }

    /// The fixture store (by id) and the simulator's store (by id) have the same keys in
    /// `store` and `status`, in the same order.
    fn same_shape(fixture: &Value, fixture_id: u64, ours: &Value, our_id: u64) {
        let find = |body: &Value, id: u64| {
            body["stores"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["store"]["id"] == id)
                .cloned()
                .unwrap()
        };
        let (theirs, ours) = (find(fixture, fixture_id), find(ours, our_id));
        for part in ["store", "status"] {
            let order = |v: &Value| {
                v[part]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
            };
            assert_eq!(order(&ours), order(&theirs), "{part} of store {our_id}");
        }
        assert_eq!(ours["store"]["state_name"], theirs["store"]["state_name"]);
    }

    #[test]
    fn stores_match_the_fixture_with_one_disconnected() {
        let mut cluster = three_stores();
        for s in 0..40 {
            let now = at(2.0 + f64::from(s) * 0.1);
            cluster.heartbeat(stats(1), now).unwrap();
            cluster.heartbeat(stats(3), now).unwrap();
            cluster.tick(now);
        }
        let now = at(5.9);
        let ours = json(&stores(&cluster, &[], now).unwrap());
        let fixture = fixture("stores.constructed.3tikv-one-disconnected.json");
        same_shape(&fixture, 1, &ours, 1);
        same_shape(&fixture, 4, &ours, 2);
        assert_eq!(ours["count"], 3);
        let up = &ours["stores"][0];
        assert_eq!(up["status"]["capacity"], "100GiB");
        assert_eq!(up["status"]["used_size"], "512MiB");
        assert_eq!(up["status"]["start_ts"], "2024-12-25T03:05:03Z");
        assert_eq!(up["status"]["last_heartbeat_ts"], "2024-12-25T03:05:08.9Z");
        assert_eq!(up["status"]["uptime"], "5.9s");
        assert_eq!(up["store"]["last_heartbeat"], 1_735_095_908_900_000_000u64);
        assert_eq!(up["status"]["leader_count"], 15);
        assert_eq!(ours["stores"][1]["status"]["leader_count"], 0);
    }

    #[test]
    fn down_offline_tombstone_and_preparing_match_the_fixture() {
        let mut cluster = three_stores();
        let spare = cluster.register(meta(None, "tikv3"), at(2.0)).unwrap();
        cluster.heartbeat(stats(spare), at(2.0)).unwrap();
        cluster.remove_store(3).unwrap();
        let never = cluster.register(meta(None, "tikv4"), at(2.0)).unwrap();
        // Keep the spare and store 2 alive, store 1 silent until Down (10 s); store 3 drains
        // to Tombstone at once. A replica cannot move off store 1: it is the only spare.
        for s in 0..120 {
            let now = at(2.0 + f64::from(s) * 0.1);
            for id in [2, spare] {
                cluster.heartbeat(stats(id), now).unwrap();
            }
            cluster.tick(now);
        }
        let now = at(13.9);
        let all = json(&stores(&cluster, &[0, 1, 2], now).unwrap());
        let fixture = fixture("stores.constructed.down-offline-tombstone-preparing.json");
        same_shape(&fixture, 1, &all, 1); // Down
        same_shape(&fixture, 5, &all, 3); // Tombstone
        same_shape(&fixture, 7, &all, never); // never heartbeated
        assert_eq!(
            json(&stores(&cluster, &[], now).unwrap())["count"],
            4,
            "no Tombstone by default"
        );
        assert_eq!(json(&stores(&cluster, &[2], now).unwrap())["count"], 1);

        // Offline: a store being drained while no other store can take its replicas.
        let mut cluster = three_stores();
        cluster.remove_store(2).unwrap();
        cluster.tick(at(2.0));
        let all = json(&stores(&cluster, &[], at(2.0)).unwrap());
        same_shape(&fixture, 4, &all, 2);
        let offline = json(&region_check(&cluster, "offline-peer", at(2.0)).unwrap());
        assert_eq!(offline["count"], 30);
    }

    #[test]
    fn regions_match_the_fixtures() {
        let mut cluster = three_stores();
        let now = at(1.8);
        let count = json(&regions_count(&cluster).unwrap());
        assert_eq!(
            keys(&count),
            keys(&fixture("regions_count.constructed.json"))
        );
        assert_eq!(count, serde_json::json!({"count": 30, "regions": null}));
        let empty = json(&region_check(&cluster, "miss-peer", now).unwrap());
        assert_eq!(empty, fixture("regions_check_empty.constructed.json"));

        // Store 2 silent past max-peer-down-duration (60 s): down and pending peers.
        for s in 0..70 {
            let now = at(2.0 + f64::from(s));
            cluster.heartbeat(stats(1), now).unwrap();
            cluster.heartbeat(stats(3), now).unwrap();
            cluster.tick(now);
        }
        let down = json(&region_check(&cluster, "down-peer", at(71.0)).unwrap());
        assert_eq!(down["count"], 30);
        let theirs = &fixture("regions_check_down_peer.constructed.json")["regions"][0];
        let ours = &down["regions"][0];
        let order = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(order(ours), order(theirs));
        assert_eq!(keys(&ours["down_peers"][0]), keys(&theirs["down_peers"][0]));
        assert_eq!(keys(&ours["peers"][0]), keys(&theirs["peers"][0]));
        assert_eq!(ours["down_peers"][0]["peer"]["store_id"], 2);
        assert_eq!(ours["down_peers"][0]["down_seconds"], 69);
        assert_eq!(
            json(&region_check(&cluster, "pending-peer", at(71.0)).unwrap())["count"],
            30
        );
        assert_eq!(
            json(&region_check(&cluster, "empty-region", at(71.0)).unwrap())["count"],
            30
        );
        assert_eq!(
            json(&region_check(&cluster, "extra-peer", at(71.0)).unwrap())["count"],
            0
        );
    }

    #[test]
    fn stats_and_status_match_the_fixtures() {
        let cluster = three_stores();
        let ours = json(&region_stats(&cluster).unwrap());
        assert_eq!(
            keys(&ours),
            keys(&fixture("stats_region.constructed.v8.5.json"))
        );
        assert_eq!(
            ours["store_leader_count"],
            serde_json::json!({"1": 10, "2": 10, "3": 10})
        );
        assert_eq!(
            ours["store_peer_count"],
            serde_json::json!({"1": 30, "2": 30, "3": 30})
        );

        let status = json(&cluster_status(&cluster));
        assert_eq!(
            keys(&status),
            keys(&fixture("cluster_status.constructed.json"))
        );
        assert_eq!(status["is_initialized"], true);
        assert_eq!(status["raft_bootstrap_time"], "2024-12-25T03:05:03Z");
        let fresh = Cluster::new(options());
        assert_eq!(
            json(&cluster_status(&fresh)),
            fixture("cluster_status.not-bootstrapped.constructed.json")
        );
    }

    #[test]
    fn members_match_the_fixtures() {
        let member = Member::new(
            "pd0",
            vec!["http://pd0:2379".into()],
            vec!["http://pd0:2380".into()],
            at(0.0),
        );
        assert!(member.member_id > i64::MAX as u64);
        let health = member.health();
        assert_eq!(
            keys(&health[0]),
            keys(&fixture("health.tidb-operator-v8.1.0.json")[0])
        );
        assert_eq!(
            keys(&member.leader()),
            keys(&fixture("leader.tidb-operator-v8.1.0.json"))
        );
        let members = member.members();
        let theirs = fixture("members.tidb-operator-v8.1.0.json");
        assert_eq!(keys(&members), keys(&theirs));
        assert_eq!(keys(&members["members"][0]), keys(&theirs["members"][0]));
        assert_eq!(
            keys(&member.status()),
            keys(&fixture("status.constructed.json"))
        );
        let cluster = three_stores();
        assert_eq!(
            keys(&member.cluster(&cluster)),
            keys(&fixture("cluster.tidb-operator.json"))
        );
    }

    #[test]
    fn config_is_nested_by_section() {
        let cluster = three_stores();
        assert_eq!(
            config(&cluster),
            serde_json::json!({
                "schedule": {"max-store-down-time": "10s", "leader-schedule-limit": 4},
                "replication": {"max-replicas": 3},
            })
        );
    }
}
