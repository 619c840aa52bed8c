//! Resolution writes: the frame sizes FFmpeg profiles refer to. The four built-ins
//! (schema.sql) cannot be deleted, nor can a size a profile uses. Each write runs inside the
//! caller's write transaction and returns the `Changes` it made; a refusal is a
//! `ResolutionError`. It knows no HTTP and no JSON.

use std::fmt;

use rusqlite::{params, OptionalExtension, Transaction};

use crate::changes::{Changes, Timelines};
use crate::db::DbError;

use super::fields::{patch, Int, Name};
use super::ids::ProfileId;
pub use super::ids::ResolutionId;

patch! {
    /// The fields a resolution write sends, each validated once at the edge. `is_custom` is
    /// never among them: the database decides it.
    pub struct ResolutionPatch {
        name: Name,
        width: Int<16, 7680>,
        height: Int<16, 4320>,
    }
}

/// Why a resolution write was refused.
#[derive(Debug)]
pub enum ResolutionError {
    NotFound,
    NameTaken(String),
    /// One of the four sizes schema.sql ships.
    BuiltIn,
    /// An FFmpeg profile (named) outputs this size.
    InUse {
        profile: String,
    },
    Db(DbError),
}

impl fmt::Display for ResolutionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolutionError::NotFound => f.write_str("resolution not found"),
            ResolutionError::NameTaken(name) => write!(f, "a resolution named {name:?} exists"),
            ResolutionError::BuiltIn => f.write_str("a built-in resolution cannot be deleted"),
            ResolutionError::InUse { profile } => {
                write!(f, "the resolution is used by FFmpeg profile {profile:?}")
            }
            ResolutionError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(ResolutionError);

/// A new size is no profile's yet: nothing a client or a channel sees changes.
pub fn create(
    tx: &Transaction<'_>,
    patch: &ResolutionPatch,
) -> Result<(ResolutionId, Changes), ResolutionError> {
    check_name_free(tx, patch, None)?;
    // Resolutions have no timestamps.
    let id = ResolutionId(crate::db::row::insert_exactly(
        tx,
        "resolutions",
        &patch.values(),
    )?);
    Ok((id, Changes::default()))
}

/// Resizes or renames; the channels streaming in a profile of this size are named.
pub fn update(
    tx: &Transaction<'_>,
    id: ResolutionId,
    patch: &ResolutionPatch,
) -> Result<Changes, ResolutionError> {
    if !crate::db::exists(tx, "resolutions", id.0)? {
        return Err(ResolutionError::NotFound);
    }
    check_name_free(tx, patch, Some(id))?;
    for (column, value) in &patch.values() {
        // `column` is one of the API's fixed column names, never client input.
        tx.execute(
            &format!("UPDATE resolutions SET {column} = ?2 WHERE id = ?1"),
            params![id, value],
        )?;
    }
    Ok(Changes {
        content: true,
        ..Changes::timelines(channels_of(tx, id)?, "resolution updated")
    })
}

/// Deletes a custom size no profile uses: nothing a client or a channel sees changes.
pub fn delete(tx: &Transaction<'_>, id: ResolutionId) -> Result<Changes, ResolutionError> {
    let custom: Option<bool> = tx
        .query_row(
            "SELECT is_custom FROM resolutions WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    match custom {
        None => return Err(ResolutionError::NotFound),
        Some(false) => return Err(ResolutionError::BuiltIn),
        Some(true) => {}
    }
    let user: Option<String> = tx
        .query_row(
            "SELECT name FROM ffmpeg_profiles WHERE resolution_id = ?1 ORDER BY id LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(profile) = user {
        return Err(ResolutionError::InUse { profile });
    }
    tx.execute("DELETE FROM resolutions WHERE id = ?1", [id])?;
    Ok(Changes::default())
}

