//! The troubleshooting agent (issue 16, point 4) against the real binary: a channel whose
//! media file turns corrupt after it was scanned fails over and over (an FFmpeg crash loop
//! on one item); per `ai.agent.mode` the agent proposes (dry_run: nothing changes), queues
//! (approve: a person approves, the fix runs through the guards and is audited) or executes
//! (auto). Restarts never bypass the restart gate, and requests for tools that do not
//! exist or for a restart of every channel are refused.

use std::time::Duration;

use rusqlite::Connection;
use serde_json::{json, Value};

use crate::stream_fixture::{self as fx, item, Media};
use crate::support::{wait_until, TempDir, TestServer};

const CHANNEL: &str = "900";

/// A server whose channel 900 plays a good second, then an item whose file was a good clip
/// at scan time and is garbage now (for ten minutes), then good items. Its agent runs in
/// `mode`; `setup` may add rows before the start.
fn crash_loop_server(
    media: &TempDir,
    mode: &str,
    setup: impl FnOnce(&Connection),
) -> (TestServer, i64) {
    let good = fx::clips(media.path(), 1, 1.0);
    let turned = media.path().join("turns-corrupt.mp4");
    crate::support::media::clip(&turned, 2.0, 900);
    let start = fx::now_ms() - 200;
    let mut items = vec![item(&good[0], 1000, "good")];
    items.push(item(&Media::Clip(turned.clone()), 600_000, "turns corrupt"));
    items.extend((0..3).map(|i| item(&good[0], 1000, &format!("after {i}"))));
    let mut media_id = 0;
    let server = fx::server_with(&[], |conn| {
        fx::add_channel(conn, CHANNEL, &items, start);
        media_id = conn
            .query_row(
                "SELECT id FROM media_items WHERE title = 'turns corrupt'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        fx::set_setting(
            conn,
            "ai",
            &json!({"agent": {"mode": mode, "max_steps": 3}, "base_url": "http://127.0.0.1:9"})
                .to_string(),
        );
        setup(conn);
        // After the "scan": the file is garbage now.
        std::fs::write(&turned, vec![0xA5u8; 64 * 1024]).unwrap();
    });
    (server, media_id)
}

/// A viewer kept on the channel (the feeder runs while someone watches).
fn watch(server: &TestServer) -> std::thread::JoinHandle<()> {
    let mut s = server
        .anon()
        .stream(&format!("/iptv/channel/{CHANNEL}.ts"))
        .unwrap();
    std::thread::spawn(move || {
        s.body.set_timeout(Duration::from_secs(5));
        let _ = fx::read_for(&mut s.body, Duration::from_secs(40));
        s.body.close();
    })
}

/// What the agent may change, as rows: validations, the timeline, the queue.
fn rows(server: &TestServer) -> Vec<String> {
    let conn = Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut out = Vec::new();
    for sql in [
        "SELECT media_item_id || ':' || valid FROM media_validations ORDER BY 1",
        "SELECT id || ':' || start_ms || ':' || finish_ms FROM playout_items ORDER BY id",
        "SELECT id || ':' || status FROM agent_fixes ORDER BY id",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let got: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        out.push(got.join(","));
    }
    out
}

