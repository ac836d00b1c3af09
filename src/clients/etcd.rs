//! `EtcdClient`: etcd's v3 API through its JSON gateway (grpc-gateway) on the client port, so
//! chaosplay needs no gRPC stack: `POST /v3/<service>/<method>` with the request message as
//! JSON. Keys and values are base64 in both directions, and 64-bit integers are strings.
//!
//! Errors are classified by what a caller may conclude: a request that never reached etcd
//! (connection refused, bad address) certainly did nothing; one that timed out or was
//! answered with an error may or may not have taken effect (etcd answers "request timed out"
//! or "leader changed" for a proposal it may still commit).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A failed etcd request; `endpoint` is the URL asked.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    #[error("invalid etcd endpoint {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// No connection was made: the request certainly did nothing.
    #[error("etcd unreachable: {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// Sent, but no answer in time (or the connection broke): it may have taken effect.
    #[error("no answer from {endpoint} in time: {reason}")]
    NoAnswer { endpoint: String, reason: String },
    /// etcd answered with an error (`{"error", "code"}`, a gRPC status code).
    #[error("{endpoint} answered {status}: {message}")]
    Api {
        endpoint: String,
        status: u16,
        message: String,
    },
    #[error("cannot decode the answer of {endpoint}: {reason}")]
    Decode { endpoint: String, reason: String },
}

impl EtcdError {
    /// Whether the request certainly did not take effect.
    pub fn certainly_not_applied(&self) -> bool {
        matches!(
            self,
            EtcdError::InvalidUrl { .. } | EtcdError::Unreachable { .. }
        )
    }

    /// Whether the member is down, cut off or electing (worth polling again), rather than
    /// refusing the request for good.
    pub fn is_not_ready(&self) -> bool {
        !matches!(
            self,
            EtcdError::InvalidUrl { .. } | EtcdError::Decode { .. }
        )
    }
}

/// One member's view (`/v3/maintenance/status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    pub member_id: u64,
    /// The leader this member follows; 0 while it knows none.
    pub leader: u64,
    pub raft_term: u64,
    pub raft_index: u64,
    pub version: String,
    pub db_size: u64,
}

/// A cluster member (`/v3/cluster/member/list`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// Written as a string: ids exceed 2^53, which JSON numbers (and the HTML report's
    /// JavaScript) do not keep exactly.
    #[serde(serialize_with = "as_string")]
    pub id: u64,
    /// Empty for a member added but not started.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
}

/// A value read, with the store revision the read saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub value: Option<String>,
    pub revision: u64,
}

/// A client of one etcd member. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EtcdClient {
    http: reqwest::Client,
    /// Scheme, host and port, without a trailing slash.
    base: String,
    timeout: Duration,
}

