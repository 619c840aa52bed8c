//! Watermarks (issue 15 point 4): CRUD and the PNG upload through the real API, the bad
//! input (not a PNG → 415, too large → 413, bad fields → 422, deleting one in use → 409),
//! and a watermark seen in decoded frames: a white square at the chosen corner of a black
//! programme, absent where the channel's deco or the item's block turns it off; drawing it
//! turns the programme's copy into a transcode, and the dashboard says why.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rusqlite::params;
use serde_json::json;

use crate::copy::{add_probed, channel, modes_during, profile};
use crate::stream_fixture::{self as fx, read_for};
use crate::support::{http, media, Client, TempDir, TestServer};

const BOUNDARY: &str = "wmboundary";

/// A 64x64 opaque white PNG, made by FFmpeg.
fn white_png(dir: &Path) -> Vec<u8> {
    let path = dir.join("white.png");
    media::ffmpeg(
        &["-f", "lavfi", "-i", "color=white:s=64x64", "-frames:v", "1"],
        &path,
    );
    std::fs::read(path).unwrap()
}

fn multipart(file: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"w.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn upload(c: &Client, id: i64, file: &[u8]) -> http::Response {
    c.clone()
        .header(
            "Content-Type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .request(
            "POST",
            &format!("/api/watermarks/{id}/image"),
            Some(&multipart(file)),
        )
}

fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn crud_and_the_image_round_trip() {
    let dir = TempDir::new("wm-crud");
    let png = white_png(dir.path());
    let server = TestServer::start();
    let c = server.client();
    let created = c.post_json(
        "/api/watermarks",
        &json!({"name": "Logo", "location": "top_left", "opacity": 80}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let wm = created.json();
    let id = wm["id"].as_i64().unwrap();
    assert_eq!(wm["mode"], "permanent");
    assert_eq!(wm["location"], "top_left");
    assert_eq!(wm["image"], serde_json::Value::Null);
    assert_eq!(wm["place_within_source_content"], false);
    let put = c.put_json(
        &format!("/api/watermarks/{id}"),
        &json!({"mode": "intermittent", "frequency_minutes": 10, "duration_seconds": 20}),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(put.json()["opacity"], 80, "a partial update keeps the rest");
    assert_eq!(put.json()["mode"], "intermittent");

    let up = upload(&c, id, &png);
    assert_eq!(up.status, 200, "{}", up.text());
    assert_eq!(
        up.json()["image"],
        format!("/api/watermarks/{id}/image").as_str()
    );
    assert_eq!(up.json()["original_content_type"], "image/png");
    let served = c.get(&format!("/api/watermarks/{id}/image"));
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(served.body, png);
    // The cache copy FFmpeg reads, named by the image's SHA-256.
    let sha = sha256_hex(&dir.path().join("white.png"));
    let cached = server
        .data_dir()
        .join("cache/watermarks")
        .join(format!("{sha}.png"));
    assert_eq!(std::fs::read(&cached).unwrap(), png);
    // A list never inlines the image.
    let list = c.get("/api/watermarks").json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("PNG"));

    // A block item's switch, read back.
    let collection = c
        .post_json("/api/collections", &json!({"name": "C"}))
        .json()["id"]
        .clone();
    let block = c.post_json(
        "/api/blocks",
        &json!({"name": "B", "start_time": "08:00", "duration_minutes": 30}),
    );
    let block = block.json()["id"].as_i64().unwrap();
    let doc = c.post_json(
        &format!("/api/blocks/{block}/items"),
        &json!({"collection_id": collection, "disable_watermarks": true}),
    );
    assert_eq!(doc.status, 201, "{}", doc.text());
    let item = &doc.json()["items"][0];
    assert_eq!(item["disable_watermarks"], true, "{item}");
    let changed = c.put_json(
        &format!("/api/blocks/{block}/items/{}", item["id"]),
        &json!({"disable_watermarks": false}),
    );
    assert_eq!(changed.json()["items"][0]["disable_watermarks"], false);

    assert_eq!(c.delete(&format!("/api/watermarks/{id}/image")).status, 204);
    assert_eq!(c.get(&format!("/api/watermarks/{id}/image")).status, 404);
    assert_eq!(c.delete(&format!("/api/watermarks/{id}")).status, 204);
    assert_eq!(c.get(&format!("/api/watermarks/{id}")).status, 404);
}

#[test]
fn bad_input_is_refused_with_its_status() {
    let dir = TempDir::new("wm-bad");
    let png = white_png(dir.path());
    let server = TestServer::start();
    let c = server.client();
    for (body, field) in [
        (json!({"name": "A", "width_percent": 150}), "width_percent"),
        (json!({"name": "A", "location": "left"}), "location"),
        (json!({"name": "A", "opacity": 101}), "opacity"),
        (json!({"name": "A", "mode": "sometimes"}), "mode"),
        (
            json!({"name": "A", "mode": "intermittent", "frequency_minutes": 1, "duration_seconds": 60}),
            "duration_seconds",
        ),
        (
            json!({"name": "A", "mode": "intermittent", "frequency_minutes": 0}),
            "frequency_minutes",
        ),
        (json!({"opacity": 5}), "name"),
    ] {
        let r = c.post_json("/api/watermarks", &body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.detail().contains(field), "{body}: {}", r.detail());
    }
    assert!(c
        .get("/api/watermarks")
        .json()
        .as_array()
        .unwrap()
        .is_empty());
    let id = c
        .post_json("/api/watermarks", &json!({"name": "Logo"}))
        .json()["id"]
        .as_i64()
        .unwrap();

    let gif = upload(&c, id, b"GIF89a\x01\x00\x01\x00");
    assert_eq!(gif.status, 415, "{}", gif.text());
    assert!(gif.detail().starts_with("file:"), "{}", gif.detail());
    let no_ihdr = upload(&c, id, &png[..12]);
    assert_eq!(no_ihdr.status, 415, "{}", no_ihdr.text());
    // 50 MB declared: refused from the head, before a byte of it is read.
    let head = format!(
        "POST /api/watermarks/{id}/image HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: 52428800\r\n\
         Connection: close\r\n\r\n",
        crate::support::TOKEN
    );
    let answer = http::raw(server.addr, head.as_bytes(), Duration::from_secs(5));
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("\"detail\""), "{answer}");
    // A file over 2 MiB inside a body the server reads.
    let mut big = png.clone();
    big.resize(2 * 1024 * 1024 + 10_000, 0);
    let too_big = upload(&c, id, &big);
    assert_eq!(too_big.status, 413, "{}", too_big.text());
    assert_eq!(c.get(&format!("/api/watermarks/{id}/image")).status, 404);
    assert_eq!(upload(&c, 999, &png).status, 404);

    // In use by a channel, then by a channel's deco: 409 until neither names it.
    let wrong = c.put_json("/api/channels/1", &json!({"watermark_id": 999}));
    assert_eq!(wrong.status, 422, "{}", wrong.text());
    assert!(wrong.detail().contains("watermark_id"));
    let named = c.put_json("/api/channels/1", &json!({"watermark_id": id}));
    assert_eq!(named.status, 200, "{}", named.text());
    let in_use = c.delete(&format!("/api/watermarks/{id}"));
    assert_eq!(in_use.status, 409, "{}", in_use.text());
    assert!(in_use.detail().contains("channel"), "{}", in_use.detail());
    c.put_json("/api/channels/1", &json!({"watermark_id": null}));
    let deco = c.put_json(
        "/api/channels/1/deco",
        &json!({"watermark": {"mode": "override", "watermark_id": id}}),
    );
    assert_eq!(deco.status, 200, "{}", deco.text());
    assert_eq!(c.delete(&format!("/api/watermarks/{id}")).status, 409);
    c.put_json(
        "/api/channels/1/deco",
        &json!({"watermark": {"mode": "inherit"}}),
    );
    assert_eq!(c.delete(&format!("/api/watermarks/{id}")).status, 204);
}

/// A black 320x240 H.264/AAC clip (copy-compatible with the test profile).
fn black_clip(path: &Path, seconds: u32) {
    media::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            &format!("color=black:s=320x240:r=25:d={seconds}"),
            "-f",
            "lavfi",
            "-i",
            &format!("sine=frequency=500:sample_rate=48000:duration={seconds}"),
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-ac",
            "2",
            "-b:a",
            "96k",
            "-shortest",
        ],
        path,
    );
}

