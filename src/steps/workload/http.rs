//! `workload.http`: the recorded workload of `workload.etcd` against any store that speaks
//! HTTP, described by the playbook instead of code: per operation a request template, and
//! expressions over the response that decide its outcome and extract what a read returned.
//!
//! The templates are rendered per operation, with its `key`, `value`, `expected`, `client`
//! and `endpoint`, so `requests` is not rendered with `with` before the step runs (it is
//! listed in the doc's `expressions`); validation compiles each template and expression and
//! checks the names they read (`http_requests` in the playbook validator).

use std::collections::BTreeMap;

use minijinja::Environment;
use minijinja::value::Serde;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Store, WorkloadModel, default_clients, default_keys, default_rate};
use super::{default_timeout, history_path, record};
use crate::duration::Duration;
use crate::engine::{StepContext, StepError};
use crate::history::{Call, Outcome};
use crate::steps::{Effect, OutOfBounds, Params, StepDoc};

/// Names a request template reads: the operation's.
pub const REQUEST_NAMES: &[&str] = &["key", "value", "expected", "client", "endpoint"];
/// Names a response expression reads.
pub const RESPONSE_NAMES: &[&str] = &["status", "body", "json", "headers"];
/// Fields of a request that are templates; the others (`ok`, `fail`, `value`) are expressions.
pub const TEMPLATE_FIELDS: &[&str] = &["method", "url", "headers", "body"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpWorkloadParams {
    /// Base URLs of the store's nodes, read as `endpoint` in the request templates; client
    /// slot `i` is pinned to `endpoints[i % n]`.
    pub endpoints: Vec<String>,
    /// `register` (read / write / cas) or `kv` (get / put / append).
    #[serde(default)]
    pub model: WorkloadModel,
    /// One request per operation of the model (`read`, `write`, `cas`, or `get`, `put`,
    /// `append`). Its templates and expressions are evaluated per operation, not before the
    /// step.
    pub requests: BTreeMap<String, HttpRequest>,
    /// Concurrent clients, 1–256.
    #[serde(default = "default_clients")]
    #[schemars(range(min = 1, max = 256))]
    pub clients: u32,
    /// Keys operated on, 1–1000, each its own register or value (checked apart). The store
    /// must hold none of them when the step starts: the models start empty.
    #[serde(default = "default_keys")]
    #[schemars(range(min = 1, max = 1000))]
    pub keys: u32,
    /// The keys' names start with this.
    #[serde(default = "default_http_prefix")]
    pub key_prefix: String,
    /// Operations per second, all clients together, 1–10000.
    #[serde(default = "default_rate")]
    #[schemars(range(min = 1, max = 10000))]
    pub rate: u32,
    /// How long to issue operations, at most 1h.
    pub duration: Duration,
    /// Stop after this many operations, whatever the duration.
    #[serde(default)]
    pub max_ops: Option<u64>,
    /// Per-request timeout (at most 1m): a request without an answer by then is unknown.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// Where to write the history; by default
    /// `chaosplay-histories/<scenario>-t<trial>-<step>-<started_at>.jsonl`.
    #[serde(default)]
    pub file: Option<String>,
}

/// One operation's request, and how its response is judged.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequest {
    /// Template of the method, `GET` by default.
    #[serde(default = "default_method")]
    pub method: String,
    /// Template of the URL, e.g. `"{{ endpoint }}/kv/{{ key }}"`.
    pub url: String,
    /// Templates of header values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Template of the body; none by default.
    #[serde(default)]
    pub body: Option<String>,
    /// Expression over `status`, `body`, `json`, `headers`: the operation certainly
    /// happened. By default a 2xx status.
    #[serde(default = "default_ok")]
    pub ok: String,
    /// Expression: the operation certainly did not happen (a rejected request, a failed
    /// compare-and-set precondition). By default a 4xx status. Neither `ok` nor `fail`
    /// (a 5xx, a timeout, a lost connection) is unknown.
    #[serde(default = "default_fail")]
    pub fail: String,
    /// Expression of the value a `read` or `get` returned (`none` for no value), e.g.
    /// `json.value`; evaluated when `ok` holds.
    #[serde(default)]
    pub value: Option<String>,
}

fn default_http_prefix() -> String {
    "chaosplay-".into()
}
fn default_method() -> String {
    "GET".into()
}
fn default_ok() -> String {
    "status >= 200 and status < 300".into()
}
fn default_fail() -> String {
    "status >= 400 and status < 500".into()
}

/// The operations a model issues: each needs a request.
fn functions(model: WorkloadModel) -> [&'static str; 3] {
    match model {
        WorkloadModel::Register => ["read", "write", "cas"],
        WorkloadModel::Kv => ["get", "put", "append"],
    }
}

