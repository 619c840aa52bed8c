//! `/api/settings[/section]`: typed, validated, persisted settings that apply live.
//! A PUT is partial (only the fields sent change), validated as a whole section (wrong type
//! or range → 422 naming the field), stored, then published; it answers with the new GET
//! body. Secrets (`iptv.access_token`) are redacted on the way out.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::http::router::{self, Verb};
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
        [name] => Section::from_path(name).ok_or_else(router::not_found)?,
        _ => return Err(router::not_found()),
    };
    match req.verb() {
        Verb::Get => Ok(body::ok_json(&section.render(app, &app.settings()))),
        Verb::Put | Verb::Patch => {
            let patch: Value = req.json().await?;
            let Value::Object(patch) = patch else {
                return Err(ApiError::invalid("body", "expected a JSON object"));
            };
            let fields: Vec<String> = patch.keys().cloned().collect();
            let settings = app.update_settings(|s| section.apply(s, patch)).await?;
            tracing::info!(section = ?section, fields = ?fields, "settings updated");
            if section == Section::Playout {
                // The zone moves fixed start times and the horizon bounds the timelines.
                crate::scheduler::rebuild_all(app).await?;
            }
            Ok(body::ok_json(&section.render(app, &settings)))
        }
        _ => Err(ApiError::method_not_allowed("GET, HEAD, PUT, PATCH")),
    }
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
        }
    }

    /// Merges `patch` into the section, then validates the whole section.
    fn apply(
        self,
        s: &mut Settings,
        patch: serde_json::Map<String, Value>,
    ) -> Result<(), ApiError> {
        match self {
            Section::Ffmpeg => {
                s.ffmpeg = merge(&s.ffmpeg, patch)?;
                validate_ffmpeg(&s.ffmpeg)
            }
            Section::Hdhomerun => {
                let mut patch = patch;
                // GET shows the effective count; sending it back unchanged must not pin it.
                patch.remove("tuner_count_setting");
                s.hdhomerun = merge(&s.hdhomerun, patch)?;
                validate_hdhomerun(&mut s.hdhomerun)
            }
            Section::Streaming => {
                s.streaming = merge(&s.streaming, patch)?;
                let st = &s.streaming;
                in_range(
                    "buffer_size",
                    st.buffer_size.into(),
                    65_536,
                    64 * 1024 * 1024,
                )?;
                in_range("read_size", st.read_size.into(), 188, st.buffer_size.into())
            }
            Section::StreamThrottler => {
                s.stream_throttler = merge(&s.stream_throttler, patch)?;
                let t = &s.stream_throttler;
                in_range(
                    "target_bitrate_bps",
                    t.target_bitrate_bps,
                    100_000,
                    200_000_000,
                )
            }
            Section::Playout => {
                s.playout = merge(&s.playout, patch)?;
                let p = &s.playout;
                in_range("days_to_build", p.days_to_build.into(), 1, 14)?;
                in_range(
                    "rebuild_interval_hours",
                    p.rebuild_interval_hours.into(),
                    1,
                    168,
                )?;
                if crate::time::zone(&p.time_zone).is_none() {
                    return Err(ApiError::invalid(
                        "time_zone",
                        format_args!("unknown time zone {:?} (an IANA name such as Europe/Berlin, or a POSIX TZ rule)", p.time_zone),
                    ));
                }
                Ok(())
            }
            Section::Iptv => {
                let mut patch = patch;
                if patch.get("access_token").and_then(Value::as_str) == Some(REDACTED) {
                    patch.remove("access_token");
                }
                patch.remove("access_token_enabled");
                s.iptv = merge(&s.iptv, patch)?;
                validate_access_token(&mut s.iptv)
            }
            Section::Channels => {
                s.channels = merge(&s.channels, patch)?;
                in_range(
                    "max_viewers_per_channel",
                    s.channels.max_viewers_per_channel.into(),
                    1,
                    500,
                )?;
                in_range(
                    "idle_grace_seconds",
                    s.channels.idle_grace_seconds.into(),
                    0,
                    3600,
                )?;
                // At least one target duration (4 s) or a playing client loses its tuner.
                in_range(
                    "hls_hold_seconds",
                    s.channels.hls_hold_seconds.into(),
                    4,
                    3600,
                )
            }
            Section::Breaker => {
                s.breaker = merge(&s.breaker, patch)?;
                let b = &s.breaker;
                in_range("failure_threshold", b.failure_threshold.into(), 1, 100)?;
                in_range("window_seconds", b.window_seconds.into(), 10, 86_400)?;
                in_range("cooldown_seconds", b.cooldown_seconds.into(), 1, 86_400)
            }
            Section::Library => {
                s.library = merge(&s.library, patch)?;
                match s.library.scan_concurrency {
                    Some(n) => in_range("scan_concurrency", n.into(), 1, 16),
                    None => Ok(()),
                }
            }
        }
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

fn in_range(field: &str, v: u64, min: u64, max: u64) -> Result<(), ApiError> {
    if v < min || v > max {
        return Err(ApiError::invalid(
            field,
            format_args!("must be between {min} and {max}"),
        ));
    }
    Ok(())
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if !allowed.contains(&v) {
        return Err(ApiError::invalid(
            field,
            format_args!("must be one of {}", allowed.join(", ")),
        ));
    }
    Ok(())
}

fn plain_text(field: &str, v: &str, max_len: usize) -> Result<(), ApiError> {
    if v.trim().is_empty() || v.chars().count() > max_len || v.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format_args!("must be 1 to {max_len} characters without control characters"),
        ));
    }
    Ok(())
}

fn validate_ffmpeg(f: &settings::Ffmpeg) -> Result<(), ApiError> {
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
    one_of(
        "log_level",
        &f.log_level,
        &[
            "quiet", "panic", "fatal", "error", "warning", "info", "verbose", "debug",
        ],
    )?;
    in_range("threads", f.threads.into(), 0, 64)?;
    in_range("long_run_hours", f.long_run_hours.into(), 1, 168)?;
    one_of(
        "hwaccel",
        &f.hwaccel,
        &[
            "",
            "none",
            "auto",
            "vaapi",
            "v4l2m2m",
            "qsv",
            "nvenc",
            "videotoolbox",
        ],
    )
}

fn validate_hdhomerun(h: &mut settings::Hdhomerun) -> Result<(), ApiError> {
    let id = crate::hdhr::device_id::parse(&h.device_id)
        .filter(|id| crate::hdhr::device_id::is_valid(*id))
        .ok_or_else(|| {
            ApiError::invalid(
                "device_id",
                "must be 8 hex digits with a valid HDHomeRun check digit",
            )
        })?;
    h.device_id = crate::hdhr::device_id::format(id);
    if let Some(n) = h.tuner_count {
        in_range("tuner_count", n.into(), 1, crate::config::MAX_TUNERS.into())?;
    }
    plain_text("friendly_name", &h.friendly_name, 64)?;
    plain_text("device_auth", &h.device_auth, 64)?;
    plain_text("model_number", &h.model_number, 32)
}

fn validate_access_token(iptv: &mut settings::Iptv) -> Result<(), ApiError> {
    let Some(token) = iptv.access_token.as_deref() else {
        return Ok(());
    };
    if token.is_empty() {
        iptv.access_token = None;
        return Ok(());
    }
    // It is pasted into URLs verbatim: only characters that need no escaping.
    let url_safe = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !(8..=128).contains(&token.len()) || !url_safe {
        return Err(ApiError::invalid(
            "access_token",
            "must be 8 to 128 characters of A-Z a-z 0-9 - . _ ~",
        ));
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
    })
}
