//! The audit log: writes through `/api` and 401s leave lines under target `audit`, in
//! `/api/logs/entries` and on `/api/logs/stream`, and no secret ever reaches the log.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{http::Stream, Client, TestServer, TOKEN};

/// A value sent where secrets travel (`?access_token=`) on an audited write.
const QUERY_SECRET: &str = "query-secret-5f1e2d3c4b5a";
/// The IPTV access token the 401 test sets through the settings API (a body).
const IPTV_SECRET: &str = "iptv-secret-9a8b7c6d5e4f";
/// A wrong API token, sent in `Authorization` and `X-Api-Key`.
const WRONG_TOKEN: &str = "wrong-token-a1b2c3d4e5f6";
/// A wrong IPTV token, sent in the query string.
const WRONG_QUERY_TOKEN: &str = "wrong-query-token-0f9e8d7c";

/// The audit records in the ring, oldest first, at `min_level` and above.
fn audit_entries(server: &TestServer, min_level: &str) -> Vec<Value> {
    let r = server.client().get(&format!(
        "/api/logs/entries?target=audit&filter_level={min_level}&lines=2000"
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["entries"].as_array().cloned().unwrap_or_default()
}

fn messages(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Reads SSE records until `n` audit records have arrived (or the deadline passes).
fn sse_audit_records(stream: Stream, n: usize) -> Vec<Value> {
    stream.body.set_timeout(Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut lines = BufReader::new(stream.body);
    let mut line = String::new();
    let mut found = Vec::new();
    while found.len() < n && Instant::now() < deadline {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let entry: Value = serde_json::from_str(data).expect("data is JSON");
            if entry["logger"] == "audit" {
                found.push(entry);
            }
        }
    }
    found
}

/// Everything the server logged, on stderr and in the ring, once stderr has caught up
/// with `last` (the newest line the test expects), for the secret checks.
fn all_log_text(server: &TestServer, last: &str) -> String {
    assert!(
        crate::support::wait_until(Duration::from_secs(10), || server.log_text().contains(last)),
        "{last:?} never reached stderr:\n{}",
        server.log_text()
    );
    let ring = server.client().get("/api/logs/entries?lines=2000").text();
    format!("{}\n{ring}", server.log_text())
}

fn assert_no_secrets(text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(!text.contains(secret), "{secret:?} was logged:\n{text}");
    }
}

#[test]
fn audit_writes_name_method_route_ids_and_status_in_the_ring_and_on_the_stream() {
    let server = TestServer::start();
    let c = server.client();
    let sse = c.stream("/api/logs/stream").expect("open SSE");
    assert_eq!(sse.status, 200);

    let created = c.post_json(
        &format!("/api/channels?access_token={QUERY_SECRET}"),
        &json!({"number": "42", "name": "Audited"}),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let channel_id = created.json()["id"].as_i64().expect("channel id");
    let playout_id = c.get("/api/playouts?channel_id=1").json()[0]["id"]
        .as_i64()
        .expect("the demo channel's playout");
    let rebuilt = c.post(&format!("/api/playouts/{playout_id}/rebuild"));
    assert_eq!(rebuilt.status, 200, "{}", rebuilt.text());
    let deleted = c.delete(&format!("/api/channels/{channel_id}"));
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    // Reads and failed writes are not audited.
    assert_eq!(c.get("/api/channels").status, 200);
    assert_eq!(c.head("/api/channels").status, 200);
    assert_eq!(c.delete(&format!("/api/channels/{channel_id}")).status, 404);
    assert_eq!(server.anon().get("/iptv/channels.m3u").status, 200);

    // Each line is written before its response is sent: no waiting needed.
    let expected = [
        format!("api write method=POST route=/api/channels new_id={channel_id} status=201 client=127.0.0.1"),
        format!("api write method=POST route=/api/playouts/{{id}}/rebuild id={playout_id} status=200 client=127.0.0.1"),
        format!("api write method=DELETE route=/api/channels/{{id}} id={channel_id} status=204 client=127.0.0.1"),
    ];
    let entries = audit_entries(&server, "DEBUG");
    assert_eq!(messages(&entries), expected);
    assert!(entries
        .iter()
        .all(|e| e["level"] == "INFO" && e["logger"] == "audit"));
    let streamed = sse_audit_records(sse, expected.len());
    assert_eq!(messages(&streamed), expected);

    let text = all_log_text(&server, &expected[2]);
    assert_no_secrets(&text, &[TOKEN, QUERY_SECRET]);
}

#[test]
fn audit_401s_warn_once_per_address_per_window_and_no_token_is_logged() {
    let server = TestServer::start();
    let sse = server
        .client()
        .stream("/api/logs/stream")
        .expect("open SSE");
    let put = server
        .client()
        .put_json("/api/settings/iptv", &json!({"access_token": IPTV_SECRET}));
    assert_eq!(put.status, 200, "{}", put.text());
    let m3u = format!("/iptv/channels.m3u?access_token={IPTV_SECRET}");
    assert_eq!(server.anon().get(&m3u).status, 200);

    // A burst of 20 wrong tokens, in every place a token travels.
    let bearer = server.anon().token(WRONG_TOKEN);
    let api_key = Client::new(server.addr).header("X-Api-Key", WRONG_TOKEN);
    for i in 0..20 {
        let r = match i % 4 {
            0 => bearer.get("/api/channels"),
            1 => bearer.post_json("/api/channels", &json!({"number": "9", "name": "x"})),
            2 => api_key.delete("/api/channels/1"),
            _ => server.anon().get(&format!(
                "/iptv/channels.m3u?access_token={WRONG_QUERY_TOKEN}"
            )),
        };
        assert_eq!(r.status, 401, "request {i}: {}", r.text());
    }
    let first = "unauthorized method=GET area=/api status=401 client=127.0.0.1 n_folded=0";
    let warnings = audit_entries(&server, "WARNING");
    assert_eq!(messages(&warnings), [first], "one line for the burst");
    assert_eq!(warnings[0]["level"], "WARNING");
    // On the stream: the settings write, then the one warning.
    let streamed = sse_audit_records(sse, 2);
    assert_eq!(streamed.len(), 2, "{streamed:?}");
    assert_eq!(streamed[1]["level"], "WARNING");
    assert_eq!(streamed[1]["message"], first);

    // The next line once the window has passed carries the folded count. Each poll sends
    // one more wrong token, which is folded too until the window closes.
    let deadline = Instant::now() + Duration::from_secs(25);
    let second = loop {
        assert_eq!(bearer.get("/api/settings").status, 401);
        let warnings = audit_entries(&server, "WARNING");
        if let Some(line) = warnings.get(1) {
            assert_eq!(warnings.len(), 2, "{warnings:?}");
            break line["message"].as_str().unwrap_or("").to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no second 401 line: {warnings:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let n_folded: u32 = second
        .strip_prefix("unauthorized method=GET area=/api status=401 client=127.0.0.1 n_folded=")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {second:?}"));
    assert!(n_folded >= 19, "{second}");

    let text = all_log_text(&server, &second);
    assert_no_secrets(&text, &[TOKEN, WRONG_TOKEN, WRONG_QUERY_TOKEN, IPTV_SECRET]);
}
