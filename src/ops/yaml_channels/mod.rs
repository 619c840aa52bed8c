//! A channel as a portable document (issue 15 point 6): its number, name, group and
//! settings, its FFmpeg profile, filler presets, schedule (items, fixed starts, filler),
//! applied templates with their blocks (whole: a server's template of the same name is
//! used instead), deco, and its playout's seed, with every collection, playlist, preset,
//! profile and deco group referenced BY NAME (a media item by its URL),
//! so the document imports into another server with the same library and builds the same
//! programmes. `export` reads one channel into a `ChannelDoc`; `import` creates a channel
//! from one through the typed operations (`ops::channels`, `schedules`, `schedule_items`,
//! `deco`, `playouts`, `blocks`, `templates`), so every check they make applies.
//!
//! The types are plain serde (`deny_unknown_fields`): the text format is the caller's (the
//! API writes YAML). It knows no HTTP and no file system.

mod export;
mod import;

use std::fmt;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::db::DbError;
use crate::kinds::{
    BlockContent, BreakMode, ChannelPlayoutMode, DecoMode, FixedStartBehavior, GuideMode,
    IdleBehavior, PlaybackOrder, PlayoutSource, SlotContent, SlotMode, StartType, StreamingMode,
    TailMode, TranscodeProfile,
};

pub use export::{export, export_all};
pub use import::import;

/// One channel. Optional fields left out take the server's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelDoc {
    pub number: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// An FFmpeg profile's name (none: the default profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ffmpeg_profile: Option<String>,
    #[serde(default)]
    pub settings: SettingsDoc,
    #[serde(default, skip_serializing_if = "FillerDoc::is_empty")]
    pub filler: FillerDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<AppliedTemplateDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deco: Option<DecoDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playout: Option<PlayoutDoc>,
}

/// The channel's options, as `PUT /api/channels/{id}` names them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SettingsDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playout_mode: Option<ChannelPlayoutMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming_mode: Option<StreamingMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcode_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcode_profile: Option<TranscodeProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_audio_language_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_audio_title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_subtitle_language_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selector_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_behavior: Option<IdleBehavior>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playout_source: Option<PlayoutSource>,
    /// The number of the channel a mirror copies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror_of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playout_offset: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_in_epg: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    /// The channel's own watermark, by name (the image stays on its server: a watermark of
    /// that name must exist where the document is imported).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
}

/// Filler presets, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FillerDoc {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_roll: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid_roll: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_roll: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

impl FillerDoc {
    fn is_empty(&self) -> bool {
        *self == FillerDoc::default()
    }
}

impl ItemDoc {
    /// An item playing `content` (of `collection_type`) with every option unset: its
    /// schedule's and the server's defaults apply.
    pub fn new(collection_type: SlotContent, content: String) -> ItemDoc {
        ItemDoc {
            collection_type,
            content,
            start_type: None,
            start_time: None,
            fixed_start_time_behavior: None,
            playback_order: None,
            playout_mode: None,
            multiple_mode: None,
            multiple_count: None,
            duration_minutes: None,
            search_title: None,
            search_query: None,
            fill_with_group_mode: None,
            tail_mode: None,
            tail_filler_collection: None,
            discard_to_fill_attempts: None,
            custom_title: None,
            guide_mode: None,
            filler: FillerDoc::default(),
            preferred_audio_language: None,
            preferred_audio_title: None,
            preferred_subtitle_language: None,
            subtitle_mode: None,
        }
    }
}

/// The schedule the channel's playout builds from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDoc {
    pub name: String,
    #[serde(default)]
    pub keep_multi_part_episodes_together: bool,
    #[serde(default)]
    pub treat_collections_as_shows: bool,
    #[serde(default)]
    pub shuffle_schedule_items: bool,
    #[serde(default)]
    pub random_start_point: bool,
    #[serde(default = "yes")]
    pub repeat: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playlist: Option<String>,
    #[serde(default)]
    pub items: Vec<ItemDoc>,
}

fn yes() -> bool {
    true
}

