//! `/api/migration/*` (EXStreamTV's migration API): ErsatzTV's and StreamTV's SQLite files
//! read and carried over (`migration`), and EXStreamTV's too, with its `config.yaml`
//! (`config_path`, or the part `config_file`) for the tuner's identity. A database is named by `db_path` (a file under the
//! data dir's `import/`, as M3U files are) or uploaded as the multipart part `db_file` (up
//! to `MAX_UPLOAD`; written under `import/` for the read, removed after). `validate`
//! counts what is there; `import` (`dry_run` counts only) creates the source's local
//! folders as libraries and scans them, adds its URL media, then its profiles,
//! collections, playlists and channels in one transaction, and answers EXStreamTV's
//! `MigrationResult` with a `migration_id` for `progress/{id}`. `path_prefix_from` /
//! `path_prefix_to` rewrite the source's paths (ErsatzTV in Docker saw `/media`, this box
//! `/mnt/media`). `repair/playout-items` rebuilds every playout from its schedule (our
//! playout items are always derived, so that is the whole repair).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::tx::write_tx;
use crate::app::App;
use crate::changes::Changes;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::migration::{self, Foreign, Registry, Source, Stats, Tuner};
use crate::ops::libraries::{self as libraries, NewLibrary};

/// An uploaded database: an ErsatzTV file of a large library is tens of MiB.
const MAX_UPLOAD: usize = 64 << 20;
/// How long the import waits for the scans of the folders it added.
const SCAN_WAIT: Duration = Duration::from_secs(30 * 60);
const STEPS: u32 = 5;
/// A `config.yaml` is a few KiB.
const MAX_CONFIG: usize = 1 << 20;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["sources"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&sources()))
        }
        ["detect"] => {
            router::only_get(req)?;
            detect(app).await
        }
        ["validate", source] => {
            router::only(req, Verb::Post)?;
            validate(app, req, source_of(source)?).await
        }
        ["import", source] => {
            router::only(req, Verb::Post)?;
            import(app, req, source_of(source)?).await
        }
        ["progress", id] => {
            router::only_get(req)?;
            let progress = Registry::global()
                .get(id)
                .ok_or_else(|| ApiError::not_found("Migration"))?;
            Ok(body::ok_json(&progress))
        }
        ["repair", "playout-items"] => {
            router::only(req, Verb::Post)?;
            repair(app, req).await
        }
        _ => Err(router::not_found()),
    }
}

fn source_of(text: &str) -> Result<Source, ApiError> {
    Source::parse(text).ok_or_else(|| ApiError::not_found("Migration source"))
}

fn sources() -> serde_json::Value {
    json!([
        {"id": "ersatztv", "name": "ErsatzTV",
         "description": "Local library folders, FFmpeg profiles, collections and channels with their program schedules",
         "supported_formats": ["SQLite Database (.sqlite3, .db)"], "icon": "📺"},
        {"id": "streamtv", "name": "StreamTV",
         "description": "Channels, playlists and their media items (URLs)",
         "supported_formats": ["SQLite Database (.db)"], "icon": "📡"},
        {"id": "exstreamtv", "name": "EXStreamTV",
         "description": "Channels (ids kept), FFmpeg profiles, media items (URLs), playlists and program schedules; with config.yaml, the HDHomeRun DeviceID, DeviceAuth and tuner count",
         "supported_formats": ["SQLite Database (.db)"], "icon": "📼"},
    ])
}

