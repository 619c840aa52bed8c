//! `https://` GETs through the `curl` program, because this binary has no TLS of its own (a
//! TLS crate would break the size budget). curl verifies certificates against the system's
//! CA store (or `CURL_CA_BUNDLE`); verification is never turned off here. Request headers,
//! which may carry tokens, go through `--config -` on stdin, never in argv (other local
//! users can read `/proc/*/cmdline`). Only https is spoken, redirects included (at most
//! `MAX_REDIRECTS`), and a request with headers follows no redirect at all, so a token
//! never reaches another host. The child runs under `crate::child` (own process group,
//! killed on timeout or drop, always reaped); its stdout is read up to the cap.
//! It must not know who asks (Plex, an M3U, a guide).

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::StatusCode;

use super::client::{Answer, ClientError};
use crate::child::{self, Limits, RunError};

const MAX_REDIRECTS: usize = 3;
/// Besides the body, stdout carries `TRAILER`'s expansion: a newline, a 3-digit status, the
/// redirect's target and a content type, tab-separated (2 KiB is well past any real one).
const TRAILER_MAX: usize = 2048;
/// curl's own error line is short; the rest of its stderr is not kept.
const STDERR_MAX: u64 = 4096;
/// Written after the body (`--write-out`), split off again in `split_trailer`.
const TRAILER: &str = "\\n%{http_code}\\t%{redirect_url}\\t%{content_type}";
/// curl gets `within` for the whole answer; the child is killed this much later, so curl's
/// own timeout (exit 28) normally reports first.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// GET `url` (an `https://` URL) with `headers` through curl, within `within`, the body
/// capped at `cap`. Redirects are followed on the same origin only (as `client::get` does
/// over HTTP: a token never reaches another host, and a public URL cannot bounce to a LAN
/// one past the caller's `url_guard` check). `TlsUnsupported` when curl is not installed.
pub async fn get(
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    cap: usize,
    within: Duration,
) -> Result<Answer, ClientError> {
    let first = origin(url).ok_or_else(|| ClientError::BadUrl(url.to_owned()))?;
    let curl = crate::tools::resolve("curl").ok_or(ClientError::TlsUnsupported(NO_CURL))?;
    let mut at = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let (answer, redirect) = fetch(&curl, &at, headers, cap, within).await?;
        let Some(next) = redirect.filter(|_| answer.status.is_redirection()) else {
            return Ok(answer);
        };
        if origin(&next).as_ref() != Some(&first) {
            return Err(ClientError::Redirect(format!(
                "to another host or scheme ({next})"
            )));
        }
        at = next;
    }
    Err(ClientError::Redirect(format!("more than {MAX_REDIRECTS}")))
}

/// `https://host[:port]`, lower-cased: what must stay the same across redirects.
fn origin(url: &str) -> Option<String> {
    let rest = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .map(|_| &url[8..])?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = authority.strip_suffix(":443").unwrap_or(&authority);
    Some(format!("https://{authority}"))
}

/// One request, not following redirects: the answer and its redirect's target.
async fn fetch(
    curl: &Path,
    url: &str,
    headers: &[(HeaderName, HeaderValue)],
    cap: usize,
    within: Duration,
) -> Result<(Answer, Option<String>), ClientError> {
    let mut command = tokio::process::Command::new(curl);
    command.args(args(url, cap, within));
    let limits = Limits {
        timeout: within + KILL_GRACE,
        stdout_max: (cap + TRAILER_MAX) as u64,
        stderr_max: STDERR_MAX,
    };
    let out = child::run_fed(command, &config(headers), limits, std::future::pending())
        .await
        .map_err(|err| run_error(curl, err))?;
    if out.stdout.len() >= cap + TRAILER_MAX {
        // The read stopped at the cap and curl died writing the rest.
        return Err(ClientError::TooLarge(cap));
    }
    if !out.status.success() {
        let code = out.status.code().unwrap_or(-1);
        return Err(exit_error(code, &out.stderr, cap));
    }
    let (answer, redirect) = split_trailer(out.stdout)
        .ok_or_else(|| ClientError::Curl(0, "curl's answer lacks its status line".to_owned()))?;
    if answer.body.len() > cap {
        return Err(ClientError::TooLarge(cap));
    }
    Ok((answer, redirect))
}

