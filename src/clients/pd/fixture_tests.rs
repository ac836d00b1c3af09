//! Every file of `tests/fixtures/pd/` decoded with the models (or, for error bodies, with
//! the error classifier). Real captures come from a v8.1.0 cluster; `constructed` files
//! follow PD's serialization rules.

use std::time::{Duration, UNIX_EPOCH};

use serde::de::DeserializeOwned;

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/pd/",
                $name
            )),
        )
    };
}

const CLUSTER: (&str, &str) = fixture!("cluster.tidb-operator.json");
const CLUSTER_STATUS: (&str, &str) = fixture!("cluster_status.constructed.json");
const CLUSTER_STATUS_NOT_BOOTSTRAPPED: (&str, &str) =
    fixture!("cluster_status.not-bootstrapped.constructed.json");
const ERROR_INVALID_INPUT: (&str, &str) = fixture!("error.invalid_input.400.constructed.json");
const ERROR_NOT_BOOTSTRAPPED: (&str, &str) =
    fixture!("error.not_bootstrapped.500.constructed.json");
const ERROR_STORE_NOT_FOUND: (&str, &str) = fixture!("error.store_not_found.404.constructed.json");
const ERROR_BAD_STATE: (&str, &str) = fixture!("error.stores_check_bad_state.400.constructed.json");
const HEALTH_ONE_UNHEALTHY: (&str, &str) = fixture!("health.constructed.one-unhealthy.json");
const HEALTH: (&str, &str) = fixture!("health.tidb-operator-v8.1.0.json");
const LEADER: (&str, &str) = fixture!("leader.tidb-operator-v8.1.0.json");
const MEMBERS: (&str, &str) = fixture!("members.tidb-operator-v8.1.0.json");
const OPERATORS_EMPTY: (&str, &str) = fixture!("operators.constructed.empty.json");
const REGIONS_CHECK_DOWN_PEER: (&str, &str) = fixture!("regions_check_down_peer.constructed.json");
const REGIONS_CHECK_EMPTY: (&str, &str) = fixture!("regions_check_empty.constructed.json");
const REGIONS_COUNT: (&str, &str) = fixture!("regions_count.constructed.json");
const SCHEDULERS: (&str, &str) = fixture!("schedulers.tidb-operator.json");
const STATS_REGION: (&str, &str) = fixture!("stats_region.constructed.v8.5.json");
const STATUS: (&str, &str) = fixture!("status.constructed.json");
const STORE_4: (&str, &str) = fixture!("store_4.tidb-operator-v8.1.0.json");
const STORES_DISCONNECTED: (&str, &str) =
    fixture!("stores.constructed.3tikv-one-disconnected.json");
const STORES_LIFECYCLE: (&str, &str) =
    fixture!("stores.constructed.down-offline-tombstone-preparing.json");
const STORES: (&str, &str) = fixture!("stores.tidb-operator-v8.1.0.json");
const VERSION: (&str, &str) = fixture!("version.constructed.json");

const ALL: [(&str, &str); 23] = [
    CLUSTER,
    CLUSTER_STATUS,
    CLUSTER_STATUS_NOT_BOOTSTRAPPED,
    ERROR_INVALID_INPUT,
    ERROR_NOT_BOOTSTRAPPED,
    ERROR_STORE_NOT_FOUND,
    ERROR_BAD_STATE,
    HEALTH_ONE_UNHEALTHY,
    HEALTH,
    LEADER,
    MEMBERS,
    OPERATORS_EMPTY,
    REGIONS_CHECK_DOWN_PEER,
    REGIONS_CHECK_EMPTY,
    REGIONS_COUNT,
    SCHEDULERS,
    STATS_REGION,
    STATUS,
    STORE_4,
    STORES_DISCONNECTED,
    STORES_LIFECYCLE,
    STORES,
    VERSION,
];

fn decode<T: DeserializeOwned>((name, text): (&str, &str)) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Decodes, serializes and decodes again: the serialized form is what step outputs carry,
/// and it must read back to the same value (sizes become plain numbers on the way).
fn round_trip<T: DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug>(
    fixture: (&str, &str),
) -> T {
    let value: T = decode(fixture);
    let json = serde_json::to_value(&value).unwrap();
    let back: T = serde_json::from_value(json).unwrap();
    assert_eq!(back, value, "{} does not round-trip", fixture.0);
    value
}

