//! `GET /metrics`: Prometheus text exposition (version 0.0.4), open like the TV routes.

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::app::App;
use crate::http::{body, router, ApiResult, Req};

pub async fn route(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only_get(req)?;
    let mut out = String::with_capacity(4096);
    let m = &app.metrics;
    out.push_str("# HELP exstreamtv_http_responses_total HTTP responses by status class.\n");
    out.push_str("# TYPE exstreamtv_http_responses_total counter\n");
    for (i, counter) in m.http_responses.iter().enumerate() {
        let _ = writeln!(
            out,
            "exstreamtv_http_responses_total{{class=\"{}xx\"}} {}",
            i + 1,
            counter.load(Ordering::Relaxed)
        );
    }
    out.push_str("# HELP exstreamtv_uptime_seconds Seconds since the server started.\n");
    out.push_str("# TYPE exstreamtv_uptime_seconds gauge\n");
    let _ = writeln!(
        out,
        "exstreamtv_uptime_seconds {}",
        app.started_at.elapsed().as_secs()
    );
    Ok(body::bytes(
        "text/plain; version=0.0.4; charset=utf-8",
        Bytes::from(out),
    ))
}
