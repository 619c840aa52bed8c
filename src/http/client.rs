//! A small HTTP/1 client for media servers (Plex, Jellyfin, Emby) on hyper's connection API:
//! connect 5 s, the whole answer 30 s, bodies capped, redirects followed only within the same
//! origin (so a token header never goes to another host). `get` of an `https://` URL goes
//! through curl (`http::curl`: this binary has no TLS); `open` and `post_json` speak plain
//! HTTP only and refuse `https://` with a clear error rather than send it in the clear.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue, HOST, LOCATION};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::timeout;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest JSON page we accept: a 200-item Jellyfin page with media streams is ~1 MB.
pub const DEFAULT_CAP: usize = 16 << 20;
const MAX_REDIRECTS: usize = 3;

#[derive(Debug)]
pub enum ClientError {
    BadUrl(String),
    /// https cannot be spoken here: why (curl missing, or a request only `get` can send).
    TlsUnsupported(&'static str),
    Connect(std::io::Error),
    ConnectTimeout,
    ReadTimeout,
    Http(hyper::Error),
    TooLarge(usize),
    Redirect(String),
    /// curl's TLS handshake or certificate check failed: its message.
    Tls(String),
    /// curl failed otherwise: its exit code and message.
    Curl(i32, String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::BadUrl(u) => write!(f, "not an http URL: {u}"),
            ClientError::TlsUnsupported(why) => write!(f, "https {why}"),
            ClientError::Connect(e) => write!(f, "cannot connect: {e}"),
            ClientError::ConnectTimeout => write!(f, "no connection within {CONNECT_TIMEOUT:?}"),
            ClientError::ReadTimeout => write!(f, "no complete answer within {READ_TIMEOUT:?}"),
            ClientError::Http(e) => write!(f, "HTTP error: {e}"),
            ClientError::TooLarge(cap) => write!(f, "answer larger than {cap} bytes"),
            ClientError::Redirect(why) => write!(f, "redirect refused: {why}"),
            ClientError::Tls(why) => write!(f, "TLS error: {why}"),
            ClientError::Curl(code, why) => write!(f, "curl failed ({code}): {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

/// An `http://host[:port]/path?query` URL split into what a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub host: String,
    pub port: u16,
    /// Path and query, always starting with `/`.
    pub target: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, ClientError> {
        let bad = || ClientError::BadUrl(url.to_owned());
        if is_https(url) {
            return Err(ClientError::TlsUnsupported(ONLY_GET));
        }
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() || authority.contains('@') || target.contains(char::is_whitespace) {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Url {
            host: host.to_owned(),
            port,
            target,
        })
    }

    fn origin_eq(&self, other: &Url) -> bool {
        self.host.eq_ignore_ascii_case(&other.host) && self.port == other.port
    }

    fn host_header(&self) -> String {
        if self.port == 80 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why `Url::parse` (plain HTTP: `open`, `post_json`) refuses `https://`.
const ONLY_GET: &str = "is fetched only by GET requests (through curl) so far; use http";

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// A complete answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Answer {
    pub fn is_json(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.to_ascii_lowercase().contains("json"))
    }
}

/// GET `url` with `headers`, following same-origin redirects, the body capped at `cap`.
/// An `https://` URL goes to curl (`http::curl::get`, within `READ_TIMEOUT`): redirects
/// there only to https and only without headers.
pub async fn get(
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    cap: usize,
) -> Result<Answer, ClientError> {
    if is_https(url) {
        return super::curl::get(url, headers, cap, READ_TIMEOUT).await;
    }
    let first = Url::parse(url)?;
    let mut at = first.clone();
    for _ in 0..=MAX_REDIRECTS {
        let response = timeout(READ_TIMEOUT, send(&at, Outgoing::get(headers), cap))
            .await
            .map_err(|_| ClientError::ReadTimeout)??;
        let Some(location) = response.redirect else {
            return Ok(response.answer);
        };
        let next = if location.starts_with('/') {
            Url {
                target: location,
                ..at.clone()
            }
        } else {
            Url::parse(&location)?
        };
        // The token is a header: another host must never receive it.
        if !next.origin_eq(&first) {
            return Err(ClientError::Redirect(format!(
                "to another host ({})",
                next.host
            )));
        }
        at = next;
    }
    Err(ClientError::Redirect(format!("more than {MAX_REDIRECTS}")))
}

/// POSTs `body` (JSON) to `url` and reads the whole answer, capped at `cap`, within
/// `within` (an LLM's answer may take minutes; a webhook gets seconds). No redirects: a
/// POST is not replayed elsewhere.
pub async fn post_json(
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
    cap: usize,
    within: Duration,
) -> Result<Answer, ClientError> {
    let url = Url::parse(url)?;
    let mut all = Vec::with_capacity(headers.len() + 1);
    all.push((
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    ));
    all.extend_from_slice(headers);
    let out = Outgoing {
        method: &Method::POST,
        headers: &all,
        body: &body,
    };
    let sent = timeout(within, send(&url, out, cap))
        .await
        .map_err(|_| ClientError::ReadTimeout)??;
    Ok(sent.answer)
}

/// Opens a streaming GET of `url` (no redirects: a media file is where the server said):
/// the answer's head within `READ_TIMEOUT`, the body as the caller reads it.
pub async fn open(
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
    let url = Url::parse(url)?;
    timeout(READ_TIMEOUT, async {
        let mut sender = connect(&url).await?;
        let request = request(&url, Outgoing::get(headers))?;
        sender
            .send_request(request)
            .await
            .map_err(ClientError::Http)
    })
    .await
    .map_err(|_| ClientError::ReadTimeout)?
}

async fn connect(
    url: &Url,
) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, ClientError> {
    let stream = timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect((url.host.trim_matches(['[', ']']), url.port)),
    )
    .await
    .map_err(|_| ClientError::ConnectTimeout)?
    .map_err(ClientError::Connect)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ClientError::Http)?;
    // The connection task ends when the answer is read or the sender dropped.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "media server connection ended");
        }
    });
    Ok(sender)
}