/// One schedule item. `content` names what it plays, by `collection_type`: a collection,
/// smart collection, show, season or artist collection's name, a multi-collection's or a
/// playlist's name, or a media item's URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemDoc {
    pub collection_type: SlotContent,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_type: Option<StartType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_start_time_behavior: Option<FixedStartBehavior>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playback_order: Option<PlaybackOrder>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playout_mode: Option<SlotMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_count: Option<i64>,
    /// `playout_duration_hours` and `_minutes` as one number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill_with_group_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_mode: Option<TailMode>,
    /// A collection's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_filler_collection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard_to_fill_attempts: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide_mode: Option<GuideMode>,
    #[serde(default, skip_serializing_if = "FillerDoc::is_empty")]
    pub filler: FillerDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_audio_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_audio_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_subtitle_language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle_mode: Option<String>,
}

/// A template applied to the channel's playout for the days of `days_of_week` (bit 0 =
/// Sunday; 127 every day). On import a template of the same name on the server is used
/// as it is; else it is created with its blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliedTemplateDoc {
    pub template: TemplateDoc,
    #[serde(default = "every_day")]
    pub days_of_week: u8,
    #[serde(default)]
    pub priority: i64,
}

fn every_day() -> u8 {
    127
}

/// A template: blocks placed in a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDoc {
    pub name: String,
    #[serde(default = "yes")]
    pub is_enabled: bool,
    #[serde(default)]
    pub items: Vec<TemplateItemDoc>,
}

/// A block placed at `start_time` (`"HH:MM"`) of the template's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateItemDoc {
    pub start_time: String,
    pub block: BlockDoc,
}

/// A block: time-of-day programming cycling its items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockDoc {
    pub name: String,
    pub start_time: String,
    pub duration_minutes: i64,
    #[serde(default = "every_day")]
    pub days_of_week: u8,
    #[serde(default = "yes")]
    pub stop_before_end: bool,
    #[serde(default)]
    pub items: Vec<BlockItemDoc>,
}

/// One block item: a collection's, smart collection's or playlist's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockItemDoc {
    pub collection_type: BlockContent,
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playback_order: Option<PlaybackOrder>,
    #[serde(default = "yes")]
    pub include_in_guide: bool,
    /// The item's programmes show no watermark.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_watermarks: bool,
}

/// The channel's deco (`/api/channels/{id}/deco`), its groups and collection by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deco_group: Option<String>,
    pub breaks: BreakMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_every_minutes: Option<i64>,
    #[serde(default = "one")]
    pub break_count: i64,
    pub default_filler: DecoFillerDoc,
    pub watermark: WatermarkDoc,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowDoc>,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecoFillerDoc {
    pub mode: DecoMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
}

/// The deco's watermark: its mode and, for `override`, the watermark by name (its image
/// is the server's own and is not carried).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatermarkDoc {
    pub mode: DecoMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowDoc {
    pub start_time: String,
    pub end_time: String,
    pub deco_group: String,
}

/// The playout: its shuffle seed (the same seed builds the same order) and its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlayoutDoc {
    pub seed: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playout_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_reset_time: Option<String>,
}

/// Why an export or an import was refused.
#[derive(Debug)]
pub enum YamlError {
    ChannelNotFound,
    /// The document's channel number is another channel's (409).
    NumberTaken(String),
    /// A value does not fit or names nothing (422): `path: problem`.
    Invalid {
        path: String,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            YamlError::ChannelNotFound => f.write_str("channel not found"),
            YamlError::NumberTaken(number) => write!(f, "channel number {number} is taken"),
            YamlError::Invalid { path, problem } => write!(f, "{path}: {problem}"),
            YamlError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(YamlError);

fn invalid(path: impl fmt::Display, problem: impl fmt::Display) -> YamlError {
    YamlError::Invalid {
        path: path.to_string(),
        problem: problem.to_string(),
    }
}

/// What a document names by name: the table, its name column and the word for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    Collection,
    MultiCollection,
    Playlist,
    Media,
    Filler,
    Profile,
    DecoGroup,
    Template,
    Channel,
    Watermark,
}

impl Named {
    fn table_column_word(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Named::Collection => ("collections", "name", "collection"),
            Named::MultiCollection => ("multi_collections", "name", "multi-collection"),
            Named::Playlist => ("playlists", "name", "playlist"),
            Named::Media => ("media_items", "url", "media item"),
            Named::Filler => ("filler_presets", "name", "filler preset"),
            Named::Profile => ("ffmpeg_profiles", "name", "FFmpeg profile"),
            Named::DecoGroup => ("deco_groups", "name", "deco group"),
            Named::Template => ("templates", "name", "template"),
            Named::Channel => ("channels", "number", "channel"),
            Named::Watermark => ("watermarks", "name", "watermark"),
        }
    }

