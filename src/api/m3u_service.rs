//! `/api/m3u/service/*` (API.md §2.9): the M3U module's switch. It is the setting
//! `sources.m3u_enabled` (with EXStreamTV's two sub-switches beside it), applied live:
//! off, `/api/import/m3u/import` answers 403; relayed channels already imported play on
//! (they are channels like any other). Nothing runs in the background, so a restart has
//! nothing to do and says so.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use crate::app::App;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiResult, Req};
use crate::settings::Settings;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["status"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&status(&app.settings())))
        }
        ["enable"] => {
            router::only(req, Verb::Post)?;
            let input: EnableInput = req.params().await?;
            switch(app, input).await
        }
        ["disable"] => {
            router::only(req, Verb::Post)?;
            switch(
                app,
                EnableInput {
                    enable: false,
                    enable_library: None,
                    enable_testing: None,
                },
            )
            .await
        }
        ["restart"] => {
            router::only(req, Verb::Post)?;
            Ok(body::ok_json(&json!({
                "success": true,
                "restart_required": false,
                "message": "nothing to restart: the M3U module has no background task and its settings apply live",
            })))
        }
        _ => Err(router::not_found()),
    }
}

fn status(s: &Settings) -> serde_json::Value {
    json!({
        "enabled": s.sources.m3u_enabled,
        "library_enabled": s.sources.m3u_library_enabled,
        "testing_enabled": s.sources.m3u_testing_enabled,
    })
}

/// EXStreamTV's query: `enable` (default true), `enable_library`, `enable_testing`.
#[derive(Deserialize)]
struct EnableInput {
    #[serde(default = "yes")]
    enable: bool,
    enable_library: Option<bool>,
    enable_testing: Option<bool>,
}

fn yes() -> bool {
    true
}

async fn switch(app: &Arc<App>, input: EnableInput) -> ApiResult {
    let settings = app
        .update_settings(|s| {
            s.sources.m3u_enabled = input.enable;
            if let Some(on) = input.enable_library {
                s.sources.m3u_library_enabled = on;
            }
            if let Some(on) = input.enable_testing {
                s.sources.m3u_testing_enabled = on;
            }
            Ok(())
        })
        .await?;
    let word = if settings.sources.m3u_enabled {
        "enabled"
    } else {
        "disabled"
    };
    tracing::info!(
        enabled = settings.sources.m3u_enabled,
        "M3U module switched"
    );
    Ok(body::ok_json(&json!({
        "success": true,
        "restart_required": false,
        "message": format!("the M3U module is {word}"),
        "status": status(&settings),
    })))
}
