//! `/api/validation/*` against the real server and real FFmpeg: a good file passes, an
//! empty one and one whose end is corrupt (it probes and starts fine) fail with their
//! reasons, and the failed ones leave the channel's timeline.

use std::time::Duration;

use serde_json::Value;

use crate::support::{media, wait_until, Client, TempDir, TestServer};

fn wait_scan(c: &Client) {
    let id = c.get("/api/libraries").json()[0]["id"].as_i64().unwrap();
    let done = wait_until(Duration::from_secs(60), || {
        c.get(&format!("/api/libraries/scan-progress/{id}")).json()["status"] == "done"
    });
    assert!(done, "the scan did not finish");
}

/// The titles the channel's timeline plays from now on.
fn titles_ahead(c: &Client) -> Vec<String> {
    let playout = c.get("/api/playouts").json()[0]["id"].clone();
    let items = c
        .get(&format!("/api/playouts/{playout}/items?limit=1000"))
        .json();
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn broken_files_fail_validation_with_their_reason_and_leave_the_timeline() {
    let dir = TempDir::new("validation");
    let good = dir.path().join("Good.ts");
    media::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=6",
            "-f",
            "lavfi",
            "-i",
            "sine=duration=6",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-c:a",
            "aac",
            "-f",
            "mpegts",
        ],
        &good,
    );
    // The same file with its last part scrambled: it probes, its start decodes, its end not.
    let mut bytes = std::fs::read(&good).unwrap();
    let from = bytes.len() * 85 / 100;
    for (i, b) in bytes[from..from + 30_000].iter_mut().enumerate() {
        *b = (i * 37) as u8;
    }
    std::fs::write(dir.path().join("Scrambled.ts"), bytes).unwrap();
    std::fs::write(dir.path().join("Empty.mp4"), b"").unwrap();
    let server = TestServer::builder().media(dir.path()).start();
    let c = server.client();
    wait_scan(&c);
    assert!(
        titles_ahead(&c).iter().any(|t| t == "Scrambled"),
        "{:?}",
        titles_ahead(&c)
    );

    // One file by its path: valid; asked again, the stored verdict.
    let path = good.display().to_string();
    let r = c.post(&format!(
        "/api/validation/validate?file_path={}",
        enc(&path)
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["valid"], true, "{}", r.text());
    let one = c.get(&format!("/api/validation/results/{}", enc(&path)));
    assert_eq!(one.status, 200, "{}", one.text());
    assert_eq!(one.json()["file_path"], path);

    // Every file, in the background.
    let all = c.post("/api/validation/validate-all");
    assert_eq!(all.status, 200, "{}", all.text());
    let mut status = Value::Null;
    let done = wait_until(Duration::from_secs(120), || {
        status = c.get("/api/validation/status").json();
        status["running"] == false && status["checked"].as_u64() >= Some(2)
    });
    assert!(done, "{status}");
    assert_eq!(status["enabled"], true);
    assert_eq!(status["invalid_files"], 2, "{status}");
    let bad = c.get("/api/validation/results?valid=false").json();
    let reasons: Vec<String> = bad["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}: {}", r["file_path"], r["reason"]))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("Empty.mp4") && r.contains("empty")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("Scrambled.ts") && r.contains("its end does not decode")),
        "{reasons:?}"
    );
    // The failed files leave the timeline (after what plays now).
    let ahead = titles_ahead(&c);
    let later = &ahead[ahead.len().min(2)..];
    assert!(!later.iter().any(|t| t == "Scrambled"), "{ahead:?}");
    assert!(later.iter().any(|t| t == "Good"), "{ahead:?}");

    // Bad input: no such file, nothing named, a file outside the library.
    assert_eq!(
        c.post("/api/validation/validate?file_path=/etc/passwd")
            .status,
        404
    );
    assert_eq!(c.post("/api/validation/validate").status, 422);
    assert_eq!(
        c.post("/api/validation/validate?media_item_id=x").status,
        400
    );
    // Cleared: every verdict forgotten.
    let cleared = c.post("/api/validation/clear-cache").json();
    assert_eq!(cleared["cleared"], 3, "{cleared}");
    assert_eq!(c.get("/api/validation/status").json()["invalid_files"], 0);
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
