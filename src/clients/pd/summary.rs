//! A compact view of a stores list: what `pd.wait_stores` checks and `pd.capture` records.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use super::{StoreInfo, StoreState, StoresResponse};

/// Per-state counts and one line per store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoresSummary {
    /// Number of stores listed.
    pub count: usize,
    /// Stores per `state_name`. Every known state is present, with 0 when no store is in it,
    /// so an expression like `by_state.Disconnected == 1` never hits an undefined key.
    pub by_state: BTreeMap<StoreState, usize>,
    /// Sorted by id: PD lists stores in arbitrary order, reports must not.
    pub stores: Vec<StoreSummary>,
}

impl StoresSummary {
    /// How many stores are in `state`.
    pub fn count_in(&self, state: &StoreState) -> usize {
        self.by_state.get(state).copied().unwrap_or(0)
    }
}

/// The fields of a store that a chaos scenario reasons about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreSummary {
    pub id: u64,
    pub address: String,
    /// `"tikv"`, or the `engine` label's value (`"tiflash"`).
    pub engine: String,
    pub state: StoreState,
    /// As of the store's last heartbeat: a dead store keeps its last counts.
    pub leader_count: u64,
    pub region_count: u64,
    /// RFC 3339 with nanoseconds when serialized; `None` if the store never heartbeated.
    #[serde(serialize_with = "serialize_time")]
    pub last_heartbeat: Option<SystemTime>,
}

impl From<&StoreInfo> for StoreSummary {
    fn from(info: &StoreInfo) -> Self {
        StoreSummary {
            id: info.store.id,
            address: info.store.address.clone(),
            engine: info.store.engine().to_string(),
            state: info.store.state_name.clone(),
            leader_count: info.status.leader_count,
            region_count: info.status.region_count,
            last_heartbeat: info.store.last_heartbeat_time(),
        }
    }
}

impl StoresResponse {
    pub fn summary(&self) -> StoresSummary {
        let mut by_state: BTreeMap<StoreState, usize> = StoreState::KNOWN
            .into_iter()
            .map(|state| (state, 0))
            .collect();
        let mut stores: Vec<StoreSummary> = self.stores.iter().map(StoreSummary::from).collect();
        stores.sort_by_key(|store| store.id);
        for store in &stores {
            *by_state.entry(store.state.clone()).or_insert(0) += 1;
        }
        StoresSummary {
            count: stores.len(),
            by_state,
            stores,
        }
    }
}

fn serialize_time<S: Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.collect_str(&humantime::format_rfc3339_nanos(*time)),
        None => serializer.serialize_none(),
    }
}
