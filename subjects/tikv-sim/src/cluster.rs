//! PD's model of the cluster: stores, their heartbeats, and regions with their leaders.
//!
//! Pure state: every operation takes `now`, so the rules can be tested with invented
//! clocks and short thresholds. The PD server ([`crate::pd`]) calls [`Cluster::tick`]
//! before each request and periodically, and renders answers with [`crate::views`].
//!
//! What is modelled, and how (see README.md for the user-facing version):
//! - A store is Up while it heartbeats, "Disconnected" after `disconnect_after` without a
//!   heartbeat, "Down" after `max-store-down-time`, and Up again at its next heartbeat.
//!   Only for a store whose metadata state is Up: Offline and Tombstone keep their names.
//! - Store ids come from a counter starting at 1 (real PD shares one allocator between
//!   stores, regions and peers, so real ids have gaps).
//! - The first registration bootstraps the cluster: `regions` regions are created with one
//!   replica on that store, and replicas are added on the next schedulable stores until each
//!   region has `max-replicas` (so with 3 stores, every store holds every region).
//! - A store is dead for Raft when PD has not heard from it for longer than
//!   `election_delay`; then each region it leads elects a leader among its live replicas,
//!   provided a majority of its replicas is live (else PD keeps showing the stale leader).
//!   Regions are never removed.
//! - Leaders are rebalanced gradually: one scheduling round per [`BALANCE_INTERVAL`] moves
//!   at most `leader-schedule-limit` leaders from the most to the least loaded Up store.
//! - A replica on a Down, Offline or Tombstone store is replaced at once when an Up store
//!   without a replica of that region exists; an Offline store left without replicas
//!   becomes Tombstone.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::units;

/// Time between two leader-balancing rounds.
pub const BALANCE_INTERVAL: Duration = Duration::from_secs(1);

/// Thresholds fixed at start (flags and environment of `tikv-sim pd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// No heartbeat for longer than this: "Disconnected" (PD's constant: 20 s).
    pub disconnect_after: Duration,
    /// No heartbeat for longer than this: dead for Raft, its leaders move (real: ~10–20 s,
    /// the Raft election timeout). Keep it above the stores' heartbeat interval.
    pub election_delay: Duration,
    /// No heartbeat for longer than this: its replicas are reported as down peers
    /// (TiKV's `max-peer-down-duration`, 10 min).
    pub max_peer_down_duration: Duration,
}

/// Settings that `POST /pd/api/v1/config` can change at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `schedule.max-store-down-time` (real default 30 min).
    pub max_store_down_time: Duration,
    /// `schedule.leader-schedule-limit` (real default 4): leader moves per balancing round.
    pub leader_schedule_limit: u64,
    /// `replication.max-replicas` (real default 3).
    pub max_replicas: u64,
}

/// Everything [`Cluster::new`] needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterOptions {
    pub thresholds: Thresholds,
    pub settings: Settings,
    /// How many regions the bootstrap creates.
    pub regions: u64,
}

/// PD's metapb state of a store (the numeric `state` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetaState {
    Up = 0,
    Offline = 1,
    Tombstone = 2,
}

/// What a store process sends when it registers (kvproto's `PutStore`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct StoreMeta {
    /// The id from the store's data directory; absent for a store with an empty one.
    #[serde(default)]
    pub id: Option<u64>,
    pub address: String,
    pub status_address: String,
    pub version: String,
    pub git_hash: String,
    /// Unix seconds when the store process started.
    pub start_timestamp: u64,
    pub deploy_path: String,
}

/// What a store reports in each heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct StoreStats {
    pub id: u64,
    pub capacity: u64,
    pub available: u64,
    pub used_size: u64,
}

/// A store as PD remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreRecord {
    pub id: u64,
    pub meta: StoreMeta,
    pub state: MetaState,
    pub last_heartbeat: Option<SystemTime>,
    pub stats: Option<StoreStats>,
}

/// A replica of a region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    pub id: u64,
    pub store_id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub id: u64,
    /// Hex-encoded keys; empty means unbounded.
    pub start_key: String,
    pub end_key: String,
    pub conf_ver: u64,
    pub version: u64,
    pub peers: Vec<Peer>,
    /// Peer id of the leader (always one of `peers`).
    pub leader: u64,
}

