//! The HDHomeRun face of the server: the HTTP device API Plex, Jellyfin, Emby and Channels
//! DVR read (`documents`), UDP discovery on port 65001 (`packet` is the wire format,
//! `discovery` the socket) and SSDP (`ssdp`). Tunes are handed to `stream::http`; channels
//! come from `iptv::lineup`, so every document lists the same channels.

pub mod device_id;
pub mod discovery;
pub mod documents;
pub mod lan;
pub mod packet;
pub mod polled;
pub mod ssdp;
mod udp;

use std::sync::Arc;

use bytes::Bytes;

use self::documents::{Identity, TunerStatus};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::iptv::cache::{self, Doc};
use crate::iptv::origin::{self, Origin};
use crate::iptv::{channel_number, lineup};

pub(crate) const JSON: &str = "application/json";
pub(crate) const XML: &str = "application/xml; charset=utf-8";

/// `segs` is the tail after `/hdhomerun`, or the whole path for the root aliases
/// (`/device.xml`, `/lineup.post`, `/auto/v{num}`) and `/api/lineup_status.json`.
pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    // `/api/lineup_status.json` is open by contract (API.md §2.15); everything else here is
    // behind the IPTV token when it is set.
    if !req.parts.uri.path().starts_with("/api/") {
        let settings = app.settings();
        // `hdhomerun.enabled` off: no tuner to find or tune (IPTV routes stay).
        if !settings.hdhomerun.enabled {
            return Err(ApiError::not_found(
                "the HDHomeRun device is disabled (hdhomerun.enabled)",
            ));
        }
        crate::http::auth::check_access_token(req, settings.access_token())?;
    }
    match segs {
        ["discover.json"] => {
            router::only_get(req)?;
            discover_json(app, req).await
        }
        ["lineup.json"] => {
            router::only_get(req)?;
            lineup_json(app, req).await
        }
        ["lineup_status.json"] => {
            router::only_get(req)?;
            Ok(body::bytes(
                JSON,
                Bytes::from_static(documents::LINEUP_STATUS.as_bytes()),
            ))
        }
        ["status.json"] => {
            router::only_get(req)?;
            Ok(status_json(app))
        }
        ["lineup.post"] => by_verb!(req, {
            Post => lineup_post(req),
        }),
        ["device.xml"] => {
            router::only_get(req)?;
            device_xml(app, req).await
        }
        ["service.xml"] => {
            router::only_get(req)?;
            Ok(body::bytes(
                XML,
                Bytes::from_static(documents::SERVICE_XML.as_bytes()),
            ))
        }
        ["control"] => {
            router::only(req, Verb::Post)?;
            Ok(body::empty_ok())
        }
        ["event"] => by_verb!(req, {
            Get | Post => Ok(body::empty_ok()),
        }),
        ["epg"] => {
            router::only_get(req)?;
            crate::iptv::xmltv(app, req).await
        }
        ["auto", channel] => {
            router::only_get(req)?;
            let number = channel
                .strip_prefix('v')
                .ok_or_else(|| ApiError::bad_request("expected auto/v<channel number>"))?;
            let number = channel_number(number)?;
            crate::stream::http::channel_ts(app, req, number, None).await
        }
        [tuner, "stream"] => tuner_stream(app, req, tuner).await,
        _ => Err(router::not_found()),
    }
}

async fn discover_json(app: &Arc<App>, req: &Req) -> ApiResult {
    let doc = cached(app, req, "discover", |app, origin, token| async move {
        let settings = app.settings();
        let id = Identity {
            settings: &settings.hdhomerun,
            tuner_count: app.tuner_count(),
        };
        Ok(documents::discover_json(&id, origin.as_str(), &token))
    })
    .await?;
    Ok(cache::respond(req, doc, JSON, false))
}

async fn lineup_json(app: &Arc<App>, req: &Req) -> ApiResult {
    if let Some(show) = req.query("show") {
        if !matches!(
            &*show,
            "found" | "all" | "unprotect" | "demo" | "subscribed"
        ) {
            return Err(ApiError::bad_request(format_args!(
                "query parameter show: {show:?} is not found, all, unprotect, demo or subscribed"
            )));
        }
    }
    let doc = cached(app, req, "lineup", |app, origin, token| async move {
        let channels = lineup::enabled_channels(&app.db).await?;
        Ok(documents::lineup_json(&channels, origin.as_str(), &token))
    })
    .await?;
    Ok(cache::respond(req, doc, JSON, false))
}

fn status_json(app: &App) -> crate::http::Response {
    let settings = app.settings();
    let id = Identity {
        settings: &settings.hdhomerun,
        tuner_count: app.tuner_count(),
    };
    let tuners = tuner_status(app, id.tuner_count);
    body::bytes(JSON, documents::status_json(&id, &tuners))
}

