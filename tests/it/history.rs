//! Schedule history through the real binary: a snapshot before every change to a schedule
//! or its items, capture, revert (itself undoable) with the playout rebuilt, the bound per
//! schedule, `DELETE /api/schedules/{id}/items`, and the refusals.

use serde_json::{json, Value};

use crate::support::TestServer;

/// An item without its `updated_at` (a revert writes the rows anew).
fn unstamped(items: &Value) -> Vec<Value> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let mut item = item.clone();
            item.as_object_mut().unwrap().remove("updated_at");
            item
        })
        .collect()
}

fn labels(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["label"].as_str().unwrap().to_string())
        .collect()
}

/// Whether any programme after the current one plays a media item.
fn plays_media_later(c: &crate::support::http::Client, playout: &Value) -> bool {
    let items = c
        .get(&format!("/api/playouts/{playout}/items?limit=50"))
        .json();
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .any(|i| !i["media_item_id"].is_null())
}

#[test]
fn every_change_leaves_a_snapshot_and_a_revert_restores_it_and_rebuilds() {
    let server = TestServer::start();
    let c = server.client();
    let schedule = c.get("/api/schedules").json()[0].clone();
    let id = schedule["id"].clone();
    let playout = c.get("/api/playouts").json()[0]["id"].clone();
    let items_url = format!("/api/schedule-items?schedule_id={id}");
    let history_url = format!("/api/schedule-history?schedule_id={id}");
    let items = c.get(&items_url).json();
    assert!(!items.as_array().unwrap().is_empty());
    assert!(plays_media_later(&c, &playout));
    assert_eq!(c.get(&history_url).json(), json!([]));

    // Without a collection of its own, a schedule with no items has nothing to play.
    let r = c.put_json(
        &format!("/api/schedules/{id}"),
        &json!({"name": "Renamed", "collection_id": null}),
    );
    assert_eq!(r.status, 200);
    let history = c.get(&history_url).json();
    assert_eq!(labels(&history), ["schedule updated"]);
    assert_eq!(history[0]["schedule_id"], id);
    assert_eq!(history[0]["schedule"], schedule, "the schedule as it was");
    assert_eq!(history[0]["items"], items);
    assert!(history[0]["created_at"].as_str().unwrap().ends_with('Z'));

    // Clearing the items leaves the playout nothing to play after the current programme.
    let r = c.delete(&format!("/api/schedules/{id}/items"));
    assert_eq!(r.status, 204);
    assert_eq!(c.get(&items_url).json(), json!([]));
    assert!(!plays_media_later(&c, &playout));
    let history = c.get(&history_url).json();
    assert_eq!(
        labels(&history),
        ["schedule items cleared", "schedule updated"]
    );
    assert_eq!(history[0]["items"], items);
    assert_eq!(history[0]["schedule"]["name"], "Renamed");
    let one = c.get(&format!("/api/schedule-history/{}", history[0]["id"]));
    assert_eq!(one.json(), history[0]);

    // Revert to before the clearing: the items come back, under their ids, and play again.
    let cleared = history[0]["id"].clone();
    let r = c.post(&format!("/api/schedule-history/{cleared}/revert"));
    assert_eq!(r.status, 200, "{}", r.text());
    let reverted = r.json();
    assert_eq!(reverted["reverted_to"], cleared);
    assert_eq!(reverted["schedule"]["name"], "Renamed");
    assert_eq!(unstamped(&reverted["items"]), unstamped(&items));
    assert_eq!(unstamped(&c.get(&items_url).json()), unstamped(&items));
    assert!(plays_media_later(&c, &playout));
    let saved = reverted["saved_as"].clone();
    let entry = c.get(&format!("/api/schedule-history/{saved}")).json();
    assert_eq!(entry["label"], format!("before revert to {cleared}"));
    assert_eq!(entry["items"], json!([]));

    // Reverting the revert clears them again; the oldest entry restores the first name.
    let r = c.post(&format!("/api/schedule-history/{saved}/revert"));
    assert_eq!(r.status, 200);
    assert_eq!(c.get(&items_url).json(), json!([]));
    assert!(!plays_media_later(&c, &playout));
    let first = c
        .get(&history_url)
        .json()
        .as_array()
        .unwrap()
        .last()
        .unwrap()["id"]
        .clone();
    let r = c.post(&format!("/api/schedule-history/{first}/revert"));
    assert_eq!(r.status, 200);
    let now = c.get(&format!("/api/schedules/{id}")).json();
    assert_eq!(
        (&now["name"], &now["collection_id"]),
        (&schedule["name"], &schedule["collection_id"])
    );
    assert_eq!(unstamped(&c.get(&items_url).json()), unstamped(&items));
    let ids: Vec<i64> = c
        .get(&history_url)
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
}

