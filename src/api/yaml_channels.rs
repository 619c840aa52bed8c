//! API.md §2.9's YAML channels: `GET|POST /api/export/channels/{id}/yaml` (one channel's
//! document), `POST …/yaml/write` (written under `<data dir>/export/`, answering its path),
//! `GET /api/export/channels/yaml/bulk` (every channel, a list), `POST
//! /api/import/channels/yaml` (multipart `yaml_file`; `?validate=true` is a dry run) and
//! `POST …/yaml/path?file_path=` (a file under `<data dir>/import/` only). An import takes
//! one channel or a list and creates them all in one transaction, or nothing → [Channel].
//!
//! The document is `ops::yaml_channels::ChannelDoc`; this file owns the YAML text: a body
//! is walked once against a node budget (aliases replayed count, so an alias bomb is a fast
//! 413 with flat memory), then decoded typed, a wrong key or type a 422 naming its path.

use std::cell::Cell;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use hyper::StatusCode;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::channels::ChannelView;
use super::playouts::random_seed;
use super::tx::read;
use crate::app::App;
use crate::changes::Changes;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::ids::ChannelId;
use crate::ops::yaml_channels::{self, ChannelDoc, YamlError};
use crate::scheduler::BuildClock;

/// A YAML upload or file above this is refused (413): a channel with a thousand schedule
/// items is ~100 KiB, a bulk export of a hundred channels well under 1 MiB.
const MAX_YAML_BYTES: usize = 1024 * 1024;
/// Nodes (keys, values, items) a document may expand to, aliases replayed included: ~10x
/// a full-size document, far below what a bomb asks for.
const MAX_NODES: usize = 250_000;
/// Scalar bytes a document may expand to, aliases replayed included.
const MAX_SCALAR_BYTES: usize = 4 * MAX_YAML_BYTES;
const YAML: &str = "application/yaml";

impl From<YamlError> for ApiError {
    fn from(err: YamlError) -> Self {
        match err {
            YamlError::ChannelNotFound => ApiError::not_found(&err),
            YamlError::NumberTaken(_) => ApiError::conflict(&err),
            YamlError::Invalid { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, &err),
            YamlError::Db(err) => ApiError::from(err),
        }
    }
}

/// `/api/export/channels/…` and `/api/import/channels/…` (routed from `api::route`).
pub async fn export_one(app: &Arc<App>, req: &Req, id: &str) -> ApiResult {
    let id = ChannelId(router::id(id)?);
    by_verb!(req, {
        Get | Post => {
            let doc = read(app, move |conn| Ok(yaml_channels::export(conn, id)?)).await?;
            Ok(body::bytes(YAML, render(&doc)?.into()))
        },
    })
}

pub async fn export_bulk(app: &Arc<App>, req: &Req) -> ApiResult {
    router::only_get(req)?;
    let docs = app
        .db
        .read_bulk(|conn| Ok(yaml_channels::export_all(conn).map_err(ApiError::from)))
        .await??;
    Ok(body::bytes(YAML, render(&docs)?.into()))
}

/// Writes the channel's document to `<data dir>/export/channel-<number>.yaml`.
pub async fn export_write(app: &Arc<App>, req: &Req, id: &str) -> ApiResult {
    router::only(req, Verb::Post)?;
    let id = ChannelId(router::id(id)?);
    let doc = read(app, move |conn| Ok(yaml_channels::export(conn, id)?)).await?;
    let text = render(&doc)?;
    // Digits and dots (`kinds::is_channel_number`, as every writer stores it): a safe
    // file name; a row that is not is refused rather than written somewhere else.
    if !crate::kinds::is_channel_number(&doc.number) {
        return Err(ApiError::invalid(
            "number",
            "not a channel number; no file name for it",
        ));
    }
    let dir = app.config.data_dir.join("export");
    let path = dir.join(format!("channel-{}.yaml", doc.number));
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(ApiError::internal)?;
    tokio::fs::write(&path, text)
        .await
        .map_err(ApiError::internal)?;
    Ok(body::ok_json(&serde_json::json!({
        "path": path.display().to_string(),
        "channel_id": id,
        "channel_number": doc.number,
    })))
}