fn store(response: &StoresResponse, id: u64) -> &StoreInfo {
    response
        .stores
        .iter()
        .find(|info| info.store.id == id)
        .unwrap_or_else(|| panic!("no store {id}"))
}

fn answer((_, body): (&str, &str), status: u16) -> PdError {
    PdError::from_answer("GET http://pd/x".into(), status, body.as_bytes())
}

#[test]
fn every_fixture_file_is_covered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pd");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut covered: Vec<&str> = ALL.iter().map(|(name, _)| *name).collect();
    covered.sort();
    assert_eq!(on_disk, covered);
}

#[test]
fn real_stores_list_decodes_with_byte_sizes_and_nanosecond_heartbeats() {
    let stores: StoresResponse = round_trip(STORES);
    assert_eq!(stores.count, 4);
    // Arbitrary order: PD listed 4, 20, 1, 5.
    let ids: Vec<u64> = stores.stores.iter().map(|info| info.store.id).collect();
    assert_eq!(ids, [4, 20, 1, 5]);
    assert!(
        stores
            .stores
            .iter()
            .all(|info| info.store.state_name == StoreState::Up && info.store.state == 0)
    );

    let tikv = store(&stores, 4);
    assert_eq!(tikv.status.capacity.bytes(), 334_685_326_541); // "311.7GiB"
    assert_eq!(tikv.status.used_size.bytes(), 304_821_043); // "290.7MiB"
    assert_eq!(tikv.status.leader_count, 17);
    assert_eq!(tikv.status.region_count, 60);
    assert_eq!(tikv.store.node_state, 1);
    assert_eq!(tikv.store.engine(), "tikv");
    assert_eq!(
        tikv.store.last_heartbeat_time(),
        Some(UNIX_EPOCH + Duration::from_nanos(1_735_098_083_480_549_971))
    );
    // The nanosecond heartbeat and the RFC 3339 one are the same instant.
    assert_eq!(
        humantime::format_rfc3339_nanos(tikv.store.last_heartbeat_time().unwrap()).to_string(),
        tikv.status.last_heartbeat_ts.as_deref().unwrap()
    );

    let tiflash = store(&stores, 20);
    assert_eq!(tiflash.store.engine(), "tiflash");
    assert_eq!(tiflash.store.version, "v8.1.0");
    assert_eq!(tiflash.status.used_size.bytes(), 1);
    assert_eq!(
        tiflash.status.slow_trend.as_ref().unwrap().result_value,
        0.0
    );
}

#[test]
fn disconnected_store_is_named_by_state_name_only() {
    let stores: StoresResponse = round_trip(STORES_DISCONNECTED);
    let dead = store(&stores, 4);
    assert_eq!(dead.store.state_name, StoreState::Disconnected);
    // metapb still says Up (omitted, so 0): only state_name tells.
    assert_eq!(dead.store.state, 0);
    assert_eq!(dead.status.capacity.bytes(), 103_863_046_636); // "96.73GiB"

    let summary = stores.summary();
    assert_eq!(summary.count, 3);
    assert_eq!(summary.count_in(&StoreState::Up), 2);
    assert_eq!(summary.count_in(&StoreState::Disconnected), 1);
    assert_eq!(summary.count_in(&StoreState::Down), 0);
}

