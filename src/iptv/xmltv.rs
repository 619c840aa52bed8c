//! `/iptv/xmltv.xml`: the guide as XMLTV, written with quick-xml straight into the response
//! body. Channels first (from the lineup), then each channel's programmes, read from the
//! stored timeline a page at a time, so memory stays flat however many channels and days
//! the guide spans. Children follow the DTD order; times are `YYYYMMDDhhmmss +0000`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::guide::{self, Assembler, GuideItem, PageCursor, Programme, OFFLINE_TITLE};
use super::lineup::{is_http_url, LineupChannel};
use super::source_guide::SourceProgramme;
use crate::db::{Db, DbError};
use crate::ops::ids::ChannelId;
use crate::time::UnixMs;

/// A body frame is handed to hyper once this much XML is buffered: large enough that the
/// per-frame overhead vanishes, small enough to stay in cache and keep memory flat.
pub const CHUNK_BYTES: usize = 32 * 1024;

const GENERATOR: &str = "exstreamtv";

/// Writes XMLTV into an in-memory buffer that the caller drains in chunks.
pub struct XmltvWriter {
    writer: Writer<Vec<u8>>,
    /// Reused for start tags, times and numbers, so a programme costs no allocation for them.
    scratch: String,
    /// Prefixed to server-relative artwork paths (`/static/artwork/...`): XMLTV icons must be
    /// absolute URLs.
    origin: String,
}

impl Default for XmltvWriter {
    fn default() -> Self {
        XmltvWriter {
            writer: Writer::new(Vec::with_capacity(CHUNK_BYTES + 4096)),
            scratch: String::with_capacity(32),
            origin: String::new(),
        }
    }
}

type XmlResult = std::io::Result<()>;

impl XmltvWriter {
    /// The XML declaration, the DOCTYPE and `<tv>`; an empty lineup is a complete `<tv/>`.
    pub fn start(&mut self, empty: bool) -> XmlResult {
        let w = &mut self.writer;
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.get_mut()
            .extend_from_slice(b"\n<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n");
        let tv = BytesStart::new("tv").with_attributes([("generator-info-name", GENERATOR)]);
        if empty {
            w.write_event(Event::Empty(tv))?;
            w.get_mut().push(b'\n');
        } else {
            w.write_event(Event::Start(tv))?;
        }
        Ok(())
    }

    pub fn end(&mut self) -> XmlResult {
        self.writer.get_mut().push(b'\n');
        self.writer.write_event(Event::End(BytesEnd::new("tv")))?;
        self.writer.get_mut().push(b'\n');
        Ok(())
    }

    /// `<channel id="exstream.N">` with the number, then the name, then the logo.
    pub fn channel(&mut self, ch: &LineupChannel, origin: &str) -> XmlResult {
        let w = &mut self.writer;
        w.get_mut().extend_from_slice(b"\n  ");
        let id = ch.xmltv_id();
        w.write_event(Event::Start(
            BytesStart::new("channel").with_attributes([("id", id.as_str())]),
        ))?;
        text_element(w, "display-name", "display-name", &ch.number)?;
        text_element(w, "display-name", "display-name", &ch.name)?;
        if let Some(logo) = ch.logo(origin) {
            w.write_event(Event::Empty(
                BytesStart::new("icon").with_attributes([("src", clean(&logo).as_ref())]),
            ))?;
        }
        w.write_event(Event::End(BytesEnd::new("channel")))?;
        Ok(())
    }

    /// One `<programme>`; children in DTD order: title, sub-title, desc, date, category*,
    /// icon, episode-num*, rating. Start tags are static text or built in a reused buffer,
    /// so a programme allocates only when a text needs escaping.
    pub fn programme(&mut self, channel_id: &str, p: &Programme) -> XmlResult {
        self.programme_element(
            channel_id,
            p.start_ms,
            p.stop_ms,
            |w, tag, origin| match &p.item {
                None => text_element(w, TITLE_EN, "title", OFFLINE_TITLE),
                Some(item) => programme_children(w, tag, origin, item),
            },
        )
    }

