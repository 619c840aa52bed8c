//! The PatternDetector: classifies WARN/ERROR records (FFmpeg's stderr tail reaches the log
//! inside the feeder's `ffmpeg failed` record) into known failure patterns, each with a
//! confidence and its evidence lines. It keeps a fixed-size window of the classified lines
//! (`WINDOW_LINES`, each cut to `EVIDENCE_BYTES`), so its memory is bounded whatever the
//! log rate: at 1,000 error lines a second it forgets the oldest, it never grows.
//!
//! Pure: time is passed in. It knows nothing of the stream or the database.

use std::collections::VecDeque;

use serde::Serialize;
use smol_str::SmolStr;

/// Lines kept for `analyze_sequence`.
pub const WINDOW_LINES: usize = 128;
/// A line older than this leaves the window (the health rule's "5 errors in 5 min").
pub const WINDOW_MS: i64 = 5 * 60 * 1000;
/// A line's text kept as evidence: FFmpeg's reason is in its first few hundred bytes.
pub const EVIDENCE_BYTES: usize = 320;
/// Evidence lines reported with one finding.
pub const MAX_EVIDENCE: usize = 5;
/// Failures of one item on one channel within the window that make a crash loop. The
/// feeder skips an item after two failures in a row; a third record (its skip) or a
/// failure after a restart means the item keeps failing.
pub const CRASH_LOOP_FAILURES: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    FileUnreadable,
    CodecUnsupported,
    SourceUnreachable,
    SourceUnauthorized,
    DiskFull,
    #[serde(rename = "ffmpeg_crash_loop")]
    CrashLoop,
    Stall,
    EncoderUnavailable,
    TunerExhaustion,
}

impl Pattern {
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::FileUnreadable => "file_unreadable",
            Pattern::CodecUnsupported => "codec_unsupported",
            Pattern::SourceUnreachable => "source_unreachable",
            Pattern::SourceUnauthorized => "source_unauthorized",
            Pattern::DiskFull => "disk_full",
            Pattern::CrashLoop => "ffmpeg_crash_loop",
            Pattern::Stall => "stall",
            Pattern::EncoderUnavailable => "encoder_unavailable",
            Pattern::TunerExhaustion => "tuner_exhaustion",
        }
    }
}

/// What a line says, by the words FFmpeg and our own records use. The first rule that
/// matches wins, so the specific causes come before the generic ones.
const RULES: &[(&str, Pattern, f32)] = &[
    ("No space left on device", Pattern::DiskFull, 0.95),
    ("All tuners in use", Pattern::TunerExhaustion, 0.9),
    ("401 Unauthorized", Pattern::SourceUnauthorized, 0.9),
    ("HTTP error 401", Pattern::SourceUnauthorized, 0.9),
    ("403 Forbidden", Pattern::SourceUnauthorized, 0.85),
    ("HTTP error 403", Pattern::SourceUnauthorized, 0.85),
    ("Connection refused", Pattern::SourceUnreachable, 0.85),
    ("Connection timed out", Pattern::SourceUnreachable, 0.8),
    ("No route to host", Pattern::SourceUnreachable, 0.85),
    (
        "Failed to resolve hostname",
        Pattern::SourceUnreachable,
        0.85,
    ),
    (
        "Name or service not known",
        Pattern::SourceUnreachable,
        0.85,
    ),
    ("Server returned 5", Pattern::SourceUnreachable, 0.7),
    ("Unknown encoder", Pattern::EncoderUnavailable, 0.9),
    (
        "Error while opening encoder",
        Pattern::EncoderUnavailable,
        0.8,
    ),
    (
        "No capable devices found",
        Pattern::EncoderUnavailable,
        0.85,
    ),
    ("Could not open encoder", Pattern::EncoderUnavailable, 0.8),
    ("Unknown decoder", Pattern::CodecUnsupported, 0.9),
    ("Decoder not found", Pattern::CodecUnsupported, 0.85),
    (
        "codec not currently supported",
        Pattern::CodecUnsupported,
        0.85,
    ),
    ("Unsupported codec", Pattern::CodecUnsupported, 0.8),
    ("No such file or directory", Pattern::FileUnreadable, 0.9),
    ("Permission denied", Pattern::FileUnreadable, 0.85),
    (
        "Invalid data found when processing input",
        Pattern::FileUnreadable,
        0.85,
    ),
    ("moov atom not found", Pattern::FileUnreadable, 0.85),
    ("End of file", Pattern::FileUnreadable, 0.5),
    ("ffmpeg stalled", Pattern::Stall, 0.75),
];