#[test]
fn a_revert_to_deleted_content_is_refused_and_bad_input_is_a_clear_error() {
    let server = TestServer::start();
    let c = server.client();
    let collection = c.post_json("/api/collections", &json!({"name": "Gone soon"}));
    assert_eq!(collection.status, 201, "{}", collection.text());
    let cid = collection.json()["id"].clone();
    let schedule = c
        .post_json("/api/schedules", &json!({"name": "Spare"}))
        .json()["id"]
        .clone();
    let item = c.post_json(
        "/api/schedule-items",
        &json!({"schedule_id": schedule, "collection_type": "collection", "collection_id": cid}),
    );
    assert_eq!(item.status, 201, "{}", item.text());
    // Every item write snapshots first, in its own transaction: a refused one leaves none.
    let history_url = format!("/api/schedule-history?schedule_id={schedule}");
    let item_url = format!("/api/schedule-items/{}", item.json()["id"]);
    assert_eq!(
        labels(&c.get(&history_url).json()),
        ["schedule item created"]
    );
    let r = c.put_json(&item_url, &json!({"playout_mode": "multiple"}));
    assert_eq!(r.status, 422, "{}", r.text());
    let r = c.post_json(&format!("{item_url}/move"), &json!({"direction": "up"}));
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(c.get(&history_url).json().as_array().unwrap().len(), 1);
    let r = c.put_json(&item_url, &json!({"custom_title": "Late"}));
    assert_eq!(r.status, 200);
    let history = c.get(&history_url).json();
    assert_eq!(
        labels(&history),
        ["schedule item updated", "schedule item created"]
    );
    assert_eq!(history[0]["items"][0]["custom_title"], Value::Null);
    let r = c.post_json(
        "/api/schedule-history/capture",
        &json!({"schedule_id": schedule, "label": "with the doomed collection"}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let captured = r.json();
    assert_eq!(captured["label"], "with the doomed collection");
    assert_eq!(captured["items"][0]["collection_id"], cid);
    assert_eq!(c.delete(&item_url).status, 204);
    assert_eq!(c.delete(&format!("/api/collections/{cid}")).status, 204);
    assert_eq!(
        labels(&c.get(&history_url).json())[0],
        "schedule item deleted"
    );
    let before = c.get(&history_url).json();

    let r = c.post(&format!("/api/schedule-history/{}/revert", captured["id"]));
    assert_eq!(r.status, 409);
    let detail = r.detail();
    assert!(
        detail.contains(&format!("collection {cid} no longer exists"))
            && detail.contains("nothing was changed"),
        "{detail}"
    );
    assert_eq!(
        c.get(&format!("/api/schedule-items?schedule_id={schedule}"))
            .json(),
        json!([])
    );
    assert_eq!(c.get(&history_url).json(), before, "nothing written");

    // Refusals, each a JSON detail.
    let cases: [(&str, &str, Option<Value>, u16, &str); 10] = [
        (
            "POST",
            "/api/schedule-history/capture",
            Some(json!({})),
            422,
            "schedule_id: field required",
        ),
        (
            "POST",
            "/api/schedule-history/capture",
            Some(json!({"schedule_id": "x"})),
            422,
            "schedule_id: ",
        ),
        (
            "POST",
            "/api/schedule-history/capture",
            Some(json!({"schedule_id": 999999})),
            404,
            "schedule not found",
        ),
        (
            "POST",
            "/api/schedule-history/capture",
            Some(json!({"schedule_id": schedule, "label": "x".repeat(201)})),
            422,
            "label: longer than 200",
        ),
        (
            "GET",
            "/api/schedule-history?schedule_id=abc",
            None,
            400,
            "schedule_id",
        ),
        (
            "GET",
            "/api/schedule-history?schedule_id=999999",
            None,
            404,
            "schedule not found",
        ),
        (
            "GET",
            "/api/schedule-history/999999",
            None,
            404,
            "schedule history entry not found",
        ),
        (
            "POST",
            "/api/schedule-history/999999/revert",
            None,
            404,
            "schedule history entry not found",
        ),
        (
            "DELETE",
            "/api/schedules/999999/items",
            None,
            404,
            "schedule not found",
        ),
        (
            "PUT",
            "/api/schedule-history/1",
            Some(json!({})),
            405,
            "method not allowed",
        ),
    ];
    for (method, path, body, status, detail) in cases {
        let body = body.map(|b| b.to_string());
        let r = c.request(method, path, body.as_deref().map(str::as_bytes));
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        assert!(
            r.detail().contains(detail),
            "{method} {path}: {}",
            r.detail()
        );
    }
    assert_eq!(server.anon().get("/api/schedule-history").status, 401);

    // Bounded: 55 edits keep the newest 50 snapshots.
    for n in 0..55 {
        let r = c.put_json(
            &format!("/api/schedules/{schedule}"),
            &json!({"name": format!("Spare {n}")}),
        );
        assert_eq!(r.status, 200);
    }
    let history = c.get(&history_url).json();
    assert_eq!(history.as_array().unwrap().len(), 50);
    assert_eq!(history[0]["schedule"]["name"], "Spare 53");
    assert!(labels(&history).iter().all(|l| l == "schedule updated"));
    let newest = history[0]["id"].clone();
    assert_eq!(
        c.delete(&format!("/api/schedule-history/{newest}")).status,
        204
    );
    assert_eq!(
        c.delete(&format!("/api/schedule-history/{newest}")).status,
        404
    );
    // A schedule's history goes with it.
    assert_eq!(c.delete(&format!("/api/schedules/{schedule}")).status, 204);
    assert_eq!(c.get(&history_url).status, 404);
    let older = history[1]["id"].clone();
    assert_eq!(c.get(&format!("/api/schedule-history/{older}")).status, 404);
}
