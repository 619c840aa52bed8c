//! Emby: the Jellyfin item model (`jellyfin` lists and pages it), with Emby's own auth, the
//! `X-Emby-Token` header (Emby still documents it; Jellyfin 12.x refuses it).

use hyper::header::{HeaderName, HeaderValue};

use super::{plain_header, secret_header, RemoteError};

pub fn headers(token: &str) -> Result<Vec<(HeaderName, HeaderValue)>, RemoteError> {
    Ok(vec![
        plain_header("accept", "application/json")?,
        secret_header("x-emby-token", token)?,
    ])
}
