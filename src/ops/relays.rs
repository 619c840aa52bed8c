//! Relayed channels: a channel whose programme is someone else's live stream (an M3U
//! entry), played through our engine unchanged. Each is one `live` media item (the stream's
//! URL, a programme of `RELAY_PROGRAMME_MS`), a schedule that floods that one item and a
//! playout, built in the caller's transaction, so the guide shows one long live programme
//! and the stream is one FFmpeg per channel whatever the viewers, under the tuner limit,
//! with the slate and the backoff when the source fails (`stream::channel`: a live input
//! is never seeked and never skipped for its slot).
//!
//! Numbering: the entry's own number when it is a valid channel number and free (neither
//! stored nor given earlier in this import), else the next free number from the start
//! upward. It knows no HTTP and no JSON (the metadata arrives as JSON text, stored as is).

use std::collections::HashSet;
use std::fmt;

use rusqlite::{params, OptionalExtension, Transaction};

use crate::changes::Changes;
use crate::db::DbError;
use crate::ops::ids::ChannelId;
use crate::scheduler::BuildClock;

/// One guide programme of a relayed channel: a day, so the guide reads "live" all day and
/// the FFmpeg is handed over (a reconnect, through the prestart) once a day at most.
pub const RELAY_PROGRAMME_MS: i64 = 24 * 3_600_000;
/// Numbers tried upward from the start before an import gives up (a lineup is thousands
/// of channels at most).
const MAX_NUMBER_TRIES: u64 = 100_000;

/// One relayed channel to create.
#[derive(Debug, Clone)]
pub struct NewRelay {
    pub name: String,
    pub group: Option<String>,
    /// An http(s) logo (`tvg-logo`), shown as the channel's `logo_url`.
    pub logo_url: Option<String>,
    /// The stream, already through `http::url_guard`.
    pub url: String,
    /// The number the source gives it (`tvg-chno`), if any.
    pub number: Option<String>,
    /// What the source says of it (tvg attributes), JSON text for `media_items.meta_data`.
    pub meta_json: String,
}

/// How an import numbers its channels.
#[derive(Debug, Clone, Copy)]
pub struct Numbering {
    pub start: u64,
    /// Ignore the sources' own numbers: every channel numbered from `start`.
    pub always_from_start: bool,
}

#[derive(Debug)]
pub enum RelayError {
    /// No free number within `MAX_NUMBER_TRIES` of the start.
    NoFreeNumber(u64),
    Db(DbError),
}

impl fmt::Display for RelayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RelayError::NoFreeNumber(start) => {
                write!(f, "no free channel number from {start} upward")
            }
            RelayError::Db(err) => write!(f, "{err}"),
        }
    }
}

super::db_error!(RelayError);

/// Creates every relay, each with its timeline; returns the new channels in order.
pub fn create_all(
    tx: &Transaction<'_>,
    relays: &[NewRelay],
    numbering: Numbering,
    clock: &BuildClock,
) -> Result<(Vec<ChannelId>, Changes), RelayError> {
    let mut given: HashSet<String> = HashSet::new();
    let mut next = numbering.start;
    let mut ids = Vec::with_capacity(relays.len());
    for relay in relays {
        let own = relay
            .number
            .as_deref()
            .filter(|_| !numbering.always_from_start)
            .filter(|n| crate::kinds::is_channel_number(n));
        let number = match own {
            Some(n) if !given.contains(n) && !number_taken(tx, n)? => n.to_string(),
            _ => next_free(tx, &mut next, &given, numbering.start)?,
        };
        given.insert(number.clone());
        ids.push(create(tx, relay, &number, clock)?);
    }
    Ok((ids, Changes::any("relayed channels imported")))
}

fn number_taken(tx: &Transaction<'_>, number: &str) -> Result<bool, DbError> {
    Ok(tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM channels WHERE number = ?1)",
        [number],
        |r| r.get(0),
    )?)
}

fn next_free(
    tx: &Transaction<'_>,
    next: &mut u64,
    given: &HashSet<String>,
    start: u64,
) -> Result<String, RelayError> {
    for _ in 0..MAX_NUMBER_TRIES {
        let candidate = next.to_string();
        *next += 1;
        if !given.contains(&candidate) && !number_taken(tx, &candidate)? {
            return Ok(candidate);
        }
    }
    Err(RelayError::NoFreeNumber(start))
}

