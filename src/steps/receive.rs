//! `http.receive`: wait for an external party (an operator, a test harness) to report back by
//! POSTing to chaosplay, and keep when the report arrived and what it said.
//!
//! The step listens on 127.0.0.1 only, for one report. It binds its port before it counts as
//! started: a background `http.receive` holds the playbook until the port is bound, so a party
//! started by the next step cannot report to a port not yet open. That is why the listener
//! belongs to the step rather than to the run: the playbook says from where on reports are
//! accepted (before the fault, typically), the port is open exactly while someone waits for
//! it, and a run without such a step opens nothing.
//!
//! HTTP is read by hand, not with a server crate: one request per connection, `Content-Length`
//! bodies (what curl, urllib, requests and Go's client send), each connection bounded in size
//! and time so a client that stalls cannot hold the step.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Effect, OutOfBounds, Params, StepDoc};
use crate::engine::{StepContext, StepError};

/// A request's line and headers may take this much; a report's body, [`BODY_LIMIT`].
const HEAD_LIMIT: usize = 16 * 1024;
const BODY_LIMIT: usize = 1 << 20;
/// How long one connection may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiveParams {
    /// Port to listen on, on 127.0.0.1 (e.g. `"{{ vars.report_port }}"`).
    pub port: u16,
    /// Only a POST to this path counts (e.g. `"/diagnosis"`); other requests are answered 404
    /// or 405 and the step keeps waiting. Any path by default.
    #[serde(default)]
    pub path: Option<String>,
}

impl Params for ReceiveParams {
    fn bounds(&self) -> Vec<OutOfBounds> {
        let mut out = Vec::new();
        if self.port == 0 {
            out.push(OutOfBounds::new(
                "port",
                "`port` must be a fixed port (1–65535): the reporting party has to know it",
            ));
        }
        if let Some(path) = &self.path
            && !path.starts_with('/')
        {
            out.push(OutOfBounds::new(
                "path",
                format!("`path` must start with `/`, e.g. `/{path}`"),
            ));
        }
        out
    }
}

pub const DOC: StepDoc = StepDoc {
    summary: "Wait for one report POSTed to 127.0.0.1:`port` (JSON or text) by a party outside chaosplay, e.g. an operator's diagnosis; bounded by the step's timeout. In the background it holds the playbook until the port is open, so nothing can report too early.",
    outputs: &[
        ("at", "when the report arrived (RFC 3339, microseconds)"),
        (
            "waited_ms",
            "from the port being open to the report's arrival",
        ),
        ("path", "the path it was POSTed to"),
        (
            "body",
            "the body: parsed when it is JSON (`steps.<id>.body.store_id`), else its text",
        ),
        ("text", "the body as text"),
    ],
    expressions: &[],
    read_only: false,
    needs_docker: false,
    effect: Effect::None,
    example: "id = \"diagnosis\"\nuses = \"http.receive\"\nbackground = true\nwith = { port = 18200, path = \"/diagnosis\" }\ntimeout = \"2m\"",
};

/// A report that counted.
struct Report {
    at: SystemTime,
    arrived: Instant,
    path: String,
    body: Vec<u8>,
}

pub async fn run(p: ReceiveParams, cx: &StepContext) -> Result<Value, StepError> {
    let address = SocketAddr::from(([127, 0, 0, 1], p.port));
    let listener = TcpListener::bind(address).await.map_err(|e| {
        StepError::Environment(format!(
            "cannot listen on {address} for reports: {e}{}",
            if e.kind() == std::io::ErrorKind::AddrInUse {
                " (another process holds the port: pick another with the step's `port`)"
            } else {
                ""
            }
        ))
    })?;
    let open = Instant::now();
    cx.ready();
    cx.status(format!(
        "listening on {address} for a POST to {}",
        p.path.as_deref().unwrap_or("any path")
    ));
    let report = first_report(&listener, p.path.as_deref()).await?;
    let text = String::from_utf8_lossy(&report.body).into_owned();
    let body = serde_json::from_slice(&report.body).unwrap_or_else(|_| Value::String(text.clone()));
    Ok(json!({
        "at": humantime::format_rfc3339_micros(report.at).to_string(),
        "waited_ms": report.arrived.duration_since(open).as_millis() as u64,
        "path": report.path,
        "body": body,
        "text": text,
    }))
}

