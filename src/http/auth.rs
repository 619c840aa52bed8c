//! The REST API token: loaded from `EXSTREAMTV_API_TOKEN`, or generated once (32 bytes from
//! the OS RNG, hex) into `DATA/api-token` with mode 0600. Compared in constant time. Also the
//! IPTV `access_token` check for the open TV routes.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hyper::header::AUTHORIZATION;
use hyper::StatusCode;

use super::error::ApiError;
use super::request::Req;
use super::router::Verb;
use crate::app::App;

pub const TOKEN_FILE: &str = "api-token";

/// Where a token came from, for the one start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Env,
    File(PathBuf),
    Generated(PathBuf),
}

#[derive(Clone)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

impl ApiToken {
    /// The token from the environment, else `DATA/api-token`, else a new one written there.
    pub fn load(
        from_env: Option<&str>,
        data_dir: &Path,
    ) -> std::io::Result<(ApiToken, TokenSource)> {
        if let Some(token) = from_env.map(str::trim).filter(|t| !t.is_empty()) {
            return Ok((ApiToken(token.to_string()), TokenSource::Env));
        }
        let path = data_dir.join(TOKEN_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => {
                return Ok((ApiToken(text.trim().to_string()), TokenSource::File(path)));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let token = hex(&random_bytes::<32>()?);
        std::fs::create_dir_all(data_dir)?;
        // Written to a temp name then renamed, so a crash never leaves a half-written token.
        let tmp = data_dir.join(format!("{TOKEN_FILE}.tmp"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok((ApiToken(token), TokenSource::Generated(path)))
    }

    pub fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), candidate.as_bytes())
    }

    /// Checks `Authorization: Bearer <t>` or `X-Api-Key: <t>`; 401 otherwise.
    pub fn check(&self, req: &Req) -> Result<(), ApiError> {
        let bearer = req
            .header(AUTHORIZATION)
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let key = req.header_str("x-api-key").map(str::trim);
        match bearer.or(key) {
            None => Err(ApiError::unauthorized(
                "missing API token (Authorization: Bearer <token> or X-Api-Key)",
            )),
            Some(t) if self.matches(t) => Ok(()),
            Some(_) => Err(ApiError::unauthorized("invalid API token")),
        }
    }
}

/// The API's gate: the token in a header, else the web UI's session cookie
/// (`web::session`). A write authenticated by the cookie must also carry `X-Requested-With`,
/// which a cross-site form cannot set: 403 without it.
pub async fn check_request(app: &App, req: &Req) -> Result<(), ApiError> {
    let has_header = req.header(AUTHORIZATION).is_some() || req.header_str("x-api-key").is_some();
    let session = crate::web::session::cookie(req).map(str::to_owned);
    let Some(id) = session.filter(|_| !has_header) else {
        return app.api_token.check(req);
    };
    if !crate::web::session::valid(&app.db, &id).await? {
        return Err(ApiError::unauthorized(
            "session expired or logged out: log in again",
        ));
    }
    let read = matches!(req.verb(), Verb::Get | Verb::Options);
    if !read && req.header_str("x-requested-with").is_none() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "a write authenticated by the session cookie needs the X-Requested-With header",
        ));
    }
    Ok(())
}

/// The IPTV/HDHomeRun `?access_token=` gate; `expected` is the setting (None = off).
pub fn check_access_token(req: &Req, expected: Option<&str>) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match req.query("access_token") {
        Some(given) if constant_time_eq(expected.as_bytes(), given.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::unauthorized("invalid access_token")),
        None => Err(ApiError::unauthorized("missing access_token")),
    }
}

/// Equal-length inputs take the same time whatever their content; the length itself is not
/// secret (tokens have a fixed length).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early-exit compare.
    std::hint::black_box(diff) == 0
}

/// `N` bytes from the kernel's CSPRNG.
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    use std::io::Read;
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf)
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_with_mode_0600_and_reloaded() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("exstreamtv-auth-{}", std::process::id()));
        let (t1, s1) = ApiToken::load(None, &dir).unwrap();
        assert!(matches!(s1, TokenSource::Generated(_)));
        assert_eq!(t1.0.len(), 64);
        let mode = std::fs::metadata(dir.join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (t2, s2) = ApiToken::load(None, &dir).unwrap();
        assert!(matches!(s2, TokenSource::File(_)));
        assert!(t2.matches(&t1.0));
        let (t3, s3) = ApiToken::load(Some("abc"), &dir).unwrap();
        assert_eq!(s3, TokenSource::Env);
        assert!(t3.matches("abc") && !t3.matches("abd") && !t3.matches("ab"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