    /// One programme of a source's own guide (`source_guide`): title, sub-title, desc.
    pub fn source_programme(&mut self, channel_id: &str, p: &SourceProgramme) -> XmlResult {
        self.programme_element(channel_id, p.start_ms, p.stop_ms, |w, _, _| {
            text_element(w, TITLE_EN, "title", &p.title)?;
            if let Some(sub) = p.sub_title.as_deref().filter(|t| !t.is_empty()) {
                text_element(w, "sub-title lang=\"en\"", "sub-title", sub)?;
            }
            if let Some(desc) = p.desc.as_deref().filter(|t| !t.is_empty()) {
                text_element(w, "desc lang=\"en\"", "desc", desc)?;
            }
            Ok(())
        })
    }

    /// `<programme start stop channel>` (its start tag built in the reused buffer), what
    /// `children` writes (given the writer, the buffer and the origin), `</programme>`.
    fn programme_element(
        &mut self,
        channel_id: &str,
        start_ms: UnixMs,
        stop_ms: UnixMs,
        children: impl FnOnce(&mut Writer<Vec<u8>>, &mut String, &str) -> XmlResult,
    ) -> XmlResult {
        let mut tag = std::mem::take(&mut self.scratch);
        tag.clear();
        tag.push_str("programme start=\"");
        push_xmltv_time(start_ms, &mut tag);
        tag.push_str("\" stop=\"");
        push_xmltv_time(stop_ms, &mut tag);
        tag.push_str("\" channel=\"");
        // Our own ids (`exstream.<int>`): nothing to escape.
        tag.push_str(channel_id);
        tag.push('"');
        let w = &mut self.writer;
        w.get_mut().extend_from_slice(b"\n  ");
        let result = w
            .write_event(Event::Start(BytesStart::from_content(tag.as_str(), 9)))
            .and_then(|()| children(w, &mut tag, &self.origin))
            .and_then(|()| w.write_event(Event::End(BytesEnd::new("programme"))));
        self.scratch = tag;
        result
    }

    pub fn buffered(&self) -> usize {
        self.writer.get_ref().len()
    }

    /// Everything written so far, as one frame; the buffer starts afresh.
    pub fn take_chunk(&mut self) -> Bytes {
        let next = Vec::with_capacity(CHUNK_BYTES + 4096);
        Bytes::from(std::mem::replace(self.writer.get_mut(), next))
    }
}

/// Appends `YYYYMMDDhhmmss +0000` for `ms` (UTC) with plain digit arithmetic: the guide
/// formats two per programme, and this is several times cheaper than a calendar library.
pub fn push_xmltv_time(ms: UnixMs, out: &mut String) {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm), proleptic Gregorian.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = (yoe + era * 400 + i64::from(month <= 2)).clamp(0, 9999);
    let mut digits = [0u8; 14];
    let mut put = |at: usize, value: i64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            digits[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(4, month, 2);
    put(6, day, 2);
    put(8, rem / 3600, 2);
    put(10, rem % 3600 / 60, 2);
    put(12, rem % 60, 2);
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits).unwrap_or("19700101000000"));
    out.push_str(" +0000");
}

const TITLE_EN: &str = "title lang=\"en\"";

