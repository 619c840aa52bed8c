//! FFmpeg profile writes: create, update, delete, make default, and the default profile the
//! first start seeds. Each runs inside the caller's write transaction, takes a
//! `ProfilePatch` parsed once at the edge, and returns the `Changes` it made: the channels
//! that stream in the profile (their lineup entry shows its size and codecs). A refusal is a
//! `ProfileError`. It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{params, OptionalExtension, Transaction};

use crate::board::Board;
use crate::changes::{Changes, Timelines};
use crate::db::DbError;
use crate::kinds::{CopyMode, HardwareAcceleration, ScalingMode};
use crate::time::UnixMs;

use super::fields::{patch, Flag, Int, Name, OneOf, Real, Text};
pub use super::ids::ProfileId;
use super::ids::{ChannelId, ResolutionId};

/// The built-in 1280x720 row (schema.sql).
const RES_720P: ResolutionId = ResolutionId(2);

patch! {
    /// The fields a profile write sends, each validated once at the edge.
    pub struct ProfilePatch {
        name: Name,
        resolution_id: ResolutionId,
        thread_count: Int<0, 64>,
        hardware_acceleration: OneOf<HardwareAcceleration>,
        video_codec: Name,
        video_bitrate: Name,
        video_buffer_size: Name,
        framerate: Int<1, 120>,
        quality_preset: Name,
        quality_crf: Option<Int<0, 63>>,
        audio_codec: Name,
        audio_bitrate: Name,
        audio_channels: Int<1, 8>,
        audio_sample_rate: Int<8_000, 192_000>,
        normalize_audio: Flag,
        audio_loudness_target: Real,
        deinterlace: Flag,
        scaling_mode: OneOf<ScalingMode>,
        pad_color: Option<Text>,
        /// `true` makes this the one default: every other profile stops being it.
        is_default: Flag,
        is_enabled: Flag,
        /// When the source's video is copied instead of encoded.
        copy_mode: OneOf<CopyMode>,
    }
}

impl ProfilePatch {
    /// `is_default: true` was sent.
    fn makes_default(&self) -> bool {
        self.is_default.given() == Some(&Flag(true))
    }
}

