//! Channel writes: create, update, delete, toggle. Each runs inside the caller's write
//! transaction, takes a `ChannelPatch` parsed once at the edge, and returns the `Changes` it
//! made; a refusal is a `ChannelError`. It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Transaction};
use serde::de::{self, Deserialize, Deserializer, Visitor};

use crate::changes::{Changes, Rebuild, Timelines};
use crate::db::DbError;
use crate::kinds::{
    ChannelPlayoutMode, IdleBehavior, PlayoutSource, StreamingMode, TranscodeProfile,
};
use crate::scheduler::mirror;
use crate::time::UnixMs;

use super::fields::{patch, AnyId, ChannelNumber, Flag, Int, Name, OneOf, Text, ToColumn};
pub use super::ids::ChannelId;
use super::ids::{FillerPresetId, MediaId, ProfileId};

patch! {
    /// The fields a channel write sends, each validated once at the edge.
    pub struct ChannelPatch {
        number: ChannelNumber,
        name: Name,
        group = "\"group\"": Text,
        enabled: Flag,
        logo_path: Option<Text>,
        logo_url: Option<Text>,
        playout_mode: OneOf<ChannelPlayoutMode>,
        streaming_mode: OneOf<StreamingMode>,
        transcode_mode: Name,
        transcode_profile: Option<OneOf<TranscodeProfile>>,
        ffmpeg_profile_id: Option<ProfileId>,
        watermark_id: Option<AnyId>,
        subtitle_mode: Name,
        preferred_audio_language_code: Option<Text>,
        preferred_audio_title: Option<Text>,
        preferred_subtitle_language_code: Option<Text>,
        stream_selector_mode: Name,
        stream_selector: Option<Text>,
        music_video_credits_mode: Name,
        music_video_credits_template: Option<Text>,
        song_video_mode: Name,
        idle_behavior: OneOf<IdleBehavior>,
        playout_source: OneOf<PlayoutSource>,
        mirror_source_channel_id: Option<ChannelId>,
        playout_offset: Option<Int<-86_400, 86_400>>,
        show_in_epg: Flag,
        is_yaml_source: Flag,
    }
}

/// Why a channel write was refused.
#[derive(Debug)]
pub enum ChannelError {
    NotFound,
    NumberTaken(String),
    /// The channel comes from a YAML file: `fix` says what to do instead.
    FromYaml {
        fix: &'static str,
    },
    /// Another channel mirrors this one (a delete would orphan it).
    MirroredBy {
        number: String,
        name: String,
    },
    /// A playback position is kept for `on_demand` channels only; this one plays `mode`.
    NotOnDemand {
        mode: String,
    },
    /// A field points nowhere or makes no sense (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::NotFound => f.write_str("channel not found"),
            ChannelError::NumberTaken(number) => write!(f, "channel number {number} is taken"),
            ChannelError::FromYaml { fix } => {
                write!(f, "the channel comes from a YAML file; {fix}")
            }
            ChannelError::MirroredBy { number, name } => {
                write!(f, "channel {number} ({name}) mirrors this channel")
            }
            ChannelError::NotOnDemand { mode } => write!(
                f,
                "the channel's playout_mode is {mode}; a position is kept for on_demand channels only"
            ),
            ChannelError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            ChannelError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(ChannelError);

/// What a write to one channel changed: what clients see, and its own timeline (a feeder
/// playing it re-reads: a disabled, deleted or re-sourced channel must not play on).
fn changed(id: ChannelId, cause: &str) -> Changes {
    let mut timelines = Timelines::Empty;
    timelines.add(id);
    Changes {
        content: true,
        timelines,
        rebuild: Rebuild::Empty,
        cause: cause.into(),
    }
}

/// `changed`, and the channel's playouts rebuilt after the commit (a mirror's timeline is
/// copied from its source at once; an edit may change its source or offset).
fn rebuilding(tx: &Transaction<'_>, id: ChannelId, cause: &str) -> Result<Changes, DbError> {
    let mut changes = changed(id, cause);
    changes.rebuild = crate::scheduler::playouts_of_channel(tx, id)?;
    Ok(changes)
}

pub fn create(
    tx: &Transaction<'_>,
    patch: &ChannelPatch,
    now_ms: UnixMs,
) -> Result<(ChannelId, Changes), ChannelError> {
    check_refs(tx, patch, None)?;
    if let Some(number) = patch.number.given() {
        check_number_free(tx, &number.0, None)?;
    }
    let id = ChannelId(crate::db::row::insert(
        tx,
        "channels",
        &patch.values(),
        now_ms,
    )?);
    settle_mirror(tx, id, now_ms)?;
    Ok((id, rebuilding(tx, id, "channel created")?))
}

pub fn update(
    tx: &Transaction<'_>,
    id: ChannelId,
    patch: &ChannelPatch,
    now_ms: UnixMs,
) -> Result<Changes, ChannelError> {
    ensure_editable(tx, id, "edit the file instead")?;
    check_refs(tx, patch, Some(id))?;
    if let Some(number) = patch.number.given() {
        check_number_free(tx, &number.0, Some(id))?;
    }
    crate::db::row::update(tx, "channels", id.0, &patch.values(), now_ms)?;
    settle_mirror(tx, id, now_ms)?;
    Ok(rebuilding(tx, id, "channel updated")?)
}

/// Deletes the channel with its playouts, items and playback position (ON DELETE CASCADE).
pub fn delete(tx: &Transaction<'_>, id: ChannelId) -> Result<Changes, ChannelError> {
    ensure_editable(tx, id, "remove it there")?;
    let mirror: Option<(String, String)> = tx
        .query_row(
            "SELECT number, name FROM channels WHERE mirror_source_channel_id = ?1 LIMIT 1",
            [id.0],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((number, name)) = mirror {
        return Err(ChannelError::MirroredBy { number, name });
    }
    tx.execute("DELETE FROM channels WHERE id = ?1", [id.0])?;
    Ok(changed(id, "channel deleted"))
}

pub fn toggle_enabled(
    tx: &Transaction<'_>,
    id: ChannelId,
    now_ms: UnixMs,
) -> Result<Changes, ChannelError> {
    let n = tx.execute(
        "UPDATE channels SET enabled = 1 - enabled, updated_at_ms = ?2 WHERE id = ?1",
        params![id.0, now_ms],
    )?;
    if n == 0 {
        return Err(ChannelError::NotFound);
    }
    Ok(changed(id, "channel toggled"))
}

/// The three filler slots of a channel (`channels.<role>_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FillerRole {
    Fallback,
    PreRoll,
    PostRoll,
}

impl FillerRole {
    pub const ALL: [FillerRole; 3] = [
        FillerRole::Fallback,
        FillerRole::PreRoll,
        FillerRole::PostRoll,
    ];

