//! `/openapi.json` against the router, both ways, through the real binary, and `/docs`.
//!
//! Document → router: every (path, method) of the document, its parameters substituted, is
//! asked of the server: none may answer the router's 404 (`{"detail": "not found"}`) or a
//! 405, and a request with a method no route has (`PROBE`) must get a 405 whose `Allow`
//! (derived from the route's own `match` arms) lists exactly the document's methods.
//!
//! Router → document: the routes are the `match segs` arms of the routing functions, so
//! they are read from the source: from `http::router::route`, each arm's slice pattern is a
//! route, and an arm whose pattern ends in `rest @ ..` and calls `X::route(app, req, rest)`
//! continues in `X`'s `match segs`. Every route found must be in the document (and every
//! document path among the routes found). The scan relies on `cargo fmt` layout (arms one
//! indent inside their `match`); a line there it does not understand fails the test, and
//! everything it finds is also asked of the binary, so it can neither invent nor silently
//! skip a route. Arms guarded by `if app.config.debug_routes` exist only with
//! `EXSTREAMTV_DEBUG_ROUTES=1` and are left out of both.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{TestServer, TOKEN};

/// A path with every parameter (a segment holding `{…}`, or a source binding) as `{}`.
fn normalized(path: &str) -> String {
    let segs: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| if s.contains('{') { "{}" } else { s })
        .collect();
    format!("/{}", segs.join("/"))
}

/// The document's path with its parameters given values that reach the route but no row
/// (so a write changes nothing): ids that do not exist, a channel number no channel has.
fn concrete(path: &str, parameters: &[Value]) -> String {
    let mut out = path.to_string();
    for p in parameters.iter().filter(|p| p["in"] == "path") {
        let name = p["name"].as_str().unwrap();
        let value = match (name, p["schema"]["type"].as_str()) {
            ("n" | "seq", _) => "0".to_string(),
            ("number", _) => "999".to_string(),
            (_, Some("integer")) => "999999".to_string(),
            _ => p["schema"]["example"]
                .as_str()
                .unwrap_or_else(|| panic!("{path}: parameter {name} has no example"))
                .to_string(),
        };
        out = out.replace(&format!("{{{name}}}"), &value);
    }
    out
}

/// The head of the answer to one request, and its body when it is an error (404, 405, 401):
/// streams are not read, so a route that streams costs nothing here.
struct Head {
    status: u16,
    allow: Option<String>,
    detail: Option<String>,
}

fn ask(addr: SocketAddr, method: &str, path: &str, token: bool) -> Head {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let auth = if token {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let body = if matches!(method, "POST" | "PUT" | "PATCH") {
        "{}"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {path}: bad status line {line:?}"));
    let (mut allow, mut length) = (None, 0usize);
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').unwrap();
        match k.to_ascii_lowercase().as_str() {
            "allow" => allow = Some(v.trim().to_string()),
            "content-length" => length = v.trim().parse().unwrap(),
            _ => {}
        }
    }
    let detail = if matches!(status, 401 | 404 | 405) {
        let mut buf = vec![0; length];
        reader.read_exact(&mut buf).unwrap();
        let v: Value = serde_json::from_slice(&buf)
            .unwrap_or_else(|e| panic!("{method} {path}: {status} is not JSON ({e})"));
        Some(v["detail"].as_str().expect("a detail").to_string())
    } else {
        None
    };
    Head {
        status,
        allow,
        detail,
    }
}

/// Uploads a PNG (the signature is all the server checks) as channel `id`'s icon.
fn upload_icon(addr: SocketAddr, id: i64) {
    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; \
filename=\"i.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\nrest"
        .to_vec();
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /api/channels/{id}/icon HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Authorization: Bearer {TOKEN}\r\nContent-Type: multipart/form-data; boundary=b0undary\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "icon upload: {answer}");
}

/// `GET` also answers HEAD (API.md §1), so `Allow` lists it after GET.
fn allow_of(methods: &[String]) -> String {
    let mut out = Vec::new();
    for m in methods {
        out.push(m.to_ascii_uppercase());
        if m == "get" {
            out.push("HEAD".into());
        }
    }
    out.join(", ")
}

