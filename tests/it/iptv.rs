//! IPTV outputs against the real binary: the M3U, the XMLTV guide (checked with XMLTV's own
//! `tv_validate_file`), their agreement with the HDHomeRun lineup, ETags, modes, Kodi.

use std::process::Command;

use quick_xml::events::Event;

use crate::outputs_fixture::*;
use crate::support::{TempDir, TestServer};

const MINUTE: i64 = 60_000;

/// A programme as the guide lists it.
#[derive(Debug, Clone, PartialEq)]
struct Prog {
    channel: String,
    start: String,
    stop: String,
    title: String,
}

/// The XMLTV's channels (id, display names) and programmes.
fn parse_xmltv(xml: &str) -> (Vec<(String, Vec<String>)>, Vec<Prog>) {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut channels: Vec<(String, Vec<String>)> = Vec::new();
    let mut progs: Vec<Prog> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                let name = e.name().into_inner().to_string();
                let attr = |k: &str| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.into_inner() == k)
                        .map(|a| {
                            let raw = a.value.to_string();
                            quick_xml::escape::unescape(&raw).unwrap().into_owned()
                        })
                        .unwrap_or_default()
                };
                match name.as_str() {
                    "channel" => channels.push((attr("id"), Vec::new())),
                    "programme" => progs.push(Prog {
                        channel: attr("channel"),
                        start: attr("start"),
                        stop: attr("stop"),
                        title: String::new(),
                    }),
                    "display-name" => channels.last_mut().unwrap().1.push(String::new()),
                    _ => {}
                }
                path.push(name);
            }
            Event::End(_) => {
                path.pop();
            }
            event @ (Event::Text(_) | Event::GeneralRef(_)) => {
                let text = match &event {
                    Event::Text(t) => (**t).to_string(),
                    Event::GeneralRef(r) => {
                        let raw = format!("&{};", &**r);
                        quick_xml::escape::unescape(&raw).unwrap().into_owned()
                    }
                    _ => unreachable!(),
                };
                match path
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    [.., "channel", "display-name"] => channels
                        .last_mut()
                        .unwrap()
                        .1
                        .last_mut()
                        .unwrap()
                        .push_str(&text),
                    [.., "programme", "title"] => progs.last_mut().unwrap().title.push_str(&text),
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (channels, progs)
}

