//! `GET /api/export` and `POST /api/import`: the whole configuration as one JSON document —
//! channels, schedules, collections, playlists, filler, profiles, the library's items, the
//! stored timeline and the settings (secrets excluded) — so a box can be rebuilt or moved
//! with the same lineup and guide. Import validates everything first and applies it in one
//! transaction, or nothing, listing every error.
//!
//! The tables are exported generically, row by row, with the columns the schema has, so the
//! format follows `schema.sql` without a second description of it. What the generic copy
//! cannot know is checked before anything is written: the columns that hold a `kinds` value
//! (`STORED_KINDS`: each must be one of its enum's, and is stored canonical), channel
//! numbers, and the settings' bounds (`Settings::validate`, the settings API's check).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::db::DbError;
use crate::http::body::Body;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{
    is_channel_number, ArtworkKind, ChannelPlayoutMode, CollectionKind, FillerContent, FillerKind,
    FillerModeKind, FixedStartBehavior, GuideMode, HardwareAcceleration, IdleBehavior, LibraryType,
    MediaSource, MediaType, PlaybackOrder, PlayoutSource, ScalingMode, SlotContent, SlotMode,
    SourceType, StartType, StreamingMode, TailMode, TranscodeProfile, Values,
};
use crate::settings::Settings;

pub const FORMAT: &str = "exstreamtv-export";
/// Bump when a change to the document would make an older importer misread it.
pub const FORMAT_VERSION: i64 = 1;
/// An import can be larger than an ordinary JSON body: a 10k-item library is ~10 MiB.
const MAX_IMPORT_BODY: usize = 32 * 1024 * 1024;
/// At most this many errors are listed; past it the import is refused all the same.
const MAX_LISTED_ERRORS: usize = 50;

/// Parents before children, so foreign keys resolve in this order on import.
const TABLES: &[&str] = &[
    "resolutions",
    "ffmpeg_profiles",
    "watermarks",
    "media_sources",
    "libraries",
    "media_items",
    "media_artwork",
    "collections",
    "collection_items",
    "multi_collections",
    "multi_collection_links",
    "filler_presets",
    "filler_items",
    "channels",
    "playlists",
    "playlist_items",
    "schedules",
    "schedule_items",
    "playouts",
    "playout_items",
    "playback_positions",
    "block_groups",
    "blocks",
    "block_items",
    "template_groups",
    "templates",
    "template_items",
    "playout_templates",
    "deco_groups",
    "deco",
    "channel_deco",
    "channel_deco_windows",
];

/// Columns never exported: a media server's token or API key (an imported source has an
/// empty one until its owner enters it again).
const SECRET_COLUMNS: &[(&str, &str)] = &[("media_sources", "secret")];

