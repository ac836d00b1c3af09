//! `PdClient` against a real HTTP server on 127.0.0.1 serving the PD fixtures with PD's real
//! status codes and content types.
//!
//! The server is a minimal hand-rolled HTTP/1.1 responder on a tokio `TcpListener`: one
//! request per connection (`Connection: close`), exact-match routes on method and request
//! target, and a record of every request so tests can check what the client sent.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chaosplay::clients::pd::{
    PdClient, PdClientOptions, PdError, RegionCheck, StoreState, StoresResponse,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/pd/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const JSON: &str = "application/json; charset=UTF-8";
/// What Go's `http.ResponseWriter` sniffs when a handler writes JSON without a content type.
const TEXT: &str = "text/plain; charset=utf-8";

#[derive(Clone)]
enum Reply {
    Answer {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// Accept the request and never answer (a stopped or partitioned PD).
    Stall,
}

fn answer(status: u16, content_type: &'static str, body: impl Into<String>) -> Reply {
    Reply::Answer {
        status,
        content_type,
        body: body.into(),
    }
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

type Routes = Arc<Vec<(&'static str, String, Reply)>>;

struct FakePd {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: JoinHandle<()>,
}

impl FakePd {
    /// Serves `routes` as `(method, request target, reply)`; anything else gets Go's 404.
    async fn start(routes: Vec<(&'static str, &str, Reply)>) -> FakePd {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Routes = Arc::new(
            routes
                .into_iter()
                .map(|(method, target, reply)| (method, target.to_string(), reply))
                .collect(),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        return;
                    };
                    tokio::spawn(serve(stream, routes.clone(), seen.clone()));
                }
            }
        });
        FakePd { base, seen, task }
    }

    fn client(&self) -> PdClient {
        PdClient::new(&self.base).unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakePd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, routes: Routes, seen: Arc<Mutex<Vec<Seen>>>) {
    let Some(request) = read_request(&mut stream).await else {
        return;
    };
    let reply = routes
        .iter()
        .find(|(method, target, _)| *method == request.method && *target == request.target)
        .map(|(_, _, reply)| reply.clone())
        .unwrap_or_else(|| answer(404, TEXT, "404 page not found\n"));
    seen.lock().unwrap().push(request);
    match reply {
        Reply::Answer {
            status,
            content_type,
            body,
        } => {
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                reason(status),
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
        // Bounded: the client gives up long before, and the server task is aborted on drop.
        Reply::Stall => tokio::time::sleep(Duration::from_secs(30)).await,
    }
}

/// Reads one request: head up to the blank line, then `Content-Length` bytes of body.
async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > 64 * 1024 {
            return None;
        }
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

fn ids(response: &StoresResponse) -> Vec<u64> {
    let mut ids: Vec<u64> = response.stores.iter().map(|info| info.store.id).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn stores_without_filter_is_pds_default_list() {
    let pd = FakePd::start(vec![(
        "GET",
        "/pd/api/v1/stores",
        answer(200, JSON, fixture("stores.tidb-operator-v8.1.0.json")),
    )])
    .await;
    let stores = pd.client().stores(None).await.unwrap();
    assert_eq!(stores.count, 4);
    assert_eq!(ids(&stores), [1, 4, 5, 20]);
    assert_eq!(stores.summary().count_in(&StoreState::Up), 4);
    let seen = pd.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("GET", "/pd/api/v1/stores")
    );
}

#[tokio::test]
async fn stores_with_a_state_filter_includes_tombstones_and_filters_by_name() {
    let pd = FakePd::start(vec![(
        "GET",
        "/pd/api/v1/stores?state=0&state=1&state=2",
        answer(
            200,
            JSON,
            fixture("stores.constructed.down-offline-tombstone-preparing.json"),
        ),
    )])
    .await;
    let client = pd.client();

    let tombstones = client.stores(Some(&[StoreState::Tombstone])).await.unwrap();
    assert_eq!(ids(&tombstones), [5]);
    assert_eq!(tombstones.count, 1);

    let down = client.stores(Some(&[StoreState::Down])).await.unwrap();
    assert_eq!(ids(&down), [1, 7]);

    let leaving = client
        .stores(Some(&[StoreState::Offline, StoreState::Tombstone]))
        .await
        .unwrap();
    assert_eq!(ids(&leaving), [4, 5]);

    let up = client.stores(Some(&[StoreState::Up])).await.unwrap();
    assert_eq!((up.count, up.stores.len()), (0, 0));
    assert_eq!(pd.seen().len(), 4);
}

#[tokio::test]
async fn disconnected_is_filtered_client_side() {
    let pd = FakePd::start(vec![(
        "GET",
        "/pd/api/v1/stores?state=0&state=1&state=2",
        answer(
            200,
            JSON,
            fixture("stores.constructed.3tikv-one-disconnected.json"),
        ),
    )])
    .await;
    let disconnected = pd
        .client()
        .stores(Some(&[StoreState::Disconnected]))
        .await
        .unwrap();
    assert_eq!(ids(&disconnected), [4]);
    assert_eq!(disconnected.stores[0].store.address, "tikv1:20160");
}

#[tokio::test]
async fn not_bootstrapped_500_is_not_ready_yet() {
    let body = fixture("error.not_bootstrapped.500.constructed.json");
    let pd = FakePd::start(vec![
        ("GET", "/pd/api/v1/stores", answer(500, JSON, body.clone())),
        ("GET", "/pd/api/v1/regions/count", answer(500, JSON, body)),
    ])
    .await;
    let client = pd.client();
    for err in [
        client.stores(None).await.unwrap_err(),
        client.regions_count().await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, PdError::NotBootstrapped { message, .. } if message.starts_with("[PD:cluster:ErrNotBootstrapped]")),
            "{err:?}"
        );
        assert!(err.is_not_ready());
    }
}

