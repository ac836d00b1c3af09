//! A scripted HTTP server on 127.0.0.1 for tests: it answers a fixed list of responses, one
//! connection each, and reports what it received.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

/// What the server received.
pub struct Received {
    pub request_line: String,
    pub headers: Vec<String>,
    pub body: String,
}

/// Serves `responses` in order, one connection each, and reports what it received. A
/// response counts as served only once written whole: a client that gave up on a connection
/// (a request timeout on a loaded machine) gets the same response on its next one, and a
/// broken connection never ends the server, which would leave the rest unanswered.
pub fn serve(responses: Vec<(u16, &'static str, &'static str)>) -> (u16, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut responses = responses.into_iter().peekable();
        // Bounded: a client that keeps breaking connections cannot keep the server alive.
        for _ in 0..1_000 {
            let Some(&response) = responses.peek() else {
                return;
            };
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            if let Ok(received) = exchange(stream, response) {
                responses.next();
                let _ = tx.send(received);
            }
        }
    });
    (port, rx)
}

/// Reads one request from `stream` and writes `response` to it.
fn exchange(
    stream: std::net::TcpStream,
    (status, content_type, body): (u16, &str, &str),
) -> std::io::Result<Received> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        headers.push(line);
    }
    let mut received = vec![0; length];
    reader.read_exact(&mut received)?;
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nx-test: yes\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )?;
    stream.flush()?;
    Ok(Received {
        request_line: request_line.trim_end().to_string(),
        headers,
        body: String::from_utf8_lossy(&received).into_owned(),
    })
}

/// How the [`LoadServer`] answers one request.
pub struct Answer {
    pub status: u16,
    /// How long to wait before answering.
    pub delay: std::time::Duration,
}

/// An HTTP/1.1 server on 127.0.0.1 for load: each connection has its own thread, so requests
/// are answered concurrently, and connections are kept alive as clients expect. `answer`
/// decides from the request's number (from 0, in the order requests arrive over all
/// connections). Connections, requests per connection and idle time are bounded, so a test
/// gone wrong cannot leave it spinning.
pub struct LoadServer {
    pub port: u16,
    received: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

const MAX_CONNECTIONS: usize = 2_000;
const MAX_REQUESTS_PER_CONNECTION: usize = 100_000;
const IDLE: std::time::Duration = std::time::Duration::from_secs(10);

impl LoadServer {
    pub fn start(answer: impl Fn(u64) -> Answer + Send + Sync + 'static) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(AtomicU64::new(0));
        let answer = Arc::new(answer);
        let counter = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming().take(MAX_CONNECTIONS) {
                let Ok(stream) = stream else { continue };
                let (answer, counter) = (Arc::clone(&answer), Arc::clone(&counter));
                std::thread::spawn(move || {
                    stream.set_read_timeout(Some(IDLE)).unwrap();
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
                        if read_request(&mut reader).is_none() {
                            return;
                        }
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        let Answer { status, delay } = answer(n);
                        std::thread::sleep(delay);
                        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\n\r\nok");
                        if stream.write_all(reply.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        LoadServer { port, received }
    }

    /// Requests received so far.
    pub fn received(&self) -> u64 {
        self.received.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Reads one request (line, headers, body); `None` when the connection ends or idles out, or
/// the request has more than 100 header lines.
fn read_request(reader: &mut BufReader<impl Read>) -> Option<()> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut length = 0;
    for _ in 0..100 {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            let mut body = vec![0; length];
            return reader.read_exact(&mut body).ok();
        }
        if let Some(v) = header.strip_prefix("content-length:") {
            length = v.trim().parse().ok()?;
        }
    }
    None
}

/// An HTTPS server on 127.0.0.1 with the certificate in `tests/fixtures/tls/` (for IP
/// 127.0.0.1, issued by the test CA `ca.pem`): each of up to `connections` connections gets
/// `200` with `body`, or nothing when the client rejects the certificate.
pub fn serve_tls(connections: usize, body: &'static str) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = std::sync::Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(stream) = stream else { continue };
            stream.set_read_timeout(Some(IDLE)).unwrap();
            let tls = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut stream = rustls::StreamOwned::new(tls, stream);
            // A rejected certificate ends the handshake inside this read.
            if read_request(&mut BufReader::new(&mut stream)).is_none() {
                continue;
            }
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(reply.as_bytes());
            let _ = stream.flush();
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    });
    port
}
