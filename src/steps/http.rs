//! `http.request`: one HTTP request; with `until` it becomes a readiness or recovery wait.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Effect, StepDoc};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestParams {
    /// The full URL, e.g. `"http://127.0.0.1:2379/health"`. An `https://` server's certificate
    /// is checked against the system's CA roots; `SSL_CERT_FILE` / `SSL_CERT_DIR` replace them.
    pub url: String,
    /// HTTP method.
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A JSON body (sets `content-type: application/json`).
    #[serde(default)]
    pub json: Option<serde_json::Value>,
    /// A raw text body.
    #[serde(default)]
    pub body: Option<String>,
    /// Per-request timeout, so a dead endpoint never stalls a wait.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Status codes that count as success; empty (the default) accepts any response.
    #[serde(default)]
    pub expect_status: Vec<u16>,
    /// A request that gets no response (refused connection, no answer in time, broken
    /// response) is an output with `error` set instead of a failure, so `until` can wait for an
    /// endpoint to go down: `until = "output.error or output.json.health != 'true'"`.
    #[serde(default)]
    pub accept_errors: bool,
}

pub(super) fn default_method() -> String {
    "GET".into()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

pub const DOC: StepDoc = StepDoc {
    summary: "Send one HTTP request and capture the response. Connection failures are environment errors (exit 3); with `until`, they count as not ready yet; with `accept_errors`, they are an output.",
    outputs: &[
        ("status", "the HTTP status code"),
        ("headers", "response headers (lower-case names)"),
        ("body", "the response body as text"),
        ("json", "the body parsed as JSON, or null if it is not JSON"),
        (
            "elapsed_ms",
            "time to the complete response, in milliseconds",
        ),
        (
            "error",
            "with `accept_errors`: why no response came (status, body and json are then null); null otherwise",
        ),
    ],
    expressions: &[],
    read_only: true,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"health\"\nuses = \"http.request\"\nwith = { url = \"http://127.0.0.1:2379/health\" }\nuntil = \"output.status == 200\"\ntimeout = \"30s\"",
};

/// The request fields `http.request` and `load.http` share, borrowed from their parameters.
pub(super) struct RequestSpec<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub json: Option<&'a serde_json::Value>,
    pub body: Option<&'a str>,
    pub timeout: Duration,
}

impl RequestSpec<'_> {
    /// Builds the request without sending it, so a bad method, URL or header is a parameter
    /// error before anything goes out, and `load.http` can build once and clone per send.
    pub(super) fn build(&self, client: &reqwest::Client) -> Result<reqwest::Request, StepError> {
        let method = reqwest::Method::from_bytes(self.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| StepError::Params(format!("`{}` is not an HTTP method", self.method)))?;
        let mut request = client.request(method, self.url).timeout(self.timeout.0);
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        if let Some(json) = self.json {
            request = request.json(json);
        }
        if let Some(body) = self.body {
            request = request.body(body.to_owned());
        }
        request.build().map_err(|e| describe(self.url, e))
    }
}

pub async fn run(p: HttpRequestParams, cx: &StepContext) -> Result<serde_json::Value, StepError> {
    let request = RequestSpec {
        method: &p.method,
        url: &p.url,
        headers: &p.headers,
        json: p.json.as_ref(),
        body: p.body.as_deref(),
        timeout: p.timeout,
    }
    .build(cx.http())?;
    cx.status(format!("{} {}", request.method(), p.url));
    let start = std::time::Instant::now();
    let (status, headers, body) = match send(cx.http(), request, &p.url).await {
        Ok(response) => response,
        Err(StepError::Environment(error)) if p.accept_errors => {
            return Ok(serde_json::json!({
                "status": null,
                "headers": {},
                "body": null,
                "json": null,
                "elapsed_ms": start.elapsed().as_millis() as u64,
                "error": error,
            }));
        }
        Err(e) => return Err(e),
    };
    let json = serde_json::from_str::<serde_json::Value>(&body).unwrap_or(serde_json::Value::Null);
    let output = serde_json::json!({
        "status": status,
        "headers": headers,
        "body": body,
        "json": json,
        "elapsed_ms": start.elapsed().as_millis() as u64,
        "error": null,
    });
    if p.expect_status.is_empty() || p.expect_status.contains(&status) {
        Ok(output)
    } else {
        Err(StepError::Failed(format!(
            "{} answered {status}, expected {:?}",
            p.url, p.expect_status
        )))
    }
}

/// Sends the request and reads the whole response: status, headers (lower-case names), body.
async fn send(
    client: &reqwest::Client,
    request: reqwest::Request,
    url: &str,
) -> Result<(u16, BTreeMap<String, String>, String), StepError> {
    let response = client
        .execute(request)
        .await
        .map_err(|e| describe(url, e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response.text().await.map_err(|e| describe(url, e))?;
    Ok((status, headers, body))
}

fn describe(url: &str, e: reqwest::Error) -> StepError {
    let mut msg = format!("{url}: ");
    if e.is_timeout() {
        msg.push_str("no response in time");
    } else if e.is_connect() {
        msg.push_str("cannot connect");
    } else {
        msg.push_str("request failed");
    }
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_builder() {
        StepError::Params(msg)
    } else {
        StepError::Environment(msg)
    }
}
