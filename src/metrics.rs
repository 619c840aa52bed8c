//! Process-wide counters, kept in memory (never on the SD card) as atomics, and rendered as
//! Prometheus text by `api::metrics`. Recording never locks or allocates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hyper::StatusCode;

use crate::http::Req;

#[derive(Debug, Default)]
pub struct Metrics {
    /// Responses by status class: 1xx..5xx at index 0..4.
    pub http_responses: [AtomicU64; 5],
    pub http_request_micros_total: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, _req: &Req, status: StatusCode, elapsed: Duration) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.http_responses[class].fetch_add(1, Ordering::Relaxed);
        self.http_request_micros_total.fetch_add(
            elapsed.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }
}
