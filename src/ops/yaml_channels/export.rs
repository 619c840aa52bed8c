//! One channel (or every channel) read into its portable document: ids become names.

use std::str::FromStr;

use rusqlite::{Connection, OptionalExtension, Row};

use super::{
    invalid, AppliedTemplateDoc, BlockDoc, BlockItemDoc, ChannelDoc, DecoDoc, DecoFillerDoc,
    FillerDoc, ItemDoc, Named, PlayoutDoc, ScheduleDoc, SettingsDoc, TemplateDoc, TemplateItemDoc,
    WatermarkDoc, WindowDoc, YamlError,
};
use crate::kinds::{BlockContent, SlotContent};
use crate::ops::ids::ChannelId;

/// The channel's document; `ChannelNotFound` when there is no such channel.
pub fn export(conn: &Connection, id: ChannelId) -> Result<ChannelDoc, YamlError> {
    let mut stmt = conn.prepare("SELECT * FROM channels WHERE id = ?1")?;
    let mut rows = stmt.query([id])?;
    let row = rows.next()?.ok_or(YamlError::ChannelNotFound)?;
    let mut doc = channel(conn, row)?;
    let playout = conn
        .query_row(
            "SELECT id, program_schedule_id, seed, playout_type, daily_reset_time FROM playouts
             WHERE channel_id = ?1 ORDER BY is_active DESC, id LIMIT 1",
            [id],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    PlayoutDoc {
                        seed: r.get(2)?,
                        playout_type: r.get(3)?,
                        daily_reset_time: r.get(4)?,
                    },
                ))
            },
        )
        .optional()?;
    if let Some((playout_id, schedule_id, playout)) = playout {
        if let Some(schedule_id) = schedule_id {
            doc.schedule = Some(schedule(conn, schedule_id)?);
        }
        doc.templates = templates(conn, playout_id)?;
        doc.playout = Some(playout);
    }
    doc.deco = deco(conn, id)?;
    Ok(doc)
}

/// Every channel's document, by number.
pub fn export_all(conn: &Connection) -> Result<Vec<ChannelDoc>, YamlError> {
    let ids: Vec<ChannelId> = conn
        .prepare("SELECT id FROM channels ORDER BY CAST(number AS REAL), number")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.into_iter().map(|id| export(conn, id)).collect()
}

/// A stored enum text decoded, or an error naming where (a row that does not decode is an
/// error you see, never a silent default).
fn kind<T: FromStr>(path: &str, text: Option<String>) -> Result<Option<T>, YamlError>
where
    T::Err: std::fmt::Display,
{
    text.map(|text| text.parse().map_err(|err| invalid(path, err)))
        .transpose()
}

/// The channel's own fields.
fn channel(conn: &Connection, r: &Row<'_>) -> Result<ChannelDoc, YamlError> {
    let text = |column: &str| r.get::<_, Option<String>>(column);
    let id = |column: &str| r.get::<_, Option<i64>>(column);
    let settings = SettingsDoc {
        playout_mode: kind("settings.playout_mode", text("playout_mode")?)?,
        streaming_mode: kind("settings.streaming_mode", text("streaming_mode")?)?,
        transcode_mode: text("transcode_mode")?,
        transcode_profile: kind("settings.transcode_profile", text("transcode_profile")?)?,
        subtitle_mode: text("subtitle_mode")?,
        preferred_audio_language_code: text("preferred_audio_language_code")?,
        preferred_audio_title: text("preferred_audio_title")?,
        preferred_subtitle_language_code: text("preferred_subtitle_language_code")?,
        stream_selector_mode: text("stream_selector_mode")?,
        stream_selector: text("stream_selector")?,
        idle_behavior: kind("settings.idle_behavior", text("idle_behavior")?)?,
        playout_source: kind("settings.playout_source", text("playout_source")?)?,
        mirror_of: Named::Channel.name_of(conn, id("mirror_source_channel_id")?)?,
        playout_offset: r.get("playout_offset")?,
        show_in_epg: Some(r.get("show_in_epg")?),
        logo_url: text("logo_url")?,
        watermark: Named::Watermark.name_of(conn, id("watermark_id")?)?,
    };
    Ok(ChannelDoc {
        number: r.get("number")?,
        name: r.get("name")?,
        group: Some(r.get("group")?),
        enabled: Some(r.get("enabled")?),
        ffmpeg_profile: Named::Profile.name_of(conn, id("ffmpeg_profile_id")?)?,
        settings,
        filler: FillerDoc {
            pre_roll: Named::Filler.name_of(conn, id("pre_roll_filler_id")?)?,
            post_roll: Named::Filler.name_of(conn, id("post_roll_filler_id")?)?,
            fallback: Named::Filler.name_of(conn, id("fallback_filler_id")?)?,
            ..FillerDoc::default()
        },
        schedule: None,
        templates: Vec::new(),
        deco: None,
        playout: None,
    })
}

