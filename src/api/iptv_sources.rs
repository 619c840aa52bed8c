//! `/api/integrations/iptv/sources` (EXStreamTV's IPTV source manager, M3U only): the
//! playlists our relayed channels come from (`ops::m3u_sources`; every M3U import records
//! its playlist), one added by `{name*, source_type="m3u", m3u_url*}` (read at once, so a
//! playlist that cannot be read is a 422 and not a dead row), `{id}/refresh` and
//! `{id}/test` read it again, `{id}/channels` lists its entries as the import preview does.
//! Xtream Codes logins are a 501: they need credentials sent to a provider's portal, and
//! usually https, which this build cannot make.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::m3u_import;
use super::tx::{read, write_tx};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::iptv::m3u_source::Playlist;
use crate::iptv::source_guide;
use crate::ops::m3u_sources::{self as store, M3uSource, Read};

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => by_verb!(req, {
            Get => {
                let sources = read(app, |conn| Ok(store::list(conn)?)).await?;
                let out: Vec<SourceView> = sources.iter().map(SourceView::of).collect();
                Ok(body::ok_json(&out))
            },
            Post => create(app, req).await,
        }),
        [id] => {
            let id = router::id(id)?;
            by_verb!(req, {
                Get => Ok(body::ok_json(&SourceView::of(&source(app, id).await?))),
                Delete => {
                    let found = write_tx(app, move |tx| Ok(store::delete(tx, id)?)).await?;
                    if !found {
                        return Err(ApiError::not_found("IPTV source"));
                    }
                    app.source_guides.forget(id);
                    app.content_changed();
                    Ok(body::no_content())
                },
            })
        }
        [id, "refresh"] | [id, "test"] => {
            router::only(req, Verb::Post)?;
            let source = source(app, router::id(id)?).await?;
            let (success, message) = match reread(app, &source).await {
                Ok(n) => (true, format!("{n} channels")),
                Err(err) => (false, err.detail.to_string()),
            };
            Ok(body::ok_json(&json!({
                "source_id": source.id,
                "success": success,
                "message": message,
            })))
        }
        [id, "channels"] => {
            router::only_get(req)?;
            let source = source(app, router::id(id)?).await?;
            let playlist = m3u_import::load(app, &source.url).await?;
            let channels: Vec<Value> = playlist
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| m3u_import::entry_json(i, e))
                .collect();
            Ok(body::ok_json(&channels))
        }
        _ => Err(router::not_found()),
    }
}

async fn source(app: &Arc<App>, id: i64) -> Result<M3uSource, ApiError> {
    read(app, move |conn| {
        store::get(conn, id)?.ok_or_else(|| ApiError::not_found("IPTV source"))
    })
    .await
}

/// Reads the source's playlist again and records what it found; its guide is fetched
/// again too.
async fn reread(app: &Arc<App>, source: &M3uSource) -> Result<usize, ApiError> {
    let result = m3u_import::load(app, &source.url).await;
    let id = source.id;
    let outcome = match &result {
        Ok(p) => Ok((p.entries.len(), p.url_tvg.clone())),
        Err(e) => Err(e.detail.to_string()),
    };
    write_tx(app, move |tx| {
        let read = match &outcome {
            Ok((n, url_tvg)) => {
                store::set_url_tvg(tx, id, url_tvg.as_deref())?;
                Read::Channels(*n as i64)
            }
            Err(why) => Read::Failed(why),
        };
        Ok(store::record(tx, id, read, crate::time::now_ms())?)
    })
    .await?;
    let playlist = result?;
    match playlist.url_tvg.as_deref() {
        Some(url_tvg) => refresh_guide(app, id, url_tvg).await,
        None => app.source_guides.forget(id),
    }
    Ok(playlist.entries.len())
}

