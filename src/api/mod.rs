//! The REST API under `/api`: one file per resource. Every route needs the API token except
//! the health checks and `lineup_status.json`.

pub mod ai;
pub mod beside;
pub mod blocks;
pub mod channels;
pub mod collections;

pub mod dashboard;
pub mod deco;
pub mod ffmpeg_profiles;
pub mod filler_presets;
pub mod groups;
pub mod health;
pub mod integrations;
pub mod iptv_sources;
pub mod libraries;
pub mod logs;
pub mod m3u_import;
pub mod m3u_service;
pub mod media;
pub mod media_sources;
pub mod metrics;
pub mod migration;
pub mod notifications;
pub mod ollama;
pub mod openapi;
pub mod performance;
pub mod player;
pub mod playlists;
pub mod playouts;
pub mod plex_settings;
pub mod remote_libraries;
pub mod resolutions;
pub mod schedule_history;
pub mod schedule_items;
pub mod schedules;
pub mod scripted;
pub mod settings;
pub mod source_auth;
pub mod templates;
pub mod transfer;
pub mod tx;
pub mod validation;
pub mod view;
pub mod watermarks;
pub mod yaml_channels;

use std::sync::Arc;

use crate::app::App;
use crate::http::{router, ApiResult, Req};
use crate::ops::groups::{BLOCK_GROUPS, DECO_GROUPS, TEMPLATE_GROUPS};

/// Where the documents are: `/api`, and `/` for a client that asks for JSON only.
pub fn index() -> crate::http::Response {
    crate::http::body::ok_json(&serde_json::json!({
        "app": "exstreamtv", "version": crate::VERSION,
        "m3u": "/iptv/channels.m3u", "xmltv": "/iptv/xmltv.xml",
        "hdhomerun": "/hdhomerun/discover.json", "api": "/api/health", "ui": "/"
    }))
}

fn ai_page(req: &Req) -> ApiResult {
    router::only_get(req)?;
    let mut resp = hyper::Response::new(crate::http::Body::Empty);
    *resp.status_mut() = hyper::StatusCode::FOUND;
    resp.headers_mut().insert(
        hyper::header::LOCATION,
        hyper::header::HeaderValue::from_static("/ui/#/ai"),
    );
    Ok(resp)
}

/// The fault-injection routes (`EXSTREAMTV_DEBUG_ROUTES=1` only).
async fn debug(app: &Arc<App>, req: &mut Req, rest: &[&str]) -> ApiResult {
    match rest {
        // Proves a panicking handler becomes a 500 and the server lives on.
        ["panic"] => panic!("panic requested through /api/debug/panic"),
        // The running channel's FFmpeg counts as older than `ffmpeg.long_run_hours`, so its
        // handover is exercised without waiting a day.
        ["channels", number, "age-out"] => {
            router::only(req, router::Verb::Post)?;
            let channel = crate::scheduler::cursor::channel_by_number(&app.db, number)
                .await?
                .and_then(|info| app.streams.running(info.id))
                .ok_or_else(|| {
                    crate::http::ApiError::not_found(format_args!(
                        "channel {number} is not running"
                    ))
                })?;
            channel.age_out_run();
            Ok(crate::http::body::no_content())
        }
        _ => Err(router::not_found()),
    }
}

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["health", rest @ ..] => return health::route(app, req, rest).await,
        ["lineup_status.json"] => return crate::hdhr::route(app, req, segs).await,
        // Open: the login carries its own proof (the token, or the cookie to forget).
        ["auth", "session"] => return crate::web::session::route(app, req).await,
        [] => {
            router::only_get(req)?;
            return Ok(index());
        }
        // EXStreamTV's AI creator page: ours lives in the web UI.
        ["ai", "channel"] => return ai_page(req),
        _ => {}
    }
    crate::http::auth::check_request(app, req).await?;
    match segs {
        ["ai", rest @ ..] => ai::route(app, req, rest).await,
        ["channels", rest @ ..] => channels::route(app, req, rest).await,
        ["integrations", rest @ ..] => integrations::route(app, req, rest).await,
        ["migration", rest @ ..] => migration::route(app, req, rest).await,
        ["performance", rest @ ..] => performance::route(app, req, rest).await,
        ["player", rest @ ..] => player::route(app, req, rest).await,
        ["playouts", rest @ ..] => playouts::route(app, req, rest).await,
        ["ffmpeg-profiles", rest @ ..] => ffmpeg_profiles::route(app, req, rest).await,
        ["resolutions", rest @ ..] => resolutions::route(app, req, rest).await,
        ["filler-presets", rest @ ..] => filler_presets::route(app, req, rest).await,
        ["schedules", rest @ ..] => schedules::route(app, req, rest).await,
        ["schedule-items", rest @ ..] => schedule_items::route(app, req, rest).await,
        ["settings", rest @ ..] => settings::route(app, req, rest).await,
        ["validation", rest @ ..] => validation::route(app, req, rest).await,
        ["logs", rest @ ..] => logs::route(app, req, rest).await,
        ["ollama", rest @ ..] => ollama::route(app, req, rest).await,
        ["dashboard", rest @ ..] => dashboard::route(app, req, rest).await,
        ["export"] => transfer::export_route(app, req).await,
        ["import"] => transfer::import_route(app, req).await,
        ["export", "channels", "yaml", "bulk"] => yaml_channels::export_bulk(app, req).await,
        ["export", "channels", id, "yaml"] => yaml_channels::export_one(app, req, id).await,
        ["export", "channels", id, "yaml", "write"] => {
            yaml_channels::export_write(app, req, id).await
        }
        ["import", "channels", "yaml"] => yaml_channels::import_upload(app, req).await,
        ["import", "channels", "yaml", "path"] => yaml_channels::import_path(app, req).await,
        ["import", "m3u", rest @ ..] => m3u_import::route(app, req, rest).await,
        ["m3u", "service", rest @ ..] => m3u_service::route(app, req, rest).await,
        ["auth", rest @ ..] => source_auth::route(app, req, rest).await,
        // Fault injection, only with EXSTREAMTV_DEBUG_ROUTES=1.
        ["debug", rest @ ..] if app.config.debug_routes => debug(app, req, rest).await,
        ["libraries", rest @ ..] => libraries::route(app, req, rest).await,
        ["media-sources", rest @ ..] => media_sources::route(app, req, rest).await,
        ["media", rest @ ..] => media::route(app, req, rest).await,
        ["collections", rest @ ..] => collections::route(app, req, rest).await,
        ["playlists", rest @ ..] => playlists::route(app, req, rest).await,
        ["block-groups", rest @ ..] => groups::route(app, req, rest, &BLOCK_GROUPS).await,
        ["blocks", rest @ ..] => blocks::route(app, req, rest).await,
        ["deco-groups", rest @ ..] => groups::route(app, req, rest, &DECO_GROUPS).await,
        ["deco", rest @ ..] => deco::route(app, req, rest).await,
        ["template-groups", rest @ ..] => groups::route(app, req, rest, &TEMPLATE_GROUPS).await,
        ["templates", rest @ ..] => templates::route(app, req, rest).await,
        ["schedule-history", rest @ ..] => schedule_history::route(app, req, rest).await,
        ["scripted", rest @ ..] => scripted::route(app, req, rest).await,
        ["watermarks", rest @ ..] => watermarks::route(app, req, rest).await,
        _ => Err(router::not_found()),
    }
}