fn schedule(conn: &Connection, id: i64) -> Result<ScheduleDoc, YamlError> {
    let (mut doc, collection, playlist) = conn.query_row(
        "SELECT name, keep_multi_part_episodes_together, treat_collections_as_shows,
                shuffle_schedule_items, random_start_point, \"repeat\", start_time, end_time,
                collection_id, playlist_id
         FROM schedules WHERE id = ?1",
        [id],
        |r| {
            let doc = ScheduleDoc {
                name: r.get(0)?,
                keep_multi_part_episodes_together: r.get(1)?,
                treat_collections_as_shows: r.get(2)?,
                shuffle_schedule_items: r.get(3)?,
                random_start_point: r.get(4)?,
                repeat: r.get(5)?,
                start_time: r.get(6)?,
                end_time: r.get(7)?,
                collection: None,
                playlist: None,
                items: Vec::new(),
            };
            Ok((doc, r.get(8)?, r.get(9)?))
        },
    )?;
    doc.collection = Named::Collection.name_of(conn, collection)?;
    doc.playlist = Named::Playlist.name_of(conn, playlist)?;
    let mut stmt =
        conn.prepare("SELECT * FROM schedule_items WHERE schedule_id = ?1 ORDER BY position, id")?;
    let mut rows = stmt.query([id])?;
    while let Some(r) = rows.next()? {
        let path = format!("schedule.items[{}]", doc.items.len());
        doc.items.push(item(conn, r, &path)?);
    }
    Ok(doc)
}

/// One schedule item's row as its document.
fn item(conn: &Connection, r: &Row<'_>, path: &str) -> Result<ItemDoc, YamlError> {
    let text = |column: &str| r.get::<_, Option<String>>(column);
    let id = |column: &str| r.get::<_, Option<i64>>(column);
    let at = |field: &str| format!("{path}.{field}");
    let collection_type: SlotContent = kind(&at("collection_type"), text("collection_type")?)?
        .ok_or_else(|| invalid(at("collection_type"), "missing"))?;
    let content_id = match collection_type {
        SlotContent::Playlist => id("playlist_id")?.or(id("collection_id")?),
        SlotContent::MediaItem => id("media_item_id")?.or(id("collection_id")?),
        _ => id("collection_id")?,
    };
    let content = Named::of_content(collection_type)
        .name_of(conn, content_id)?
        .ok_or_else(|| invalid(at("content"), "the item's content is gone"))?;
    let hours: i64 = r.get("playout_duration_hours")?;
    let minutes: i64 = r.get("playout_duration_minutes")?;
    let filler = |column: &str| Named::Filler.name_of(conn, id(column)?);
    Ok(ItemDoc {
        collection_type,
        content,
        start_type: kind(&at("start_type"), text("start_type")?)?,
        start_time: text("start_time")?,
        fixed_start_time_behavior: kind(
            &at("fixed_start_time_behavior"),
            text("fixed_start_time_behavior")?,
        )?,
        playback_order: kind(&at("playback_order"), text("playback_order")?)?,
        playout_mode: kind(&at("playout_mode"), text("playout_mode")?)?,
        multiple_mode: text("multiple_mode")?,
        multiple_count: id("multiple_count")?,
        duration_minutes: u32::try_from(hours * 60 + minutes).ok().filter(|m| *m > 0),
        search_title: text("search_title")?,
        search_query: text("search_query")?,
        fill_with_group_mode: text("fill_with_group_mode")?,
        tail_mode: kind(&at("tail_mode"), text("tail_mode")?)?,
        tail_filler_collection: Named::Collection
            .name_of(conn, id("tail_filler_collection_id")?)?,
        discard_to_fill_attempts: id("discard_to_fill_attempts")?,
        custom_title: text("custom_title")?,
        guide_mode: kind(&at("guide_mode"), text("guide_mode")?)?,
        filler: FillerDoc {
            pre_roll: filler("pre_roll_filler_id")?,
            mid_roll: filler("mid_roll_filler_id")?,
            post_roll: filler("post_roll_filler_id")?,
            tail: filler("tail_filler_id")?,
            fallback: filler("fallback_filler_id")?,
        },
        preferred_audio_language: text("preferred_audio_language")?,
        preferred_audio_title: text("preferred_audio_title")?,
        preferred_subtitle_language: text("preferred_subtitle_language")?,
        subtitle_mode: text("subtitle_mode")?,
    })
}