pub const NO_CURL: &str = "needs curl installed (apt install curl)";

/// curl's argv: no secrets (headers come on stdin), no `--insecure`, the URL after `--`.
fn args(url: &str, cap: usize, within: Duration) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        // First, or it has no effect: a user's ~/.curlrc (with `insecure`, say) is ignored.
        "--disable",
        "--silent",
        "--show-error",
        // `[`, `]`, `{`, `}` in a URL are the URL's, not curl's globbing.
        "--globoff",
        "--proto",
        "=https",
        "--proto-redir",
        "=https",
        "--connect-timeout",
        "5",
        "--max-time",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.push(format!("{:.3}", within.as_secs_f64()).into());
    args.push("--max-filesize".into());
    args.push(cap.to_string().into());
    args.push("--write-out".into());
    args.push(TRAILER.into());
    args.push("--config".into());
    args.push("-".into());
    args.push("--".into());
    args.push(url.into());
    args
}

/// The `--config -` text: one `header = "Name: value"` line a header, quoted per curl's
/// config syntax (`\\`, `\"` and `\t` escaped; a `HeaderValue` holds no CR or LF).
fn config(headers: &[(HeaderName, HeaderValue)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(b"header = \"");
        for &b in name
            .as_str()
            .as_bytes()
            .iter()
            .chain(b": ")
            .chain(value.as_bytes())
        {
            match b {
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'"' => out.extend_from_slice(b"\\\""),
                b'\t' => out.extend_from_slice(b"\\t"),
                b => out.push(b),
            }
        }
        out.extend_from_slice(b"\"\n");
    }
    out
}

/// Body, then `\n<status>\t<redirect target>\t<content type>`: split at the last newline.
fn split_trailer(mut stdout: Vec<u8>) -> Option<(Answer, Option<String>)> {
    let at = stdout.iter().rposition(|&b| b == b'\n')?;
    let trailer = String::from_utf8_lossy(&stdout[at + 1..]).into_owned();
    stdout.truncate(at);
    let mut fields = trailer.splitn(3, '\t');
    let status = fields
        .next()?
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())?;
    let redirect = fields.next().map(str::trim).filter(|r| !r.is_empty());
    let content_type = fields.next().unwrap_or("").trim();
    let answer = Answer {
        status,
        content_type: (!content_type.is_empty()).then(|| content_type.to_owned()),
        body: Bytes::from(stdout),
    };
    Some((answer, redirect.map(str::to_owned)))
}

fn run_error(curl: &Path, err: RunError) -> ClientError {
    match err {
        RunError::Timeout | RunError::Cancelled => ClientError::ReadTimeout,
        RunError::Spawn(e) | RunError::Io(e) => {
            ClientError::Curl(-1, format!("{}: {e}", curl.display()))
        }
    }
}

