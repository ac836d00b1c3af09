//! A minimal HTTP/1.1 server and client on tokio's `TcpStream`.
//!
//! Requests and answers here are tiny JSON documents, one request per connection
//! (`Connection: close`), so a few hundred lines replace hyper/axum and keep the binary free
//! of TLS and OpenSSL (the image is `FROM scratch`). Every read and write is bounded in size
//! and time so a stuck peer can never stall the simulator.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Largest request or response head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Largest body accepted (PD's answers for 30 regions are a few KiB).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long the server waits for a client to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A parsed request. The query string is split into pairs but not percent-decoded: the
/// simulator's parameters are plain numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// Every value of query parameter `name`, in order (`?state=0&state=1`).
    pub fn query_all(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

/// An answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON answer (PD writes its bodies with unrendered, compact JSON too).
    pub fn json(status: u16, value: &impl serde::Serialize) -> Response {
        Response {
            status,
            content_type: "application/json; charset=UTF-8",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    /// Status only, empty body (PD's `/ping`, TiKV's `/status`).
    pub fn empty(status: u16) -> Response {
        Response::text(status, "")
    }
}

/// Handles one request; synchronous because every handler only reads or updates in-memory
/// state behind a mutex.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Accepts connections until `shutdown` completes, answering each on its own task.
pub async fn serve(listener: TcpListener, handler: Handler, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let handler = handler.clone();
                    tokio::spawn(async move {
                        // A client that vanished mid-request is its own problem.
                        let _ = answer(stream, &handler).await;
                    });
                }
                // E.g. EMFILE: back off briefly instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
        }
    }
}

async fn answer(mut stream: TcpStream, handler: &Handler) -> io::Result<()> {
    let response = match timeout(READ_TIMEOUT, read_request(&mut stream)).await {
        Ok(Ok(request)) => handler(&request),
        Ok(Err(error)) if error.kind() == io::ErrorKind::InvalidData => {
            Response::text(400, format!("bad request: {error}"))
        }
        Ok(Err(error)) => return Err(error),
        Err(_) => Response::text(408, "request timeout"),
    };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    timeout(READ_TIMEOUT, stream.write_all(&bytes))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        500 => "Internal Server Error",
        _ => "",
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// Reads bytes until the end of the head (`\r\n\r\n`); returns the head and whatever body
/// bytes came with it.
async fn read_head(stream: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head =
                String::from_utf8(buf[..end].to_vec()).map_err(|_| invalid("head is not UTF-8"))?;
            return Ok((head, buf[end + 4..].to_vec()));
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("head too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// `Content-Length` from header lines, if present and valid.
fn content_length<'a>(mut lines: impl Iterator<Item = &'a str>) -> io::Result<Option<usize>> {
    let Some(line) = lines.find(|line| {
        line.split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
    }) else {
        return Ok(None);
    };
    let value = line.split_once(':').map_or("", |(_, value)| value.trim());
    let length: usize = value.parse().map_err(|_| invalid("bad content-length"))?;
    if length > MAX_BODY {
        return Err(invalid("body too large"));
    }
    Ok(Some(length))
}

/// Reads until `body` holds `length` bytes (or EOF when the length is unknown).
async fn read_body(
    stream: &mut TcpStream,
    body: &mut Vec<u8>,
    length: Option<usize>,
) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    while length.is_none_or(|length| body.len() < length) {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return match length {
                None => Ok(()),
                Some(_) => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            };
        }
        body.extend_from_slice(&chunk[..n]);
        if body.len() > MAX_BODY {
            return Err(invalid("body too large"));
        }
    }
    if let Some(length) = length {
        body.truncate(length);
    }
    Ok(())
}

async fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    let (head, mut body) = read_head(stream).await?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(invalid("unsupported HTTP version"));
    }
    // Requests without a body carry no Content-Length: read nothing more.
    read_body(stream, &mut body, Some(content_length(lines)?.unwrap_or(0))).await?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_string(), value.to_string())
        })
        .collect();
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query,
        body,
    })
}

/// Sends one request to `addr` (`host:port`) and returns the status and body; the whole
/// exchange, connection included, is bounded by `limit`.
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    limit: Duration,
) -> io::Result<(u16, Vec<u8>)> {
    timeout(limit, exchange(addr, method, path, body))
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{method} http://{addr}{path}: timed out"),
            )
        })?
}

async fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(addr).await?;
    let body = body.unwrap_or_default();
    let mut bytes = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: tikv-sim\r\nAccept: */*\r\nConnection: close\r\n"
    )
    .into_bytes();
    if !body.is_empty() {
        bytes.extend_from_slice(
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await?;
    let (head, mut response_body) = read_head(&mut stream).await?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("malformed status line"))?;
    read_body(&mut stream, &mut response_body, content_length(lines)?).await?;
    Ok((status, response_body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_with_query_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let handler: Handler = Arc::new(|request: &Request| {
            Response::json(
                200,
                &serde_json::json!({
                    "method": request.method,
                    "path": request.path,
                    "state": request.query_all("state"),
                    "body": String::from_utf8_lossy(&request.body),
                }),
            )
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, handler, async {
            let _ = stopped.await;
        }));
        let (status, body) = request(
            &addr,
            "POST",
            "/a/b?state=0&state=2&x",
            Some(b"{\"k\":1}"),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"method": "POST", "path": "/a/b", "state": ["0", "2"], "body": "{\"k\":1}"})
        );
        stop.send(()).unwrap();
        server.await.unwrap();
    }

    #[tokio::test]
    async fn connection_refused_is_an_error_not_a_hang() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        assert!(
            request(&addr, "GET", "/", None, Duration::from_secs(2))
                .await
                .is_err()
        );
    }
}