pub async fn import_upload(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let dry_run = dry_run(req)?;
    let content_type = req
        .header(hyper::header::CONTENT_TYPE)
        .unwrap_or("")
        .to_string();
    // The multipart framing around the file is a few hundred bytes.
    let bytes = req.body_bytes(MAX_YAML_BYTES + 4096).await?;
    let file = crate::http::multipart::part(&content_type, &bytes, "yaml_file")?;
    if file.len() > MAX_YAML_BYTES {
        return Err(too_large(format_args!(
            "yaml_file is larger than {MAX_YAML_BYTES} bytes"
        )));
    }
    import(app, file, dry_run).await
}

pub async fn import_path(app: &Arc<App>, req: &Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let dry_run = dry_run(req)?;
    let file_path = req
        .query("file_path")
        .ok_or_else(|| ApiError::invalid("file_path", "query parameter required"))?
        .into_owned();
    let root = app.config.data_dir.join("import");
    let text = tokio::task::spawn_blocking(move || read_import_file(&root, &file_path))
        .await
        .map_err(ApiError::internal)??;
    import(app, &text, dry_run).await
}

fn dry_run(req: &Req) -> Result<bool, ApiError> {
    Ok(req.query_parsed::<bool>("validate")?.unwrap_or(false))
}

/// Decodes the document (one channel or a list) and creates its channels in one
/// transaction; a dry run renders what it would create and rolls back.
async fn import(app: &Arc<App>, bytes: &[u8], dry_run: bool) -> ApiResult {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the YAML document is not UTF-8"))?;
    let docs: Vec<ChannelDoc> = match walk(text)? {
        Shape::List => decode(text)?,
        _ => vec![decode(text)?],
    };
    let seeds = docs
        .iter()
        .map(|_| random_seed())
        .collect::<Result<Vec<_>, _>>()?;
    let clock = BuildClock::now(&app.settings());
    let (channels, changes) = app
        .db
        .write(move |conn| {
            let tx = conn.transaction()?;
            let done = create_all(&tx, &docs, &seeds, &clock, docs.len() > 1);
            if done.is_ok() && !dry_run {
                tx.commit()?;
            }
            Ok(done)
        })
        .await??;
    if !dry_run {
        app.apply(changes).await;
    }
    let status = if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(body::json(status, &channels))
}

fn create_all(
    tx: &rusqlite::Transaction<'_>,
    docs: &[ChannelDoc],
    seeds: &[i64],
    clock: &BuildClock,
    listed: bool,
) -> Result<(Vec<ChannelView>, Changes), ApiError> {
    let mut changes = Changes::any("yaml import");
    let mut channels = Vec::with_capacity(docs.len());
    for (i, (doc, seed)) in docs.iter().zip(seeds).enumerate() {
        let at = if listed {
            format!("[{i}]")
        } else {
            String::new()
        };
        let (id, done) = yaml_channels::import(tx, doc, &at, clock, *seed)?;
        changes.rebuild.merge(done.rebuild);
        channels.extend(super::channels::get(tx, id)?);
    }
    Ok((channels, changes))
}

/// The file `file_path` names (relative to `root`, or absolute), if it is inside `root`
/// once every symlink is resolved; `..` is refused outright.
fn read_import_file(root: &Path, file_path: &str) -> Result<Vec<u8>, ApiError> {
    let asked = Path::new(file_path);
    if asked.components().any(|c| c == Component::ParentDir) {
        return Err(ApiError::invalid("file_path", "may not contain .."));
    }
    let outside = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format_args!(
                "file_path: only files under {} are imported",
                root.display()
            ),
        )
    };
    let root = root.canonicalize().map_err(|_| outside())?;
    let full: PathBuf = if asked.is_absolute() {
        asked.to_path_buf()
    } else {
        root.join(asked)
    };
    let real = full
        .canonicalize()
        .map_err(|_| ApiError::not_found(format_args!("file_path: no file {file_path:?}")))?;
    if !real.starts_with(&root) || !real.is_file() {
        return Err(outside());
    }
    let len = real.metadata().map_err(ApiError::internal)?.len();
    if len > MAX_YAML_BYTES as u64 {
        return Err(too_large(format_args!(
            "the file is larger than {MAX_YAML_BYTES} bytes"
        )));
    }
    std::fs::read(&real).map_err(ApiError::internal)
}