impl Region {
    pub fn leader_store(&self) -> Option<u64> {
        self.peers
            .iter()
            .find(|p| p.id == self.leader)
            .map(|p| p.store_id)
    }

    pub fn has_store(&self, store_id: u64) -> bool {
        self.peers.iter().any(|p| p.store_id == store_id)
    }
}

/// Why PD refused a request; [`crate::pd`] maps these to PD's status codes and messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    NotBootstrapped,
    StoreNotFound(u64),
    /// A store without an id tried to register at an address a live store uses.
    DuplicatedAddress {
        address: String,
        existing: u64,
    },
    /// The store was removed (Tombstone): it may not come back.
    StoreRemoved(u64),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::NotBootstrapped => f.write_str(
                "[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped, please start TiKV first",
            ),
            ClusterError::StoreNotFound(id) => write!(f, "[PD:core:ErrStoreNotFound]store {id} not found"),
            ClusterError::DuplicatedAddress { address, existing } => write!(
                f,
                "duplicated store address: address:\"{address}\", already registered by id:{existing} address:\"{address}\""
            ),
            ClusterError::StoreRemoved(id) => write!(f, "[PD:core:ErrStoreRemoved]store {id} has been removed"),
        }
    }
}

/// PD's state.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub thresholds: Thresholds,
    pub settings: Settings,
    region_target: u64,
    stores: BTreeMap<u64, StoreRecord>,
    next_store_id: u64,
    /// Region and peer ids (a separate counter from store ids).
    next_region_id: u64,
    regions: Vec<Region>,
    bootstrapped_at: Option<SystemTime>,
    last_balance: Option<SystemTime>,
}

/// First id handed to regions and peers, far from store ids so they are not confused.
const FIRST_REGION_ID: u64 = 1001;

/// What PD keeps across restarts (real PD keeps it in etcd): ids, stores with their last
/// heartbeat, regions, bootstrap time and the settings changed through `POST /config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub settings: Settings,
    pub next_store_id: u64,
    pub next_region_id: u64,
    pub bootstrapped_at: Option<SystemTime>,
    pub stores: Vec<StoreRecord>,
    pub regions: Vec<Region>,
}

impl Cluster {
    pub fn new(options: ClusterOptions) -> Cluster {
        Cluster {
            thresholds: options.thresholds,
            settings: options.settings,
            region_target: options.regions,
            stores: BTreeMap::new(),
            next_store_id: 1,
            next_region_id: FIRST_REGION_ID,
            regions: Vec::new(),
            bootstrapped_at: None,
            last_balance: None,
        }
    }

    /// The cluster as saved by [`Cluster::snapshot`]; thresholds and the region target come
    /// from `options` (they are flags), settings from the snapshot.
    pub fn restore(options: ClusterOptions, snapshot: Snapshot) -> Cluster {
        Cluster {
            settings: snapshot.settings,
            stores: snapshot.stores.into_iter().map(|s| (s.id, s)).collect(),
            next_store_id: snapshot.next_store_id,
            next_region_id: snapshot.next_region_id,
            regions: snapshot.regions,
            bootstrapped_at: snapshot.bootstrapped_at,
            ..Cluster::new(options)
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            settings: self.settings,
            next_store_id: self.next_store_id,
            next_region_id: self.next_region_id,
            bootstrapped_at: self.bootstrapped_at,
            stores: self.stores.values().cloned().collect(),
            regions: self.regions.clone(),
        }
    }

    pub fn bootstrapped_at(&self) -> Option<SystemTime> {
        self.bootstrapped_at
    }

    /// Stores by id (Tombstones included).
    pub fn stores(&self) -> impl Iterator<Item = &StoreRecord> {
        self.stores.values()
    }

    pub fn store(&self, id: u64) -> Result<&StoreRecord, ClusterError> {
        self.ensure_bootstrapped()?;
        self.stores.get(&id).ok_or(ClusterError::StoreNotFound(id))
    }

    /// Regions by id.
    pub fn regions(&self) -> Result<&[Region], ClusterError> {
        self.ensure_bootstrapped()?;
        Ok(&self.regions)
    }

    pub fn ensure_bootstrapped(&self) -> Result<(), ClusterError> {
        match self.bootstrapped_at {
            Some(_) => Ok(()),
            None => Err(ClusterError::NotBootstrapped),
        }
    }