/// Why a profile write was refused.
#[derive(Debug)]
pub enum ProfileError {
    NotFound,
    NameTaken(String),
    /// A channel streams in the profile (a delete would leave it pointing nowhere).
    InUse {
        number: String,
        name: String,
    },
    /// A field points nowhere (422 naming it).
    Invalid {
        field: &'static str,
        problem: String,
    },
    Db(DbError),
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProfileError::NotFound => f.write_str("ffmpeg profile not found"),
            ProfileError::NameTaken(name) => write!(f, "a profile named {name:?} exists"),
            ProfileError::InUse { number, name } => {
                write!(f, "the profile is used by channel {number} ({name})")
            }
            ProfileError::Invalid { field, problem } => write!(f, "{field}: {problem}"),
            ProfileError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(ProfileError);

pub fn create(
    tx: &Transaction<'_>,
    patch: &ProfilePatch,
    now_ms: UnixMs,
) -> Result<(ProfileId, Changes), ProfileError> {
    check(tx, patch, None)?;
    let id = ProfileId(crate::db::row::insert(
        tx,
        "ffmpeg_profiles",
        &patch.values(),
        now_ms,
    )?);
    if patch.makes_default() {
        make_default(tx, id, now_ms)?;
    }
    // Only a new default is any channel's profile (those that name none use it).
    Ok((id, changed(channels_of(tx, id)?, "profile created")))
}

pub fn update(
    tx: &Transaction<'_>,
    id: ProfileId,
    patch: &ProfilePatch,
    now_ms: UnixMs,
) -> Result<Changes, ProfileError> {
    ensure_exists(tx, id)?;
    check(tx, patch, Some(id))?;
    // Before and after: a profile that stops being the default stops being the profile of
    // the channels that name none.
    let mut channels = channels_of(tx, id)?;
    crate::db::row::update(tx, "ffmpeg_profiles", id.0, &patch.values(), now_ms)?;
    if patch.makes_default() {
        make_default(tx, id, now_ms)?;
    }
    channels.merge(channels_of(tx, id)?);
    Ok(changed(channels, "profile updated"))
}

/// Makes `id` the one default profile: the channels that name no profile stream in it now.
pub fn set_default(
    tx: &Transaction<'_>,
    id: ProfileId,
    now_ms: UnixMs,
) -> Result<Changes, ProfileError> {
    ensure_exists(tx, id)?;
    make_default(tx, id, now_ms)?;
    Ok(changed(channels_of(tx, id)?, "default profile"))
}

/// Deletes a profile no channel names (a default one leaves the channels that name none on
/// the built-in output settings).
pub fn delete(tx: &Transaction<'_>, id: ProfileId) -> Result<Changes, ProfileError> {
    ensure_exists(tx, id)?;
    let user: Option<(String, String)> = tx
        .query_row(
            "SELECT number, name FROM channels WHERE ffmpeg_profile_id = ?1 ORDER BY id LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((number, name)) = user {
        return Err(ProfileError::InUse { number, name });
    }
    let channels = channels_of(tx, id)?;
    tx.execute("DELETE FROM ffmpeg_profiles WHERE id = ?1", [id])?;
    Ok(changed(channels, "profile deleted"))
}

/// The profile a first start seeds for the board: its encoder at 720p30, with the same
/// settings as `scheduler::cursor::OutputProfile::default()` otherwise, so what streams by
/// default is what the board can encode in real time.
#[derive(Debug, Clone)]
pub struct DefaultProfile {
    pub name: String,
    pub video_codec: &'static str,
    pub hardware_acceleration: &'static str,
}

impl DefaultProfile {
    pub fn for_board(board: &Board) -> DefaultProfile {
        let (video_codec, hardware_acceleration) = match board.encoder.as_str() {
            "h264_v4l2m2m" => ("h264_v4l2m2m", "v4l2m2m"),
            "h264_vaapi" => ("h264_vaapi", "vaapi"),
            _ => ("libx264", "auto"),
        };
        DefaultProfile {
            name: format!("Default ({})", board.name),
            video_codec,
            hardware_acceleration,
        }
    }
}

/// Seeds `default` on a database with no profile at all; `None` when there was one. It runs
/// before the listener opens, so no channel is streaming yet: it returns no `Changes`.
pub fn ensure_default(
    tx: &Transaction<'_>,
    default: &DefaultProfile,
    now_ms: UnixMs,
) -> Result<Option<ProfileId>, DbError> {
    let n: i64 = tx.query_row("SELECT count(*) FROM ffmpeg_profiles", [], |r| r.get(0))?;
    if n > 0 {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO ffmpeg_profiles (name, resolution_id, hardware_acceleration, video_codec,
             video_bitrate, video_buffer_size, framerate, quality_preset, audio_codec,
             audio_bitrate, audio_channels, audio_sample_rate, normalize_audio, deinterlace,
             scaling_mode, is_default, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, '4000k', '8000k', 30, 'veryfast', 'aac', '128k', 2, 48000,
             0, 0, 'pad', 1, ?5, ?5)",
        params![
            default.name,
            RES_720P,
            default.hardware_acceleration,
            default.video_codec,
            now_ms
        ],
    )?;
    Ok(Some(ProfileId(tx.last_insert_rowid())))
}

/// The channels that stream in profile `id`: those that name it, and, when it is the
/// default, those that name none (`scheduler::cursor` picks the profile the same way).
pub fn channels_of(tx: &rusqlite::Connection, id: ProfileId) -> Result<Timelines, DbError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id FROM channels
         WHERE ffmpeg_profile_id = ?1
            OR (ffmpeg_profile_id IS NULL
                AND (SELECT is_default FROM ffmpeg_profiles WHERE id = ?1) = 1)
         ORDER BY id",
    )?;
    let mut out = Timelines::Empty;
    for channel in stmt.query_map([id], |r| r.get::<_, ChannelId>(0))? {
        out.add(channel?);
    }
    Ok(out)
}

/// What clients see changed (the lineup shows a channel's size and codecs), and the
/// channels named re-read: no timeline is rebuilt, the programmes stay the same.
fn changed(channels: Timelines, cause: &str) -> Changes {
    Changes {
        content: true,
        ..Changes::timelines(channels, cause)
    }
}

fn ensure_exists(tx: &Transaction<'_>, id: ProfileId) -> Result<(), ProfileError> {
    if !crate::db::exists(tx, "ffmpeg_profiles", id.0)? {
        return Err(ProfileError::NotFound);
    }
    Ok(())
}

/// The resolution must exist and the name be free (checked in that order).
fn check(
    tx: &Transaction<'_>,
    patch: &ProfilePatch,
    self_id: Option<ProfileId>,
) -> Result<(), ProfileError> {
    if let Some(&resolution) = patch.resolution_id.given() {
        if !crate::db::exists(tx, "resolutions", resolution.0)? {
            return Err(ProfileError::Invalid {
                field: "resolution_id",
                problem: format!("unknown resolution {resolution}"),
            });
        }
    }
    if let Some(Name(name)) = patch.name.given() {
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM ffmpeg_profiles WHERE name = ?1 AND id != ?2)",
            params![name, self_id.map_or(0, |id| id.0)],
            |r| r.get(0),
        )?;
        if taken {
            return Err(ProfileError::NameTaken(name.clone()));
        }
    }
    Ok(())
}

