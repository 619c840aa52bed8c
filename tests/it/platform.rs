//! The platform: start-up, health, errors, auth, restart, shutdown, hostile clients.

use std::time::Duration;

use crate::support::{TestServer, TOKEN};

#[test]
fn starts_and_reports_health() {
    let server = TestServer::start();
    let health = server.anon().get("/api/health");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "healthy");
    let detailed = server.anon().get("/api/health/detailed").json();
    assert_eq!(detailed["components"]["database"]["status"], "healthy");
    assert!(
        detailed["components"]["ffmpeg"]["version"].is_string(),
        "{detailed}"
    );
    assert!(detailed["disk"]["free_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        server.anon().get("/api/health/live").json()["status"],
        "alive"
    );
    assert_eq!(
        server.anon().get("/api/health/ready").json()["status"],
        "ready"
    );
}

#[test]
fn every_error_is_json_with_the_right_status() {
    let server = TestServer::start();
    let c = server.client();
    let r = c.get("/no/such/route");
    assert_eq!((r.status, r.detail().as_str()), (404, "not found"));
    let r = c.request("DELETE", "/api/health", None);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    r.detail();
    let r = server.anon().get("/api/channels");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    r.detail();
}

#[test]
fn auth_accepts_bearer_and_api_key_and_rejects_the_rest() {
    let server = TestServer::start();
    let path = "/api/no-such-resource";
    assert_eq!(server.anon().get(path).status, 401);
    assert_eq!(server.anon().token("wrong").get(path).status, 401);
    assert_eq!(
        server.anon().header("X-Api-Key", "nope").get(path).status,
        401
    );
    // Right token: past auth, then the router's 404.
    assert_eq!(server.client().get(path).status, 404);
    assert_eq!(
        server.anon().header("X-Api-Key", TOKEN).get(path).status,
        404
    );
    // Open routes.
    for open in ["/api/health", "/api/health/live", "/health", "/version"] {
        assert_eq!(server.anon().get(open).status, 200, "{open}");
    }
}

#[test]
fn sigterm_exits_zero_quickly() {
    let mut server = TestServer::start();
    assert_eq!(server.anon().get("/api/health").status, 200);
    let started = std::time::Instant::now();
    let status = server
        .stop(Duration::from_secs(5))
        .expect("exited within 5 s");
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