fn programme_children(
    w: &mut Writer<Vec<u8>>,
    scratch: &mut String,
    origin: &str,
    item: &GuideItem,
) -> XmlResult {
    use std::fmt::Write as _;
    text_element(w, TITLE_EN, "title", item.display_title())?;
    if let Some(sub) = item.sub_title() {
        text_element(w, "sub-title lang=\"en\"", "sub-title", sub)?;
    }
    let m = &item.media;
    if let Some(desc) = m.description.as_deref().filter(|d| !d.trim().is_empty()) {
        text_element(w, "desc lang=\"en\"", "desc", desc)?;
    }
    if let Some(year) = m.year.filter(|y| (1000..=9999).contains(y)) {
        scratch.clear();
        let _ = write!(scratch, "{year}");
        text_element(w, "date", "date", scratch)?;
    }
    const CATEGORY: &str = "category lang=\"en\"";
    if let Some(genres) = &m.genres {
        for genre in genres.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            text_element(w, CATEGORY, "category", genre)?;
        }
    }
    if item.is_episode() {
        text_element(w, CATEGORY, "category", "Series")?;
    } else if item.is_movie() {
        text_element(w, CATEGORY, "category", "Movie")?;
    }
    // Absolute URLs as they are; our own artwork routes (`/static/...`) behind the origin.
    let icon = m
        .thumbnail
        .as_deref()
        .filter(|t| is_http_url(t) || (t.starts_with('/') && !origin.is_empty()));
    if let Some(icon) = icon {
        scratch.clear();
        scratch.push_str("icon src=\"");
        if icon.starts_with('/') {
            scratch.push_str(&quick_xml::escape::escape(clean(origin)));
        }
        scratch.push_str(&quick_xml::escape::escape(clean(icon)));
        scratch.push('"');
        w.write_event(Event::Empty(BytesStart::from_content(scratch.as_str(), 4)))?;
    }
    if item.is_episode() && (m.season.is_some() || m.episode.is_some()) {
        let zero_based = |n: Option<i64>| n.filter(|n| *n > 0).map(|n| n - 1);
        scratch.clear();
        if let Some(s) = zero_based(m.season) {
            let _ = write!(scratch, "{s}");
        }
        scratch.push('.');
        if let Some(e) = zero_based(m.episode) {
            let _ = write!(scratch, "{e}");
        }
        scratch.push('.');
        text_element(w, "episode-num system=\"xmltv_ns\"", "episode-num", scratch)?;
        scratch.clear();
        if let Some(s) = m.season {
            let _ = write!(scratch, "S{s:02}");
        }
        if let Some(e) = m.episode {
            let _ = write!(scratch, "E{e:02}");
        }
        text_element(w, "episode-num system=\"onscreen\"", "episode-num", scratch)?;
    }
    if let Some(rating) = m.content_rating.as_deref().filter(|r| !r.trim().is_empty()) {
        w.write_event(Event::Start(BytesStart::from_content(
            "rating system=\"VCHIP\"",
            6,
        )))?;
        text_element(w, "value", "value", rating)?;
        w.write_event(Event::End(BytesEnd::new("rating")))?;
    }
    Ok(())
}

/// `<{start_tag}>text</{name}>`; `start_tag` is trusted static markup (name and attributes).
fn text_element(w: &mut Writer<Vec<u8>>, start_tag: &str, name: &str, text: &str) -> XmlResult {
    w.write_event(Event::Start(BytesStart::from_content(
        start_tag,
        name.len(),
    )))?;
    w.write_event(Event::Text(BytesText::new(&clean(text))))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// Drops the characters XML 1.0 forbids (C0 controls other than tab and line breaks, and
/// U+FFFE/U+FFFF); library metadata sometimes carries them. Escaping is quick-xml's job.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    // Byte scan first (the common, clean case): C0 controls, or 0xEF leading U+FFFE/U+FFFF.
    let suspicious = text
        .bytes()
        .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF);
    if suspicious && text.contains(bad) {
        text.chars().filter(|c| !bad(*c)).collect::<String>().into()
    } else {
        text.into()
    }
}

type PageResult = Result<Vec<GuideItem>, DbError>;
type PageFuture = Pin<Box<dyn Future<Output = PageResult> + Send>>;