/// A curl exit code (man curl, EXIT CODES) as our error, with curl's own line.
fn exit_error(code: i32, stderr: &[u8], cap: usize) -> ClientError {
    // `curl: (60) SSL certificate problem: ...`, then (for a certificate) lines of advice.
    let text = String::from_utf8_lossy(stderr);
    let message = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("curl: "))
        .or_else(|| text.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("curl failed")
        .trim_start_matches("curl: ")
        .to_owned();
    match code {
        6 | 7 => ClientError::Connect(std::io::Error::other(message)),
        28 => ClientError::ReadTimeout,
        63 => ClientError::TooLarge(cap),
        // 1: a redirect to another scheme, refused by `--proto-redir`; 47: too many.
        1 | 47 => ClientError::Redirect(message),
        35 | 51 | 53 | 54 | 58 | 59 | 60 | 64 | 66 | 77 | 80 | 82 | 83 | 90 | 91 => {
            ClientError::Tls(message)
        }
        _ => ClientError::Curl(code, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn headers_are_quoted_per_curls_config_syntax() {
        let headers = [
            (
                HeaderName::from_static("x-plex-token"),
                HeaderValue::from_static("sek\"rit\\1"),
            ),
            (
                HeaderName::from_static("authorization"),
                HeaderValue::from_static("MediaBrowser Token=\"a\tb\""),
            ),
        ];
        let text = String::from_utf8(config(&headers)).unwrap();
        assert_eq!(
            text,
            "header = \"x-plex-token: sek\\\"rit\\\\1\"\n\
             header = \"authorization: MediaBrowser Token=\\\"a\\tb\\\"\"\n"
        );
        assert!(config(&[]).is_empty());
    }

    #[test]
    fn argv_has_no_secret_no_insecure_and_only_https() {
        let url = "https://box.lan:8443/list.m3u?x=[1]";
        let argv = strings(&args(url, 1000, Duration::from_secs(30)));
        assert_eq!(argv[0], "--disable");
        assert!(!argv.iter().any(|a| a == "-k" || a == "--insecure"));
        assert!(!argv.iter().any(|a| a == "-H" || a == "--header"));
        assert!(argv.windows(2).any(|w| w == ["--proto", "=https"]));
        assert!(argv.windows(2).any(|w| w == ["--max-filesize", "1000"]));
        assert!(argv.windows(2).any(|w| w == ["--max-time", "30.000"]));
        assert!(argv.windows(2).any(|w| w == ["--config", "-"]));
        // Redirects are ours to follow (same origin only), never curl's.
        assert!(!argv.iter().any(|a| a == "--location" || a == "-L"));
        assert_eq!(argv[argv.len() - 2..], ["--", url]);
    }

    #[test]
    fn the_trailer_gives_status_redirect_and_content_type_and_the_body_stays_exact() {
        let (a, r) =
            split_trailer(b"#EXTM3U\n\n200\t\taudio/x-mpegurl; charset=utf-8".to_vec()).unwrap();
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(r, None);
        assert_eq!(
            a.content_type.as_deref(),
            Some("audio/x-mpegurl; charset=utf-8")
        );
        assert_eq!(&a.body[..], b"#EXTM3U\n");
        let (a, r) = split_trailer(b"\n302\thttps://b/x\t".to_vec()).unwrap();
        assert_eq!(
            (a.status, a.content_type, a.body.len(), r.as_deref()),
            (StatusCode::FOUND, None, 0, Some("https://b/x"))
        );
        assert!(split_trailer(b"no trailer".to_vec()).is_none());
    }

    #[test]
    fn redirects_stay_on_the_origin() {
        assert_eq!(
            origin("https://Box.lan:443/a"),
            origin("https://box.lan/b?c")
        );
        assert_ne!(
            origin("https://box.lan/a"),
            origin("https://box.lan:8443/a")
        );
        assert_ne!(origin("https://box.lan/a"), origin("https://10.0.0.1/a"));
        assert_eq!(origin("http://box.lan/a"), None);
        assert_eq!(origin("https://user@box.lan/a"), None);
    }

    #[test]
    fn exit_codes_become_typed_errors() {
        let cert = b"curl: (60) SSL certificate problem: self-signed certificate\n\
            More details here: https://curl.se/docs/sslcerts.html\n\n\
            how to fix it, please visit the web page mentioned above.\n";
        let err = exit_error(60, cert, 10);
        assert!(matches!(err, ClientError::Tls(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "TLS error: (60) SSL certificate problem: self-signed certificate"
        );
        assert!(matches!(exit_error(63, b"", 10), ClientError::TooLarge(10)));
        assert!(matches!(exit_error(28, b"", 10), ClientError::ReadTimeout));
        assert!(matches!(exit_error(7, b"", 10), ClientError::Connect(_)));
        assert!(matches!(exit_error(47, b"", 10), ClientError::Redirect(_)));
    }

    #[tokio::test]
    async fn only_https_urls_are_taken() {
        let err = get("http://a/", &[], 10, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, ClientError::BadUrl(_)), "{err}");
    }
}
