//! Wall-clock time as the rest of the code sees it: UTC milliseconds since the epoch
//! (`UnixMs`), and the two text forms clients exchange: RFC 3339 (`2026-01-05T20:00:00Z`)
//! in the API and `YYYYMMDDhhmmss +0000` in XMLTV.

use jiff::Timestamp;

/// Milliseconds since the Unix epoch, UTC. The unit every stored time uses (`*_ms` columns).
pub type UnixMs = i64;

pub fn now_ms() -> UnixMs {
    Timestamp::now().as_millisecond()
}

/// `2026-01-05T20:00:00Z`, or with milliseconds when they are not zero. Written field by
/// field: jiff's strftime engine would add ~25 KB to the binary for two fixed layouts.
pub fn rfc3339(ms: UnixMs) -> String {
    use std::fmt::Write;
    let (ms, dt) = match Timestamp::from_millisecond(ms) {
        Ok(ts) => (ms, utc(ts)),
        Err(_) => (0, utc(Timestamp::UNIX_EPOCH)),
    };
    let mut out = String::with_capacity(24);
    push_fields(&mut out, dt, ["-", "T", ":"]);
    let millis = ms.rem_euclid(1000);
    if millis != 0 {
        let _ = write!(out, ".{millis:03}");
    }
    out.push('Z');
    out
}

fn utc(ts: Timestamp) -> jiff::civil::DateTime {
    ts.to_zoned(jiff::tz::TimeZone::UTC).datetime()
}

/// Year, month, day, hour, minute, second as zero-padded digits; `[date, between, time]`
/// separate the date's fields, the date from the time, and the time's fields.
fn push_fields(out: &mut String, dt: jiff::civil::DateTime, [date, between, time]: [&str; 3]) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{:04}{date}{:02}{date}{:02}{between}{:02}{time}{:02}{time}{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
}

/// Parses RFC 3339; a naive date-time (no zone) is taken as UTC, as API.md says.
pub fn parse_rfc3339(text: &str) -> Option<UnixMs> {
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    let naive: jiff::civil::DateTime = text.parse().ok()?;
    naive
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// XMLTV's `YYYYMMDDhhmmss +0000`, written into `out` without allocating.
pub fn write_xmltv(ms: UnixMs, out: &mut String) {
    let dt = utc(Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH));
    push_fields(out, dt, ["", "", ""]);
    out.push_str(" +0000");
}

/// A configured time zone: an IANA name from the system's tz database
/// (`/usr/share/zoneinfo`, "Europe/Berlin"), or a POSIX TZ rule ("CET-1CEST,M3.5.0,M10.5.0/3",
/// what OpenWrt routers keep in /etc/TZ) for boxes without that database. Both follow DST.
pub fn zone(name: &str) -> Option<jiff::tz::TimeZone> {
    // The default. A name lookup first indexes the whole tz database (a walk of
    // /usr/share/zoneinfo, ~1 ms, on the start-up path before the listener); UTC has no rules
    // to look up.
    if name.eq_ignore_ascii_case("UTC") {
        return Some(jiff::tz::TimeZone::UTC);
    }
    if let Ok(tz) = jiff::tz::TimeZone::get(name) {
        return Some(tz);
    }
    jiff::tz::TimeZone::posix(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let ms = 1_767_643_200_000; // 2026-01-05T20:00:00Z
        assert_eq!(rfc3339(ms), "2026-01-05T20:00:00Z");
        assert_eq!(rfc3339(ms + 5), "2026-01-05T20:00:00.005Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(i64::MAX), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2026-01-05T20:00:00Z"), Some(ms));
        assert_eq!(parse_rfc3339("2026-01-05T21:00:00+01:00"), Some(ms));
        assert_eq!(parse_rfc3339("2026-01-05T20:00:00"), Some(ms));
        assert_eq!(parse_rfc3339("yesterday"), None);
        let mut s = String::new();
        write_xmltv(ms, &mut s);
        assert_eq!(s, "20260105200000 +0000");
    }

    #[test]
    fn zones_by_name_or_posix_rule() {
        let berlin_rule = zone("CET-1CEST,M3.5.0,M10.5.0/3").expect("POSIX rule");
        // 2026-07-01T12:00:00Z is 14:00 summer time in both.
        let ts = Timestamp::from_millisecond(1_782_907_200_000).unwrap();
        assert_eq!(ts.to_zoned(berlin_rule).hour(), 14);
        if let Some(named) = zone("Europe/Berlin") {
            assert_eq!(ts.to_zoned(named).hour(), 14);
        }
        assert!(zone("Mars/Olympus_Mons").is_none());
        let utc = zone("UTC").expect("the default zone");
        assert_eq!(ts.to_zoned(utc).hour(), 12);
    }
}
