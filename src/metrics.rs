//! Process-wide counters, kept in memory (never on the SD card), and rendered as Prometheus
//! text by `api::metrics`. Recording is lock-free except the per-route table, whose lock is
//! held for a short scan and never across an await.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use hyper::StatusCode;
use smol_str::SmolStr;

use crate::http::Req;

/// Distinct (route, status) series kept. Routes are a small fixed set, but a client can
/// invent paths; past this bound new series are counted under route="other".
pub const MAX_ROUTE_SERIES: usize = 256;

/// Upper bounds of the tune-latency histogram buckets, in seconds: a warm tune lands in
/// the first buckets, a cold copy tune around 0.1-0.3 s, a transcode within a second.
pub const TUNE_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A fixed-bucket histogram of durations, lock-free.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations at or below `TUNE_BUCKETS[i]`, not cumulative.
    buckets: [AtomicU64; TUNE_BUCKETS.len()],
    /// Above the last bound.
    overflow: AtomicU64,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        match TUNE_BUCKETS.iter().position(|le| secs <= *le) {
            Some(i) => self.buckets[i].fetch_add(1, Ordering::Relaxed),
            None => self.overflow.fetch_add(1, Ordering::Relaxed),
        };
        self.sum_micros.fetch_add(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// (upper bound, cumulative count) per bucket, then the sum in seconds and the count.
    pub fn cumulative(&self) -> (Vec<(f64, u64)>, f64, u64) {
        let mut running = 0;
        let buckets = TUNE_BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(le, n)| {
                running += n.load(Ordering::Relaxed);
                (*le, running)
            })
            .collect();
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        (buckets, sum, self.count.load(Ordering::Relaxed))
    }
}

/// (label, value) points of a dashboard chart.
pub type Series = Vec<(String, u64)>;

/// Viewers and traffic over time for the dashboard, in fixed buckets (24 hours, 7 days).
#[derive(Debug, Default)]
pub struct StreamHistory {
    /// (hour since the epoch, peak viewers in it), the last 24.
    hourly_viewers: Mutex<std::collections::VecDeque<(i64, u64)>>,
    /// (day since the epoch, tunes that day, bytes sent that day), the last 7.
    daily: Mutex<std::collections::VecDeque<(i64, u64, u64)>>,
}

impl StreamHistory {
    /// Records one sample: viewers now, and the tunes and bytes since the last sample.
    pub fn sample(&self, now_ms: i64, viewers: u64, new_tunes: u64, new_bytes: u64) {
        let hour = now_ms.div_euclid(3_600_000);
        if let Ok(mut h) = self.hourly_viewers.lock() {
            match h.back_mut() {
                Some((last, peak)) if *last == hour => *peak = (*peak).max(viewers),
                _ => {
                    if h.len() == 24 {
                        h.pop_front();
                    }
                    h.push_back((hour, viewers));
                }
            }
        }
        let day = now_ms.div_euclid(86_400_000);
        if let Ok(mut d) = self.daily.lock() {
            match d.back_mut() {
                Some((last, tunes, bytes)) if *last == day => {
                    *tunes += new_tunes;
                    *bytes += new_bytes;
                }
                _ => {
                    if d.len() == 7 {
                        d.pop_front();
                    }
                    d.push_back((day, new_tunes, new_bytes));
                }
            }
        }
    }

    /// (hour label, peak viewers), (day label, tunes), (day label, MB sent).
    pub fn series(&self) -> (Series, Series, Series) {
        let label = |ms: i64, len: usize| {
            crate::time::rfc3339(ms)
                .chars()
                .take(len)
                .collect::<String>()
        };
        let hourly = self
            .hourly_viewers
            .lock()
            .map(|h| {
                h.iter()
                    .map(|(hour, n)| (label(hour * 3_600_000, 13) + ":00", *n))
                    .collect()
            })
            .unwrap_or_default();
        let (streams, bandwidth) = self
            .daily
            .lock()
            .map(|d| {
                (
                    d.iter()
                        .map(|(day, t, _)| (label(day * 86_400_000, 10), *t))
                        .collect(),
                    d.iter()
                        .map(|(day, _, b)| (label(day * 86_400_000, 10), b / 1_000_000))
                        .collect(),
                )
            })
            .unwrap_or_default();
        (hourly, streams, bandwidth)
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub stream_history: StreamHistory,
    /// From a tune request to the viewer's stream being ready to send.
    pub tune_latency: Histogram,
    /// One row per (route label, status), and the slowest requests, under one lock.
    http: Mutex<RequestTable>,
    /// 200s of the documents answered from the cache (`PolledDoc`), counted without the
    /// table's lock: TV clients poll them every few seconds.
    polled: [AtomicU64; PolledDoc::ALL.len()],
    pub http_request_micros_total: AtomicU64,
    /// How late the runtime woke a 1 s timer, last sample, in microseconds.
    pub event_loop_lag_micros: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, req: &Req, status: StatusCode, elapsed: Duration) {
        let micros = elapsed.as_micros().min(u64::MAX as u128) as u64;
        self.http_request_micros_total
            .fetch_add(micros, Ordering::Relaxed);
        let label = route_label(req.parts.uri.path(), status);
        let Ok(mut table) = self.http.lock() else {
            return;
        };
        table.record(label.as_str(), status.as_u16(), micros);
        table.note_if_slow(
            req.parts.method.as_str(),
            label.as_str(),
            micros,
            crate::time::now_ms(),
        );
    }

