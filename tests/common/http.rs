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

/// Serves `responses` in order, one connection each, and reports what it received.
pub fn serve(responses: Vec<(u16, &'static str, &'static str)>) -> (u16, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, content_type, body) in responses {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut headers = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                headers.push(line);
            }
            let mut received = vec![0; length];
            reader.read_exact(&mut received).unwrap();
            let _ = tx.send(Received {
                request_line: request_line.trim_end().to_string(),
                headers,
                body: String::from_utf8(received).unwrap(),
            });
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nx-test: yes\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
        }
    });
    (port, rx)
}
