//! Operations: settings, logs, metrics, dashboard, import/export.

use serde_json::json;

use crate::support::TestServer;

#[test]
fn json_body_errors_are_400_413_and_422_naming_the_field() {
    let server = TestServer::start();
    let c = server.client();
    let r = c.request("PUT", "/api/settings/channels", Some(b"{not json"));
    assert_eq!(r.status, 400);
    assert!(r.detail().contains("malformed JSON"));
    let r = c.put_json(
        "/api/settings/channels",
        &json!({"idle_grace_seconds": "soon"}),
    );
    assert_eq!(r.status, 422);
    assert!(
        r.detail().starts_with("idle_grace_seconds: "),
        "{}",
        r.detail()
    );
    let r = c.put_json(
        "/api/settings/channels",
        &json!({"max_viewers_per_channel": 0}),
    );
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "max_viewers_per_channel: must be between 1 and 500")
    );
    let r = c.put_json("/api/settings/channels", &json!([1, 2]));
    assert_eq!(r.status, 422);
    // Over 1 MiB: refused from the declared length, before the body is read (a client that
    // keeps writing a body the server will not read sees a reset, as with any HTTP server).
    let head = format!(
        "PUT /api/settings/channels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{\"pad\":\"",
        crate::support::TOKEN,
        1024 * 1024 + 10
    );
    let resp = crate::support::http::raw(
        server.addr,
        head.as_bytes(),
        std::time::Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("{\"detail\":"), "{text}");
    // A chunked body (no declared length) is cut off at the limit while it is read.
    let chunk = "x".repeat(64 * 1024);
    let mut chunked = format!(
        "PUT /api/settings/channels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        crate::support::TOKEN
    );
    for _ in 0..17 {
        chunked.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    let resp = crate::support::http::raw(
        server.addr,
        chunked.as_bytes(),
        std::time::Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&resp);
    assert!(
        text.starts_with("HTTP/1.1 413") || resp.is_empty(),
        "{}",
        &text[..text.len().min(300)]
    );
    let r = c.put_json(
        "/api/settings/playout",
        &json!({"time_zone": "Mars/Olympus_Mons"}),
    );
    assert_eq!(r.status, 422);
    assert!(r.detail().starts_with("time_zone: "));
    let r = c.put_json("/api/settings/hdhomerun", &json!({"device_id": "E5E17001"}));
    assert_eq!(r.status, 422);
    assert!(r.detail().starts_with("device_id: "));
    let r = c.put_json("/api/settings/hdhomerun", &json!({"tuner_count": 17}));
    assert_eq!(r.status, 422);
    let r = c.put_json(
        "/api/settings/ffmpeg",
        &json!({"ffmpeg_path": "/nonexistent/ffmpeg"}),
    );
    assert_eq!(r.status, 422);
    assert!(r.detail().starts_with("ffmpeg_path: "));
    // Nothing above changed anything.
    let s = c.get("/api/settings/channels").json();
    assert_eq!(
        s,
        json!({"max_viewers_per_channel": 50, "idle_grace_seconds": 30, "hls_hold_seconds": 30})
    );
}

