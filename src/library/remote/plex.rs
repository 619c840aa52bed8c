//! Plex Media Server, as python-plexapi and Plex's web client speak it: JSON by
//! `Accept: application/json`, the token in `X-Plex-Token` (never in the URL: URLs get
//! logged), and the `X-Plex-Client-Identifier`/`-Product`/`-Version` a client must send.
//! Sections list at `/library/sections`; a section's playable items at
//! `/library/sections/{key}/all?type=1` (movies) or `type=4` (every episode of a show
//! library), paged by `X-Plex-Container-Start`/`-Size`, filtered by `updatedAt>=` (seconds).

use hyper::header::{HeaderName, HeaderValue};
use serde_json::Value;

use super::{arr, enc, f, i, plain_header, s, secret_header, Page, PageAsk, RemoteError};
use super::{RemoteItem, RemoteLibrary, Server, ServerInfo, CLIENT_NAME, CLIENT_VERSION};
use crate::kinds::{LibraryType, MediaType};

pub fn headers(token: &str) -> Result<Vec<(HeaderName, HeaderValue)>, RemoteError> {
    Ok(vec![
        plain_header("accept", "application/json")?,
        secret_header("x-plex-token", token)?,
        plain_header("x-plex-client-identifier", &client_identifier())?,
        plain_header("x-plex-product", CLIENT_NAME)?,
        plain_header("x-plex-version", CLIENT_VERSION)?,
    ])
}

/// Plex lists devices by this id: one per box, stable across restarts (the host name).
fn client_identifier() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "box".into());
    format!("{CLIENT_NAME}-{host}")
}

fn container(v: &Value) -> &Value {
    v.get("MediaContainer").unwrap_or(&Value::Null)
}

pub async fn info(server: &Server) -> Result<ServerInfo, RemoteError> {
    let identity = server.get_json("/identity").await?;
    let id = container(&identity);
    // `/identity` has no name; the root container has `friendlyName`.
    let name = match server.get_json("/").await {
        Ok(root) => s(container(&root), "friendlyName"),
        Err(_) => None,
    };
    Ok(ServerInfo {
        name: name.unwrap_or_else(|| "Plex Media Server".into()),
        version: s(id, "version").unwrap_or_default(),
    })
}

pub async fn libraries(server: &Server) -> Result<Vec<RemoteLibrary>, RemoteError> {
    let v = server.get_json("/library/sections").await?;
    Ok(arr(container(&v), "Directory")
        .iter()
        .filter_map(|d| {
            Some(RemoteLibrary {
                key: s(d, "key")?,
                name: s(d, "title").unwrap_or_default(),
                library_type: match s(d, "type").as_deref() {
                    Some("movie") => "movie",
                    Some("show") => "show",
                    Some("artist") => "music",
                    _ => "other",
                }
                .into(),
                agent: s(d, "agent"),
            })
        })
        .collect())
}

pub async fn page(server: &Server, ask: &PageAsk<'_>) -> Result<Page, RemoteError> {
    // Plex's metadata types: 1 movie, 4 episode, 10 track.
    let kind = match ask.library_type {
        LibraryType::Show => 4,
        LibraryType::Music => 10,
        _ => 1,
    };
    let mut target = format!(
        "/library/sections/{}/all?type={kind}&X-Plex-Container-Start={}&X-Plex-Container-Size={}",
        enc(ask.library_key),
        ask.start,
        ask.size
    );
    if let Some(ms) = ask.since_ms {
        target.push_str(&format!("&updatedAt%3E={}", ms.div_euclid(1000)));
    }
    let v = server.get_json(&target).await?;
    let c = container(&v);
    let items: Vec<RemoteItem> = arr(c, "Metadata").iter().filter_map(item).collect();
    let total = i(c, "totalSize").or_else(|| i(c, "size")).unwrap_or(0);
    Ok(Page {
        items,
        total: total.max(0) as u64,
    })
}

