//! A request in plain words ("90s cartoons on Saturday mornings, sitcoms at night") made
//! into an intent by rules alone: genres (our library's own, plus a few common words that
//! mean one of them), shows, collections and libraries named by their names, an era, an
//! audience, days and times of day. Each comma- or semicolon-separated part is a segment
//! with its own content and time; the intent is their union. Deterministic: the same words
//! and the same vocabulary give the same intent.

use rusqlite::Connection;
use serde::Serialize;

use crate::db::DbError;

/// Bit 0 is Sunday, as `days_of_week` elsewhere.
pub const EVERY_DAY: u8 = 0x7f;

/// What the library calls things: matched against the request's words.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub genres: Vec<String>,
    pub shows: Vec<String>,
    pub collections: Vec<String>,
    pub libraries: Vec<String>,
}

/// Reads the vocabulary: distinct genres (from the comma-separated column), show titles,
/// collection and library names, each sorted so matching is deterministic.
pub fn vocabulary(conn: &Connection) -> Result<Vocabulary, DbError> {
    let column = |sql: &str| -> Result<Vec<String>, DbError> {
        let mut stmt = conn.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    };
    let mut genres: Vec<String> = Vec::new();
    for list in column(
        "SELECT DISTINCT genres FROM media_items WHERE genres IS NOT NULL AND NOT is_missing",
    )? {
        for genre in list.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            if !genres.iter().any(|g| g.eq_ignore_ascii_case(genre)) {
                genres.push(genre.to_string());
            }
        }
    }
    genres.sort_by_key(|g| g.to_lowercase());
    Ok(Vocabulary {
        genres,
        shows: column(
            "SELECT DISTINCT show_title FROM media_items WHERE show_title IS NOT NULL
             AND NOT is_missing ORDER BY lower(show_title)",
        )?,
        collections: column("SELECT name FROM collections ORDER BY lower(name), id")?,
        libraries: column("SELECT name FROM libraries ORDER BY lower(name), id")?,
    })
}

/// A time of day: start and length, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TimeRange {
    pub label: &'static str,
    pub start_minute: u16,
    pub minutes: u16,
}

/// One part of the request: what plays, and when.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Segment {
    pub text: String,
    pub genres: Vec<String>,
    pub shows: Vec<String>,
    pub collections: Vec<String>,
    pub libraries: Vec<String>,
    pub year_min: Option<i32>,
    pub year_max: Option<i32>,
    pub days: u8,
    pub time: Option<TimeRange>,
}

impl Segment {
    pub fn has_content(&self) -> bool {
        !(self.genres.is_empty()
            && self.shows.is_empty()
            && self.collections.is_empty()
            && self.libraries.is_empty()
            && self.year_min.is_none())
    }
}

/// The whole request understood.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Intent {
    pub request: String,
    pub purpose: String,
    pub confidence: f32,
    pub suggested_name: String,
    pub suggested_persona: &'static str,
    pub genres: Vec<String>,
    pub shows: Vec<String>,
    pub collections: Vec<String>,
    pub era: Option<String>,
    pub year_min: Option<i32>,
    pub year_max: Option<i32>,
    pub audience: &'static str,
    pub days: u8,
    pub segments: Vec<Segment>,
    pub needs_clarification: bool,
    pub clarification_questions: Vec<String>,
}

/// Common words for a genre the library may spell otherwise: word → genre.
const SYNONYMS: &[(&str, &str)] = &[
    ("cartoon", "Animation"),
    ("cartoons", "Animation"),
    ("animated", "Animation"),
    ("anime", "Animation"),
    ("sitcom", "Comedy"),
    ("sitcoms", "Comedy"),
    ("comedies", "Comedy"),
    ("funny", "Comedy"),
    ("scifi", "Science Fiction"),
    ("sci-fi", "Science Fiction"),
    ("documentaries", "Documentary"),
    ("docs", "Documentary"),
    ("dramas", "Drama"),
    ("westerns", "Western"),
    ("thrillers", "Thriller"),
    ("mysteries", "Mystery"),
    ("scary", "Horror"),
    ("musicals", "Musical"),
];

const DAYS: &[(&str, u8)] = &[
    ("sunday", 1),
    ("monday", 2),
    ("tuesday", 4),
    ("wednesday", 8),
    ("thursday", 16),
    ("friday", 32),
    ("saturday", 64),
    ("weekend", 65),
    ("weekday", 62),
];

