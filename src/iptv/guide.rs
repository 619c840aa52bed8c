//! The guide's timeline: the stored playout items of a channel (exactly what plays), read
//! page by page, turned into programmes with no holes and no overlaps. A gap becomes an
//! `Offline` programme; a `guide_mode=hide` item lengthens the programme before it.

use rusqlite::params;
use rusqlite::types::ValueRef;
use smol_str::SmolStr;

use crate::db::{Db, DbError};
pub use crate::kinds::GuideMode;
use crate::kinds::{MediaType, TextEnum};
use crate::time::UnixMs;

/// Items read per DB round trip. Bounds the guide's memory whatever the horizon (7 days of
/// 5-minute items is ~2000 per channel) while keeping round trips few.
pub const PAGE_ITEMS: usize = 256;

/// The title of a gap in the timeline.
pub const OFFLINE_TITLE: &str = "Offline";

/// What the library knows of the media an item plays.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaMeta {
    pub title: Option<SmolStr>,
    pub description: Option<String>,
    pub year: Option<i64>,
    /// Comma-separated, as stored.
    pub genres: Option<SmolStr>,
    pub thumbnail: Option<String>,
    pub show_title: Option<SmolStr>,
    pub season: Option<i64>,
    pub episode: Option<i64>,
    pub media_type: Option<MediaType>,
    pub content_rating: Option<SmolStr>,
}

/// One stored playout item with its media's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct GuideItem {
    pub id: i64,
    pub start_ms: UnixMs,
    pub finish_ms: UnixMs,
    pub title: SmolStr,
    pub episode_title: Option<SmolStr>,
    pub custom_title: Option<SmolStr>,
    pub guide_mode: GuideMode,
    pub media: MediaMeta,
}

impl GuideItem {
    /// The programme title: the custom title, else the show, else the item's title.
    pub fn display_title(&self) -> &str {
        if let Some(t) = self.custom_title.as_deref().filter(|t| !t.is_empty()) {
            return t;
        }
        if let Some(show) = self.media.show_title.as_deref().filter(|t| !t.is_empty()) {
            if self.is_episode() {
                return show;
            }
        }
        &self.title
    }

    /// The episode's own title, when the programme title is the show's.
    pub fn sub_title(&self) -> Option<&str> {
        if self.custom_title.as_deref().is_some_and(|t| !t.is_empty()) {
            return None;
        }
        let title = self.display_title();
        let candidate = self
            .episode_title
            .as_deref()
            .or(self.media.title.as_deref())
            .or(Some(self.title.as_str()))?;
        (!candidate.is_empty() && candidate != title).then_some(candidate)
    }

    pub fn is_episode(&self) -> bool {
        self.media.media_type == Some(MediaType::Episode)
            || (self.media.media_type.is_none() && self.media.season.is_some())
    }

    pub fn is_movie(&self) -> bool {
        self.media.media_type == Some(MediaType::Movie)
    }
}

/// One programme of the guide.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    pub start_ms: UnixMs,
    pub stop_ms: UnixMs,
    /// `None`: an Offline gap.
    pub item: Option<GuideItem>,
}

/// Turns items (in start order) into programmes, streaming: it holds one programme back to
/// know whether the next item extends it.
#[derive(Default)]
pub struct Assembler {
    pending: Option<Programme>,
    /// Where the last programme handed out stops: later items start no earlier.
    emitted_until: Option<UnixMs>,
    /// Where the guide starts, until the first item arrives: a later first item gets an
    /// Offline programme before it; an earlier one (playing now) keeps its real start.
    from_ms: Option<UnixMs>,
}

impl Assembler {
    /// `from_ms`: where the guide starts; a timeline that starts later gets an Offline
    /// programme first.
    pub fn starting_at(from_ms: UnixMs) -> Assembler {
        Assembler {
            pending: None,
            emitted_until: None,
            from_ms: Some(from_ms),
        }
    }

