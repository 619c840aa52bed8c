//! The audit log, written once per request by the server after the response is known: an
//! INFO line (target `audit`) for every successful write through `/api`, and a WARN line
//! for a 401, at most one per client address per `UNAUTHORIZED_WINDOW`, with the 401s in
//! between folded into its count. It owns that limiter (`Unauthorized`).
//!
//! A line names the route pattern and the path's ids, never the raw path, a header, the
//! query string or the body: tokens travel in headers and in `?access_token=`. Reads (GET,
//! HEAD) cost one method compare and one status compare here, nothing more; the polled
//! HDHomeRun documents never reach it.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};

use super::request::Req;
use super::Response;
use crate::logging::AUDIT_TARGET;

/// The id of the resource a create made, set on its 201 by `body::created` (a response
/// extension, so the audit line names it without reading the body back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedId(pub i64);

/// One 401 line per client address per window. 10 s is short enough that an operator
/// watching the log sees a guesser within seconds, long enough that a client retrying with
/// a stale token every second (a TV app's poll) costs one line in ten.
pub const UNAUTHORIZED_WINDOW: Duration = Duration::from_secs(10);

/// Client addresses the 401 limiter follows at once (40 bytes each). A home LAN has far
/// fewer devices; an address is only logged into a free or expired slot, so this is also
/// the most 401 lines a window can produce: an attacker with many source addresses grows
/// neither memory nor the log (32 lines per 10 s leave most of the 2000-record ring alone).
pub const MAX_TRACKED_CLIENTS: usize = 32;

/// Path ids kept on one line: the deepest route has two (`metrics::route_label_each_id`).
const MAX_IDS: usize = 4;
/// An id longer than this is shown as `?`: every real id is an i64 (≤ 19 digits) or a
/// channel number, so a longer segment is client input that has no business in the log.
const MAX_ID_LEN: usize = 20;
/// Room for `MAX_IDS` ids of `MAX_ID_LEN` bytes and their commas.
const IDS_CAPACITY: usize = MAX_IDS * (MAX_ID_LEN + 1);

/// The audit log's state, one per server (in `App`).
#[derive(Debug, Default)]
pub struct Audit {
    unauthorized: Mutex<Unauthorized>,
}

impl Audit {
    /// Writes the request's audit line, if it has one.
    pub fn record(&self, req: &Req, resp: &Response) {
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED {
            self.unauthorized(req, Instant::now());
        } else if is_write(req.method()) && status.is_success() {
            write(req, resp);
        }
    }

    fn unauthorized(&self, req: &Req, now: Instant) {
        let client = req.peer.ip();
        // The table is plain fields updated in place: a panic elsewhere cannot leave it
        // inconsistent, so a poisoned lock is used as is.
        let verdict = match self.unauthorized.lock() {
            Ok(mut table) => table.admit(client, now),
            Err(poisoned) => poisoned.into_inner().admit(client, now),
        };
        if let Verdict::Log {
            n_folded,
            n_folded_elsewhere,
        } = verdict
        {
            tracing::warn!(
                target: AUDIT_TARGET,
                method = method_name(req.method()),
                area = area(req.parts.uri.path()),
                status = 401,
                client = %client,
                n_folded,
                n_folded_elsewhere = (n_folded_elsewhere > 0).then_some(n_folded_elsewhere),
                "unauthorized"
            );
        }
    }
}

fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// A method as logged: the standard ones by name, any extension method as `other` (it is
/// client input, unbounded before the token check).
fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The INFO line for a successful write under `/api`; the TV routes are not audited.
fn write(req: &Req, resp: &Response) {
    let path = req.parts.uri.path();
    if !path.starts_with("/api/") {
        return;
    }
    let mut ids = heapless::String::<IDS_CAPACITY>::new();
    let route = crate::metrics::route_label_each_id(path, resp.status(), |id| {
        let shown = if id.len() <= MAX_ID_LEN && id.bytes().all(is_id_byte) {
            id
        } else {
            "?"
        };
        if !ids.is_empty() {
            let _ = ids.push(',');
        }
        // Cannot overflow before MAX_IDS ids; later ones are dropped, which no route has.
        let _ = ids.push_str(shown);
    });
    let new_id = resp.extensions().get::<CreatedId>().map(|c| c.0);
    tracing::info!(
        target: AUDIT_TARGET,
        method = method_name(req.method()),
        route = route.as_str(),
        id = (!ids.is_empty()).then_some(ids.as_str()),
        new_id,
        status = resp.status().as_u16(),
        client = %req.peer.ip(),
        "api write"
    );
}

fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.'
}

/// Which part of the server a 401 was for. The path itself is not logged: before the
/// token check nothing has validated it, and a misconfigured client may put a secret there.
fn area(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "api" => "/api",
        "iptv" => "/iptv",
        "hdhomerun" => "/hdhomerun",
        _ => "other",
    }
}

