//! The M3U sources' own guides (`#EXTM3U url-tvg="…"`): fetched over http (as the
//! playlist: `http::url_guard`, no TLS client, a size cap, `http::client`'s timeouts),
//! parsed with quick-xml keeping only the programmes of the channels we relay from that
//! source (matched by `tvg-id` to `<channel id>`), and held in memory, never on disk.
//! `xmltv` writes them under our channel ids in place of the relay's day-long programme.
//! A guide is fetched on import, on the source's refresh, and hourly (`run`).
//! It knows no routes; `ops::m3u_sources` holds what is stored.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::app::App;
use crate::db::DbError;
use crate::http::client::{self, ClientError};
use crate::http::url_guard;
use crate::ops::ids::ChannelId;
use crate::ops::m3u_sources;
use crate::time::UnixMs;

/// A provider's XMLTV for a few hundred channels and a week is a few MiB; 32 MiB bounds it.
pub const MAX_GUIDE_BYTES: usize = 32 << 20;
/// Programmes kept per channel: a week of 5-minute slots is ~2000.
pub const MAX_PROGRAMMES: usize = 2000;
/// Text kept per field, in bytes: guide titles and descriptions are far shorter.
const MAX_TEXT_CHARS: usize = 2000;
/// How often every guide is fetched again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(3600);
/// Programmes that ended longer ago than this are dropped at parse time.
const KEEP_PAST_MS: i64 = 6 * 3_600_000;

/// One programme of a source's guide.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceProgramme {
    pub start_ms: UnixMs,
    pub stop_ms: UnixMs,
    pub title: String,
    pub sub_title: Option<String>,
    pub desc: Option<String>,
}

/// The guides by source id: each tvg-id's programmes, sorted by start.
#[derive(Default)]
pub struct SourceGuides {
    map: Mutex<HashMap<i64, Arc<Guide>>>,
}

impl SourceGuides {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Guide>>> {
        // Each entry is replaced whole: a poisoned map is still consistent.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The programmes of each relayed channel whose source guide lists it.
    pub fn for_channels(
        &self,
        relayed: &[(i64, i64, String)],
    ) -> HashMap<ChannelId, Arc<[SourceProgramme]>> {
        let map = self.lock();
        relayed
            .iter()
            .filter_map(|(channel, source, tvg_id)| {
                let programmes = map.get(source)?.get(tvg_id)?;
                (!programmes.is_empty()).then(|| (ChannelId(*channel), programmes.clone()))
            })
            .collect()
    }

    fn put(&self, source_id: i64, guide: Guide) {
        self.lock().insert(source_id, Arc::new(guide));
    }

