//! ErsatzTV's presets that channels and schedule items name by id: filler presets
//! (`FillerPreset`: how much filler, from which collection) and watermarks
//! (`ChannelWatermark`: placement, mode, opacity). Both become ours by name; a watermark's
//! image stays behind (ErsatzTV keeps it in its artwork cache, not in the database), so the
//! report asks for it to be uploaded.

use std::collections::HashMap;

use rusqlite::Connection;

use super::{FillerSource, ForeignCollection, ForeignFiller, ForeignWatermark, ReadError, Tables};
use crate::kinds::{FillerModeKind, WatermarkLocation, WatermarkMode, WatermarkSize};

/// Filler presets by ErsatzTV id. Only presets drawing from a collection come over: shows,
/// seasons, smart collections and playlists there have no counterpart read here.
pub(super) fn fillers(
    conn: &Connection,
    t: &Tables,
    collections: &HashMap<i64, ForeignCollection>,
    warnings: &mut Vec<String>,
) -> Result<HashMap<i64, ForeignFiller>, ReadError> {
    let f = "FillerPreset";
    let mut out = HashMap::new();
    if !t.has(f) {
        return Ok(out);
    }
    let sql = format!(
        "SELECT Id, Name, {}, {}, {}, {}, {}, {} FROM {f} ORDER BY Id",
        t.or(f, "FillerMode", "0"),
        t.or(f, "Duration", "NULL"),
        t.or(f, "Count", "NULL"),
        t.or(f, "PadToNearestMinute", "NULL"),
        t.or(f, "CollectionType", "0"),
        t.or(f, "CollectionId", "NULL"),
    );
    let rows = super::all(conn, &sql, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<i64>>(5)?,
            (r.get::<_, i64>(6)?, r.get::<_, Option<i64>>(7)?),
        ))
    })?;
    for (id, name, mode, duration, count, pad, (kind, collection)) in rows {
        let collection = match (kind, collection) {
            (0, Some(c)) => collections.get(&c).map(|c| c.name.clone()),
            _ => None,
        };
        let Some(collection) = collection else {
            warnings.push(format!(
                "filler preset \"{name}\": it draws from ErsatzTV collection type {kind}, not a \
                 collection read here; left out"
            ));
            continue;
        };
        // ErsatzTV's FillerMode: None 0 (a fallback preset), Duration 1, Multiple 2, Pad 3.
        let seconds = duration.as_deref().and_then(timespan_seconds);
        let (mode, count, duration_seconds, pad_to_minutes) = match (mode, seconds, count, pad) {
            (1, Some(s), _, _) if s > 0 => (FillerModeKind::Duration, None, Some(s), None),
            (2, _, Some(n), _) if n > 0 => (FillerModeKind::Count, Some(n), None, None),
            (3, _, _, Some(m)) if m > 0 => (FillerModeKind::Pad, None, None, Some(m)),
            // A fallback preset plays until the gap ends: its mode is not used.
            _ => (FillerModeKind::Count, Some(1), None, None),
        };
        let filler = ForeignFiller {
            name,
            source: FillerSource::Collection(collection),
            mode,
            count,
            duration_seconds,
            pad_to_minutes,
        };
        out.insert(id, filler);
    }
    Ok(out)
}

/// .NET's `TimeSpan` as EF Core stores it in SQLite: `[d.]hh:mm:ss[.fffffff]`.
fn timespan_seconds(text: &str) -> Option<i64> {
    let (days, clock) = match text.split_once('.') {
        Some((d, rest)) if rest.contains(':') && !d.contains(':') => (d.parse::<i64>().ok()?, rest),
        _ => (0, text),
    };
    let mut parts = clock.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(days * 86_400 + h * 3_600 + m * 60 + s as i64)
}

/// Watermarks by ErsatzTV id.
pub(super) fn watermarks(
    conn: &Connection,
    t: &Tables,
    warnings: &mut Vec<String>,
) -> Result<HashMap<i64, ForeignWatermark>, ReadError> {
    let w = "ChannelWatermark";
    let mut out = HashMap::new();
    if !t.has(w) {
        return Ok(out);
    }
    let sql = format!(
        "SELECT Id, Name, {}, {}, {}, {}, {}, {}, {}, {}, {}, {} FROM {w} ORDER BY Id",
        t.or(w, "Mode", "1"),
        t.or(w, "ImageSource", "0"),
        t.or(w, "Location", "0"),
        t.or(w, "Size", "0"),
        t.or(w, "WidthPercent", "15"),
        t.or(w, "HorizontalMarginPercent", "5"),
        t.or(w, "VerticalMarginPercent", "5"),
        t.or(w, "FrequencyMinutes", "15"),
        t.or(w, "DurationSeconds", "15"),
        t.or(w, "Opacity", "100"),
    );
    let rows = super::all(conn, &sql, |r| {
        let mut n = [0i64; 10];
        for (i, v) in n.iter_mut().enumerate() {
            *v = r.get::<_, Option<i64>>(i + 2)?.unwrap_or(0);
        }
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, n))
    })?;
    for (id, name, n) in rows {
        let [mode, source, location, size, width, h_margin, v_margin, every, seconds, opacity] = n;
        // ErsatzTV's WatermarkLocation: BottomRight 0, BottomLeft 1, TopRight 2, TopLeft 3,
        // then the middles of the edges, which we do not place.
        let location = match location {
            0 => WatermarkLocation::BottomRight,
            1 => WatermarkLocation::BottomLeft,
            2 => WatermarkLocation::TopRight,
            3 => WatermarkLocation::TopLeft,
            other => {
                warnings.push(format!(
                    "watermark \"{name}\": ErsatzTV location {other} (an edge's middle) is placed at the center here"
                ));
                WatermarkLocation::Center
            }
        };
        if source == 0 {
            warnings.push(format!(
                "watermark \"{name}\": its image is in ErsatzTV's artwork cache, not its \
                 database; upload it at /api/watermarks/{{id}}/image"
            ));
        }
        out.insert(
            id,
            ForeignWatermark {
                name,
                mode: match mode {
                    0 => WatermarkMode::None,
                    2 => WatermarkMode::Intermittent,
                    _ => WatermarkMode::Permanent,
                },
                channel_logo: source == 1,
                location,
                size: if size == 1 {
                    WatermarkSize::ActualSize
                } else {
                    WatermarkSize::Scaled
                },
                width_percent: width.clamp(0, 100),
                horizontal_margin_percent: h_margin.clamp(0, 100),
                vertical_margin_percent: v_margin.clamp(0, 100),
                frequency_minutes: every.clamp(1, 1440),
                duration_seconds: seconds.clamp(1, 86_400),
                opacity: opacity.clamp(0, 100),
            },
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::timespan_seconds;

    #[test]
    fn timespans_as_ef_core_writes_them() {
        assert_eq!(timespan_seconds("00:05:00"), Some(300));
        assert_eq!(timespan_seconds("01:00:30.5000000"), Some(3630));
        assert_eq!(timespan_seconds("1.02:00:00"), Some(93_600));
        assert_eq!(timespan_seconds("five"), None);
    }
}