/// Records the playlist an import read, with its guide URL; its id. A failure to record
/// is logged: the import goes on, without a guide.
pub(super) async fn remember(app: &Arc<App>, url: &str, playlist: &Playlist) -> Option<i64> {
    let (name, url) = (default_name(url), url.to_owned());
    let (n_entries, url_tvg) = (playlist.entries.len(), playlist.url_tvg.clone());
    let recorded = write_tx(app, move |tx| {
        let read = Read::Channels(n_entries as i64);
        let id = store::upsert(tx, &name, &url, read, crate::time::now_ms())?;
        store::set_url_tvg(tx, id, url_tvg.as_deref())?;
        Ok(id)
    })
    .await;
    recorded
        .inspect_err(|err| tracing::warn!(detail = %err.detail, "cannot record the M3U source"))
        .ok()
}

/// Fetches source `id`'s guide (`iptv::source_guide`); a failure is logged (the relayed
/// channels keep their own day-long programme in our guide).
pub(super) async fn refresh_guide(app: &Arc<App>, id: i64, url_tvg: &str) {
    match source_guide::refresh(app, id, url_tvg).await {
        Ok(n) => tracing::info!(source = id, n_channels = n, "source guide fetched"),
        Err(err) => tracing::warn!(source = id, %err, "source guide not fetched"),
    }
}

/// A source's name when none is given: the URL's host, or the file's name.
fn default_name(url: &str) -> String {
    match crate::http::url_guard::parse(url) {
        Ok(parsed) => parsed.host.to_owned(),
        Err(_) => url.rsplit('/').next().unwrap_or(url).to_owned(),
    }
}

#[derive(Deserialize)]
struct CreateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default = "m3u")]
    source_type: String,
    #[serde(default)]
    m3u_url: Option<String>,
}

fn m3u() -> String {
    "m3u".to_owned()
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: CreateBody = req.params().await?;
    match input.source_type.as_str() {
        "m3u" => {}
        "xtream" => {
            return Err(ApiError::not_implemented(
                "source_type: Xtream Codes logins are not supported (they need a provider's portal over https); use the provider's M3U URL",
            ))
        }
        _ => return Err(ApiError::invalid("source_type", "one of: m3u, xtream")),
    }
    let url = input
        .m3u_url
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ApiError::invalid("m3u_url", "field required"))?;
    let name = match input.name.as_deref().map(str::trim) {
        Some(n) if !n.is_empty() && n.chars().count() <= 200 => n.to_owned(),
        Some(_) => return Err(ApiError::invalid("name", "1 to 200 characters")),
        None => default_name(&url),
    };
    let playlist = m3u_import::load(app, &url).await?;
    let n = playlist.entries.len() as i64;
    let url_tvg = playlist.url_tvg.clone();
    let source = write_tx(app, move |tx| {
        let id = store::upsert(tx, &name, &url, Read::Channels(n), crate::time::now_ms())?;
        tx.execute(
            "UPDATE m3u_sources SET name = ?2 WHERE id = ?1",
            (id, &name),
        )
        .map_err(crate::db::DbError::from)?;
        store::set_url_tvg(tx, id, url_tvg.as_deref())?;
        store::get(tx, id)?.ok_or_else(|| ApiError::not_found("IPTV source"))
    })
    .await?;
    Ok(body::created(source.id, &SourceView::of(&source)))
}

#[derive(Serialize)]
struct SourceView {
    id: i64,
    name: String,
    source_type: &'static str,
    m3u_url: String,
    is_enabled: bool,
    channel_count: i64,
    last_refresh: Option<String>,
    last_error: Option<String>,
    created_at: String,
    /// The playlist's own guide (`#EXTM3U url-tvg`), merged into ours.
    url_tvg: Option<String>,
}

impl SourceView {
    fn of(s: &M3uSource) -> SourceView {
        SourceView {
            id: s.id,
            name: s.name.clone(),
            source_type: "m3u",
            m3u_url: s.url.clone(),
            is_enabled: s.enabled,
            channel_count: s.channel_count,
            last_refresh: s.last_refresh_ms.map(crate::time::rfc3339),
            last_error: s.last_error.clone(),
            created_at: crate::time::rfc3339(s.created_at_ms),
            url_tvg: s.url_tvg.clone(),
        }
    }
}