/// The streamed guide: a state machine hyper polls. Each poll writes programmes until a
/// chunk is full and hands that chunk out. Reads are pipelined: when a page of items
/// arrives the next one is requested at once, so the DB reader thread reads page n+1 while
/// this task writes page n. At most two pages and one chunk are in memory, whatever the
/// number of channels and days. Dropping the body (a client that leaves) drops the read.
pub struct GuideBody {
    db: Db,
    now_ms: UnixMs,
    /// How far an Offline programme reaches for a channel with no timeline at all.
    horizon_ms: i64,
    channels: Vec<LineupChannel>,
    /// Relayed channels whose source's own guide has programmes in the window: those are
    /// written instead of the channel's timeline (`source_guide`).
    external: HashMap<ChannelId, Arc<[SourceProgramme]>>,
    /// The page being read, for the channel at this index.
    fetch: Option<Fetch>,
    /// The channel whose programmes are being written.
    current: Option<ChannelCursor>,
    writer: XmltvWriter,
    finished: bool,
}

struct Fetch {
    channel: usize,
    future: PageFuture,
}

struct ChannelCursor {
    index: usize,
    xmltv_id: String,
    assembler: Assembler,
    n_items: usize,
    /// The rest of the page being written.
    items: std::vec::IntoIter<GuideItem>,
    /// The page being written is the channel's last.
    last_page: bool,
}

impl GuideBody {
    /// `channels`: the lineup; those with `show_in_epg` off are left out here. A channel
    /// with no timeline gets one Offline programme from `now_ms` over `horizon_ms`, so
    /// every listed channel has programmes (XMLTV validators insist).
    /// `external`: the source guides' programmes of relayed channels (those without one in
    /// the window keep their own timeline).
    pub fn new(
        db: Db,
        mut channels: Vec<LineupChannel>,
        mut external: HashMap<ChannelId, Arc<[SourceProgramme]>>,
        origin: &str,
        now_ms: UnixMs,
        horizon_ms: i64,
    ) -> std::io::Result<GuideBody> {
        channels.retain(|c| c.show_in_epg);
        external
            .retain(|_, programmes| programmes.iter().any(|p| in_window(p, now_ms, horizon_ms)));
        let mut writer = XmltvWriter {
            origin: origin.to_string(),
            ..XmltvWriter::default()
        };
        writer.start(channels.is_empty())?;
        for ch in &channels {
            writer.channel(ch, origin)?;
        }
        let mut body = GuideBody {
            db,
            now_ms,
            horizon_ms,
            finished: channels.is_empty(),
            channels,
            external,
            fetch: None,
            current: None,
            writer,
        };
        if !body.finished {
            body.fetch = Some(body.request(0, PageCursor::FIRST));
        }
        Ok(body)
    }

    fn request(&self, channel: usize, cursor: PageCursor) -> Fetch {
        let db = self.db.clone();
        let now_ms = self.now_ms;
        let channel_id = self
            .channels
            .get(channel)
            .map_or(crate::ops::ids::ChannelId(0), |c| c.id);
        if self.external.contains_key(&channel_id) {
            // Its source's guide is written instead: nothing to read.
            return Fetch {
                channel,
                future: Box::pin(std::future::ready(Ok(Vec::new()))),
            };
        }
        Fetch {
            channel,
            future: Box::pin(async move { guide::page(&db, channel_id, now_ms, cursor).await }),
        }
    }