/// One item by its `ratingKey` (`/library/metadata/{key}`), with its section's key.
pub async fn metadata(
    server: &Server,
    rating_key: &str,
) -> Result<Option<(RemoteItem, Option<String>)>, RemoteError> {
    let v = server
        .get_json(&format!("/library/metadata/{}", enc(rating_key)))
        .await?;
    let c = container(&v);
    let Some(m) = arr(c, "Metadata").first() else {
        return Ok(None);
    };
    let section = s(m, "librarySectionID").or_else(|| s(c, "librarySectionID"));
    Ok(item(m).map(|it| (it, section)))
}

/// One `Metadata` entry; an entry without a playable part is skipped.
pub fn item(m: &Value) -> Option<RemoteItem> {
    let media = arr(m, "Media").first()?;
    let part = arr(media, "Part").first()?;
    let media_type = match s(m, "type").as_deref() {
        Some("movie") => MediaType::Movie,
        Some("episode") => MediaType::Episode,
        _ => MediaType::Other,
    };
    let audio = arr(part, "Stream")
        .iter()
        .find(|st| i(st, "streamType") == Some(2));
    Some(RemoteItem {
        key: s(m, "ratingKey")?,
        stream_path: s(part, "key")?,
        server_path: s(part, "file"),
        media_type: Some(media_type),
        title: s(m, "title").unwrap_or_default(),
        description: s(m, "summary"),
        year: i(m, "year"),
        show_title: s(m, "grandparentTitle"),
        season_number: i(m, "parentIndex"),
        episode_number: i(m, "index"),
        genres: arr(m, "Genre").iter().filter_map(|g| s(g, "tag")).collect(),
        content_rating: s(m, "contentRating"),
        rating: f(m, "audienceRating").or_else(|| f(m, "rating")),
        studio: s(m, "studio"),
        originally_available: s(m, "originallyAvailableAt"),
        duration_ms: i(m, "duration").or_else(|| i(media, "duration")),
        file_size: i(part, "size"),
        container: s(part, "container").or_else(|| s(media, "container")),
        video_codec: s(media, "videoCodec"),
        width: i(media, "width"),
        height: i(media, "height"),
        frame_rate: s(media, "videoFrameRate").and_then(|r| frame_rate(&r)),
        audio_codec: s(media, "audioCodec"),
        audio_channels: i(media, "audioChannels"),
        audio_sample_rate: audio.and_then(|a| i(a, "samplingRate")),
        updated_ms: i(m, "updatedAt").map(|t| t * 1000),
    })
}

/// Plex names frame rates (`24p`, `PAL`, `NTSC`, `60p`) rather than numbering them.
fn frame_rate(name: &str) -> Option<f64> {
    match name.to_ascii_uppercase().as_str() {
        "PAL" => Some(25.0),
        "NTSC" => Some(29.97),
        "24P" => Some(23.976),
        other => other.trim_end_matches(['P', 'I']).parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_reads_with_its_part_and_stream_info() {
        let m = serde_json::json!({
            "ratingKey": "101", "type": "episode", "title": "Pilot", "grandparentTitle": "Show",
            "parentIndex": 1, "index": 2, "year": 2020, "duration": 1_300_000, "updatedAt": 1_700_000_000,
            "Genre": [{"tag": "Drama"}],
            "Media": [{"videoCodec": "h264", "audioCodec": "aac", "audioChannels": 2, "width": 1280,
                       "height": 720, "videoFrameRate": "PAL",
                       "Part": [{"key": "/library/parts/5/1/file.mkv", "file": "/data/tv/a.mkv", "size": 10, "container": "mkv"}]}]
        });
        let it = item(&m).unwrap();
        assert_eq!(it.key, "101");
        assert_eq!(it.stream_path, "/library/parts/5/1/file.mkv");
        assert_eq!((it.season_number, it.episode_number), (Some(1), Some(2)));
        assert_eq!(it.frame_rate, Some(25.0));
        assert_eq!(it.genres, ["Drama"]);
        assert_eq!(it.updated_ms, Some(1_700_000_000_000));
        assert!(item(&serde_json::json!({"ratingKey": "1", "Media": []})).is_none());
    }
}