/// Every (table, column) of `TABLES` that holds an enum's text, with the values it takes
/// (the API's for the same column: filler presets take three orders).
const STORED_KINDS: &[(&str, &str, Values)] = &[
    (
        "watermarks",
        "mode",
        Values::of::<crate::kinds::WatermarkMode>(),
    ),
    (
        "watermarks",
        "location",
        Values::of::<crate::kinds::WatermarkLocation>(),
    ),
    (
        "watermarks",
        "size",
        Values::of::<crate::kinds::WatermarkSize>(),
    ),
    (
        "watermarks",
        "image_source",
        Values::of::<crate::kinds::WatermarkImageSource>(),
    ),
    (
        "ffmpeg_profiles",
        "hardware_acceleration",
        Values::of::<HardwareAcceleration>(),
    ),
    (
        "ffmpeg_profiles",
        "scaling_mode",
        Values::of::<ScalingMode>(),
    ),
    (
        "ffmpeg_profiles",
        "copy_mode",
        Values::of::<crate::kinds::CopyMode>(),
    ),
    ("libraries", "library_type", Values::of::<LibraryType>()),
    ("libraries", "source_type", Values::of::<SourceType>()),
    ("media_sources", "source_type", Values::of::<SourceType>()),
    ("media_items", "source", Values::of::<MediaSource>()),
    ("media_items", "media_type", Values::of::<MediaType>()),
    ("media_artwork", "kind", Values::of::<ArtworkKind>()),
    (
        "collections",
        "collection_type",
        Values::of::<CollectionKind>(),
    ),
    (
        "filler_presets",
        "filler_mode",
        Values::of::<FillerModeKind>(),
    ),
    ("filler_presets", "playback_order", PlaybackOrder::FILLER),
    (
        "block_items",
        "collection_type",
        Values::of::<crate::kinds::BlockContent>(),
    ),
    (
        "block_items",
        "playback_order",
        Values::of::<PlaybackOrder>(),
    ),
    ("deco", "deco_type", Values::of::<crate::kinds::DecoType>()),
    (
        "channel_deco",
        "breaks",
        Values::of::<crate::kinds::BreakMode>(),
    ),
    (
        "channel_deco",
        "default_filler_mode",
        Values::of::<crate::kinds::DecoMode>(),
    ),
    (
        "channel_deco",
        "watermark_mode",
        Values::of::<crate::kinds::DecoMode>(),
    ),
    (
        "filler_items",
        "collection_type",
        Values::of::<FillerContent>(),
    ),
    (
        "channels",
        "playout_mode",
        Values::of::<ChannelPlayoutMode>(),
    ),
    ("channels", "streaming_mode", Values::of::<StreamingMode>()),
    (
        "channels",
        "transcode_profile",
        Values::of::<TranscodeProfile>(),
    ),
    ("channels", "playout_source", Values::of::<PlayoutSource>()),
    ("channels", "idle_behavior", Values::of::<IdleBehavior>()),
    ("schedule_items", "start_type", Values::of::<StartType>()),
    (
        "schedule_items",
        "fixed_start_time_behavior",
        Values::of::<FixedStartBehavior>(),
    ),
    (
        "schedule_items",
        "collection_type",
        Values::of::<SlotContent>(),
    ),
    (
        "schedule_items",
        "playback_order",
        Values::of::<PlaybackOrder>(),
    ),
    ("schedule_items", "playout_mode", Values::of::<SlotMode>()),
    ("schedule_items", "tail_mode", Values::of::<TailMode>()),
    ("schedule_items", "guide_mode", Values::of::<GuideMode>()),
    ("playout_items", "filler_kind", Values::of::<FillerKind>()),
    ("playout_items", "guide_mode", Values::of::<GuideMode>()),
];

/// Export chunks queued for the client at most: memory stays 4 × 64 KiB, whatever the size
/// of the library.
const EXPORT_QUEUE: usize = 4;
const EXPORT_CHUNK: usize = 64 * 1024;
/// A client that takes nothing for this long is given up on: the bulk reader is not held.
const EXPORT_STALL: Duration = Duration::from_secs(30);

/// The document streams: its fixed fields are rendered here, the tables are written row by
/// row on the bulk reader inside one read transaction (one snapshot, as consistent as the
/// database), and sent as they are written. Nothing builds the whole document in memory,
/// and the fast reader (stream, guide) is never held by it.
pub async fn export_route(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only_get(req)?;
    let mut settings = serde_json::to_value(&*app.settings()).unwrap_or(Value::Null);
    // Secrets never leave the box.
    settings["iptv"]["access_token"] = Value::Null;
    let head = export_head(settings).to_string();
    // The tables are streamed into the place their placeholder holds.
    let Some((before, after)) = head.split_once(TABLES_PLACEHOLDER) else {
        return Err(ApiError::internal("the export head has no tables field"));
    };
    let (before, after) = (before.to_string(), after.to_string());
    let (tx, rx) = tokio::sync::mpsc::channel(EXPORT_QUEUE);
    let db = app.db.clone();
    let producer: body::Producer = Box::pin(async move {
        let sink = ChunkSink::new(tx);
        let written = db
            .read_bulk(move |conn| write_export(conn, &before, &after, sink))
            .await;
        written.map_err(|err| {
            tracing::warn!(%err, "export cut short");
            err.to_string()
        })
    });
    let mut resp = hyper::Response::new(Body::stream(body::Chunks::new(rx, producer)));
    resp.headers_mut()
        .insert(hyper::header::CONTENT_TYPE, body::JSON);
    Ok(resp)
}

const TABLES_PLACEHOLDER: &str = "\"tables\":null";

/// Every field of the export but the tables (a `null` placeholder).
fn export_head(settings: Value) -> Value {
    json!({
        "message": "the whole configuration; POST it to /api/import to restore",
        "status": "ok",
        "endpoints": [{"path": "/api/import", "description": "POST this document"}],
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "schema_version": crate::db::SCHEMA_VERSION,
        "version": crate::VERSION,
        "exported_at": crate::time::rfc3339(crate::time::now_ms()),
        "settings": settings,
        "tables": null,
    })
}