#[test]
fn the_document_and_the_router_list_the_same_routes() {
    let server = TestServer::start();
    let c = server.client();
    let r = server.anon().get("/openapi.json");
    assert_eq!(r.status, 401, "the document needs the API token");
    let r = c.get("/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 100, "{} paths", paths.len());

    // The icon route answers the router's own 404 for a missing file: give it one.
    upload_icon(server.addr, 1);

    // Document → router.
    let mut documented = BTreeSet::new();
    for (path, ops) in paths {
        let ops = ops.as_object().unwrap();
        let mut methods: Vec<String> = ops.keys().cloned().collect();
        let order = ["get", "post", "put", "patch", "delete", "options"];
        methods.sort_by_key(|m| order.iter().position(|o| o == m).unwrap());
        let first = &ops[&methods[0]];
        let empty = Vec::new();
        let params = first["parameters"].as_array().unwrap_or(&empty);
        let url = concrete(path, params);
        let needs_token = first["security"][0].get("bearer").is_some();

        let probe = ask(server.addr, "PROBE", &url, true);
        assert_eq!(probe.status, 405, "PROBE {url}: {:?}", probe.detail);
        let allow = probe.allow.unwrap_or_default();
        // The router answers in its own arm order; compare as sets, in document order.
        let mut served: Vec<&str> = allow.split(", ").collect();
        served.sort_by_key(|m| {
            let m = m.to_ascii_lowercase();
            ["get", "head", "post", "put", "patch", "delete", "options"]
                .iter()
                .position(|o| *o == m)
                .unwrap_or(99)
        });
        assert_eq!(served.join(", "), allow_of(&methods), "{path}: Allow");

        for method in &methods {
            let method = method.to_ascii_uppercase();
            let head = ask(server.addr, &method, &url, true);
            assert_ne!(head.status, 405, "{method} {url}");
            assert!(
                !(head.status == 404 && head.detail.as_deref() == Some("not found")),
                "{method} {url}: the router's 404"
            );
        }
        // Who may call it: the document's word against the server's.
        let anon = ask(server.addr, "PROBE", &url, false);
        assert_eq!(
            anon.status == 401,
            needs_token,
            "{path}: token required is {needs_token}, anonymous PROBE got {}",
            anon.status
        );
        documented.insert(normalized(path));
    }

    // Router → document.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut routed = BTreeMap::new();
    walk(&src, "http/router.rs", &[], &mut routed);
    assert!(routed.len() > 100, "{} routes scanned", routed.len());
    let routed_paths: BTreeSet<String> = routed.keys().cloned().collect();
    let undocumented: Vec<_> = routed_paths.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in /openapi.json: {undocumented:?} (from {:?})",
        undocumented.iter().map(|p| &routed[*p]).collect::<Vec<_>>()
    );
    let unrouted: Vec<_> = documented.difference(&routed_paths).collect();
    assert!(unrouted.is_empty(), "documented, no arm: {unrouted:?}");
}

/// The routes of the `match segs` arms in `file` (under `src`), each with `prefix` before
/// it, into `out` (normalized path → the file that serves it).
fn walk(src: &Path, file: &str, prefix: &[String], out: &mut BTreeMap<String, String>) {
    let text = std::fs::read_to_string(src.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let mut n_blocks = 0;
    for (at, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if !(trimmed.contains("match segs {") || trimmed.contains("match segs.as_slice() {")) {
            continue;
        }
        n_blocks += 1;
        let indent = line.len() - trimmed.len();
        for arm in arms(file, &lines[at + 1..], indent) {
            let (pattern, body) = arm.split_once("=>").unwrap();
            if pattern.contains(" if ") {
                assert!(
                    pattern.contains("app.config.debug_routes"),
                    "{file}: a guarded arm: {pattern}"
                );
                continue;
            }
            for segs in alternatives(file, pattern) {
                if segs.last().map(String::as_str) == Some("..") {
                    // `X::route(app, req, rest)`, or with a last argument that picks what
                    // the shared router serves (`groups::route(app, req, rest, &KIND)`).
                    let callee = body
                        .split("::route(app, req, rest")
                        .next()
                        .filter(|head| head.len() < body.len())
                        .and_then(|head| head.rsplit([' ', '(', '{']).next())
                        .unwrap_or_else(|| panic!("{file}: `{pattern}` delegates to no router"));
                    let callee = callee.strip_prefix("super::").unwrap_or(callee);
                    let target = match callee.strip_prefix("crate::") {
                        Some(module) => format!("{}/mod.rs", module.replace("::", "/")),
                        None => {
                            let dir = Path::new(file).parent().unwrap();
                            format!("{}/{callee}.rs", dir.display())
                        }
                    };
                    let mut deeper = prefix.to_vec();
                    deeper.extend(segs[..segs.len() - 1].iter().cloned());
                    walk(src, &target, &deeper, out);
                } else {
                    let mut full = prefix.to_vec();
                    full.extend(segs);
                    out.insert(format!("/{}", full.join("/")), file.to_string());
                }
            }
        }
    }
    assert!(n_blocks > 0, "{file}: no `match segs`");
}

/// The arms (pattern `=>` body, on joined lines) of the match whose `match` line has
/// `indent`, in `rest` (the lines after it).
fn arms(file: &str, rest: &[&str], indent: usize) -> Vec<String> {
    let mut arms: Vec<String> = Vec::new();
    for line in rest {
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        let at = line.len() - trimmed.len();
        if at <= indent {
            break;
        }
        if at == indent + 4 {
            if trimmed.starts_with('[') {
                arms.push(trimmed.to_string());
            } else if trimmed.starts_with("_ =>") {
                arms.push(String::new());
            } else if !(trimmed.starts_with('}')
                || trimmed.starts_with(')')
                || trimmed.starts_with("//"))
            {
                panic!("{file}: not an arm the route scan understands: {trimmed}");
            }
        } else if let Some(last) = arms.last_mut() {
            if !last.is_empty() {
                last.push(' ');
                last.push_str(trimmed);
            }
        }
    }
    arms.retain(|a| !a.is_empty());
    arms
}

/// The segment lists a pattern (`[a, "b"] | ["c"]`, `[x @ ("d" | "e")]`) matches: literals
/// as written, bindings as `{}`, `rest @ ..` as `..`.
fn alternatives(file: &str, pattern: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for slice in pattern.split('[').skip(1) {
        let inner = slice
            .split_once(']')
            .unwrap_or_else(|| panic!("{file}: {pattern}"))
            .0;
        let mut lists = vec![Vec::new()];
        for seg in split_top(inner) {
            let seg = seg.trim();
            let options: Vec<String> = if let Some((_, alts)) = seg.split_once(" @ (") {
                alts.trim_end_matches(')')
                    .split('|')
                    .map(|a| a.trim().trim_matches('"').to_string())
                    .collect()
            } else if seg.ends_with("@ ..") {
                vec!["..".into()]
            } else if let Some(lit) = seg.strip_prefix('"') {
                vec![lit.trim_end_matches('"').to_string()]
            } else if !seg.is_empty() && seg.chars().all(|c| c.is_alphanumeric() || c == '_') {
                vec!["{}".into()]
            } else {
                panic!("{file}: a segment the route scan does not understand: {seg:?}")
            };
            lists = lists
                .into_iter()
                .flat_map(|l| {
                    options.iter().map(move |o| {
                        let mut l = l.clone();
                        l.push(o.clone());
                        l
                    })
                })
                .collect();
        }
        out.extend(lists);
    }
    out
}

/// `inner` split at the commas outside parentheses.
fn split_top(inner: &str) -> Vec<&str> {
    if inner.trim().is_empty() {
        return Vec::new();
    }
    let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&inner[start..]);
    out
}

