//! How a PD request can fail, classified for the engine: unreachable (an environment error,
//! or "not ready yet" in a wait), not bootstrapped (not ready yet), a PD answer, or a body
//! this client cannot read.

/// A failed PD request. `endpoint` is `"METHOD URL"`, so a message names the PD it asked.
#[derive(Debug, thiserror::Error)]
pub enum PdError {
    /// The base URL given to the client cannot address a PD.
    #[error("invalid pd url {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The HTTP client could not be built (its TLS backend failed to initialise).
    #[error("cannot create the http client for pd: {source}")]
    Client { source: reqwest::Error },

    /// No HTTP answer: connection refused or reset, DNS failure, or no response within the
    /// timeout. The engine reports it as an environment error (exit code 3); a wait treats it
    /// as "not ready yet", since a restarting PD looks exactly like this.
    #[error("pd unreachable: {endpoint}: {reason}")]
    Unreachable {
        endpoint: String,
        reason: String,
        #[source]
        source: reqwest::Error,
    },

    /// PD answered that no TiKV has bootstrapped the cluster yet: before the first TiKV
    /// registers, store and region routes answer 500 with
    /// `"[PD:cluster:ErrNotBootstrapped]TiKV cluster not bootstrapped, please start TiKV first"`.
    /// A wait treats it as "not ready yet", not as a failure.
    #[error("pd cluster not bootstrapped yet: {endpoint}: {message}")]
    NotBootstrapped { endpoint: String, message: String },

    /// PD answered with an error status. `message` is the decoded body: PD's error bodies are
    /// usually a bare JSON string (`"[PD:core:ErrStoreNotFound]store 99 not found"`), sometimes
    /// an errcode object whose `msg` is used.
    #[error("{endpoint} answered {status}: {message}")]
    Api {
        endpoint: String,
        status: u16,
        message: String,
    },

    /// A successful answer whose body does not have the expected shape.
    #[error("cannot decode the answer of {endpoint}: {source} (body: {snippet})")]
    Decode {
        endpoint: String,
        /// The start of the body, to show what PD actually sent.
        snippet: String,
        source: serde_json::Error,
    },
}

impl PdError {
    /// Whether a wait should keep polling: PD is down or restarting, has no TiKV yet, or
    /// answers 503 (no PD leader elected yet).
    pub fn is_not_ready(&self) -> bool {
        match self {
            PdError::Unreachable { .. } | PdError::NotBootstrapped { .. } => true,
            PdError::Api { status, .. } => *status == 503,
            PdError::InvalidUrl { .. } | PdError::Client { .. } | PdError::Decode { .. } => false,
        }
    }

    /// Classifies a non-success answer.
    pub(super) fn from_answer(endpoint: String, status: u16, body: &[u8]) -> PdError {
        let message = error_message(body);
        // PD sends this one as a 500, but the marker is what identifies it.
        if message.contains("ErrNotBootstrapped") {
            PdError::NotBootstrapped { endpoint, message }
        } else {
            PdError::Api {
                endpoint,
                status,
                message,
            }
        }
    }

    pub(super) fn decode(endpoint: String, body: &[u8], source: serde_json::Error) -> PdError {
        PdError::Decode {
            endpoint,
            snippet: snippet(body),
            source,
        }
    }
}

/// Longest body excerpt put into an error message.
const SNIPPET_CHARS: usize = 200;

/// The human part of an error body: a JSON string as its content, an errcode object
/// (`{"code":"input","msg":"…"}`) as its `msg`, anything else (a Go `http.Error` text, an
/// HTML page from a proxy) as its trimmed start.
fn error_message(body: &[u8]) -> String {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::String(message)) => message,
        Ok(serde_json::Value::Object(object)) => ["msg", "message", "error"]
            .iter()
            .find_map(|key| object.get(*key)?.as_str().map(str::to_string))
            .unwrap_or_else(|| snippet(body)),
        _ => snippet(body),
    }
}

fn snippet(body: &[u8]) -> String {
    // One line: messages end up in a single-line status and in reports.
    let text = String::from_utf8_lossy(body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    crate::text::clip(&text, SNIPPET_CHARS).into_owned()
}