impl EtcdClient {
    /// `endpoint` is a client URL, e.g. `http://127.0.0.1:2379` (without a scheme, `http://`
    /// is assumed). `timeout` bounds each whole request.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<EtcdClient, EtcdError> {
        let trimmed = endpoint.trim().trim_end_matches('/');
        let base = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        match reqwest::Url::parse(&base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            Ok(url) => {
                return Err(EtcdError::InvalidUrl {
                    url: endpoint.into(),
                    reason: format!("scheme {:?} is not http or https", url.scheme()),
                });
            }
            Err(e) => {
                return Err(EtcdError::InvalidUrl {
                    url: endpoint.into(),
                    reason: e.to_string(),
                });
            }
        }
        Ok(EtcdClient {
            http: crate::clients::http::client().clone(),
            base,
            timeout,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.base
    }

    pub async fn status(&self) -> Result<Status, EtcdError> {
        #[derive(Deserialize)]
        struct Raw {
            header: Header,
            #[serde(default)]
            leader: Number,
            #[serde(default, rename = "raftTerm")]
            raft_term: Number,
            #[serde(default, rename = "raftIndex")]
            raft_index: Number,
            #[serde(default)]
            version: String,
            #[serde(default, rename = "dbSize")]
            db_size: Number,
        }
        let raw: Raw = self.call("/v3/maintenance/status", json!({})).await?;
        Ok(Status {
            member_id: raw.header.member_id.0,
            leader: raw.leader.0,
            raft_term: raw.raft_term.0,
            raft_index: raw.raft_index.0,
            version: raw.version,
            db_size: raw.db_size.0,
        })
    }

    pub async fn members(&self) -> Result<Vec<Member>, EtcdError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            members: Vec<RawMember>,
        }
        #[derive(Deserialize)]
        struct RawMember {
            #[serde(rename = "ID")]
            id: Number,
            #[serde(default)]
            name: String,
            #[serde(default, rename = "peerURLs")]
            peer_urls: Vec<String>,
            #[serde(default, rename = "clientURLs")]
            client_urls: Vec<String>,
        }
        let raw: Raw = self.call("/v3/cluster/member/list", json!({})).await?;
        Ok(raw
            .members
            .into_iter()
            .map(|m| Member {
                id: m.id.0,
                name: m.name,
                peer_urls: m.peer_urls,
                client_urls: m.client_urls,
            })
            .collect())
    }

    /// Reads one key; `serializable` lets the member answer from its own state without
    /// asking the leader (fast, possibly stale).
    pub async fn get(&self, key: &str, serializable: bool) -> Result<Read, EtcdError> {
        #[derive(Deserialize)]
        struct Raw {
            header: Header,
            #[serde(default)]
            kvs: Vec<Kv>,
        }
        #[derive(Deserialize)]
        struct Kv {
            #[serde(default)]
            value: String,
        }
        let body = json!({"key": BASE64.encode(key), "serializable": serializable});
        let raw: Raw = self.call("/v3/kv/range", body).await?;
        let value = match raw.kvs.first() {
            Some(kv) => Some(self.decode_text(&kv.value)?),
            None => None,
        };
        Ok(Read {
            value,
            revision: raw.header.revision.0,
        })
    }

    /// Writes one key; the store revision of the write.
    pub async fn put(&self, key: &str, value: &str) -> Result<u64, EtcdError> {
        #[derive(Deserialize)]
        struct Raw {
            header: Header,
        }
        let body = json!({"key": BASE64.encode(key), "value": BASE64.encode(value)});
        let raw: Raw = self.call("/v3/kv/put", body).await?;
        Ok(raw.header.revision.0)
    }

    /// Deletes every key starting with `prefix`: how many there were.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, EtcdError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            deleted: Number,
        }
        let body =
            json!({"key": BASE64.encode(prefix), "range_end": BASE64.encode(prefix_end(prefix))});
        let raw: Raw = self.call("/v3/kv/deleterange", body).await?;
        Ok(raw.deleted.0)
    }

    /// Sets `key` to `to` if it holds `from`, or if it does not exist when `from` is `None`
    /// (one transaction comparing the value, or the version with 0): whether it did.
    pub async fn compare_and_set(
        &self,
        key: &str,
        from: Option<&str>,
        to: &str,
    ) -> Result<bool, EtcdError> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            succeeded: bool,
        }
        let key = BASE64.encode(key);
        let compare = match from {
            Some(from) => {
                json!({"key": key, "target": "VALUE", "result": "EQUAL", "value": BASE64.encode(from)})
            }
            None => json!({"key": key, "target": "VERSION", "result": "EQUAL", "version": "0"}),
        };
        let body = json!({
            "compare": [compare],
            "success": [{"requestPut": {"key": key, "value": BASE64.encode(to)}}],
        });
        let raw: Raw = self.call("/v3/kv/txn", body).await?;
        Ok(raw.succeeded)
    }

    fn decode_text(&self, base64: &str) -> Result<String, EtcdError> {
        BASE64
            .decode(base64)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| EtcdError::Decode {
                endpoint: self.base.clone(),
                reason: format!("the value {base64:?} is not base64 of UTF-8 text"),
            })
    }

    async fn call<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, EtcdError> {
        let endpoint = format!("{}{path}", self.base);
        let failed = |e: reqwest::Error| {
            let connect = e.is_connect() || e.is_builder();
            let reason = e.without_url().to_string();
            let endpoint = endpoint.clone();
            if connect {
                EtcdError::Unreachable { endpoint, reason }
            } else {
                EtcdError::NoAnswer { endpoint, reason }
            }
        };
        let response = self
            .http
            .post(&endpoint)
            .timeout(self.timeout)
            .json(&body)
            .send()
            .await
            .map_err(failed)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(failed)?;
        if !(200..300).contains(&status) {
            return Err(EtcdError::Api {
                endpoint,
                status,
                message: error_message(&text),
            });
        }
        serde_json::from_str(&text).map_err(|e| EtcdError::Decode {
            endpoint,
            reason: format!("{e} (body: {})", text.chars().take(200).collect::<String>()),
        })
    }
}

fn as_string<S: serde::Serializer>(id: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(id)
}

/// The end of the range of keys starting with `prefix`: the prefix with its last byte below
/// 0xff incremented, as etcdctl's `--prefix` does (`"\0"`, every key, for an empty prefix).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The gateway's error body is `{"error": …, "message": …, "code": N}`.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    member_id: Number,
    #[serde(default)]
    revision: Number,
}

/// A uint64 the gateway writes as a JSON string (and a missing one, which protobuf's JSON
/// leaves out when it is 0).
#[derive(Debug, Default, Clone, Copy)]
struct Number(u64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => s.parse().map(Number).map_err(serde::de::Error::custom),
            Value::Number(n) => n
                .as_u64()
                .map(Number)
                .ok_or_else(|| serde::de::Error::custom("not a uint64")),
            other => Err(serde::de::Error::custom(format!("not a uint64: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_as_strings_or_not_at_all() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default)]
            a: Number,
            b: Number,
        }
        let t: T = serde_json::from_str(r#"{"b":"18446744073709551615"}"#).unwrap();
        assert_eq!((t.a.0, t.b.0), (0, u64::MAX));
    }

    #[test]
    fn gateway_errors_give_their_message() {
        assert_eq!(
            error_message(r#"{"error":"x","message":"etcdserver: request timed out","code":14}"#),
            "etcdserver: request timed out"
        );
        assert_eq!(error_message("plain"), "plain");
    }

    #[test]
    fn a_prefix_ends_at_its_successor() {
        assert_eq!(prefix_end("a/"), b"a0");
        assert_eq!(prefix_end(""), b"\0");
    }

    #[test]
    fn endpoints_are_urls() {
        let c = EtcdClient::new("127.0.0.1:2379/", Duration::from_secs(1)).unwrap();
        assert_eq!(c.endpoint(), "http://127.0.0.1:2379");
        assert!(EtcdClient::new("ftp://x", Duration::from_secs(1)).is_err());
    }
}
