//! Prewarmed channels (`idle_behavior: keep_running`): running from boot with no viewer, a
//! warm first tune, and, back to `stop_on_disconnect`, stopped once the idle grace has
//! passed.

use std::io::Read;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::stream_fixture::{self as fx, item, Media};
use crate::support::{wait_until, TestServer};

/// The idle grace of these tests: short, so a stop is seen quickly.
const GRACE: Duration = Duration::from_secs(3);

fn long_generated() -> Vec<fx::Item> {
    vec![item(&Media::Generated(2), 600_000, "Long")]
}

fn tuners_in_use(server: &TestServer) -> usize {
    let text = server.anon().get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix("exstreamtv_tuners_in_use "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the tuners gauge")
}

/// How long a tune of `number` takes from the request to its first TS packet; the viewer
/// is closed again.
fn first_packet(server: &TestServer, number: &str) -> Duration {
    let asked = Instant::now();
    let mut stream = server
        .anon()
        .stream(&format!("/iptv/channel/{number}.ts"))
        .expect("a stream");
    assert_eq!(stream.status, 200);
    let mut packet = [0u8; 188];
    stream.body.read_exact(&mut packet).expect("stream bytes");
    let took = asked.elapsed();
    assert_eq!(packet[0], 0x47, "a TS packet first");
    stream.body.close();
    took
}

#[test]
fn a_keep_running_channel_runs_from_boot_tunes_warm_and_stops_after_the_grace_once_released() {
    let start = fx::now_ms() - 1000;
    let mut kept = 0;
    let server = fx::server_with(&["--tuners", "2"], |conn| {
        fx::set_setting(conn, "channels", r#"{"idle_grace_seconds":3}"#);
        kept = fx::add_channel(conn, "910", &long_generated(), start);
        conn.execute(
            "UPDATE channels SET idle_behavior = 'keep_running' WHERE id = ?1",
            [kept],
        )
        .unwrap();
        fx::add_channel(conn, "911", &long_generated(), start);
    });
    // Running a few seconds after the start, with nobody watching.
    assert!(
        wait_until(Duration::from_secs(15), || tuners_in_use(&server) == 1
            && fx::n_ffmpeg(&server) == 1),
        "the keep_running channel did not start: {}",
        server.log_text()
    );
    assert!(server.log_text().contains("prewarmed"));
    // Well past the idle grace it still runs.
    assert!(!wait_until(
        GRACE + Duration::from_secs(2),
        || tuners_in_use(&server) == 0
    ));
    // Its first tune is warm; a channel that is not prewarmed starts cold, for contrast.
    let warm = first_packet(&server, "910");
    let cold = first_packet(&server, "911");
    println!(
        "first TS packet: prewarmed {:.1} ms, cold {:.1} ms",
        warm.as_secs_f64() * 1000.0,
        cold.as_secs_f64() * 1000.0
    );
    assert!(warm <= Duration::from_millis(20), "warm tune took {warm:?}");
    // The cold one stops after its grace; the prewarmed one does not.
    assert!(wait_until(
        GRACE + Duration::from_secs(10),
        || tuners_in_use(&server) == 1
    ));
    // Back to stop_on_disconnect: it runs on for the grace, then stops.
    let c = server.client();
    let path = format!("/api/channels/{kept}");
    let released = Instant::now();
    let r = c.put_json(&path, &json!({"idle_behavior": "stop_on_disconnect"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["idle_behavior"], "stop_on_disconnect");
    assert_eq!(tuners_in_use(&server), 1, "stopped before its grace");
    assert!(wait_until(GRACE + Duration::from_secs(10), || {
        tuners_in_use(&server) == 0 && fx::n_ffmpeg(&server) == 0
    }));
    let took = released.elapsed();
    assert!(
        took >= GRACE - Duration::from_millis(100),
        "stopped {took:?} after the write"
    );
    // keep_running again: it starts without a viewer at once.
    let r = c.put_json(&path, &json!({"idle_behavior": "keep_running"}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(wait_until(Duration::from_secs(10), || tuners_in_use(
        &server
    ) == 1));
    // A value it does not know is refused, naming the field and the choices.
    let bad = c.put_json(&path, &json!({"idle_behavior": "sometimes"}));
    assert_eq!(bad.status, 422);
    let detail = bad.detail();
    assert!(
        detail.starts_with("idle_behavior: ") && detail.contains("keep_running"),
        "{detail}"
    );
}
