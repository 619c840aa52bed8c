//! A small blocking HTTP/1.1 client for tests: real sockets, `Connection: close`, chunked
//! decoding, and a streaming reader for endless bodies (MPEG-TS, SSE).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    token: Option<String>,
    headers: Vec<(String, String)>,
    /// Replaces the `Host` header (default: the server's address).
    host: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }

    /// The `detail` of a JSON error body; panics unless the body is `{"detail": "..."}`.
    pub fn detail(&self) -> String {
        let v = self.json();
        v["detail"]
            .as_str()
            .unwrap_or_else(|| panic!("no detail in {v}"))
            .to_string()
    }
}

/// The head of a streamed response and a reader over its (de-chunked) body.
pub struct Stream {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: BodyReader,
}

impl Stream {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            token: None,
            headers: Vec::new(),
            host: None,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn token(mut self, token: &str) -> Client {
        self.token = Some(token.to_string());
        self
    }

    /// Sends `Host: <host>` instead of the server's address.
    pub fn host(mut self, host: &str) -> Client {
        self.host = Some(host.to_string());
        self
    }

    pub fn header(mut self, k: &str, v: &str) -> Client {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, None)
    }

    pub fn head(&self, path: &str) -> Response {
        self.request("HEAD", path, None)
    }

    pub fn delete(&self, path: &str) -> Response {
        self.request("DELETE", path, None)
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request("POST", path, Some(body.to_string().as_bytes()))
    }

    pub fn put_json(&self, path: &str, body: &serde_json::Value) -> Response {
        self.request("PUT", path, Some(body.to_string().as_bytes()))
    }

    pub fn post(&self, path: &str) -> Response {
        self.request("POST", path, None)
    }

    pub fn request(&self, method: &str, path: &str, body: Option<&[u8]>) -> Response {
        self.try_request(method, path, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> std::io::Result<Response> {
        let mut stream = self.send_head(method, path, body)?;
        let (status, headers, mut reader) = read_head(&mut stream)?;
        let mut body = Vec::new();
        if method != "HEAD" && status != 204 && status != 304 {
            reader.read_to_end(&mut body)?;
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Starts a GET and returns as soon as the head has arrived.
    pub fn stream(&self, path: &str) -> std::io::Result<Stream> {
        let mut stream = self.send_head("GET", path, None)?;
        let (status, headers, body) = read_head(&mut stream)?;
        Ok(Stream {
            status,
            headers,
            body,
        })
    }

    fn send_head(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> std::io::Result<TcpStream> {
        let mut stream = TcpStream::connect_timeout(&self.addr, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let host = self.host.clone().unwrap_or_else(|| self.addr.to_string());
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(b) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                b.len()
            ));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        if let Some(b) = body {
            stream.write_all(b)?;
        }
        Ok(stream)
    }
}

pub enum BodyReader {
    Length(std::io::Take<BufReader<TcpStream>>),
    Chunked {
        inner: BufReader<TcpStream>,
        left: usize,
        done: bool,
    },
    UntilClose(BufReader<TcpStream>),
}

impl BodyReader {
    /// Shuts the socket down (a viewer that leaves).
    pub fn close(self) {
        let stream = match &self {
            BodyReader::Length(t) => t.get_ref().get_ref(),
            BodyReader::Chunked { inner, .. } => inner.get_ref(),
            BodyReader::UntilClose(r) => r.get_ref(),
        };
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }

    pub fn set_timeout(&self, t: Duration) {
        let stream = match self {
            BodyReader::Length(r) => r.get_ref().get_ref(),
            BodyReader::Chunked { inner, .. } => inner.get_ref(),
            BodyReader::UntilClose(r) => r.get_ref(),
        };
        let _ = stream.set_read_timeout(Some(t));
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            BodyReader::Length(r) => r.read(buf),
            BodyReader::UntilClose(r) => r.read(buf),
            BodyReader::Chunked { inner, left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    inner.read_line(&mut line)?;
                    if line.trim().is_empty() {
                        // CRLF after the previous chunk.
                        line.clear();
                        inner.read_line(&mut line)?;
                    }
                    let size =
                        usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                            .map_err(|_| {
                                std::io::Error::new(
                                    std::io::ErrorKind::InvalidData,
                                    format!("bad chunk size {line:?}"),
                                )
                            })?;
                    if size == 0 {
                        *done = true;
                        return Ok(0);
                    }
                    *left = size;
                }
                let n = (*left).min(buf.len());
                let got = inner.read(&mut buf[..n])?;
                if got == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                *left -= got;
                Ok(got)
            }
        }
    }
}

type Headers = Vec<(String, String)>;

fn read_head(stream: &mut TcpStream) -> std::io::Result<(u16, Headers, BodyReader)> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("bad status line {line:?}"),
            )
        })?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        BodyReader::Chunked {
            inner: reader,
            left: 0,
            done: false,
        }
    } else if let Some(len) = find("content-length").and_then(|v| v.parse::<u64>().ok()) {
        BodyReader::Length(reader.take(len))
    } else {
        BodyReader::UntilClose(reader)
    };
    Ok((status, headers, body))
}

/// One persistent HTTP/1.1 connection: requests go one after another on the same socket,
/// as a TV client's keep-alive polling does. Bodies are read by Content-Length.
pub struct KeepAlive {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    host: String,
}

impl KeepAlive {
    pub fn connect(addr: SocketAddr) -> KeepAlive {
        let writer = TcpStream::connect(addr).expect("connect");
        writer
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = BufReader::new(writer.try_clone().unwrap());
        KeepAlive {
            writer,
            reader,
            host: addr.to_string(),
        }
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request("GET", path)
    }

    pub fn socket(&mut self) -> &mut TcpStream {
        &mut self.writer
    }

    pub fn request(&mut self, method: &str, path: &str) -> Response {
        let head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.host);
        self.writer.write_all(head.as_bytes()).expect("send");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header line");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = resp
            .header("content-length")
            .map(|v| v.parse().expect("content-length"))
            .unwrap_or(0);
        if method != "HEAD" {
            resp.body.resize(len, 0);
            self.reader.read_exact(&mut resp.body).expect("body");
        }
        resp
    }
}

/// Sends raw bytes and returns whatever the server answers before closing (or timing out).
pub fn raw(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return Vec::new();
    };
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}
