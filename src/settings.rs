//! Run-time settings: typed sections with documented defaults, one SQLite row per section
//! (`settings.key` = section name, value = JSON). Readers take a cheap `Arc` snapshot from
//! `App::settings()`; a write validates, persists, then swaps the snapshot, so changes apply
//! live. Unknown fields in stored JSON are ignored and missing ones take their default, so
//! an older or newer database still loads.
//!
//! The bounds live here, beside the fields: each bounded field's range is a named constant
//! with its reason, and `Settings::validate` is the one check that the settings API and the
//! importer both run (`SettingsError` names the field path). Checks that depend on this
//! host (is `ffmpeg_path` an executable here?) stay with the API.

use std::fmt;
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::db::DbError;
use crate::kinds::{AgentMode, AiProvider, FfmpegLogLevel, HardwareAcceleration, ThrottleMode};

/// A settings value out of its bounds: the section and field it is in, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The section's key (`playout`), as stored and as the API's paths name it.
    pub section: &'static str,
    pub field: &'static str,
    /// What is wrong, worded as the API's 422 details are ("must be between 1 and 14").
    pub problem: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: {}", self.section, self.field, self.problem)
    }
}

impl std::error::Error for SettingsError {}

/// Checks one section's fields; each failure names its field.
struct Check {
    section: &'static str,
}

impl Check {
    fn fail(&self, field: &'static str, problem: impl fmt::Display) -> SettingsError {
        SettingsError {
            section: self.section,
            field,
            problem: problem.to_string(),
        }
    }

    fn range<T: PartialOrd + fmt::Display>(
        &self,
        field: &'static str,
        value: T,
        range: &RangeInclusive<T>,
    ) -> Result<(), SettingsError> {
        if range.contains(&value) {
            return Ok(());
        }
        Err(self.fail(
            field,
            format_args!("must be between {} and {}", range.start(), range.end()),
        ))
    }