fn xmltv_time(ms: i64) -> String {
    let secs = ms / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Channel 100 (a nasty name) with an episode, a hidden filler, a gap and a movie; channel
/// 5.1 with no timeline; channel 7 disabled. Returns (channel 100's id, the base time).
fn guide_world(server: &TestServer) -> (i64, i64) {
    let conn = db(server);
    let base = now_ms() / MINUTE * MINUTE - 10 * MINUTE;
    let ch = add_channel(&conn, "100", NASTY_NAME, true);
    add_channel(&conn, "5.1", "Plain", true);
    add_channel(&conn, "7", "Hidden Channel", false);
    let playout = add_playout(&conn, ch);
    let episode = add_media(&conn, "Pilot & Co", Some((NASTY_TITLE, 3, 8)), Some(1999));
    let movie = add_media(&conn, "The Movie", None, Some(2001));
    add_item(
        &conn,
        playout,
        Some(episode),
        "Pilot & Co",
        base,
        base + 30 * MINUTE,
        "normal",
    );
    add_item(
        &conn,
        playout,
        None,
        "Bumper",
        base + 30 * MINUTE,
        base + 32 * MINUTE,
        "hide",
    );
    add_item(
        &conn,
        playout,
        Some(movie),
        "The Movie",
        base + 40 * MINUTE,
        base + 130 * MINUTE,
        "normal",
    );
    // Finished long ago: not in the guide.
    add_item(
        &conn,
        playout,
        Some(movie),
        "Old",
        base - 300 * MINUTE,
        base - 200 * MINUTE,
        "normal",
    );
    refresh(server);
    (ch, base)
}

#[test]
fn guide_lineup_and_m3u_agree_and_the_guide_validates() {
    let server = TestServer::start();
    let (ch, base) = guide_world(&server);
    let c = server.anon();

    let lineup = c.get("/hdhomerun/lineup.json").json();
    let lineup = lineup.as_array().unwrap().clone();
    let numbers: Vec<String> = lineup
        .iter()
        .map(|e| e["GuideNumber"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !numbers.contains(&"7".to_string()),
        "disabled channel listed: {numbers:?}"
    );
    let pos = |n: &str| numbers.iter().position(|x| x == n).unwrap();
    assert!(pos("5.1") < pos("100"), "numeric order: {numbers:?}");
    let entry = &lineup[pos("100")];
    assert_eq!(entry["GuideName"], NASTY_NAME);

    let m3u = c.get("/iptv/channels.m3u");
    assert_eq!(m3u.status, 200);
    assert_eq!(
        m3u.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    let text = m3u.text();
    let extinf: Vec<&str> = text.lines().filter(|l| l.starts_with("#EXTINF")).collect();
    let attr = |line: &str, key: &str| -> String {
        let start = line.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
        line[start..][..line[start..].find('"').unwrap()].to_string()
    };
    let m3u_numbers: Vec<String> = extinf.iter().map(|l| attr(l, "tvg-chno")).collect();
    assert_eq!(
        m3u_numbers, numbers,
        "M3U tvg-chno = lineup GuideNumber, same order"
    );
    let nasty_line = extinf[pos("100")];
    assert_eq!(attr(nasty_line, "tvg-id"), format!("exstream.{ch}"));
    assert!(
        nasty_line.ends_with(&format!(",{NASTY_NAME}")),
        "{nasty_line}"
    );
    assert_eq!(attr(nasty_line, "tvg-name"), NASTY_NAME.replace('"', "'"));

    let xml = c.get("/iptv/xmltv.xml");
    assert_eq!(xml.status, 200);
    assert_eq!(
        xml.header("content-type"),
        Some("application/xml; charset=utf-8")
    );
    let xml = xml.text();
    let (channels, progs) = parse_xmltv(&xml);
    let xml_numbers: Vec<String> = channels.iter().map(|(_, names)| names[0].clone()).collect();
    assert_eq!(xml_numbers, numbers, "XMLTV display-name #1 = GuideNumber");
    let m3u_ids: Vec<String> = extinf.iter().map(|l| attr(l, "tvg-id")).collect();
    let xml_ids: Vec<String> = channels.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(xml_ids, m3u_ids, "XMLTV channel id = M3U tvg-id");
    assert_eq!(channels[pos("100")].1[1], NASTY_NAME);

    let ours: Vec<&Prog> = progs
        .iter()
        .filter(|p| p.channel == format!("exstream.{ch}"))
        .collect();
    let got: Vec<(String, String, String)> = ours
        .iter()
        .map(|p| (p.start.clone(), p.stop.clone(), p.title.clone()))
        .collect();
    let t = |m: i64| xmltv_time(base + m * MINUTE);
    assert_eq!(
        got,
        vec![
            // The hidden bumper lengthens the episode; the gap is Offline.
            (t(0), t(32), NASTY_TITLE.to_string()),
            (t(32), t(40), "Offline".to_string()),
            (t(40), t(130), "The Movie".to_string()),
        ]
    );
    // Programmes are written channel by channel, all after the channels.
    assert!(xml.find("<programme").unwrap() > xml.rfind("<channel").unwrap());
    for needle in [
        "<sub-title lang=\"en\">Pilot &amp; Co</sub-title>",
        "<episode-num system=\"xmltv_ns\">2.7.</episode-num><episode-num system=\"onscreen\">S03E08</episode-num>",
        "<category lang=\"en\">Series</category>",
        "<category lang=\"en\">Movie</category>",
        "<date>1999</date>",
        "<icon src=\"http://img.example/t.jpg?a=1&amp;b=2\"/>",
        "<desc lang=\"en\">About &lt;this&gt; &amp; that</desc>",
    ] {
        assert!(xml.contains(needle), "missing {needle}");
    }

    let dir = TempDir::new("xmltv");
    let file = dir.path().join("guide.xml");
    std::fs::write(&file, &xml).unwrap();
    let out = Command::new("tv_validate_file")
        .arg(&file)
        .env("XMLTV_SUPPLEMENT", "/usr/share/xmltv")
        .output()
        .expect("tv_validate_file (Debian xmltv-util) is installed");
    assert!(
        out.status.success(),
        "tv_validate_file failed:\n{}\n{}\n{xml}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn m3u_modes_kodi_token_free_urls_and_etag() {
    let server = TestServer::start();
    guide_world(&server);
    let c = server.anon();
    let ts = c.get("/iptv/channels.m3u").text();
    let origin = format!("http://{}", server.addr);
    assert!(ts.starts_with(&format!(
        "#EXTM3U url-tvg=\"{origin}/iptv/xmltv.xml\" x-tvg-url=\"{origin}/iptv/xmltv.xml\"\n"
    )));
    assert!(
        ts.contains(&format!("\n{origin}/iptv/channel/100.ts\n")),
        "{ts}"
    );
    assert!(!ts.contains("KODIPROP"));
    let hls = c.get("/iptv/channels.m3u?mode=hls").text();
    assert!(
        hls.contains(&format!("\n{origin}/iptv/channel/5.1.m3u8\n")),
        "{hls}"
    );
    assert_eq!(c.get("/iptv/channels.m3u?mode=mixed").text(), hls);
    let bad = c.get("/iptv/channels.m3u?mode=flv");
    assert_eq!(bad.status, 400);
    assert!(bad.detail().contains("mode"));
    let kodi = server
        .anon()
        .header("User-Agent", "Kodi/21.0 (X11; Linux x86_64)")
        .get("/iptv/channels.m3u")
        .text();
    assert!(kodi.contains(
        "#KODIPROP:inputstream=inputstream.ffmpegdirect\n#KODIPROP:mimetype=video/mp2t\nhttp://"
    ));

    // ETag: the same bytes give the same tag and a 304; a change gives a new tag.
    let first = c.get("/iptv/channels.m3u");
    let etag = first.header("etag").unwrap().to_string();
    let again = c
        .clone()
        .header("If-None-Match", &etag)
        .get("/iptv/channels.m3u");
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let conn = db(&server);
    add_channel(&conn, "200", "New", true);
    refresh(&server);
    let changed = c
        .clone()
        .header("If-None-Match", &etag)
        .get("/iptv/channels.m3u");
    assert_eq!(changed.status, 200);
    assert_ne!(changed.header("etag").unwrap(), etag);
    assert!(changed.text().contains("/iptv/channel/200.ts"));

    let guide = c.get("/iptv/xmltv.xml");
    let tag = guide.header("etag").unwrap().to_string();
    let cached = c
        .clone()
        .header("If-None-Match", &tag)
        .get("/iptv/xmltv.xml");
    assert_eq!(cached.status, 304);
    assert_eq!(
        c.clone()
            .header("If-None-Match", &tag)
            .get("/hdhomerun/epg")
            .status,
        304
    );
    refresh(&server);
    assert_eq!(
        c.clone()
            .header("If-None-Match", &tag)
            .get("/iptv/xmltv.xml")
            .status,
        200
    );
}

#[test]
fn a_long_timeline_spans_many_pages_without_holes() {
    let server = TestServer::start();
    let conn = db(&server);
    let ch = add_channel(&conn, "300", "Long", true);
    let playout = add_playout(&conn, ch);
    let base = now_ms() / MINUTE * MINUTE - 2 * MINUTE;
    // 900 five-minute items (75 h): several pages of the guide's DB reads, and past the
    // 72 h playout horizon, so the horizon task never appends the slate to this
    // schedule-less playout whenever it happens to run.
    const ITEMS: usize = 900;
    conn.execute_batch("BEGIN").unwrap();
    for i in 0..ITEMS as i64 {
        let start = base + i * 5 * MINUTE;
        add_item(
            &conn,
            playout,
            None,
            &format!("Item {i}"),
            start,
            start + 5 * MINUTE,
            "normal",
        );
    }
    conn.execute_batch("COMMIT").unwrap();
    refresh(&server);
    let xml = server.anon().get("/iptv/xmltv.xml").text();
    let (_, progs) = parse_xmltv(&xml);
    let ours: Vec<&Prog> = progs
        .iter()
        .filter(|p| p.channel == format!("exstream.{ch}"))
        .collect();
    assert_eq!(ours.len(), ITEMS);
    for (i, pair) in ours.windows(2).enumerate() {
        assert_eq!(
            pair[0].stop, pair[1].start,
            "hole or overlap after programme {i}"
        );
        assert_eq!(pair[1].title, format!("Item {}", i + 1));
    }
    assert_eq!(ours[0].start, xmltv_time(base));

    // A client that leaves mid-guide costs nothing lasting: the next fetch is whole.
    let mut partial = server.anon().stream("/iptv/xmltv.xml").unwrap();
    let mut head = [0u8; 4096];
    std::io::Read::read_exact(&mut partial.body, &mut head).unwrap();
    partial.body.close();
    let (_, again) = parse_xmltv(&server.anon().get("/iptv/xmltv.xml").text());
    let again: Vec<&Prog> = again
        .iter()
        .filter(|p| p.channel == format!("exstream.{ch}"))
        .collect();
    assert_eq!(again, ours);
}

#[test]
fn an_empty_lineup_is_still_a_document() {
    let server = TestServer::start();
    db(&server)
        .execute("UPDATE channels SET enabled = 0", [])
        .unwrap();
    refresh(&server);
    let c = server.anon();
    let xml = c.get("/iptv/xmltv.xml");
    assert_eq!(xml.status, 200);
    assert!(
        xml.text()
            .trim_end()
            .ends_with("<tv generator-info-name=\"exstreamtv\"/>"),
        "{}",
        xml.text()
    );
    assert_eq!(
        c.get("/hdhomerun/lineup.json").json(),
        serde_json::json!([])
    );
    assert_eq!(c.get("/iptv/channels.m3u").text().lines().count(), 1);
}

#[test]
fn stream_routes_validate_before_tuning() {
    let server = TestServer::start();
    let c = server.anon();
    for bad in [
        "/iptv/channel/1;rm.ts",
        "/iptv/channel/abc.m3u8",
        "/iptv/channel/1.2.3/seg/4.ts",
    ] {
        let r = c.get(bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert!(r.detail().contains("channel number"), "{bad}");
    }
    assert_eq!(c.get("/iptv/channel/1.mp4").status, 404);
    assert_eq!(c.get("/iptv/channel/1/seg/x.ts").status, 404);
    assert_eq!(c.get("/iptv/stream/abc").status, 404);
    assert_eq!(c.request("DELETE", "/iptv/channel/1.ts", None).status, 405);
    let pre = c.request("OPTIONS", "/iptv/stream/5", None);
    assert_eq!(pre.status, 200);
    assert_eq!(pre.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        pre.header("access-control-allow-methods"),
        Some("GET, HEAD, OPTIONS")
    );
    assert_eq!(
        pre.header("access-control-allow-headers"),
        Some("Range, Content-Range, Content-Type")
    );
    assert_eq!(pre.header("access-control-max-age"), Some("3600"));
}