impl Params for HttpWorkloadParams {
    fn bounds(&self) -> Vec<OutOfBounds> {
        let mut broken = self.shape().bounds(self.endpoints.is_empty());
        let needed = functions(self.model);
        for f in needed {
            if !self.requests.contains_key(f) {
                broken.push(OutOfBounds::new(
                    "requests",
                    format!(
                        "`requests` needs `{f}`: the {} model issues {}",
                        super::model_name(self.model),
                        needed.join(", ")
                    ),
                ));
            }
        }
        for f in self
            .requests
            .keys()
            .filter(|f| !needed.contains(&f.as_str()))
        {
            broken.push(OutOfBounds::new(
                "requests",
                format!(
                    "`requests.{f}` is not an operation of the {} model ({})",
                    super::model_name(self.model),
                    needed.join(", ")
                ),
            ));
        }
        for (f, r) in &self.requests {
            if matches!(f.as_str(), "read" | "get") && r.value.is_none() {
                broken.push(OutOfBounds::new(
                    "requests",
                    format!("`requests.{f}` needs `value`: the expression of what it read"),
                ));
            }
        }
        broken
    }
}

pub const HTTP_DOC: StepDoc = StepDoc {
    summary: "Record a workload against any store that speaks HTTP for `history.check`, as `workload.etcd` does against etcd: per operation of the model (`read`/`write`/`cas` or `get`/`put`/`append`) a request template rendered with the operation's `key`, `value`, `expected`, `client` and `endpoint`, and expressions over the response (`status`, `body`, `json`, `headers`) saying whether it certainly happened (`ok`, and what it read: `value`), certainly did not (`fail`), or neither (unknown, as are timeouts and lost connections). A client whose operation is unknown is retired for a new client id.",
    outputs: super::ETCD_DOC.outputs,
    expressions: &["requests"],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"workload\"\nuses = \"workload.http\"\nbackground = true\n[steps.with]\nendpoints = [\"http://127.0.0.1:8080\"]\nduration = \"20s\"\nrequests.read = { url = \"{{ endpoint }}/r/{{ key }}\", value = \"json.value\" }\nrequests.write = { method = \"PUT\", url = \"{{ endpoint }}/r/{{ key }}\", body = \"{{ value }}\" }\nrequests.cas = { method = \"POST\", url = \"{{ endpoint }}/cas/{{ key }}?from={{ expected }}&to={{ value }}\", fail = \"status == 409\" }",
};

pub async fn http(p: HttpWorkloadParams, cx: &StepContext) -> Result<Value, StepError> {
    let path = history_path(p.file.as_deref(), cx)?;
    let target = Target {
        env: crate::template::environment(),
        http: crate::clients::http::client().clone(),
        timeout: p.timeout.0,
        requests: &p.requests,
    };
    let stores: Vec<Store> = p
        .endpoints
        .iter()
        .map(|e| {
            Store::Http(Endpoint {
                target: &target,
                base: e.trim_end_matches('/'),
            })
        })
        .collect();
    record(&p.shape(), &stores, &path, cx).await
}

/// What every endpoint shares.
struct Target<'a> {
    env: Environment<'static>,
    http: reqwest::Client,
    timeout: std::time::Duration,
    requests: &'a BTreeMap<String, HttpRequest>,
}

/// One base URL of the store, which a client slot is pinned to.
pub(super) struct Endpoint<'a> {
    target: &'a Target<'a>,
    base: &'a str,
}

/// An operation that could not be performed as the playbook describes it: what to record,
/// and why (a template or expression that cannot be evaluated).
type Broken = ((Call, Outcome), String);