const TIMES: &[(&str, TimeRange)] = &[
    ("early morning", range("early morning", 5 * 60, 3 * 60)),
    ("morning", range("morning", 6 * 60, 6 * 60)),
    ("afternoon", range("afternoon", 12 * 60, 5 * 60)),
    ("evening", range("evening", 17 * 60, 3 * 60)),
    ("prime time", range("prime time", 20 * 60, 3 * 60)),
    ("primetime", range("prime time", 20 * 60, 3 * 60)),
    ("late night", range("late night", 23 * 60, 4 * 60)),
    ("night", range("night", 20 * 60, 6 * 60)),
    ("tonight", range("night", 20 * 60, 6 * 60)),
];

const fn range(label: &'static str, start_minute: u16, minutes: u16) -> TimeRange {
    TimeRange {
        label,
        start_minute,
        minutes,
    }
}

const KIDS: &[&str] = &["kids", "kid", "children", "child", "family", "toddler"];

/// Understands `request` against the library's `vocab`.
pub fn analyze(request: &str, vocab: &Vocabulary) -> Intent {
    let lower = request.to_lowercase();
    let segments: Vec<Segment> = lower
        .split([',', ';', '\n'])
        .flat_map(|part| part.split(" and then "))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| segment(part, vocab))
        .collect();
    let mut intent = Intent {
        request: request.trim().to_string(),
        audience: if words(&lower).any(|w| KIDS.contains(&w)) {
            "kids"
        } else {
            "general"
        },
        ..Intent::default()
    };
    for seg in &segments {
        union(&mut intent.genres, &seg.genres);
        union(&mut intent.shows, &seg.shows);
        union(&mut intent.collections, &seg.collections);
        intent.days |= seg.days;
        intent.year_min = min_opt(intent.year_min, seg.year_min);
        intent.year_max = max_opt(intent.year_max, seg.year_max);
    }
    intent.segments = segments;
    intent.era = era_label(intent.year_min, intent.year_max);
    finish(&mut intent);
    intent
}

/// Purpose, name, persona, confidence and the questions to ask.
fn finish(intent: &mut Intent) {
    let mut what: Vec<String> = intent.shows.clone();
    what.extend(intent.genres.iter().cloned());
    what.extend(intent.collections.iter().cloned());
    let timed = intent.segments.iter().any(|s| s.time.is_some());
    let content = intent.segments.iter().any(Segment::has_content);
    intent.purpose = match (what.is_empty(), &intent.era) {
        (true, _) => "general entertainment".to_string(),
        (false, Some(era)) => format!("{era} {}", what.join(", ")),
        (false, None) => what.join(", "),
    };
    let head: Vec<&str> = what.iter().take(2).map(String::as_str).collect();
    intent.suggested_name = match (head.is_empty(), &intent.era) {
        (true, _) => "New Channel".to_string(),
        (false, Some(era)) => format!("{era} {}", head.join(" & ")),
        (false, None) => head.join(" & "),
    };
    let has = |g: &str| intent.genres.iter().any(|x| x.eq_ignore_ascii_case(g));
    intent.suggested_persona = if intent.audience == "kids" || has("Animation") {
        "kids_expert"
    } else if has("Documentary") {
        "pbs_expert"
    } else if has("Sports") {
        "sports_expert"
    } else if intent.request.to_lowercase().contains("movie") {
        "movie_critic"
    } else {
        "tv_executive"
    };
    let mut confidence = 0.2_f32;
    if content {
        confidence += 0.4;
    }
    if intent.era.is_some() {
        confidence += 0.15;
    }
    if timed {
        confidence += 0.15;
    }
    if intent.segments.iter().all(Segment::has_content) && content {
        confidence += 0.1;
    }
    intent.confidence = (confidence * 100.0).round() / 100.0;
    if !content {
        intent.clarification_questions.push(
            "Which genres, shows or collections of your library should the channel play?"
                .to_string(),
        );
    }
    if intent.year_min.is_none() && content {
        intent
            .clarification_questions
            .push("Any era or years (e.g. \"90s\")?".to_string());
    }
    intent.needs_clarification = !content;
}

fn segment(part: &str, vocab: &Vocabulary) -> Segment {
    let mut seg = Segment {
        text: part.to_string(),
        ..Segment::default()
    };
    for w in words(part) {
        if let Some((_, genre)) = SYNONYMS.iter().find(|(word, _)| *word == w) {
            let known = vocab.genres.iter().find(|g| g.eq_ignore_ascii_case(genre));
            push_unique(&mut seg.genres, known.map_or(*genre, String::as_str));
        }
        if let Some((_, bits)) = DAYS
            .iter()
            .find(|(day, _)| w.strip_suffix('s').unwrap_or(w) == *day)
        {
            seg.days |= bits;
        }
        if let Some((lo, hi)) = years(w) {
            seg.year_min = min_opt(seg.year_min, Some(lo));
            seg.year_max = max_opt(seg.year_max, Some(hi));
        }
    }
    let named = |names: &[String], out: &mut Vec<String>| {
        for name in names {
            if name.len() >= 3 && contains_phrase(part, &name.to_lowercase()) {
                push_unique(out, name);
            }
        }
    };
    named(&vocab.genres, &mut seg.genres);
    named(&vocab.shows, &mut seg.shows);
    named(&vocab.collections, &mut seg.collections);
    named(&vocab.libraries, &mut seg.libraries);
    seg.time = TIMES
        .iter()
        .find(|(phrase, _)| {
            contains_phrase(part, phrase) || contains_phrase(part, &format!("{phrase}s"))
        })
        .map(|(_, t)| *t);
    seg
}

