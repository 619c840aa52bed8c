//! `/api/settings[/section]`: typed, validated, persisted settings that apply live.
//! A PUT is partial (only the fields sent change), validated as a whole section (wrong type
//! or range → 422 naming the field), stored, then published; it answers with the new GET
//! body. Secrets (`iptv.access_token`) are redacted on the way out.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::changes::{Changes, Rebuild};
use crate::http::router::{self, by_verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::settings::{self, Settings};

/// What a redacted secret reads as. Sending it back in a PUT keeps the stored value.
pub const REDACTED: &str = "********";

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    let section = match segs {
        [] => {
            router::only_get(req)?;
            return Ok(body::ok_json(&overview(app)));
        }
        ["server"] => {
            router::only_get(req)?;
            return Ok(body::ok_json(&server_section(app)));
        }
        ["plex", rest @ ..] => return super::plex_settings::route(app, req, rest).await,
        [name] => Section::from_path(name).ok_or_else(router::not_found)?,
        _ => return Err(router::not_found()),
    };
    by_verb!(req, {
        Get => Ok(body::ok_json(&section.render(app, &app.settings()))),
        Put | Patch => {
            let patch: Value = req.json().await?;
            let Value::Object(patch) = patch else {
                return Err(ApiError::invalid("body", "expected a JSON object"));
            };
            let fields: Vec<String> = patch.keys().cloned().collect();
            let settings = app.update_settings(|s| section.apply(s, patch)).await?;
            tracing::info!(section = ?section, fields = ?fields, "settings updated");
            if section == Section::Playout {
                // The zone moves fixed start times and the horizon bounds the timelines.
                app.apply(Changes::rebuilding(Rebuild::All, "playout settings"))
                    .await;
            }
            Ok(body::ok_json(&section.render(app, &settings)))
        },
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Ffmpeg,
    Hdhomerun,
    Streaming,
    StreamThrottler,
    Playout,
    Iptv,
    Channels,
    Breaker,
    Library,
    Sources,
}

impl Section {
    fn from_path(name: &str) -> Option<Section> {
        Some(match name {
            "ffmpeg" => Section::Ffmpeg,
            "hdhomerun" | "hdhr" => Section::Hdhomerun,
            "streaming" => Section::Streaming,
            "stream-throttler" | "stream_throttler" => Section::StreamThrottler,
            "playout" => Section::Playout,
            "iptv" => Section::Iptv,
            "channels" => Section::Channels,
            "breaker" => Section::Breaker,
            "library" => Section::Library,
            "sources" => Section::Sources,
            _ => return None,
        })
    }

    fn render(self, app: &App, s: &Settings) -> Value {
        match self {
            Section::Ffmpeg => to_json(&s.ffmpeg),
            Section::Hdhomerun => {
                let mut v = to_json(&s.hdhomerun);
                // The effective count, whichever of flag, setting or board it came from.
                v["tuner_count"] = json!(app.tuner_count());
                v["tuner_count_setting"] = json!(s.hdhomerun.tuner_count);
                v
            }
            Section::Streaming => to_json(&s.streaming),
            Section::StreamThrottler => to_json(&s.stream_throttler),
            Section::Playout => to_json(&s.playout),
            Section::Iptv => json!({
                "access_token": s.access_token().map(|_| REDACTED),
                "access_token_enabled": s.access_token().is_some(),
            }),
            Section::Channels => to_json(&s.channels),
            Section::Breaker => to_json(&s.breaker),
            Section::Library => to_json(&s.library),
            Section::Sources => to_json(&s.sources),
        }
    }

    /// The section's key in `Settings` (and in a `SettingsError`).
    fn key(self) -> &'static str {
        match self {
            Section::Ffmpeg => "ffmpeg",
            Section::Hdhomerun => "hdhomerun",
            Section::Streaming => "streaming",
            Section::StreamThrottler => "stream_throttler",
            Section::Playout => "playout",
            Section::Iptv => "iptv",
            Section::Channels => "channels",
            Section::Breaker => "breaker",
            Section::Library => "library",
            Section::Sources => "sources",
        }
    }

    /// Merges `patch` into the section, then validates the settings as a whole
    /// (`Settings::validate`, the importer's check too).
    fn apply(
        self,
        s: &mut Settings,
        patch: serde_json::Map<String, Value>,
    ) -> Result<(), ApiError> {
        match self {
            Section::Ffmpeg => {
                s.ffmpeg = merge(&s.ffmpeg, patch)?;
                executables(&s.ffmpeg)?;
            }
            Section::Hdhomerun => {
                let mut patch = patch;
                // GET shows the effective count; sending it back unchanged must not pin it.
                patch.remove("tuner_count_setting");
                s.hdhomerun = merge(&s.hdhomerun, patch)?;
            }
            Section::Streaming => s.streaming = merge(&s.streaming, patch)?,
            Section::StreamThrottler => s.stream_throttler = merge(&s.stream_throttler, patch)?,
            Section::Playout => s.playout = merge(&s.playout, patch)?,
            Section::Iptv => {
                let mut patch = patch;
                if patch.get("access_token").and_then(Value::as_str) == Some(REDACTED) {
                    patch.remove("access_token");
                }
                patch.remove("access_token_enabled");
                s.iptv = merge(&s.iptv, patch)?;
            }
            Section::Channels => s.channels = merge(&s.channels, patch)?,
            Section::Breaker => s.breaker = merge(&s.breaker, patch)?,
            Section::Library => s.library = merge(&s.library, patch)?,
            Section::Sources => s.sources = merge(&s.sources, patch)?,
        }
        s.normalize();
        s.validate().map_err(|err| {
            // A field of this section is named as the section's routes name it
            // ("days_to_build: ..."); one elsewhere (stored before a bound tightened) by its
            // whole path.
            if err.section == self.key() {
                ApiError::invalid(err.field, &err.problem)
            } else {
                ApiError::invalid(&format!("{}.{}", err.section, err.field), &err.problem)
            }
        })
    }
}

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `current` with the fields of `patch` replaced; unknown fields are ignored (API.md).
fn merge<T: Serialize + DeserializeOwned>(
    current: &T,
    patch: serde_json::Map<String, Value>,
) -> Result<T, ApiError> {
    let mut value = to_json(current);
    let Value::Object(fields) = &mut value else {
        return Err(ApiError::internal("a settings section is not an object"));
    };
    for (key, v) in patch {
        if fields.contains_key(&key) {
            fields.insert(key, v);
        }
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let field = err.path().to_string();
        ApiError::invalid(&field, err.into_inner())
    })
}

