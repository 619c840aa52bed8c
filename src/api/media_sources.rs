//! `/api/media-sources`: the summary of media sources by type. Only local folders exist so
//! far; Plex, Jellyfin and Emby count their libraries (none until remote sources land).

use std::sync::Arc;

use serde_json::json;

use crate::app::App;
use crate::http::{body, router, ApiResult, Req};

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["summary"] => {
            router::only_get(req)?;
            summary(app).await
        }
        _ => Err(router::not_found()),
    }
}

async fn summary(app: &Arc<App>) -> ApiResult {
    let value = app
        .db
        .read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT l.source_type, count(*),
                        coalesce(sum((SELECT count(*) FROM media_items m
                                      WHERE m.library_id = l.id AND m.is_missing = 0)), 0)
                 FROM libraries l GROUP BY l.source_type",
            )?;
            let mut out = json!({
                "plex": {"count": 0, "library_count": 0, "total_items": 0},
                "jellyfin": {"count": 0, "library_count": 0, "total_items": 0},
                "emby": {"count": 0, "library_count": 0, "total_items": 0},
                "local": {"count": 0, "total_items": 0},
            });
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (source, n, items) = row?;
                if source == "local" {
                    out["local"] = json!({"count": n, "total_items": items});
                } else if out.get(&source).is_some() {
                    // One server per library until servers are stored on their own.
                    out[&source] = json!({"count": n, "library_count": n, "total_items": items});
                }
            }
            Ok(out)
        })
        .await?;
    Ok(body::ok_json(&value))
}