/// What one request sends besides its URL.
#[derive(Clone, Copy)]
struct Outgoing<'a> {
    method: &'a Method,
    headers: &'a [(HeaderName, HeaderValue)],
    body: &'a Bytes,
}

static NO_BODY: Bytes = Bytes::new();

impl<'a> Outgoing<'a> {
    fn get(headers: &'a [(HeaderName, HeaderValue)]) -> Outgoing<'a> {
        Outgoing {
            method: &Method::GET,
            headers,
            body: &NO_BODY,
        }
    }
}

fn request(url: &Url, out: Outgoing<'_>) -> Result<Request<Full<Bytes>>, ClientError> {
    let mut builder = Request::builder()
        .method(out.method.clone())
        .uri(url.target.as_str())
        .header(HOST, url.host_header());
    for (name, value) in out.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(out.body.clone()))
        .map_err(|_| ClientError::BadUrl(url.target.clone()))
}

struct Sent {
    answer: Answer,
    redirect: Option<String>,
}

async fn send(url: &Url, out: Outgoing<'_>, cap: usize) -> Result<Sent, ClientError> {
    let mut sender = connect(url).await?;
    let request = request(url, out)?;
    let response = sender
        .send_request(request)
        .await
        .map_err(ClientError::Http)?;
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let redirect = status.is_redirection().then(|| header(LOCATION)).flatten();
    let content_type = header(hyper::header::CONTENT_TYPE);
    let body = read_capped(response.into_body(), cap).await?;
    Ok(Sent {
        answer: Answer {
            status,
            content_type,
            body,
        },
        redirect,
    })
}

async fn read_capped(mut body: hyper::body::Incoming, cap: usize) -> Result<Bytes, ClientError> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(ClientError::Http)?;
        if let Some(data) = frame.data_ref() {
            if out.len() + data.len() > cap {
                return Err(ClientError::TooLarge(cap));
            }
            out.extend_from_slice(data);
        }
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_target() {
        let u = Url::parse("http://10.0.0.2:8096/jellyfin").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("10.0.0.2", 8096, "/jellyfin")
        );
        let u = Url::parse("http://plex.lan?x=1").unwrap();
        assert_eq!((u.port, u.target.as_str()), (80, "/?x=1"));
        assert!(matches!(
            Url::parse("https://a"),
            Err(ClientError::TlsUnsupported(_))
        ));
        assert!(Url::parse("ftp://a").is_err());
        assert!(Url::parse("http://user:pw@a/").is_err());
        assert!(Url::parse("http://a:notaport/").is_err());
        assert!(Url::parse("http:///x").is_err());
    }

    /// A one-shot loopback server: answers each connection with the next canned reply and
    /// hands back the request heads it saw.
    async fn serve(replies: Vec<String>) -> (u16, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for reply in replies {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let n = s.read(&mut buf).await.unwrap();
                seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
                s.write_all(reply.as_bytes()).await.unwrap();
            }
            seen
        });
        (port, task)
    }

    fn reply(status: &str, extra: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn sends_headers_and_follows_a_same_origin_redirect() {
        let replies = vec![
            reply("302 Found", "location: /b?x=1\r\n", ""),
            reply("200 OK", "content-type: application/json\r\n", "{\"a\":1}"),
        ];
        let (port, seen) = serve(replies).await;
        let token = (
            HeaderName::from_static("x-plex-token"),
            HeaderValue::from_static("sekrit"),
        );
        let answer = get(&format!("http://127.0.0.1:{port}/a"), &[token], 1024)
            .await
            .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        assert!(answer.is_json());
        assert_eq!(&answer.body[..], b"{\"a\":1}");
        let seen = seen.await.unwrap();
        assert!(seen[0].starts_with("GET /a HTTP/1.1"), "{}", seen[0]);
        assert!(seen[1].starts_with("GET /b?x=1 HTTP/1.1"), "{}", seen[1]);
        assert!(seen[1]
            .to_ascii_lowercase()
            .contains("x-plex-token: sekrit"));
        assert!(seen[1].contains(&format!("host: 127.0.0.1:{port}")));
    }

    #[tokio::test]
    async fn refuses_a_redirect_to_another_host_and_a_body_over_the_cap() {
        let (port, _seen) = serve(vec![reply(
            "301 Moved",
            "location: http://evil:80/\r\n",
            "",
        )])
        .await;
        let err = get(&format!("http://127.0.0.1:{port}/"), &[], 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Redirect(_)), "{err}");
        let (port, _seen) = serve(vec![reply("200 OK", "", &"x".repeat(2000))]).await;
        let err = get(&format!("http://127.0.0.1:{port}/"), &[], 1000)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::TooLarge(1000)), "{err}");
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = get(&format!("http://127.0.0.1:{port}/"), &[], 10)
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::Connect(_)), "{err}");
    }
}
