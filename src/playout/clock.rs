//! Wall-clock arithmetic in the configured time zone: the next occurrence of a fixed start
//! time ("20:00 every day", following DST), and pad boundaries (the next :00/:30). Instants
//! stay UTC milliseconds; only these questions need the zone.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Days looked ahead for a fixed start: a civil time exists at least once in any two
/// consecutive days, even across a DST gap (a skipped 02:30 resolves to 03:30).
const FIXED_START_LOOKAHEAD_DAYS: usize = 3;

/// The first instant ≥ `at_ms` whose local time in `tz` is `time`. A time inside a DST gap
/// maps to the instant after the gap; a repeated time takes its first occurrence.
pub fn next_occurrence(at_ms: i64, time: Time, tz: &TimeZone) -> i64 {
    let Ok(ts) = Timestamp::from_millisecond(at_ms) else {
        return at_ms;
    };
    let mut date = ts.to_zoned(tz.clone()).date();
    for _ in 0..FIXED_START_LOOKAHEAD_DAYS {
        if let Ok(zoned) = date.to_datetime(time).to_zoned(tz.clone()) {
            let ms = zoned.timestamp().as_millisecond();
            if ms >= at_ms {
                return ms;
            }
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => break,
        }
    }
    at_ms
}

/// Today's occurrence (local date of `at_ms`) of `time`, which may be before `at_ms`.
pub fn occurrence_today(at_ms: i64, time: Time, tz: &TimeZone) -> i64 {
    let Ok(ts) = Timestamp::from_millisecond(at_ms) else {
        return at_ms;
    };
    let date = ts.to_zoned(tz.clone()).date();
    date.to_datetime(time)
        .to_zoned(tz.clone())
        .map(|z| z.timestamp().as_millisecond())
        .unwrap_or(at_ms)
}

/// The first instant > `at_ms` on a multiple of `minutes` of local time (`minutes` = 30:
/// the next :00 or :30). With zones on whole-hour offsets this is plain UTC arithmetic; the
/// offset matters for :30 and :45 zones.
pub fn next_boundary(at_ms: i64, minutes: u32, tz: &TimeZone) -> i64 {
    let step_ms = i64::from(minutes.max(1)) * 60_000;
    let offset_ms = Timestamp::from_millisecond(at_ms)
        .map(|ts| i64::from(tz.to_offset(ts).seconds()) * 1000)
        .unwrap_or(0);
    let local = at_ms + offset_ms;
    (local.div_euclid(step_ms) + 1) * step_ms - offset_ms
}

/// Parses `HH:MM[:SS]`.
pub fn parse_time(text: &str) -> Option<Time> {
    let mut parts = text.split(':');
    let hour: i8 = parts.next()?.parse().ok()?;
    let minute: i8 = parts.next()?.parse().ok()?;
    let second: i8 = match parts.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Time::new(hour, minute, second, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn fixed_start_follows_dst_in_berlin() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let t20 = parse_time("20:00").unwrap();
        // Winter: 20:00 CET = 19:00Z. Summer (from 2026-03-29): 20:00 CEST = 18:00Z.
        assert_eq!(
            next_occurrence(ms("2026-03-28T12:00:00Z"), t20, &tz),
            ms("2026-03-28T19:00:00Z")
        );
        assert_eq!(
            next_occurrence(ms("2026-03-28T19:00:01Z"), t20, &tz),
            ms("2026-03-29T18:00:00Z")
        );
        // 02:30 does not exist on 2026-03-29 in Berlin: it resolves to 03:30 CEST (01:30Z).
        let t0230 = parse_time("02:30:00").unwrap();
        assert_eq!(
            next_occurrence(ms("2026-03-29T00:00:00Z"), t0230, &tz),
            ms("2026-03-29T01:30:00Z")
        );
    }

    #[test]
    fn boundaries_are_local() {
        let utc = TimeZone::UTC;
        assert_eq!(
            next_boundary(ms("2026-01-05T20:10:00Z"), 30, &utc),
            ms("2026-01-05T20:30:00Z")
        );
        assert_eq!(
            next_boundary(ms("2026-01-05T20:30:00Z"), 30, &utc),
            ms("2026-01-05T21:00:00Z")
        );
        // India is UTC+05:30: local :00 is UTC :30.
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        assert_eq!(
            next_boundary(ms("2026-01-05T20:10:00Z"), 60, &kolkata),
            ms("2026-01-05T20:30:00Z")
        );
    }

    #[test]
    fn parses_times() {
        assert_eq!(parse_time("20:00"), Time::new(20, 0, 0, 0).ok());
        assert_eq!(parse_time("06:30:15"), Time::new(6, 30, 15, 0).ok());
        assert_eq!(parse_time("24:00"), None);
        assert_eq!(parse_time("ab"), None);
        assert_eq!(parse_time("1:2:3:4"), None);
    }
}