    pub fn push(&mut self, item: GuideItem, out: &mut impl FnMut(Programme)) {
        if let Some(from) = self.from_ms.take() {
            if item.start_ms > from {
                self.emitted_until = Some(from);
            }
        }
        let end = self
            .pending
            .as_ref()
            .map(|p| p.stop_ms)
            .or(self.emitted_until);
        let mut start = item.start_ms;
        if let Some(end) = end {
            if item.finish_ms <= end {
                return; // wholly overlapped: a rebuild left a duplicate
            }
            start = start.max(end);
        }
        if item.guide_mode == GuideMode::Hide {
            if let Some(pending) = self.pending.as_mut().filter(|p| p.stop_ms == start) {
                pending.stop_ms = item.finish_ms;
                return;
            }
        }
        if let Some(end) = end.filter(|end| start > *end) {
            self.flush(out);
            out(Programme {
                start_ms: end,
                stop_ms: start,
                item: None,
            });
            self.emitted_until = Some(start);
        }
        self.flush(out);
        self.pending = Some(Programme {
            start_ms: start,
            stop_ms: item.finish_ms,
            item: Some(item),
        });
    }

    pub fn finish(mut self, out: &mut impl FnMut(Programme)) {
        self.flush(out);
    }

    fn flush(&mut self, out: &mut impl FnMut(Programme)) {
        if let Some(p) = self.pending.take() {
            self.emitted_until = Some(p.stop_ms);
            out(p);
        }
    }
}

/// Where a page read stops; the next page starts after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageCursor {
    start_ms: UnixMs,
    id: i64,
}

impl PageCursor {
    pub const FIRST: PageCursor = PageCursor {
        start_ms: i64::MIN,
        id: i64::MIN,
    };

    pub fn after(item: &GuideItem) -> PageCursor {
        PageCursor {
            start_ms: item.start_ms,
            id: item.id,
        }
    }
}

const ITEM_COLUMNS: &str =
    "pi.id, pi.start_ms, pi.finish_ms, pi.title, pi.episode_title, pi.custom_title,
    pi.guide_mode, mi.title, mi.description, mi.year, mi.genres, mi.thumbnail,
    mi.show_title, mi.season_number, mi.episode_number, mi.media_type, mi.content_rating";

/// Up to `PAGE_ITEMS` items of the channel's active playouts that end after `now_ms`, in
/// start order, after `cursor`. With one active playout (the usual case) the index walks the
/// items in order; several are merged by a sort.
pub async fn page(
    db: &Db,
    channel_id: crate::ops::ids::ChannelId,
    now_ms: UnixMs,
    cursor: PageCursor,
) -> Result<Vec<GuideItem>, DbError> {
    db.read(move |conn| {
        let mut playouts = conn.prepare_cached(
            "SELECT id FROM playouts WHERE channel_id = ?1 AND is_active = 1 LIMIT 2",
        )?;
        let ids = playouts
            .query_map([channel_id], |row| row.get::<_, i64>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = match ids.as_slice() {
            [] => return Ok(Vec::new()),
            [_] => conn.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS}
                 FROM playout_items pi
                 LEFT JOIN media_items mi ON mi.id = pi.media_item_id
                 WHERE pi.playout_id = ?1 AND pi.finish_ms > ?2 AND (pi.start_ms, pi.id) > (?3, ?4)
                 ORDER BY pi.start_ms, pi.id
                 LIMIT ?5"
            ))?,
            _ => conn.prepare_cached(&format!(
                "SELECT {ITEM_COLUMNS}
                 FROM playout_items pi
                 JOIN playouts p ON p.id = pi.playout_id
                 LEFT JOIN media_items mi ON mi.id = pi.media_item_id
                 WHERE p.channel_id = ?1 AND p.is_active = 1 AND pi.finish_ms > ?2
                   AND (pi.start_ms, pi.id) > (?3, ?4)
                 ORDER BY pi.start_ms, pi.id
                 LIMIT ?5"
            ))?,
        };
        let key = if ids.len() == 1 { ids[0] } else { channel_id.0 };
        let rows = stmt.query_map(
            params![key, now_ms, cursor.start_ms, cursor.id, PAGE_ITEMS as i64],
            item_from_row,
        )?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    })
    .await
}