    /// A name shown to clients: non-blank, at most `max_chars`, no control characters.
    fn plain_text(
        &self,
        field: &'static str,
        value: &str,
        max_chars: usize,
    ) -> Result<(), SettingsError> {
        if value.trim().is_empty()
            || value.chars().count() > max_chars
            || value.chars().any(char::is_control)
        {
            return Err(self.fail(
                field,
                format_args!("must be 1 to {max_chars} characters without control characters"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Settings {
    pub hdhomerun: Hdhomerun,
    pub iptv: Iptv,
    pub ffmpeg: Ffmpeg,
    pub streaming: Streaming,
    pub stream_throttler: StreamThrottler,
    pub playout: Playout,
    pub channels: Channels,
    pub breaker: Breaker,
    pub library: Library,
    pub sources: Sources,
    pub ai: Ai,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Hdhomerun {
    pub enabled: bool,
    /// 8 hex digits with a valid check digit; generated on first start (hdhr::device_id).
    pub device_id: String,
    /// `None`: the `--tuners` flag, else the board's default.
    pub tuner_count: Option<u16>,
    pub friendly_name: String,
    pub device_auth: String,
    pub model_number: String,
    pub enable_ssdp: bool,
    pub enable_udp_discovery: bool,
    /// Also serve HTTP on port 80 (same address as `--listen`). Jellyfin ignores BASE_URL
    /// after a UDP discovery reply and fetches `http://<ip>:80/discover.json`. Off by
    /// default; needs the right to bind port 80; applies at the next start.
    pub port80: bool,
}

impl Hdhomerun {
    /// Tuners: at least one; at most `config::MAX_TUNERS`, the FFmpeg pool's cap (HDHomeRun
    /// clients cap simultaneous streams at this count).
    pub const TUNER_COUNT: RangeInclusive<u16> = 1..=crate::config::MAX_TUNERS;
    /// discover.json strings Plex and Jellyfin show in a list: short, one line.
    pub const MAX_FRIENDLY_NAME_CHARS: usize = 64;
    pub const MAX_DEVICE_AUTH_CHARS: usize = 64;
    /// Jellyfin looks for "hdtc" in it; real model numbers are ~10 characters.
    pub const MAX_MODEL_NUMBER_CHARS: usize = 32;

    /// The device id in its canonical form (8 upper-case hex digits) when it is one.
    fn normalize(&mut self) {
        if let Some(id) = crate::hdhr::device_id::parse(&self.device_id) {
            self.device_id = crate::hdhr::device_id::format(id);
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let check = Check {
            section: "hdhomerun",
        };
        // An id that fails libhdhomerun's check digit is one clients refuse.
        let valid_id = crate::hdhr::device_id::parse(&self.device_id)
            .is_some_and(crate::hdhr::device_id::is_valid);
        if !valid_id {
            return Err(check.fail(
                "device_id",
                "must be 8 hex digits with a valid HDHomeRun check digit",
            ));
        }
        if let Some(n) = self.tuner_count {
            check.range("tuner_count", n, &Self::TUNER_COUNT)?;
        }
        check.plain_text(
            "friendly_name",
            &self.friendly_name,
            Self::MAX_FRIENDLY_NAME_CHARS,
        )?;
        check.plain_text(
            "device_auth",
            &self.device_auth,
            Self::MAX_DEVICE_AUTH_CHARS,
        )?;
        check.plain_text(
            "model_number",
            &self.model_number,
            Self::MAX_MODEL_NUMBER_CHARS,
        )
    }
}

impl Default for Hdhomerun {
    fn default() -> Self {
        Hdhomerun {
            enabled: true,
            device_id: String::new(),
            tuner_count: None,
            friendly_name: "exstreamtv".into(),
            device_auth: "exstreamtv".into(),
            model_number: "HDTC-2US".into(),
            enable_ssdp: true,
            enable_udp_discovery: true,
            port80: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Iptv {
    /// When set, every IPTV and HDHomeRun route needs `?access_token=<this>`. Off by default.
    pub access_token: Option<String>,
}

impl Iptv {
    /// Long enough not to be guessed in a few tries, short enough for a URL a person types.
    pub const ACCESS_TOKEN_LEN: RangeInclusive<usize> = 8..=128;

    /// "" turns the token off, as `None` does.
    fn normalize(&mut self) {
        if self.access_token.as_deref() == Some("") {
            self.access_token = None;
        }
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let Some(token) = self.access_token.as_deref() else {
            return Ok(());
        };
        // It is pasted into URLs verbatim: only characters that need no escaping.
        let url_safe = token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !Self::ACCESS_TOKEN_LEN.contains(&token.len()) || !url_safe {
            return Err(Check { section: "iptv" }.fail(
                "access_token",
                format_args!(
                    "must be {} to {} characters of A-Z a-z 0-9 - . _ ~",
                    Self::ACCESS_TOKEN_LEN.start(),
                    Self::ACCESS_TOKEN_LEN.end()
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Ffmpeg {
    pub ffmpeg_path: String,
    pub ffprobe_path: String,
    pub log_level: FfmpegLogLevel,
    pub threads: u32,
    /// "" = the board's encoder; otherwise a `HardwareAcceleration` name (the stream uses
    /// none|vaapi|v4l2m2m, the board's for the rest).
    pub hwaccel: String,
    pub hwaccel_device: Option<String>,
    pub extra_flags: Option<String>,
    /// One FFmpeg run older than this is handed over to a fresh one (`stream::longrun`).
    pub long_run_hours: u32,
}

impl Ffmpeg {
    /// 0 lets FFmpeg choose; 64 is more cores than any board this runs on.
    pub const THREADS: RangeInclusive<u32> = 0..=64;
    /// At least an hour between hand-overs; at most a week (a longer run is not "long").
    pub const LONG_RUN_HOURS: RangeInclusive<u32> = 1..=168;

    fn validate(&self) -> Result<(), SettingsError> {
        let check = Check { section: "ffmpeg" };
        check.range("threads", self.threads, &Self::THREADS)?;
        check.range("long_run_hours", self.long_run_hours, &Self::LONG_RUN_HOURS)?;
        if !self.hwaccel.is_empty() && self.hwaccel.parse::<HardwareAcceleration>().is_err() {
            return Err(check.fail(
                "hwaccel",
                format_args!(
                    "must be empty (the board's encoder) or one of {}",
                    HardwareAcceleration::NAMES.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

impl Default for Ffmpeg {
    fn default() -> Self {
        Ffmpeg {
            ffmpeg_path: "ffmpeg".into(),
            ffprobe_path: "ffprobe".into(),
            log_level: FfmpegLogLevel::Info,
            threads: 0,
            hwaccel: String::new(),
            hwaccel_device: None,
            extra_flags: None,
            long_run_hours: 24,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Streaming {
    pub buffer_size: u32,
    pub read_size: u32,
}

impl Streaming {
    /// 64 KiB (one read) to 64 MiB (a lot of RAM on a 1 GiB board).
    pub const BUFFER_SIZE: RangeInclusive<u32> = 65_536..=64 * 1024 * 1024;
    /// At least one TS packet (188 bytes); at most the buffer it reads into.
    pub const MIN_READ_SIZE: u32 = 188;

    fn validate(&self) -> Result<(), SettingsError> {
        let check = Check {
            section: "streaming",
        };
        check.range("buffer_size", self.buffer_size, &Self::BUFFER_SIZE)?;
        check.range(
            "read_size",
            self.read_size,
            &(Self::MIN_READ_SIZE..=self.buffer_size),
        )
    }
}

impl Default for Streaming {
    fn default() -> Self {
        Streaming {
            buffer_size: 2_097_152,
            read_size: 65_536,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct StreamThrottler {
    pub enabled: bool,
    pub target_bitrate_bps: u64,
    pub mode: ThrottleMode,
}

impl StreamThrottler {
    /// 100 kbit/s (audio-only) to 200 Mbit/s (beyond any UHD broadcast).
    pub const TARGET_BITRATE_BPS: RangeInclusive<u64> = 100_000..=200_000_000;

    fn validate(&self) -> Result<(), SettingsError> {
        Check {
            section: "stream_throttler",
        }
        .range(
            "target_bitrate_bps",
            self.target_bitrate_bps,
            &Self::TARGET_BITRATE_BPS,
        )
    }
}

impl Default for StreamThrottler {
    fn default() -> Self {
        StreamThrottler {
            enabled: true,
            target_bitrate_bps: 4_000_000,
            mode: ThrottleMode::Realtime,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Playout {
    /// The persisted horizon, in days (API.md: one `days_to_build`, default 2... issue 5
    /// asks for 72 h; 3 days covers both).
    pub days_to_build: u32,
    pub rebuild_interval_hours: u32,
    /// IANA zone for fixed start times ("UTC", "Europe/Berlin").
    pub time_zone: String,
}

impl Playout {
    /// At least a day, so the guide has tonight; at most two weeks, which bounds the stored
    /// timeline (~4000 rows per channel of 5-minute items) and each rebuild's work.
    pub const DAYS_TO_BUILD: RangeInclusive<u32> = 1..=14;
    /// At least hourly (a rebuild per playout is real work on a Pi); at most weekly.
    pub const REBUILD_INTERVAL_HOURS: RangeInclusive<u32> = 1..=168;

    fn validate(&self) -> Result<(), SettingsError> {
        let check = Check { section: "playout" };
        check.range("days_to_build", self.days_to_build, &Self::DAYS_TO_BUILD)?;
        check.range(
            "rebuild_interval_hours",
            self.rebuild_interval_hours,
            &Self::REBUILD_INTERVAL_HOURS,
        )?;
        if crate::time::zone(&self.time_zone).is_none() {
            return Err(check.fail(
                "time_zone",
                format_args!(
                    "unknown time zone {:?} (an IANA name such as Europe/Berlin, or a POSIX TZ rule)",
                    self.time_zone
                ),
            ));
        }
        Ok(())
    }
}

impl Default for Playout {
    fn default() -> Self {
        Playout {
            days_to_build: 3,
            rebuild_interval_hours: 24,
            time_zone: "UTC".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Channels {
    pub max_viewers_per_channel: u32,
    /// A channel keeps running this long after its last viewer leaves (instant re-tune).
    pub idle_grace_seconds: u32,
    /// An HLS viewer holds its tuner until this long passes without a playlist fetch
    /// (API.md §5: 30 s).
    pub hls_hold_seconds: u32,
}

impl Channels {
    /// At least one; 500 viewers of one channel is beyond any home (each costs a cursor).
    pub const MAX_VIEWERS_PER_CHANNEL: RangeInclusive<u32> = 1..=500;
    /// 0 stops at once; an hour of an idle FFmpeg is the most worth paying for a re-tune.
    pub const IDLE_GRACE_SECONDS: RangeInclusive<u32> = 0..=3600;
    /// At least one target duration (4 s) or a playing client loses its tuner.
    pub const HLS_HOLD_SECONDS: RangeInclusive<u32> = 4..=3600;

    fn validate(&self) -> Result<(), SettingsError> {
        let check = Check {
            section: "channels",
        };
        check.range(
            "max_viewers_per_channel",
            self.max_viewers_per_channel,
            &Self::MAX_VIEWERS_PER_CHANNEL,
        )?;
        check.range(
            "idle_grace_seconds",
            self.idle_grace_seconds,
            &Self::IDLE_GRACE_SECONDS,
        )?;
        check.range(
            "hls_hold_seconds",
            self.hls_hold_seconds,
            &Self::HLS_HOLD_SECONDS,
        )
    }
}

impl Default for Channels {
    fn default() -> Self {
        Channels {
            max_viewers_per_channel: 50,
            idle_grace_seconds: 30,
            hls_hold_seconds: crate::stream::hls::HOLD.as_secs() as u32,
        }
    }
}

/// EXStreamTV's circuit-breaker defaults.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Breaker {
    pub failure_threshold: u32,
    pub window_seconds: u32,
    pub cooldown_seconds: u32,
}

impl Breaker {
    /// At least one failure opens it; past 100 it would never open.
    pub const FAILURE_THRESHOLD: RangeInclusive<u32> = 1..=100;
    /// Failures are counted over 10 s to a day.
    pub const WINDOW_SECONDS: RangeInclusive<u32> = 10..=86_400;
    /// An open breaker waits 1 s to a day before its trial.
    pub const COOLDOWN_SECONDS: RangeInclusive<u32> = 1..=86_400;

    fn validate(&self) -> Result<(), SettingsError> {
        let check = Check { section: "breaker" };
        check.range(
            "failure_threshold",
            self.failure_threshold,
            &Self::FAILURE_THRESHOLD,
        )?;
        check.range("window_seconds", self.window_seconds, &Self::WINDOW_SECONDS)?;
        check.range(
            "cooldown_seconds",
            self.cooldown_seconds,
            &Self::COOLDOWN_SECONDS,
        )
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker {
            failure_threshold: 5,
            window_seconds: 300,
            cooldown_seconds: 120,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct Library {
    /// ffprobe processes at once; `None` = the board's default.
    pub scan_concurrency: Option<u16>,
}

impl Library {
    /// ffprobe runs at once: one at least; 16 saturates the disks of any box this runs on.
    pub const SCAN_CONCURRENCY: RangeInclusive<u16> = 1..=16;

    fn validate(&self) -> Result<(), SettingsError> {
        match self.scan_concurrency {
            Some(n) => {
                Check { section: "library" }.range("scan_concurrency", n, &Self::SCAN_CONCURRENCY)
            }
            None => Ok(()),
        }
    }
}

/// Sources given as URLs (M3U playlists, relayed streams, URL media) and the M3U module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Sources {
    /// URLs aimed at loopback (127.0.0.0/8, ::1, "localhost") are refused unless this is
    /// on: a URL given over the API must not reach services bound to this box only. Tests
    /// turn it on. Link-local and cloud metadata addresses are refused whatever it says.
    pub allow_loopback: bool,
    /// The M3U module (`/api/m3u/service/*`): off, an import answers 403.
    pub m3u_enabled: bool,
    /// EXStreamTV's two sub-switches, kept and reported (`/api/m3u/service/status`).
    pub m3u_library_enabled: bool,
    pub m3u_testing_enabled: bool,
    /// How long yt-dlp may take to resolve a YouTube or archive.org page before it is
    /// killed (`library::url_media::resolve`).
    pub resolve_timeout_seconds: u32,
}

impl Sources {
    /// A page resolves in a few seconds; past two minutes it is hung, and a channel waits
    /// on it.
    pub const RESOLVE_TIMEOUT_SECONDS: RangeInclusive<u32> = 1..=120;

    pub fn resolve_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.resolve_timeout_seconds))
    }

    fn validate(&self) -> Result<(), SettingsError> {
        Check { section: "sources" }.range(
            "resolve_timeout_seconds",
            self.resolve_timeout_seconds,
            &Self::RESOLVE_TIMEOUT_SECONDS,
        )
    }
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            allow_loopback: false,
            m3u_enabled: true,
            m3u_library_enabled: true,
            m3u_testing_enabled: false,
            resolve_timeout_seconds: 30,
        }
    }
}

/// The optional LLM (`/api/ai/settings`). Local by default and off: no cloud default, and
/// the planner works without it. The API key is a secret kept beside the database
/// (`DATA/secrets/`), never in this section, so a settings export never carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Ai {
    pub provider: AiProvider,
    /// Ollama's or the OpenAI-compatible server's base URL (http only).
    pub base_url: String,
    pub model: String,
    pub timeout_seconds: u32,
    pub agent: Agent,
}

/// The bounded troubleshooting agent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Agent {
    pub mode: AgentMode,
    pub max_steps: u32,
}

impl Ai {
    /// A local model's first answer on a Pi takes tens of seconds; ten minutes is the most
    /// a request may hang on one.
    pub const TIMEOUT_SECONDS: RangeInclusive<u32> = 1..=600;
    /// The loop is bounded by design: a few steps, never an open-ended run.
    pub const MAX_STEPS: RangeInclusive<u32> = 1..=10;

    fn validate(&self) -> Result<(), SettingsError> {
        let check = Check { section: "ai" };
        check.range(
            "timeout_seconds",
            self.timeout_seconds,
            &Self::TIMEOUT_SECONDS,
        )?;
        check.range("agent.max_steps", self.agent.max_steps, &Self::MAX_STEPS)?;
        if !self.base_url.is_empty() && !self.base_url.starts_with("http://") {
            return Err(check.fail("base_url", "must be an http:// URL"));
        }
        Ok(())
    }
}

impl Default for Ai {
    fn default() -> Self {
        Ai {
            provider: AiProvider::None,
            base_url: "http://127.0.0.1:11434".to_owned(),
            model: String::new(),
            timeout_seconds: 120,
            agent: Agent::default(),
        }
    }
}

impl Default for Agent {
    fn default() -> Self {
        Agent {
            mode: AgentMode::DryRun,
            max_steps: 3,
        }
    }
}

impl Settings {
    /// Every bound of every section, in section order; the first failure, naming its field.
    /// The settings API runs it on each PUT, the importer on the imported settings.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.hdhomerun.validate()?;
        self.iptv.validate()?;
        self.ffmpeg.validate()?;
        self.streaming.validate()?;
        self.stream_throttler.validate()?;
        self.playout.validate()?;
        self.channels.validate()?;
        self.breaker.validate()?;
        self.library.validate()?;
        self.sources.validate()?;
        self.ai.validate()
    }

    /// The canonical spellings of values that have more than one: the device id in upper
    /// case, an empty access token as none. Run before `validate`.
    pub fn normalize(&mut self) {
        self.hdhomerun.normalize();
        self.iptv.normalize();
    }

    /// Reads every section row; absent sections and fields take their defaults.
    pub fn load(conn: &rusqlite::Connection) -> Result<Settings, DbError> {
        let mut stmt = conn.prepare("SELECT key, value FROM settings")?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut doc = serde_json::Map::new();
        for row in rows {
            let (key, value) = row?;
            match serde_json::from_str::<serde_json::Value>(&value) {
                Ok(v) => {
                    doc.insert(key, v);
                }
                Err(err) => tracing::warn!(%key, %err, "ignoring an unreadable setting"),
            }
        }
        serde_json::from_value(serde_json::Value::Object(doc.clone())).or_else(|err| {
            // One bad section must not lose the others: fall back section by section.
            tracing::warn!(%err, "a stored setting has the wrong type; using defaults for it");
            let mut settings = Settings::default();
            let mut merged =
                serde_json::to_value(&settings).map_err(|e| DbError::Corrupt(e.to_string()))?;
            for (key, value) in doc {
                let mut candidate = merged.clone();
                candidate[&key] = value;
                if let Ok(s) = serde_json::from_value::<Settings>(candidate.clone()) {
                    settings = s;
                    merged = candidate;
                }
            }
            Ok(settings)
        })
    }

    /// Writes every section (inside the caller's transaction when there is one).
    pub fn save(&self, conn: &rusqlite::Connection) -> Result<(), DbError> {
        let value = serde_json::to_value(self).map_err(|e| DbError::Corrupt(e.to_string()))?;
        let serde_json::Value::Object(sections) = value else {
            return Ok(());
        };
        let mut stmt = conn.prepare(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )?;
        for (key, section) in sections {
            stmt.execute((key, section.to_string()))?;
        }
        Ok(())
    }

    /// The IPTV token gate, `None` when off.
    pub fn access_token(&self) -> Option<&str> {
        self.iptv.access_token.as_deref().filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults with the device id `serve` generates on first start.
    fn valid() -> Settings {
        let mut s = Settings::default();
        s.hdhomerun.device_id = "1053C5A3".into();
        s
    }

    #[test]
    fn the_defaults_are_within_their_bounds() {
        assert_eq!(valid().validate(), Ok(()));
        // Before first start there is no device id yet: not a valid setting.
        assert_eq!(
            Settings::default().validate().unwrap_err().to_string(),
            "hdhomerun.device_id: must be 8 hex digits with a valid HDHomeRun check digit"
        );
    }

    /// Puts one field of valid settings out of bounds.
    type Spoil = fn(&mut Settings);

    #[test]
    fn each_bound_names_its_field_path() {
        let cases: [(Spoil, &str); 10] = [
            (
                |s| s.playout.days_to_build = 15,
                "playout.days_to_build: must be between 1 and 14",
            ),
            (
                |s| s.playout.time_zone = "Mars/Olympus_Mons".into(),
                "playout.time_zone: unknown time zone \"Mars/Olympus_Mons\"",
            ),
            (
                |s| s.channels.max_viewers_per_channel = 0,
                "channels.max_viewers_per_channel: must be between 1 and 500",
            ),
            (
                |s| s.channels.hls_hold_seconds = 3,
                "channels.hls_hold_seconds: must be between 4 and 3600",
            ),
            (
                |s| s.streaming.read_size = s.streaming.buffer_size + 1,
                "streaming.read_size: must be between 188 and 2097152",
            ),
            (
                |s| s.hdhomerun.tuner_count = Some(17),
                "hdhomerun.tuner_count: must be between 1 and 16",
            ),
            (
                |s| s.hdhomerun.friendly_name = " ".into(),
                "hdhomerun.friendly_name: must be 1 to 64 characters",
            ),
            (
                |s| s.iptv.access_token = Some("short".into()),
                "iptv.access_token: must be 8 to 128 characters",
            ),
            (
                |s| s.ffmpeg.hwaccel = "warp".into(),
                "ffmpeg.hwaccel: must be empty (the board's encoder) or one of none, auto",
            ),
            (
                |s| s.library.scan_concurrency = Some(0),
                "library.scan_concurrency: must be between 1 and 16",
            ),
        ];
        for (spoil, want) in cases {
            let mut s = valid();
            spoil(&mut s);
            let err = s.validate().expect_err(want).to_string();
            assert!(err.starts_with(want), "{err} (wanted {want})");
        }
    }

    #[test]
    fn normalize_gives_one_spelling() {
        let mut s = valid();
        s.hdhomerun.device_id = "1053c5a3".into();
        s.iptv.access_token = Some(String::new());
        s.normalize();
        assert_eq!(s.hdhomerun.device_id, "1053C5A3");
        assert_eq!(s.iptv.access_token, None);
        assert_eq!(s.validate(), Ok(()));
    }

    #[test]
    fn a_stored_mode_is_typed_when_read() {
        let t: StreamThrottler = serde_json::from_str(r#"{"mode": "burst"}"#).unwrap();
        assert_eq!(t.mode, ThrottleMode::Burst);
        let err = serde_json::from_str::<StreamThrottler>(r#"{"mode": "warp"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown value \"warp\""), "{err}");
    }
}