    /// Writes until a chunk is ready, the body ends, or the next page is still being read
    /// (then whatever is buffered goes out, so the client is never kept waiting on it).
    fn advance(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        loop {
            if self.finished || self.writer.buffered() >= CHUNK_BYTES {
                return Poll::Ready(Ok(()));
            }
            if let Some(cur) = self.current.as_mut() {
                if let Some(item) = cur.items.next() {
                    let (writer, id) = (&mut self.writer, cur.xmltv_id.as_str());
                    let mut result = Ok(());
                    cur.assembler.push(item, &mut |p| {
                        if result.is_ok() {
                            result = writer.programme(id, &p);
                        }
                    });
                    result?;
                    continue;
                }
                if cur.last_page {
                    self.finish_channel()?;
                    if self.fetch.is_none() {
                        self.writer.end()?;
                        self.finished = true;
                    }
                    continue;
                }
            }
            let Some(fetch) = self.fetch.as_mut() else {
                // Every page either requests the next or ends the document; never hang.
                self.writer.end()?;
                self.finished = true;
                continue;
            };
            let items = match fetch.future.as_mut().poll(cx) {
                Poll::Pending if self.writer.buffered() > 0 => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(items)) => items,
                Poll::Ready(Err(err)) => {
                    tracing::warn!(%err, "xmltv: reading the timeline failed; the guide is cut short");
                    self.fetch = None;
                    self.finished = true;
                    return Poll::Ready(Err(std::io::Error::other(err.to_string())));
                }
            };
            let channel = fetch.channel;
            let last_page = items.len() < guide::PAGE_ITEMS;
            let next = match items.last() {
                Some(last) if !last_page => Some((channel, PageCursor::after(last))),
                _ if channel + 1 < self.channels.len() => Some((channel + 1, PageCursor::FIRST)),
                _ => None,
            };
            self.fetch = next.map(|(c, cursor)| self.request(c, cursor));
            // Polling once hands the read to the DB thread now, while this page is written.
            if let Some(f) = self.fetch.as_mut() {
                if let Poll::Ready(result) = f.future.as_mut().poll(cx) {
                    f.future = Box::pin(std::future::ready(result));
                }
            }
            let mut cur = match self.current.take() {
                Some(cur) if cur.index == channel => cur,
                _ => ChannelCursor {
                    index: channel,
                    xmltv_id: self
                        .channels
                        .get(channel)
                        .map(|c| c.xmltv_id())
                        .unwrap_or_default(),
                    assembler: Assembler::starting_at(self.now_ms),
                    n_items: 0,
                    items: Vec::new().into_iter(),
                    last_page: false,
                },
            };
            cur.n_items += items.len();
            cur.items = items.into_iter();
            cur.last_page = last_page;
            self.current = Some(cur);
        }
    }

    /// The channel's last programme (held back by the assembler), or one Offline programme
    /// when it has no timeline.
    fn finish_channel(&mut self) -> std::io::Result<()> {
        let Some(cur) = self.current.take() else {
            return Ok(());
        };
        let external = self
            .channels
            .get(cur.index)
            .and_then(|c| self.external.get(&c.id));
        if let Some(programmes) = external {
            let (now_ms, horizon_ms) = (self.now_ms, self.horizon_ms);
            for p in programmes
                .iter()
                .filter(|p| in_window(p, now_ms, horizon_ms))
            {
                self.writer.source_programme(&cur.xmltv_id, p)?;
            }
            return Ok(());
        }
        let (writer, id) = (&mut self.writer, cur.xmltv_id.as_str());
        let mut result = Ok(());
        let mut emit = |p: Programme| {
            if result.is_ok() {
                result = writer.programme(id, &p);
            }
        };
        if cur.n_items == 0 {
            emit(Programme {
                start_ms: self.now_ms,
                stop_ms: self.now_ms + self.horizon_ms,
                item: None,
            });
        } else {
            cur.assembler.finish(&mut emit);
        }
        result
    }
}

/// Whether a source programme is in the guide's window: not over, starting before the
/// horizon.
fn in_window(p: &SourceProgramme, now_ms: UnixMs, horizon_ms: i64) -> bool {
    p.stop_ms > now_ms && p.start_ms < now_ms + horizon_ms
}

