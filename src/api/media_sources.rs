//! `/api/media-sources`: Plex, Jellyfin and Emby servers (add, list, read, test, delete, scan
//! their libraries) and the summary by type. A server's token or API key is write-only: every
//! answer shows `has_token` instead, and errors name the source, never the secret. A server
//! that refuses the secret is a 422 naming `token`/`api_key` (our 401 means our own token); a
//! server that cannot be reached or answers no JSON is a 502 naming it.

use std::sync::Arc;

use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::tx::write_tx;
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::SourceType;
use crate::library::remote::store::{self, NewSource, Replacement, SourceRow};
use crate::library::remote::{RemoteError, RemoteLibrary, Server};
use crate::library::scanner::ScanRequestError;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["summary"] => {
            router::only_get(req)?;
            summary(app).await
        }
        ["test-connection"] => {
            router::only(req, Verb::Post)?;
            test_connection(app, req).await
        }
        [kind] => {
            let kind = remote_type(kind)?;
            by_verb!(req, {
                Get => list(app, kind).await,
                Post => create(app, req, kind).await,
            })
        }
        [kind, "libraries"] => {
            let kind = remote_type(kind)?;
            router::only_get(req)?;
            super::libraries::list_of(app, kind).await
        }
        [kind, id] => {
            let kind = remote_type(kind)?;
            let id = router::id(id)?;
            by_verb!(req, {
                Get => get(app, kind, id).await,
                Delete => delete(app, kind, id).await,
            })
        }
        [kind, id, "scan"] => {
            let kind = remote_type(kind)?;
            router::only(req, Verb::Post)?;
            scan(app, req, kind, router::id(id)?).await
        }
        _ => Err(router::not_found()),
    }
}

/// `plex`, `jellyfin` or `emby`; anything else is no route.
pub fn remote_type(segment: &str) -> Result<SourceType, ApiError> {
    match segment.parse::<SourceType>() {
        Ok(SourceType::Local) | Err(_) => Err(router::not_found()),
        Ok(kind) => Ok(kind),
    }
}

/// The name of the secret field for a type: Plex has a token, Jellyfin and Emby an API key.
pub fn secret_field(kind: SourceType) -> &'static str {
    match kind {
        SourceType::Plex => "token",
        _ => "api_key",
    }
}

/// A remote error as an answer: a refused secret is the caller's input (422 naming it), a
/// server we cannot use is a bad gateway.
pub fn remote_error(kind: SourceType, err: RemoteError) -> ApiError {
    match err {
        RemoteError::Unauthorized(_) | RemoteError::BadHeader => {
            ApiError::invalid(secret_field(kind), err)
        }
        RemoteError::Client(_, crate::http::client::ClientError::BadUrl(_))
        | RemoteError::Client(_, crate::http::client::ClientError::TlsUnsupported(_)) => {
            ApiError::invalid("server_url", err)
        }
        _ => ApiError::new(hyper::StatusCode::BAD_GATEWAY, err),
    }
}

pub fn source_json(s: &SourceRow) -> serde_json::Value {
    json!({
        "id": s.id,
        "name": s.name,
        "source_type": s.source_type,
        "server_url": s.server_url,
        "is_enabled": s.is_enabled,
        "last_scan": s.last_scan_ms.map(crate::time::rfc3339),
        "item_count": s.item_count,
        "library_count": s.library_count,
        "user_id": s.user_id,
        "verify_tls": s.verify_tls,
        "path_replacements": s.path_replacements,
        "has_token": !s.secret.is_empty(),
    })
}

pub fn library_list_json(libs: &[RemoteLibrary]) -> serde_json::Value {
    libs.iter()
        .map(|l| json!({"key": l.key, "name": l.name, "type": l.library_type, "agent": l.agent}))
        .collect()
}

/// A string field that a query string may have typed as a number (`?token=1234`).
pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(serde::de::Error::custom("expected a string")),
    })
}

/// How a request names a server: a stored source, or a URL and its secret.
#[derive(Deserialize, Default)]
pub struct ServerArgs {
    #[serde(default)]
    pub media_source_id: Option<i64>,
    #[serde(default, deserialize_with = "text")]
    pub server_url: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub token: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub api_key: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub user_id: Option<String>,
}

