//! Our short clips as a plan's breaks and filler: a collection, or else a folder, named
//! for what it holds (bumpers, promos, commercials, station ids, idents, filler) whose
//! items are under five minutes. They become the channel's deco group, a break after
//! each programme, and its dead-air filler. The names decide, not the durations alone: a
//! library of short episodes is not a library of bumpers. A library with none says so in
//! the plan's warnings. It knows no HTTP and writes nothing.

use rusqlite::{params, Connection};

use super::plan::{Collection, Deco, Plan};
use crate::db::DbError;
use crate::kinds::{BreakMode, DecoType};

/// Clips in one plan's deco group at most: enough variety for a channel's breaks, few
/// enough that execute writes a handful of rows.
pub const MAX_CLIPS: usize = 50;
/// A clip is shorter than this; longer is a programme.
pub const MAX_CLIP_MS: i64 = 5 * 60_000;
/// Candidate rows read when looking for a clip folder: bounds the scan of a big library.
const MAX_CANDIDATES: i64 = 2_000;

/// The warning of a library without clips: the plan is ready all the same.
pub const NO_CLIPS: &str = "no short clips in the library (a collection or folder named \
     bumpers, promos, commercials, station ids or filler, items under 5 minutes): no breaks \
     or filler";

/// The words that name clips, each with the deco type it gives (a plural `s` is allowed).
const NAMES: &[(&[&str], DecoType)] = &[
    (&["bumper"], DecoType::Bumper),
    (&["promo"], DecoType::Promo),
    (&["commercial"], DecoType::Commercial),
    (&["advert"], DecoType::Commercial),
    (&["station", "id"], DecoType::StationId),
    (&["ident"], DecoType::StationId),
    (&["filler"], DecoType::Bumper),
];

/// The deco type a name (a collection's, a folder's) says it holds.
pub fn kind_of(name: &str) -> Option<DecoType> {
    let lower = name.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let is = |word: &str, name: &str| word == name || word.strip_suffix('s') == Some(name);
    NAMES.iter().find_map(|(phrase, kind)| {
        words
            .windows(phrase.len())
            .any(|w| w.iter().zip(phrase.iter()).all(|(a, b)| is(a, b)))
            .then_some(*kind)
    })
}

/// Where the clips are.
struct Found {
    kind: DecoType,
    /// `folder "…"` or `collection "…"`.
    source: String,
    /// The filler collection: an existing one (its id and name), or a smart query over
    /// the folder.
    existing: Option<(i64, String)>,
    query: Option<String>,
    ids: Vec<i64>,
}

/// Sets the plan's deco and filler from our clips, or warns that there are none.
pub fn fill(conn: &Connection, plan: &mut Plan) -> Result<(), DbError> {
    let found = match in_collections(conn)? {
        Some(found) => Some(found),
        None => in_folders(conn)?,
    };
    let Some(found) = found else {
        plan.warnings.push(NO_CLIPS.into());
        return Ok(());
    };
    let name = format!("{}: breaks", plan.channel.name);
    let (existing_id, filler_name) = match found.existing {
        Some((id, existing)) => (Some(id), existing),
        None => (None, name.clone()),
    };
    // Neither (a folder whose path a query cannot hold): breaks only.
    if existing_id.is_some() || found.query.is_some() {
        plan.filler.collection = Some(Collection {
            name: filler_name,
            query: found.query,
            existing_id,
            items: 0,
            hours: 0.0,
        });
    }
    plan.deco = Some(Deco {
        group: name,
        breaks: BreakMode::BetweenProgrammes,
        deco_type: found.kind,
        source: found.source,
        media_item_ids: found.ids,
    });
    plan.modules
        .extend(["deco".to_string(), "filler".to_string()]);
    Ok(())
}

const SHORT: &str = "m.duration_ms BETWEEN 1 AND ?1 AND m.is_missing = 0 AND m.probe_error IS NULL";

