//! `/iptv/xmltv.xml`: the guide as XMLTV, written with quick-xml straight into the response
//! body. Channels first (from the lineup), then each channel's programmes, read from the
//! stored timeline a page at a time, so memory stays flat however many channels and days
//! the guide spans. Children follow the DTD order; times are `YYYYMMDDhhmmss +0000`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::guide::{self, Assembler, GuideItem, PageCursor, Programme, OFFLINE_TITLE};
use super::lineup::{is_http_url, LineupChannel};
use crate::db::{Db, DbError};
use crate::time::UnixMs;

/// A body frame is handed to hyper once this much XML is buffered: large enough that the
/// per-frame overhead vanishes, small enough to stay in cache and keep memory flat.
pub const CHUNK_BYTES: usize = 32 * 1024;

const GENERATOR: &str = "exstreamtv";

/// Writes XMLTV into an in-memory buffer that the caller drains in chunks.
pub struct XmltvWriter {
    writer: Writer<Vec<u8>>,
    /// Reused for times and numbers, so a programme costs no allocation for them.
    scratch: String,
}

impl Default for XmltvWriter {
    fn default() -> Self {
        XmltvWriter {
            writer: Writer::new(Vec::with_capacity(CHUNK_BYTES + 4096)),
            scratch: String::with_capacity(32),
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
        text_element(w, "display-name", &ch.number, None)?;
        text_element(w, "display-name", &ch.name, None)?;
        if let Some(logo) = ch.logo(origin) {
            w.write_event(Event::Empty(
                BytesStart::new("icon").with_attributes([("src", clean(&logo).as_ref())]),
            ))?;
        }
        w.write_event(Event::End(BytesEnd::new("channel")))?;
        Ok(())
    }

    /// One `<programme>`; children in DTD order: title, sub-title, desc, date, category*,
    /// icon, episode-num*, rating.
    pub fn programme(&mut self, channel_id: &str, p: &Programme) -> XmlResult {
        let mut start = std::mem::take(&mut self.scratch);
        start.clear();
        crate::time::write_xmltv(p.start_ms, &mut start);
        let split = start.len();
        crate::time::write_xmltv(p.stop_ms, &mut start);
        let (start_text, stop_text) = start.split_at(split);
        let w = &mut self.writer;
        w.get_mut().extend_from_slice(b"\n  ");
        w.write_event(Event::Start(BytesStart::new("programme").with_attributes(
            [
                ("start", start_text),
                ("stop", stop_text),
                ("channel", channel_id),
            ],
        )))?;
        let result = match &p.item {
            None => text_element(w, "title", OFFLINE_TITLE, Some("en")),
            Some(item) => programme_children(w, item),
        };
        self.scratch = start;
        result?;
        self.writer
            .write_event(Event::End(BytesEnd::new("programme")))?;
        Ok(())
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

fn programme_children(w: &mut Writer<Vec<u8>>, item: &GuideItem) -> XmlResult {
    let en = Some("en");
    text_element(w, "title", item.display_title(), en)?;
    if let Some(sub) = item.sub_title() {
        text_element(w, "sub-title", sub, en)?;
    }
    let m = &item.media;
    if let Some(desc) = m.description.as_deref().filter(|d| !d.trim().is_empty()) {
        text_element(w, "desc", desc, en)?;
    }
    if let Some(year) = m.year.filter(|y| (1000..=9999).contains(y)) {
        text_element(w, "date", &year.to_string(), None)?;
    }
    if let Some(genres) = &m.genres {
        for genre in genres.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            text_element(w, "category", genre, en)?;
        }
    }
    if item.is_episode() {
        text_element(w, "category", "Series", en)?;
    } else if item.is_movie() {
        text_element(w, "category", "Movie", en)?;
    }
    if let Some(icon) = m.thumbnail.as_deref().filter(|t| is_http_url(t)) {
        w.write_event(Event::Empty(
            BytesStart::new("icon").with_attributes([("src", clean(icon).as_ref())]),
        ))?;
    }
    if item.is_episode() && (m.season.is_some() || m.episode.is_some()) {
        let zero_based = |n: Option<i64>| n.filter(|n| *n > 0).map(|n| (n - 1).to_string());
        let ns = format!(
            "{}.{}.",
            zero_based(m.season).unwrap_or_default(),
            zero_based(m.episode).unwrap_or_default()
        );
        episode_num(w, "xmltv_ns", &ns)?;
        let onscreen = match (m.season, m.episode) {
            (Some(s), Some(e)) => format!("S{s:02}E{e:02}"),
            (None, Some(e)) => format!("E{e:02}"),
            (Some(s), None) => format!("S{s:02}"),
            (None, None) => String::new(),
        };
        episode_num(w, "onscreen", &onscreen)?;
    }
    if let Some(rating) = m.content_rating.as_deref().filter(|r| !r.trim().is_empty()) {
        w.write_event(Event::Start(
            BytesStart::new("rating").with_attributes([("system", "VCHIP")]),
        ))?;
        text_element(w, "value", rating, None)?;
        w.write_event(Event::End(BytesEnd::new("rating")))?;
    }
    Ok(())
}

fn episode_num(w: &mut Writer<Vec<u8>>, system: &str, text: &str) -> XmlResult {
    w.write_event(Event::Start(
        BytesStart::new("episode-num").with_attributes([("system", system)]),
    ))?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    w.write_event(Event::End(BytesEnd::new("episode-num")))
}

fn text_element(w: &mut Writer<Vec<u8>>, name: &str, text: &str, lang: Option<&str>) -> XmlResult {
    let mut start = BytesStart::new(name);
    if let Some(lang) = lang {
        start.push_attribute(("lang", lang));
    }
    w.write_event(Event::Start(start))?;
    w.write_event(Event::Text(BytesText::new(&clean(text))))?;
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// Drops the characters XML 1.0 forbids (C0 controls other than tab and line breaks, and
/// U+FFFE/U+FFFF); library metadata sometimes carries them. Escaping is quick-xml's job.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
    };
    if text.contains(bad) {
        text.chars().filter(|c| !bad(*c)).collect::<String>().into()
    } else {
        text.into()
    }
}

type PageFuture = Pin<Box<dyn Future<Output = Result<Vec<GuideItem>, DbError>> + Send>>;

/// The streamed guide: a state machine hyper polls. Each poll writes programmes until a
/// chunk is full; a page of items is fetched from the DB reader only when the previous one
/// is written. Dropping it (a client that leaves) drops the pending read, nothing else.
pub struct GuideBody {
    db: Db,
    now_ms: UnixMs,
    /// How far an Offline programme reaches for a channel with no timeline at all.
    horizon_ms: i64,
    channels: Vec<LineupChannel>,
    next_channel: usize,
    current: Option<ChannelCursor>,
    fetch: Option<PageFuture>,
    writer: XmltvWriter,
    finished: bool,
}

struct ChannelCursor {
    xmltv_id: String,
    db_id: i64,
    cursor: PageCursor,
    assembler: Assembler,
    n_items: usize,
}

impl GuideBody {
    /// `channels`: the lineup; those with `show_in_epg` off are left out here. A channel
    /// with no timeline gets one Offline programme from `now_ms` over `horizon_ms`, so
    /// every listed channel has programmes (XMLTV validators insist).
    pub fn new(
        db: Db,
        mut channels: Vec<LineupChannel>,
        origin: &str,
        now_ms: UnixMs,
        horizon_ms: i64,
    ) -> std::io::Result<GuideBody> {
        channels.retain(|c| c.show_in_epg);
        let mut writer = XmltvWriter::default();
        writer.start(channels.is_empty())?;
        for ch in &channels {
            writer.channel(ch, origin)?;
        }
        Ok(GuideBody {
            db,
            now_ms,
            horizon_ms,
            finished: channels.is_empty(),
            channels,
            next_channel: 0,
            current: None,
            fetch: None,
            writer,
        })
    }

