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

#[derive(Debug, Default)]
pub struct Metrics {
    /// (route label, status, count).
    http: Mutex<Vec<(SmolStr, u16, u64)>>,
    pub http_request_micros_total: AtomicU64,
    /// How late the runtime woke a 1 s timer, last sample, in microseconds.
    pub event_loop_lag_micros: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, req: &Req, status: StatusCode, elapsed: Duration) {
        self.http_request_micros_total.fetch_add(
            elapsed.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        let label = route_label(req.parts.uri.path(), status);
        let status = status.as_u16();
        let Ok(mut table) = self.http.lock() else {
            return;
        };
        if let Some(entry) = table
            .iter_mut()
            .find(|(l, s, _)| *s == status && *l == label)
        {
            entry.2 += 1;
            return;
        }
        if table.len() < MAX_ROUTE_SERIES {
            table.push((label, status, 1));
            return;
        }
        match table
            .iter_mut()
            .find(|(l, s, _)| *s == status && l == "other")
        {
            Some(entry) => entry.2 += 1,
            None => {
                // The table is full but has no "other" row for this status: fold into the last.
                if let Some(last) = table.last_mut() {
                    *last = (SmolStr::new_static("other"), status, last.2 + 1);
                }
            }
        }
    }

    /// A copy of the (route, status, count) table, for rendering.
    pub fn http_requests(&self) -> Vec<(SmolStr, u16, u64)> {
        self.http.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

/// A low-cardinality label for a path: ids and channel numbers become `{id}`, unknown
/// routes are "unmatched", so a crawler cannot create a series per URL.
pub fn route_label(path: &str, status: StatusCode) -> SmolStr {
    if status == StatusCode::NOT_FOUND {
        return SmolStr::new_static("unmatched");
    }
    let mut label = String::with_capacity(48);
    for seg in path.split('/').filter(|s| !s.is_empty()).take(4) {
        label.push('/');
        let is_id = seg.bytes().next().is_some_and(|b| b.is_ascii_digit())
            || seg.starts_with('v') && seg[1..].bytes().next().is_some_and(|b| b.is_ascii_digit())
            || seg.len() > 40;
        if is_id {
            label.push_str("{id}");
        } else {
            label.push_str(seg);
        }
    }
    if label.is_empty() {
        label.push('/');
    }
    SmolStr::new(label)
}

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
    }
}
