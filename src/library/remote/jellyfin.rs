//! Jellyfin (10.10 and later, 12.x included) and, through the same item model, Emby. Jellyfin
//! 12.x accepts only `Authorization: MediaBrowser Token="…", Client=…, Device=…, DeviceId=…,
//! Version=…` (the legacy `X-Emby-Token` and `api_key` query are refused), so that is all we
//! send; Emby's headers are `emby`'s. Both list `/System/Info/Public`, the libraries at
//! `/Users/{id}/Views` (with a user) or `/Library/VirtualFolders`, and items at `/Items`
//! paged by `StartIndex`/`Limit`, changes since a time by `MinDateLastSaved`.

use hyper::header::{HeaderName, HeaderValue};
use serde_json::Value;

use super::{arr, enc, f, i, plain_header, s, secret_header, Page, PageAsk, RemoteError};
use super::{RemoteItem, RemoteLibrary, Server, ServerInfo, CLIENT_NAME, CLIENT_VERSION};
use crate::kinds::{LibraryType, MediaType};

/// Jellyfin's `RunTimeTicks` are 100 ns.
const TICKS_PER_MS: i64 = 10_000;
/// What `/Items` must return beyond its defaults for our media model.
const FIELDS: &str =
    "Path,MediaStreams,MediaSources,Genres,Overview,Studios,DateCreated,ProviderIds";

pub fn headers(token: &str) -> Result<Vec<(HeaderName, HeaderValue)>, RemoteError> {
    // A quote would end the token's quoted-string early: refuse it rather than mangle it.
    if token.contains('"') {
        return Err(RemoteError::BadHeader);
    }
    let device = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "box".into());
    let value = format!(
        "MediaBrowser Token=\"{token}\", Client=\"{CLIENT_NAME}\", Device=\"{device}\", \
         DeviceId=\"{CLIENT_NAME}-{device}\", Version=\"{CLIENT_VERSION}\""
    );
    Ok(vec![
        plain_header("accept", "application/json")?,
        secret_header("authorization", &value)?,
    ])
}

pub async fn info(server: &Server) -> Result<ServerInfo, RemoteError> {
    let v = server.get_json("/System/Info/Public").await?;
    Ok(ServerInfo {
        name: s(&v, "ServerName").unwrap_or_default(),
        version: s(&v, "Version").unwrap_or_default(),
    })
}

fn library_type(collection_type: Option<&str>) -> &'static str {
    match collection_type {
        Some("movies") => "movie",
        Some("tvshows") => "show",
        Some("music") => "music",
        _ => "other",
    }
}

pub async fn libraries(server: &Server) -> Result<Vec<RemoteLibrary>, RemoteError> {
    if let Some(user) = &server.user_id {
        let v = server
            .get_json(&format!("/Users/{}/Views", enc(user)))
            .await?;
        return Ok(arr(&v, "Items")
            .iter()
            .filter_map(|l| {
                Some(RemoteLibrary {
                    key: s(l, "Id")?,
                    name: s(l, "Name").unwrap_or_default(),
                    library_type: library_type(s(l, "CollectionType").as_deref()).into(),
                    agent: None,
                })
            })
            .collect());
    }
    let v = server.get_json("/Library/VirtualFolders").await?;
    let folders = v.as_array().map(Vec::as_slice).unwrap_or(&[]);
    Ok(folders
        .iter()
        .filter_map(|l| {
            Some(RemoteLibrary {
                key: s(l, "ItemId")?,
                name: s(l, "Name").unwrap_or_default(),
                library_type: library_type(s(l, "CollectionType").as_deref()).into(),
                agent: None,
            })
        })
        .collect())
}

pub async fn page(server: &Server, ask: &PageAsk<'_>) -> Result<Page, RemoteError> {
    let types = match ask.library_type {
        LibraryType::Show => "Episode",
        LibraryType::Movie => "Movie",
        LibraryType::Music => "Audio",
        LibraryType::Other => "Movie,Episode,Video",
    };
    // Sorted by name then id, so pages do not shift while we read them.
    let mut target = format!(
        "/Items?ParentId={}&Recursive=true&IncludeItemTypes={types}&Fields={FIELDS}\
         &SortBy=SortName,Id&SortOrder=Ascending&EnableTotalRecordCount=true\
         &StartIndex={}&Limit={}",
        enc(ask.library_key),
        ask.start,
        ask.size
    );
    if let Some(user) = &server.user_id {
        target.push_str(&format!("&UserId={}", enc(user)));
    }
    if let Some(ms) = ask.since_ms {
        target.push_str(&format!(
            "&MinDateLastSaved={}",
            enc(&crate::time::rfc3339(ms))
        ));
    }
    let v = server.get_json(&target).await?;
    Ok(Page {
        items: arr(&v, "Items").iter().filter_map(item).collect(),
        total: i(&v, "TotalRecordCount").unwrap_or(0).max(0) as u64,
    })
}

