//! Login sessions for the web UI: `POST /api/auth/session {"token"}` trades the API token
//! for a random session id in an `HttpOnly; SameSite=Strict` cookie. Only the id's SHA-256
//! is stored (`web_sessions`), so a copy of the database opens no session; rows expire after
//! `TTL_MS` and survive a restart. The checks on a request live in `http::auth`.

use hyper::header::{HeaderValue, SET_COOKIE};
use serde::Deserialize;

use crate::app::App;
use crate::db::{optional, Db, DbError};
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
    let hash = hex(&sha256(id.as_bytes()));
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
        let hash = hex(&sha256(id.as_bytes()));
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
    let hash = hex(&sha256(id.as_bytes()));
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

/// SHA-256 (FIPS 180-4), written out: 40 lines instead of a crate for hashing 64-byte ids.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend(((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (acc, x) in h.iter_mut().zip(v) {
            *acc = acc.wrapping_add(x);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(
            hex(&sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(
            hex(&sha256(long)),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }
}
