//! `/api/import/m3u/*` (API.md §2.9): an M3U playlist's channels listed (`preview`), chosen
//! ones imported as relayed channels (`import`, `ops::relays`), and what a playlist said
//! of a `tvg-id` (`metadata`). The playlist comes from an http(s) URL through
//! `http::url_guard` (422 naming `m3u_url` when refused) or from a file under
//! `<data dir>/import/`; over `m3u_source::MAX_BODY` it is a 413 for the whole. Each chosen
//! stream's URL passes the guard too. Import answers 403 while the module is off
//! (`sources.m3u_enabled`, `/api/m3u/service/*`). The playlist's own guide (`url-tvg`) is
//! remembered with its source and fetched at once (`iptv::source_guide`); a guide that
//! cannot be read is logged, the import stands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::tx::{read, write_tx};
use crate::app::App;
use crate::http::client::{self, ClientError};
use crate::http::router::{self, Verb};
use crate::http::url_guard;
use crate::http::{body, ApiError, ApiResult, Req};
use crate::iptv::m3u_source::{self, Entry, Playlist};
use crate::ops::relays::{self, NewRelay, Numbering, RelayError};
use crate::scheduler::BuildClock;

/// API.md's default first number of imported channels.
const DEFAULT_NUMBER_START: u64 = 1000;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["preview"] => {
            router::only(req, Verb::Post)?;
            preview(app, req).await
        }
        ["import"] => {
            router::only(req, Verb::Post)?;
            import(app, req).await
        }
        ["metadata", tvg_id] => {
            router::only_get(req)?;
            let tvg_id = crate::http::query::percent_decode(tvg_id).into_owned();
            metadata(app, tvg_id).await
        }
        _ => Err(router::not_found()),
    }
}

#[derive(Deserialize)]
struct PreviewInput {
    m3u_url: String,
    #[serde(default)]
    enrich_metadata: bool,
}

async fn preview(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: PreviewInput = req.params_requiring(&["m3u_url"]).await?;
    if input.enrich_metadata {
        return Err(no_enrichment());
    }
    let playlist = load(app, &input.m3u_url).await?;
    let channels: Vec<Value> = playlist
        .entries
        .iter()
        .enumerate()
        .map(|(index, e)| entry_json(index, e))
        .collect();
    Ok(body::ok_json(&json!({
        "url_tvg": playlist.url_tvg,
        "total": channels.len(),
        "skipped": playlist.n_skipped,
        "truncated": playlist.truncated,
        "channels": channels,
    })))
}

fn no_enrichment() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "enrich_metadata: metadata enrichment needs online lookups, which this server does not make",
    )
}

pub(super) fn entry_json(index: usize, e: &Entry) -> Value {
    json!({
        "index": index,
        "name": e.name,
        "tvg_id": e.tvg_id,
        "tvg_name": e.tvg_name,
        "logo": e.logo,
        "group": e.group,
        "chno": e.chno,
        "url": e.url,
    })
}

#[derive(Deserialize)]
struct ImportInput {
    m3u_url: String,
    selected_channels: Vec<usize>,
    #[serde(default = "default_start")]
    channel_number_start: u64,
    #[serde(default)]
    auto_assign_numbers: bool,
    #[serde(default)]
    create_playlists: bool,
}

fn default_start() -> u64 {
    DEFAULT_NUMBER_START
}

async fn import(app: &Arc<App>, req: &mut Req) -> ApiResult {
    if !app.settings().sources.m3u_enabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the M3U module is off (POST /api/m3u/service/enable)",
        ));
    }
    let input: ImportInput = req
        .params_requiring(&["m3u_url", "selected_channels"])
        .await?;
    if input.create_playlists {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "create_playlists: relayed channels are live streams, not playlist items; import without it",
        ));
    }
    if input.selected_channels.is_empty() {
        return Err(ApiError::invalid(
            "selected_channels",
            "choose at least one",
        ));
    }
    if !crate::kinds::is_channel_number(&input.channel_number_start.to_string()) {
        return Err(ApiError::invalid(
            "channel_number_start",
            "not a channel number",
        ));
    }
    let playlist = load(app, &input.m3u_url).await?;
    let mut relays = chosen(app, &playlist, &input.selected_channels).await?;
    let numbering = Numbering {
        start: input.channel_number_start,
        always_from_start: input.auto_assign_numbers,
    };
    // The source first: each channel remembers it, so its guide (`url-tvg`) finds them.
    let source_id = super::iptv_sources::remember(app, &input.m3u_url, &playlist).await;
    if let Some(id) = source_id {
        for relay in &mut relays {
            relay.meta_json = with_source(&relay.meta_json, id);
        }
    }
    let channels = create_relays(app, relays, numbering).await?;
    tracing::info!(n_channels = channels.len(), "M3U channels imported");
    if let (Some(id), Some(url_tvg)) = (source_id, playlist.url_tvg.as_deref()) {
        super::iptv_sources::refresh_guide(app, id, url_tvg).await;
    }
    Ok(body::ok_json(&channels))
}