    /// A 200 for a polled document served from the cache: one relaxed atomic add. Not
    /// timed (a cache hit takes about a microsecond; two clock reads would cost more than
    /// the rest of the accounting), so `http_request_micros_total` covers routed requests.
    pub fn record_polled(&self, doc: PolledDoc) {
        self.polled[doc as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of the (route, status, count) table, for rendering; the polled documents'
    /// counts are folded into their rows.
    pub fn http_requests(&self) -> Vec<(SmolStr, u16, u64)> {
        let mut table: Vec<(SmolStr, u16, u64)> = self
            .http
            .lock()
            .map(|t| {
                t.rows
                    .iter()
                    .map(|r| (r.label.clone(), r.status, r.count))
                    .collect()
            })
            .unwrap_or_default();
        for doc in PolledDoc::ALL {
            let n = self.polled[doc as usize].load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            match table
                .iter_mut()
                .find(|(l, s, _)| *s == 200 && l == doc.label())
            {
                Some(row) => row.2 += n,
                None => table.push((SmolStr::new_static(doc.label()), 200, n)),
            }
        }
        table
    }

    /// The routed requests' rows with their times, and the slowest requests, slowest first.
    pub fn request_times(&self) -> (Vec<RouteRow>, Vec<SlowRequest>) {
        let Ok(table) = self.http.lock() else {
            return (Vec::new(), Vec::new());
        };
        let mut slow = table.slowest.to_vec();
        slow.sort_by_key(|s| std::cmp::Reverse(s.micros));
        (table.rows.clone(), slow)
    }
}

/// Requests kept as the slowest (`/api/performance/requests/slow`).
pub const SLOWEST_KEPT: usize = 16;

/// One (route, status) series: how many, their total and longest time.
#[derive(Debug, Clone)]
pub struct RouteRow {
    pub label: SmolStr,
    pub status: u16,
    pub count: u64,
    pub micros_total: u64,
    pub micros_max: u64,
}

/// One of the slowest requests since start.
#[derive(Debug, Clone)]
pub struct SlowRequest {
    pub method: SmolStr,
    pub label: SmolStr,
    pub micros: u64,
    pub at_ms: i64,
}

#[derive(Debug, Default)]
struct RequestTable {
    rows: Vec<RouteRow>,
    slowest: heapless::Vec<SlowRequest, SLOWEST_KEPT>,
}

impl RequestTable {
    fn record(&mut self, label: &str, status: u16, micros: u64) {
        let full = self.rows.len() >= MAX_ROUTE_SERIES;
        // Past the bound, new series are counted under "other" for their status.
        let label = match self
            .rows
            .iter()
            .any(|r| r.status == status && r.label == label)
        {
            false if full => "other",
            _ => label,
        };
        if let Some(row) = self
            .rows
            .iter_mut()
            .find(|r| r.status == status && r.label == label)
        {
            row.count += 1;
            row.micros_total += micros;
            row.micros_max = row.micros_max.max(micros);
            return;
        }
        if full {
            // The table is full and has no "other" row for this status: fold into the last.
            if let Some(last) = self.rows.last_mut() {
                *last = RouteRow {
                    label: SmolStr::new_static("other"),
                    status,
                    count: last.count + 1,
                    micros_total: last.micros_total + micros,
                    micros_max: last.micros_max.max(micros),
                };
            }
            return;
        }
        self.rows.push(RouteRow {
            label: SmolStr::new(label),
            status,
            count: 1,
            micros_total: micros,
            micros_max: micros,
        });
    }

    /// Keeps the request if it is among the `SLOWEST_KEPT` slowest (a scan of 16; the
    /// entry is built only when kept, so a fast request allocates nothing).
    fn note_if_slow(&mut self, method: &str, label: &str, micros: u64, at_ms: i64) {
        let entry = || SlowRequest {
            method: SmolStr::new(method),
            label: SmolStr::new(label),
            micros,
            at_ms,
        };
        if !self.slowest.is_full() {
            let _ = self.slowest.push(entry());
            return;
        }
        let fastest = self
            .slowest
            .iter_mut()
            .min_by_key(|s| s.micros)
            .filter(|s| s.micros < micros);
        if let Some(slot) = fastest {
            *slot = entry();
        }
    }
}

/// The documents HDHomeRun clients poll, answered from the cache without the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolledDoc {
    Discover,
    Lineup,
    DeviceXml,
    RootDeviceXml,
}

impl PolledDoc {
    pub const ALL: [PolledDoc; 4] = [
        PolledDoc::Discover,
        PolledDoc::Lineup,
        PolledDoc::DeviceXml,
        PolledDoc::RootDeviceXml,
    ];