#[test]
fn lifecycle_states_and_omitted_zero_values() {
    let stores: StoresResponse = round_trip(STORES_LIFECYCLE);
    assert_eq!(stores.count, 4);

    let down = store(&stores, 1);
    assert_eq!(
        (down.store.state, down.store.state_name.clone()),
        (0, StoreState::Down)
    );

    let offline = store(&stores, 4);
    assert_eq!(offline.store.state, 1);
    assert_eq!(offline.store.node_state, 2); // Removing
    assert_eq!(offline.store.state_name, StoreState::Offline);

    let tombstone = store(&stores, 5);
    assert_eq!(tombstone.store.state, 2);
    assert_eq!(tombstone.store.node_state, 3); // Removed
    assert_eq!(tombstone.store.state_name, StoreState::Tombstone);

    // Registered but never heartbeated: no last_heartbeat, no node_state (Preparing = 0),
    // "0B" sizes, and none of the optional status fields.
    let preparing = store(&stores, 7);
    assert_eq!(preparing.store.state_name, StoreState::Down);
    assert_eq!(preparing.store.node_state, 0);
    assert_eq!(preparing.store.last_heartbeat, 0);
    assert_eq!(preparing.store.last_heartbeat_time(), None);
    assert_eq!(preparing.status.capacity, ByteSize(0));
    assert_eq!(preparing.status.slow_score, 0);
    assert_eq!(preparing.status.start_ts, None);
    assert_eq!(preparing.status.uptime, None);

    let summary = stores.summary();
    assert_eq!(summary.count_in(&StoreState::Down), 2);
    assert_eq!(summary.count_in(&StoreState::Offline), 1);
    assert_eq!(summary.count_in(&StoreState::Tombstone), 1);
    assert_eq!(summary.count_in(&StoreState::Up), 0);
}

#[test]
fn summary_is_sorted_stable_and_serializable() {
    let stores: StoresResponse = decode(STORES);
    let summary = stores.summary();
    let ids: Vec<u64> = summary.stores.iter().map(|store| store.id).collect();
    assert_eq!(ids, [1, 4, 5, 20]);

    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(json["count"], 4);
    assert_eq!(
        json["by_state"],
        serde_json::json!({"Up": 4, "Disconnected": 0, "Down": 0, "Offline": 0, "Tombstone": 0})
    );
    assert_eq!(
        json["stores"][0],
        serde_json::json!({
            "id": 1,
            "address": "basic-tikv-06vg39.basic-tikv-peer.default:20160",
            "engine": "tikv",
            "state": "Up",
            "leader_count": 25,
            "region_count": 60,
            "last_heartbeat": "2024-12-25T03:41:23.478896272Z",
        })
    );
    assert_eq!(json["stores"][3]["engine"], "tiflash");

    let never: StoresResponse = decode(STORES_LIFECYCLE);
    let json = serde_json::to_value(never.summary()).unwrap();
    assert_eq!(json["stores"][3]["id"], 7);
    assert!(json["stores"][3]["last_heartbeat"].is_null());
}

#[test]
fn models_serialize_with_snake_case_names_and_numeric_sizes() {
    let info: StoreInfo = decode(STORE_4);
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["store"]["state_name"], "Up");
    assert_eq!(
        json["store"]["last_heartbeat"],
        1_735_114_832_382_630_989_i64
    );
    assert_eq!(json["status"]["capacity"], 332_215_720_346_u64); // "309.4GiB"
    assert_eq!(json["status"]["leader_count"], 0);
    // Fields PD omitted are still present, so templates never meet an undefined key.
    assert_eq!(json["store"]["labels"], serde_json::json!([]));
    assert!(json["status"].get("is_busy").is_some());
}

#[test]
fn single_store_decodes() {
    let info: StoreInfo = round_trip(STORE_4);
    assert_eq!(info.store.id, 4);
    assert_eq!(
        info.store.status_address,
        "basic-tikv-5gzwgj.basic-tikv-peer.default:20180"
    );
    assert_eq!(info.status.available.bytes(), 234_934_711_091); // "218.8GiB"
    assert_eq!(info.status.region_count, 5);
    assert!((info.status.region_score - 10.683555392119445).abs() < 1e-12);
    assert_eq!(info.status.uptime.as_deref(), Some("5h15m29.382630989s"));
}

#[test]
fn unknown_and_null_fields_are_tolerated() {
    let json = r#"{"count":1,"stores":[{"store":{"id":9,"state_name":"Serving",
        "labels":null,"future_field":{"x":1}},"status":{"capacity":"1GiB","new_score":2.5}}],
        "next_page":null}"#;
    let stores: StoresResponse = serde_json::from_str(json).unwrap();
    let info = &stores.stores[0];
    assert_eq!(info.store.state_name, StoreState::Unknown("Serving".into()));
    assert!(info.store.labels.is_empty());
    assert_eq!(info.status.capacity.bytes(), 1 << 30);
    assert_eq!(
        stores
            .summary()
            .count_in(&StoreState::Unknown("Serving".into())),
        1
    );

    let empty: StoresResponse = serde_json::from_str(r#"{"count":0,"stores":null}"#).unwrap();
    assert!(empty.stores.is_empty());
}