/// The channels streaming in any profile of size `id`.
fn channels_of(tx: &Transaction<'_>, id: ResolutionId) -> Result<Timelines, DbError> {
    let profiles: Vec<ProfileId> = tx
        .prepare_cached("SELECT id FROM ffmpeg_profiles WHERE resolution_id = ?1 ORDER BY id")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Timelines::Empty;
    for profile in profiles {
        out.merge(super::profiles::channels_of(tx, profile)?);
    }
    Ok(out)
}

fn check_name_free(
    tx: &Transaction<'_>,
    patch: &ResolutionPatch,
    self_id: Option<ResolutionId>,
) -> Result<(), ResolutionError> {
    let Some(Name(name)) = patch.name.given() else {
        return Ok(());
    };
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM resolutions WHERE name = ?1 AND id != ?2)",
        params![name, self_id.map_or(0, |id| id.0)],
        |r| r.get(0),
    )?;
    if taken {
        return Err(ResolutionError::NameTaken(name.clone()));
    }
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

    fn patch(name: &str, width: i64, height: i64) -> ResolutionPatch {
        ResolutionPatch {
            name: Field::set(Name(name.into())),
            width: Field::set(Int(width)),
            height: Field::set(Int(height)),
        }
    }

    #[test]
    fn create_then_update_refuses_a_taken_name() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, changes) = create(&tx, &patch("tiny", 320, 240)).unwrap();
        assert!(!changes.content && changes.timelines.is_empty());
        let err = create(&tx, &patch("1280x720", 1, 1)).unwrap_err();
        assert_eq!(err.to_string(), "a resolution named \"1280x720\" exists");
        let err = update(&tx, id, &patch("720x480", 320, 240)).unwrap_err();
        assert!(matches!(err, ResolutionError::NameTaken(_)), "{err}");
        // Its own name is not "taken" by itself.
        update(&tx, id, &patch("tiny", 352, 288)).unwrap();
        assert!(matches!(
            update(&tx, ResolutionId(999), &patch("x", 1, 1)),
            Err(ResolutionError::NotFound)
        ));
    }

    #[test]
    fn a_built_in_or_used_size_is_not_deleted() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        assert!(matches!(
            delete(&tx, ResolutionId(1)),
            Err(ResolutionError::BuiltIn)
        ));
        let (id, _) = create(&tx, &patch("tiny", 320, 240)).unwrap();
        tx.execute(
            "INSERT INTO ffmpeg_profiles (name, resolution_id, created_at_ms, updated_at_ms)
             VALUES ('Small', ?1, 1, 1)",
            [id],
        )
        .unwrap();
        let err = delete(&tx, id).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the resolution is used by FFmpeg profile \"Small\""
        );
        tx.execute("DELETE FROM ffmpeg_profiles", []).unwrap();
        delete(&tx, id).unwrap();
        assert!(matches!(delete(&tx, id), Err(ResolutionError::NotFound)));
    }

    #[test]
    fn a_resize_names_the_channels_streaming_in_it() {
        let mut conn = db();
        let tx = conn.transaction().unwrap();
        let (id, _) = create(&tx, &patch("tiny", 320, 240)).unwrap();
        tx.execute_batch(&format!(
            "INSERT INTO ffmpeg_profiles (id, name, resolution_id, created_at_ms, updated_at_ms)
                 VALUES (7, 'Small', {id}, 1, 1), (8, 'Big', 3, 1, 1);
             INSERT INTO channels (id, number, name, ffmpeg_profile_id, created_at_ms, updated_at_ms)
                 VALUES (1, '1', 'One', 7, 1, 1), (2, '2', 'Two', 8, 1, 1);"
        ))
        .unwrap();
        let changes = update(&tx, id, &patch("tiny", 352, 288)).unwrap();
        assert!(changes.content && changes.rebuild.is_empty());
        assert!(
            changes.timelines.contains(crate::ops::ids::ChannelId(1))
                && !changes.timelines.contains(crate::ops::ids::ChannelId(2))
        );
    }
}