/// The 401 limiter: a fixed table of client addresses and when each was last logged.
/// Invariants: at most `MAX_TRACKED_CLIENTS` slots, one per address; a slot's `n_folded`
/// counts the 401s since its `logged_at` that got no line; `n_folded_elsewhere` counts 401s
/// no slot holds (the table was full of live windows, or their slot was reused), reported on
/// the next line logged for any address.
#[derive(Debug, Default)]
struct Unauthorized {
    slots: heapless::Vec<Slot, MAX_TRACKED_CLIENTS>,
    n_folded_elsewhere: u32,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    client: IpAddr,
    logged_at: Instant,
    n_folded: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Write a line, with the 401s folded since this address's last line and elsewhere.
    Log {
        n_folded: u32,
        n_folded_elsewhere: u32,
    },
    /// Count it; no line.
    Fold,
}

impl Unauthorized {
    fn admit(&mut self, client: IpAddr, now: Instant) -> Verdict {
        let open =
            |slot: &Slot| now.saturating_duration_since(slot.logged_at) < UNAUTHORIZED_WINDOW;
        if let Some(slot) = self.slots.iter_mut().find(|s| s.client == client) {
            if open(slot) {
                slot.n_folded = slot.n_folded.saturating_add(1);
                return Verdict::Fold;
            }
            let n_folded = std::mem::take(&mut slot.n_folded);
            slot.logged_at = now;
            return self.log(n_folded);
        }
        let fresh = Slot {
            client,
            logged_at: now,
            n_folded: 0,
        };
        if self.slots.push(fresh).is_err() {
            // Full: reuse the slot logged longest ago, once its window has closed.
            let oldest = self.slots.iter_mut().min_by_key(|s| s.logged_at);
            match oldest {
                Some(slot) if !open(slot) => {
                    self.n_folded_elsewhere = self.n_folded_elsewhere.saturating_add(slot.n_folded);
                    *slot = fresh;
                }
                _ => {
                    self.n_folded_elsewhere = self.n_folded_elsewhere.saturating_add(1);
                    return Verdict::Fold;
                }
            }
        }
        self.log(0)
    }

    fn log(&mut self, n_folded: u32) -> Verdict {
        Verdict::Log {
            n_folded,
            n_folded_elsewhere: std::mem::take(&mut self.n_folded_elsewhere),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    fn log(n_folded: u32, n_folded_elsewhere: u32) -> Verdict {
        Verdict::Log {
            n_folded,
            n_folded_elsewhere,
        }
    }

    #[test]
    fn one_line_per_address_per_window_with_the_rest_counted() {
        let mut table = Unauthorized::default();
        let t0 = Instant::now();
        assert_eq!(table.admit(ip(1), t0), log(0, 0));
        for i in 1..20 {
            assert_eq!(
                table.admit(ip(1), t0 + Duration::from_millis(i)),
                Verdict::Fold
            );
        }
        // Another address has its own window.
        assert_eq!(table.admit(ip(2), t0 + Duration::from_secs(1)), log(0, 0));
        let later = t0 + UNAUTHORIZED_WINDOW;
        assert_eq!(table.admit(ip(1), later), log(19, 0));
        assert_eq!(table.admit(ip(1), later), Verdict::Fold);
    }

    #[test]
    fn many_addresses_neither_grow_the_table_nor_the_log() {
        let mut table = Unauthorized::default();
        let t0 = Instant::now();
        let n_lines = (0..10_000u32)
            .filter(|n| matches!(table.admit(ip(*n), t0), Verdict::Log { .. }))
            .count();
        assert_eq!(n_lines, MAX_TRACKED_CLIENTS);
        assert_eq!(table.slots.len(), MAX_TRACKED_CLIENTS);
        // Once the windows close, slots are reused and the unlogged 401s are reported.
        let later = t0 + UNAUTHORIZED_WINDOW;
        let n_unlogged = 10_000 - MAX_TRACKED_CLIENTS as u32;
        assert_eq!(table.admit(ip(20_000), later), log(0, n_unlogged));
        assert_eq!(table.slots.len(), MAX_TRACKED_CLIENTS);
        // A reused slot's folded count is not lost: ip 0, logged first, is reused first.
        let mut table = Unauthorized::default();
        table.admit(ip(0), t0);
        for n in 1..MAX_TRACKED_CLIENTS as u32 {
            table.admit(ip(n), t0 + Duration::from_millis(1));
        }
        assert_eq!(
            table.admit(ip(0), t0 + Duration::from_secs(1)),
            Verdict::Fold
        );
        assert_eq!(table.admit(ip(99), later), log(0, 1));
        assert!(table.slots.iter().all(|s| s.client != ip(0)));
    }

    #[test]
    fn a_401_names_an_area_never_the_path() {
        assert_eq!(area("/api/channels/1"), "/api");
        assert_eq!(area("/iptv/channels.m3u"), "/iptv");
        assert_eq!(area("/hdhomerun/discover.json"), "/hdhomerun");
        assert_eq!(area("/test-token-0123"), "other");
        assert_eq!(area("/"), "other");
        let extension = Method::from_bytes(b"TEST-TOKEN-0123").unwrap();
        assert_eq!(method_name(&extension), "other");
        assert_eq!(method_name(&Method::DELETE), "DELETE");
    }
}