#[test]
fn health_member_ids_exceed_i64() {
    let health: Vec<HealthMember> = round_trip(HEALTH);
    assert_eq!(health.len(), 3);
    assert!(health.iter().all(|member| member.health));
    assert_eq!(health[2].member_id, 12_818_309_996_638_325_969);
    assert!(health[2].member_id > i64::MAX as u64);
    assert_eq!(
        health[0].client_urls,
        ["http://basic-pd-7axwci.basic-pd-peer.default:2379"]
    );

    let one_unhealthy: Vec<HealthMember> = round_trip(HEALTH_ONE_UNHEALTHY);
    let unhealthy: Vec<&str> = one_unhealthy
        .iter()
        .filter(|member| !member.health)
        .map(|member| member.name.as_str())
        .collect();
    assert_eq!(unhealthy, ["pd1"]);
    assert_eq!(one_unhealthy[0].member_id, 13_195_394_291_058_371_180);
}

#[test]
fn members_and_leader_decode() {
    let members: MembersResponse = round_trip(MEMBERS);
    assert_eq!(members.header.cluster_id, 7_452_180_154_224_557_728);
    assert_eq!(members.members.len(), 3);
    assert_eq!(members.members[2].member_id, 12_818_309_996_638_325_969);
    let leader = members.leader.as_ref().unwrap();
    assert_eq!(leader.name, "basic-53pe89");
    assert_eq!(leader.binary_version, "v8.1.0");
    assert_eq!(members.etcd_leader.as_ref(), Some(leader));

    let alone: Member = round_trip(LEADER);
    assert_eq!(alone.member_id, 2_548_954_049_902_922_308);
    assert_eq!(
        alone.peer_urls,
        ["http://basic-pd-53pe89.basic-pd-peer.default:2380"]
    );
    // The leader endpoint omits deploy_path and friends.
    assert_eq!(alone.binary_version, "");
}

#[test]
fn cluster_and_cluster_status_decode() {
    let cluster: Cluster = round_trip(CLUSTER);
    assert_eq!(cluster.id, 7_452_180_154_224_557_728);
    assert_eq!(cluster.max_peer_count, 3);

    let ready: ClusterStatus = round_trip(CLUSTER_STATUS);
    assert!(ready.is_initialized);
    assert!(ready.is_bootstrapped());

    let fresh: ClusterStatus = round_trip(CLUSTER_STATUS_NOT_BOOTSTRAPPED);
    assert_eq!(fresh.raft_bootstrap_time, "0001-01-01T00:00:00Z");
    assert!(!fresh.is_initialized);
    assert!(!fresh.is_bootstrapped());
}

#[test]
fn pd_status_decodes() {
    let status: PdStatus = round_trip(STATUS);
    assert_eq!(status.version, "v8.5.1");
    assert_eq!(status.start_timestamp, 1_735_095_800);
}

#[test]
fn regions_check_and_count_decode() {
    let down: RegionsResponse = round_trip(REGIONS_CHECK_DOWN_PEER);
    assert_eq!(down.count, 1);
    let region = &down.regions[0];
    assert_eq!(region.id, 8);
    assert_eq!(region.start_key, "");
    assert_eq!(
        region.epoch,
        RegionEpoch {
            conf_ver: 5,
            version: 2
        }
    );
    assert_eq!(region.peers.len(), 3);
    assert_eq!(region.leader.as_ref().map(|peer| peer.store_id), Some(1));
    assert_eq!(region.down_peers[0].peer.store_id, 4);
    assert_eq!(region.down_peers[0].down_seconds, 642);
    assert_eq!(region.pending_peers[0].id, 10);
    assert_eq!(region.peers[0].role_name, "Voter");

    let empty: RegionsResponse = round_trip(REGIONS_CHECK_EMPTY);
    assert_eq!((empty.count, empty.regions.len()), (0, 0));

    // `regions` is null here.
    let count: RegionsResponse = round_trip(REGIONS_COUNT);
    assert_eq!(count.count, 33);
    assert!(count.regions.is_empty());
}