fn too_large(detail: impl fmt::Display) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, detail)
}

fn render<T: serde::Serialize + ?Sized>(doc: &T) -> Result<String, ApiError> {
    serde_yaml_ng::to_string(doc).map_err(ApiError::internal)
}

/// What the document's top is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Scalar,
    List,
    Map,
}

/// What a walk may still spend.
struct Budget {
    nodes: Cell<usize>,
    bytes: Cell<usize>,
    breached: Cell<bool>,
}

impl Budget {
    fn spend<E: de::Error>(&self, n_bytes: usize) -> Result<(), E> {
        let nodes = self.nodes.get().checked_sub(1);
        let bytes = self.bytes.get().checked_sub(n_bytes);
        match (nodes, bytes) {
            (Some(nodes), Some(bytes)) => {
                self.nodes.set(nodes);
                self.bytes.set(bytes);
                Ok(())
            }
            _ => {
                self.breached.set(true);
                Err(E::custom("over budget"))
            }
        }
    }
}

/// Walks the whole document, aliases replayed, against the budget, building nothing:
/// 400 for text that is not YAML, 413 for one that expands past the budget.
fn walk(text: &str) -> Result<Shape, ApiError> {
    let budget = Budget {
        nodes: Cell::new(MAX_NODES),
        bytes: Cell::new(MAX_SCALAR_BYTES),
        breached: Cell::new(false),
    };
    let walked = Walk(&budget).deserialize(serde_yaml_ng::Deserializer::from_str(text));
    match walked {
        Ok(shape) => Ok(shape),
        Err(_) if budget.breached.get() => Err(too_large(format_args!(
            "the YAML document expands past {MAX_NODES} nodes or {MAX_SCALAR_BYTES} bytes \
             (anchors and aliases count as often as they are used)"
        ))),
        // serde_yaml_ng's own alias bound ("repetition limit exceeded") and its recursion
        // limit end here too.
        Err(err) if err.to_string().contains("limit exceeded") => Err(too_large(format_args!(
            "the YAML document expands too far through its anchors and aliases ({err})"
        ))),
        Err(err) => Err(ApiError::bad_request(format_args!("malformed YAML: {err}"))),
    }
}

struct Walk<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Shape;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML document")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Shape, E> {
        self.0.spend(1).map(|_| Shape::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Shape, E> {
        self.0.spend(8).map(|_| Shape::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Shape, E> {
        self.0.spend(8).map(|_| Shape::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Shape, E> {
        self.0.spend(8).map(|_| Shape::Scalar)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Shape, E> {
        self.0.spend(v.len()).map(|_| Shape::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Shape, E> {
        self.0.spend(1).map(|_| Shape::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Shape, E> {
        self.0.spend(1).map(|_| Shape::Scalar)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Shape, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        self.0.spend(1)?;
        while seq.next_element_seed(Walk(self.0))?.is_some() {}
        Ok(Shape::List)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        self.0.spend(1)?;
        while map.next_key_seed(Walk(self.0))?.is_some() {
            map.next_value_seed(Walk(self.0))?;
        }
        Ok(Shape::Map)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Shape, A::Error> {
        // A tagged value (`!tag x`): its tag and its value are walked like a map entry.
        let (_, variant) = data.variant_seed(Walk(self.0))?;
        de::VariantAccess::newtype_variant_seed(variant, Walk(self.0))
    }
}

/// The typed decode: 422 `"<path>: <problem>"` for a wrong key, type or value.
fn decode<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(serde_yaml_ng::Deserializer::from_str(text)).map_err(|err| {
        let path = err.path().to_string();
        let mut inner = err.into_inner().to_string();
        // serde_yaml_ng starts its message with the path of the node it was in: said once.
        if let Some((head, tail)) = inner.split_once(": ") {
            if path.starts_with(head) {
                inner = tail.to_string();
            }
        }
        if let Some(field) = inner
            .strip_prefix("missing field `")
            .and_then(|s| s.split_once('`'))
            .map(|(field, _)| field)
        {
            let full = if path == "." {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            return ApiError::invalid(&full, "field required");
        }
        ApiError::invalid(if path == "." { "document" } else { &path }, inner)
    })
}