impl ServerArgs {
    /// The server these arguments name (a stored source of `kind`, or URL + secret).
    pub async fn server(&self, app: &Arc<App>, kind: SourceType) -> Result<Server, ApiError> {
        if let Some(id) = self.media_source_id {
            return Ok(stored(app, kind, id).await?.server());
        }
        let url = checked_url(self.server_url.as_deref())?;
        let secret = self.secret(kind)?;
        let mut server = Server::new(kind, &url, &secret, &url);
        server.user_id = self.user_id.clone().filter(|u| !u.is_empty());
        Ok(server)
    }

    pub fn secret(&self, kind: SourceType) -> Result<String, ApiError> {
        // Either name is accepted for either type; the type's own name is the one reported.
        self.token
            .clone()
            .or_else(|| self.api_key.clone())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ApiError::invalid(secret_field(kind), "field required"))
    }
}

/// An `http://` base URL, trimmed of a trailing slash (`https` waits for TLS).
pub fn checked_url(url: Option<&str>) -> Result<String, ApiError> {
    let url = url
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::invalid("server_url", "field required"))?;
    let url = url.trim_end_matches('/').to_owned();
    crate::http::client::Url::parse(&url).map_err(|e| ApiError::invalid("server_url", e))?;
    Ok(url)
}

async fn stored(app: &Arc<App>, kind: SourceType, id: i64) -> Result<SourceRow, ApiError> {
    app.db
        .read(move |conn| store::source(conn, id))
        .await?
        .filter(|s| s.source_type == kind)
        .ok_or_else(|| ApiError::not_found(format_args!("{kind} source {id} not found")))
}

async fn list(app: &Arc<App>, kind: SourceType) -> ApiResult {
    let rows = app
        .db
        .read(move |conn| store::sources(conn, Some(kind)))
        .await?;
    let out: Vec<_> = rows.iter().map(source_json).collect();
    Ok(body::ok_json(&out))
}

async fn get(app: &Arc<App>, kind: SourceType, id: i64) -> ApiResult {
    Ok(body::ok_json(&source_json(&stored(app, kind, id).await?)))
}

#[derive(Deserialize)]
struct CreateSource {
    #[serde(deserialize_with = "text", default)]
    name: Option<String>,
    #[serde(flatten)]
    server: ServerArgs,
    #[serde(default = "yes")]
    verify_tls: bool,
    #[serde(default)]
    path_replacements: Vec<Replacement>,
}

fn yes() -> bool {
    true
}

