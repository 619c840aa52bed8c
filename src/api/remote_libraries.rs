//! `POST /api/libraries/{plex|jellyfin|emby}` and `…/discover`: a library of a media server,
//! named by the server's stored source (`media_source_id`) or, as EXStreamTV does, by its
//! own `server_url` and token/API key (a source is then found or added for it). Listing,
//! reading, deleting and scanning such a library are `libraries`' routes, as for local ones.

use std::sync::Arc;

use serde::Deserialize;

use super::libraries::library_json;
use super::media_sources::{library_list_json, remote_error, text, ServerArgs};
use crate::app::App;
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{LibraryType, SourceType};
use crate::library::remote::store::{self, NewRemoteLibrary, NewSource};
use crate::library::remote::Server;

/// `[{key, name, type, agent}]` of the server's libraries.
pub async fn discover(app: &Arc<App>, req: &mut Req, kind: SourceType) -> ApiResult {
    let args: ServerArgs = req.params().await?;
    let server = args.server(app, kind).await?;
    let libraries = server
        .libraries()
        .await
        .map_err(|e| remote_error(kind, e))?;
    Ok(body::ok_json(&library_list_json(&libraries)))
}

#[derive(Deserialize)]
struct CreateRemote {
    #[serde(deserialize_with = "text", default)]
    name: Option<String>,
    #[serde(flatten)]
    server: ServerArgs,
    #[serde(deserialize_with = "text", default)]
    plex_library_key: Option<String>,
    #[serde(deserialize_with = "text", default)]
    jellyfin_library_id: Option<String>,
    #[serde(deserialize_with = "text", default)]
    emby_library_id: Option<String>,
    #[serde(deserialize_with = "text", default)]
    library_key: Option<String>,
    #[serde(deserialize_with = "text", default)]
    library_type: Option<String>,
    #[serde(default = "one")]
    scan_interval_hours: i64,
}

fn one() -> i64 {
    1
}

fn key_field(kind: SourceType) -> &'static str {
    match kind {
        SourceType::Plex => "plex_library_key",
        SourceType::Emby => "emby_library_id",
        _ => "jellyfin_library_id",
    }
}

pub async fn create(app: &Arc<App>, req: &mut Req, kind: SourceType) -> ApiResult {
    let input: CreateRemote = req.params_requiring(&["name"]).await?;
    let name = input.name.clone().unwrap_or_default().trim().to_owned();
    if name.is_empty() || name.len() > crate::ops::libraries::MAX_NAME_LEN {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let remote_key = match kind {
        SourceType::Plex => input.plex_library_key.clone(),
        SourceType::Emby => input.emby_library_id.clone(),
        _ => input.jellyfin_library_id.clone(),
    }
    .or_else(|| input.library_key.clone())
    .filter(|k| !k.is_empty())
    .ok_or_else(|| ApiError::invalid(key_field(kind), "field required"))?;
    let library_type: LibraryType = input
        .library_type
        .as_deref()
        .unwrap_or("movie")
        .parse()
        .map_err(|e| ApiError::invalid("library_type", e))?;
    if !(0..=crate::ops::libraries::MAX_SCAN_INTERVAL_HOURS).contains(&input.scan_interval_hours) {
        return Err(ApiError::invalid("scan_interval_hours", "out of range"));
    }
    let server = input.server.server(app, kind).await?;
    // The library must exist on the server: a typo is refused now, not at the first scan.
    let libraries = server
        .libraries()
        .await
        .map_err(|e| remote_error(kind, e))?;
    if !libraries.iter().any(|l| l.key == remote_key) {
        return Err(ApiError::invalid(
            key_field(kind),
            format_args!("{}: no library {remote_key}", server.label),
        ));
    }
    let source_id = match input.server.media_source_id {
        Some(id) => id,
        None => source_for(app, &server, &name).await?,
    };
    let new = NewRemoteLibrary {
        source_id,
        name,
        library_type,
        remote_key,
        scan_interval_hours: input.scan_interval_hours,
    };
    let id = app
        .db
        .write(move |conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM libraries", [], |r| r.get(0))?;
            if n as usize >= crate::library::store::MAX_LIBRARIES {
                return Ok(None);
            }
            store::create_library(conn, &new, crate::time::now_ms())
        })
        .await?
        .ok_or_else(|| ApiError::conflict("no such source, or too many libraries"))?;
    if let Err(e) = app.scanner.request(id) {
        tracing::warn!(library = id, error = %e, "new library not scanned");
    }
    let row = app
        .db
        .read(move |conn| crate::library::store::library(conn, id))
        .await?
        .ok_or_else(|| ApiError::internal("library vanished after insert"))?;
    Ok(body::created(id, &library_json(app, &row)))
}