/// One `BaseItemDto`; an item without an id is skipped.
pub fn item(m: &Value) -> Option<RemoteItem> {
    let id = s(m, "Id")?;
    let source = arr(m, "MediaSources").first();
    let streams = match arr(m, "MediaStreams") {
        [] => source.map(|so| arr(so, "MediaStreams")).unwrap_or(&[]),
        some => some,
    };
    let of_type = |t: &str| {
        streams
            .iter()
            .find(|st| s(st, "Type").as_deref() == Some(t))
    };
    let video = of_type("Video");
    let audio = of_type("Audio");
    let mut stream_path = format!("/Videos/{}/stream?static=true", enc(&id));
    if let Some(ms_id) = source.and_then(|so| s(so, "Id")) {
        stream_path.push_str(&format!("&MediaSourceId={}", enc(&ms_id)));
    }
    let media_type = match s(m, "Type").as_deref() {
        Some("Movie") => MediaType::Movie,
        Some("Episode") => MediaType::Episode,
        _ => MediaType::Other,
    };
    Some(RemoteItem {
        key: id,
        stream_path,
        server_path: s(m, "Path").or_else(|| source.and_then(|so| s(so, "Path"))),
        media_type: Some(media_type),
        title: s(m, "Name").unwrap_or_default(),
        description: s(m, "Overview"),
        year: i(m, "ProductionYear"),
        show_title: s(m, "SeriesName"),
        season_number: i(m, "ParentIndexNumber"),
        episode_number: i(m, "IndexNumber"),
        genres: arr(m, "Genres")
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect(),
        content_rating: s(m, "OfficialRating"),
        rating: f(m, "CommunityRating"),
        studio: arr(m, "Studios").first().and_then(|st| s(st, "Name")),
        originally_available: s(m, "PremiereDate").map(|d| d.chars().take(10).collect()),
        duration_ms: i(m, "RunTimeTicks").map(|t| t / TICKS_PER_MS),
        file_size: source.and_then(|so| i(so, "Size")),
        container: s(m, "Container").or_else(|| source.and_then(|so| s(so, "Container"))),
        video_codec: video.and_then(|v| s(v, "Codec")),
        width: video.and_then(|v| i(v, "Width")),
        height: video.and_then(|v| i(v, "Height")),
        frame_rate: video.and_then(|v| f(v, "RealFrameRate").or_else(|| f(v, "AverageFrameRate"))),
        audio_codec: audio.and_then(|a| s(a, "Codec")),
        audio_channels: audio.and_then(|a| i(a, "Channels")),
        audio_sample_rate: audio.and_then(|a| i(a, "SampleRate")),
        updated_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_reads_with_its_streams() {
        let m = serde_json::json!({
            "Id": "abc", "Name": "Pilot", "Type": "Episode", "SeriesName": "Show",
            "ParentIndexNumber": 1, "IndexNumber": 3, "RunTimeTicks": 600_000_000i64,
            "Genres": ["Comedy"], "PremiereDate": "2020-01-02T00:00:00.0000000Z",
            "MediaSources": [{"Id": "ms1", "Path": "/srv/a.mkv", "Size": 99, "Container": "mkv"}],
            "MediaStreams": [{"Type": "Video", "Codec": "h264", "Width": 640, "Height": 360, "RealFrameRate": 25.0},
                             {"Type": "Audio", "Codec": "aac", "Channels": 2, "SampleRate": 48000}]
        });
        let it = item(&m).unwrap();
        assert_eq!(
            it.stream_path,
            "/Videos/abc/stream?static=true&MediaSourceId=ms1"
        );
        assert_eq!(it.duration_ms, Some(60_000));
        assert_eq!(it.server_path.as_deref(), Some("/srv/a.mkv"));
        assert_eq!(it.originally_available.as_deref(), Some("2020-01-02"));
        assert_eq!((it.width, it.audio_sample_rate), (Some(640), Some(48000)));
    }

    #[test]
    fn a_quote_in_a_key_is_refused() {
        assert!(headers("a\"b").is_err());
        let h = headers("k1").unwrap();
        let auth = h[1].1.to_str().unwrap();
        assert!(
            auth.starts_with("MediaBrowser Token=\"k1\", Client=\"exstreamtv\""),
            "{auth}"
        );
    }
}