/// The relay's metadata with its M3U source's id added.
fn with_source(meta_json: &str, source_id: i64) -> String {
    match serde_json::from_str::<Value>(meta_json) {
        Ok(Value::Object(mut meta)) => {
            meta.insert("m3u_source_id".into(), json!(source_id));
            Value::Object(meta).to_string()
        }
        _ => meta_json.to_string(),
    }
}

/// Creates relayed channels in one transaction and answers them as `[Channel]` (M3U and
/// LAN tuner imports).
pub(super) async fn create_relays(
    app: &Arc<App>,
    relays: Vec<relays::NewRelay>,
    numbering: Numbering,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let clock = BuildClock::now(&app.settings());
    let (channels, changes) = write_tx(app, move |tx| {
        let (ids, changes) =
            relays::create_all(tx, &relays, numbering, &clock).map_err(relay_error)?;
        let mut channels = Vec::with_capacity(ids.len());
        for id in ids {
            channels.extend(super::channels::get_json(tx, id.0)?);
        }
        Ok((channels, changes))
    })
    .await?;
    app.apply(changes).await;
    Ok(channels)
}

fn relay_error(err: RelayError) -> ApiError {
    match err {
        RelayError::NoFreeNumber(_) => ApiError::invalid("channel_number_start", &err),
        RelayError::Db(db) => db.into(),
    }
}

/// The entries `selected` names (indices into the preview's list; a repeat counts once),
/// each stream URL through the guard.
async fn chosen(
    app: &App,
    playlist: &Playlist,
    selected: &[usize],
) -> Result<Vec<NewRelay>, ApiError> {
    let allow_loopback = app.settings().sources.allow_loopback;
    let mut seen = std::collections::HashSet::new();
    // A provider's entries share a few hosts: each is resolved once per import, so a slow
    // DNS costs one timeout per host, not one per channel (at most one per selected entry,
    // so bounded by `m3u_source::MAX_ENTRIES`).
    let mut hosts: std::collections::HashMap<String, Result<(), url_guard::UrlError>> =
        std::collections::HashMap::new();
    let mut out = Vec::new();
    for &index in selected {
        if !seen.insert(index) {
            continue;
        }
        let entry = playlist.entries.get(index).ok_or_else(|| {
            ApiError::invalid(
                "selected_channels",
                format_args!(
                    "index {index} is not in the playlist ({} channels)",
                    playlist.entries.len()
                ),
            )
        })?;
        let field = || format!("selected_channels[{index}]");
        let parsed =
            url_guard::parse(&entry.url).map_err(|err| ApiError::invalid(&field(), err))?;
        let key = format!("{:?}|{}|{}", parsed.scheme, parsed.host, parsed.port);
        let verdict = match hosts.get(&key) {
            Some(verdict) => verdict.clone(),
            None => {
                let verdict = url_guard::check(&entry.url, allow_loopback)
                    .await
                    .map(|_| ());
                hosts.insert(key, verdict.clone());
                verdict
            }
        };
        verdict.map_err(|err| ApiError::invalid(&field(), err))?;
        out.push(relay_of(entry));
    }
    Ok(out)
}

fn relay_of(e: &Entry) -> NewRelay {
    let logo_url = e.logo.clone().filter(|l| url_guard::parse(l).is_ok());
    NewRelay {
        name: e.name.chars().take(200).collect(),
        group: e.group.clone(),
        logo_url,
        url: e.url.clone(),
        number: e.chno.clone(),
        meta_json: json!({
            "tvg_id": e.tvg_id,
            "tvg_name": e.tvg_name,
            "tvg_logo": e.logo,
            "group_title": e.group,
            "tvg_chno": e.chno,
        })
        .to_string(),
    }
}