#[test]
fn settings_apply_live_redact_secrets_and_survive_a_restart() {
    use std::sync::Arc;
    let data = Arc::new(crate::support::TempDir::new("settings"));
    {
        let server = TestServer::builder().data(data.clone()).start();
        let c = server.client();
        let r = c.put_json(
            "/api/settings/channels",
            &json!({"idle_grace_seconds": 5, "unknown_field": 1}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json(),
            json!({"max_viewers_per_channel": 50, "idle_grace_seconds": 5, "hls_hold_seconds": 30})
        );
        let r = c.put_json(
            "/api/settings/iptv",
            &json!({"access_token": "s3cret-token"}),
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["access_token"], "********");
        let all = c.get("/api/settings").json();
        assert!(
            !all.to_string().contains("s3cret-token"),
            "GET leaks the secret: {all}"
        );
        assert_eq!(all["hdhomerun"]["device_id"].as_str().unwrap().len(), 8);
        // Sending the redacted value back keeps the secret.
        assert_eq!(
            c.put_json("/api/settings/iptv", &json!({"access_token": "********"}))
                .status,
            200
        );
        let r = c.put_json(
            "/api/settings/hdhr",
            &json!({"friendly_name": "Living Room", "tuner_count": 3}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["tuner_count"], 3);
    }
    let server = TestServer::builder().data(data.clone()).start();
    let c = server.client();
    assert_eq!(
        c.get("/api/settings/channels").json()["idle_grace_seconds"],
        5
    );
    assert_eq!(
        c.get("/api/settings/iptv").json()["access_token_enabled"],
        true
    );
    assert_eq!(
        c.get("/api/settings/hdhomerun").json()["friendly_name"],
        "Living Room"
    );
    let r = c.put_json("/api/settings/iptv", &json!({"access_token": ""}));
    assert_eq!(r.json()["access_token_enabled"], false);
}

#[test]
fn sse_delivers_a_record_after_an_action() {
    use std::io::{BufRead, BufReader};
    let server = TestServer::start();
    let stream = server
        .client()
        .stream("/api/logs/stream")
        .expect("open SSE");
    assert_eq!(stream.status, 200);
    assert_eq!(stream.header("content-type"), Some("text/event-stream"));
    stream.body.set_timeout(std::time::Duration::from_secs(10));
    let r = server
        .client()
        .put_json("/api/settings/channels", &json!({"idle_grace_seconds": 7}));
    assert_eq!(r.status, 200);
    let mut lines = BufReader::new(stream.body);
    let mut line = String::new();
    let found = loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            break false;
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let entry: serde_json::Value = serde_json::from_str(data).expect("data is JSON");
            if entry["message"]
                .as_str()
                .unwrap_or("")
                .contains("settings updated")
            {
                assert_eq!(entry["level"], "INFO");
                break true;
            }
        }
    };
    assert!(found, "no settings record on the SSE stream");
}

#[test]
fn logs_are_filtered_long_lines_are_cut_and_clients_that_never_read_cost_nothing() {
    let server = TestServer::start();
    let c = server.client();
    let huge = "y".repeat(100_000);
    let r = c.post_json(
        "/api/logs/browser",
        &json!({"message": huge, "url": "http://x/app.js"}),
    );
    assert_eq!(r.status, 200);
    let entries = c
        .get("/api/logs/entries?filter_level=WARNING&lines=50")
        .json();
    let all = entries["entries"].as_array().unwrap();
    assert!(
        all.iter()
            .all(|e| e["level"] == "WARNING" || e["level"] == "ERROR"),
        "{entries}"
    );
    let browser = all
        .iter()
        .find(|e| e["logger"] == "exstreamtv::browser")
        .expect("browser record");
    assert!(
        browser["message"].as_str().unwrap().len() < 5000,
        "a 100 KB line was kept whole"
    );
    // One record with its context, by entry_id.
    let id = browser["entry_id"].as_str().unwrap();
    let one = c.get(&format!("/api/logs/{id}")).json();
    assert_eq!(one["entry"]["id"], browser["id"]);
    assert_eq!(c.get("/api/logs/%21%21").status, 400);
    assert_eq!(c.get("/api/logs/OTk5OTk5").status, 404);
    assert_eq!(c.get("/api/logs/entries?filter_level=LOUD").status, 400);
    // 100 SSE clients that never read; the server keeps answering.
    let idle: Vec<_> = (0..100)
        .map(|_| c.stream("/api/logs/stream").expect("open SSE"))
        .collect();
    for i in 0..300 {
        assert_eq!(
            c.put_json(
                "/api/settings/channels",
                &json!({"idle_grace_seconds": i % 60})
            )
            .status,
            200
        );
    }
    let started = std::time::Instant::now();
    assert_eq!(server.anon().get("/api/health").status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let rss_kib = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:").map(|v| {
                v.trim()
                    .trim_end_matches(" kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap()
            })
        })
        .unwrap();
    assert!(
        rss_kib < 64 * 1024,
        "RSS {rss_kib} KiB with 100 idle SSE clients"
    );
    drop(idle);
    assert_eq!(c.post("/api/logs/clear").json()["success"], true);
}

