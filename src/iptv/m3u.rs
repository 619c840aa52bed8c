//! `/iptv/channels.m3u`: one entry per enabled channel with the attributes TiviMate, Kodi,
//! VLC, Jellyfin and Channels DVR read. `tvg-id` is the XMLTV channel id and `tvg-chno` the
//! lineup's GuideNumber, so players match the guide without manual mapping.

use std::fmt::Write;

use super::lineup::LineupChannel;

/// Which stream URL each entry carries (`?mode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    /// `/iptv/channel/{num}.ts`: the default, what every player understands.
    Ts,
    /// `/iptv/channel/{num}.m3u8` (live HLS); `mixed` is EXStreamTV's name for the same.
    Hls,
}

impl StreamMode {
    pub fn parse(text: &str) -> Option<StreamMode> {
        match text {
            "ts" => Some(StreamMode::Ts),
            "hls" | "mixed" => Some(StreamMode::Hls),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            StreamMode::Ts => "ts",
            StreamMode::Hls => "m3u8",
        }
    }

    fn mime(self) -> &'static str {
        match self {
            StreamMode::Ts => "video/mp2t",
            StreamMode::Hls => "application/vnd.apple.mpegurl",
        }
    }
}

/// What the playlist is rendered for.
pub struct M3uRequest<'a> {
    pub origin: &'a str,
    /// `""` or `?access_token=...`.
    pub token_query: &'a str,
    pub mode: StreamMode,
    /// Kodi gets `#KODIPROP` lines so inputstream.ffmpegdirect plays the live stream.
    pub kodi: bool,
}

pub fn render(channels: &[LineupChannel], req: &M3uRequest<'_>) -> String {
    let mut out = String::with_capacity(128 + channels.len() * 256);
    let M3uRequest {
        origin,
        token_query,
        mode,
        kodi,
    } = *req;
    let _ = writeln!(
        out,
        "#EXTM3U url-tvg=\"{origin}/iptv/xmltv.xml{token_query}\" x-tvg-url=\"{origin}/iptv/xmltv.xml{token_query}\""
    );
    for ch in channels {
        let name = attr(&ch.name);
        let _ = write!(
            out,
            "#EXTINF:-1 tvg-id=\"{}\" tvg-name=\"{name}\"",
            ch.xmltv_id()
        );
        if let Some(logo) = ch.logo(origin) {
            let _ = write!(out, " tvg-logo=\"{}\"", attr(&logo));
        }
        let _ = writeln!(
            out,
            " tvg-chno=\"{}\" group-title=\"{}\",{}",
            attr(&ch.number),
            attr(&ch.group),
            one_line(&ch.name)
        );
        if kodi {
            out.push_str("#KODIPROP:inputstream=inputstream.ffmpegdirect\n");
            let _ = writeln!(out, "#KODIPROP:mimetype={}", mode.mime());
        }
        let _ = writeln!(
            out,
            "{origin}/iptv/channel/{}.{}{token_query}",
            ch.number,
            mode.extension()
        );
    }
    out
}

/// An attribute value: `"` becomes `'` and line breaks are dropped (API.md §5).
fn attr(text: &str) -> String {
    one_line(text).replace('"', "'")
}

fn one_line(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn channel(id: i64, number: &str, name: &str, logo: bool) -> LineupChannel {
        LineupChannel {
            id: crate::ops::ids::ChannelId(id),
            number: number.into(),
            name: name.into(),
            group: "General".into(),
            logo_path: logo.then(|| format!("/static/channel_icons/channel_{id}.png")),
            logo_url: None,
            show_in_epg: true,
            height: 720,
            video_encoder: "libx264".into(),
            audio_encoder: "aac".into(),
        }
    }

    #[test]
    fn renders_entries() {
        let channels = [
            channel(1, "100", "Demo HD", true),
            channel(2, "5.1", "Tom & \"Jerry\"\n<Kids> 📺", false),
        ];
        let m3u = render(
            &channels,
            &M3uRequest {
                origin: "http://H:8411",
                token_query: "",
                mode: StreamMode::Ts,
                kodi: false,
            },
        );
        expect![[r#"
            #EXTM3U url-tvg="http://H:8411/iptv/xmltv.xml" x-tvg-url="http://H:8411/iptv/xmltv.xml"
            #EXTINF:-1 tvg-id="exstream.1" tvg-name="Demo HD" tvg-logo="http://H:8411/static/channel_icons/channel_1.png" tvg-chno="100" group-title="General",Demo HD
            http://H:8411/iptv/channel/100.ts
            #EXTINF:-1 tvg-id="exstream.2" tvg-name="Tom & 'Jerry'<Kids> 📺" tvg-chno="5.1" group-title="General",Tom & "Jerry"<Kids> 📺
            http://H:8411/iptv/channel/5.1.ts
        "#]]
        .assert_eq(&m3u);
    }

    #[test]
    fn kodi_hls_and_token() {
        let m3u = render(
            &[channel(1, "100", "Demo", false)],
            &M3uRequest {
                origin: "http://H:8411",
                token_query: "?access_token=s3cret",
                mode: StreamMode::Hls,
                kodi: true,
            },
        );
        expect![[r#"
            #EXTM3U url-tvg="http://H:8411/iptv/xmltv.xml?access_token=s3cret" x-tvg-url="http://H:8411/iptv/xmltv.xml?access_token=s3cret"
            #EXTINF:-1 tvg-id="exstream.1" tvg-name="Demo" tvg-chno="100" group-title="General",Demo
            #KODIPROP:inputstream=inputstream.ffmpegdirect
            #KODIPROP:mimetype=application/vnd.apple.mpegurl
            http://H:8411/iptv/channel/100.m3u8?access_token=s3cret
        "#]]
        .assert_eq(&m3u);
    }
}