pub async fn import_route(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let bytes = req.body_bytes(MAX_IMPORT_BODY).await?;
    let doc: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format_args!("malformed JSON: {e}")))?;
    let mut errors = Vec::new();
    if doc["format"] != FORMAT {
        errors.push(format!("format: expected {FORMAT:?}"));
    }
    if doc["format_version"]
        .as_i64()
        .is_none_or(|v| v > FORMAT_VERSION)
    {
        errors.push(format!(
            "format_version: expected a number up to {FORMAT_VERSION}"
        ));
    }
    let mut tables = match doc.get("tables") {
        Some(Value::Object(t)) => t.clone(),
        _ => {
            errors.push("tables: expected an object of table name to rows".into());
            Map::new()
        }
    };
    for name in tables.keys() {
        if !TABLES.contains(&name.as_str()) {
            errors.push(format!("tables.{name}: unknown table"));
        }
    }
    check_values(&mut tables, &mut errors);
    // Settings: typed by deserialising (missing fields take their defaults, secrets are kept
    // as they are here), then held to the bounds the settings API holds them to.
    let current = app.settings();
    let settings = match doc.get("settings") {
        None | Some(Value::Null) => None,
        Some(v) => match serde_path_to_error::deserialize::<_, Settings>(v.clone()) {
            Ok(mut s) => {
                s.iptv.access_token = current.iptv.access_token.clone();
                s.normalize();
                match s.validate() {
                    Ok(()) => Some(s),
                    Err(err) => {
                        errors.push(format!("settings.{err}"));
                        None
                    }
                }
            }
            Err(e) => {
                errors.push(format!("settings.{}: {}", e.path(), e.inner()));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(refuse(errors));
    }
    let applied_settings = settings.clone();
    let outcome = app
        .db
        .write(move |conn| import_tables(conn, &tables, settings.as_ref()))
        .await?;
    let counts = match outcome {
        Ok(counts) => counts,
        Err(errors) => return Err(refuse(errors)),
    };
    if let Some(s) = applied_settings {
        // Already stored by the transaction; publish the snapshot too.
        app.update_settings(move |current| {
            *current = s;
            Ok(())
        })
        .await?;
    }
    app.apply(crate::changes::Changes::all("import")).await;
    tracing::info!(?counts, "configuration imported");
    Ok(body::ok_json(
        &json!({"success": true, "message": "imported", "imported": counts}),
    ))
}

/// Checks the enum columns (`STORED_KINDS`) and channel numbers of every row, before the
/// transaction: an error is `table[i].column: ...`; a valid value is rewritten to its
/// canonical text, as the API would store it. Rows that are not objects are left for
/// `import_tables` to report.
fn check_values(tables: &mut Map<String, Value>, errors: &mut Vec<String>) {
    for (table, rows) in tables.iter_mut() {
        let Some(rows) = rows.as_array_mut() else {
            continue;
        };
        let kinds: Vec<&(&str, &str, Values)> =
            STORED_KINDS.iter().filter(|(t, _, _)| t == table).collect();
        for (i, row) in rows.iter_mut().enumerate() {
            let Some(obj) = row.as_object_mut() else {
                continue;
            };
            for (_, column, values) in &kinds {
                let text = match obj.get(*column) {
                    None | Some(Value::Null) => continue,
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                match (values.canonical)(&text) {
                    Ok(canonical) => {
                        obj.insert((*column).to_string(), Value::from(canonical));
                    }
                    Err(err) => errors.push(format!("{table}[{i}].{column}: {err}")),
                }
            }
            if table == "channels" {
                if let Some(number) = obj.get("number").and_then(Value::as_str) {
                    if !is_channel_number(number) {
                        let shown: String = number.chars().take(32).collect();
                        errors.push(format!(
                            "{table}[{i}].number: {shown:?} is not a channel number like 100 or 5.1"
                        ));
                    }
                }
            }
        }
    }
}

fn refuse(mut errors: Vec<String>) -> ApiError {
    let n = errors.len();
    errors.truncate(MAX_LISTED_ERRORS);
    let more = if n > MAX_LISTED_ERRORS {
        format!("; and {} more", n - MAX_LISTED_ERRORS)
    } else {
        String::new()
    };
    ApiError::new(
        hyper::StatusCode::UNPROCESSABLE_ENTITY,
        format_args!(
            "nothing was imported; {n} error(s): {}{more}",
            errors.join("; ")
        ),
    )
}

fn columns(conn: &rusqlite::Connection, table: &str) -> Result<Vec<String>, DbError> {
    let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    let cols = stmt.query_map([], |r| r.get::<_, String>(0))?;
    Ok(cols.collect::<Result<Vec<_>, _>>()?)
}

/// Writes the document: `before`, every table of `TABLES` row by row, then `after`.
fn write_export(
    conn: &mut rusqlite::Connection,
    before: &str,
    after: &str,
    mut out: ChunkSink,
) -> Result<(), DbError> {
    // One read transaction: every table from the same snapshot.
    let snapshot = conn.transaction()?;
    out.write_all(before.as_bytes())?;
    out.write_all(b"\"tables\":{")?;
    for (n, table) in TABLES.iter().enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        write!(out, "\"{table}\":[")?;
        write_rows(&snapshot, table, &mut out)?;
        out.write_all(b"]")?;
    }
    out.write_all(b"}")?;
    out.write_all(after.as_bytes())?;
    out.finish()?;
    Ok(())
}

/// One table's rows as JSON objects, comma-separated.
fn write_rows(
    conn: &rusqlite::Connection,
    table: &str,
    out: &mut ChunkSink,
) -> Result<(), DbError> {
    let mut cols = columns(conn, table)?;
    cols.retain(|c| !SECRET_COLUMNS.contains(&(table, c.as_str())));
    let list = cols
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    // By the leading (key) columns, not rowid: WITHOUT ROWID tables have none.
    let mut stmt = conn.prepare(&format!("SELECT {list} FROM {table} ORDER BY 1, 2"))?;
    let mut rows = stmt.query([])?;
    let mut n_rows = 0;
    while let Some(row) = rows.next()? {
        let mut obj = Map::new();
        for (i, col) in cols.iter().enumerate() {
            let v = match row.get_ref(i)? {
                ValueRef::Null => continue,
                ValueRef::Integer(n) => json!(n),
                ValueRef::Real(x) => json!(x),
                ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                // Raw bytes (file names that are not UTF-8) travel as hex.
                ValueRef::Blob(b) => json!({"hex": crate::http::auth::hex(b)}),
            };
            obj.insert(col.clone(), v);
        }
        if n_rows > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, &obj).map_err(std::io::Error::from)?;
        n_rows += 1;
    }
    Ok(())
}