#[tokio::test]
async fn store_not_found_404_is_an_api_error_with_the_decoded_message() {
    let pd = FakePd::start(vec![(
        "GET",
        "/pd/api/v1/store/99",
        answer(
            404,
            JSON,
            fixture("error.store_not_found.404.constructed.json"),
        ),
    )])
    .await;
    let err = pd.client().store(99).await.unwrap_err();
    match &err {
        PdError::Api {
            status, message, ..
        } => {
            assert_eq!(*status, 404);
            assert_eq!(message, "[PD:core:ErrStoreNotFound]store 99 not found");
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert!(!err.is_not_ready());
    assert_eq!(
        err.to_string(),
        format!(
            "GET {}/pd/api/v1/store/99 answered 404: [PD:core:ErrStoreNotFound]store 99 not found",
            pd.base
        )
    );
}

#[tokio::test]
async fn an_existing_store_is_decoded() {
    let pd = FakePd::start(vec![(
        "GET",
        "/pd/api/v1/store/4",
        answer(200, JSON, fixture("store_4.tidb-operator-v8.1.0.json")),
    )])
    .await;
    let info = pd.client().store(4).await.unwrap();
    assert_eq!(info.store.id, 4);
    assert_eq!(info.store.state_name, StoreState::Up);
}

#[tokio::test]
async fn region_checks_are_decoded_whatever_the_content_type() {
    let pd = FakePd::start(vec![
        (
            "GET",
            "/pd/api/v1/regions/check/down-peer",
            answer(
                200,
                TEXT,
                fixture("regions_check_down_peer.constructed.json"),
            ),
        ),
        (
            "GET",
            "/pd/api/v1/regions/check/empty-region",
            answer(
                200,
                "application/octet-stream",
                fixture("regions_check_empty.constructed.json"),
            ),
        ),
    ])
    .await;
    let client = pd.client();
    let down = client.regions_check(RegionCheck::DownPeer).await.unwrap();
    assert_eq!(down.count, 1);
    assert_eq!(down.regions[0].down_peers[0].peer.store_id, 4);
    let empty = client
        .regions_check(RegionCheck::EmptyRegion)
        .await
        .unwrap();
    assert_eq!(empty.count, 0);
}

#[tokio::test]
async fn set_config_posts_the_changes_as_json() {
    let pd = FakePd::start(vec![(
        "POST",
        "/pd/api/v1/config",
        answer(200, JSON, "\"The config is updated.\"\n"),
    )])
    .await;
    let changes = json!({"max-store-down-time": "1m", "max-replicas": 3});
    pd.client()
        .set_config(changes.as_object().unwrap())
        .await
        .unwrap();
    let seen = pd.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    let posted: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(posted, changes);
}

#[tokio::test]
async fn set_config_rejection_is_an_api_error() {
    let pd = FakePd::start(vec![(
        "POST",
        "/pd/api/v1/config",
        answer(400, JSON, "\"config item max-store-dawn-time not found\"\n"),
    )])
    .await;
    let changes = json!({"max-store-dawn-time": "1m"});
    let err = pd
        .client()
        .set_config(changes.as_object().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PdError::Api { status: 400, message, .. } if message == "config item max-store-dawn-time not found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn every_read_endpoint_decodes_and_a_trailing_slash_is_accepted() {
    let config = json!({
        "client-urls": "http://0.0.0.0:2379",
        "schedule": {"max-store-down-time": "30m0s", "leader-schedule-limit": 4},
        "replication": {"max-replicas": 3, "location-labels": ""}
    });
    let pd = FakePd::start(vec![
        ("GET", "/pd/api/v1/ping", answer(200, TEXT, "")),
        (
            "GET",
            "/pd/api/v1/health",
            answer(200, JSON, fixture("health.constructed.one-unhealthy.json")),
        ),
        (
            "GET",
            "/pd/api/v1/members",
            answer(200, JSON, fixture("members.tidb-operator-v8.1.0.json")),
        ),
        (
            "GET",
            "/pd/api/v1/leader",
            answer(200, JSON, fixture("leader.tidb-operator-v8.1.0.json")),
        ),
        (
            "GET",
            "/pd/api/v1/cluster",
            answer(200, JSON, fixture("cluster.tidb-operator.json")),
        ),
        (
            "GET",
            "/pd/api/v1/cluster/status",
            answer(200, JSON, fixture("cluster_status.constructed.json")),
        ),
        (
            "GET",
            "/pd/api/v1/status",
            answer(200, JSON, fixture("status.constructed.json")),
        ),
        (
            "GET",
            "/pd/api/v1/regions/count",
            answer(200, JSON, fixture("regions_count.constructed.json")),
        ),
        (
            "GET",
            "/pd/api/v1/stats/region",
            answer(200, JSON, fixture("stats_region.constructed.v8.5.json")),
        ),
        (
            "GET",
            "/pd/api/v1/config",
            answer(200, JSON, config.to_string()),
        ),
    ])
    .await;
    let client = PdClient::new(&format!("{}/", pd.base)).unwrap();
    assert_eq!(client.base_url(), pd.base);

    client.ping().await.unwrap();
    let health = client.health().await.unwrap();
    assert_eq!(health.iter().filter(|member| !member.health).count(), 1);
    assert!(health[0].member_id > i64::MAX as u64);
    let members = client.members().await.unwrap();
    assert_eq!(members.leader.unwrap().name, "basic-53pe89");
    assert_eq!(
        client.leader().await.unwrap().member_id,
        2_548_954_049_902_922_308
    );
    assert_eq!(client.cluster().await.unwrap().max_peer_count, 3);
    assert!(client.cluster_status().await.unwrap().is_bootstrapped());
    assert_eq!(client.status().await.unwrap().version, "v8.5.1");
    assert_eq!(client.regions_count().await.unwrap(), 33);
    assert_eq!(
        client.stats_region().await.unwrap().store_leader_count[&1],
        11
    );
    let got = client.config().await.unwrap();
    assert_eq!(got["schedule"]["max-store-down-time"], "30m0s");

    let targets: Vec<String> = pd.seen().into_iter().map(|seen| seen.target).collect();
    assert!(
        targets
            .iter()
            .all(|target| target.starts_with("/pd/api/v1/")),
        "{targets:?}"
    );
    assert_eq!(targets.len(), 10);
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_a_decode_error_with_a_snippet() {
    let pd = FakePd::start(vec![(
        "GET",
        "/pd/api/v1/health",
        answer(
            200,
            "text/html",
            "<html>\n<body>proxy login</body>\n</html>\n",
        ),
    )])
    .await;
    let err = pd.client().health().await.unwrap_err();
    match &err {
        PdError::Decode {
            endpoint, snippet, ..
        } => {
            assert_eq!(endpoint, &format!("GET {}/pd/api/v1/health", pd.base));
            assert_eq!(snippet, "<html> <body>proxy login</body> </html>");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
    assert!(!err.is_not_ready());
}

#[tokio::test]
async fn an_unknown_route_is_an_api_error() {
    // A PD too old for an endpoint answers with Go's default 404 text.
    let pd = FakePd::start(vec![]).await;
    let err = pd.client().stats_region().await.unwrap_err();
    assert!(
        matches!(&err, PdError::Api { status: 404, message, .. } if message == "404 page not found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_dead_port_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = PdClient::new(&base).unwrap().ping().await.unwrap_err();
    match &err {
        PdError::Unreachable {
            endpoint, reason, ..
        } => {
            assert_eq!(endpoint, &format!("GET {base}/pd/api/v1/ping"));
            assert!(reason.starts_with("cannot connect"), "{reason}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(err.is_not_ready());
}

#[tokio::test]
async fn a_silent_pd_is_unreachable_after_the_request_timeout() {
    let pd = FakePd::start(vec![("GET", "/pd/api/v1/stores", Reply::Stall)]).await;
    let client = PdClient::with_options(
        &pd.base,
        PdClientOptions {
            timeout: Duration::from_millis(300),
            ..PdClientOptions::default()
        },
    )
    .unwrap();
    let err = client.stores(None).await.unwrap_err();
    match &err {
        PdError::Unreachable { reason, .. } => assert_eq!(reason, "no answer within 300ms"),
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(err.is_not_ready());
}