    /// The table a schedule item's content is in, by its `collection_type`.
    fn of_content(kind: SlotContent) -> Named {
        match kind {
            SlotContent::MultiCollection => Named::MultiCollection,
            SlotContent::Playlist => Named::Playlist,
            SlotContent::MediaItem => Named::Media,
            SlotContent::Collection
            | SlotContent::TelevisionShow
            | SlotContent::TelevisionSeason
            | SlotContent::Artist
            | SlotContent::SmartCollection => Named::Collection,
        }
    }

    /// The row's name (the first row by id when names repeat), for an export.
    fn name_of(self, conn: &Connection, id: Option<i64>) -> Result<Option<String>, DbError> {
        let Some(id) = id else { return Ok(None) };
        let (table, column, _) = self.table_column_word();
        let sql = format!("SELECT {column} FROM {table} WHERE id = ?1");
        Ok(conn.query_row(&sql, [id], |r| r.get(0)).optional()?)
    }

    /// The row a name names (the first by id when names repeat).
    fn find(self, conn: &Connection, name: &str) -> Result<Option<i64>, DbError> {
        let (table, column, _) = self.table_column_word();
        let sql = format!("SELECT id FROM {table} WHERE {column} = ?1 ORDER BY id LIMIT 1");
        Ok(conn.query_row(&sql, [name], |r| r.get(0)).optional()?)
    }