/// A virtual tuner has nothing to scan: the lineup is the channel table.
fn lineup_post(req: &Req) -> ApiResult {
    match req.query("scan").as_deref() {
        Some("start" | "abort") => Ok(body::empty_ok()),
        Some(other) => Err(ApiError::bad_request(format_args!(
            "query parameter scan: {other:?} is not start or abort"
        ))),
        None => Err(ApiError::bad_request(
            "query parameter scan is required (start or abort)",
        )),
    }
}

async fn device_xml(app: &Arc<App>, req: &Req) -> ApiResult {
    let doc = cached(app, req, "device.xml", |app, origin, _token| async move {
        Ok(documents::device_xml(
            &app.settings().hdhomerun,
            origin.as_str(),
        ))
    })
    .await?;
    Ok(cache::respond(req, doc, XML, false))
}

/// `/tuner{N}/stream?channel=...`: a tune on one named tuner.
async fn tuner_stream(app: &Arc<App>, req: &mut Req, tuner: &str) -> ApiResult {
    let index = tuner
        .strip_prefix("tuner")
        .and_then(|n| n.parse::<u16>().ok())
        .ok_or_else(router::not_found)?;
    router::only_get(req)?;
    if index >= app.tuner_count() {
        return Err(ApiError::not_found(format_args!(
            "no tuner{index}: this device has {} tuners",
            app.tuner_count()
        )));
    }
    let wanted = tuner_channel(req)?;
    crate::stream::http::channel_ts(app, req, &wanted, Some(index)).await
}

/// One line per tuner, from the streaming engine's pool (who holds each tuner) and its
/// running channels (number, viewers, last output).
fn tuner_status(app: &App, tuner_count: u16) -> Vec<TunerStatus> {
    use crate::stream::pool::Owner;
    let running = app.streams.snapshot();
    app.streams
        .pool
        .tuners(tuner_count)
        .into_iter()
        .zip(0u16..)
        .map(|(owner, index)| match owner {
            None => TunerStatus::idle(index),
            Some(owner) => {
                let channel = match owner {
                    Owner::Channel(id) => running.iter().find(|c| c.channel_id == id),
                    Owner::Media(_) => None,
                };
                TunerStatus {
                    tuner: format!("tuner{index}"),
                    status: "Streaming",
                    channel: channel.map(|c| c.number.clone()),
                    lock: "tuner",
                    client_count: channel.map_or(1, |c| c.viewers),
                    last_activity: channel
                        .and_then(|c| c.last_output_ms)
                        .map(crate::time::rfc3339),
                }
            }
        })
        .collect()
}

/// The channel number a `tuner{n}/stream` request asks for: `?channel=auto:v100`, `v100` or
/// `auto/v100`, or a `?url=` naming `.../auto/v100` or `.../channel/100.ts`.
fn tuner_channel(req: &Req) -> Result<String, ApiError> {
    let number = if let Some(channel) = req.query("channel") {
        let c = channel.as_ref();
        let n = c
            .strip_prefix("auto:v")
            .or_else(|| c.strip_prefix("auto/v"))
            .or_else(|| c.strip_prefix('v'))
            .unwrap_or(c);
        n.to_string()
    } else if let Some(url) = req.query("url") {
        let path = url.split(['?', '#']).next().unwrap_or("");
        let last = path.rsplit('/').next().unwrap_or("");
        let n = last
            .strip_prefix('v')
            .or_else(|| last.strip_suffix(".ts"))
            .ok_or_else(|| {
                ApiError::bad_request("query parameter url: not a channel URL (…/auto/v<num>)")
            })?;
        n.to_string()
    } else {
        return Err(ApiError::bad_request(
            "query parameter channel is required (auto:v<num>)",
        ));
    };
    channel_number(&number)?;
    Ok(number)
}

/// A document from the cache, or rendered by `render(app, origin, token_query)` and cached
/// for this content version, origin and token.
async fn cached<F, Fut>(app: &Arc<App>, req: &Req, kind: &str, render: F) -> Result<Doc, ApiError>
where
    F: FnOnce(Arc<App>, Origin, String) -> Fut,
    Fut: std::future::Future<Output = Result<Bytes, ApiError>>,
{
    // Hits are mostly answered by `polled::answer` before the router runs; this is the rest.
    let version = app.content_version();
    let origin = Origin::of_request(app, req);
    let token_query = origin::token_query(app);
    let key = format!("{kind} {} {token_query}", origin.as_str());
    if let Some(doc) = app.outputs.get(version, &key) {
        return Ok(doc);
    }
    let doc = Doc::new(render(app.clone(), origin, token_query).await?);
    app.outputs.put(version, key, doc.clone());
    Ok(doc)
}