/// Where the export is written: chunks of `EXPORT_CHUNK` into the response's bounded
/// channel. Runs on the bulk reader's thread, so waiting for room blocks only that thread.
struct ChunkSink {
    tx: tokio::sync::mpsc::Sender<bytes::Bytes>,
    buf: Vec<u8>,
}

impl ChunkSink {
    fn new(tx: tokio::sync::mpsc::Sender<bytes::Bytes>) -> ChunkSink {
        ChunkSink {
            tx,
            buf: Vec::with_capacity(EXPORT_CHUNK),
        }
    }

    /// Sends the buffered bytes, waiting (at most `EXPORT_STALL`) while the client is slow.
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(EXPORT_CHUNK));
        let mut chunk = bytes::Bytes::from(full);
        let deadline = std::time::Instant::now() + EXPORT_STALL;
        loop {
            match self.tx.try_send(chunk) {
                Ok(()) => return Ok(()),
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
                    return Err(std::io::ErrorKind::BrokenPipe.into())
                }
                Err(tokio::sync::mpsc::error::TrySendError::Full(back)) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(std::io::ErrorKind::TimedOut.into());
                    }
                    chunk = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }

    /// Sends what is left; the body ends when the sink is dropped.
    fn finish(mut self) -> std::io::Result<()> {
        self.send()
    }
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= EXPORT_CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Replaces the tables present in the document, inside one transaction. `Ok(Err(errors))`
/// means it was rolled back: nothing changed.
fn import_tables(
    conn: &mut rusqlite::Connection,
    tables: &Map<String, Value>,
    settings: Option<&Settings>,
) -> Result<ImportOutcome, DbError> {
    let tx = conn.transaction()?;
    // Checked at commit, so rows may arrive in any order within the document.
    tx.execute_batch("PRAGMA defer_foreign_keys = ON")?;
    let mut errors = Vec::new();
    // Children first, so the deletes do not cascade into rows we are about to keep.
    for table in TABLES.iter().rev() {
        if tables.contains_key(*table) {
            tx.execute(&format!("DELETE FROM {table}"), [])?;
        }
    }
    let mut counts = Vec::new();
    for table in TABLES {
        let Some(rows) = tables.get(*table) else {
            continue;
        };
        let Some(rows) = rows.as_array() else {
            errors.push(format!("tables.{table}: expected an array of rows"));
            continue;
        };
        let known = columns(&tx, table)?;
        for (i, row) in rows.iter().enumerate() {
            match row.as_object() {
                Some(obj) => insert_row(&tx, table, i, obj, &known, &mut errors),
                None => errors.push(format!("{table}[{i}]: expected an object")),
            }
        }
        counts.push(((*table).to_string(), rows.len()));
    }
    dangling_references(&tx, &mut errors)?;
    if let Some(s) = settings {
        s.save(&tx)?;
    }
    if !errors.is_empty() {
        tx.rollback()?;
        return Ok(Err(errors));
    }
    tx.commit()?;
    Ok(Ok(counts))
}