    /// `find`, or a 422 naming the path and the name.
    fn id_of(
        self,
        conn: &Connection,
        path: &dyn fmt::Display,
        name: &str,
    ) -> Result<i64, YamlError> {
        let word = self.table_column_word().2;
        self.find(conn, name)?.ok_or_else(|| {
            invalid(
                path,
                format_args!("no {word} named {name:?} on this server"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::BuildClock;

    fn clock() -> BuildClock {
        BuildClock {
            now_ms: 1_700_000_000_000,
            horizon_ms: 6 * 3_600_000,
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    fn doc(json: serde_json::Value) -> ChannelDoc {
        serde_json::from_value(json).expect("a channel document")
    }

    /// A fresh database holding the named (empty) collections.
    fn db_with(collections: &[&str]) -> rusqlite::Connection {
        let conn = crate::ops::test_db();
        for name in collections {
            conn.execute(
                "INSERT INTO collections (name, created_at_ms, updated_at_ms) VALUES (?1, 0, 0)",
                [name],
            )
            .unwrap();
        }
        conn
    }

    #[test]
    fn templates_and_blocks_travel_whole_and_a_server_template_of_the_name_is_reused() {
        let original = doc(serde_json::json!({
            "number": "9", "name": "Blocks",
            "templates": [{"days_of_week": 65, "priority": 3, "template": {
                "name": "Weekend", "items": [{"start_time": "08:00", "block": {
                    "name": "Cartoons", "start_time": "07:00", "duration_minutes": 240,
                    "days_of_week": 65, "stop_before_end": false, "items": [
                        {"collection_type": "collection", "content": "Alpha",
                         "playback_order": "chronological"},
                        {"collection_type": "collection", "content": "Beta",
                         "playback_order": "shuffled", "include_in_guide": false},
                    ]}}]}}],
        }));
        let mut first = db_with(&["Alpha", "Beta"]);
        let tx = first.transaction().unwrap();
        let (id, _) = import(&tx, &original, "", &clock(), 1).unwrap();
        let exported = export(&tx, id).unwrap();
        // Applied on Sunday and Saturday: one row per day, each with the template whole.
        assert_eq!(exported.templates.len(), 2, "{exported:?}");
        assert_eq!(
            exported.templates[0].template,
            original.templates[0].template
        );
        assert_eq!(exported.templates[0].days_of_week, 1);
        assert_eq!(exported.templates[1].days_of_week, 64);
        let again = ChannelDoc {
            number: "10".into(),
            ..exported.clone()
        };
        import(&tx, &again, "", &clock(), 2).unwrap();
        let n: i64 = tx
            .query_row("SELECT count(*) FROM templates", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1, "the server's template of that name is used");

        let mut second = db_with(&["Other", "Beta", "Alpha"]);
        let tx = second.transaction().unwrap();
        let (id, _) = import(&tx, &exported, "", &clock(), 3).unwrap();
        assert_eq!(export(&tx, id).unwrap(), exported);
        let mut bad = exported.clone();
        bad.number = "11".into();
        bad.templates[0].template.name = "New".into();
        bad.templates[0].template.items[0].block.duration_minutes = 0;
        let err = import(&tx, &bad, "", &clock(), 4).unwrap_err();
        assert_eq!(
            err.to_string(),
            "templates[0].template.items[0].block.duration_minutes: must be between 1 and 1440"
        );
    }

    #[test]
    fn an_imported_document_exports_as_itself_under_other_ids() {
        let mut conn = crate::ops::test_db();
        let tx = conn.transaction().unwrap();
        for name in ["Unrelated", "Alpha", "Beta"] {
            tx.execute(
                "INSERT INTO collections (name, created_at_ms, updated_at_ms) VALUES (?1, 0, 0)",
                [name],
            )
            .unwrap();
        }
        let original = doc(serde_json::json!({
            "number": "5", "name": "News", "group": "Info",
            "settings": {"idle_behavior": "keep_running", "show_in_epg": false},
            "schedule": {"name": "S", "shuffle_schedule_items": true, "items": [
                {"collection_type": "collection", "content": "Alpha",
                 "playback_order": "shuffled", "playout_mode": "duration", "duration_minutes": 90},
                {"collection_type": "collection", "content": "Beta", "start_type": "fixed",
                 "start_time": "20:00", "custom_title": "Evening", "guide_mode": "custom"},
            ]},
            "deco": {"breaks": "none", "default_filler": {"mode": "override", "collection": "Beta"},
                     "watermark": {"mode": "disable"}},
            "playout": {"seed": 42},
        }));
        let (first, changes) = import(&tx, &original, "", &clock(), 7).unwrap();
        assert!(changes.content);
        let exported = export(&tx, first).unwrap();
        assert_eq!(exported.playout.as_ref().unwrap().seed, 42);
        let items = &exported.schedule.as_ref().unwrap().items;
        assert_eq!(
            (items[0].content.as_str(), items[0].duration_minutes),
            ("Alpha", Some(90))
        );
        assert_eq!(items[1].start_time.as_deref(), Some("20:00:00"));
        assert_eq!(exported.settings.show_in_epg, Some(false));
        assert_eq!(
            exported
                .deco
                .as_ref()
                .unwrap()
                .default_filler
                .collection
                .as_deref(),
            Some("Beta")
        );

        let again = ChannelDoc {
            number: "6".into(),
            ..exported.clone()
        };
        let (second, _) = import(&tx, &again, "", &clock(), 8).unwrap();
        let round = export(&tx, second).unwrap();
        assert_eq!(
            ChannelDoc {
                number: "5".into(),
                ..round
            },
            exported
        );

        let err = import(&tx, &again, "", &clock(), 9).unwrap_err();
        assert_eq!(err.to_string(), "channel number 6 is taken");
        let mut missing = again.clone();
        missing.number = "7".into();
        missing.schedule.as_mut().unwrap().items[1].content = "Gone".into();
        let err = import(&tx, &missing, "[3]", &clock(), 9).unwrap_err();
        assert_eq!(
            err.to_string(),
            "[3].schedule.items[1].content: no collection named \"Gone\" on this server"
        );
        assert!(matches!(
            export(&tx, crate::ops::ids::ChannelId(99)),
            Err(YamlError::ChannelNotFound)
        ));
    }
}