    /// Writes until a chunk is ready, the body ends, or a DB read is pending.
    fn advance(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        loop {
            if self.finished || self.writer.buffered() >= CHUNK_BYTES {
                return Poll::Ready(Ok(()));
            }
            if let Some(fetch) = self.fetch.as_mut() {
                let items = match fetch.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(items)) => items,
                    Poll::Ready(Err(err)) => {
                        tracing::warn!(%err, "xmltv: reading the timeline failed; the guide is cut short");
                        return Poll::Ready(Err(std::io::Error::other(err.to_string())));
                    }
                };
                self.fetch = None;
                self.write_page(items)?;
                continue;
            }
            if self.current.is_some() {
                self.start_fetch();
                continue;
            }
            match self.channels.get(self.next_channel) {
                Some(ch) => {
                    self.current = Some(ChannelCursor {
                        xmltv_id: ch.xmltv_id(),
                        db_id: ch.id,
                        cursor: PageCursor::FIRST,
                        assembler: Assembler::starting_at(self.now_ms),
                        n_items: 0,
                    });
                    self.next_channel += 1;
                }
                None => {
                    self.writer.end()?;
                    self.finished = true;
                }
            }
        }
    }

    fn start_fetch(&mut self) {
        if let Some(cur) = &self.current {
            let db = self.db.clone();
            let (channel_id, now_ms, cursor) = (cur.db_id, self.now_ms, cur.cursor);
            self.fetch = Some(Box::pin(async move {
                guide::page(&db, channel_id, now_ms, cursor).await
            }));
        }
    }

    fn write_page(&mut self, items: Vec<GuideItem>) -> std::io::Result<()> {
        let Some(mut cur) = self.current.take() else {
            return Ok(());
        };
        let last_page = items.len() < guide::PAGE_ITEMS;
        cur.n_items += items.len();
        if let Some(last) = items.last() {
            cur.cursor = PageCursor::after(last);
        }
        let writer = &mut self.writer;
        let mut result = Ok(());
        let mut emit = |p: Programme| {
            if result.is_ok() {
                result = writer.programme(&cur.xmltv_id, &p);
            }
        };
        for item in items {
            cur.assembler.push(item, &mut emit);
        }
        if last_page && cur.n_items == 0 {
            emit(Programme {
                start_ms: self.now_ms,
                stop_ms: self.now_ms + self.horizon_ms,
                item: None,
            });
        } else if last_page {
            cur.assembler.finish(&mut emit);
        } else {
            self.current = Some(cur);
        }
        result
    }
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
        let ch = LineupChannel {
            id: 3,
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
                media_type: Some("episode".into()),
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