    pub fn forget(&self, source_id: i64) {
        self.lock().remove(&source_id);
    }
}

type Guide = HashMap<String, Arc<[SourceProgramme]>>;

/// Why a source's guide could not be read.
#[derive(Debug)]
pub enum GuideError {
    Refused(url_guard::UrlError),
    Fetch(ClientError),
    Status(u16),
    /// The parse task panicked.
    Parse,
    Db(DbError),
}

impl std::fmt::Display for GuideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GuideError::Refused(err) => write!(f, "url-tvg: {err}"),
            GuideError::Fetch(err) => write!(f, "url-tvg: cannot fetch it: {err}"),
            GuideError::Status(code) => write!(f, "url-tvg: the server answered {code}"),
            GuideError::Parse => f.write_str("url-tvg: the guide could not be parsed"),
            GuideError::Db(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for GuideError {}

/// Fetches source `source_id`'s guide at `url` and keeps the programmes of the channels we
/// relay from it; the number of those channels it lists. The guide's change is applied
/// (the XMLTV's version moves).
pub async fn refresh(app: &App, source_id: i64, url: &str) -> Result<usize, GuideError> {
    let allow_loopback = app.settings().sources.allow_loopback;
    url_guard::check(url, allow_loopback)
        .await
        .map_err(GuideError::Refused)?;
    let answer = client::get(url, &[], MAX_GUIDE_BYTES)
        .await
        .map_err(GuideError::Fetch)?;
    if !answer.status.is_success() {
        return Err(GuideError::Status(answer.status.as_u16()));
    }
    let relayed = app
        .db
        .read(m3u_sources::relayed_tvg_ids)
        .await
        .map_err(GuideError::Db)?;
    let wanted: HashSet<String> = relayed
        .into_iter()
        .filter(|(_, source, _)| *source == source_id)
        .map(|(_, _, tvg_id)| tvg_id)
        .collect();
    let from_ms = crate::time::now_ms() - KEEP_PAST_MS;
    // Megabytes of XML: off the tokio workers.
    let guide = tokio::task::spawn_blocking(move || parse(&answer.body, &wanted, from_ms))
        .await
        .map_err(|_| GuideError::Parse)?;
    let n_channels = guide.len();
    app.source_guides.put(source_id, guide);
    app.content_changed();
    Ok(n_channels)
}

/// Fetches every source's guide now and then every `REFRESH_EVERY`, until shutdown.
pub async fn run(app: Arc<App>) {
    let mut shutdown = app.shutdown.clone();
    let mut ticker = tokio::time::interval(REFRESH_EVERY);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        let sources = match app.db.read(m3u_sources::with_guides).await {
            Ok(s) => s,
            Err(err) => {
                tracing::warn!(%err, "source guides: cannot list the M3U sources");
                continue;
            }
        };
        for (id, url) in sources {
            let refreshed = tokio::select! {
                r = refresh(&app, id, &url) => r,
                _ = shutdown.changed() => return,
            };
            match refreshed {
                Ok(n) => tracing::info!(source = id, n_channels = n, "source guide fetched"),
                Err(err) => tracing::warn!(source = id, %err, "source guide not fetched"),
            }
        }
    }
}

/// The programmes of the `wanted` channels in `xml` that end after `from_ms`, each
/// channel's sorted by start and capped at `MAX_PROGRAMMES`. A programme without a valid
/// start, stop or title is skipped; a document that stops parsing keeps what came before.
pub fn parse(xml: &[u8], wanted: &HashSet<String>, from_ms: UnixMs) -> Guide {
    let mut out: HashMap<String, Vec<SourceProgramme>> = HashMap::new();
    if wanted.is_empty() {
        return HashMap::new();
    }
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    // The programme being read, the child whose text is being gathered, and that text
    // (quick-xml hands text and entity references as separate events).
    let mut current: Option<(String, SourceProgramme)> = None;
    let mut field: Option<Field> = None;
    let mut text = String::new();
    loop {
        let event = match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(e) => e,
            Err(err) => {
                tracing::warn!(%err, "source guide: XML error; keeping what was read");
                break;
            }
        };
        match event {
            Event::Start(e) if e.name().as_ref() == "programme" => {
                current = programme_start(&e, wanted, &out);
            }
            Event::Start(e) if current.is_some() => {
                text.clear();
                field = match e.name().as_ref() {
                    "title" => Some(Field::Title),
                    "sub-title" => Some(Field::SubTitle),
                    "desc" => Some(Field::Desc),
                    _ => None,
                };
            }
            Event::Text(t) if field.is_some() => push_text(&mut text, &t.xml10_content()),
            Event::CData(t) if field.is_some() => push_text(&mut text, &t.xml10_content()),
            Event::GeneralRef(r) if field.is_some() => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c.to_string()),
                    _ => quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                        .map(str::to_string),
                };
                if let Some(s) = resolved {
                    push_text(&mut text, &s);
                }
            }
            Event::End(e) if e.name().as_ref() == "programme" => {
                if let Some((channel, p)) = current.take() {
                    if !p.title.is_empty() && p.stop_ms > from_ms {
                        out.entry(channel).or_default().push(p);
                    }
                }
                field = None;
            }
            Event::End(_) => {
                if let (Some(f), Some((_, p))) = (field.take(), current.as_mut()) {
                    set_field(p, f, text.trim());
                }
            }
            _ => {}
        }
        buf.clear();
    }
    out.into_iter()
        .map(|(channel, programmes)| (channel, without_overlaps(programmes).into()))
        .collect()
}

/// The first of a programme's title, sub-title and description is kept.
fn set_field(p: &mut SourceProgramme, f: Field, value: &str) {
    match f {
        Field::Title if p.title.is_empty() => p.title = value.to_string(),
        Field::Title => {}
        Field::SubTitle => {
            p.sub_title.get_or_insert_with(|| value.to_string());
        }
        Field::Desc => {
            p.desc.get_or_insert_with(|| value.to_string());
        }
    }
}

/// Sorted by start; an overlap (a provider's duplicate) would make our guide invalid, so
/// the first is kept.
fn without_overlaps(mut programmes: Vec<SourceProgramme>) -> Vec<SourceProgramme> {
    programmes.sort_by_key(|p| p.start_ms);
    let mut kept: Vec<SourceProgramme> = Vec::with_capacity(programmes.len());
    for p in programmes {
        if kept.last().is_none_or(|last| p.start_ms >= last.stop_ms) {
            kept.push(p);
        }
    }
    kept
}

#[derive(Clone, Copy)]
enum Field {
    Title,
    SubTitle,
    Desc,
}

/// Appends to a field's text, up to `MAX_TEXT_CHARS` (bytes, to a char boundary).
fn push_text(text: &mut String, more: &str) {
    let room = MAX_TEXT_CHARS.saturating_sub(text.len());
    let mut end = more.len().min(room);
    while !more.is_char_boundary(end) {
        end -= 1;
    }
    text.push_str(&more[..end]);
}

