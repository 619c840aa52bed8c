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
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(1024 * 1024 + 10));
    let r = c.request("PUT", "/api/settings/channels", Some(big.as_bytes()));
    assert_eq!(r.status, 413);
    r.detail();
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
        json!({"max_viewers_per_channel": 50, "idle_grace_seconds": 30})
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
            json!({"max_viewers_per_channel": 50, "idle_grace_seconds": 5})
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
