//! Metadata from file and folder names: TV episodes (`Show - S01E02 - Title`, `1x02`,
//! `S01E01-E02`, `Show/Season 1/03 - Title`) and movies (`Title (2001)`). Pure: it sees
//! names as text (lossy UTF-8), never the file system or the database. A name that fits no
//! pattern is not an error; it yields only a title.

use crate::kinds::MediaType;

/// What a name says about its media.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NameInfo {
    pub kind: NameKind,
    pub title: String,
    pub show_title: Option<String>,
    pub season_number: Option<i64>,
    pub episode_number: Option<i64>,
    /// The last episode of a multi-episode file (`S01E01-E02` → 2).
    pub episode_number_end: Option<i64>,
    pub year: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameKind {
    Episode,
    Movie,
    #[default]
    Other,
}

impl NameKind {
    /// The stored `media_type` this guess makes (names never tell a music video).
    pub fn media_type(self) -> MediaType {
        match self {
            NameKind::Episode => MediaType::Episode,
            NameKind::Movie => MediaType::Movie,
            NameKind::Other => MediaType::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.media_type().as_str()
    }
}

/// Parses a file's stem (name without extension) with the names of the folders between the
/// library root and the file (`folders`, outermost first; empty for a file at the root).
pub fn parse(stem: &str, folders: &[&str]) -> NameInfo {
    let parent = folders.last().copied();
    let season_folder = parent.and_then(season_of_folder);
    // `Show/Season 1/x.mkv`: the show is the folder above the season folder.
    let folder_show = match season_folder {
        Some(_) if folders.len() >= 2 => Some(clean(folders[folders.len() - 2])),
        Some(_) => None,
        None => parent.map(clean),
    };

    if let Some(ep) = find_episode_marker(stem) {
        let before = clean(&stem[..ep.start]);
        let after = &stem[ep.end..];
        let show = if before.is_empty() {
            folder_show.clone().filter(|s| !s.is_empty())
        } else {
            Some(before)
        };
        let title = episode_title(after).unwrap_or_else(|| {
            format!(
                "{} S{:02}E{:02}",
                show.as_deref().unwrap_or(""),
                ep.season,
                ep.episode
            )
            .trim()
            .to_string()
        });
        return NameInfo {
            kind: NameKind::Episode,
            title,
            show_title: show,
            season_number: Some(ep.season),
            episode_number: Some(ep.episode),
            episode_number_end: ep.episode_end,
            year: None,
        };
    }

    if let Some(season) = season_folder {
        // `Show/Season 1/03 - Title.mkv` or `.../E03 Title.mkv`.
        if let Some((episode, rest)) = leading_episode_number(stem) {
            return NameInfo {
                kind: NameKind::Episode,
                title: episode_title(rest).unwrap_or_else(|| clean(stem)),
                show_title: folder_show,
                season_number: Some(season),
                episode_number: Some(episode),
                episode_number_end: None,
                year: None,
            };
        }
    }

    if let Some((title, year)) = movie_title_year(stem) {
        return NameInfo {
            kind: NameKind::Movie,
            title,
            year: Some(year),
            ..NameInfo::default()
        };
    }

    NameInfo {
        kind: NameKind::Other,
        title: clean(stem),
        ..NameInfo::default()
    }
}

/// `Season 1`, `Season 01`, `S1`, `Specials` (season 0).
pub fn season_of_folder(name: &str) -> Option<i64> {
    let lower = name.trim().to_ascii_lowercase();
    if lower == "specials" {
        return Some(0);
    }
    let digits = lower
        .strip_prefix("season")
        .or_else(|| lower.strip_prefix('s'))?
        .trim_start_matches([' ', '_', '.', '-']);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

struct EpisodeMarker {
    start: usize,
    end: usize,
    season: i64,
    episode: i64,
    episode_end: Option<i64>,
}

fn is_boundary(bytes: &[u8], i: usize) -> bool {
    bytes.get(i).is_none_or(|b| !b.is_ascii_alphanumeric())
}

/// Reads up to `max` ASCII digits at `i`; returns (value, end).
fn digits_at(bytes: &[u8], i: usize, max: usize) -> Option<(i64, usize)> {
    let mut end = i;
    while end < bytes.len() && end - i < max && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if end == i || bytes.get(end).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    // At most 4 ASCII digits: always fits.
    std::str::from_utf8(&bytes[i..end])
        .ok()?
        .parse()
        .ok()
        .map(|n| (n, end))
}

/// The first `S01E02` (with `-E03`, `E03` or `-03` for multi-episode files) or `1x02`
/// (with `-1x03` or `-03`) in `s`.
fn find_episode_marker(s: &str) -> Option<EpisodeMarker> {
    let bytes = s.as_bytes();
    for start in 0..bytes.len() {
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        if let Some(m) = sxe_at(bytes, start).or_else(|| nxm_at(bytes, start)) {
            return Some(m);
        }
    }
    None
}

fn sxe_at(bytes: &[u8], start: usize) -> Option<EpisodeMarker> {
    if !bytes.get(start)?.eq_ignore_ascii_case(&b's') {
        return None;
    }
    let (season, i) = digits_at(bytes, start + 1, 3)?;
    if !bytes.get(i)?.eq_ignore_ascii_case(&b'e') {
        return None;
    }
    let (episode, mut end) = digits_at(bytes, i + 1, 4)?;
    let mut episode_end = None;
    // Chains: S01E01E02, S01E01-E02, S01E01-02.
    loop {
        let mut j = end;
        if bytes.get(j) == Some(&b'-') {
            j += 1;
        }
        if bytes.get(j).is_some_and(|b| b.eq_ignore_ascii_case(&b'e')) {
            j += 1;
        } else if j == end {
            break;
        }
        match digits_at(bytes, j, 4) {
            Some((n, k)) if is_boundary(bytes, k) || bytes[k].eq_ignore_ascii_case(&b'e') => {
                episode_end = Some(n);
                end = k;
            }
            _ => break,
        }
    }
    if !is_boundary(bytes, end) {
        return None;
    }
    Some(EpisodeMarker {
        start,
        end,
        season,
        episode,
        episode_end: episode_end.filter(|&n| n > episode),
    })
}

fn nxm_at(bytes: &[u8], start: usize) -> Option<EpisodeMarker> {
    let (season, i) = digits_at(bytes, start, 2)?;
    if !bytes.get(i)?.eq_ignore_ascii_case(&b'x') {
        return None;
    }
    let (episode, mut end) = digits_at(bytes, i + 1, 3)?;
    if end - (i + 1) < 2 {
        // `1x2` is too ambiguous (dimensions, versions); episodes are written `1x02`.
        return None;
    }
    let mut episode_end = None;
    if bytes.get(end) == Some(&b'-') {
        let j = end + 1;
        let after_season = digits_at(bytes, j, 2)
            .filter(|&(s, k)| s == season && bytes.get(k).is_some_and(|b| *b == b'x' || *b == b'X'))
            .map(|(_, k)| k + 1);
        if let Some((n, k)) = digits_at(bytes, after_season.unwrap_or(j), 3) {
            if is_boundary(bytes, k) {
                episode_end = Some(n);
                end = k;
            }
        }
    }
    if !is_boundary(bytes, end) {
        return None;
    }
    Some(EpisodeMarker {
        start,
        end,
        season,
        episode,
        episode_end: episode_end.filter(|&n| n > episode),
    })
}

/// `03 - Title`, `E03 Title`, `Episode 3`: the episode number at the start of a stem.
fn leading_episode_number(stem: &str) -> Option<(i64, &str)> {
    let trimmed = stem.trim_start();
    let lower = trimmed.to_ascii_lowercase();
    let skip = if lower.starts_with("episode") {
        "episode".len()
    } else if lower.starts_with('e') && lower.as_bytes().get(1).is_some_and(u8::is_ascii_digit) {
        1
    } else {
        0
    };
    let rest = trimmed[skip..].trim_start_matches([' ', '.', '_']);
    let bytes = rest.as_bytes();
    let (n, end) = digits_at(bytes, 0, 3)?;
    if !is_boundary(bytes, end) {
        return None;
    }
    Some((n, &rest[end..]))
}

/// `Title (2001)`, `Title.2001.1080p`, `Title [2001]`: the title and a plausible year.
fn movie_title_year(stem: &str) -> Option<(String, i64)> {
    let bytes = stem.as_bytes();
    // The last plausible year wins: `2001 A Space Odyssey (1968)` is from 1968.
    let mut found = None;
    for i in 1..bytes.len() {
        if !matches!(bytes[i - 1], b'(' | b'[' | b' ' | b'.' | b'_') {
            continue;
        }
        let Some((year, end)) = digits_at(bytes, i, 4) else {
            continue;
        };
        if end - i == 4 && (1880..=2100).contains(&year) && is_boundary(bytes, end) {
            found = Some((i, year));
        }
    }
    let (i, year) = found?;
    let title = clean(&stem[..i - 1]);
    (!title.is_empty()).then_some((title, year))
}

/// The episode title after a marker (`" - Title"`), unless the name is a dotted release
/// name whose tail is tags (`.720p.x264`), not a title.
fn episode_title(after: &str) -> Option<String> {
    let dotted = !after.contains(' ') && after.contains('.');
    if dotted {
        return None;
    }
    let title = clean(after);
    (!title.is_empty()).then_some(title)
}

/// Separators become spaces, edge punctuation goes: `Show.Name_ - ` → `Show Name`.
pub fn clean(s: &str) -> String {
    let spaced: String = if s.contains(' ') {
        s.replace('_', " ")
    } else {
        s.replace(['.', '_'], " ")
    };
    let trimmed = spaced.trim_matches(|c: char| c == ' ' || c == '-' || c == '.' || c == '_');
    let mut out = String::with_capacity(trimmed.len());
    for word in trimmed.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(info: &NameInfo) -> (Option<&str>, i64, i64, Option<i64>, &str) {
        (
            info.show_title.as_deref(),
            info.season_number.unwrap(),
            info.episode_number.unwrap(),
            info.episode_number_end,
            info.title.as_str(),
        )
    }

    #[test]
    fn tv_names() {
        let i = parse("Show Name - S01E02 - The Title", &["Show Name"]);
        assert_eq!(i.kind, NameKind::Episode);
        assert_eq!(ep(&i), (Some("Show Name"), 1, 2, None, "The Title"));
        let i = parse("show.name.s02e10.720p.x264", &[]);
        assert_eq!(ep(&i), (Some("show name"), 2, 10, None, "show name S02E10"));
        let i = parse("Show - 1x02 - Pilot", &[]);
        assert_eq!(ep(&i), (Some("Show"), 1, 2, None, "Pilot"));
        let i = parse("Show - S01E01-E02 - Double", &[]);
        assert_eq!(ep(&i), (Some("Show"), 1, 1, Some(2), "Double"));
        let i = parse("Show S01E03E04", &[]);
        assert_eq!(ep(&i), (Some("Show"), 1, 3, Some(4), "Show S01E03"));
        let i = parse("Show - 2x05-2x06", &[]);
        assert_eq!(ep(&i), (Some("Show"), 2, 5, Some(6), "Show S02E05"));
        let i = parse("S03E04 - Alone", &["My Show", "Season 3"]);
        assert_eq!(ep(&i), (Some("My Show"), 3, 4, None, "Alone"));
        let i = parse("05 - Fifth", &["My Show", "Season 02"]);
        assert_eq!(ep(&i), (Some("My Show"), 2, 5, None, "Fifth"));
        let i = parse("Episode 7", &["My Show", "Specials"]);
        assert_eq!(ep(&i), (Some("My Show"), 0, 7, None, "Episode 7"));
    }

    #[test]
    fn movie_names() {
        let i = parse("Title (2001)", &["Movies"]);
        assert_eq!(
            (i.kind, i.title.as_str(), i.year),
            (NameKind::Movie, "Title", Some(2001))
        );
        let i = parse("2001 A Space Odyssey (1968)", &[]);
        assert_eq!(
            (i.title.as_str(), i.year),
            ("2001 A Space Odyssey", Some(1968))
        );
        let i = parse("Some.Movie.1999.1080p", &[]);
        assert_eq!((i.title.as_str(), i.year), ("Some Movie", Some(1999)));
    }

    #[test]
    fn not_episodes() {
        for stem in [
            "1920x1080 test",
            "Holiday 2x1",
            "Sleeper",
            "S01 trailer",
            "x264",
        ] {
            let i = parse(stem, &[]);
            assert_ne!(i.kind, NameKind::Episode, "{stem}");
        }
        assert_eq!(parse("home_video", &[]).title, "home video");
        assert_eq!(season_of_folder("Season 10"), Some(10));
        assert_eq!(season_of_folder("Seasoning"), None);
    }

    #[test]
    fn random_names_never_panic() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let alphabet = "sSeExX0123456789 -._()[]é\u{fffd}";
        let chars: Vec<char> = alphabet.chars().collect();
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(chars[(seed % chars.len() as u64) as usize]);
            }
            let _ = parse(&s, &[&s, "Season 1"]);
        }
    }
}