fn templates(conn: &Connection, playout_id: i64) -> Result<Vec<AppliedTemplateDoc>, YamlError> {
    let applied: Vec<(i64, u8, i64)> = conn
        .prepare(
            "SELECT template_id, days_of_week, priority FROM playout_templates
             WHERE playout_id = ?1 ORDER BY id",
        )?
        .query_map([playout_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(applied.len());
    for (template, days_of_week, priority) in applied {
        out.push(AppliedTemplateDoc {
            template: template_doc(conn, template)?,
            days_of_week,
            priority,
        });
    }
    Ok(out)
}

fn template_doc(conn: &Connection, id: i64) -> Result<TemplateDoc, YamlError> {
    let (name, is_enabled) = conn.query_row(
        "SELECT name, is_enabled FROM templates WHERE id = ?1",
        [id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let placed: Vec<(String, i64)> = conn
        .prepare("SELECT start_time, block_id FROM template_items WHERE template_id = ?1 ORDER BY start_time, id")?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut items = Vec::with_capacity(placed.len());
    for (start_time, block) in placed {
        items.push(TemplateItemDoc {
            start_time,
            block: block_doc(conn, block)?,
        });
    }
    Ok(TemplateDoc {
        name,
        is_enabled,
        items,
    })
}

/// A block item's row: (collection_type, collection_id), (playback_order, include_in_guide,
/// disable_watermarks).
type ItemRow = ((String, i64), (String, bool, bool));

fn block_doc(conn: &Connection, id: i64) -> Result<BlockDoc, YamlError> {
    let mut block = conn.query_row(
        "SELECT name, start_time, duration_minutes, days_of_week, stop_before_end
         FROM blocks WHERE id = ?1",
        [id],
        |r| {
            Ok(BlockDoc {
                name: r.get(0)?,
                start_time: r.get(1)?,
                duration_minutes: r.get(2)?,
                days_of_week: r.get(3)?,
                stop_before_end: r.get(4)?,
                items: Vec::new(),
            })
        },
    )?;
    let rows: Vec<ItemRow> = conn
        .prepare(
            "SELECT collection_type, collection_id, playback_order, include_in_guide,
                    disable_watermarks
             FROM block_items WHERE block_id = ?1 ORDER BY position, id",
        )?
        .query_map([id], |r| {
            Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?, r.get(4)?)))
        })?
        .collect::<Result<_, _>>()?;
    for (i, ((kind_text, content), (order, include_in_guide, disable_watermarks))) in
        rows.into_iter().enumerate()
    {
        let path = format!("block {:?} item {i}", block.name);
        let collection_type: BlockContent = kind(&path, Some(kind_text))?
            .ok_or_else(|| invalid(&path, "missing collection_type"))?;
        let named = match collection_type {
            BlockContent::Playlist => Named::Playlist,
            BlockContent::Collection | BlockContent::SmartCollection => Named::Collection,
        };
        block.items.push(BlockItemDoc {
            collection_type,
            content: named
                .name_of(conn, Some(content))?
                .ok_or_else(|| invalid(&path, "the item's content is gone"))?,
            playback_order: kind(&path, Some(order))?,
            include_in_guide,
            disable_watermarks,
        });
    }
    Ok(block)
}

/// The channel's deco, when it has one of its own (none: the defaults, left out).
fn deco(conn: &Connection, id: ChannelId) -> Result<Option<DecoDoc>, YamlError> {
    let own: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM channel_deco WHERE channel_id = ?1)
             OR EXISTS (SELECT 1 FROM channel_deco_windows WHERE channel_id = ?1)",
        [id],
        |r| r.get(0),
    )?;
    let Some(deco) = own
        .then(|| crate::ops::deco::channel_deco(conn, id))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let mut windows = Vec::with_capacity(deco.windows.len());
    for (start_time, end_time, group) in deco.windows {
        windows.push(WindowDoc {
            start_time,
            end_time,
            deco_group: Named::DecoGroup
                .name_of(conn, Some(group))?
                .unwrap_or_default(),
        });
    }
    Ok(Some(DecoDoc {
        deco_group: Named::DecoGroup.name_of(conn, deco.deco_group_id)?,
        breaks: deco.breaks,
        break_every_minutes: deco.break_every_minutes,
        break_count: deco.break_count,
        default_filler: DecoFillerDoc {
            mode: deco.default_filler_mode,
            collection: Named::Collection.name_of(conn, deco.default_filler_collection_id)?,
        },
        watermark: WatermarkDoc {
            mode: deco.watermark_mode,
            name: Named::Watermark.name_of(conn, deco.watermark_id)?,
        },
        windows,
    }))
}
