//! Reading someone else's M3U playlist (an IPTV provider's, a LAN box's): `#EXTM3U` with
//! `url-tvg` / `x-tvg-url`, then `#EXTINF:-1 tvg-id=".." tvg-name=".." tvg-logo=".."
//! group-title=".." tvg-chno="..",Name` (and `#EXTGRP:`) before each URL line.
//!
//! Bounded and lenient, as user content is: one pass over the body line by line, no
//! per-line copy beyond the entry's own fields. A line over `MAX_LINE` bytes makes its entry
//! skipped (counted in `n_skipped`, warned once per playlist), so a 1 MB line costs one
//! scan of it and nothing more; entries past `MAX_ENTRIES` are dropped (`truncated`). The
//! body itself is capped by whoever fetched it (`MAX_BODY`: over it the caller answers 413).
//! Pure: it knows no HTTP and no database.

/// The largest playlist fetched or read: 8 MB holds ~40,000 entries of typical length.
pub const MAX_BODY: usize = 8 << 20;
/// A longer line skips its entry: a real `#EXTINF` or URL is a few hundred bytes.
pub const MAX_LINE: usize = 8 * 1024;
/// Entries kept from one playlist: beyond any lineup a person picks from (and it bounds
/// the preview's answer).
pub const MAX_ENTRIES: usize = 10_000;

/// One channel of the playlist, as its `#EXTINF` and URL lines give it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub tvg_id: Option<String>,
    pub tvg_name: Option<String>,
    pub logo: Option<String>,
    pub group: Option<String>,
    pub chno: Option<String>,
    pub url: String,
}

/// A parsed playlist: its entries in order (a preview's `index` is the position here).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Playlist {
    /// The playlist's own XMLTV guide (`url-tvg`, else `x-tvg-url`).
    pub url_tvg: Option<String>,
    pub entries: Vec<Entry>,
    /// Entries left out: a line over `MAX_LINE`, or an `#EXTINF` with no URL after it.
    pub n_skipped: usize,
    /// More than `MAX_ENTRIES` entries: the rest were dropped.
    pub truncated: bool,
}

/// Parses `body` (any bytes: invalid UTF-8 is replaced, never an error).
pub fn parse(body: &[u8]) -> Playlist {
    let mut out = Playlist::default();
    // The `#EXTINF` waiting for its URL line; `Some(None)` when it was skipped.
    let mut pending: Option<Option<Entry>> = None;
    for raw in body.split(|b| *b == b'\n') {
        let too_long = raw.len() > MAX_LINE;
        let line = if too_long { &[][..] } else { trim(raw) };
        if too_long {
            // A long `#EXTINF` or URL: the entry it belongs to is skipped (with its URL).
            if !matches!(pending, Some(None)) {
                out.n_skipped += 1;
            }
            pending = if raw.starts_with(b"#EXTINF") {
                Some(None)
            } else {
                None
            };
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"#EXTM3U") {
            let attrs = attributes(&String::from_utf8_lossy(rest));
            out.url_tvg = attr(&attrs, "url-tvg").or_else(|| attr(&attrs, "x-tvg-url"));
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"#EXTINF:") {
            if matches!(pending, Some(Some(_))) {
                out.n_skipped += 1;
            }
            pending = Some(Some(extinf(&String::from_utf8_lossy(rest))));
            continue;
        }
        if let Some(group) = line.strip_prefix(b"#EXTGRP:") {
            if let Some(Some(entry)) = pending.as_mut() {
                if entry.group.is_none() {
                    entry.group = non_empty(String::from_utf8_lossy(group).trim());
                }
            }
            continue;
        }
        if line.starts_with(b"#") {
            continue;
        }
        let url = String::from_utf8_lossy(line).into_owned();
        let entry = match pending.take() {
            Some(Some(entry)) => Entry { url, ..entry },
            // The URL of a skipped `#EXTINF` goes with it.
            Some(None) => continue,
            // A bare URL: named after itself.
            None => Entry {
                name: url.clone(),
                url,
                ..Entry::default()
            },
        };
        if out.entries.len() == MAX_ENTRIES {
            out.truncated = true;
            break;
        }
        out.entries.push(entry);
    }
    if matches!(pending, Some(Some(_))) {
        out.n_skipped += 1;
    }
    out
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &line[start..end.max(start)]
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn attr(attrs: &[(String, String)], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .and_then(|(_, v)| non_empty(v.trim()))
}

/// `-1 key="v" key2=v2,Name`: the attributes, then the name after the first comma outside
/// quotes (a name may hold commas itself).
fn extinf(rest: &str) -> Entry {
    let (attrs, name) = split_name(rest);
    let attrs = attributes(attrs);
    let tvg_name = attr(&attrs, "tvg-name");
    let name = non_empty(name.trim())
        .or_else(|| tvg_name.clone())
        .unwrap_or_else(|| "Unnamed".into());
    Entry {
        name,
        tvg_id: attr(&attrs, "tvg-id"),
        tvg_name,
        logo: attr(&attrs, "tvg-logo"),
        group: attr(&attrs, "group-title"),
        chno: attr(&attrs, "tvg-chno").or_else(|| attr(&attrs, "channel-number")),
        url: String::new(),
    }
}

fn split_name(rest: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in rest.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => return (&rest[..i], &rest[i + 1..]),
            _ => {}
        }
    }
    (rest, "")
}