/// FFmpeg and ffprobe must run on this host: a check of the box, not a bound of the value
/// (an import from another box keeps its paths), so it is the API's alone.
fn executables(f: &settings::Ffmpeg) -> Result<(), ApiError> {
    for (field, name) in [
        ("ffmpeg_path", &f.ffmpeg_path),
        ("ffprobe_path", &f.ffprobe_path),
    ] {
        if crate::tools::resolve(name).is_none() {
            return Err(ApiError::invalid(
                field,
                format_args!("{name:?} is not an executable file"),
            ));
        }
    }
    Ok(())
}

fn server_section(app: &App) -> Value {
    json!({
        "host": app.config.listen.ip().to_string(),
        "port": app.config.listen.port(),
        "debug": false,
        "log_level": app.config.log_filter,
        "base_url": app.config.base_url,
        "restart_required_to_change": true,
    })
}

/// EXStreamTV's `GET /api/settings` shape, plus our sections.
fn overview(app: &App) -> Value {
    let s = app.settings();
    json!({
        "server": server_section(app),
        "database": {"url": format!("sqlite:///{}", app.db.path().display()), "echo": false},
        "ffmpeg": {
            "path": s.ffmpeg.ffmpeg_path,
            "ffprobe_path": s.ffmpeg.ffprobe_path,
            "hardware_acceleration": {
                "enabled": s.ffmpeg.hwaccel != "none" && app.board.encoder != "libx264",
                "preferred": if s.ffmpeg.hwaccel.is_empty() { app.board.encoder.as_str() } else { s.ffmpeg.hwaccel.as_str() },
            },
            "defaults": {"video_bitrate": "4000k", "audio_bitrate": "128k", "video_codec": "h264", "audio_codec": "aac"},
        },
        "hdhomerun": Section::Hdhomerun.render(app, &s),
        "streaming": Section::Streaming.render(app, &s),
        "stream_throttler": Section::StreamThrottler.render(app, &s),
        "playout": Section::Playout.render(app, &s),
        "iptv": Section::Iptv.render(app, &s),
        "channels": Section::Channels.render(app, &s),
        "breaker": Section::Breaker.render(app, &s),
        "library": Section::Library.render(app, &s),
        "sources": Section::Sources.render(app, &s),
    })
}