#[test]
fn dashboard_summarises_the_demo_setup() {
    let server = TestServer::start();
    let c = server.client();
    let d = c.get("/api/dashboard").json();
    assert_eq!(d["summary"]["channels"], 1, "{d}");
    assert_eq!(d["summary"]["media_items"], 3, "the demo programmes");
    let stats = c.get("/api/dashboard/stats").json();
    for key in [
        "quick_stats",
        "system_info",
        "resource_usage",
        "active_streams",
        "recent_activity",
        "storage_breakdown",
    ] {
        assert!(!stats[key].is_null(), "{key} missing: {stats}");
    }
    let usage = c.get("/api/dashboard/resource-usage").json();
    assert!(usage["memory_percent"].as_f64().unwrap() > 0.0);
    assert!(usage["process_rss_mb"].as_f64().unwrap() > 0.0);
    let info = c.get("/api/dashboard/system-info").json();
    assert!(info["cpu_count"].as_u64().unwrap() >= 1);
    let lib = c.get("/api/dashboard/library-stats").json();
    assert_eq!(lib["generated"]["items"], 3, "{lib}");
    assert!(
        c.get("/api/dashboard/activity?limit=5")
            .json()
            .as_array()
            .unwrap()
            .len()
            <= 5
    );
    assert_eq!(c.get("/api/dashboard/nope").status, 404);
    assert_eq!(server.anon().get("/api/dashboard").status, 401);
}

