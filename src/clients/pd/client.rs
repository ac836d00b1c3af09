//! `PdClient`: one async method per PD endpoint chaosplay reads or writes.

use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{
    Cluster, ClusterStatus, HealthMember, Member, MembersResponse, PdError, PdStatus, RegionCheck,
    RegionStats, RegionsResponse, StoreInfo, StoreState, StoresResponse,
};

/// Every route lives under this prefix.
const API: &str = "/pd/api/v1";

/// Timeouts of a [`PdClient`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdClientOptions {
    /// Limit for a whole request, body included. Short by default: a wait polls again
    /// rather than hanging on a stopped or partitioned PD.
    pub timeout: Duration,
    /// Limit for establishing the TCP connection.
    pub connect_timeout: Duration,
}

impl Default for PdClientOptions {
    fn default() -> Self {
        PdClientOptions {
            timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
        }
    }
}

/// A client for PD's HTTP API (`/pd/api/v1`).
///
/// Cheap to clone. It keeps no idle connections: PD is the thing being killed and restarted,
/// and a pooled connection to the previous process would turn the next request into a
/// spurious failure.
#[derive(Debug, Clone)]
pub struct PdClient {
    http: reqwest::Client,
    /// Scheme, host, port and optional path prefix, without a trailing slash.
    base: String,
    options: PdClientOptions,
}

fn http_client(options: &PdClientOptions) -> Result<reqwest::Client, PdError> {
    crate::clients::http::builder()
        .connect_timeout(options.connect_timeout)
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|source| PdError::Client { source })
}

impl PdClient {
    /// A client with the default timeouts (2 s per request, 1 s to connect).
    ///
    /// `base_url` is PD's client URL, e.g. `http://127.0.0.1:2379`, with or without a trailing
    /// slash; without a scheme, `http://` is assumed.
    pub fn new(base_url: &str) -> Result<PdClient, PdError> {
        PdClient::with_options(base_url, PdClientOptions::default())
    }

    pub fn with_options(base_url: &str, options: PdClientOptions) -> Result<PdClient, PdError> {
        Ok(PdClient {
            http: http_client(&options)?,
            base: normalize_base_url(base_url)?,
            options,
        })
    }

    /// The normalized base URL (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn options(&self) -> PdClientOptions {
        self.options
    }

    /// `GET /ping`: 200 with an empty body once PD serves HTTP.
    pub async fn ping(&self) -> Result<(), PdError> {
        self.request(Method::GET, "/ping", None).await.map(drop)
    }

    /// `GET /stores`, optionally keeping only stores whose `state_name` is in `states`.
    ///
    /// - `None`: PD's default list, which **excludes Tombstone** stores.
    /// - `Some(states)`: every store including Tombstones (`?state=0&state=1&state=2`, the
    ///   numeric metapb states that every PD version accepts), filtered here by `state_name`.
    ///   PD cannot filter by Disconnected or Down itself: those are Up in metapb, and
    ///   `/stores/check?state=<name>` exists only from PD v7.5. `count` is recomputed.
    pub async fn stores(&self, states: Option<&[StoreState]>) -> Result<StoresResponse, PdError> {
        let Some(states) = states else {
            return self.get("/stores").await;
        };
        let mut response: StoresResponse = self.get("/stores?state=0&state=1&state=2").await?;
        response
            .stores
            .retain(|info| states.contains(&info.store.state_name));
        response.count = response.stores.len() as u64;
        Ok(response)
    }

    /// `GET /store/{id}`; an unknown id is [`PdError::Api`] with status 404.
    pub async fn store(&self, id: u64) -> Result<StoreInfo, PdError> {
        self.get(&format!("/store/{id}")).await
    }

    /// `GET /health`: one entry per PD member; 200 even when one is unhealthy.
    pub async fn health(&self) -> Result<Vec<HealthMember>, PdError> {
        self.get("/health").await
    }

    pub async fn members(&self) -> Result<MembersResponse, PdError> {
        self.get("/members").await
    }

    /// `GET /leader`: the current PD leader.
    pub async fn leader(&self) -> Result<Member, PdError> {
        self.get("/leader").await
    }

    /// `GET /cluster`: the cluster id and its replication factor.
    pub async fn cluster(&self) -> Result<Cluster, PdError> {
        self.get("/cluster").await
    }

    /// `GET /cluster/status`; see [`ClusterStatus::is_bootstrapped`].
    pub async fn cluster_status(&self) -> Result<ClusterStatus, PdError> {
        self.get("/cluster/status").await
    }

    /// `GET /status`: the PD build.
    pub async fn status(&self) -> Result<PdStatus, PdError> {
        self.get("/status").await
    }

    /// `GET /regions/count`.
    pub async fn regions_count(&self) -> Result<u64, PdError> {
        let response: RegionsResponse = self.get("/regions/count").await?;
        Ok(response.count)
    }

    /// `GET /regions/check/{kind}`.
    pub async fn regions_check(&self, kind: RegionCheck) -> Result<RegionsResponse, PdError> {
        self.get(&format!("/regions/check/{kind}")).await
    }

    /// `GET /stats/region`: region totals and per-store leader and peer counts.
    pub async fn stats_region(&self) -> Result<RegionStats, PdError> {
        self.get("/stats/region").await
    }

    /// `GET /config`: the whole configuration, nested by section, with kebab-case keys.
    /// Kept untyped: it is large, changes between versions and is only read by key.
    pub async fn config(&self) -> Result<Map<String, Value>, PdError> {
        self.get("/config").await
    }

    /// `POST /config` with `changes` as the JSON body, e.g. `{"max-store-down-time": "1m"}`
    /// (PD finds the section of each kebab-case key itself). PD rejects an unknown key with
    /// a 400, surfaced as [`PdError::Api`].
    pub async fn set_config(&self, changes: &Map<String, Value>) -> Result<(), PdError> {
        self.request(Method::POST, "/config", Some(changes))
            .await
            .map(drop)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, PdError> {
        let (endpoint, body) = self.request(Method::GET, path, None).await?;
        // Parsed whatever the content type says: PD writes some JSON as `text/plain`.
        serde_json::from_slice(&body).map_err(|source| PdError::decode(endpoint, &body, source))
    }

    /// Sends one request and returns `("METHOD URL", body)` for a 2xx answer.
    async fn request(
        &self,
        method: Method,
        path: &str,
        json: Option<&Map<String, Value>>,
    ) -> Result<(String, Vec<u8>), PdError> {
        let url = format!("{}{API}{path}", self.base);
        let endpoint = format!("{method} {url}");
        let mut request = self
            .http
            .request(method, &url)
            .timeout(self.options.timeout);
        if let Some(json) = json {
            request = request.json(json);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(source) => return Err(self.unreachable(endpoint, source)),
        };
        let status = response.status();
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(source) => return Err(self.unreachable(endpoint, source)),
        };
        if status.is_success() {
            Ok((endpoint, body))
        } else {
            Err(PdError::from_answer(endpoint, status.as_u16(), &body))
        }
    }

    /// Every transport failure means "no usable answer from PD". The base URL was validated
    /// up front, so builder errors cannot reach here.
    fn unreachable(&self, endpoint: String, source: reqwest::Error) -> PdError {
        let reason = match (source.is_timeout(), source.is_connect()) {
            (true, true) => format!(
                "cannot connect within {}",
                crate::duration::human(self.options.connect_timeout)
            ),
            (true, false) => format!(
                "no answer within {}",
                crate::duration::human(self.options.timeout)
            ),
            (false, true) => format!("cannot connect: {}", root_cause(&source)),
            (false, false) => format!("request failed: {}", root_cause(&source)),
        };
        PdError::Unreachable {
            endpoint,
            reason,
            source,
        }
    }
}