fn gate_admissions(server: &TestServer) -> u64 {
    let metrics = server.anon().get("/metrics").text();
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("exstreamtv_restarts_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("exstreamtv_restarts_total")
}

fn list(server: &TestServer, route: &str, key: &str) -> Vec<Value> {
    let doc = server.client().get(&format!("/api/ollama/{route}")).json();
    doc[key].as_array().cloned().unwrap_or_default()
}

fn tools_of(fixes: &[Value]) -> Vec<String> {
    fixes
        .iter()
        .map(|f| {
            let tool = f["call"]["tool"].as_str().or(f["tool"].as_str());
            format!(
                "{} {}",
                tool.unwrap_or("?"),
                f["status"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

fn ask(server: &TestServer, query: &str) -> Value {
    let r = server
        .client()
        .post_json("/api/ollama/query", &json!({ "query": query }));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[test]
fn dry_run_proposes_the_fixes_and_changes_nothing() {
    let media = TempDir::new("agent-dry");
    let (server, media_id) = crash_loop_server(&media, "dry_run", |conn| {
        // A fix queued earlier (in another mode): dry_run must not run it.
        conn.execute(
            "INSERT INTO agent_fixes (tool, call, reason, created_at_ms)
             VALUES ('mark_broken', ?1, 'queued before', 0)",
            [json!({"tool": "mark_broken", "item_id": 1}).to_string()],
        )
        .unwrap();
    });
    let before = rows(&server);
    let viewer = watch(&server);
    assert!(
        wait_until(Duration::from_secs(40), || server
            .log_text()
            .contains("troubleshooting agent (dry_run) proposes a fix")),
        "{}",
        server.log_text()
    );
    let d = ask(&server, "why does channel 900 keep failing?");
    assert_eq!(d["success"], true);
    assert_eq!(d["persona"], "system_admin");
    assert_eq!(d["log_matches"][0]["pattern"], "ffmpeg_crash_loop", "{d}");
    assert_eq!(d["log_matches"][0]["cause"], "file_unreadable", "{d}");
    assert!(!d["log_matches"][0]["evidence"]
        .as_array()
        .unwrap()
        .is_empty());
    let fixes = d["fixes"].as_array().unwrap();
    assert!(
        fixes
            .iter()
            .any(|f| f["call"]["tool"] == "mark_broken" && f["call"]["item_id"] == media_id),
        "{d}"
    );
    assert!(
        fixes
            .iter()
            .all(|f| f["status"] != "executed" && f["status"] != "queued"),
        "{d}"
    );
    assert!(d["context_used"][0]["restart_budget_left"].is_u64(), "{d}");
    // The queued fix cannot be applied in dry_run: 409, and it stays pending.
    let pending = list(&server, "pending-approvals", "approvals");
    assert_eq!(pending.len(), 1, "{pending:?}");
    let id = pending[0]["id"].as_i64().unwrap();
    let r = server
        .client()
        .post(&format!("/api/ollama/fixes/{id}/apply"));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.detail().contains("dry_run"), "{}", r.detail());
    assert_eq!(
        server.client().post("/api/ollama/fixes/999/apply").status,
        409
    );
    assert!(list(&server, "fix-history", "fixes").is_empty());
    viewer.join().unwrap();
    assert_eq!(rows(&server), before, "dry_run changed rows");
}

#[test]
fn approve_queues_and_an_approved_fix_runs_through_the_guards_and_is_audited() {
    let media = TempDir::new("agent-approve");
    let (server, media_id) = crash_loop_server(&media, "approve", |_| {});
    let viewer = watch(&server);
    let mut pending = Vec::new();
    assert!(
        wait_until(Duration::from_secs(40), || {
            pending = list(&server, "pending-approvals", "approvals");
            pending.iter().any(|p| p["tool"] == "mark_broken")
        }),
        "{}",
        server.log_text()
    );
    // Nothing ran yet: the item is not marked.
    assert!(!rows(&server)[0].contains(&format!("{media_id}:0")));
    let restarts = gate_admissions(&server);
    let id_of = |tool: &str| {
        pending
            .iter()
            .find(|p| p["tool"] == tool)
            .map(|p| p["id"].as_i64().unwrap())
    };
    if let Some(skip) = id_of("skip_item") {
        let r = server.client().post_json(
            &format!("/api/ollama/approvals/{skip}/reject"),
            &json!({"reason": "not now"}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let mark = id_of("mark_broken").unwrap();
    let r = server
        .client()
        .post(&format!("/api/ollama/approvals/{mark}/approve"));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["fix"]["status"], "executed", "{}", r.text());
    assert!(
        rows(&server)[0].contains(&format!("{media_id}:0")),
        "{:?}",
        rows(&server)
    );
    // Decided: a second approval is a conflict, an unknown id a 404.
    assert_eq!(
        server
            .client()
            .post(&format!("/api/ollama/approvals/{mark}/approve"))
            .status,
        409
    );
    assert_eq!(
        server
            .client()
            .post("/api/ollama/approvals/9999/approve")
            .status,
        404
    );
    let history = tools_of(&list(&server, "fix-history", "fixes"));
    assert!(
        history.contains(&"mark_broken executed".to_string()),
        "{history:?}"
    );
    if id_of("skip_item").is_some() {
        assert!(
            history.contains(&"skip_item rejected".to_string()),
            "{history:?}"
        );
    }
    let log = server.log_text();
    assert!(
        log.contains("troubleshooting agent executed a fix"),
        "{log}"
    );
    assert!(log.contains("tool=mark_broken"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains(" audit: ") && l.contains("approve") && l.contains("status=200")),
        "no audit line for the approval: {log}"
    );
    // Marking an item broken is not a restart.
    assert_eq!(gate_admissions(&server), restarts);
    // An approved restart runs only through the gate: admitted and counted, or refused.
    let conn = Connection::open(server.data_dir().join("exstreamtv.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute(
        "INSERT INTO agent_fixes (tool, call, reason, created_at_ms) VALUES ('restart_channel', ?1, 'test', 0)",
        [json!({"tool": "restart_channel", "channel": CHANNEL}).to_string()],
    )
    .unwrap();
    let restart = conn.last_insert_rowid();
    drop(conn);
    let r = server
        .client()
        .post(&format!("/api/ollama/approvals/{restart}/approve"));
    let admitted = gate_admissions(&server) - restarts;
    match r.status {
        200 => assert!(admitted >= 1, "a restart bypassed the gate: {}", r.text()),
        409 => assert!(r.detail().contains("restart gate"), "{}", r.detail()),
        s => panic!("{s}: {}", r.text()),
    }
    viewer.join().unwrap();
}

#[test]
fn auto_executes_restarts_only_through_the_gate_and_refuses_the_rest() {
    let media = TempDir::new("agent-auto");
    let (server, media_id) = crash_loop_server(&media, "auto", |_| {});
    let viewer = watch(&server);
    assert!(
        wait_until(Duration::from_secs(40), || tools_of(&list(
            &server,
            "fix-history",
            "fixes"
        ))
        .contains(&"mark_broken executed".to_string())),
        "{}",
        server.log_text()
    );
    assert!(rows(&server)[0].contains(&format!("{media_id}:0")));
    // Asked for: a restart of every channel, and a tool that does not exist.
    let before = gate_admissions(&server);
    let history = list(&server, "fix-history", "fixes").len();
    for (query, why) in [
        ("restart every channel", "exactly one channel"),
        ("restart all channels now", "exactly one channel"),
        ("use the tool format_disk", "no tool called"),
    ] {
        let d = ask(&server, query);
        assert!(
            d["response"].as_str().unwrap().contains(why),
            "{query}: {d}"
        );
        assert!(
            d["fixes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["call"]["tool"] != "restart_channel" || f["status"] == "refused"),
            "{query}: {d}"
        );
    }
    assert_eq!(list(&server, "fix-history", "fixes").len(), history);
    // One channel, through the gate: counted as an admission; a second within the
    // cooldown is deferred by the gate, not run.
    let mut executed = 0;
    for _ in 0..2 {
        let d = ask(&server, "restart channel 900");
        let restart = d["fixes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["call"]["tool"] == "restart_channel")
            .cloned()
            .unwrap_or(Value::Null);
        if restart["status"] == "executed" {
            executed += 1;
        } else {
            assert!(
                matches!(restart["status"].as_str(), Some("failed" | "refused")),
                "{d}"
            );
        }
    }
    assert!(
        executed <= 1,
        "two restarts of one channel within its cooldown"
    );
    let admitted = gate_admissions(&server) - before;
    assert!(
        admitted >= executed,
        "a restart bypassed the gate: {admitted} < {executed}"
    );
    viewer.join().unwrap();
}

#[test]
fn off_runs_nothing_and_the_ollama_routes_answer_without_ollama() {
    let data = TempDir::new("agent-off");
    let server = fx::server_with(&[], |conn| {
        fx::set_setting(
            conn,
            "ai",
            &json!({"agent": {"mode": "off"}, "base_url": "http://127.0.0.1:9"}).to_string(),
        );
    });
    let _ = data;
    let d = ask(&server, "restart channel 900");
    assert!(d["fixes"].as_array().unwrap().is_empty(), "{d}");
    assert!(d["response"].as_str().unwrap().contains("is off"), "{d}");
    let c = server.client();
    let s = c.get("/api/ollama/status").json();
    assert_eq!(s["server_running"], false, "{s}");
    assert!(s["recommended_models"]
        .as_array()
        .is_some_and(|m| !m.is_empty()));
    for (method, path) in [
        ("POST", "/api/ollama/install"),
        ("POST", "/api/ollama/models/llama3.2:1b/install"),
        ("DELETE", "/api/ollama/models/llama3.2:1b"),
    ] {
        let r = c.request(method, path, None);
        assert_eq!(r.status, 501, "{path}");
        assert!(r.detail().contains("ollama"), "{}", r.detail());
    }
    assert!(c.get("/api/ollama/welcome").json()["message"].is_string());
    assert_eq!(
        c.post("/api/ollama/conversation/clear").json()["success"],
        true
    );
    // Bad input: no query, an empty one, not JSON.
    assert_eq!(c.post_json("/api/ollama/query", &json!({})).status, 422);
    assert_eq!(
        c.post_json("/api/ollama/query", &json!({"query": " "}))
            .status,
        422
    );
    assert_eq!(
        c.request("POST", "/api/ollama/query", Some(b"{not json"))
            .status,
        400
    );
    assert!(!server
        .log_text()
        .contains("troubleshooting agent following the log"));
}

/// A fake Ollama on loopback answering every `/api/chat` with `advice` (as the message's
/// content); the bodies it was sent.
fn fake_ollama(advice: Value) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bodies = seen.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            bodies
                .lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
            let answer = json!({"model": "tiny", "done": true,
                "message": {"role": "assistant", "content": advice.to_string()}})
            .to_string();
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    (port, seen)
}

#[test]
fn an_llm_reads_the_grounded_facts_and_its_proposals_go_through_the_registry() {
    let media = TempDir::new("agent-llm");
    let advice = json!({"explanation": "The file of the item playing is corrupt.",
        "calls": [{"tool": "format_disk"}, {"tool": "restart_channel", "channel": "all"},
                  {"tool": "status"}]});
    let (port, seen) = fake_ollama(advice);
    let (server, _) = crash_loop_server(&media, "dry_run", |conn| {
        fx::set_setting(
            conn,
            "ai",
            &json!({"provider": "ollama", "base_url": format!("http://127.0.0.1:{port}"),
                    "model": "tiny", "timeout_seconds": 10,
                    "agent": {"mode": "dry_run", "max_steps": 3}})
            .to_string(),
        );
    });
    let before = rows(&server);
    let admissions = gate_admissions(&server);
    let d = ask(&server, "why does channel 900 keep failing?");
    let response = d["response"].as_str().unwrap();
    assert!(
        response.contains("LLM: The file of the item playing is corrupt."),
        "{d}"
    );
    assert!(
        response.contains("refused: there is no tool called \"format_disk\""),
        "{d}"
    );
    let fixes = tools_of(d["fixes"].as_array().unwrap());
    assert!(
        fixes.contains(&"restart_channel refused".to_string()),
        "{fixes:?}"
    );
    assert!(fixes.contains(&"status proposed".to_string()), "{fixes:?}");
    // What the model was sent: real roles, the facts, the tools as the schema's enum.
    let sent = seen
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a chat request");
    let roles: Vec<&str> = sent["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user"], "{sent}");
    assert_eq!(sent["model"], "tiny");
    assert_eq!(sent["stream"], false);
    let tools = &sent["format"]["properties"]["calls"]["items"]["properties"]["tool"]["enum"];
    assert!(
        tools
            .as_array()
            .unwrap()
            .contains(&json!("restart_channel")),
        "{sent}"
    );
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains("why does channel 900 keep failing?") && user.contains("context"),
        "{user}"
    );
    // dry_run: nothing changed, no restart went through the gate.
    assert_eq!(rows(&server), before);
    assert_eq!(gate_admissions(&server), admissions);

    // The provider gone: the rules' answer stands, with a line why.
    let r = server.client().put_json(
        "/api/ai/settings",
        &json!({"base_url": "http://127.0.0.1:9"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let d = ask(&server, "why does channel 900 keep failing?");
    assert!(
        d["response"]
            .as_str()
            .unwrap()
            .contains("the LLM was not heard"),
        "{d}"
    );
}