/// One decoded frame, 1.5 s into `ts`, as 320x240 gray bytes.
fn gray_frame(ts: &[u8], dir: &Path, name: &str) -> Vec<u8> {
    let input = dir.join(format!("{name}.ts"));
    std::fs::write(&input, ts).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&input)
        .args([
            "-ss",
            "1.5",
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "pipe:1",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.stdout.len(),
        320 * 240,
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The mean brightness of `frame` over x in `xs`, y in `ys`.
fn mean(frame: &[u8], xs: std::ops::Range<usize>, ys: std::ops::Range<usize>) -> f64 {
    let n = xs.len() * ys.len();
    let sum: u64 = ys
        .flat_map(|y| xs.clone().map(move |x| u64::from(frame[y * 320 + x])))
        .sum();
    sum as f64 / n as f64
}

/// The watermark's square (top right, 20% = 64 px wide, margins 5%: x 240..304, y 12..76)
/// sampled inside its edges, and the opposite corner's square.
fn corners(frame: &[u8]) -> (f64, f64) {
    (mean(frame, 248..296, 20..68), mean(frame, 24..72, 172..220))
}

/// Channel 960 names the watermark; 961 too, but its deco disables it; 962's item comes
/// from a block item that disables watermarks (its stored `watermark_off`); 963 draws its
/// own icon (`image_source` channel_logo) bottom left. Each is streamed in turn for a few
/// seconds and one frame decoded.
#[test]
fn a_watermark_is_drawn_at_its_corner_and_not_where_disabled() {
    let dir = TempDir::new("wm-stream");
    let png = white_png(dir.path());
    let sha = sha256_hex(&dir.path().join("white.png"));
    let clip = dir.path().join("black.mp4");
    black_clip(&clip, 30);
    let server = fx::server_with(&[], |conn| {
        // Each channel stops soon after its viewer leaves: one FFmpeg at a time.
        fx::set_setting(conn, "channels", r#"{"idle_grace_seconds":1}"#);
        conn.execute(
            "INSERT INTO watermarks (id, name, location, width_percent, horizontal_margin_percent,
                 vertical_margin_percent, image, image_sha256, original_content_type,
                 created_at_ms, updated_at_ms)
             VALUES (7, 'White', 'top_right', 20, 5, 5, ?1, ?2, 'image/png', 0, 0)",
            params![png, sha],
        )
        .unwrap();
        // The channel's own icon, bottom left, at its own size (64 px).
        conn.execute(
            "INSERT INTO watermarks (id, name, image_source, location, size,
                 horizontal_margin_percent, vertical_margin_percent, created_at_ms, updated_at_ms)
             VALUES (8, 'Icon', 'channel_logo', 'bottom_left', 'actual_size', 5, 5, 0, 0)",
            [],
        )
        .unwrap();
        let p = profile(conn, "passthrough");
        let media = add_probed(conn, &clip, "Black");
        let start = fx::now_ms() - 200;
        for (number, title, watermark) in [
            ("960", "Marked", 7),
            ("961", "Deco off", 7),
            ("962", "Block off", 7),
            ("963", "Icon", 8),
        ] {
            let id = channel(conn, number, p, &[(media, 30_000, title)], start);
            conn.execute(
                "UPDATE channels SET watermark_id = ?2 WHERE id = ?1",
                [id, watermark],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO channel_deco (channel_id, watermark_mode, updated_at_ms)
             SELECT id, 'disable', 0 FROM channels WHERE number = '961'",
            [],
        )
        .unwrap();
        conn.execute(
            "UPDATE playout_items SET watermark_off = 1 WHERE title = 'Block off'",
            [],
        )
        .unwrap();
    });
    let watch = |number: &str| {
        let mut s = server
            .anon()
            .stream(&format!("/iptv/channel/{number}.ts"))
            .unwrap();
        let (ts, _) = read_for(&mut s.body, Duration::from_secs(5));
        s.body.close();
        assert!(
            crate::support::wait_until(Duration::from_secs(10), || fx::n_ffmpeg(&server) == 0),
            "channel {number} did not stop"
        );
        ts
    };
    // Channel 963's icon, uploaded as channel icons are stored.
    let icon_channel: i64 = server.client().get("/api/channels/number/963").json()["id"]
        .as_i64()
        .unwrap();
    let icons = server.data_dir().join("channel_icons");
    std::fs::create_dir_all(&icons).unwrap();
    std::fs::write(icons.join(format!("channel_{icon_channel}.png")), &png).unwrap();
    let ((marked, deco_off, block_off, icon), modes) = modes_during(&server, || {
        (watch("960"), watch("961"), watch("962"), watch("963"))
    });

    let (mark, opposite) = corners(&gray_frame(&marked, dir.path(), "marked"));
    assert!(mark > 200.0, "the watermark's corner is {mark}");
    assert!(opposite < 60.0, "the opposite corner is {opposite}");
    for (ts, name) in [(&deco_off, "deco_off"), (&block_off, "block_off")] {
        let (mark, _) = corners(&gray_frame(ts, dir.path(), name));
        assert!(
            mark < 60.0,
            "{name}: no watermark expected, the corner is {mark}"
        );
    }
    let (top_right, bottom_left) = corners(&gray_frame(&icon, dir.path(), "icon"));
    assert!(top_right < 60.0, "icon: the top right is {top_right}");
    // At its own 64 px, margins 16 and 12: x 16..80, y 164..228, which `corners` samples.
    assert!(
        bottom_left > 200.0,
        "icon: the bottom left is {bottom_left}"
    );
    // The cache file was written from the row at the first start.
    assert!(server
        .data_dir()
        .join(format!("cache/watermarks/{sha}.png"))
        .exists());
    assert_eq!(
        modes.get("Marked"),
        Some(&(
            "transcode".to_string(),
            Some("a watermark is drawn".to_string())
        )),
        "{modes:?}"
    );
    assert_eq!(
        modes.get("Deco off").map(|m| m.0.as_str()),
        Some("copy"),
        "{modes:?}"
    );
    assert_eq!(
        modes.get("Block off").map(|m| m.0.as_str()),
        Some("copy"),
        "{modes:?}"
    );
}

/// The mean brightness of the watermark's square in every frame of `ts`, in order.
fn mark_brightness(ts: &[u8], dir: &Path) -> Vec<f64> {
    let input = dir.join("fade.ts");
    std::fs::write(&input, ts).unwrap();
    // The square sampled inside its edges (x 248..296, y 20..68), averaged to one pixel.
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(&input)
        .args([
            "-vf",
            "crop=48:48:248:20,scale=1:1:flags=area",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "pipe:1",
        ])
        .output()
        .unwrap();
    out.stdout.iter().map(|&b| f64::from(b)).collect()
}

/// An intermittent watermark (6 s of every minute) fades in: tuned 3 s before a minute
/// starts, the square is dark, then passes through in-between values for about a second,
/// then is white.
#[test]
fn an_intermittent_watermark_fades_in() {
    let dir = TempDir::new("wm-fade");
    let png = white_png(dir.path());
    let sha = sha256_hex(&dir.path().join("white.png"));
    let clip = dir.path().join("black.mp4");
    black_clip(&clip, 90);
    let server = fx::server_with(&[], |conn| {
        conn.execute(
            "INSERT INTO watermarks (id, name, mode, frequency_minutes, duration_seconds, location,
                 width_percent, horizontal_margin_percent, vertical_margin_percent, image,
                 image_sha256, original_content_type, created_at_ms, updated_at_ms)
             VALUES (7, 'Fading', 'intermittent', 1, 6, 'top_right', 20, 5, 5, ?1, ?2,
                 'image/png', 0, 0)",
            params![png, sha],
        )
        .unwrap();
        let p = profile(conn, "passthrough");
        let media = add_probed(conn, &clip, "Black");
        let start = fx::now_ms() - 200;
        let id = channel(conn, "970", p, &[(media, 90_000, "Fading")], start);
        conn.execute("UPDATE channels SET watermark_id = 7 WHERE id = ?1", [id])
            .unwrap();
    });
    // Tune 3 s before the wall clock's next minute (the cycle is anchored to it).
    let wait = (57_000 - fx::now_ms().rem_euclid(60_000)).rem_euclid(60_000);
    std::thread::sleep(Duration::from_millis(wait as u64));
    let mut s = server.anon().stream("/iptv/channel/970.ts").unwrap();
    let (ts, _) = read_for(&mut s.body, Duration::from_secs(8));
    s.body.close();
    let seen = mark_brightness(&ts, dir.path());
    let first_bright = seen.iter().position(|&b| b > 200.0);
    let Some(first_bright) = first_bright else {
        panic!("never white: {seen:?}");
    };
    assert!(seen[0] < 60.0, "white from the start: {seen:?}");
    let ramp = seen[..first_bright]
        .iter()
        .filter(|&&b| (60.0..=200.0).contains(&b))
        .count();
    // A one-second fade at 25 fps: about 15 of its frames are between the two levels.
    assert!((5..=40).contains(&ramp), "{ramp} frames of fade: {seen:?}");
}
