//! Fixtures for the client-output tests (`hdhr`, `iptv`): channels, media and a stored
//! timeline written straight into the server's SQLite file (the channel API and the
//! scheduler are other areas), then `POST /iptv/xmltv/refresh` so cached documents see them.

use rusqlite::{params, Connection};

use crate::support::TestServer;

pub const NASTY_NAME: &str = "Tom & \"Jerry\" <Kids> 📺";
pub const NASTY_TITLE: &str = "Fish & <Chips> \"Live\" 🐟";

pub fn db(server: &TestServer) -> Connection {
    let conn = Connection::open(server.data_dir().join("exstreamtv.db")).expect("open db");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    conn
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn add_channel(conn: &Connection, number: &str, name: &str, enabled: bool) -> i64 {
    conn.execute(
        "INSERT INTO channels (number, name, enabled, created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, 0, 0)",
        params![number, name, enabled],
    )
    .unwrap();
    conn.last_insert_rowid()
}

/// A media item; `episode` = Some((show, season, episode)).
pub fn add_media(
    conn: &Connection,
    title: &str,
    episode: Option<(&str, i64, i64)>,
    year: Option<i64>,
) -> i64 {
    let url = format!("/media/{}-{}.mkv", title.len(), now_ms() ^ rand_tag());
    let (media_type, show, season, ep) = match episode {
        Some((show, s, e)) => ("episode", Some(show), Some(s), Some(e)),
        None => ("movie", None, None, None),
    };
    conn.execute(
        "INSERT INTO media_items (source, url, title, description, media_type, show_title, season_number,
             episode_number, year, genres, content_rating, thumbnail, added_at_ms, created_at_ms, updated_at_ms)
         VALUES ('local', ?1, ?2, 'About <this> & that', ?3, ?4, ?5, ?6, ?7, 'Comedy,Drama', 'TV-PG',
             'http://img.example/t.jpg?a=1&b=2', 0, 0, 0)",
        params![url, title, media_type, show, season, ep, year],
    )
    .unwrap();
    conn.last_insert_rowid()
}

fn rand_tag() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static N: AtomicI64 = AtomicI64::new(1);
    N.fetch_add(1, Ordering::Relaxed) << 40
}

pub fn add_playout(conn: &Connection, channel_id: i64) -> i64 {
    conn.execute(
        "INSERT INTO playouts (channel_id, seed, created_at_ms, updated_at_ms) VALUES (?1, 1, 0, 0)",
        [channel_id],
    )
    .unwrap();
    conn.last_insert_rowid()
}

pub fn add_item(
    conn: &Connection,
    playout_id: i64,
    media_id: Option<i64>,
    title: &str,
    start_ms: i64,
    finish_ms: i64,
    guide_mode: &str,
) {
    conn.execute(
        "INSERT INTO playout_items (playout_id, media_item_id, title, start_ms, finish_ms, guide_mode)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![playout_id, media_id, title, start_ms, finish_ms, guide_mode],
    )
    .unwrap();
}

/// Makes the server drop its cached documents (it bumps the content version).
pub fn refresh(server: &TestServer) {
    let r = server.anon().post("/iptv/xmltv/refresh");
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A UDP port nothing listens on now (bound and released).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
