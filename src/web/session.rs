//! Login sessions for the web UI: `POST /api/auth/session {"token"}` trades the API token
//! for a random session id in an `HttpOnly; SameSite=Strict` cookie. Only the id's SHA-256
//! is stored (`web_sessions`), so a copy of the database opens no session; rows expire after
//! `TTL_MS` and survive a restart. The checks on a request live in `http::auth`.

use hyper::header::{HeaderValue, SET_COOKIE};
use serde::Deserialize;

use crate::app::App;
use crate::db::{optional, Db, DbError};
use crate::hash::hex_sha256;
use crate::http::auth::{hex, random_bytes};
use crate::http::{body, router, ApiError, ApiResult, Req};
use crate::time::now_ms;

pub const COOKIE: &str = "exstreamtv_session";
/// 30 days: a phone on the LAN stays logged in for a month, then asks for the token again.
pub const TTL_MS: i64 = 30 * 24 * 3600 * 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    token: String,
}

/// `/api/auth/session`: GET says whether the request's cookie is a live session (always
/// 200, so the page can ask without a 401 in the browser's console), POST logs in, DELETE
/// logs out (open routes: they carry their own proof, the token or the cookie).
pub async fn route(app: &App, req: &mut Req) -> ApiResult {
    router::by_verb!(req, {
        Get => status(app, req).await,
        Post => login(app, req).await,
        Delete => logout(app, req).await,
    })
}

async fn login(app: &App, req: &mut Req) -> ApiResult {
    let login: Login = req.json().await?;
    if !app.api_token.matches(login.token.trim()) {
        return Err(ApiError::unauthorized("invalid API token"));
    }
    let id = hex(&random_bytes::<32>().map_err(ApiError::internal)?);
    let hash = hex_sha256(id.as_bytes());
    let now = now_ms();
    app.db
        .write(move |conn| {
            conn.execute("DELETE FROM web_sessions WHERE expires_at_ms <= ?1", [now])?;
            conn.execute(
                "INSERT INTO web_sessions (hash, created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3)",
                rusqlite::params![hash, now, now + TTL_MS],
            )?;
            Ok(())
        })
        .await?;
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        TTL_MS / 1000
    );
    set_cookie(body::no_content(), &cookie)
}

async fn status(app: &App, req: &Req) -> ApiResult {
    let id = cookie(req).map(str::to_owned);
    let authenticated = match id {
        Some(id) => valid(&app.db, &id).await?,
        None => false,
    };
    Ok(body::ok_json(
        &serde_json::json!({ "authenticated": authenticated }),
    ))
}

async fn logout(app: &App, req: &mut Req) -> ApiResult {
    if let Some(id) = cookie(req) {
        let hash = hex_sha256(id.as_bytes());
        app.db
            .write(move |conn| {
                conn.execute("DELETE FROM web_sessions WHERE hash = ?1", [hash])?;
                Ok(())
            })
            .await?;
    }
    let gone = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    set_cookie(body::no_content(), &gone)
}

fn set_cookie(mut resp: crate::http::Response, value: &str) -> ApiResult {
    let value = HeaderValue::from_str(value).map_err(ApiError::internal)?;
    resp.headers_mut().insert(SET_COOKIE, value);
    Ok(resp)
}

/// The session id in the request's `Cookie` header, if any.
pub fn cookie(req: &Req) -> Option<&str> {
    let header = req.header(hyper::header::COOKIE)?;
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == COOKIE && !value.is_empty()).then_some(value)
    })
}

/// True when `id` names a stored session that has not expired.
pub async fn valid(db: &Db, id: &str) -> Result<bool, DbError> {
    let hash = hex_sha256(id.as_bytes());
    let now = now_ms();
    db.read(move |conn| {
        let found = optional(conn.query_row(
            "SELECT 1 FROM web_sessions WHERE hash = ?1 AND expires_at_ms > ?2",
            rusqlite::params![hash, now],
            |_| Ok(()),
        ))?;
        Ok(found.is_some())
    })
    .await
}