/// A record's own words that mean "this run of an item failed".
const FAILURE_MARKS: &[&str] = &["ffmpeg failed", "item unplayable", "ffmpeg stalled"];

/// One classified line, as the window keeps it.
#[derive(Debug, Clone)]
struct Line {
    at_ms: i64,
    channel: Option<SmolStr>,
    item: Option<i64>,
    pattern: Option<(Pattern, f32)>,
    failure: bool,
    text: String,
}

/// A detected pattern with what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub pattern: Pattern,
    pub confidence: f32,
    pub channel: Option<SmolStr>,
    pub item_id: Option<i64>,
    /// For a crash loop: what the failures themselves say (the file, the codec, ...).
    pub cause: Option<Pattern>,
    pub evidence: Vec<String>,
}

/// The first rule `text` matches.
pub fn classify(text: &str) -> Option<(Pattern, f32)> {
    RULES
        .iter()
        .find(|(needle, _, _)| text.contains(needle))
        .map(|(_, p, c)| (*p, *c))
}

/// The value of ` key=` in a record's fields (`channel=101`, `item=Some(5)`).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &text[at..];
    let end = rest.find(' ').unwrap_or(rest.len());
    Some(&rest[..end])
}

fn item_of(text: &str) -> Option<i64> {
    let raw = field(text, "item")?;
    let raw = raw
        .strip_prefix("Some(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(raw);
    raw.parse().ok()
}

fn cut(text: &str) -> String {
    let mut end = text.len().min(EVIDENCE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// One event on its own: the pattern it shows, if any (no window needed).
pub fn find_root_cause(text: &str) -> Option<Finding> {
    let (pattern, confidence) = classify(text)?;
    Some(Finding {
        pattern,
        confidence,
        channel: field(text, "channel").map(SmolStr::from),
        item_id: item_of(text),
        cause: None,
        evidence: vec![cut(text)],
    })
}

/// The window of recent classified lines.
#[derive(Debug, Default)]
pub struct PatternDetector {
    window: VecDeque<Line>,
}

impl PatternDetector {
    pub fn new() -> PatternDetector {
        PatternDetector {
            window: VecDeque::with_capacity(WINDOW_LINES),
        }
    }

    /// Takes one WARN/ERROR record's message at `at_ms`. Lines that say nothing known are
    /// not kept. Returns the crash loop this line completes, if it completes one.
    pub fn feed(&mut self, at_ms: i64, text: &str) -> Option<Finding> {
        let pattern = classify(text);
        let failure = FAILURE_MARKS.iter().any(|m| text.contains(m));
        if pattern.is_none() && !failure {
            return None;
        }
        self.prune(at_ms);
        if self.window.len() == WINDOW_LINES {
            self.window.pop_front();
        }
        let line = Line {
            at_ms,
            channel: field(text, "channel").map(SmolStr::from),
            item: item_of(text),
            pattern,
            failure,
            text: cut(text),
        };
        let key = (line.channel.clone(), line.item);
        self.window.push_back(line);
        match key {
            (Some(channel), Some(item)) if failure => self.crash_loop(&channel, item),
            _ => None,
        }
    }

    fn prune(&mut self, now_ms: i64) {
        while self
            .window
            .front()
            .is_some_and(|l| now_ms - l.at_ms > WINDOW_MS)
        {
            self.window.pop_front();
        }
    }

    /// A crash loop of `item` on `channel`, when it failed `CRASH_LOOP_FAILURES` times in
    /// the window; its cause is the pattern most of those failures show.
    fn crash_loop(&self, channel: &str, item: i64) -> Option<Finding> {
        let lines: Vec<&Line> = self
            .window
            .iter()
            .filter(|l| l.failure && l.item == Some(item) && l.channel.as_deref() == Some(channel))
            .collect();
        if lines.len() < CRASH_LOOP_FAILURES {
            return None;
        }
        let cause = most_common(lines.iter().filter_map(|l| l.pattern.map(|p| p.0)));
        let confidence = (0.5 + 0.1 * lines.len() as f32).min(0.95);
        Some(Finding {
            pattern: Pattern::CrashLoop,
            confidence,
            channel: Some(SmolStr::from(channel)),
            item_id: Some(item),
            cause,
            evidence: evidence(lines.iter().copied()),
        })
    }

    /// Every pattern the window shows at `now_ms`: crash loops per channel and item first,
    /// then each other pattern per channel, most confident first.
    pub fn analyze_sequence(&mut self, now_ms: i64) -> Vec<Finding> {
        self.prune(now_ms);
        let mut out: Vec<Finding> = Vec::new();
        for line in &self.window {
            if let (Some(channel), Some(item), true) = (&line.channel, line.item, line.failure) {
                let seen = out.iter().any(|f| {
                    f.pattern == Pattern::CrashLoop
                        && f.item_id == Some(item)
                        && f.channel.as_ref() == Some(channel)
                });
                if !seen {
                    out.extend(self.crash_loop(channel, item));
                }
            }
        }
        for line in &self.window {
            let Some((pattern, confidence)) = line.pattern else {
                continue;
            };
            match out
                .iter_mut()
                .find(|f| f.pattern == pattern && f.channel == line.channel)
            {
                Some(f) => {
                    // Repeated evidence of the same thing raises the confidence a little.
                    f.confidence = (f.confidence + 0.02).min(0.99);
                    if f.evidence.len() < MAX_EVIDENCE {
                        f.evidence.push(line.text.clone());
                    }
                }
                None => out.push(Finding {
                    pattern,
                    confidence,
                    channel: line.channel.clone(),
                    item_id: line.item,
                    cause: None,
                    evidence: vec![line.text.clone()],
                }),
            }
        }
        // A crash loop explains its lines' own patterns: it comes first.
        out.sort_by(|a, b| {
            let loops = |f: &Finding| f.pattern == Pattern::CrashLoop;
            loops(b)
                .cmp(&loops(a))
                .then(b.confidence.total_cmp(&a.confidence))
        });
        out
    }

    /// Lines in the window.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// Bytes the detector holds: the window's slots and the text of its lines (for the
    /// memory figure, `scripts/agent-detector-memory`).
    pub fn retained_bytes(&self) -> usize {
        let slots = self.window.capacity() * std::mem::size_of::<Line>();
        slots + self.window.iter().map(|l| l.text.capacity()).sum::<usize>()
    }

    pub fn clear(&mut self) {
        self.window.clear();
    }
}

fn evidence<'a>(lines: impl DoubleEndedIterator<Item = &'a Line>) -> Vec<String> {
    let mut out: Vec<String> = lines
        .rev()
        .take(MAX_EVIDENCE)
        .map(|l| l.text.clone())
        .collect();
    out.reverse();
    out
}

fn most_common(patterns: impl Iterator<Item = Pattern>) -> Option<Pattern> {
    let mut counts: Vec<(Pattern, usize)> = Vec::new();
    for p in patterns {
        match counts.iter_mut().find(|(q, _)| *q == p) {
            Some((_, n)) => *n += 1,
            None => counts.push((p, 1)),
        }
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILED: &str = "ffmpeg failed channel=101 item=Some(7) status=Some(ExitStatus(unix_wait_status(256))) stderr=[\"/data/m/x.mp4: Invalid data found when processing input\"]";

    #[test]
    fn each_known_pattern_is_classified() {
        let cases = [
            (
                "av_interleaved_write_frame(): No space left on device",
                Pattern::DiskFull,
            ),
            ("tune refused: All tuners in use", Pattern::TunerExhaustion),
            (
                "[http @ 0x1] HTTP error 401 Unauthorized",
                Pattern::SourceUnauthorized,
            ),
            (
                "tcp://10.0.0.9:80: Connection refused",
                Pattern::SourceUnreachable,
            ),
            (
                "Unknown encoder 'h264_v4l2m2m'",
                Pattern::EncoderUnavailable,
            ),
            (
                "Decoder not found for stream #0:0",
                Pattern::CodecUnsupported,
            ),
            (
                "/m/gone.mkv: No such file or directory",
                Pattern::FileUnreadable,
            ),
            (FAILED, Pattern::FileUnreadable),
            (
                "ffmpeg stalled; restarting channel=3 item=Some(2)",
                Pattern::Stall,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(classify(line).map(|c| c.0), Some(want), "{line}");
            assert_eq!(serde_json::to_value(want).unwrap(), want.as_str());
        }
        assert_eq!(
            serde_json::to_value(Pattern::CrashLoop).unwrap(),
            Pattern::CrashLoop.as_str()
        );
        assert_eq!(classify("channel started channel=1 tuner=0"), None);
    }

    #[test]
    fn the_root_cause_of_one_event_names_its_channel_and_item() {
        let f = find_root_cause(FAILED).unwrap();
        assert_eq!(f.pattern, Pattern::FileUnreadable);
        assert_eq!(f.channel.as_deref(), Some("101"));
        assert_eq!(f.item_id, Some(7));
        assert!(f.confidence > 0.8);
        assert!(find_root_cause("all good").is_none());
    }

    #[test]
    fn the_same_item_failing_three_times_is_a_crash_loop_with_its_cause() {
        let mut d = PatternDetector::new();
        assert!(d.feed(0, FAILED).is_none());
        assert!(d
            .feed(1000, &FAILED.replace("Some(7)", "Some(8)"))
            .is_none());
        assert!(d.feed(2000, FAILED).is_none());
        let f = d
            .feed(3000, "item unplayable; skipping it channel=101 item=7")
            .expect("crash loop");
        assert_eq!(f.pattern, Pattern::CrashLoop);
        assert_eq!(f.item_id, Some(7));
        assert_eq!(f.cause, Some(Pattern::FileUnreadable));
        assert_eq!(f.evidence.len(), 3);
        let all = d.analyze_sequence(4000);
        assert_eq!(all[0].pattern, Pattern::CrashLoop);
        assert!(all.iter().any(|f| f.pattern == Pattern::FileUnreadable));
        // Old lines leave the window: nothing is left five minutes later.
        assert!(d.analyze_sequence(3000 + WINDOW_MS + 1).is_empty());
    }

    #[test]
    fn memory_is_bounded_by_the_window_whatever_the_rate() {
        let mut d = PatternDetector::new();
        let long = format!("{FAILED} {}", "x".repeat(2_000));
        for i in 0..10_000 {
            d.feed(i, &long);
        }
        assert_eq!(d.len(), WINDOW_LINES);
        let bound = WINDOW_LINES * (std::mem::size_of::<Line>() + EVIDENCE_BYTES) * 2;
        assert!(d.retained_bytes() <= bound, "{}", d.retained_bytes());
        // Unclassified lines are not kept at all.
        d.clear();
        for i in 0..1000 {
            d.feed(i, "listening on 0.0.0.0:8411");
        }
        assert!(d.is_empty());
    }

    /// The memory figure (`scripts/agent-detector-memory`): 1,000 error lines a second for
    /// `AGENT_FIGURE_SECONDS` (60) in real time, of every kind (crash loops over many
    /// items, known patterns, unknown lines, 10 KB lines). Prints the detector's retained
    /// bytes and lines, and the process's RSS before and after.
    #[test]
    #[ignore = "a figure: takes a minute of wall-clock time"]
    fn figure_detector_memory_under_1000_lines_a_second() {
        let seconds: u64 = std::env::var("AGENT_FIGURE_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        let huge = format!(
            "ffmpeg failed channel=7 item=Some(1) stderr=[{}]",
            "y".repeat(10_000)
        );
        let rss_before = crate::system::rss_bytes().unwrap_or(0);
        let mut d = PatternDetector::new();
        let (mut fed, mut peak_bytes, mut peak_lines, mut loops) = (0u64, 0, 0, 0u64);
        let started = std::time::Instant::now();
        let t0 = crate::time::now_ms();
        while started.elapsed().as_secs() < seconds {
            // Paced by the clock: one line per elapsed millisecond, 1,000 a second.
            let due = started.elapsed().as_millis() as u64;
            while fed < due {
                let n = fed;
                let line = match n % 5 {
                    0 => format!("{FAILED} channel={} item=Some({})", n % 40, n % 97),
                    1 => format!(
                        "ffmpeg failed channel={} item=Some({}) stderr=[\"Connection refused\"]",
                        n % 40,
                        n % 13
                    ),
                    2 => "tune refused: All tuners in use".to_string(),
                    3 => format!("something unknown happened #{n}"),
                    _ => huge.clone(),
                };
                let at = t0 + started.elapsed().as_millis() as i64;
                loops += u64::from(d.feed(at, &line).is_some());
                fed += 1;
            }
            peak_bytes = peak_bytes.max(d.retained_bytes());
            peak_lines = peak_lines.max(d.len());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let findings = d
            .analyze_sequence(t0 + started.elapsed().as_millis() as i64)
            .len();
        let rss_after = crate::system::rss_bytes().unwrap_or(0);
        println!(
            "detector: {fed} lines in {:.1} s ({:.0}/s); retained now {} bytes in {} lines; peak {} bytes, {} lines (cap {WINDOW_LINES}); crash loops flagged {loops}; findings {findings}; RSS before {} KiB, after {} KiB",
            started.elapsed().as_secs_f64(),
            fed as f64 / started.elapsed().as_secs_f64(),
            d.retained_bytes(),
            d.len(),
            peak_bytes,
            peak_lines,
            rss_before / 1024,
            rss_after / 1024,
        );
        assert!(peak_lines <= WINDOW_LINES);
    }
}