/// A `<programme>` of a wanted channel with valid times (and room left), as an empty
/// programme to fill; `None` otherwise.
fn programme_start(
    e: &quick_xml::events::BytesStart<'_>,
    wanted: &HashSet<String>,
    out: &HashMap<String, Vec<SourceProgramme>>,
) -> Option<(String, SourceProgramme)> {
    let (mut channel, mut start, mut stop) = (None, None, None);
    for attr in e.attributes().flatten() {
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .ok()?;
        match attr.key.as_ref() {
            "channel" => channel = Some(value.into_owned()),
            "start" => start = parse_time(&value),
            "stop" => stop = parse_time(&value),
            _ => {}
        }
    }
    let channel = channel.filter(|c| wanted.contains(c))?;
    let (start_ms, stop_ms) = (start?, stop?);
    if stop_ms <= start_ms || out.get(&channel).is_some_and(|v| v.len() >= MAX_PROGRAMMES) {
        return None;
    }
    Some((
        channel,
        SourceProgramme {
            start_ms,
            stop_ms,
            title: String::new(),
            sub_title: None,
            desc: None,
        },
    ))
}

/// An XMLTV time: `YYYYMMDDhhmm[ss]`, optionally followed by ` ±hhmm` (UTC without it).
pub fn parse_time(text: &str) -> Option<UnixMs> {
    let text = text.trim();
    let (digits, zone) = match text.split_once(' ') {
        Some((d, z)) => (d, Some(z.trim())),
        None => (text, None),
    };
    if !(digits.len() == 12 || digits.len() == 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num =
        |from: usize, len: usize| -> Option<i64> { digits.get(from..from + len)?.parse().ok() };
    let (year, month, day) = (num(0, 4)?, num(4, 2)?, num(6, 2)?);
    let (hour, minute) = (num(8, 2)?, num(10, 2)?);
    let second = if digits.len() == 14 { num(12, 2)? } else { 0 };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let offset_s = match zone {
        None => 0,
        Some(z) => {
            let (sign, hhmm) = match z.as_bytes().first()? {
                b'+' => (1, &z[1..]),
                b'-' => (-1, &z[1..]),
                _ => return None,
            };
            if hhmm.len() != 4 || !hhmm.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (hhmm[..2].parse().ok()?, hhmm[2..].parse().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from civil (Howard Hinnant's algorithm), proleptic Gregorian.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    Some(secs * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_zones() {
        assert_eq!(parse_time("20260105200000 +0000"), Some(1_767_643_200_000));
        assert_eq!(parse_time("20260105210000 +0100"), Some(1_767_643_200_000));
        assert_eq!(parse_time("202601051500 -0500"), Some(1_767_643_200_000));
        assert_eq!(parse_time("20260105200000"), Some(1_767_643_200_000));
        assert_eq!(parse_time("2026010520"), None);
        assert_eq!(parse_time("20261305200000 +0000"), None);
        assert_eq!(parse_time("20260105200000 CET"), None);
    }

    #[test]
    fn only_wanted_channels_valid_programmes_no_overlaps() {
        let xml = br#"<?xml version="1.0"?><tv>
          <channel id="a"><display-name>A</display-name></channel>
          <programme start="20260105200000 +0000" stop="20260105210000 +0000" channel="a"><title lang="en">News &amp; more</title><desc>Today</desc></programme>
          <programme start="20260105190000 +0000" stop="20260105200000 +0000" channel="a"><title>Earlier</title></programme>
          <programme start="20260105203000 +0000" stop="20260105204000 +0000" channel="a"><title>Overlap</title></programme>
          <programme start="20260105210000 +0000" stop="20260105200000 +0000" channel="a"><title>Backwards</title></programme>
          <programme start="20260105210000 +0000" stop="20260105220000 +0000" channel="a"><desc>No title</desc></programme>
          <programme start="20260105200000 +0000" stop="20260105210000 +0000" channel="b"><title>Other</title></programme>
        </tv>"#;
        let wanted: HashSet<String> = ["a".to_string()].into();
        let guide = parse(xml, &wanted, 0);
        assert_eq!(guide.len(), 1);
        let titles: Vec<&str> = guide["a"].iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["Earlier", "News & more"]);
        assert_eq!(guide["a"][1].desc.as_deref(), Some("Today"));
        // Ended before `from_ms`: dropped.
        assert!(parse(xml, &wanted, 1_767_643_200_001 + 3_600_000).is_empty());
    }

    #[test]
    fn random_bytes_never_panic() {
        let wanted: HashSet<String> = ["a".to_string()].into();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..200 {
            let mut bytes = b"<tv><programme start=\"20260105200000\" stop=\"20260105210000\" channel=\"a\"><title>".to_vec();
            for _ in 0..(round * 7 % 300) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(seed as u8);
            }
            let _ = parse(&bytes, &wanted, 0);
        }
    }
}