fn item_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<GuideItem> {
    // Short texts (titles, types, ratings) stay inline in a SmolStr: no allocation.
    let small = |i: usize| -> rusqlite::Result<Option<SmolStr>> {
        Ok(match row.get_ref(i)? {
            ValueRef::Text(t) => Some(match std::str::from_utf8(t) {
                Ok(text) => SmolStr::new(text),
                Err(_) => SmolStr::from(String::from_utf8_lossy(t)),
            }),
            _ => None,
        })
    };
    let id: i64 = row.get(0)?;
    // Written only from parsed values (builder, mirror, a validated import): a bad one was
    // put there by hand. The item still plays, so it stays a programme of its own (the
    // truthful guide) and the log names the row to fix.
    let mode = parsed::<GuideMode>(row, 6, id, "guide_mode")?.unwrap_or(GuideMode::Normal);
    Ok(GuideItem {
        id,
        start_ms: row.get(1)?,
        finish_ms: row.get(2)?,
        title: small(3)?.unwrap_or_default(),
        episode_title: small(4)?,
        custom_title: small(5)?,
        guide_mode: mode,
        media: MediaMeta {
            title: small(7)?,
            description: row.get(8)?,
            year: row.get(9)?,
            genres: small(10)?,
            thumbnail: row.get(11)?,
            show_title: small(12)?,
            season: row.get(13)?,
            episode: row.get(14)?,
            media_type: parsed::<MediaType>(row, 15, id, "media_type")?,
            content_rating: small(16)?,
        },
    })
}

/// Column `i` parsed as `T`; `None` when NULL or unreadable, the latter with a warning
/// naming the playout item and the column (no allocation unless it fails).
fn parsed<T: TextEnum>(
    row: &rusqlite::Row<'_>,
    i: usize,
    item_id: i64,
    column: &'static str,
) -> rusqlite::Result<Option<T>> {
    let ValueRef::Text(bytes) = row.get_ref(i)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(bytes);
    match text.parse::<T>() {
        Ok(value) => Ok(Some(value)),
        Err(err) => {
            tracing::warn!(playout_item = item_id, column, %err, "guide: unreadable stored value");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, start: i64, finish: i64, mode: GuideMode) -> GuideItem {
        GuideItem {
            id,
            start_ms: start,
            finish_ms: finish,
            title: format!("t{id}").into(),
            episode_title: None,
            custom_title: None,
            guide_mode: mode,
            media: MediaMeta::default(),
        }
    }

    fn assemble(from: i64, items: Vec<GuideItem>) -> Vec<(i64, i64, String)> {
        let mut out = Vec::new();
        let mut a = Assembler::starting_at(from);
        let mut push = |p: Programme| {
            let title = p
                .item
                .map(|i| i.title.to_string())
                .unwrap_or_else(|| OFFLINE_TITLE.to_string());
            out.push((p.start_ms, p.stop_ms, title));
        };
        for i in items {
            a.push(i, &mut push);
        }
        a.finish(&mut push);
        out
    }

    #[test]
    fn gaps_hides_and_overlaps() {
        use GuideMode::*;
        let got = assemble(
            0,
            vec![
                item(1, 0, 10, Normal),
                item(2, 10, 15, Hide),
                item(3, 20, 30, Normal),
                item(4, 25, 28, Normal), // inside 3: dropped
                item(5, 28, 40, Custom), // overlaps 3: clipped to 30
                item(6, 40, 50, Hide),
            ],
        );
        let want: Vec<(i64, i64, String)> = vec![
            (0, 15, "t1".into()),
            (15, 20, "Offline".into()),
            (20, 30, "t3".into()),
            (30, 50, "t5".into()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn offline_until_the_first_item_and_leading_hidden_items_show() {
        let got = assemble(5, vec![item(1, 10, 20, GuideMode::Hide)]);
        assert_eq!(
            got,
            vec![(5, 10, "Offline".into()), (10, 20, "t1".to_string())]
        );
        // An item already playing at `from` starts where it started.
        let got = assemble(5, vec![item(1, 0, 20, GuideMode::Normal)]);
        assert_eq!(got, vec![(0, 20, "t1".to_string())]);
    }

    #[test]
    fn titles() {
        let mut ep = item(1, 0, 1, GuideMode::Normal);
        ep.title = "Pilot".into();
        ep.media.show_title = Some("Show".into());
        ep.media.media_type = Some(MediaType::Episode);
        ep.media.title = Some("Pilot".into());
        assert_eq!(
            (ep.display_title(), ep.sub_title()),
            ("Show", Some("Pilot"))
        );
        ep.custom_title = Some("Marathon".into());
        assert_eq!((ep.display_title(), ep.sub_title()), ("Marathon", None));
        let movie = item(2, 0, 1, GuideMode::Normal);
        assert_eq!((movie.display_title(), movie.sub_title()), ("t2", None));
    }
}