    /// The label `route_label` gives the same request.
    pub fn label(self) -> &'static str {
        match self {
            PolledDoc::Discover => "/hdhomerun/discover.json",
            PolledDoc::Lineup => "/hdhomerun/lineup.json",
            PolledDoc::DeviceXml => "/hdhomerun/device.xml",
            PolledDoc::RootDeviceXml => "/device.xml",
        }
    }
}

/// A low-cardinality label for a path: ids and channel numbers become `{id}`, unknown
/// routes are "unmatched", so a crawler cannot create a series per URL.
pub fn route_label(path: &str, status: StatusCode) -> RouteLabel {
    route_label_each_id(path, status, |_| {})
}

/// `route_label`, handing each segment it writes as `{id}` to `on_id`, in path order: the
/// audit log names the resource with them. Nothing is collected unless `on_id` keeps it.
pub fn route_label_each_id(
    path: &str,
    status: StatusCode,
    mut on_id: impl FnMut(&str),
) -> RouteLabel {
    let mut label = RouteLabel::new();
    if status == StatusCode::NOT_FOUND {
        let _ = label.push_str("unmatched");
        return label;
    }
    for seg in path
        .split('/')
        .filter(|s| !s.is_empty())
        .take(MAX_LABEL_SEGMENTS)
    {
        let is_id = seg.bytes().next().is_some_and(|b| b.is_ascii_digit())
            || seg.starts_with('v') && seg[1..].bytes().next().is_some_and(|b| b.is_ascii_digit())
            || seg.len() > MAX_LABEL_SEGMENT;
        // Cannot overflow: MAX_LABEL_SEGMENTS × (1 + MAX_LABEL_SEGMENT) fits LABEL_CAPACITY.
        let _ = label.push('/');
        if is_id {
            let _ = label.push_str("{id}");
            on_id(seg);
        } else {
            let _ = label.push_str(seg);
        }
    }
    if label.is_empty() {
        let _ = label.push('/');
    }
    label
}

/// Path segments kept in a route label, and the longest kept as written (longer ones are
/// taken as ids): the deepest route (`/api/collections/multi/{id}/collections/{id}`, 6)
/// keeps its last id, so the audit log tells a member's removal from its parent's; small
/// enough for a stack buffer.
const MAX_LABEL_SEGMENTS: usize = 6;
const MAX_LABEL_SEGMENT: usize = 40;
const LABEL_CAPACITY: usize = MAX_LABEL_SEGMENTS * (1 + MAX_LABEL_SEGMENT);

/// A route label built on the stack: recording a request allocates nothing unless the
/// (route, status) pair is new.
pub type RouteLabel = heapless::String<LABEL_CAPACITY>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_low_cardinality() {
        assert_eq!(
            route_label("/api/channels/12", StatusCode::OK),
            "/api/channels/{id}"
        );
        assert_eq!(
            route_label("/hdhomerun/auto/v5.1", StatusCode::OK),
            "/hdhomerun/auto/{id}"
        );
        assert_eq!(
            route_label("/iptv/channel/100.ts", StatusCode::OK),
            "/iptv/channel/{id}"
        );
        assert_eq!(route_label("/nope/x", StatusCode::NOT_FOUND), "unmatched");
        assert_eq!(route_label("/", StatusCode::OK), "/");
        let mut ids = Vec::new();
        let label = route_label_each_id(
            "/api/collections/multi/3/collections/17",
            StatusCode::NO_CONTENT,
            |id| ids.push(id.to_string()),
        );
        assert_eq!(label, "/api/collections/multi/{id}/collections/{id}");
        assert_eq!(ids, ["3", "17"]);
        for doc in PolledDoc::ALL {
            assert_eq!(route_label(doc.label(), StatusCode::OK), doc.label());
        }
    }

    #[test]
    fn polled_documents_share_their_route_row() {
        let m = Metrics::default();
        m.polled[PolledDoc::Discover as usize].fetch_add(2, Ordering::Relaxed);
        for _ in 0..3 {
            m.http
                .lock()
                .unwrap()
                .record("/hdhomerun/discover.json", 200, 10);
        }
        m.polled[PolledDoc::Lineup as usize].fetch_add(1, Ordering::Relaxed);
        let rows = m.http_requests();
        assert!(rows.contains(&("/hdhomerun/discover.json".into(), 200, 5)));
        assert!(rows.contains(&("/hdhomerun/lineup.json".into(), 200, 1)));
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn times_per_route_and_the_slowest_requests_are_kept() {
        let mut t = RequestTable::default();
        t.record("/api/a", 200, 100);
        t.record("/api/a", 200, 300);
        t.record("/api/a", 404, 50);
        let a = t.rows.iter().find(|r| r.status == 200).unwrap();
        assert_eq!((a.count, a.micros_total, a.micros_max), (2, 400, 300));
        for us in 0..40u64 {
            t.note_if_slow("GET", "/api/b", us, 1);
        }
        let kept: Vec<u64> = t.slowest.iter().map(|s| s.micros).collect();
        assert_eq!(kept.len(), SLOWEST_KEPT);
        assert!(
            kept.iter().all(|us| *us >= 40 - SLOWEST_KEPT as u64),
            "{kept:?}"
        );
    }
}