#[test]
fn metrics_pass_promtool() {
    let server = TestServer::start();
    server.anon().get("/api/health");
    server.anon().get("/no/such/page");
    let r = server.anon().get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text();
    assert!(
        text.contains("exstreamtv_http_requests_total{route=\"/api/health\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("route=\"unmatched\",status=\"404\""),
        "{text}"
    );
    assert!(text.contains("exstreamtv_system_rss_bytes "));
    let dir = crate::support::TempDir::new("promtool");
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, &r.body).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool is installed (scripts/test installs prometheus)");
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn export_then_import_into_a_fresh_box_gives_the_same_configuration() {
    let a = TestServer::start();
    assert_eq!(
        a.client()
            .put_json("/api/settings/hdhr", &json!({"friendly_name": "Den"}))
            .status,
        200
    );
    assert_eq!(
        a.client()
            .put_json(
                "/api/settings/iptv",
                &json!({"access_token": "secret-secret"})
            )
            .status,
        200
    );
    let mark = a.client().post_json(
        "/api/watermarks",
        &json!({"name": "Bug", "location": "top_left", "opacity": 60}),
    );
    assert_eq!(mark.status, 201, "{}", mark.text());
    let doc = a.client().get("/api/export").json();
    assert_eq!(doc["format"], "exstreamtv-export");
    assert!(
        !doc.to_string().contains("secret-secret"),
        "the export leaks a secret"
    );
    assert_eq!(doc["tables"]["channels"].as_array().unwrap().len(), 1);
    assert_eq!(doc["tables"]["watermarks"].as_array().unwrap().len(), 1);

    // A fresh box whose first run made nothing: no demo (it gets --media of an empty dir).
    let empty = crate::support::TempDir::new("empty-media");
    let b = TestServer::builder().media(empty.path()).start();
    let r = b.client().post_json("/api/import", &doc);
    assert_eq!(r.status, 200, "{}", r.text());
    let again = b.client().get("/api/export").json();
    for table in [
        "channels",
        "collections",
        "collection_items",
        "media_items",
        "schedules",
        "schedule_items",
        "watermarks",
    ] {
        assert_eq!(
            again["tables"][table], doc["tables"][table],
            "{table} differs after import"
        );
    }
    // The same lineup and the same guide, programme for programme (hosts and ports aside).
    let names = |s: &TestServer, q: &str| -> Vec<(String, String)> {
        s.anon()
            .get(&format!("/hdhomerun/lineup.json{q}"))
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["GuideNumber"].as_str().unwrap().to_string(),
                    c["GuideName"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    // A has the IPTV access token on; B does not (secrets are not exported).
    let token = "?access_token=secret-secret";
    assert_eq!(names(&a, token), names(&b, ""));
    let programmes = |s: &TestServer, q: &str| -> Vec<String> {
        let xml = s
            .anon()
            .get(&format!("/iptv/xmltv.xml{q}"))
            .text()
            .replace(&s.addr.to_string(), "HOST");
        xml.lines()
            .filter(|l| l.trim_start().starts_with("<programme"))
            .take(50)
            .map(str::to_string)
            .collect()
    };
    let (pa, pb) = (programmes(&a, token), programmes(&b, ""));
    assert!(!pa.is_empty());
    assert_eq!(pa, pb, "the guide differs after import");
    assert_eq!(
        b.client().get("/api/settings/hdhomerun").json()["friendly_name"],
        "Den"
    );
    assert_eq!(
        b.client().get("/api/settings/hdhomerun").json()["device_id"],
        doc["settings"]["hdhomerun"]["device_id"]
    );
    // The secret was not carried over.
    assert_eq!(
        b.client().get("/api/settings/iptv").json()["access_token_enabled"],
        false
    );
}

#[test]
fn a_half_valid_import_applies_nothing_and_lists_every_error() {
    let server = TestServer::start();
    let c = server.client();
    let before = c.get("/api/export").json();
    let mut doc = before.clone();
    let channels = doc["tables"]["channels"].as_array_mut().unwrap();
    channels.push(
        json!({"id": 50, "number": "7", "name": "Fine", "created_at_ms": 0, "updated_at_ms": 0}),
    );
    channels.push(json!({"id": 51, "name": "No number", "created_at_ms": 0, "updated_at_ms": 0}));
    channels.push(json!({"id": 52, "number": "8", "name": "Bad column", "colour": "red", "created_at_ms": 0, "updated_at_ms": 0}));
    doc["tables"]["playouts"].as_array_mut().unwrap().push(
        json!({"id": 60, "channel_id": 999, "seed": 1, "created_at_ms": 0, "updated_at_ms": 0}),
    );
    doc["tables"]["gremlins"] = json!([]);
    let r = c.post_json("/api/import", &doc);
    assert_eq!(r.status, 422, "{}", r.text());
    let detail = r.detail();
    assert!(
        detail.contains("tables.gremlins: unknown table"),
        "{detail}"
    );
    doc.as_object_mut().unwrap()["tables"]
        .as_object_mut()
        .unwrap()
        .remove("gremlins");
    let r = c.post_json("/api/import", &doc);
    assert_eq!(r.status, 422);
    let detail = r.detail();
    assert!(detail.starts_with("nothing was imported"), "{detail}");
    assert!(
        detail.contains("channels[2]") && detail.contains("NOT NULL"),
        "{detail}"
    );
    assert!(
        detail.contains("channels[3].colour: unknown column"),
        "{detail}"
    );
    assert!(
        detail.contains("playouts row 60: refers to a missing channels row"),
        "{detail}"
    );
    let after = c.get("/api/export").json();
    assert_eq!(
        after["tables"], before["tables"],
        "a refused import changed something"
    );
    assert_eq!(c.request("POST", "/api/import", Some(b"nope")).status, 400);
    assert_eq!(c.get("/api/import").status, 405);
}

/// The parts of an export that say what the box holds (`exported_at` aside).
fn contents(doc: &serde_json::Value) -> (serde_json::Value, serde_json::Value) {
    (doc["tables"].clone(), doc["settings"].clone())
}

#[test]
fn an_import_with_a_bogus_enum_value_names_it_and_writes_nothing() {
    let server = TestServer::start();
    let c = server.client();
    let before = c.get("/api/export").json();
    let mut doc = before.clone();
    // A change that would show if anything were written, beside the bad value.
    doc["tables"]["channels"][0]["name"] = json!("Renamed");
    let items = doc["tables"]["schedule_items"].as_array_mut().unwrap();
    assert!(!items.is_empty(), "the demo has a schedule item");
    let last = items.len() - 1;
    items[last]["guide_mode"] = json!("bogus");
    let r = c.post_json("/api/import", &doc);
    assert_eq!(r.status, 422, "{}", r.text());
    let detail = r.detail();
    assert!(
        detail.starts_with("nothing was imported; 1 error(s): "),
        "{detail}"
    );
    assert!(
        detail.contains(&format!(
            "schedule_items[{last}].guide_mode: unknown value \"bogus\" (expected one of: normal, custom, hide)"
        )),
        "{detail}"
    );
    assert_eq!(
        contents(&c.get("/api/export").json()),
        contents(&before),
        "a refused import changed something"
    );
    // A channel's idle behaviour is checked the same way (it starts a channel at boot).
    doc["tables"]["schedule_items"][last]["guide_mode"] = json!("normal");
    doc["tables"]["channels"][0]["idle_behavior"] = json!("forever");
    let r = c.post_json("/api/import", &doc);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.detail()
            .contains("channels[0].idle_behavior: unknown value \"forever\""),
        "{}",
        r.detail()
    );
    // The same document with the values fixed goes in whole.
    doc["tables"]["channels"][0]["idle_behavior"] = json!("stop_on_disconnect");
    let r = c.post_json("/api/import", &doc);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        c.get("/api/export").json()["tables"]["channels"][0]["name"],
        "Renamed"
    );
}