/// The innermost error: reqwest's own message only repeats the URL, the OS error
/// ("Connection refused") is what a user needs.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn normalize_base_url(input: &str) -> Result<String, PdError> {
    let invalid = |reason: String| PdError::InvalidUrl {
        url: input.to_string(),
        reason,
    };
    let trimmed = input.trim();
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_string()
    } else {
        format!("http://{trimmed}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "unsupported scheme `{}` (expected http or https)",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("missing host".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base url cannot have a query or fragment".into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// PD's config is nested by section (`schedule.max-store-down-time`); settings are set by
/// their bare name.
pub fn find_config(config: &Map<String, Value>, key: &str) -> Option<Value> {
    if let Some(v) = config.get(key) {
        return Some(v.clone());
    }
    config
        .values()
        .filter_map(Value::as_object)
        .find_map(|section| find_config(section, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_base_urls() {
        for (input, expected) in [
            ("http://127.0.0.1:2379", "http://127.0.0.1:2379"),
            ("http://127.0.0.1:2379/", "http://127.0.0.1:2379"),
            (" 127.0.0.1:2379 ", "http://127.0.0.1:2379"),
            ("localhost:2379", "http://localhost:2379"),
            (
                "https://pd.example:2379/proxy/",
                "https://pd.example:2379/proxy",
            ),
        ] {
            assert_eq!(normalize_base_url(input).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn rejects_unusable_base_urls() {
        for input in [
            "",
            "ftp://pd:2379",
            "http://pd:2379/?x=1",
            "http://:2379",
            "http://pd:99999",
        ] {
            let err = normalize_base_url(input).unwrap_err();
            assert!(matches!(err, PdError::InvalidUrl { .. }), "{input}: {err}");
        }
        assert_eq!(
            normalize_base_url("ftp://pd:2379").unwrap_err().to_string(),
            "invalid pd url \"ftp://pd:2379\": unsupported scheme `ftp` (expected http or https)"
        );
    }

    #[test]
    fn finds_nested_settings() {
        let config: Map<String, Value> = serde_json::from_str(
            r#"{"schedule": {"max-store-down-time": "30m0s", "leader-schedule-limit": 4}, "replication": {"max-replicas": 3}}"#,
        )
        .unwrap();
        assert_eq!(
            find_config(&config, "max-store-down-time"),
            Some(serde_json::json!("30m0s"))
        );
        assert_eq!(
            find_config(&config, "max-replicas"),
            Some(serde_json::json!(3))
        );
        assert_eq!(find_config(&config, "nope"), None);
    }
}