impl Endpoint<'_> {
    /// Performs the call: the call as recorded (with a read's result) and its outcome.
    pub(super) async fn perform(
        &self,
        key: &str,
        call: Call,
        client: u64,
    ) -> Result<(Call, Outcome), Broken> {
        let (f, names) = self.names(key, &call, client);
        let Some(request) = self.target.requests.get(f) else {
            return Err(((call, Outcome::Fail), format!("no request for `{f}`")));
        };
        let built = match self.build(f, request, &names) {
            Ok(built) => built,
            // Never sent: it certainly did not happen.
            Err(why) => return Err(((call, Outcome::Fail), why)),
        };
        let response = match built.send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() || e.is_builder() => return Ok((call, Outcome::Fail)),
            Err(_) => return Ok((call, Outcome::Unknown)),
        };
        let status = response.status().as_u16();
        let headers: BTreeMap<String, String> = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                )
            })
            .collect();
        // The answer started but did not finish: whatever it said is lost.
        let Ok(body) = response.text().await else {
            return Ok((call, Outcome::Unknown));
        };
        let json = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null);
        let seen = json!({ "status": status, "body": body, "json": json, "headers": headers });
        self.judge(f, request, call, &seen)
            .map_err(|(call, why)| ((call, Outcome::Unknown), why))
    }

    /// The operation's name and the names its request templates read.
    fn names(&self, key: &str, call: &Call, client: u64) -> (&'static str, Value) {
        let (f, value, expected) = match call {
            Call::Read(_) => ("read", Value::Null, Value::Null),
            Call::Write(v) => ("write", json!(v), Value::Null),
            Call::Cas { from, to } => ("cas", json!(to), json!(from)),
            Call::Get(_) => ("get", Value::Null, Value::Null),
            Call::Put(v) => ("put", json!(v), Value::Null),
            Call::Append(v) => ("append", json!(v), Value::Null),
        };
        let names = json!({
            "key": key, "value": value, "expected": expected, "client": client,
            "endpoint": self.base,
        });
        (f, names)
    }

    fn build(
        &self,
        f: &str,
        request: &HttpRequest,
        names: &Value,
    ) -> Result<reqwest::RequestBuilder, String> {
        let names = minijinja::Value::from(Serde(names));
        let render = |field: &str, text: &str| {
            self.target
                .env
                .render_str(text, &names)
                .map_err(|e| evaluation_error(f, field, text, &e))
        };
        let method = render("method", &request.method)?;
        let method = reqwest::Method::from_bytes(method.trim().as_bytes())
            .map_err(|_| format!("`requests.{f}.method`: `{method}` is not an HTTP method"))?;
        let mut built = self
            .target
            .http
            .request(method, render("url", &request.url)?)
            .timeout(self.target.timeout);
        for (name, value) in &request.headers {
            built = built.header(name, render("headers", value)?);
        }
        if let Some(body) = &request.body {
            built = built.body(render("body", body)?);
        }
        Ok(built)
    }

    /// The outcome `ok` and `fail` give the response, and for a read what `value` says it read.
    fn judge(
        &self,
        f: &str,
        request: &HttpRequest,
        call: Call,
        seen: &Value,
    ) -> Result<(Call, Outcome), (Call, String)> {
        let seen = minijinja::Value::from(Serde(seen));
        let eval = |field: &str, expr: &str| {
            self.target
                .env
                .compile_expression(expr)
                .and_then(|e| e.eval(&seen))
                .map_err(|e| evaluation_error(f, field, expr, &e))
        };
        let ok = match eval("ok", &request.ok) {
            Ok(ok) => ok.is_true(),
            Err(why) => return Err((call, why)),
        };
        if !ok {
            return match eval("fail", &request.fail) {
                Ok(fail) if fail.is_true() => Ok((call, Outcome::Fail)),
                Ok(_) => Ok((call, Outcome::Unknown)),
                Err(why) => Err((call, why)),
            };
        }
        let Some(expr) = request.value.as_deref() else {
            return Ok((call, Outcome::Ok));
        };
        let read = match eval("value", expr) {
            Ok(read) => read,
            Err(why) => return Err((call, why)),
        };
        Ok(read_call(&call, &read))
    }
}

/// A read's call with what it read. A register value that is not an integer was not
/// written by this workload: the read tells nothing checkable, as in `workload.etcd`.
fn read_call(call: &Call, read: &minijinja::Value) -> (Call, Outcome) {
    let none = read.is_none() || read.is_undefined();
    match call {
        Call::Read(_) if none => (Call::Read(None), Outcome::Ok),
        Call::Read(_) => match i64::try_from(read.clone())
            .ok()
            .or_else(|| read.as_str().and_then(|s| s.trim().parse().ok()))
        {
            Some(v) => (Call::Read(Some(v)), Outcome::Ok),
            None => (Call::Read(None), Outcome::Fail),
        },
        Call::Get(_) if none => (Call::Get(String::new()), Outcome::Ok),
        Call::Get(_) => (Call::Get(read.to_string()), Outcome::Ok),
        other => (other.clone(), Outcome::Ok),
    }
}

fn evaluation_error(f: &str, field: &str, text: &str, e: &minijinja::Error) -> String {
    format!(
        "`requests.{f}.{field}` (`{text}`): {}",
        crate::template::error_message(e)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a read's `value` expression gives becomes the recorded result: none is no value,
    /// an integer or its text is the register's, anything else was not written by the
    /// workload.
    #[test]
    fn a_read_records_what_its_value_expression_gives() {
        let read = |v: minijinja::Value| read_call(&Call::Read(None), &v);
        assert_eq!(
            read(minijinja::Value::from(())),
            (Call::Read(None), Outcome::Ok)
        );
        assert_eq!(read(7.into()), (Call::Read(Some(7)), Outcome::Ok));
        assert_eq!(read(" 7".into()), (Call::Read(Some(7)), Outcome::Ok));
        assert_eq!(read("seven".into()), (Call::Read(None), Outcome::Fail));
        let get = read_call(&Call::Get(String::new()), &"0.1,".into());
        assert_eq!(get, (Call::Get("0.1,".into()), Outcome::Ok));
    }

    /// A model's operations each need a request, reads a `value`, and no other is accepted.
    #[test]
    fn the_requests_must_match_the_model() {
        let p: HttpWorkloadParams = serde_json::from_value(json!({
            "endpoints": ["http://127.0.0.1:1"], "duration": "1s",
            "requests": {
                "read": { "url": "u" }, "write": { "url": "u" }, "get": { "url": "u" },
            },
        }))
        .unwrap();
        let broken: Vec<String> = p.bounds().into_iter().map(|b| b.message).collect();
        assert_eq!(broken.len(), 4, "{broken:?}");
    }
}
