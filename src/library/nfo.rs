//! Kodi `.nfo` sidecars (`<episodedetails>`, `<movie>`, `<tvshow>`), read with quick-xml:
//! title, show title, plot, season, episode, year, genres, rating, content rating. Pure: it
//! is handed the bytes. A file that is not such XML is an error the scanner logs and skips.

use std::fmt;

use quick_xml::events::Event;
use quick_xml::Reader;

/// NFO files above this are not metadata (a Kodi NFO is a few KiB); refused unread.
pub const MAX_NFO_BYTES: u64 = 256 * 1024;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nfo {
    pub root: NfoRoot,
    pub title: Option<String>,
    pub show_title: Option<String>,
    pub plot: Option<String>,
    pub season: Option<i64>,
    pub episode: Option<i64>,
    pub year: Option<i64>,
    pub genres: Vec<String>,
    pub rating: Option<f64>,
    pub content_rating: Option<String>,
    pub studio: Option<String>,
    /// `premiered` / `aired`, as written (a date).
    pub aired: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NfoRoot {
    Episode,
    Movie,
    Show,
    #[default]
    Other,
}

#[derive(Debug, PartialEq)]
pub enum NfoError {
    Xml(String),
    /// Well-formed XML whose root is not a Kodi element (or a bare URL file).
    NotKodi,
}

impl fmt::Display for NfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NfoError::Xml(e) => write!(f, "not well-formed XML: {e}"),
            NfoError::NotKodi => f.write_str("no <episodedetails>, <movie> or <tvshow> element"),
        }
    }
}

impl std::error::Error for NfoError {}

/// Parses an NFO document. Unknown elements are ignored; numbers that do not parse are
/// left unset rather than failing the whole file.
pub fn parse(bytes: &[u8]) -> Result<Nfo, NfoError> {
    // Kodi writes UTF-8; a stray invalid byte costs one character, not the file.
    let doc = String::from_utf8_lossy(bytes);
    // No trim_text: an entity splits the text, and trimming the pieces would eat the spaces
    // around it (`The &amp; Title`). Values are trimmed whole in `apply`.
    let mut reader = Reader::from_str(&doc);
    let mut nfo = Nfo::default();
    let mut depth = 0usize;
    let mut root_seen = false;
    // The direct child of the root being read, and its text so far.
    let mut field: Option<String> = None;
    let mut text = String::new();
    // Inside <ratings><rating><value>: Kodi's newer rating form.
    let mut in_ratings_value = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| NfoError::Xml(e.to_string()))?;
        match event {
            Event::Start(e) => {
                depth += 1;
                let name = e.local_name().as_ref().to_ascii_lowercase();
                if depth == 1 {
                    nfo.root = match name.as_str() {
                        "episodedetails" => NfoRoot::Episode,
                        "movie" => NfoRoot::Movie,
                        "tvshow" => NfoRoot::Show,
                        _ => return Err(NfoError::NotKodi),
                    };
                    root_seen = true;
                } else if depth == 2 {
                    field = Some(name);
                    text.clear();
                } else if name == "value" && field.as_deref() == Some("ratings") {
                    in_ratings_value = true;
                    text.clear();
                }
            }
            Event::Text(t) if field.is_some() => text.push_str(&t.xml10_content()),
            Event::CData(t) if field.is_some() => text.push_str(&t.xml10_content()),
            // Entities arrive as their own events: `&amp;`, `&#233;`.
            Event::GeneralRef(r) if field.is_some() => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else if let Some(s) =
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                {
                    text.push_str(s);
                }
            }
            Event::End(_) => {
                if in_ratings_value {
                    in_ratings_value = false;
                    if nfo.rating.is_none() {
                        nfo.rating = text.trim().parse().ok();
                    }
                } else if depth == 2 {
                    if let Some(name) = field.take() {
                        apply(&mut nfo, &name, text.trim());
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(NfoError::NotKodi);
    }
    Ok(nfo)
}

fn apply(nfo: &mut Nfo, name: &str, value: &str) {
    if value.is_empty() {
        return;
    }
    let owned = || Some(value.to_string());
    match name {
        "title" => nfo.title = owned(),
        "showtitle" => nfo.show_title = owned(),
        "plot" => nfo.plot = owned(),
        "outline" if nfo.plot.is_none() => nfo.plot = owned(),
        "season" => nfo.season = value.parse().ok(),
        "episode" => nfo.episode = value.parse().ok(),
        "year" => nfo.year = value.parse().ok(),
        "genre" => {
            // Some writers put "Drama / Comedy" in one element.
            for genre in value.split(['/', ',']) {
                let genre = genre.trim();
                if !genre.is_empty() && !nfo.genres.iter().any(|g| g == genre) {
                    nfo.genres.push(genre.to_string());
                }
            }
        }
        "rating" => nfo.rating = value.parse().ok(),
        "mpaa" => nfo.content_rating = owned(),
        "studio" => nfo.studio = owned(),
        "premiered" | "aired" => {
            nfo.aired = owned();
            if nfo.year.is_none() {
                nfo.year = value.get(..4).and_then(|y| y.parse().ok());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_episode() {
        let nfo = parse(
            br#"<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>
            <episodedetails>
              <title>The &amp; Title</title>
              <showtitle>Show</showtitle>
              <plot><![CDATA[A plot.]]></plot>
              <season>2</season><episode>5</episode>
              <genre>Drama / Comedy</genre><genre>Drama</genre>
              <ratings><rating name="imdb"><value>7.5</value><votes>10</votes></rating></ratings>
              <aired>2003-04-05</aired>
              <actor><name>Someone</name><role>title</role></actor>
            </episodedetails>"#,
        )
        .unwrap();
        assert_eq!(nfo.root, NfoRoot::Episode);
        assert_eq!(nfo.title.as_deref(), Some("The & Title"));
        assert_eq!(nfo.show_title.as_deref(), Some("Show"));
        assert_eq!(nfo.plot.as_deref(), Some("A plot."));
        assert_eq!(
            (nfo.season, nfo.episode, nfo.year),
            (Some(2), Some(5), Some(2003))
        );
        assert_eq!(nfo.genres, ["Drama", "Comedy"]);
        assert_eq!(nfo.rating, Some(7.5));
    }

    #[test]
    fn rejects_what_is_not_kodi_xml() {
        assert_eq!(
            parse(b"https://www.themoviedb.org/movie/1"),
            Err(NfoError::NotKodi)
        );
        assert_eq!(
            parse(b"<html><title>x</title></html>"),
            Err(NfoError::NotKodi)
        );
        assert!(matches!(
            parse(b"<movie><title>x</movie>"),
            Err(NfoError::Xml(_))
        ));
        let movie =
            parse(b"<movie><title>M</title><year>nope</year><rating>8</rating></movie>").unwrap();
        assert_eq!(
            (movie.title.as_deref(), movie.year, movie.rating),
            (Some("M"), None, Some(8.0))
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed: u64 = 0xDEAD_BEEF_1234_5678;
        let pieces: [&[u8]; 8] = [
            b"<movie>",
            b"</movie>",
            b"<title>",
            b"</title>",
            b"&amp;",
            b"<![CDATA[x]]>",
            b"\xff",
            b"9",
        ];
        for _ in 0..5_000 {
            let mut doc = Vec::new();
            for _ in 0..(seed % 12) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                doc.extend_from_slice(pieces[(seed % 8) as usize]);
            }
            let _ = parse(&doc);
        }
    }
}