/// The databases under `import/`, by the source each reads as.
async fn detect(app: &Arc<App>) -> ApiResult {
    let dir = app.config.data_dir.join("import");
    let found = tokio::task::spawn_blocking(move || {
        let mut out = json!({"ersatztv": [], "streamtv": [], "exstreamtv": []});
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return out;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            // EXStreamTV's tables are a superset of StreamTV's: the first that reads it wins.
            for source in [Source::Ersatztv, Source::Exstreamtv, Source::Streamtv] {
                if migration::read(source, &path).is_ok() {
                    let size_mb = (meta.len() as f64 / 1_048_576.0 * 100.0).round() / 100.0;
                    if let Some(list) = out[source.as_str()].as_array_mut() {
                        list.push(json!({"path": path.display().to_string(), "type": "database", "size_mb": size_mb}));
                    }
                    break;
                }
            }
        }
        out
    })
    .await
    .map_err(|_| ApiError::internal("detect task failed"))?;
    Ok(body::ok_json(&found))
}

#[derive(Deserialize, Default)]
struct Input {
    db_path: Option<String>,
    /// EXStreamTV's `config.yaml` (under `import/` too): its HDHomeRun identity comes over.
    config_path: Option<String>,
    #[serde(default)]
    dry_run: bool,
    path_prefix_from: Option<String>,
    path_prefix_to: Option<String>,
}

/// The database a request names, and whether it is a temporary upload to remove.
struct Named {
    path: PathBuf,
    upload: bool,
    input: Input,
    /// The text of `config_path` or of the part `config_file`.
    config: Option<String>,
}

impl Drop for Named {
    fn drop(&mut self) {
        if self.upload {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn named(app: &Arc<App>, req: &mut Req) -> Result<Named, ApiError> {
    let content_type = req
        .header(hyper::header::CONTENT_TYPE)
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return uploaded(app, req, &content_type).await;
    }
    let input: Input = req.params().await?;
    let given = input
        .db_path
        .clone()
        .ok_or_else(|| ApiError::invalid("db_path", "field required (or upload db_file)"))?;
    let path = under_import(&app.config.data_dir, &given, "db_path").await?;
    let config = match &input.config_path {
        Some(given) => {
            let path = under_import(&app.config.data_dir, given, "config_path").await?;
            Some(config_text(&path).await?)
        }
        None => None,
    };
    Ok(Named {
        path,
        upload: false,
        input,
        config,
    })
}

async fn uploaded(app: &Arc<App>, req: &mut Req, content_type: &str) -> Result<Named, ApiError> {
    let bytes = req.body_bytes(MAX_UPLOAD).await?;
    let file = crate::http::multipart::part(content_type, &bytes, "db_file")?;
    let flag = |name: &str| {
        crate::http::multipart::part(content_type, &bytes, name)
            .ok()
            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
    };
    let config = match crate::http::multipart::part(content_type, &bytes, "config_file") {
        Ok(text) if text.len() <= MAX_CONFIG => Some(String::from_utf8_lossy(text).into_owned()),
        Ok(_) => {
            return Err(ApiError::invalid(
                "config_file",
                "over 1 MiB: not a config.yaml",
            ))
        }
        Err(_) => None,
    };
    let input = Input {
        db_path: None,
        config_path: None,
        dry_run: flag("dry_run").is_some_and(|v| v == "true" || v == "1"),
        path_prefix_from: flag("path_prefix_from"),
        path_prefix_to: flag("path_prefix_to"),
    };
    let dir = app.config.data_dir.join("import");
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!(".upload-{}-{n}.db", std::process::id()));
    let data = bytes.slice_ref(file);
    let target = path.clone();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&target, &data)
    })
    .await
    .map_err(|_| ApiError::internal("upload task failed"))?
    .map_err(|e| ApiError::internal(format_args!("cannot store the upload: {e}")))?;
    Ok(Named {
        path,
        upload: true,
        input,
        config,
    })
}

/// `path`, which must be a file under `<data dir>/import/` (symlinks resolved first).
async fn under_import(data_dir: &Path, path: &str, field: &str) -> Result<PathBuf, ApiError> {
    let outside = || ApiError::invalid(field, "a file under the data dir's import/ folder");
    let root = tokio::fs::canonicalize(data_dir.join("import"))
        .await
        .map_err(|_| outside())?;
    let file = tokio::fs::canonicalize(path).await.map_err(|_| outside())?;
    if !file.starts_with(&root) || !tokio::fs::metadata(&file).await.is_ok_and(|m| m.is_file()) {
        return Err(outside());
    }
    Ok(file)
}

