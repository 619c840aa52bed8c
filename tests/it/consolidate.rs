//! `/api/collections/consolidate` against the real server: the parts of one collection
//! merge into one under the base name, in part order, and what named a part names it.

use serde_json::{json, Value};

use crate::support::{Client, TestServer};

fn collection(c: &Client, name: &str, media: &[i64]) -> i64 {
    let r = c.post_json("/api/collections", &json!({"name": name}));
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_i64().unwrap();
    for m in media {
        assert_eq!(
            c.post(&format!("/api/collections/{id}/items/{m}")).status,
            201
        );
    }
    id
}

fn members(c: &Client, id: i64) -> Vec<i64> {
    let doc: Value = c.get(&format!("/api/collections/{id}")).json();
    doc["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{doc}"))
        .iter()
        .map(|m| m["media_item_id"].as_i64().unwrap())
        .collect()
}

#[test]
fn the_parts_of_a_collection_merge_into_one_and_references_follow() {
    let server = TestServer::start();
    let c = server.client();
    let media: Vec<i64> = c.get("/api/media").json().as_array().unwrap()[..2]
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    let (a, b) = (media[0], media[1]);
    let day2 = collection(&c, "Toons Day 2", &[b, a]);
    let day1 = collection(&c, "Toons Day 1", &[a]);
    let third = collection(&c, "toons (3)", &[b]);
    let other = collection(&c, "Other Day 1", &[a]);
    // A schedule item names day 1.
    let s = c.post_json("/api/schedules", &json!({"name": "S"}));
    let sid = s.json()["id"].as_i64().unwrap();
    let item = c.post_json(
        "/api/schedule-items",
        &json!({"schedule_id": sid, "collection_type": "collection", "collection_id": day1}),
    );
    assert_eq!(item.status, 201, "{}", item.text());
    let item_id = item.json()["id"].as_i64().unwrap();

    // The dry run reports and changes nothing.
    let dry = c.post("/api/collections/consolidate?dry_run=true").json();
    assert_eq!(dry["consolidated"], 2, "{dry}");
    assert_eq!(dry["groups"][0]["base_name"], "Toons", "{dry}");
    assert_eq!(dry["groups"][0]["items_count"], 2, "{dry}");
    assert_eq!(c.get(&format!("/api/collections/{day1}")).status, 200);
    assert_eq!(c.get(&format!("/api/collections/{third}")).status, 200);

    let done = c.post("/api/collections/consolidate").json();
    assert_eq!(done["consolidated"], 2, "{done}");
    let kept = done["groups"][0]["collection_id"].as_i64().unwrap();
    assert_eq!(kept, day2.min(day1).min(third));
    let merged = c.get(&format!("/api/collections/{kept}")).json();
    assert_eq!(merged["name"], "Toons", "{merged}");
    // Part order: day 1 (a), day 2 (b, a), part 3 (b); each item once.
    assert_eq!(members(&c, kept), vec![a, b]);
    for gone in [day1, day2, third].into_iter().filter(|id| *id != kept) {
        assert_eq!(c.get(&format!("/api/collections/{gone}")).status, 404);
    }
    let named = c.get(&format!("/api/schedule-items/{item_id}")).json();
    assert_eq!(named["collection_id"], kept, "{named}");
    // A lone part is left alone; a second run finds nothing.
    assert_eq!(c.get(&format!("/api/collections/{other}")).status, 200);
    let again = c.post("/api/collections/consolidate").json();
    assert_eq!(again["consolidated"], 0, "{again}");
    assert_eq!(
        c.post("/api/collections/consolidate?dry_run=maybe").status,
        400
    );
}