/// The channel, its live item (one per URL: a second channel of the same stream shares
/// it), schedule, playout and first horizon.
fn create(
    tx: &Transaction<'_>,
    relay: &NewRelay,
    number: &str,
    clock: &BuildClock,
) -> Result<ChannelId, RelayError> {
    let now = clock.now_ms;
    let media_id = live_item(tx, relay, now)?;
    tx.execute(
        "INSERT INTO channels (number, name, \"group\", logo_url, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![
            number,
            relay.name,
            relay.group.as_deref().unwrap_or("M3U"),
            relay.logo_url,
            now
        ],
    )?;
    let channel_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO schedules (name, channel_id, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?3)",
        params![relay.name, channel_id, now],
    )?;
    let schedule_id = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO schedule_items (schedule_id, position, collection_type, media_item_id,
             playback_order, playout_mode, created_at_ms, updated_at_ms)
         VALUES (?1, 0, 'media_item', ?2, 'chronological', 'flood', ?3, ?3)",
        params![schedule_id, media_id, now],
    )?;
    tx.execute(
        "INSERT INTO playouts (channel_id, program_schedule_id, playout_type, seed, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, 'continuous', 1, ?3, ?3)",
        params![channel_id, schedule_id, now],
    )?;
    crate::scheduler::rebuild_in(tx, tx.last_insert_rowid(), clock)?;
    Ok(ChannelId(channel_id))
}

fn live_item(tx: &Transaction<'_>, relay: &NewRelay, now: i64) -> Result<i64, DbError> {
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM media_items WHERE url = ?1 AND source = 'live'",
            [&relay.url],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = existing {
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO media_items (source, url, title, duration_ms, thumbnail, media_type,
             meta_data, added_at_ms, created_at_ms, updated_at_ms)
         VALUES ('live', ?1, ?2, ?3, ?4, 'other', ?5, ?6, ?6, ?6)",
        params![
            relay.url,
            relay.name,
            RELAY_PROGRAMME_MS,
            relay.logo_url,
            relay.meta_json,
            now
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(name: &str, number: Option<&str>) -> NewRelay {
        NewRelay {
            name: name.into(),
            group: None,
            logo_url: None,
            url: format!("http://box/{name}.ts"),
            number: number.map(String::from),
            meta_json: "{}".into(),
        }
    }

    fn clock() -> BuildClock {
        BuildClock {
            now_ms: 1_767_225_600_000,
            horizon_ms: 2 * 86_400_000,
            tz: jiff::tz::TimeZone::UTC,
        }
    }

    #[test]
    fn own_numbers_when_free_else_from_the_start_and_a_day_long_live_programme() {
        let mut conn = super::super::test_db();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO channels (number, name, created_at_ms, updated_at_ms) VALUES ('7', 'Old', 1, 1)",
            [],
        )
        .unwrap();
        let relays = [
            relay("a", Some("7")),  // taken
            relay("b", Some("12")), // free
            relay("c", Some("12")), // given to b
            relay("d", Some("x")),  // not a number
            relay("e", None),
        ];
        let numbering = Numbering {
            start: 1000,
            always_from_start: false,
        };
        let (ids, _) = create_all(&tx, &relays, numbering, &clock()).unwrap();
        let numbers: Vec<String> = ids
            .iter()
            .map(|id| {
                tx.query_row("SELECT number FROM channels WHERE id = ?1", [id.0], |r| {
                    r.get(0)
                })
                .unwrap()
            })
            .collect();
        assert_eq!(numbers, ["1000", "12", "1001", "1002", "1003"]);
        let (n, duration, source): (i64, i64, String) = tx
            .query_row(
                "SELECT count(*), max(pi.finish_ms - pi.start_ms), mi.source FROM playout_items pi
                 JOIN playouts p ON p.id = pi.playout_id
                 JOIN media_items mi ON mi.id = pi.media_item_id
                 WHERE p.channel_id = ?1",
                [ids[0].0],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert!(n >= 2, "{n} programmes over the horizon");
        assert_eq!((duration, source.as_str()), (RELAY_PROGRAMME_MS, "live"));
    }

    #[test]
    fn a_stream_imported_twice_shares_its_item() {
        let mut conn = super::super::test_db();
        let tx = conn.transaction().unwrap();
        let numbering = Numbering {
            start: 1,
            always_from_start: true,
        };
        create_all(&tx, &[relay("a", Some("50"))], numbering, &clock()).unwrap();
        create_all(&tx, &[relay("a", None)], numbering, &clock()).unwrap();
        let (channels, items): (i64, i64) = tx
            .query_row(
                "SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM media_items)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((channels, items), (2, 1));
        let numbers: Vec<String> = tx
            .prepare("SELECT number FROM channels ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(numbers, ["1", "2"], "always from the start");
    }
}