/// Inserts one row of the document; every problem with it is added to `errors`.
fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    i: usize,
    obj: &Map<String, Value>,
    known: &[String],
    errors: &mut Vec<String>,
) {
    let mut names = Vec::with_capacity(obj.len());
    let mut values = Vec::with_capacity(obj.len());
    for (col, v) in obj {
        if !known.contains(col) {
            errors.push(format!("{table}[{i}].{col}: unknown column"));
            continue;
        }
        match to_sql(v) {
            Some(sql) => {
                names.push(format!("\"{col}\""));
                values.push(sql);
            }
            None => errors.push(format!(
                "{table}[{i}].{col}: expected a string, number, boolean, null or {{\"hex\": ...}}"
            )),
        }
    }
    let placeholders = (1..=values.len())
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({placeholders})",
        names.join(", ")
    );
    if let Err(e) = tx.execute(&sql, rusqlite::params_from_iter(values)) {
        errors.push(format!("{table}[{i}]: {e}"));
    }
}

/// Every dangling reference, by table and row (foreign keys are checked at commit).
fn dangling_references(
    tx: &rusqlite::Transaction<'_>,
    errors: &mut Vec<String>,
) -> Result<(), DbError> {
    let mut stmt = tx.prepare("PRAGMA foreign_key_check")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let table: String = r.get(0)?;
        let rowid: Option<i64> = r.get(1)?;
        let parent: String = r.get(2)?;
        errors.push(format!(
            "{table} row {}: refers to a missing {parent} row",
            rowid.unwrap_or(0)
        ));
    }
    Ok(())
}

/// Rows imported per table, or every error found (then nothing was applied).
type ImportOutcome = Result<Vec<(String, usize)>, Vec<String>>;

fn to_sql(v: &Value) -> Option<SqlValue> {
    Some(match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => SqlValue::Integer(i),
            None => SqlValue::Real(n.as_f64()?),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Object(o) => SqlValue::Blob(unhex(o.get("hex")?.as_str()?)?),
        Value::Array(_) => return None,
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_kind_is_a_column_of_an_exported_table() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(include_str!("../../schema.sql"))
            .unwrap();
        for (table, column, _) in STORED_KINDS {
            assert!(TABLES.contains(table), "{table} is not exported");
            let known = columns(&conn, table).unwrap();
            assert!(known.iter().any(|c| c == column), "{table}.{column}");
        }
    }

    #[test]
    fn values_are_checked_by_path_and_stored_canonical() {
        let mut tables = json!({
            "schedule_items": [
                {"id": 1, "playback_order": "shuffle", "guide_mode": "hide"},
                {"id": 2, "playback_order": "backwards", "tail_mode": null},
            ],
            "channels": [{"id": 1, "number": "5.1.2", "playout_mode": 7}],
            "filler_presets": [{"id": 1, "playback_order": "season_episode"}],
        })
        .as_object()
        .unwrap()
        .clone();
        let mut errors = Vec::new();
        check_values(&mut tables, &mut errors);
        errors.sort();
        assert_eq!(
            errors,
            [
                "channels[0].number: \"5.1.2\" is not a channel number like 100 or 5.1",
                "channels[0].playout_mode: unknown value \"7\" (expected one of: continuous, on_demand, scheduled, flood, loop)",
                "filler_presets[0].playback_order: unknown value \"season_episode\" (expected one of: chronological, shuffled, random)",
                "schedule_items[1].playback_order: unknown value \"backwards\" (expected one of: chronological, season_episode, shuffled, random, shuffle_in_order)",
            ]
        );
        assert_eq!(tables["schedule_items"][0]["playback_order"], "shuffled");
        assert_eq!(tables["schedule_items"][0]["guide_mode"], "hide");
    }
}