#[test]
fn an_import_with_a_setting_out_of_bounds_names_it_and_writes_nothing() {
    let server = TestServer::start();
    let c = server.client();
    let before = c.get("/api/export").json();
    let mut doc = before.clone();
    doc["tables"]["channels"][0]["name"] = json!("Renamed");
    doc["settings"]["hdhomerun"]["friendly_name"] = json!("Den");
    doc["settings"]["playout"]["days_to_build"] = json!(99);
    let r = c.post_json("/api/import", &doc);
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(
        r.detail(),
        "nothing was imported; 1 error(s): settings.playout.days_to_build: must be between 1 and 14"
    );
    assert_eq!(
        contents(&c.get("/api/export").json()),
        contents(&before),
        "a refused import changed something"
    );
    assert_eq!(
        c.get("/api/settings/hdhomerun").json()["friendly_name"],
        before["settings"]["hdhomerun"]["friendly_name"]
    );
    // The settings API holds the same bound, worded for its section.
    let r = c.put_json("/api/settings/playout", &json!({"days_to_build": 99}));
    assert_eq!(
        (r.status, r.detail().as_str()),
        (422, "days_to_build: must be between 1 and 14")
    );
}

#[test]
fn metrics_and_dashboard_report_a_live_stream() {
    use std::io::Read;
    let server = TestServer::start();
    let mut viewer = server.anon().stream("/iptv/channel/1.ts").expect("tune");
    assert_eq!(viewer.status, 200);
    let mut buf = vec![0u8; 188 * 64];
    viewer.body.read_exact(&mut buf).expect("TS bytes");
    let text = server.anon().get("/metrics").text();
    assert!(
        text.contains("exstreamtv_viewers{channel=\"1\"} 1"),
        "{text}"
    );
    assert!(text.contains("exstreamtv_tuners_in_use 1"), "{text}");
    assert!(
        text.contains("exstreamtv_tune_latency_seconds_count 1"),
        "{text}"
    );
    assert!(
        text.contains("exstreamtv_playout_horizon_seconds{channel=\"1\"}"),
        "{text}"
    );
    let streams = server.client().get("/api/dashboard/active-streams").json();
    assert_eq!(streams[0]["channel_number"], "1", "{streams}");
    assert_eq!(streams[0]["viewers"], 1);
    let dir = crate::support::TempDir::new("promtool-live");
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, text.as_bytes()).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    viewer.body.close();
}

#[test]
fn time_zones_are_iana_names_or_posix_rules() {
    let server = TestServer::start();
    let c = server.client();
    for zone in [
        "Europe/Berlin",
        "UTC",
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "EST5EDT,M3.2.0,M11.1.0",
    ] {
        let r = c.put_json("/api/settings/playout", &json!({"time_zone": zone}));
        assert_eq!(r.status, 200, "{zone}: {}", r.text());
    }
    let r = c.put_json(
        "/api/settings/playout",
        &json!({"time_zone": "Nowhere/Atlantis"}),
    );
    assert_eq!(r.status, 422);
}