#[test]
fn region_check_names_match_pd_paths() {
    let names: Vec<String> = RegionCheck::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "miss-peer",
            "extra-peer",
            "pending-peer",
            "down-peer",
            "offline-peer",
            "empty-region"
        ]
    );
    for check in RegionCheck::ALL {
        assert_eq!(check.as_str().parse(), Ok(check));
        let json = serde_json::to_string(&check).unwrap();
        assert_eq!(serde_json::from_str::<RegionCheck>(&json).unwrap(), check);
    }
    assert!("down_peer".parse::<RegionCheck>().is_err());
}

#[test]
fn region_stats_are_keyed_by_store_id_strings() {
    let stats: RegionStats = round_trip(STATS_REGION);
    assert_eq!(stats.count, 33);
    assert_eq!(stats.empty_count, 30);
    assert_eq!(stats.store_leader_count.get(&4), Some(&11));
    assert_eq!(
        stats.store_peer_count.keys().copied().collect::<Vec<_>>(),
        [1, 4, 5]
    );
    assert_eq!(stats.store_leader_keys[&5], 702);
    assert_eq!(stats.store_leader_count.values().sum::<u64>(), stats.count);
    // And written back with string keys, as PD does.
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["store_peer_size"]["1"], 35);
}

#[test]
fn endpoints_without_a_dedicated_model_are_plain_json() {
    let schedulers: Vec<String> = decode(SCHEDULERS);
    assert!(schedulers.iter().any(|s| s == "evict-leader-scheduler"));
    assert_eq!(schedulers.len(), 5);

    let operators: Vec<serde_json::Value> = decode(OPERATORS_EMPTY);
    assert!(operators.is_empty());

    let version: serde_json::Map<String, serde_json::Value> = decode(VERSION);
    assert_eq!(version["version"], "v8.5.1");
}

#[test]
fn not_bootstrapped_body_is_its_own_error() {
    let err = answer(ERROR_NOT_BOOTSTRAPPED, 500);
    match &err {
        PdError::NotBootstrapped { message, .. } => assert_eq!(
            message,
            "[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped, please start TiKV first"
        ),
        other => panic!("expected NotBootstrapped, got {other:?}"),
    }
    assert!(err.is_not_ready());
}

#[test]
fn store_not_found_body_is_decoded_into_the_message() {
    let err = answer(ERROR_STORE_NOT_FOUND, 404);
    assert!(matches!(
        &err,
        PdError::Api { status: 404, message, .. } if message == "[PD:core:ErrStoreNotFound]store 99 not found"
    ));
    assert!(!err.is_not_ready());
    assert_eq!(
        err.to_string(),
        "GET http://pd/x answered 404: [PD:core:ErrStoreNotFound]store 99 not found"
    );
}

#[test]
fn bad_state_filter_body_is_decoded_into_the_message() {
    let err = answer(ERROR_BAD_STATE, 400);
    assert!(matches!(
        err,
        PdError::Api { status: 400, ref message, .. } if message == "unknown StoreState: foo"
    ));
}

#[test]
fn errcode_object_body_uses_its_msg() {
    let err = answer(ERROR_INVALID_INPUT, 400);
    assert!(matches!(
        err,
        PdError::Api { status: 400, ref message, .. }
            if message == "strconv.ParseUint: parsing \"abc\": invalid syntax"
    ));
}

#[test]
fn non_json_error_bodies_are_kept_as_one_trimmed_line() {
    let err = PdError::from_answer("GET x".into(), 503, b"no leader\n  elected yet\n");
    assert!(matches!(
        err,
        PdError::Api { status: 503, ref message, .. } if message == "no leader elected yet"
    ));
    assert!(err.is_not_ready());

    let err = PdError::from_answer("GET x".into(), 502, b"");
    assert!(matches!(err, PdError::Api { ref message, .. } if message == "(empty body)"));

    let long = "x".repeat(1000);
    let err = PdError::from_answer("GET x".into(), 500, long.as_bytes());
    let PdError::Api { message, .. } = err else {
        panic!("expected Api");
    };
    assert_eq!(message.chars().count(), 201);
    assert!(message.ends_with('…'));
}