/// Serves connections concurrently until one brings a report that counts. The step's timeout
/// bounds the loop; dropping it drops the connections still being read.
async fn first_report(listener: &TcpListener, path: Option<&str>) -> Result<Report, StepError> {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted
                    .map_err(|e| StepError::Environment(format!("accepting a report: {e}")))?;
                let path = path.map(str::to_string);
                connections.spawn(async move {
                    tokio::time::timeout(READ_TIMEOUT, serve(stream, path.as_deref()))
                        .await
                        .ok()
                        .flatten()
                });
            }
            Some(done) = connections.join_next() => {
                if let Ok(Some(report)) = done {
                    return Ok(report);
                }
            }
        }
    }
}

/// Reads one request and answers it; `Some` when it is a report that counts.
async fn serve(mut stream: TcpStream, path: Option<&str>) -> Option<Report> {
    let (head, mut body) = read_head(&mut stream).await?;
    let request = match Request::parse(&head) {
        Ok(r) => r,
        Err(status) => return answer(&mut stream, status, None).await,
    };
    if request.method != "POST" {
        return answer(&mut stream, "405 Method Not Allowed", None).await;
    }
    if path.is_some_and(|p| p != request.path) {
        return answer(&mut stream, "404 Not Found", None).await;
    }
    let Some(length) = request.length else {
        return answer(&mut stream, "411 Length Required", None).await;
    };
    if length > BODY_LIMIT {
        return answer(&mut stream, "413 Content Too Large", None).await;
    }
    if request.expects_continue {
        stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .ok()?;
    }
    while body.len() < length {
        let mut chunk = vec![0; length - body.len()];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let report = Report {
        at: SystemTime::now(),
        arrived: Instant::now(),
        path: request.path,
        body,
    };
    answer(&mut stream, "200 OK", Some(report)).await
}

/// The request's line and headers, and whatever of the body came with them.
async fn read_head(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            return Some((head, buffer[end + 4..].to_vec()));
        }
        if buffer.len() > HEAD_LIMIT {
            let _ = answer(stream, "431 Request Header Fields Too Large", None).await;
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn answer(stream: &mut TcpStream, status: &str, report: Option<Report>) -> Option<Report> {
    let response = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    report
}

/// What the step needs of a request.
#[derive(Debug, PartialEq)]
struct Request {
    method: String,
    /// Without the query string.
    path: String,
    length: Option<usize>,
    expects_continue: bool,
}

impl Request {
    /// The request, or the status that refuses it.
    fn parse(head: &str) -> Result<Request, &'static str> {
        let mut lines = head.split("\r\n");
        let mut line = lines.next().unwrap_or_default().split(' ');
        let (Some(method), Some(target), Some(_version)) = (line.next(), line.next(), line.next())
        else {
            return Err("400 Bad Request");
        };
        let mut request = Request {
            method: method.to_string(),
            path: target.split('?').next().unwrap_or_default().to_string(),
            length: None,
            expects_continue: false,
        };
        for header in lines {
            let Some((name, value)) = header.split_once(':') else {
                return Err("400 Bad Request");
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    request.length = Some(value.parse().map_err(|_| "400 Bad Request")?);
                }
                // A chunked body has no length to read up to: clients send one when asked.
                "transfer-encoding" => return Err("411 Length Required"),
                "expect" => request.expects_continue = value.eq_ignore_ascii_case("100-continue"),
                _ => {}
            }
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_read_from_its_line_and_headers() {
        let r = Request::parse(
            "POST /diagnosis?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\nExpect: 100-continue",
        )
        .unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/diagnosis");
        assert_eq!(r.length, Some(12));
        assert!(r.expects_continue);
        assert_eq!(
            Request::parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"),
            Err("411 Length Required")
        );
        assert_eq!(Request::parse("garbage"), Err("400 Bad Request"));
        assert_eq!(
            Request::parse("POST / HTTP/1.1\r\nContent-Length: many"),
            Err("400 Bad Request")
        );
    }

    #[test]
    fn bounds_refuse_port_zero_and_a_relative_path() {
        let p = ReceiveParams {
            port: 0,
            path: Some("diag".into()),
        };
        let fields: Vec<_> = p.bounds().iter().map(|e| e.field).collect();
        assert_eq!(fields, ["port", "path"]);
    }
}