/// The server's peak resident memory so far, in KiB (`VmHWM`).
fn peak_rss_kib(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The export streams rows from one read snapshot on the bulk reader: a ~20 MB library goes
/// out whole, while the server's memory grows by a small part of it (a JSON tree of it
/// would take several times its size), and the fast reader answers meanwhile.
#[test]
fn a_large_export_streams_without_holding_it_in_memory() {
    const N_ITEMS: i64 = 20_000;
    let server = crate::stream_fixture::server_with(&[], |conn| {
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO media_items (source, url, title, description, duration_ms,
                 added_at_ms, created_at_ms, updated_at_ms)
             SELECT 'local', '/m/item' || i || '.mkv', 'Item ' || i, printf('%.1000c', 'x'),
                 60000, 0, 0, 0 FROM n",
            [N_ITEMS],
        )
        .unwrap();
    });
    let c = server.client();
    // Warm: the first requests grow the heap a little for reasons of their own.
    assert_eq!(c.get("/api/channels").status, 200);
    let before = peak_rss_kib(&server);
    let mut export = c.stream("/api/export").unwrap();
    assert_eq!(export.status, 200);
    assert_eq!(export.header("content-type"), Some("application/json"));
    let mut head = [0u8; 4096];
    std::io::Read::read_exact(&mut export.body, &mut head).unwrap();
    // The export is mid-way (its client has read 4 KiB): the guide and reads still answer.
    let started = std::time::Instant::now();
    assert_eq!(server.anon().get("/iptv/xmltv.xml").status, 200);
    assert_eq!(c.get("/api/playouts/1/now-playing").status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut export.body, &mut rest).unwrap();
    let mut whole = head.to_vec();
    whole.extend_from_slice(&rest);
    let doc: serde_json::Value = serde_json::from_slice(&whole).expect("one JSON document");
    assert_eq!(doc["format"], "exstreamtv-export");
    let items = doc["tables"]["media_items"].as_array().unwrap();
    assert!(items.len() as i64 >= N_ITEMS, "{} items", items.len());
    let grown_kib = peak_rss_kib(&server).saturating_sub(before);
    let doc_kib = whole.len() as u64 / 1024;
    eprintln!("export of {doc_kib} KiB: peak RSS grew by {grown_kib} KiB");
    assert!(
        grown_kib < doc_kib / 4,
        "peak RSS grew by {grown_kib} KiB for a {doc_kib} KiB export"
    );
}

/// `/api/logs/lifecycle/*`: the in-memory ring in EXStreamTV's shape; nothing is on disk to
/// archive, and truncate-now empties the ring.
#[test]
fn log_lifecycle_reports_the_ring_and_truncate_empties_it() {
    let server = TestServer::start();
    let c = server.client();
    let status = c.get("/api/logs/lifecycle/status").json();
    let active = &status["active_logs"][0];
    assert_eq!(active["path"], "memory", "{status}");
    assert!(active["records"].as_u64().unwrap() > 0, "{status}");
    assert!(status["total_active_size_mb"].as_f64().unwrap() > 0.0);
    assert_eq!(status["archived_logs"], serde_json::json!([]));
    assert_eq!(status["config"]["written_to_disk"], false);
    let archive = c.post("/api/logs/lifecycle/archive-now").json();
    assert_eq!(
        (archive["success"].clone(), archive["archived"].clone()),
        (true.into(), 0.into())
    );
    let t = c.post("/api/logs/lifecycle/truncate-now").json();
    assert!(t["truncated_records"].as_u64().unwrap() > 0, "{t}");
    // The ring is empty but for what was logged since (at most the request's own audit).
    let left = c.get("/api/logs/entries").json();
    assert!(left["total_lines"].as_u64().unwrap() <= 2, "{left}");
    assert_eq!(c.get("/api/logs/lifecycle/truncate-now").status, 405);
    // The AI module's records: none from a server that has run no AI work, and nothing
    // of the rest of the ring.
    let ai = c.get("/api/logs/ollama/entries").json();
    assert_eq!(ai["showing"], 0, "{ai}");
    assert_eq!(c.get("/api/logs/ollama/directory").json()["exists"], false);
}
