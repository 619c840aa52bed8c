//! ErsatzTV's playlists (`Playlist`, `PlaylistItem`): each item a collection (by its name
//! here) or one file (by its path, matched to our scan); shows, seasons, smart and multi
//! collections inside a playlist have no counterpart read here and are reported.

use std::collections::HashMap;

use rusqlite::Connection;

use super::{ForeignCollection, ForeignEntry, ForeignPlaylist, ReadError, Tables};

/// Playlists by ErsatzTV id, their entries in ErsatzTV's order.
pub(super) fn playlists(
    conn: &Connection,
    t: &Tables,
    collections: &HashMap<i64, ForeignCollection>,
    paths: &HashMap<i64, String>,
    warnings: &mut Vec<String>,
) -> Result<HashMap<i64, ForeignPlaylist>, ReadError> {
    let mut out = HashMap::new();
    if !t.has("Playlist") {
        return Ok(out);
    }
    let rows = super::all(conn, "SELECT Id, Name FROM Playlist ORDER BY Id", |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    for (id, name) in rows {
        let playlist = ForeignPlaylist {
            name,
            entries: Vec::new(),
        };
        out.insert(id, playlist);
    }
    let p = "PlaylistItem";
    if !t.has(p) {
        return Ok(out);
    }
    let sql = format!(
        "SELECT PlaylistId, {}, {}, {} FROM {p} ORDER BY PlaylistId, {}, Id",
        t.or(p, "CollectionType", "0"),
        t.or(p, "CollectionId", "NULL"),
        t.or(p, "MediaItemId", "NULL"),
        t.or(p, "Index", "Id"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<i64>>(3)?,
        ))
    })?;
    for (playlist, kind, collection, media) in rows {
        let Some(list) = out.get_mut(&playlist) else {
            continue;
        };
        let entry = match (kind, collection, media) {
            (0, Some(c), _) => collections
                .get(&c)
                .map(|c| ForeignEntry::Collection(c.name.clone())),
            (10..=60, _, Some(m)) => paths.get(&m).map(|p| ForeignEntry::Url(p.clone())),
            _ => None,
        };
        match entry {
            Some(entry) => list.entries.push(entry),
            None => warnings.push(format!(
                "playlist \"{}\": an item of ErsatzTV collection type {kind} is not carried over",
                list.name
            )),
        }
    }
    Ok(out)
}