impl hyper::body::Body for GuideBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match this.advance(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => Poll::Ready(Some(Err(err))),
            Poll::Ready(Ok(())) if this.writer.buffered() > 0 => {
                Poll::Ready(Some(Ok(Frame::data(this.writer.take_chunk()))))
            }
            Poll::Ready(Ok(())) => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.writer.buffered() == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iptv::guide::{GuideMode, MediaMeta};

    #[test]
    fn escapes_and_orders_children() {
        let mut w = XmltvWriter::default();
        w.start(false).unwrap();
        assert_eq!(clean("a\u{FFFF}b\u{0}c\td\u{FEFF}"), "abc\td\u{FEFF}");
        let ch = LineupChannel {
            id: crate::ops::ids::ChannelId(3),
            number: "5.1".into(),
            name: "Tom & \"Jerry\" <Kids> 📺\u{1}".into(),
            group: "General".into(),
            logo_path: None,
            logo_url: Some("https://cdn.example/logo.png?a=1&b=2".into()),
            show_in_epg: true,
            height: 720,
            video_encoder: "libx264".into(),
            audio_encoder: "aac".into(),
        };
        w.channel(&ch, "http://h").unwrap();
        let item = GuideItem {
            id: 1,
            start_ms: 1_767_643_200_000,
            finish_ms: 1_767_645_000_000,
            title: "Pilot".into(),
            episode_title: None,
            custom_title: None,
            guide_mode: GuideMode::Normal,
            media: MediaMeta {
                title: Some("Pilot".into()),
                description: Some("A & B".into()),
                year: Some(1999),
                genres: Some("Comedy, Drama".into()),
                thumbnail: Some("http://img/x.jpg".into()),
                show_title: Some("Show".into()),
                season: Some(3),
                episode: Some(8),
                media_type: Some(crate::kinds::MediaType::Episode),
                content_rating: Some("TV-PG".into()),
            },
        };
        let p = Programme {
            start_ms: item.start_ms,
            stop_ms: item.finish_ms,
            item: Some(item),
        };
        w.programme("exstream.3", &p).unwrap();
        w.end().unwrap();
        let text = String::from_utf8(w.take_chunk().to_vec()).unwrap();
        expect_test::expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <!DOCTYPE tv SYSTEM "xmltv.dtd">
            <tv generator-info-name="exstreamtv">
              <channel id="exstream.3"><display-name>5.1</display-name><display-name>Tom &amp; &quot;Jerry&quot; &lt;Kids&gt; 📺</display-name><icon src="https://cdn.example/logo.png?a=1&amp;b=2"/></channel>
              <programme start="20260105200000 +0000" stop="20260105203000 +0000" channel="exstream.3"><title lang="en">Show</title><sub-title lang="en">Pilot</sub-title><desc lang="en">A &amp; B</desc><date>1999</date><category lang="en">Comedy</category><category lang="en">Drama</category><category lang="en">Series</category><icon src="http://img/x.jpg"/><episode-num system="xmltv_ns">2.7.</episode-num><episode-num system="onscreen">S03E08</episode-num><rating system="VCHIP"><value>TV-PG</value></rating></programme>
            </tv>
        "#]]
        .assert_eq(&text);
    }

    #[test]
    fn fast_times_match_the_calendar() {
        let mut ms: i64 = -86_400_000 * 400;
        while ms < 4_102_444_800_000 {
            let (mut fast, mut slow) = (String::new(), String::new());
            push_xmltv_time(ms, &mut fast);
            crate::time::write_xmltv(ms, &mut slow);
            assert_eq!(fast, slow, "{ms}");
            ms += 7_777_777_777; // ~90 days and odd seconds
        }
        let mut s = String::new();
        push_xmltv_time(1_767_643_200_999, &mut s);
        assert_eq!(s, "20260105200000 +0000");
    }

    #[test]
    fn empty_lineup_is_a_complete_document() {
        let mut w = XmltvWriter::default();
        w.start(true).unwrap();
        let text = String::from_utf8(w.take_chunk().to_vec()).unwrap();
        assert!(
            text.ends_with("<tv generator-info-name=\"exstreamtv\"/>\n"),
            "{text}"
        );
    }
}