/// The playlist at `m3u_url`: a file under `<data dir>/import/`, or an http(s) URL.
pub(super) async fn load(app: &App, m3u_url: &str) -> Result<Playlist, ApiError> {
    let bytes = if m3u_url.starts_with('/') {
        read_import_file(&app.config.data_dir, m3u_url).await?
    } else {
        fetch(app, m3u_url).await?
    };
    // 8 MB of lines is tens of milliseconds: off the tokio workers.
    tokio::task::spawn_blocking(move || m3u_source::parse(&bytes))
        .await
        .map_err(ApiError::internal)
}

async fn fetch(app: &App, url: &str) -> Result<bytes::Bytes, ApiError> {
    let allow_loopback = app.settings().sources.allow_loopback;
    url_guard::check(url, allow_loopback)
        .await
        .map_err(|err| ApiError::invalid("m3u_url", err))?;
    let answer = client::get(url, &[], m3u_source::MAX_BODY)
        .await
        .map_err(|err| match err {
            ClientError::TooLarge(_) => too_large(),
            other => ApiError::invalid("m3u_url", format_args!("cannot fetch it: {other}")),
        })?;
    if !answer.status.is_success() {
        return Err(ApiError::invalid(
            "m3u_url",
            format_args!("the server answered {}", answer.status),
        ));
    }
    Ok(answer.body)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format_args!(
            "m3u_url: the playlist is larger than {} bytes",
            m3u_source::MAX_BODY
        ),
    )
}

/// A playlist file: only under `<data dir>/import/` (after resolving links and `..`), at
/// most `MAX_BODY` bytes.
async fn read_import_file(data_dir: &Path, path: &str) -> Result<bytes::Bytes, ApiError> {
    let outside = || {
        ApiError::invalid(
            "m3u_url",
            "a file must be under the data dir's import/ folder",
        )
    };
    let root: PathBuf = tokio::fs::canonicalize(data_dir.join("import"))
        .await
        .map_err(|_| outside())?;
    let file = tokio::fs::canonicalize(path).await.map_err(|_| outside())?;
    if !file.starts_with(&root) {
        return Err(outside());
    }
    let meta = tokio::fs::metadata(&file).await.map_err(|_| outside())?;
    if !meta.is_file() {
        return Err(ApiError::invalid("m3u_url", "not a file"));
    }
    if meta.len() > m3u_source::MAX_BODY as u64 {
        return Err(too_large());
    }
    let bytes = tokio::fs::read(&file)
        .await
        .map_err(|e| ApiError::invalid("m3u_url", format_args!("cannot read it: {e}")))?;
    Ok(bytes.into())
}

/// What the imported playlists said of `tvg_id`, with the channels that relay it. (This
/// SQLite has no JSON functions: the stored text is narrowed by its serialized
/// `"tvg_id":"…"` pair, then parsed and compared.)
async fn metadata(app: &Arc<App>, tvg_id: String) -> ApiResult {
    let pair = format!("\"tvg_id\":{}", json!(tvg_id));
    let rows = read(app, move |conn| {
        let mut stmt = conn
            .prepare_cached(
                "SELECT mi.meta_data, s.channel_id FROM media_items mi
                 LEFT JOIN schedule_items si ON si.media_item_id = mi.id
                 LEFT JOIN schedules s ON s.id = si.schedule_id
                 WHERE mi.source = 'live' AND instr(mi.meta_data, ?1) > 0
                 ORDER BY mi.id, s.channel_id",
            )
            .map_err(crate::db::DbError::from)?;
        let rows = stmt
            .query_map([&pair], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
            })
            .map_err(crate::db::DbError::from)?;
        Ok(rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(crate::db::DbError::from)?)
    })
    .await?;
    let mut meta: Option<serde_json::Map<String, Value>> = None;
    let mut channel_ids = Vec::new();
    for (text, channel) in rows {
        let Ok(Value::Object(found)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if found.get("tvg_id").and_then(Value::as_str) != Some(tvg_id.as_str()) {
            continue;
        }
        meta.get_or_insert(found);
        channel_ids.extend(channel);
    }
    let mut meta =
        meta.ok_or_else(|| ApiError::not_found("no imported channel has this tvg_id"))?;
    meta.insert("channel_ids".into(), json!(channel_ids));
    Ok(body::ok_json(&json!({"tvg_id": tvg_id, "metadata": meta})))
}