/// `"90s"`, `"'90s"`, `"1990s"`, `"1994"` → the years they cover.
pub fn years(word: &str) -> Option<(i32, i32)> {
    let w = word.trim_start_matches('\'');
    if let Some(decade) = w.strip_suffix('s') {
        let n: i32 = decade.parse().ok()?;
        return match decade.len() {
            2 if n % 10 == 0 => {
                let base = if n <= 20 { 2000 + n } else { 1900 + n };
                Some((base, base + 9))
            }
            4 if n % 10 == 0 && (1900..2100).contains(&n) => Some((n, n + 9)),
            _ => None,
        };
    }
    let n: i32 = w.parse().ok().filter(|_| w.len() == 4)?;
    (1900..2100).contains(&n).then_some((n, n))
}

pub fn era_label(lo: Option<i32>, hi: Option<i32>) -> Option<String> {
    let (lo, hi) = (lo?, hi?);
    Some(if hi - lo == 9 && lo % 10 == 0 {
        format!("{:02}s", lo % 100)
    } else if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}-{hi}")
    })
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
}

/// `phrase` in `text` on word boundaries.
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    text.match_indices(phrase).any(|(i, _)| {
        boundary(text[..i].chars().next_back()) && boundary(text[i + phrase.len()..].chars().next())
    })
}

fn push_unique(out: &mut Vec<String>, value: &str) {
    if !out.iter().any(|v| v.eq_ignore_ascii_case(value)) {
        out.push(value.to_string());
    }
}

fn union(out: &mut Vec<String>, more: &[String]) {
    more.iter().for_each(|v| push_unique(out, v));
}

fn min_opt(a: Option<i32>, b: Option<i32>) -> Option<i32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn max_opt(a: Option<i32>, b: Option<i32>) -> Option<i32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        Vocabulary {
            genres: vec!["Animation".into(), "Comedy".into(), "Drama".into()],
            shows: vec!["Toon Town".into()],
            collections: vec!["Saturday Classics".into()],
            libraries: vec!["Media".into()],
        }
    }

    #[test]
    fn cartoons_on_saturday_mornings_and_sitcoms_at_night() {
        let i = analyze(
            "90s cartoons on Saturday mornings, sitcoms at night",
            &vocab(),
        );
        assert_eq!(i.genres, ["Animation", "Comedy"]);
        assert_eq!((i.year_min, i.year_max), (Some(1990), Some(1999)));
        assert_eq!(i.era.as_deref(), Some("90s"));
        assert_eq!(i.segments.len(), 2);
        assert_eq!(i.segments[0].days, 64);
        assert_eq!(i.segments[0].time.map(|t| t.start_minute), Some(360));
        assert_eq!(i.segments[1].time.map(|t| t.label), Some("night"));
        assert_eq!(i.suggested_persona, "kids_expert");
        assert_eq!(i.suggested_name, "90s Animation & Comedy");
        assert!(!i.needs_clarification);
        assert!(i.confidence >= 0.8, "{}", i.confidence);
    }

    #[test]
    fn names_from_the_library_and_nothing_understood() {
        let i = analyze("Toon Town and the saturday classics for kids", &vocab());
        assert_eq!(i.shows, ["Toon Town"]);
        assert_eq!(i.collections, ["Saturday Classics"]);
        assert_eq!(i.audience, "kids");
        let none = analyze("something nice", &vocab());
        assert!(none.needs_clarification);
        assert!(!none.clarification_questions.is_empty());
        assert_eq!(none.suggested_name, "New Channel");
    }

    #[test]
    fn years_and_decades() {
        assert_eq!(years("80s"), Some((1980, 1989)));
        assert_eq!(years("'00s"), Some((2000, 2009)));
        assert_eq!(years("1970s"), Some((1970, 1979)));
        assert_eq!(years("1994"), Some((1994, 1994)));
        assert_eq!(years("95s"), None);
        assert_eq!(years("12345"), None);
    }
}