    /// The role's name in the API (`fallback_filler`); its column and id field add `_id`.
    pub fn as_str(self) -> &'static str {
        match self {
            FillerRole::Fallback => "fallback_filler",
            FillerRole::PreRoll => "pre_roll_filler",
            FillerRole::PostRoll => "post_roll_filler",
        }
    }

    pub fn id_field(self) -> &'static str {
        match self {
            FillerRole::Fallback => "fallback_filler_id",
            FillerRole::PreRoll => "pre_roll_filler_id",
            FillerRole::PostRoll => "post_roll_filler_id",
        }
    }
}

/// One filler slot as a write sends it: a preset id, or `null` / `0` (as EXStreamTV's
/// clients send it) to clear it. A lenient field type of this file only: an integer in
/// JSON's own form (no string of digits), refused as "expected a preset id" otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillerSlot(pub Option<FillerPresetId>);

impl<'de> Deserialize<'de> for FillerSlot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FillerSlotVisitor)
    }
}

struct FillerSlotVisitor;

impl FillerSlotVisitor {
    fn refused<T, E: de::Error>(self) -> Result<T, E> {
        Err(E::custom("expected a preset id"))
    }
}

impl<'de> Visitor<'de> for FillerSlotVisitor {
    type Value = FillerSlot;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a preset id")
    }
    fn visit_unit<E: de::Error>(self) -> Result<FillerSlot, E> {
        Ok(FillerSlot(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<FillerSlot, E> {
        Ok(FillerSlot(None))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<FillerSlot, E> {
        match v {
            0 => Ok(FillerSlot(None)),
            1.. => Ok(FillerSlot(Some(FillerPresetId(v)))),
            _ => self.refused(),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<FillerSlot, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => self.refused(),
        }
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<FillerSlot, E> {
        self.refused()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<FillerSlot, E> {
        self.refused()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<FillerSlot, E> {
        self.refused()
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<FillerSlot, E> {
        self.refused()
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<FillerSlot, A::Error> {
        self.refused()
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<FillerSlot, A::Error> {
        self.refused()
    }
}

impl ToColumn for FillerSlot {
    fn to_column(&self) -> Value {
        self.0.as_ref().map_or(Value::Null, ToColumn::to_column)
    }
}

patch! {
    /// The filler slots a write sets (`channels.<role>_id`); the others stay as they are.
    pub struct FillerPatch {
        fallback_filler_id: FillerSlot,
        pre_roll_filler_id: FillerSlot,
        post_roll_filler_id: FillerSlot,
    }
}

impl FillerPatch {
    /// The slots sent, in `FillerRole::ALL` order, with the preset each is set to.
    pub fn slots(&self) -> Vec<(FillerRole, Option<FillerPresetId>)> {
        FillerRole::ALL
            .into_iter()
            .zip([
                &self.fallback_filler_id,
                &self.pre_roll_filler_id,
                &self.post_roll_filler_id,
            ])
            .filter_map(|(role, slot)| slot.given().map(|slot| (role, slot.0)))
            .collect()
    }
}

/// Sets (or, with `null` / `0`, clears) filler slots of a channel; its timeline is rebuilt.
pub fn set_filler(
    tx: &Transaction<'_>,
    id: ChannelId,
    patch: &FillerPatch,
    now_ms: UnixMs,
) -> Result<Changes, ChannelError> {
    if !crate::db::exists(tx, "channels", id.0)? {
        return Err(ChannelError::NotFound);
    }
    for (role, preset) in patch.slots() {
        if let Some(preset) = preset {
            if !crate::db::exists(tx, "filler_presets", preset.0)? {
                return Err(ChannelError::Invalid {
                    field: role.id_field(),
                    problem: format!("unknown filler preset {preset}"),
                });
            }
        }
    }
    let values = patch.values();
    if !values.is_empty() {
        crate::db::row::update(tx, "channels", id.0, &values, now_ms)?;
    }
    Ok(rebuilding(tx, id, "channel filler")?)
}

/// Points the channel's logo at `logo_path` (an uploaded icon), or clears it.
pub fn set_logo(
    tx: &Transaction<'_>,
    id: ChannelId,
    logo_path: Option<&str>,
    now_ms: UnixMs,
) -> Result<Changes, ChannelError> {
    let n = tx.execute(
        "UPDATE channels SET logo_path = ?2, updated_at_ms = ?3 WHERE id = ?1",
        params![id, logo_path, now_ms],
    )?;
    if n == 0 {
        return Err(ChannelError::NotFound);
    }
    Ok(Changes {
        timelines: Timelines::Empty,
        ..changed(id, "channel logo")
    })
}

/// Where an on-demand channel resumes: the item index (and media) last played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub item_index: i64,
    pub media_id: Option<MediaId>,
}

/// Records the position of an `on_demand` channel (each save counts one item watched).
pub fn save_position(
    tx: &Transaction<'_>,
    id: ChannelId,
    position: Position,
    now_ms: UnixMs,
) -> Result<(), ChannelError> {
    let mode: Option<String> = tx
        .query_row(
            "SELECT playout_mode FROM channels WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    match mode {
        None => return Err(ChannelError::NotFound),
        Some(mode) if mode != ChannelPlayoutMode::OnDemand.as_str() => {
            return Err(ChannelError::NotOnDemand { mode })
        }
        Some(_) => {}
    }
    tx.execute(
        "INSERT INTO playback_positions (channel_id, item_index, media_id, last_played_at_ms, total_items_watched)
         VALUES (?1, ?2, ?3, ?4, 1)
         ON CONFLICT(channel_id) DO UPDATE SET item_index = excluded.item_index,
             media_id = excluded.media_id, last_played_at_ms = excluded.last_played_at_ms,
             total_items_watched = total_items_watched + 1",
        params![id, position.item_index, position.media_id, now_ms],
    )?;
    Ok(())
}

/// Forgets the channel's position (it starts from the first item again).
pub fn clear_position(tx: &Transaction<'_>, id: ChannelId) -> Result<(), ChannelError> {
    if !crate::db::exists(tx, "channels", id.0)? {
        return Err(ChannelError::NotFound);
    }
    tx.execute("DELETE FROM playback_positions WHERE channel_id = ?1", [id])?;
    Ok(())
}

/// The channel exists and is not managed by a YAML file (`fix` says what to do instead).
fn ensure_editable(
    tx: &Transaction<'_>,
    id: ChannelId,
    fix: &'static str,
) -> Result<(), ChannelError> {
    let from_yaml: Option<bool> = tx
        .query_row(
            "SELECT is_yaml_source FROM channels WHERE id = ?1",
            [id.0],
            |r| r.get(0),
        )
        .optional()?;
    match from_yaml {
        None => Err(ChannelError::NotFound),
        Some(true) => Err(ChannelError::FromYaml { fix }),
        Some(false) => Ok(()),
    }
}

fn check_number_free(
    tx: &Transaction<'_>,
    number: &str,
    except: Option<ChannelId>,
) -> Result<(), ChannelError> {
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM channels WHERE number = ?1 AND id != ?2)",
        params![number, except.map_or(0, |id| id.0)],
        |r| r.get(0),
    )?;
    if taken {
        return Err(ChannelError::NumberTaken(number.to_string()));
    }
    Ok(())
}

/// References the patch carries must point at rows that exist, and not at the channel itself.
fn check_refs(
    tx: &Transaction<'_>,
    patch: &ChannelPatch,
    self_id: Option<ChannelId>,
) -> Result<(), ChannelError> {
    if let Some(profile) = patch.ffmpeg_profile_id.value() {
        if !crate::db::exists(tx, "ffmpeg_profiles", profile.0)? {
            return Err(ChannelError::Invalid {
                field: "ffmpeg_profile_id",
                problem: format!("unknown profile {profile}"),
            });
        }
    }
    if let Some(watermark) = patch.watermark_id.value() {
        if !crate::db::exists(tx, "watermarks", watermark.0)? {
            return Err(ChannelError::Invalid {
                field: "watermark_id",
                problem: format!("unknown watermark {}", watermark.0),
            });
        }
    }
    if let Some(source) = patch.mirror_source_channel_id.value() {
        if !crate::db::exists(tx, "channels", source.0)? {
            return Err(ChannelError::Invalid {
                field: "mirror_source_channel_id",
                problem: format!("unknown channel {source}"),
            });
        }
        if self_id == Some(source) {
            return Err(ChannelError::Invalid {
                field: "mirror_source_channel_id",
                problem: "a channel cannot mirror itself".into(),
            });
        }
    }
    Ok(())
}

/// After the write: the merged row's mirror settings must make sense (a source, no cycle),
/// and a mirror gets a playout to hold its copied timeline.
fn settle_mirror(tx: &Transaction<'_>, id: ChannelId, now_ms: UnixMs) -> Result<(), ChannelError> {
    if let Some(problem) = mirror::validate(tx, id.0)? {
        return Err(ChannelError::Invalid {
            field: "mirror_source_channel_id",
            problem: problem.to_string(),
        });
    }
    mirror::ensure_playout(tx, id.0, now_ms)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::fields::Field;
    use super::*;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn patch(number: &str, name: &str) -> ChannelPatch {
        ChannelPatch {
            number: Field::set(ChannelNumber(number.into())),
            name: Field::set(Name(name.into())),
            ..ChannelPatch::default()
        }
    }

    #[test]
    fn create_then_update_refuses_a_taken_number_and_names_what_changed() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (news, changes) = create(&tx, &patch("5", "News"), 1).unwrap();
        assert!(changes.content && changes.timelines.contains(news));
        let (film, _) = create(&tx, &patch("6", "Film"), 1).unwrap();
        let err = create(&tx, &patch("5", "Other"), 1).unwrap_err();
        assert_eq!(err.to_string(), "channel number 5 is taken");
        let err = update(&tx, film, &patch("5", "Film"), 2).unwrap_err();
        assert!(matches!(err, ChannelError::NumberTaken(_)), "{err}");
        // Its own number is not "taken" by itself.
        let changes = update(&tx, film, &patch("6", "Films"), 2).unwrap();
        assert!(changes.timelines.contains(film) && !changes.timelines.contains(news));
        let err = update(&tx, ChannelId(999), &patch("7", "X"), 2).unwrap_err();
        assert!(matches!(err, ChannelError::NotFound));
    }

    #[test]
    fn references_must_exist_and_a_channel_cannot_mirror_itself() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let mut bad = patch("5", "News");
        bad.ffmpeg_profile_id = Field::set(Some(ProfileId(999)));
        let err = create(&tx, &bad, 1).unwrap_err();
        assert_eq!(err.to_string(), "ffmpeg_profile_id: unknown profile 999");
        let (id, _) = create(&tx, &patch("5", "News"), 1).unwrap();
        let mut own = patch("5", "News");
        own.mirror_source_channel_id = Field::set(Some(id));
        let err = update(&tx, id, &own, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "mirror_source_channel_id: a channel cannot mirror itself"
        );
    }

    #[test]
    fn a_mirrored_or_yaml_channel_is_not_deleted_and_toggle_needs_the_channel() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (root, _) = create(&tx, &patch("5", "Root"), 1).unwrap();
        let mut mirror = patch("6", "Mirror");
        mirror.mirror_source_channel_id = Field::set(Some(root));
        mirror.playout_source = Field::set(OneOf(PlayoutSource::Mirror));
        let (copy, _) = create(&tx, &mirror, 1).unwrap();
        let err = delete(&tx, root).unwrap_err();
        assert_eq!(err.to_string(), "channel 6 (Mirror) mirrors this channel");
        tx.execute(
            "UPDATE channels SET is_yaml_source = 1 WHERE id = ?1",
            [copy.0],
        )
        .unwrap();
        let err = delete(&tx, copy).unwrap_err();
        assert!(matches!(err, ChannelError::FromYaml { .. }), "{err}");
        assert!(matches!(
            toggle_enabled(&tx, ChannelId(999), 2),
            Err(ChannelError::NotFound)
        ));
        assert!(toggle_enabled(&tx, root, 2)
            .unwrap()
            .timelines
            .contains(root));
    }

    #[test]
    fn filler_needs_a_known_preset_and_rebuilds_the_channels_playouts() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &patch("5", "News"), 1).unwrap();
        let slots = FillerPatch {
            pre_roll_filler_id: Field::set(FillerSlot(Some(FillerPresetId(9)))),
            ..FillerPatch::default()
        };
        let err = set_filler(&tx, id, &slots, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pre_roll_filler_id: unknown filler preset 9"
        );
        tx.execute(
            "INSERT INTO playouts (channel_id, seed, created_at_ms, updated_at_ms) VALUES (?1, 7, 1, 1)",
            [id],
        )
        .unwrap();
        let playout = tx.last_insert_rowid();
        let clear = FillerPatch {
            fallback_filler_id: Field::set(FillerSlot(None)),
            ..FillerPatch::default()
        };
        let changes = set_filler(&tx, id, &clear, 2).unwrap();
        assert_eq!(
            changes.rebuild,
            Rebuild::of([crate::ops::ids::PlayoutId(playout)])
        );
        assert!(matches!(
            set_filler(&tx, ChannelId(999), &FillerPatch::default(), 2),
            Err(ChannelError::NotFound)
        ));
    }

    #[test]
    fn a_filler_slot_is_a_preset_id_or_null_or_zero() {
        let decode = |json: &str| {
            crate::http::request::parse_json::<FillerPatch>(json.as_bytes()).map_err(|e| e.detail)
        };
        let p = decode(
            r#"{"fallback_filler_id":3,"pre_roll_filler_id":0,"post_roll_filler_id":null,"x":1}"#,
        )
        .unwrap();
        assert_eq!(
            p.slots(),
            vec![
                (FillerRole::Fallback, Some(FillerPresetId(3))),
                (FillerRole::PreRoll, None),
                (FillerRole::PostRoll, None),
            ]
        );
        assert_eq!(
            p.values(),
            vec![
                ("fallback_filler_id", Value::Integer(3)),
                ("pre_roll_filler_id", Value::Null),
                ("post_roll_filler_id", Value::Null),
            ]
        );
        for bad in ["-1", "\"3\"", "1.5", "true", "[1]", "{}"] {
            assert_eq!(
                decode(&format!(r#"{{"pre_roll_filler_id":{bad}}}"#)).unwrap_err(),
                "pre_roll_filler_id: expected a preset id",
                "{bad}"
            );
        }
        assert!(decode("{}").unwrap().slots().is_empty());
    }

    #[test]
    fn a_position_is_kept_for_on_demand_channels_only() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &patch("5", "News"), 1).unwrap();
        let at = Position {
            item_index: 3,
            media_id: None,
        };
        let err = save_position(&tx, id, at, 2).unwrap_err();
        assert!(matches!(err, ChannelError::NotOnDemand { .. }), "{err}");
        tx.execute(
            "UPDATE channels SET playout_mode = 'on_demand' WHERE id = ?1",
            [id],
        )
        .unwrap();
        save_position(&tx, id, at, 2).unwrap();
        save_position(&tx, id, at, 3).unwrap();
        let watched: i64 = tx
            .query_row(
                "SELECT total_items_watched FROM playback_positions WHERE channel_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(watched, 2);
        clear_position(&tx, id).unwrap();
        assert!(matches!(
            clear_position(&tx, ChannelId(999)),
            Err(ChannelError::NotFound)
        ));
    }
}
