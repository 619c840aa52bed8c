//! `/api/resolutions`: the frame sizes FFmpeg profiles refer to. The four built-ins
//! (schema.sql) cannot be deleted; a size a profile uses cannot either.

use std::sync::Arc;

use rusqlite::{params, OptionalExtension};

use super::columns::{self, body_object, col, read, write_tx, Column, Kind, SqlResult};
use crate::app::App;
use crate::http::router::{self, Verb};
use crate::http::{body, ApiError, ApiResult, Req};

pub const RESOLUTION_COLUMNS: &[Column] = &[
    col("name", Kind::Name),
    col("width", Kind::Int { min: 16, max: 7680 }),
    col("height", Kind::Int { min: 16, max: 4320 }),
    col("is_custom", Kind::Bool),
];

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        [] => match req.verb() {
            Verb::Get => {
                let list = read(app, |conn| {
                    columns::list(
                        conn,
                        "resolutions",
                        RESOLUTION_COLUMNS,
                        "width * height, id",
                    )
                })
                .await?;
                Ok(body::ok_json(&list))
            }
            Verb::Post => {
                let body = body_object(req).await?;
                columns::require(&body, &["name", "width", "height"])?;
                let mut values = columns::changes(RESOLUTION_COLUMNS, &body)?;
                values.retain(|(c, _)| c.json != "is_custom");
                let (id, doc) = write_tx(app, move |tx| {
                    check_resolution_name(tx, &values, 0)?;
                    let id = columns::insert_plain(tx, "resolutions", &values)?;
                    let doc = columns::get(tx, "resolutions", RESOLUTION_COLUMNS, id)?
                        .ok_or_else(resolution_not_found)?;
                    Ok((id, doc))
                })
                .await?;
                Ok(body::created(id, &doc))
            }
            _ => Err(ApiError::method_not_allowed("GET, HEAD, POST")),
        },
        [id] => {
            let id = router::id(id)?;
            match req.verb() {
                Verb::Get => {
                    let doc = read(app, move |conn| {
                        columns::get(conn, "resolutions", RESOLUTION_COLUMNS, id)
                    })
                    .await?;
                    Ok(body::ok_json(&doc.ok_or_else(resolution_not_found)?))
                }
                Verb::Put | Verb::Patch => {
                    let body = body_object(req).await?;
                    let mut values = columns::changes(RESOLUTION_COLUMNS, &body)?;
                    values.retain(|(c, _)| c.json != "is_custom");
                    let doc = write_tx(app, move |tx| {
                        if !columns::exists(tx, "resolutions", id)? {
                            return Err(resolution_not_found());
                        }
                        check_resolution_name(tx, &values, id)?;
                        for (column, value) in &values {
                            // `column.sql` is one of RESOLUTION_COLUMNS: a fixed name.
                            tx.execute(
                                &format!(
                                    "UPDATE resolutions SET {} = ?2 WHERE id = ?1",
                                    column.sql
                                ),
                                params![id, value],
                            )
                            .api()?;
                        }
                        columns::get(tx, "resolutions", RESOLUTION_COLUMNS, id)?
                            .ok_or_else(resolution_not_found)
                    })
                    .await?;
                    app.content_changed();
                    Ok(body::ok_json(&doc))
                }
                Verb::Delete => {
                    write_tx(app, move |tx| {
                        let custom: Option<bool> = tx
                            .query_row("SELECT is_custom FROM resolutions WHERE id = ?1", [id], |r| {
                                r.get(0)
                            })
                            .optional()
                            .api()?;
                        match custom {
                            None => return Err(resolution_not_found()),
                            Some(false) => {
                                return Err(ApiError::conflict("a built-in resolution cannot be deleted"))
                            }
                            Some(true) => {}
                        }
                        let user: Option<String> = tx
                            .query_row(
                                "SELECT name FROM ffmpeg_profiles WHERE resolution_id = ?1 ORDER BY id LIMIT 1",
                                [id],
                                |r| r.get(0),
                            )
                            .optional()
                            .api()?;
                        if let Some(name) = user {
                            return Err(ApiError::conflict(format_args!(
                                "the resolution is used by FFmpeg profile {name:?}"
                            )));
                        }
                        tx.execute("DELETE FROM resolutions WHERE id = ?1", [id]).api()?;
                        Ok(())
                    })
                    .await?;
                    Ok(body::no_content())
                }
                _ => Err(ApiError::method_not_allowed(
                    "GET, HEAD, PUT, PATCH, DELETE",
                )),
            }
        }
        _ => Err(router::not_found()),
    }
}

fn resolution_not_found() -> ApiError {
    ApiError::not_found("resolution not found")
}

fn check_resolution_name(
    tx: &rusqlite::Connection,
    values: &[(&'static Column, rusqlite::types::Value)],
    self_id: i64,
) -> Result<(), ApiError> {
    if let Some(name) = columns::text_value(values, "name") {
        let taken: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM resolutions WHERE name = ?1 AND id != ?2)",
                params![name, self_id],
                |r| r.get(0),
            )
            .api()?;
        if taken {
            return Err(ApiError::conflict(format_args!(
                "a resolution named {name:?} exists"
            )));
        }
    }
    Ok(())
}