/// The stored source with this URL and secret, or a new one named after the library.
async fn source_for(app: &Arc<App>, server: &Server, name: &str) -> Result<i64, ApiError> {
    let (kind, url, secret) = (
        server.source_type,
        server.url.clone(),
        server.secret.clone(),
    );
    let existing = app
        .db
        .read(move |conn| {
            Ok(store::sources(conn, Some(kind))?
                .into_iter()
                .find(|s| s.server_url == url && s.secret == secret)
                .map(|s| s.id))
        })
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    let new = NewSource {
        source_type: kind,
        name: name.to_owned(),
        server_url: server.url.clone(),
        secret: server.secret.clone(),
        user_id: server.user_id.clone(),
        verify_tls: true,
        path_replacements: Vec::new(),
    };
    Ok(app
        .db
        .write(move |conn| store::create_source(conn, &new, crate::time::now_ms()))
        .await?)
}

/// `POST /api/media/plex/from-rating-key`: one Plex item by its `ratingKey`, added to the
/// library of its section (or the source's first library). 400 when no Plex source (or no
/// library of it) exists: "Plex off".
pub async fn from_rating_key(app: &Arc<App>, req: &mut Req) -> ApiResult {
    #[derive(Deserialize)]
    struct Ask {
        #[serde(deserialize_with = "text", default)]
        rating_key: Option<String>,
        #[serde(default)]
        media_source_id: Option<i64>,
    }
    let ask: Ask = req.params_requiring(&["rating_key"]).await?;
    let key = ask.rating_key.unwrap_or_default();
    let sources = app
        .db
        .read(|conn| store::sources(conn, Some(SourceType::Plex)))
        .await?;
    let source = match ask.media_source_id {
        Some(id) => sources.into_iter().find(|s| s.id == id),
        None => sources.into_iter().next(),
    }
    .ok_or_else(|| ApiError::bad_request("no Plex source is configured"))?;
    let server = source.server();
    let (item, section) = crate::library::remote::plex::metadata(&server, &key)
        .await
        .map_err(|e| remote_error(SourceType::Plex, e))?
        .ok_or_else(|| {
            ApiError::not_found(format_args!("{}: no playable item {key}", server.label))
        })?;
    let source_id = source.id;
    let library = app
        .db
        .read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id FROM libraries WHERE media_source_id = ?1
                 ORDER BY remote_key IS NOT ?2, id LIMIT 1",
            )?;
            Ok(stmt
                .query_row(rusqlite::params![source_id, section], |r| {
                    r.get::<_, i64>(0)
                })
                .ok())
        })
        .await?
        .ok_or_else(|| {
            ApiError::bad_request(format_args!("{}: add a library of it first", server.label))
        })?;
    let local_path = match item
        .server_path
        .as_deref()
        .and_then(|p| source.local_path(p))
    {
        Some(p) if tokio::fs::metadata(&p).await.is_ok_and(|m| m.is_file()) => Some(p),
        _ => None,
    };
    let writes = vec![store::ItemWrite { item, local_path }];
    let ids = app
        .db
        .write(move |conn| {
            store::write_items(
                conn,
                library,
                SourceType::Plex,
                &writes,
                crate::time::now_ms(),
            )
        })
        .await?;
    let id = *ids
        .first()
        .ok_or_else(|| ApiError::internal("no row written"))?;
    app.apply(crate::changes::Changes::all("plex item added"))
        .await;
    let mut resp = super::media::get(app, id).await?;
    *resp.status_mut() = hyper::StatusCode::CREATED;
    Ok(resp)
}