/// `key="value"` and `key=value` pairs separated by spaces; a token without `=` (the
/// duration) is ignored.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(['=', ' ', '\t']).unwrap_or(rest.len());
        let key = &rest[..key_end];
        rest = &rest[key_end..];
        let Some(after) = rest.strip_prefix('=') else {
            rest = rest.trim_start();
            continue;
        };
        let (value, next) = match after.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            },
            None => {
                let end = after.find([' ', '\t']).unwrap_or(after.len());
                (&after[..end], &after[end..])
            }
        };
        out.push((key.to_string(), value.to_string()));
        rest = next.trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typical_playlist() {
        let body = b"#EXTM3U url-tvg=\"http://box/epg.xml\"\r\n\
#EXTINF:-1 tvg-id=\"news.uk\" tvg-name=\"News HD\" tvg-logo=\"http://box/n.png\" group-title=\"News, World\" tvg-chno=\"7\",News, at Seven\r\n\
http://box/live/7.ts\r\n\
\r\n\
#EXTINF:-1,Films\n#EXTGRP:Movies\nhttp://box/live/8.ts\n\
http://box/bare.ts\n";
        let p = parse(body);
        assert_eq!(p.url_tvg.as_deref(), Some("http://box/epg.xml"));
        assert_eq!(p.entries.len(), 3);
        let news = &p.entries[0];
        assert_eq!(news.name, "News, at Seven");
        assert_eq!(news.tvg_id.as_deref(), Some("news.uk"));
        assert_eq!(news.tvg_name.as_deref(), Some("News HD"));
        assert_eq!(news.logo.as_deref(), Some("http://box/n.png"));
        assert_eq!(news.group.as_deref(), Some("News, World"));
        assert_eq!(news.chno.as_deref(), Some("7"));
        assert_eq!(news.url, "http://box/live/7.ts");
        assert_eq!(p.entries[1].group.as_deref(), Some("Movies"));
        assert_eq!(p.entries[2].name, "http://box/bare.ts");
        assert_eq!((p.n_skipped, p.truncated), (0, false));
    }

    #[test]
    fn x_tvg_url_and_unquoted_values() {
        let p = parse(
            b"#EXTM3U x-tvg-url=http://a/g.xml\n#EXTINF:-1 tvg-id=a.b tvg-chno=5.1,A\nhttp://a/1\n",
        );
        assert_eq!(p.url_tvg.as_deref(), Some("http://a/g.xml"));
        assert_eq!(p.entries[0].tvg_id.as_deref(), Some("a.b"));
        assert_eq!(p.entries[0].chno.as_deref(), Some("5.1"));
    }

    #[test]
    fn a_long_line_skips_its_entry_only() {
        let mut body = b"#EXTM3U\n#EXTINF:-1,Good\nhttp://a/1\n#EXTINF:-1 tvg-logo=\"".to_vec();
        body.extend(std::iter::repeat_n(b'x', 1 << 20));
        body.extend(b"\",Huge\nhttp://a/huge\n#EXTINF:-1,Long URL\nhttp://a/");
        body.extend(std::iter::repeat_n(b'y', MAX_LINE));
        body.extend(b"\n#EXTINF:-1,After\nhttp://a/2\n#EXTINF:-1,Dangling\n");
        let p = parse(&body);
        let names: Vec<&str> = p.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["Good", "After"]);
        assert_eq!(p.n_skipped, 3, "huge, long URL, dangling");
    }

    #[test]
    fn entries_past_the_cap_are_dropped() {
        let mut body = String::from("#EXTM3U\n");
        for i in 0..MAX_ENTRIES + 5 {
            body.push_str(&format!("#EXTINF:-1,C{i}\nhttp://a/{i}\n"));
        }
        let p = parse(body.as_bytes());
        assert_eq!(p.entries.len(), MAX_ENTRIES);
        assert!(p.truncated);
    }

    #[test]
    fn a_hundred_thousand_lines_parse_well_under_a_second() {
        // 5,000 entries of 20 lines (options between `#EXTINF` and the URL, as VLC's
        // `#EXTVLCOPT` are): every line is read, under the entry cap.
        let mut body = String::from("#EXTM3U\n");
        for i in 0..5_000 {
            body.push_str(&format!(
                "#EXTINF:-1 tvg-id=\"c{i}\" tvg-logo=\"http://a/{i}.png\" group-title=\"G\",C {i}\n"
            ));
            for _ in 0..18 {
                body.push_str("#EXTVLCOPT:http-user-agent=Mozilla/5.0 (X11; Linux)\n");
            }
            body.push_str(&format!("http://a/{i}.ts\n"));
        }
        let started = std::time::Instant::now();
        let p = parse(body.as_bytes());
        let took = started.elapsed();
        eprintln!("100,000 lines ({} bytes) parsed in {took:?}", body.len());
        assert_eq!(body.lines().count(), 100_001);
        assert_eq!(p.entries.len(), 5_000);
        assert!(took < std::time::Duration::from_secs(1), "{took:?}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        for round in 0..200 {
            let mut bytes = Vec::with_capacity(2048);
            for _ in 0..2048 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Biased towards the bytes the parser looks at.
                let pick = b"#EXTINF:-1 ,=\"\n\r tvg-id group-title http://";
                let b = if seed % 3 == 0 {
                    (seed >> 8) as u8
                } else {
                    pick[(seed >> 16) as usize % pick.len()]
                };
                bytes.push(b);
            }
            let p = parse(&bytes);
            assert!(p.entries.len() <= MAX_ENTRIES, "round {round}");
        }
    }
}
