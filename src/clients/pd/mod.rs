//! PD's HTTP API (`/pd/api/v1`, v8.5 shapes): typed models, a client with short timeouts
//! and errors classified for waits, and a stores summary for step outputs.
//!
//! PD facts the models follow (from PD's Go sources, see `tests/fixtures/pd/`):
//! zero values are omitted (`state` when Up, `last_heartbeat` when 0), newer PDs add fields,
//! capacities are strings such as `"311.7GiB"`, `last_heartbeat` is in nanoseconds, member
//! ids exceed `i64::MAX`, stores come in arbitrary order, and error bodies are JSON strings.

mod byte_size;
mod client;
mod error;
mod models;
mod store_state;
mod summary;

#[cfg(test)]
mod fixture_tests;

pub use byte_size::{ByteSize, ParseByteSizeError};
pub use client::{PdClient, PdClientOptions, find_config};
pub use error::PdError;
pub use models::{
    Cluster, ClusterStatus, DownPeer, HealthMember, Member, MembersResponse, ParseRegionCheckError,
    PdStatus, Peer, Region, RegionCheck, RegionEpoch, RegionStats, RegionsResponse, ResponseHeader,
    SlowTrend, Store, StoreInfo, StoreLabel, StoreStatus, StoresResponse,
};
pub use store_state::StoreState;
pub use summary::{StoreSummary, StoresSummary};