async fn config_text(path: &Path) -> Result<String, ApiError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| ApiError::invalid("config_path", format_args!("cannot read it: {e}")))?;
    if bytes.len() > MAX_CONFIG {
        return Err(ApiError::invalid(
            "config_path",
            "over 1 MiB: not a config.yaml",
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The tuner identity of the request's `config.yaml`, read for EXStreamTV only.
fn tuner_of(named: &Named, source: Source, warnings: &mut Vec<String>) -> Result<Tuner, ApiError> {
    let Some(text) = &named.config else {
        return Ok(Tuner::default());
    };
    if source != Source::Exstreamtv {
        warnings.push("a config file is read for EXStreamTV only; it was ignored".to_owned());
        return Ok(Tuner::default());
    }
    migration::exstreamtv_config::read(text, warnings).map_err(|e| ApiError::invalid("config", e))
}

fn tuner_json(t: &Tuner) -> serde_json::Value {
    json!({"device_id": t.device_id, "device_auth_set": t.device_auth.is_some(),
           "tuner_count": t.tuner_count})
}

/// Makes the old box's identity ours: Plex and Jellyfin find their tuner again.
async fn adopt(app: &Arc<App>, t: Tuner) -> Result<(), ApiError> {
    if t.is_empty() {
        return Ok(());
    }
    app.update_settings(|s| {
        if let Some(id) = t.device_id {
            s.hdhomerun.device_id = id;
        }
        if let Some(auth) = t.device_auth {
            s.hdhomerun.device_auth = auth;
        }
        if t.tuner_count.is_some() {
            s.hdhomerun.tuner_count = t.tuner_count;
        }
        s.normalize();
        s.validate()
            .map_err(|e| ApiError::invalid(&format!("config.{}", e.field), &e.problem))
    })
    .await?;
    tracing::info!("migration: the HDHomeRun identity of config.yaml adopted");
    Ok(())
}

async fn read_foreign(source: Source, path: PathBuf) -> Result<Foreign, ApiError> {
    tokio::task::spawn_blocking(move || migration::read(source, &path))
        .await
        .map_err(|_| ApiError::internal("read task failed"))?
        .map_err(|e| match e {
            migration::MigrationError::Locked => ApiError::conflict(e),
            e => ApiError::invalid("db_path", e),
        })
}

async fn validate(app: &Arc<App>, req: &mut Req, source: Source) -> ApiResult {
    let named = named(app, req).await?;
    let mut config_warnings = Vec::new();
    let tuner = tuner_of(&named, source, &mut config_warnings);
    let answer = match read_foreign(source, named.path.clone()).await {
        Ok(mut f) => {
            f.warnings.extend(config_warnings);
            let counts: serde_json::Map<_, _> = f
                .counts
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            let channels = f.channels.len();
            let mut errors = Vec::new();
            if channels == 0 {
                errors.push("no channels found in the database".to_owned());
            }
            let config = match &tuner {
                Ok(t) => tuner_json(t),
                Err(e) => {
                    errors.push(e.detail.clone());
                    serde_json::Value::Null
                }
            };
            json!({"is_valid": errors.is_empty(), "source_type": source.as_str(),
                   "counts": counts, "config": config, "warnings": f.warnings,
                   "errors": errors})
        }
        Err(e) => json!({"is_valid": false, "source_type": source.as_str(), "counts": {},
                         "warnings": [], "errors": [e.detail]}),
    };
    Ok(body::ok_json(&answer))
}

async fn import(app: &Arc<App>, req: &mut Req, source: Source) -> ApiResult {
    let named = named(app, req).await?;
    let began = Instant::now();
    let mut foreign = read_foreign(source, named.path.clone()).await?;
    let mut warnings = std::mem::take(&mut foreign.warnings);
    let tuner = tuner_of(&named, source, &mut warnings)?;
    rewrite_paths(&mut foreign, &named.input);
    let id = Registry::global().start(source.as_str(), STEPS);
    let mut stats = Stats::default();
    let result = match named.input.dry_run {
        true => {
            dry_run(&foreign, &mut stats);
            warnings.push("dry run: nothing was changed".to_owned());
            Ok(())
        }
        false => match run(app, &id, &foreign, &mut stats, &mut warnings).await {
            Ok(()) => adopt(app, tuner.clone()).await,
            Err(e) => Err(e),
        },
    };
    let error = result.err().map(|e| e.detail);
    Registry::global().finish(&id, error.clone());
    Ok(body::ok_json(&json!({
        "success": error.is_none(),
        "source_type": source.as_str(),
        "migration_id": id,
        "stats": stats,
        "config": tuner_json(&tuner),
        "errors": error.into_iter().collect::<Vec<_>>(),
        "warnings": warnings,
        "duration_seconds": (began.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    })))
}

fn rewrite_paths(f: &mut Foreign, input: &Input) {
    let (Some(from), Some(to)) = (&input.path_prefix_from, &input.path_prefix_to) else {
        return;
    };
    let fix = |p: &mut String| {
        if let Some(rest) = p.strip_prefix(from.as_str()) {
            *p = format!("{to}{rest}");
        }
    };
    f.folders.iter_mut().for_each(fix);
    f.collections
        .iter_mut()
        .flat_map(|c| c.paths.iter_mut())
        .for_each(fix);
    f.media.iter_mut().for_each(|m| fix(&mut m.url));
    for p in &mut f.playlists {
        for entry in &mut p.entries {
            if let migration::ForeignEntry::Url(url) = entry {
                fix(url);
            }
        }
    }
    for doc in &mut f.channels {
        if let Some(s) = doc.schedule.as_mut() {
            s.items
                .iter_mut()
                .filter(|i| i.collection_type == crate::kinds::SlotContent::MediaItem)
                .for_each(|i| fix(&mut i.content));
        }
    }
}

fn dry_run(f: &Foreign, stats: &mut Stats) {
    stats.libraries = f.folders.len() as i64;
    stats.media_items = f.media.len() as i64;
    stats.ffmpeg_profiles = f.profiles.len() as i64;
    stats.collections = f.collections.len() as i64;
    stats.collection_items = f.collections.iter().map(|c| c.paths.len() as i64).sum();
    stats.playlists = f.playlists.len() as i64;
    stats.filler_presets = f.fillers.len() as i64;
    stats.watermarks = f.watermarks.len() as i64;
    stats.channels = f.channels.len() as i64;
}

fn step(id: &str, n: u32, what: &str) {
    Registry::global().update(id, |p| {
        p.current_step_number = n;
        p.current_step = what.to_owned();
    });
}

/// The import's steps: folders (scanned), media, then one transaction for the rest.
async fn run(
    app: &Arc<App>,
    id: &str,
    f: &Foreign,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    step(id, 2, "libraries");
    let scanning = add_folders(app, f, stats, warnings).await?;
    step(id, 3, "scanning");
    wait_for_scans(app, &scanning).await;
    step(id, 4, "media");
    add_media(app, id, f, stats, warnings).await;
    step(id, 5, "channels");
    let clock = crate::scheduler::BuildClock::now(&app.settings());
    let foreign = Foreign {
        counts: Vec::new(),
        warnings: Vec::new(),
        folders: Vec::new(),
        profiles: f.profiles.clone(),
        collections: f.collections.clone(),
        media: Vec::new(),
        playlists: f.playlists.clone(),
        fillers: f.fillers.clone(),
        watermarks: f.watermarks.clone(),
        channels: f.channels.clone(),
        channel_ids: f.channel_ids.clone(),
    };
    let mut s = std::mem::take(stats);
    let (s, w, changes) = write_tx(app, move |tx| {
        let mut w = Vec::new();
        let seed = || crate::time::now_ms();
        let changes = migration::apply(tx, &foreign, &clock, seed, &mut s, &mut w)?;
        Ok((s, w, changes))
    })
    .await?;
    *stats = s;
    warnings.extend(w);
    app.apply(changes).await;
    Ok(())
}

/// The source's folders that exist here, each a new local library (a folder that is one
/// already is kept), with its scan asked for; the ids being scanned.
async fn add_folders(
    app: &Arc<App>,
    f: &Foreign,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) -> Result<Vec<i64>, ApiError> {
    let mut scanning = Vec::new();
    for folder in &f.folders {
        let name = Path::new(folder)
            .file_name()
            .map_or_else(|| folder.clone(), |n| n.to_string_lossy().into_owned());
        let request = super::libraries::local_request(name, folder.clone());
        let new = match NewLibrary::checked(request).await {
            Ok(new) => new,
            Err(why) => {
                warnings.push(format!("library folder {folder} is not used: {why}"));
                continue;
            }
        };
        let created = write_tx(app, move |tx| {
            let there: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM libraries WHERE path = ?1)",
                    [&new.path],
                    |r| r.get(0),
                )
                .map_err(crate::db::DbError::from)?;
            if there {
                return Ok(None);
            }
            Ok(Some(libraries::create(tx, &new)?.0))
        })
        .await?;
        match created {
            Some(id) => {
                stats.libraries += 1;
                if app.scanner.request(id.0).is_ok() {
                    scanning.push(id.0);
                }
            }
            None => warnings.push(format!("library folder {folder} is a library here already")),
        }
    }
    Ok(scanning)
}

async fn wait_for_scans(app: &Arc<App>, ids: &[i64]) {
    let until = Instant::now() + SCAN_WAIT;
    while Instant::now() < until && ids.iter().any(|id| app.scanner.is_scanning(*id)) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn add_media(
    app: &Arc<App>,
    id: &str,
    f: &Foreign,
    stats: &mut Stats,
    warnings: &mut Vec<String>,
) {
    Registry::global().update(id, |p| p.items_total = f.media.len() as u64);
    for (n, m) in f.media.iter().enumerate() {
        let input = super::media::CreateMedia {
            url: m.url.clone(),
            title: Some(m.title.clone()),
            duration: m.duration_ms.map(|ms| ms as f64 / 1000.0),
            ..Default::default()
        };
        match super::media::add(app, input).await {
            Ok(added) if added.created => stats.media_items += 1,
            Ok(_) => {}
            Err(e) => warnings.push(format!("media item {}: {}", m.url, e.detail)),
        }
        Registry::global().update(id, |p| p.items_processed = n as u64 + 1);
    }
}

#[derive(Deserialize)]
struct RepairInput {
    #[serde(default = "yes")]
    dry_run: bool,
}

fn yes() -> bool {
    true
}

/// Rebuilds every playout from its schedule (`dry_run`, the default, only counts them).
async fn repair(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let dry_run = match req.query("dry_run") {
        Some(v) => v == "true" || v == "1",
        None => req
            .json_or_default::<Option<RepairInput>>()
            .await?
            .is_none_or(|i| i.dry_run),
    };
    let playouts: i64 = app
        .db
        .read(|conn| Ok(conn.query_row("SELECT count(*) FROM playouts", [], |r| r.get(0))?))
        .await?;
    if !dry_run {
        app.apply(Changes::all("repair: every playout rebuilt"))
            .await;
    }
    let prefix = if dry_run { "[DRY RUN] " } else { "" };
    Ok(body::ok_json(&json!({
        "success": true,
        "stats": {"playouts": playouts, "rebuilt": if dry_run { 0 } else { playouts }},
        "errors": [],
        "message": format!("{prefix}every playout's items are rebuilt from its schedule: {playouts} playouts"),
    })))
}