/// Adds a server after one successful request to it: a wrong URL or key is refused now,
/// not at the first scan.
async fn create(app: &Arc<App>, req: &mut Req, kind: SourceType) -> ApiResult {
    let input: CreateSource = req.params_requiring(&["name", "server_url"]).await?;
    let name = input.name.unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.len() > crate::ops::libraries::MAX_NAME_LEN {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    if input.server.media_source_id.is_some() {
        return Err(ApiError::invalid(
            "media_source_id",
            "not allowed when adding a source",
        ));
    }
    if let Some(r) = input.path_replacements.iter().find(|r| r.from.is_empty()) {
        return Err(ApiError::invalid(
            "path_replacements",
            format_args!("empty from (to {})", r.to),
        ));
    }
    let server = input.server.server(app, kind).await?;
    // `/System/Info/Public` needs no key: listing the libraries proves the key works.
    server.info().await.map_err(|e| remote_error(kind, e))?;
    server
        .libraries()
        .await
        .map_err(|e| remote_error(kind, e))?;
    let new = NewSource {
        source_type: kind,
        name,
        server_url: server.url.clone(),
        secret: server.secret.clone(),
        user_id: server.user_id.clone(),
        verify_tls: input.verify_tls,
        path_replacements: input.path_replacements,
    };
    let id = app
        .db
        .write(move |conn| store::create_source(conn, &new, crate::time::now_ms()))
        .await?;
    tracing::info!(source = id, kind = %kind, "media source added");
    let row = stored(app, kind, id).await?;
    Ok(body::created(id, &source_json(&row)))
}

/// Deletes a server with its libraries and their items, unless one of them is scanning.
async fn delete(app: &Arc<App>, kind: SourceType, id: i64) -> ApiResult {
    stored(app, kind, id).await?;
    let scans = Arc::clone(app);
    let (libraries, changes) = write_tx(app, move |tx| {
        let libraries = store::source_libraries(tx, id)?;
        if libraries.iter().any(|l| scans.scanner.is_scanning(*l)) {
            return Err(ApiError::conflict(
                "a scan of one of its libraries is running",
            ));
        }
        tx.execute("DELETE FROM media_sources WHERE id = ?1", [id])
            .map_err(crate::db::DbError::from)?;
        Ok((
            libraries,
            crate::changes::Changes::all("media source deleted"),
        ))
    })
    .await?;
    for l in libraries {
        app.scanner.forget(l);
    }
    app.apply(changes).await;
    Ok(body::no_content())
}

async fn test_connection(app: &Arc<App>, req: &mut Req) -> ApiResult {
    #[derive(Deserialize)]
    struct Test {
        #[serde(deserialize_with = "text", default)]
        source_type: Option<String>,
        #[serde(flatten)]
        server: ServerArgs,
    }
    let input: Test = req.params_requiring(&["source_type"]).await?;
    let kind = input
        .source_type
        .as_deref()
        .and_then(|t| remote_type(t).ok())
        .ok_or_else(|| ApiError::invalid("source_type", "must be plex, jellyfin or emby"))?;
    let server = input.server.server(app, kind).await?;
    let result = async {
        let info = server.info().await?;
        let libraries = server.libraries().await?;
        Ok::<_, RemoteError>((info, libraries))
    }
    .await;
    Ok(body::ok_json(&match result {
        Ok((info, libraries)) => json!({
            "success": true,
            "message": format!("connected to {} {}", info.name, info.version),
            "server_name": info.name,
            "server_version": info.version,
            "libraries": library_list_json(&libraries),
        }),
        Err(e) => json!({
            "success": false,
            "message": e.to_string(),
            "server_name": null,
            "server_version": null,
            "libraries": [],
        }),
    }))
}

/// Starts scans of the source's libraries (`library_ids`, or all of them when absent).
async fn scan(app: &Arc<App>, req: &mut Req, kind: SourceType, id: i64) -> ApiResult {
    #[derive(Deserialize)]
    struct Scan {
        #[serde(default)]
        library_ids: Option<Vec<i64>>,
    }
    let input: Scan = req.params().await?;
    stored(app, kind, id).await?;
    let all = app
        .db
        .read(move |conn| store::source_libraries(conn, id))
        .await?;
    let wanted = match input.library_ids {
        Some(ids) => {
            if let Some(bad) = ids.iter().find(|l| !all.contains(l)) {
                return Err(ApiError::not_found(format_args!(
                    "library {bad} is not a library of source {id}"
                )));
            }
            ids
        }
        None => all,
    };
    let mut started = 0;
    for l in &wanted {
        match app.scanner.request(*l) {
            Ok(_) => started += 1,
            Err(ScanRequestError::AlreadyScanning) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let ids = wanted.clone();
    let known: i64 = app
        .db
        .read(move |conn| {
            let mut n = 0;
            for id in &ids {
                n += conn.query_row(
                    "SELECT count(*) FROM media_items WHERE library_id = ?1 AND is_missing = 0",
                    [id],
                    |r| r.get::<_, i64>(0),
                )?;
            }
            Ok(n)
        })
        .await?;
    // The scan runs in the background: what it imports is in each library's scan progress;
    // `items_found` is what the libraries hold as it starts.
    Ok(body::ok_json(&json!({
        "success": true,
        "message": format!("scanning {started} of {} libraries in the background; see /api/libraries/scan-progress/{{id}}", wanted.len()),
        "libraries": wanted,
        "scanning": started,
        "items_found": known,
        "items_imported": null,
    })))
}

async fn summary(app: &Arc<App>) -> ApiResult {
    let value = app
        .db
        .read(|conn| {
            let mut out = json!({
                "plex": {"count": 0, "library_count": 0, "total_items": 0},
                "jellyfin": {"count": 0, "library_count": 0, "total_items": 0},
                "emby": {"count": 0, "library_count": 0, "total_items": 0},
                "local": {"count": 0, "total_items": 0},
            });
            let mut stmt = conn.prepare_cached(
                "SELECT l.source_type, count(*),
                        coalesce(sum((SELECT count(*) FROM media_items m
                                      WHERE m.library_id = l.id AND m.is_missing = 0)), 0)
                 FROM libraries l GROUP BY l.source_type",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (source, n, items) = row?;
                if source == "local" {
                    out["local"] = json!({"count": n, "total_items": items});
                } else if out.get(&source).is_some() {
                    out[&source]["library_count"] = json!(n);
                    out[&source]["total_items"] = json!(items);
                }
            }
            for s in store::sources(conn, None)? {
                let entry = &mut out[s.source_type.as_str()]["count"];
                *entry = json!(entry.as_i64().unwrap_or(0) + 1);
            }
            Ok(out)
        })
        .await?;
    Ok(body::ok_json(&value))
}