fn make_default(tx: &Transaction<'_>, id: ProfileId, now_ms: UnixMs) -> Result<(), DbError> {
    tx.execute(
        "UPDATE ffmpeg_profiles SET is_default = (id = ?1), updated_at_ms = ?2
         WHERE is_default != (id = ?1)",
        params![id, now_ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::fields::Field;
    use rusqlite::Connection;

    fn db() -> Connection {
        super::super::test_db()
    }

    fn patch(name: &str, resolution: i64) -> ProfilePatch {
        ProfilePatch {
            name: Field::set(Name(name.into())),
            resolution_id: Field::set(ResolutionId(resolution)),
            ..ProfilePatch::default()
        }
    }

    fn channel(tx: &Transaction<'_>, number: &str, profile: Option<ProfileId>) -> i64 {
        tx.execute(
            "INSERT INTO channels (number, name, ffmpeg_profile_id, created_at_ms, updated_at_ms)
             VALUES (?1, ?1, ?2, 1, 1)",
            params![number, profile],
        )
        .unwrap();
        tx.last_insert_rowid()
    }

    #[test]
    fn create_and_update_refuse_a_taken_name_and_an_unknown_resolution() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (small, changes) = create(&tx, &patch("Small", 1), 1).unwrap();
        assert!(changes.content && changes.timelines.is_empty());
        let (big, _) = create(&tx, &patch("Big", 3), 1).unwrap();
        let err = create(&tx, &patch("Small", 2), 1).unwrap_err();
        assert_eq!(err.to_string(), "a profile named \"Small\" exists");
        let err = update(&tx, big, &patch("Small", 3), 2).unwrap_err();
        assert!(matches!(err, ProfileError::NameTaken(_)), "{err}");
        let err = update(&tx, big, &patch("Big", 99), 2).unwrap_err();
        assert_eq!(err.to_string(), "resolution_id: unknown resolution 99");
        // Its own name is not "taken" by itself.
        update(&tx, small, &patch("Small", 2), 2).unwrap();
        assert!(matches!(
            update(&tx, ProfileId(999), &patch("X", 1), 2),
            Err(ProfileError::NotFound)
        ));
    }

    #[test]
    fn a_profile_a_channel_names_is_not_deleted() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &patch("Small", 1), 1).unwrap();
        channel(&tx, "5", Some(id));
        let err = delete(&tx, id).unwrap_err();
        assert_eq!(err.to_string(), "the profile is used by channel 5 (5)");
        tx.execute("UPDATE channels SET ffmpeg_profile_id = NULL", [])
            .unwrap();
        delete(&tx, id).unwrap();
        assert!(matches!(delete(&tx, id), Err(ProfileError::NotFound)));
    }

    #[test]
    fn an_edit_names_the_channels_streaming_in_the_profile() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (small, _) = create(&tx, &patch("Small", 1), 1).unwrap();
        let (other, _) = create(&tx, &patch("Other", 1), 1).unwrap();
        let named = channel(&tx, "5", Some(small));
        let unnamed = channel(&tx, "6", None);
        let elsewhere = channel(&tx, "7", Some(other));
        let changes = update(&tx, small, &patch("Smaller", 1), 2).unwrap();
        assert!(changes.content && changes.rebuild.is_empty());
        assert!(changes
            .timelines
            .contains(crate::ops::ids::ChannelId(named)));
        assert!(
            !changes
                .timelines
                .contains(crate::ops::ids::ChannelId(unnamed))
                && !changes
                    .timelines
                    .contains(crate::ops::ids::ChannelId(elsewhere))
        );
        // As the default it is also the profile of the channel that names none.
        let changes = set_default(&tx, small, 3).unwrap();
        assert!(
            changes
                .timelines
                .contains(crate::ops::ids::ChannelId(named))
                && changes
                    .timelines
                    .contains(crate::ops::ids::ChannelId(unnamed))
        );
        // Clearing the default: the unnamed channel loses it, so it is named too.
        let clear = ProfilePatch {
            is_default: Field::set(Flag(false)),
            ..ProfilePatch::default()
        };
        let changes = update(&tx, small, &clear, 4).unwrap();
        assert!(changes
            .timelines
            .contains(crate::ops::ids::ChannelId(unnamed)));
        assert!(matches!(
            set_default(&tx, ProfileId(999), 5),
            Err(ProfileError::NotFound)
        ));
    }

    #[test]
    fn the_default_is_seeded_once_for_the_board() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let default = DefaultProfile {
            name: "Default (pi4)".into(),
            video_codec: "h264_v4l2m2m",
            hardware_acceleration: "v4l2m2m",
        };
        let id = ensure_default(&tx, &default, 1).unwrap().unwrap();
        assert_eq!(ensure_default(&tx, &default, 2).unwrap(), None);
        let (codec, is_default): (String, bool) = tx
            .query_row(
                "SELECT video_codec, is_default FROM ffmpeg_profiles WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((codec.as_str(), is_default), ("h264_v4l2m2m", true));
    }
}