    /// How long PD has not heard from the store (`None`: never).
    pub fn silence(&self, store: &StoreRecord, now: SystemTime) -> Option<Duration> {
        store
            .last_heartbeat
            .map(|t| now.duration_since(t).unwrap_or_default())
    }

    /// `state_name` by PD's rule: for a store whose metadata says Up, "Down" when silent
    /// longer than `max-store-down-time` (or never heard from), else "Disconnected" when
    /// silent longer than `disconnect_after`, else "Up".
    pub fn state_name(&self, store: &StoreRecord, now: SystemTime) -> &'static str {
        match store.state {
            MetaState::Offline => "Offline",
            MetaState::Tombstone => "Tombstone",
            MetaState::Up => match self.silence(store, now) {
                None => "Down",
                Some(s) if s > self.settings.max_store_down_time => "Down",
                Some(s) if s > self.thresholds.disconnect_after => "Disconnected",
                Some(_) => "Up",
            },
        }
    }

    /// Whether the store's Raft peers still hear from it.
    pub fn raft_alive(&self, store_id: u64, now: SystemTime) -> bool {
        self.stores.get(&store_id).is_some_and(|store| {
            store.state != MetaState::Tombstone
                && self
                    .silence(store, now)
                    .is_some_and(|s| s <= self.thresholds.election_delay)
        })
    }

    /// Whether PD would place replicas and leaders on the store.
    fn schedulable(&self, store_id: u64, now: SystemTime) -> bool {
        self.stores.get(&store_id).is_some_and(|store| {
            self.state_name(store, now) == "Up" && self.raft_alive(store_id, now)
        })
    }

    /// Registers a store (PD's `PutStore`); returns its id.
    ///
    /// Without an id the store is new: PD rejects it when a non-Tombstone store already uses
    /// its address ("duplicated store address", what a TiKV restarted with a wiped data
    /// directory gets), else allocates the next id. With an id, PD updates that store's
    /// metadata (a restart) or adopts the id (PD itself restarted and forgot it). The first
    /// registration bootstraps the cluster.
    pub fn register(&mut self, meta: StoreMeta, now: SystemTime) -> Result<u64, ClusterError> {
        if let Some(existing) = self.stores.values().find(|s| {
            s.meta.address == meta.address
                && s.state != MetaState::Tombstone
                && Some(s.id) != meta.id
        }) {
            return Err(ClusterError::DuplicatedAddress {
                address: meta.address,
                existing: existing.id,
            });
        }
        let id = match meta.id {
            Some(id) => {
                if self
                    .stores
                    .get(&id)
                    .is_some_and(|s| s.state == MetaState::Tombstone)
                {
                    return Err(ClusterError::StoreRemoved(id));
                }
                self.next_store_id = self.next_store_id.max(id + 1);
                id
            }
            None => {
                self.next_store_id += 1;
                self.next_store_id - 1
            }
        };
        let meta = StoreMeta {
            id: Some(id),
            ..meta
        };
        match self.stores.get_mut(&id) {
            Some(store) => store.meta = meta,
            None => {
                self.stores.insert(
                    id,
                    StoreRecord {
                        id,
                        meta,
                        state: MetaState::Up,
                        last_heartbeat: None,
                        stats: None,
                    },
                );
            }
        }
        if self.bootstrapped_at.is_none() {
            self.bootstrap(id, now);
        }
        Ok(id)
    }

    /// Creates the regions with one replica (the leader) on `store_id`, splitting the key
    /// space at evenly numbered keys.
    fn bootstrap(&mut self, store_id: u64, now: SystemTime) {
        self.bootstrapped_at = Some(now);
        let key = |i: u64| format!("7480000000{i:08X}");
        for i in 0..self.region_target {
            let (id, peer) = (self.alloc_id(), self.alloc_id());
            self.regions.push(Region {
                id,
                start_key: if i == 0 { String::new() } else { key(i) },
                end_key: if i + 1 == self.region_target {
                    String::new()
                } else {
                    key(i + 1)
                },
                conf_ver: 1,
                version: 1,
                peers: vec![Peer { id: peer, store_id }],
                leader: peer,
            });
        }
    }

    fn alloc_id(&mut self) -> u64 {
        self.next_region_id += 1;
        self.next_region_id - 1
    }

    /// Records a heartbeat. Unknown ids are refused so the store registers again (after a
    /// PD restart, PD has forgotten every store).
    pub fn heartbeat(&mut self, stats: StoreStats, now: SystemTime) -> Result<(), ClusterError> {
        let store = self
            .stores
            .get_mut(&stats.id)
            .ok_or(ClusterError::StoreNotFound(stats.id))?;
        if store.state == MetaState::Tombstone {
            return Err(ClusterError::StoreRemoved(stats.id));
        }
        store.last_heartbeat = Some(now);
        store.stats = Some(stats);
        Ok(())
    }

    /// `DELETE /store/{id}`: the store goes Offline; its replicas move to other stores and
    /// it becomes Tombstone once it holds none.
    pub fn remove_store(&mut self, id: u64) -> Result<(), ClusterError> {
        self.ensure_bootstrapped()?;
        let store = self
            .stores
            .get_mut(&id)
            .ok_or(ClusterError::StoreNotFound(id))?;
        match store.state {
            MetaState::Tombstone => Err(ClusterError::StoreRemoved(id)),
            MetaState::Up | MetaState::Offline => {
                store.state = MetaState::Offline;
                Ok(())
            }
        }
    }

    /// Leaders per store id (stores leading nothing are absent).
    pub fn leader_counts(&self) -> BTreeMap<u64, u64> {
        let mut counts = BTreeMap::new();
        for region in &self.regions {
            if let Some(store) = region.leader_store() {
                *counts.entry(store).or_insert(0) += 1;
            }
        }
        counts
    }

    /// Replicas per store id (stores holding nothing are absent).
    pub fn peer_counts(&self) -> BTreeMap<u64, u64> {
        let mut counts = BTreeMap::new();
        for peer in self.regions.iter().flat_map(|r| &r.peers) {
            *counts.entry(peer.store_id).or_insert(0) += 1;
        }
        counts
    }

    /// Applies every rule whose time has come: elections, replica repair, Offline →
    /// Tombstone, and one leader-balancing round per [`BALANCE_INTERVAL`].
    pub fn tick(&mut self, now: SystemTime) {
        if self.bootstrapped_at.is_none() {
            return;
        }
        self.elect(now);
        self.repair_replicas(now);
        for store in self.stores.values_mut() {
            if store.state == MetaState::Offline
                && !self.regions.iter().any(|r| r.has_store(store.id))
            {
                store.state = MetaState::Tombstone;
            }
        }
        let due = self
            .last_balance
            .is_none_or(|last| now.duration_since(last).unwrap_or_default() >= BALANCE_INTERVAL);
        if due {
            self.last_balance = Some(now);
            self.balance_leaders(now);
        }
    }

    /// Regions led by a dead store elect a live replica (the one whose store leads the
    /// fewest regions) when a majority of their replicas is live.
    fn elect(&mut self, now: SystemTime) {
        let mut leaders = self.leader_counts();
        for i in 0..self.regions.len() {
            let region = &self.regions[i];
            let Some(old) = region.leader_store() else {
                continue;
            };
            if self.raft_alive(old, now) {
                continue;
            }
            let live: Vec<Peer> = region
                .peers
                .iter()
                .copied()
                .filter(|p| self.raft_alive(p.store_id, now))
                .collect();
            if live.len() * 2 <= region.peers.len() {
                continue;
            }
            let Some(new) = live
                .iter()
                .min_by_key(|p| (leaders.get(&p.store_id).copied().unwrap_or(0), p.store_id))
                .copied()
            else {
                continue;
            };
            self.regions[i].leader = new.id;
            *leaders.entry(old).or_insert(1) -= 1;
            *leaders.entry(new.store_id).or_insert(0) += 1;
        }
    }

    /// The schedulable store without a replica of `region` that holds the fewest replicas.
    fn replica_target(
        &self,
        region: &Region,
        peers: &BTreeMap<u64, u64>,
        now: SystemTime,
    ) -> Option<u64> {
        self.stores
            .keys()
            .copied()
            .filter(|&id| !region.has_store(id) && self.schedulable(id, now))
            .min_by_key(|id| (peers.get(id).copied().unwrap_or(0), *id))
    }

    /// Adds missing replicas, replaces replicas on Down, Offline and Tombstone stores when a
    /// target exists, and removes replicas beyond `max-replicas`.
    fn repair_replicas(&mut self, now: SystemTime) {
        let mut peers = self.peer_counts();
        let want = usize::try_from(self.settings.max_replicas).unwrap_or(usize::MAX);
        for i in 0..self.regions.len() {
            // Missing replicas.
            while self.regions[i].peers.len() < want {
                let Some(target) = self.replica_target(&self.regions[i], &peers, now) else {
                    break;
                };
                let id = self.alloc_id();
                let region = &mut self.regions[i];
                region.peers.push(Peer {
                    id,
                    store_id: target,
                });
                region.conf_ver += 1;
                *peers.entry(target).or_insert(0) += 1;
            }
            // Replicas on stores that will not come back soon.
            let doomed: Vec<Peer> = self.regions[i]
                .peers
                .iter()
                .copied()
                .filter(|p| {
                    self.stores.get(&p.store_id).is_none_or(|s| {
                        matches!(self.state_name(s, now), "Down" | "Offline" | "Tombstone")
                    })
                })
                .collect();
            for peer in doomed {
                let Some(target) = self.replica_target(&self.regions[i], &peers, now) else {
                    break;
                };
                if !self.drop_peer(i, peer, now) {
                    continue;
                }
                let id = self.alloc_id();
                let region = &mut self.regions[i];
                region.peers.push(Peer {
                    id,
                    store_id: target,
                });
                region.conf_ver += 1;
                *peers.entry(target).or_insert(0) += 1;
                *peers.entry(peer.store_id).or_insert(1) -= 1;
            }
            // Extra replicas (max-replicas was lowered): drop the newest non-leader ones.
            while self.regions[i].peers.len() > want.max(1) {
                let region = &self.regions[i];
                let Some(peer) = region
                    .peers
                    .iter()
                    .rev()
                    .find(|p| p.id != region.leader)
                    .copied()
                else {
                    break;
                };
                if !self.drop_peer(i, peer, now) {
                    break;
                }
                *peers.entry(peer.store_id).or_insert(1) -= 1;
            }
        }
    }

    /// Removes `peer` from region `i`, first handing leadership to a live replica if it
    /// leads; refuses (false) when no live replica can take over.
    fn drop_peer(&mut self, i: usize, peer: Peer, now: SystemTime) -> bool {
        let region = &self.regions[i];
        if region.leader == peer.id {
            let Some(heir) = region
                .peers
                .iter()
                .find(|p| p.id != peer.id && self.raft_alive(p.store_id, now))
                .copied()
            else {
                return false;
            };
            self.regions[i].leader = heir.id;
        }
        let region = &mut self.regions[i];
        region.peers.retain(|p| p.id != peer.id);
        region.conf_ver += 1;
        true
    }

    /// One balancing round: up to `leader-schedule-limit` transfers, each from the Up store
    /// leading the most regions to the Up store leading the fewest, while they differ by
    /// more than one.
    fn balance_leaders(&mut self, now: SystemTime) {
        for _ in 0..self.settings.leader_schedule_limit {
            let leaders = self.leader_counts();
            let candidates: Vec<(u64, u64)> = self
                .stores
                .keys()
                .copied()
                .filter(|&id| {
                    self.schedulable(id, now) && self.regions.iter().any(|r| r.has_store(id))
                })
                .map(|id| (leaders.get(&id).copied().unwrap_or(0), id))
                .collect();
            let (Some(&(most, from)), Some(&(fewest, to))) =
                (candidates.iter().max(), candidates.iter().min())
            else {
                return;
            };
            if most <= fewest + 1 {
                return;
            }
            let Some(region) = self
                .regions
                .iter_mut()
                .find(|r| r.leader_store() == Some(from) && r.has_store(to))
            else {
                return;
            };
            if let Some(peer) = region.peers.iter().find(|p| p.store_id == to) {
                region.leader = peer.id;
            }
        }
    }

    /// Applies `POST /config` changes: flat kebab-case keys, optionally prefixed with their
    /// section (`schedule.max-store-down-time`). All or nothing.
    pub fn update_settings(
        &mut self,
        changes: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), String> {
        let mut settings = self.settings;
        for (key, value) in changes {
            let name = key.rsplit('.').next().unwrap_or(key);
            match name {
                "max-store-down-time" => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| format!("{key}: expected a duration string like \"30m\""))?;
                    settings.max_store_down_time = units::parse_duration(text)?;
                }
                "leader-schedule-limit" => settings.leader_schedule_limit = positive(key, value)?,
                "max-replicas" => settings.max_replicas = positive(key, value)?,
                _ => return Err(format!("config item {key} not found")),
            }
        }
        self.settings = settings;
        Ok(())
    }
}

