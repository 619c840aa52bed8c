//! `/api/integrations/*`: LAN HDHomeRun tuners — found by discovery (`hdhr::lan`; a
//! broadcast, or `?address=HOST[:PORT]` asked alone), listed with their lineups, and a
//! device's channels imported as relayed channels (`ops::relays`) so an antenna tuner's
//! channels join ours in one lineup and one guide. Every URL a device gives is checked by
//! `http::url_guard` before it is fetched or relayed. Home Assistant, cloud and plugins
//! answer 501 with the reason.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::hdhr::lan::{self, Device, DISCOVERY_PORT, REPLY_WAIT};
use crate::http::router::{self, by_verb, Verb};
use crate::http::url_guard;
use crate::http::{body, ApiError, ApiResult, Req};
use crate::ops::relays::{NewRelay, Numbering};

/// A device's lineup.json read at most (thousands of channels fit).
const MAX_LINEUP_BYTES: usize = 4 * 1024 * 1024;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["hdhomerun", "devices"] => {
            router::only_get(req)?;
            let address = req.query("address").map(|a| a.into_owned());
            let devices = found(app, address.as_deref()).await?;
            let mut out = Vec::with_capacity(devices.len());
            for d in &devices {
                let lineup = lineup(app, d).await;
                out.push(device_json(d, lineup));
            }
            Ok(body::ok_json(&json!({"devices": out, "count": out.len()})))
        }
        ["hdhomerun", "devices", device, "import"] => {
            router::only(req, Verb::Post)?;
            import(app, req, device).await
        }
        ["iptv", "sources", rest @ ..] => super::iptv_sources::route(app, req, rest).await,
        ["notifications", rest @ ..] => super::notifications::route(app, req, rest).await,
        ["homeassistant"] | ["cloud"] | ["plugins"] => by_verb!(req, {
            Get | Post | Put | Patch | Delete => Err(ApiError::not_implemented(
                "this box talks only to loopback and the LAN devices you name: no Home \
                 Assistant, cloud or plugin integration",
            )),
        }),
        _ => Err(router::not_found()),
    }
}

/// The devices answering discovery: at `address` alone, else by broadcast.
async fn found(app: &Arc<App>, address: Option<&str>) -> Result<Vec<Device>, ApiError> {
    let allow_loopback = app.settings().sources.allow_loopback;
    let target = match address {
        Some(address) => {
            let target = parse_address(address)?;
            url_guard::check_ip(target.ip(), allow_loopback)
                .map_err(|e| ApiError::invalid("address", e))?;
            target
        }
        None => (Ipv4Addr::BROADCAST, DISCOVERY_PORT).into(),
    };
    let ours = crate::hdhr::device_id::parse(&app.settings().hdhomerun.device_id);
    lan::discover(target, REPLY_WAIT, ours).await.map_err(|e| {
        ApiError::new(
            hyper::StatusCode::BAD_GATEWAY,
            format_args!("discovery: {e}"),
        )
    })
}

/// `HOST` or `HOST:PORT` (an IP address; the port defaults to 65001).
fn parse_address(text: &str) -> Result<SocketAddr, ApiError> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, DISCOVERY_PORT))
        .map_err(|_| ApiError::invalid("address", "an IP address, optionally with :PORT"))
}

/// A device's channels `(GuideNumber, GuideName, URL)`, or why they could not be read.
async fn lineup(app: &Arc<App>, device: &Device) -> Result<Vec<(String, String, String)>, String> {
    let allow_loopback = app.settings().sources.allow_loopback;
    url_guard::check(&device.lineup_url, allow_loopback)
        .await
        .map_err(|e| format!("lineup URL refused: {e}"))?;
    let answer = crate::http::client::get(&device.lineup_url, &[], MAX_LINEUP_BYTES)
        .await
        .map_err(|e| format!("lineup: {e}"))?;
    if !answer.status.is_success() {
        return Err(format!("lineup: the device answered {}", answer.status));
    }
    let rows: Vec<Value> =
        serde_json::from_slice(&answer.body).map_err(|e| format!("lineup is not JSON: {e}"))?;
    Ok(rows
        .iter()
        .filter_map(|c| {
            let text = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
            Some((
                text("GuideNumber")?,
                text("GuideName").unwrap_or_default(),
                text("URL")?,
            ))
        })
        .collect())
}

fn device_json(d: &Device, lineup: Result<Vec<(String, String, String)>, String>) -> Value {
    let (channels, error) = match lineup {
        Ok(rows) => (rows, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    json!({
        "device_id": d.device_id, "tuner_count": d.tuner_count, "base_url": d.base_url,
        "lineup_url": d.lineup_url, "address": d.address.to_string(),
        "channel_count": channels.len(), "error": error,
        "channels": channels.iter().map(|(n, name, url)| json!({
            "guide_number": n, "guide_name": name, "url": url,
        })).collect::<Vec<_>>(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ImportBody {
    /// The device's `HOST[:PORT]`, as for the listing (query or body).
    address: Option<String>,
    channel_number_start: Option<u64>,
    guide_numbers: Option<Vec<String>>,
}

/// Imports a device's channels (all, or `guide_numbers`), each numbered by its guide
/// number when free, else from `channel_number_start` upward.
async fn import(app: &Arc<App>, req: &mut Req, device_id: &str) -> ApiResult {
    let input: ImportBody = req.params().await?;
    let devices = found(app, input.address.as_deref()).await?;
    let device = devices
        .iter()
        .find(|d| d.device_id.eq_ignore_ascii_case(device_id))
        .ok_or_else(|| ApiError::not_found(format_args!("no HDHomeRun {device_id} answered")))?;
    let rows = lineup(app, device)
        .await
        .map_err(|e| ApiError::new(hyper::StatusCode::BAD_GATEWAY, e))?;
    let allow_loopback = app.settings().sources.allow_loopback;
    let mut relays = Vec::new();
    for (number, name, url) in rows {
        let wanted = input
            .guide_numbers
            .as_ref()
            .is_none_or(|g| g.contains(&number));
        if !wanted {
            continue;
        }
        url_guard::check(&url, allow_loopback)
            .await
            .map_err(|e| ApiError::invalid("url", format_args!("channel {number}: {e}")))?;
        relays.push(NewRelay {
            name,
            group: Some(format!("HDHomeRun {}", device.device_id)),
            logo_url: None,
            url,
            number: Some(number.clone()),
            meta_json: json!({"hdhomerun_device": device.device_id, "guide_number": number})
                .to_string(),
        });
    }
    if relays.is_empty() {
        return Err(ApiError::invalid(
            "guide_numbers",
            "no channel of the device matches",
        ));
    }
    let numbering = Numbering {
        start: input.channel_number_start.unwrap_or(1).max(1),
        always_from_start: false,
    };
    let channels = super::m3u_import::create_relays(app, relays, numbering).await?;
    tracing::info!(device = %device.device_id, n_channels = channels.len(), "HDHomeRun channels imported");
    Ok(body::ok_json(&channels))
}
