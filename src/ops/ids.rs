//! Row ids as types: a `PlayoutId` cannot be passed where a `ChannelId` is meant. Each is
//! the SQLite rowid it wraps, binds as a SQL parameter and reads from a column directly,
//! and serialises as the bare integer the API has always sent.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

macro_rules! row_ids {
    ($( $(#[$doc:meta])* $name:ident; )+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        /// Sent as a positive integer (or its digits as a string).
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                super::fields::row_id(d).map($name)
            }
        }

        impl super::fields::ToColumn for $name {
            fn to_column(&self) -> rusqlite::types::Value {
                rusqlite::types::Value::Integer(self.0)
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.0))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                i64::column_result(value).map($name)
            }
        }
    )+};
}

row_ids! {
    /// `channels.id`.
    ChannelId;
    /// `playouts.id`.
    PlayoutId;
    /// `schedules.id`.
    ScheduleId;
    /// `schedule_items.id`.
    ScheduleItemId;
    /// `media_items.id`.
    MediaId;
    /// `libraries.id`.
    LibraryId;
    /// `collections.id` (manual and smart).
    CollectionId;
    /// `multi_collections.id`.
    MultiCollectionId;
    /// `playlists.id`.
    PlaylistId;
    /// `filler_presets.id`.
    FillerPresetId;
    /// `ffmpeg_profiles.id`.
    ProfileId;
    /// `resolutions.id`.
    ResolutionId;
    /// `playlist_items.id` (one entry of a playlist).
    PlaylistItemId;
    /// `filler_items.id` (one source of a filler preset).
    FillerItemId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_bind_read_and_serialise_as_the_integer() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let back: ChannelId = conn
            .query_row("SELECT ?1 + 1", [ChannelId(41)], |r| r.get(0))
            .unwrap();
        assert_eq!(back, ChannelId(42));
        assert_eq!(serde_json::to_string(&PlayoutId(7)).unwrap(), "7");
        assert_eq!(MediaId(3).to_string(), "3");
    }
}