#[test]
fn the_documented_fields_are_the_ones_sent() {
    let server = TestServer::start();
    let c = server.client();
    let doc = c.get("/openapi.json").json();
    let schemas = &doc["components"]["schemas"];
    let schedule = c.get("/api/schedules").json()[0]["id"].clone();
    let r = c.post_json(
        "/api/schedule-history/capture",
        &serde_json::json!({ "schedule_id": schedule }),
    );
    assert_eq!(r.status, 201);
    let (mut checked, mut drift) = (0, Vec::new());
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let Some(get) = ops.get("get") else { continue };
        let items = &get["responses"]["200"]["content"]["application/json"]["schema"]["items"];
        let Some(schema) = items["$ref"].as_str() else {
            continue;
        };
        if path.contains('{') {
            continue;
        }
        let name = schema.rsplit('/').next().unwrap();
        let documented: BTreeSet<&str> = schemas[name]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let r = c.get(path);
        if r.status != 200 {
            continue; // a list with a required parameter (search)
        }
        let list = r.json();
        for row in list.as_array().unwrap() {
            let sent: BTreeSet<&str> = row
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            if sent != documented {
                drift.push(format!(
                    "{path} ({name}): sent, not documented {:?}; documented, not sent {:?}",
                    sent.difference(&documented).collect::<Vec<_>>(),
                    documented.difference(&sent).collect::<Vec<_>>()
                ));
            }
            checked += 1;
        }
    }
    // The demo channel alone brings a channel, a schedule with items, a playout, profiles
    // and resolutions: enough that the comparison cannot pass by having nothing to compare.
    drift.dedup();
    assert!(drift.is_empty(), "{drift:#?}");
    assert!(checked >= 6, "only {checked} rows compared");
}

#[test]
fn docs_is_one_small_page_of_the_routes_behind_the_token() {
    let server = TestServer::start();
    let c = server.client();
    let doc = c.get("/openapi.json").json();
    for path in ["/docs", "/documentation", "/docs/"] {
        let anon = server.anon().get(path);
        assert_eq!(anon.status, 401, "{path}");
        assert!(!anon.detail().is_empty());
        let r = c.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        let page = r.text();
        // One line per route, no bundle: small next to Swagger UI's megabytes.
        assert!(page.len() < 64 * 1024, "{} bytes", page.len());
        assert!(!page.contains("<script"), "no script");
        for route in doc["paths"].as_object().unwrap().keys() {
            assert!(page.contains(&format!("<code>{route}</code>")), "{route}");
        }
    }
    assert_eq!(c.head("/docs").status, 200);
    let r = c.post("/docs");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}
