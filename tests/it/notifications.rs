//! Notification webhooks (issue 17 point 3) through the real binary: a loopback receiver
//! written here records what arrives and answers as each test step needs (a 500 first, to
//! see the retry). Events come from the real server: a viewer tunes the demo channel and
//! leaves (stream_start, stream_stop), a library is scanned (scan_done).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{wait_until, TempDir, TestServer};

/// What the receiver was sent, and the statuses it answers next (then 200).
#[derive(Default)]
struct Inbox {
    got: Mutex<Vec<(String, Value)>>,
    answers: Mutex<Vec<u16>>,
}

fn receiver() -> (SocketAddr, Arc<Inbox>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let inbox = Arc::new(Inbox::default());
    let shared = inbox.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = line.split(' ').nth(1).unwrap_or("/").to_string();
            let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            shared.got.lock().unwrap().push((path, value));
            let status = {
                let mut answers = shared.answers.lock().unwrap();
                if answers.is_empty() {
                    200
                } else {
                    answers.remove(0)
                }
            };
            let _ = conn.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (addr, inbox)
}

fn events(inbox: &Inbox, path: &str) -> Vec<String> {
    inbox
        .got
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, v)| v["event"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn webhooks_are_created_checked_retried_and_sent_on_real_events() {
    let (addr, inbox) = receiver();
    let media = TempDir::new("notify-media");
    crate::support::media::clip(&media.path().join("one.mp4"), 1.0, 440);
    let server = TestServer::builder().media(media.path()).start();
    let c = server.client();
    let hook = format!("http://{addr}/hook");
    let service = json!({"name": "hook", "config": {"webhook_url": hook}});
    // Loopback is refused until the setting allows it.
    let r = c.post_json("/api/integrations/notifications/services", &service);
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.detail().starts_with("config.webhook_url: "),
        "{}",
        r.detail()
    );
    let r = c.put_json("/api/settings/sources", &json!({"allow_loopback": true}));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.put_json("/api/settings/channels", &json!({"idle_grace_seconds": 0}));
    assert_eq!(r.status, 200, "{}", r.text());

    // Bad input: each a 4xx naming what is wrong, nothing stored.
    for (body, status, starts) in [
        (
            json!({"name": "x", "config": {"webhook_url": "https://127.0.0.1:1/h"}}),
            422,
            "config.webhook_url: https",
        ),
        (
            json!({"name": "x", "config": {"webhook_url": "http://169.254.169.254/latest"}}),
            422,
            "config.webhook_url: ",
        ),
        (
            json!({"name": "x", "config": {"webhook_url": "file:///etc/passwd"}}),
            422,
            "config.webhook_url: ",
        ),
        (
            json!({"name": "x", "config": {"webhook_url": hook, "events": ["earthquake"]}}),
            422,
            "config.events",
        ),
        (
            json!({"name": "x", "service_type": "telegram", "config": {"webhook_url": hook}}),
            422,
            "service_type",
        ),
        (
            json!({"name": "", "config": {"webhook_url": hook}}),
            422,
            "name: ",
        ),
        (json!({"config": {"webhook_url": hook}}), 422, "name: "),
    ] {
        let r = c.post_json("/api/integrations/notifications/services", &body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.detail().starts_with(starts), "{body}: {}", r.detail());
    }
    let r = c.post_json("/api/integrations/notifications/services", &service);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["service_type"], "webhook");
    let r = c.post_json("/api/integrations/notifications/services", &service);
    assert_eq!(r.status, 409, "{}", r.text());
    let discord = json!({"name": "chat", "service_type": "discord",
        "config": {"webhook_url": format!("http://{addr}/discord"), "events": ["scan_done"]}});
    assert_eq!(
        c.post_json("/api/integrations/notifications/services", &discord)
            .status,
        201
    );
    let list = c.get("/api/integrations/notifications/services").json();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list[0]["events"], json!(["scan_done"]), "{list}");

    // A test: the receiver fails once (500), the retry delivers.
    inbox.answers.lock().unwrap().push(500);
    let r = c.post("/api/integrations/notifications/services/hook/test");
    assert_eq!(r.status, 200, "{}", r.text());
    let outcome = r.json();
    assert_eq!(outcome["success"], true, "{outcome}");
    assert_eq!(outcome["attempts"], 2, "{outcome}");
    assert_eq!(events(&inbox, "/hook"), ["test", "test"]);

    // Real events: a viewer comes and goes; a scan finishes.
    let number = server.anon().get("/hdhomerun/lineup.json").json()[0]["GuideNumber"]
        .as_str()
        .unwrap()
        .to_string();
    let mut s = server
        .anon()
        .stream(&format!("/iptv/channel/{number}.ts"))
        .unwrap();
    let mut buf = [0u8; 188 * 64];
    s.body.read_exact(&mut buf).unwrap();
    s.body.close();
    let library_id = c.get("/api/libraries").json()[0]["id"].as_i64().unwrap();
    // The start's own scan ends first (its scan_done may come before the services).
    assert!(wait_until(Duration::from_secs(20), || {
        c.get(&format!("/api/libraries/scan-progress/{library_id}"))
            .json()["status"]
            == "done"
    }));
    inbox
        .got
        .lock()
        .unwrap()
        .retain(|(_, v)| v["event"] != "scan_done");
    let r = c.post(&format!("/api/libraries/local/{library_id}/scan"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        wait_until(Duration::from_secs(20), || {
            let got = events(&inbox, "/hook");
            ["stream_start", "stream_stop", "scan_done"]
                .iter()
                .all(|e| got.iter().any(|g| g == e))
        }),
        "events seen: {:?}",
        events(&inbox, "/hook")
    );
    let hooked = inbox.got.lock().unwrap().clone();
    let start = hooked
        .iter()
        .find(|(_, v)| v["event"] == "stream_start")
        .unwrap();
    assert_eq!(start.1["subject"], number.as_str(), "{}", start.1);
    assert_eq!(start.1["source"], "exstreamtv");
    // The Discord service wanted scan_done only, in Discord's body.
    assert!(wait_until(Duration::from_secs(10), || inbox
        .got
        .lock()
        .unwrap()
        .iter()
        .any(|(p, v)| p == "/discord"
            && v["content"]
                .as_str()
                .is_some_and(|t| t.contains("scan")))));
    assert!(!inbox
        .got
        .lock()
        .unwrap()
        .iter()
        .any(|(p, v)| p == "/discord"
            && v["content"].as_str().is_some_and(|t| t.contains("started"))));

    // A receiver that is gone: three attempts, a clear failure, within seconds.
    let gone = TcpListener::bind("127.0.0.1:0").unwrap();
    let gone_url = format!("http://{}/x", gone.local_addr().unwrap());
    drop(gone);
    assert_eq!(
        c.post_json(
            "/api/integrations/notifications/services",
            &json!({"name": "gone", "config": {"webhook_url": gone_url}})
        )
        .status,
        201
    );
    let began = Instant::now();
    let r = c.post("/api/integrations/notifications/services/gone/test");
    let outcome = r.json();
    assert_eq!(outcome["success"], false, "{outcome}");
    assert_eq!(outcome["attempts"], 3, "{outcome}");
    assert!(
        outcome["message"].as_str().unwrap().contains("connect"),
        "{outcome}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );

    let history = c
        .get("/api/integrations/notifications/history?limit=100")
        .json();
    let rows = history.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|h| h["service"] == "gone" && h["success"] == false),
        "{history}"
    );
    assert!(
        rows.iter()
            .any(|h| h["service"] == "hook" && h["event"] == "stream_start"),
        "{history}"
    );
    assert_eq!(
        c.get("/api/integrations/notifications/history?limit=x")
            .status,
        400
    );
    assert_eq!(
        c.delete("/api/integrations/notifications/services/gone")
            .status,
        204
    );
    assert_eq!(
        c.delete("/api/integrations/notifications/services/gone")
            .status,
        404
    );
    assert_eq!(
        c.get("/api/integrations/notifications/services/gone")
            .status,
        404
    );
    assert_eq!(
        c.post("/api/integrations/notifications/services/gone/test")
            .status,
        404
    );
    assert_eq!(
        c.request("PATCH", "/api/integrations/notifications/services", None)
            .status,
        405
    );
}
