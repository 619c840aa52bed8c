//! `/api/auth/*` (API.md §2.14): the credentials yt-dlp uses for YouTube (a cookies file,
//! uploaded as multipart `file`) and archive.org (`{username*, password*}`), stored as
//! secrets by `library::credentials`. A GET says whether each is there (the archive.org
//! username is not a secret; the password and cookies never leave the box); nothing of
//! them is logged.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::library::credentials;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["status"] => {
            router::only_get(req)?;
            let (youtube, archive) = (youtube_status(app).await, archive_status(app).await?);
            Ok(body::ok_json(
                &json!({"youtube": youtube, "archive_org": archive}),
            ))
        }
        ["youtube", "status"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&youtube_status(app).await))
        }
        ["youtube", "cookies"] => {
            router::only(req, Verb::Post)?;
            upload_cookies(app, req).await
        }
        ["youtube"] => {
            router::only(req, Verb::Delete)?;
            forget(
                credentials::youtube_cookies(&app.config.data_dir),
                "YouTube cookies",
            )
            .await
        }
        ["archive-org", "status"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&archive_status(app).await?))
        }
        ["archive-org"] => by_verb!(req, {
            Post => archive_login(app, req).await,
            Delete => {
                let dir = &app.config.data_dir;
                // The netrc is the login's copy for yt-dlp; it goes with it.
                let netrc = credentials::archive_org_netrc(dir);
                tokio::task::spawn_blocking(move || credentials::remove(&netrc))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(ApiError::internal)?;
                forget(credentials::archive_org(dir), "archive.org login").await
            },
        }),
        _ => Err(router::not_found()),
    }
}

fn yt_dlp_available() -> bool {
    crate::tools::resolve("yt-dlp").is_some()
}

async fn youtube_status(app: &App) -> Value {
    let has = tokio::fs::metadata(credentials::youtube_cookies(&app.config.data_dir))
        .await
        .is_ok();
    json!({
        "authenticated": has,
        "has_cookies": has,
        "yt_dlp_available": yt_dlp_available(),
    })
}

async fn archive_status(app: &App) -> Result<Value, ApiError> {
    let login = read_login(app).await?;
    Ok(json!({
        "authenticated": login.is_some(),
        "username": login.map(|l| l.username),
        "yt_dlp_available": yt_dlp_available(),
    }))
}

async fn upload_cookies(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let content_type = req
        .header(hyper::header::CONTENT_TYPE)
        .unwrap_or("")
        .to_string();
    // A multipart body holds the file plus its head and boundaries.
    let bytes = req
        .body_bytes(credentials::MAX_COOKIES_BYTES + 4096)
        .await?;
    let file = crate::http::multipart::part(&content_type, &bytes, "file")?;
    let text = std::str::from_utf8(file)
        .map_err(|_| ApiError::invalid("file", "a cookies file is text"))?;
    if file.len() > credentials::MAX_COOKIES_BYTES || !credentials::is_netscape_cookies(text) {
        return Err(ApiError::invalid(
            "file",
            "expected a Netscape-format cookies.txt of at most 1 MiB",
        ));
    }
    let path = credentials::youtube_cookies(&app.config.data_dir);
    let file = file.to_vec();
    store(path, file).await?;
    tracing::info!("YouTube cookies stored");
    Ok(body::ok_json(
        &json!({"success": true, "message": "YouTube cookies stored"}),
    ))
}

#[derive(Deserialize, serde::Serialize)]
struct Login {
    username: String,
    password: String,
}

async fn archive_login(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let login: Login = req.params_requiring(&["username", "password"]).await?;
    if login.username.trim().is_empty() || login.username.len() > 256 {
        return Err(ApiError::invalid("username", "must be 1 to 256 bytes"));
    }
    if login.password.is_empty() || login.password.len() > 1024 {
        return Err(ApiError::invalid("password", "must be 1 to 1024 bytes"));
    }
    let netrc = credentials::netrc(&login.username, &login.password).ok_or_else(|| {
        ApiError::invalid(
            "password",
            "yt-dlp reads the login from a netrc file: no spaces or quotes in either value",
        )
    })?;
    let bytes = serde_json::to_vec(&login).map_err(ApiError::internal)?;
    store(credentials::archive_org(&app.config.data_dir), bytes).await?;
    let netrc_path = credentials::archive_org_netrc(&app.config.data_dir);
    store(netrc_path, netrc.into_bytes()).await?;
    tracing::info!("archive.org login stored");
    Ok(body::ok_json(&json!({
        "success": true,
        "message": "archive.org login stored",
        "username": login.username,
    })))
}

async fn read_login(app: &App) -> Result<Option<Login>, ApiError> {
    match tokio::fs::read(credentials::archive_org(&app.config.data_dir)).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ApiError::internal(e)),
    }
}

async fn store(path: std::path::PathBuf, bytes: Vec<u8>) -> Result<(), ApiError> {
    tokio::task::spawn_blocking(move || credentials::store(&path, &bytes))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

async fn forget(path: std::path::PathBuf, what: &'static str) -> ApiResult {
    let removed = tokio::task::spawn_blocking(move || credentials::remove(&path))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    if removed {
        tracing::info!("{what} removed");
    }
    Ok(body::ok_json(&json!({
        "success": true,
        "message": if removed { format!("{what} removed") } else { format!("no {what} was stored") },
    })))
}