/// The first collection (by id) named for clips that holds short items.
fn in_collections(conn: &Connection) -> Result<Option<Found>, DbError> {
    let named: Vec<(i64, String)> = conn
        .prepare("SELECT id, name FROM collections ORDER BY id")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<(i64, String)>, _>>()?
        .into_iter()
        .filter(|(_, name)| kind_of(name).is_some())
        .collect();
    let sql = format!(
        "SELECT m.id FROM collection_items ci JOIN media_items m ON m.id = ci.media_item_id
         WHERE ci.collection_id = ?2 AND {SHORT} ORDER BY ci.id LIMIT ?3"
    );
    let mut stmt = conn.prepare(&sql)?;
    for (id, name) in named {
        let ids: Vec<i64> = stmt
            .query_map(params![MAX_CLIP_MS, id, MAX_CLIPS as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        if let (false, Some(kind)) = (ids.is_empty(), kind_of(&name)) {
            return Ok(Some(Found {
                kind,
                source: format!("collection {name:?}"),
                existing: Some((id, name)),
                query: None,
                ids,
            }));
        }
    }
    Ok(None)
}

/// The first folder (by path) named for clips that holds short items.
fn in_folders(conn: &Connection) -> Result<Option<Found>, DbError> {
    let sql = format!(
        "SELECT m.id, m.url FROM media_items m WHERE {SHORT}
           AND (instr(lower(m.url), 'bumper') OR instr(lower(m.url), 'promo')
             OR instr(lower(m.url), 'commercial') OR instr(lower(m.url), 'advert')
             OR instr(lower(m.url), 'station') OR instr(lower(m.url), 'ident')
             OR instr(lower(m.url), 'filler'))
         ORDER BY m.url, m.id LIMIT ?2"
    );
    let rows: Vec<(i64, String)> = conn
        .prepare(&sql)?
        .query_map(params![MAX_CLIP_MS, MAX_CANDIDATES], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut found: Option<(String, DecoType)> = None;
    let mut ids = Vec::new();
    for (id, url) in rows {
        if let Some((folder, _)) = &found {
            if url.starts_with(folder.as_str()) && ids.len() < MAX_CLIPS {
                ids.push(id);
            }
            continue;
        }
        if let Some(hit) = clip_folder(&url) {
            found = Some(hit);
            ids.push(id);
        }
    }
    Ok(found.map(|(folder, kind)| {
        let folder = folder.trim_end_matches('/').to_string();
        Found {
            kind,
            // A quote would end the query's value early: such a folder gives breaks only.
            query: (!folder.contains('"')).then(|| format!("folder:\"{folder}\"")),
            source: format!("folder {folder:?}"),
            existing: None,
            ids,
        }
    }))
}

/// The folder of `url` (with its trailing `/`) that is named for clips, if any: the
/// deepest such folder above the file.
fn clip_folder(url: &str) -> Option<(String, DecoType)> {
    let (dirs, _file) = url.rsplit_once('/')?;
    let mut best = None;
    let mut end = 0;
    for segment in dirs.split('/') {
        end += segment.len() + 1;
        if let Some(kind) = kind_of(segment) {
            best = Some((url[..end].to_string(), kind));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_a_clip_is() {
        assert_eq!(kind_of("Bumpers"), Some(DecoType::Bumper));
        assert_eq!(kind_of("90s Commercials"), Some(DecoType::Commercial));
        assert_eq!(kind_of("station_ids"), Some(DecoType::StationId));
        assert_eq!(kind_of("Station IDs"), Some(DecoType::StationId));
        assert_eq!(kind_of("Identity Crisis"), None);
        assert_eq!(kind_of("Comedy"), None);
        assert_eq!(
            clip_folder("/media/tv/bumpers/a.mp4"),
            Some(("/media/tv/bumpers/".into(), DecoType::Bumper))
        );
        assert_eq!(clip_folder("/media/bumpers.mp4"), None);
        assert_eq!(
            clip_folder("/media/promos/x/a.mp4").map(|f| f.1),
            Some(DecoType::Promo)
        );
    }
}