/// A positive integer given as a JSON number or numeric string (PD accepts both).
fn positive(key: &str, value: &serde_json::Value) -> Result<u64, String> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{key}: expected a positive integer, got {value}"))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    pub(crate) fn options() -> ClusterOptions {
        ClusterOptions {
            thresholds: Thresholds {
                disconnect_after: Duration::from_secs(3),
                election_delay: Duration::from_secs(2),
                max_peer_down_duration: Duration::from_secs(60),
            },
            settings: Settings {
                max_store_down_time: Duration::from_secs(10),
                leader_schedule_limit: 4,
                max_replicas: 3,
            },
            regions: 30,
        }
    }

    pub(crate) fn at(secs: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_735_095_903) + Duration::from_secs_f64(secs)
    }

    pub(crate) fn meta(id: Option<u64>, host: &str) -> StoreMeta {
        StoreMeta {
            id,
            address: format!("{host}:20160"),
            status_address: format!("{host}:20180"),
            version: "8.5.1".into(),
            git_hash: "0".repeat(40),
            start_timestamp: 1_735_095_903,
            deploy_path: "/".into(),
        }
    }

    pub(crate) fn stats(id: u64) -> StoreStats {
        StoreStats {
            id,
            capacity: 100 << 30,
            available: 99 << 30,
            used_size: 512 << 20,
        }
    }

    /// Three stores registered at t=0 and heartbeating until t=1.8 s, leaders balanced
    /// (10 each; the warm-up lifts the leader-schedule-limit so two rounds suffice).
    pub(crate) fn three_stores() -> Cluster {
        let mut cluster = Cluster::new(options());
        cluster.settings.leader_schedule_limit = 100;
        for host in ["tikv0", "tikv1", "tikv2"] {
            let id = cluster.register(meta(None, host), at(0.0)).unwrap();
            cluster.heartbeat(stats(id), at(0.0)).unwrap();
        }
        for s in 0..10 {
            let t = at(f64::from(s) * 0.2);
            for id in 1..=3 {
                cluster.heartbeat(stats(id), t).unwrap();
            }
            cluster.tick(t);
        }
        cluster.settings.leader_schedule_limit = options().settings.leader_schedule_limit;
        assert_eq!(
            cluster
                .leader_counts()
                .values()
                .copied()
                .collect::<Vec<_>>(),
            vec![10, 10, 10]
        );
        cluster
    }

    fn state(cluster: &Cluster, id: u64, now: SystemTime) -> &'static str {
        cluster.state_name(cluster.stores.get(&id).unwrap(), now)
    }

    #[test]
    fn store_goes_disconnected_then_down_then_up_again() {
        let mut cluster = three_stores();
        let last = at(1.8);
        assert_eq!(
            state(&cluster, 2, at(4.8)),
            "Up",
            "exactly disconnect_after is still Up"
        );
        assert_eq!(state(&cluster, 2, at(4.9)), "Disconnected");
        assert_eq!(state(&cluster, 2, at(11.8)), "Disconnected");
        assert_eq!(state(&cluster, 2, at(11.9)), "Down");
        cluster.heartbeat(stats(2), at(12.0)).unwrap();
        assert_eq!(state(&cluster, 2, at(12.0)), "Up");
        assert_eq!(cluster.stores.get(&1).unwrap().last_heartbeat, Some(last));
    }

    #[test]
    fn max_store_down_time_changes_live() {
        let mut cluster = three_stores();
        assert_eq!(state(&cluster, 1, at(6.0)), "Disconnected");
        let changes = serde_json::json!({"max-store-down-time": "4s"});
        cluster
            .update_settings(changes.as_object().unwrap())
            .unwrap();
        assert_eq!(state(&cluster, 1, at(6.0)), "Down");
        let bad = serde_json::json!({"max-store-down-time": "4s", "nope": 1});
        assert_eq!(
            cluster.update_settings(bad.as_object().unwrap()),
            Err("config item nope not found".to_string())
        );
        let sectioned = serde_json::json!({"schedule.leader-schedule-limit": "8", "replication.max-replicas": 3});
        cluster
            .update_settings(sectioned.as_object().unwrap())
            .unwrap();
        assert_eq!(cluster.settings.leader_schedule_limit, 8);
    }

    #[test]
    fn never_heartbeated_store_is_down() {
        let mut cluster = Cluster::new(options());
        cluster.register(meta(None, "tikv0"), at(0.0)).unwrap();
        assert_eq!(state(&cluster, 1, at(0.0)), "Down");
    }

    #[test]
    fn bootstrap_places_three_replicas_over_the_first_three_stores_with_balanced_leaders() {
        let mut cluster = three_stores();
        let id = cluster.register(meta(None, "tikv3"), at(2.0)).unwrap();
        cluster.heartbeat(stats(id), at(2.0)).unwrap();
        cluster.tick(at(3.0));
        let regions = cluster.regions().unwrap();
        assert_eq!(regions.len(), 30);
        assert!(
            regions
                .iter()
                .all(|r| r.peers.len() == 3 && !r.has_store(4))
        );
        let leaders = cluster.leader_counts();
        assert_eq!(
            leaders.values().copied().collect::<Vec<_>>(),
            vec![10, 10, 10]
        );
        assert_eq!(cluster.peer_counts().get(&1), Some(&30));
    }

    #[test]
    fn leaders_move_off_a_dead_store_after_the_election_delay_and_come_back_gradually() {
        let mut cluster = three_stores();
        // Store 3 last heartbeated at 1.8 s; stores 1 and 2 keep going.
        let mut t = 2.0;
        let mut step = |cluster: &mut Cluster, until: f64| {
            while t <= until + 1e-9 {
                cluster.heartbeat(stats(1), at(t)).unwrap();
                cluster.heartbeat(stats(2), at(t)).unwrap();
                cluster.tick(at(t));
                t += 0.1;
            }
        };
        step(&mut cluster, 3.7);
        assert_eq!(
            cluster.leader_counts().get(&3),
            Some(&10),
            "within the election delay"
        );
        step(&mut cluster, 4.0);
        let leaders = cluster.leader_counts();
        assert_eq!(leaders.get(&3), None, "moved after the election delay");
        assert_eq!(leaders.values().sum::<u64>(), 30);
        assert_eq!(leaders.values().copied().collect::<Vec<_>>(), vec![15, 15]);
        // Long after Down: with no spare store, replicas stay where they are; nothing lost.
        step(&mut cluster, 20.0);
        let regions = cluster.regions().unwrap();
        assert_eq!(regions.len(), 30);
        assert!(regions.iter().all(|r| r.peers.len() == 3 && r.has_store(3)));
        // Back: one round per interval moves at most leader-schedule-limit (4) leaders.
        let beat_all = |cluster: &mut Cluster, t: f64| {
            for id in 1..=3 {
                cluster.heartbeat(stats(id), at(t)).unwrap();
            }
            cluster.tick(at(t));
            cluster.leader_counts().get(&3).copied()
        };
        assert_eq!(beat_all(&mut cluster, 21.0), Some(4));
        assert_eq!(
            beat_all(&mut cluster, 21.5),
            Some(4),
            "one round per interval"
        );
        assert_eq!(beat_all(&mut cluster, 22.0), Some(8));
        assert_eq!(beat_all(&mut cluster, 23.0), Some(10));
        assert_eq!(beat_all(&mut cluster, 24.0), Some(10));
        assert_eq!(
            cluster
                .leader_counts()
                .values()
                .copied()
                .collect::<Vec<_>>(),
            vec![10, 10, 10]
        );
    }

    #[test]
    fn no_election_without_a_majority() {
        let mut cluster = three_stores();
        for s in 0..50 {
            let now = at(2.0 + f64::from(s) * 0.1);
            cluster.heartbeat(stats(1), now).unwrap();
            cluster.tick(now);
        }
        let leaders = cluster.leader_counts();
        assert_eq!(
            leaders.values().copied().collect::<Vec<_>>(),
            vec![10, 10, 10],
            "stale leaders stay"
        );
        assert_eq!(cluster.regions().unwrap().len(), 30);
    }

    #[test]
    fn down_replicas_move_to_a_spare_store() {
        let mut cluster = three_stores();
        let spare = cluster.register(meta(None, "tikv3"), at(2.0)).unwrap();
        for s in 0..200 {
            let now = at(2.0 + f64::from(s) * 0.1);
            for id in [1, 2, spare] {
                cluster.heartbeat(stats(id), now).unwrap();
            }
            cluster.tick(now);
        }
        // Store 3 is Down (silent > 10 s): its replicas are on the spare now.
        let regions = cluster.regions().unwrap();
        assert!(
            regions
                .iter()
                .all(|r| r.peers.len() == 3 && !r.has_store(3) && r.has_store(spare))
        );
        assert_eq!(cluster.leader_counts().get(&3), None);
    }

    #[test]
    fn duplicated_address_is_rejected_unless_the_id_is_known() {
        let mut cluster = three_stores();
        assert_eq!(
            cluster.register(meta(None, "tikv1"), at(3.0)),
            Err(ClusterError::DuplicatedAddress {
                address: "tikv1:20160".into(),
                existing: 2
            })
        );
        let error = cluster.register(meta(None, "tikv1"), at(3.0)).unwrap_err();
        assert!(
            error.to_string().starts_with("duplicated store address: "),
            "{error}"
        );
        // A restart with the id from the data directory is fine.
        assert_eq!(cluster.register(meta(Some(2), "tikv1"), at(3.0)), Ok(2));
        // An id PD does not know (PD restarted) is adopted; the counter moves past it.
        assert_eq!(cluster.register(meta(Some(9), "tikv9"), at(3.0)), Ok(9));
        assert_eq!(cluster.register(meta(None, "tikv10"), at(3.0)), Ok(10));
    }

    #[test]
    fn removed_store_goes_offline_then_tombstone_and_frees_its_address() {
        let mut cluster = three_stores();
        let spare = cluster.register(meta(None, "tikv3"), at(2.0)).unwrap();
        cluster.heartbeat(stats(spare), at(2.0)).unwrap();
        cluster.remove_store(1).unwrap();
        assert_eq!(state(&cluster, 1, at(2.0)), "Offline");
        cluster.tick(at(2.0));
        assert_eq!(state(&cluster, 1, at(2.0)), "Tombstone");
        assert!(
            cluster
                .regions()
                .unwrap()
                .iter()
                .all(|r| r.peers.len() == 3 && !r.has_store(1))
        );
        assert_eq!(
            cluster.heartbeat(stats(1), at(2.1)),
            Err(ClusterError::StoreRemoved(1))
        );
        assert_eq!(
            cluster.register(meta(Some(1), "tikv0"), at(2.1)),
            Err(ClusterError::StoreRemoved(1))
        );
        assert_eq!(cluster.register(meta(None, "tikv0"), at(2.1)), Ok(5));
    }

    #[test]
    fn snapshot_restores_everything_but_the_flags() {
        let mut cluster = three_stores();
        cluster.remove_store(3).unwrap();
        let changes = serde_json::json!({"max-store-down-time": "4s"});
        cluster
            .update_settings(changes.as_object().unwrap())
            .unwrap();
        let text = serde_json::to_string(&cluster.snapshot()).unwrap();
        let restored = Cluster::restore(options(), serde_json::from_str(&text).unwrap());
        assert_eq!(restored.snapshot(), cluster.snapshot());
        assert_eq!(
            restored.settings.max_store_down_time,
            Duration::from_secs(4)
        );
        assert_eq!(state(&restored, 2, at(6.0)), "Down");
        assert_eq!(state(&restored, 3, at(2.0)), "Offline");
    }

    #[test]
    fn nothing_answers_before_bootstrap() {
        let cluster = Cluster::new(options());
        assert_eq!(cluster.regions().err(), Some(ClusterError::NotBootstrapped));
        assert_eq!(cluster.store(1).err(), Some(ClusterError::NotBootstrapped));
    }
}
