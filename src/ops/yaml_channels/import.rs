//! A document made into a channel, its filler, schedule and items, deco, playout (built,
//! with the document's seed) and applied templates, each through its typed operation in
//! the caller's transaction: the caller commits all of it or nothing. Every name is looked
//! up first; one that names nothing on this server is a 422 naming its path.

use std::fmt;

use rusqlite::Transaction;
use serde::de::{value, Deserialize, IntoDeserializer};

use super::{
    invalid, BlockDoc, ChannelDoc, DecoDoc, FillerDoc, ItemDoc, Named, ScheduleDoc, TemplateDoc,
    YamlError,
};
use crate::changes::Changes;
use crate::kinds::{BlockContent, SlotContent};
use crate::ops::blocks::{self, BlockError, BlockPatch, BlockTime};
use crate::ops::channels::{self, ChannelError, ChannelPatch, FillerPatch, FillerSlot};
use crate::ops::deco::{self, ChannelDecoPatch, DecoError, FillerPart, WatermarkPart, WindowPart};
use crate::ops::fields::{ChannelNumber, ClockTime, Field, Flag, Int, Name, OneOf, Text};
use crate::ops::ids::{
    ChannelId, CollectionId, FillerPresetId, MediaId, PlaylistId, ProfileId, ScheduleId,
};
use crate::ops::playouts::{self, NewPlayout, PlayoutError, PlayoutPatch};
use crate::ops::schedule_items::{self, NewScheduleItem, ScheduleItemError, ScheduleItemPatch};
use crate::ops::schedules::{self, ScheduleError, SchedulePatch};
use crate::ops::templates::{self, ApplyPatch, TemplateError, TemplatePatch};
use crate::scheduler::BuildClock;

/// The longest item duration the schedule items take (`playout_duration_hours` ≤ 168).
const MAX_DURATION_MINUTES: u32 = 24 * 7 * 60 + 59;

/// Creates the document's channel and everything it carries; `at` prefixes every path an
/// error names (`"[2]"` for a list's third channel). A document without a seed gets
/// `fresh_seed`. Returns the channel and what changed.
pub fn import(
    tx: &Transaction<'_>,
    doc: &ChannelDoc,
    at: &str,
    clock: &BuildClock,
    fresh_seed: i64,
) -> Result<(ChannelId, Changes), YamlError> {
    let patch = channel_patch(tx, doc, at)?;
    let (channel, mut changes) =
        channels::create(tx, &patch, clock.now_ms).map_err(|e| channel_err(at, e))?;
    let filler = channel_filler(tx, &doc.filler, &join(at, "filler"))?;
    merge(
        &mut changes,
        channels::set_filler(tx, channel, &filler, clock.now_ms)
            .map_err(|e| channel_err(&join(at, "filler"), e))?,
    );
    let schedule = match &doc.schedule {
        Some(schedule) => Some(create_schedule(
            tx,
            schedule,
            channel,
            &join(at, "schedule"),
            clock,
        )?),
        None => None,
    };
    if let Some(deco) = &doc.deco {
        let path = join(at, "deco");
        let patch = deco_patch(tx, deco, &path)?;
        let done = deco::set_channel_deco(tx, channel, &patch, clock.now_ms)
            .map_err(|e| deco_err(&path, e))?;
        merge(&mut changes, done);
    }
    // A mirror's playout is made by `channels::create` and copies its source's timeline.
    if doc.settings.mirror_of.is_none() {
        merge(
            &mut changes,
            create_playout(tx, doc, channel, schedule, at, clock, fresh_seed)?,
        );
    }
    for (i, applied) in doc.templates.iter().enumerate() {
        let path = format!("{}[{i}]", join(at, "templates"));
        let template = ensure_template(tx, &applied.template, &join(&path, "template"), clock)?;
        for day in days(applied.days_of_week, &path)? {
            let patch = ApplyPatch {
                day_of_week: Field(Some(day.map(Int))),
                priority: Field::set(typed(&join(&path, "priority"), applied.priority)?),
            };
            let (_, done) =
                templates::apply(tx, template, channel, &patch, fresh_seed, clock.now_ms)
                    .map_err(|e| template_err(&path, e))?;
            merge(&mut changes, done);
        }
    }
    Ok((channel, changes))
}

/// `at.field`, or `field` at the top.
fn join(at: &str, field: &str) -> String {
    if at.is_empty() {
        field.to_string()
    } else {
        format!("{at}.{field}")
    }
}

/// A plain value checked by the typed field's own decoder (the API's checks and messages).
fn typed<'a, T: Deserialize<'a>>(
    path: &str,
    value: impl IntoDeserializer<'a, value::Error>,
) -> Result<T, YamlError> {
    T::deserialize(value.into_deserializer()).map_err(|err| invalid(path, err))
}

fn text(value: &Option<String>) -> Field<Option<Text>> {
    Field(value.clone().map(|t| Some(Text(t))))
}

fn name(path: &str, value: &Option<String>) -> Result<Field<Name>, YamlError> {
    Ok(Field(value.as_deref().map(|v| typed(path, v)).transpose()?))
}

fn merge(total: &mut Changes, more: Changes) {
    total.content |= more.content;
    total.timelines.merge(more.timelines);
    total.rebuild.merge(more.rebuild);
}

fn channel_patch(
    tx: &Transaction<'_>,
    doc: &ChannelDoc,
    at: &str,
) -> Result<ChannelPatch, YamlError> {
    let s = &doc.settings;
    let sp = join(at, "settings");
    let field = |f: &str| join(&sp, f);
    let profile = doc
        .ffmpeg_profile
        .as_deref()
        .map(|n| Named::Profile.id_of(tx, &join(at, "ffmpeg_profile"), n))
        .transpose()?;
    let mirror = s
        .mirror_of
        .as_deref()
        .map(|n| Named::Channel.id_of(tx, &field("mirror_of"), n))
        .transpose()?;
    let watermark = s
        .watermark
        .as_deref()
        .map(|n| Named::Watermark.id_of(tx, &field("watermark"), n))
        .transpose()?;
    let offset = s
        .playout_offset
        .map(|o| typed(&field("playout_offset"), o))
        .transpose()?;
    Ok(ChannelPatch {
        number: Field::set(typed::<ChannelNumber>(
            &join(at, "number"),
            doc.number.as_str(),
        )?),
        name: Field::set(typed::<Name>(&join(at, "name"), doc.name.as_str())?),
        group: Field(doc.group.clone().map(Text)),
        enabled: Field(doc.enabled.map(Flag)),
        logo_url: text(&s.logo_url),
        playout_mode: Field(s.playout_mode.map(OneOf)),
        streaming_mode: Field(s.streaming_mode.map(OneOf)),
        transcode_mode: name(&field("transcode_mode"), &s.transcode_mode)?,
        transcode_profile: Field(s.transcode_profile.map(|p| Some(OneOf(p)))),
        ffmpeg_profile_id: Field(profile.map(|id| Some(ProfileId(id)))),
        subtitle_mode: name(&field("subtitle_mode"), &s.subtitle_mode)?,
        preferred_audio_language_code: text(&s.preferred_audio_language_code),
        preferred_audio_title: text(&s.preferred_audio_title),
        preferred_subtitle_language_code: text(&s.preferred_subtitle_language_code),
        stream_selector_mode: name(&field("stream_selector_mode"), &s.stream_selector_mode)?,
        stream_selector: text(&s.stream_selector),
        idle_behavior: Field(s.idle_behavior.map(OneOf)),
        playout_source: Field(s.playout_source.map(OneOf)),
        mirror_source_channel_id: Field(mirror.map(|id| Some(ChannelId(id)))),
        playout_offset: Field(offset.map(Some)),
        show_in_epg: Field(s.show_in_epg.map(Flag)),
        watermark_id: Field(watermark.map(|id| Some(Int(id)))),
        ..ChannelPatch::default()
    })
}

/// A filler preset slot by name.
fn preset(
    tx: &Transaction<'_>,
    path: &str,
    name: &Option<String>,
) -> Result<Option<FillerPresetId>, YamlError> {
    name.as_deref()
        .map(|n| Named::Filler.id_of(tx, &path, n).map(FillerPresetId))
        .transpose()
}

fn channel_filler(
    tx: &Transaction<'_>,
    doc: &FillerDoc,
    path: &str,
) -> Result<FillerPatch, YamlError> {
    if doc.mid_roll.is_some() || doc.tail.is_some() {
        return Err(invalid(
            path,
            "a channel has pre_roll, post_roll and fallback filler only",
        ));
    }
    let slot = |field: &str, name: &Option<String>| -> Result<Field<FillerSlot>, YamlError> {
        let id = preset(tx, &join(path, field), name)?;
        Ok(Field(id.map(|id| FillerSlot(Some(id)))))
    };
    Ok(FillerPatch {
        pre_roll_filler_id: slot("pre_roll", &doc.pre_roll)?,
        post_roll_filler_id: slot("post_roll", &doc.post_roll)?,
        fallback_filler_id: slot("fallback", &doc.fallback)?,
    })
}

fn create_schedule(
    tx: &Transaction<'_>,
    doc: &ScheduleDoc,
    channel: ChannelId,
    at: &str,
    clock: &BuildClock,
) -> Result<ScheduleId, YamlError> {
    let collection = doc
        .collection
        .as_deref()
        .map(|n| Named::Collection.id_of(tx, &join(at, "collection"), n))
        .transpose()?;
    let playlist = doc
        .playlist
        .as_deref()
        .map(|n| Named::Playlist.id_of(tx, &join(at, "playlist"), n))
        .transpose()?;
    let patch = SchedulePatch {
        name: Field::set(typed(&join(at, "name"), doc.name.as_str())?),
        channel_id: Field::set(Some(channel)),
        keep_multi_part_episodes_together: Field::set(Flag(doc.keep_multi_part_episodes_together)),
        treat_collections_as_shows: Field::set(Flag(doc.treat_collections_as_shows)),
        shuffle_schedule_items: Field::set(Flag(doc.shuffle_schedule_items)),
        random_start_point: Field::set(Flag(doc.random_start_point)),
        is_yaml_source: Field::default(),
        playlist_id: Field(playlist.map(|id| Some(PlaylistId(id)))),
        collection_id: Field(collection.map(|id| Some(CollectionId(id)))),
        start_time: text(&doc.start_time),
        end_time: text(&doc.end_time),
        repeat: Field::set(Flag(doc.repeat)),
    };
    let (schedule, _) =
        schedules::create(tx, &patch, clock.now_ms).map_err(|e| schedule_err(at, e))?;
    for (i, item) in doc.items.iter().enumerate() {
        let path = format!("{at}.items[{i}]");
        let new = NewScheduleItem {
            schedule_id: schedule,
            index: None,
            patch: item_patch(tx, item, &path)?,
        };
        schedule_items::create(tx, &new, clock.now_ms).map_err(|e| item_err(&path, e))?;
    }
    Ok(schedule)
}

fn item_patch(
    tx: &Transaction<'_>,
    doc: &ItemDoc,
    at: &str,
) -> Result<ScheduleItemPatch, YamlError> {
    let field = |f: &str| join(at, f);
    let content =
        Named::of_content(doc.collection_type).id_of(tx, &field("content"), &doc.content)?;
    let mut patch = ScheduleItemPatch {
        start_type: Field(doc.start_type.map(OneOf)),
        fixed_start_time_behavior: Field(doc.fixed_start_time_behavior.map(|b| Some(OneOf(b)))),
        collection_type: Field::set(OneOf(doc.collection_type)),
        playback_order: Field(doc.playback_order.map(OneOf)),
        playout_mode: Field(doc.playout_mode.map(OneOf)),
        multiple_mode: text(&doc.multiple_mode),
        search_title: text(&doc.search_title),
        search_query: text(&doc.search_query),
        fill_with_group_mode: text(&doc.fill_with_group_mode),
        tail_mode: Field(doc.tail_mode.map(|m| Some(OneOf(m)))),
        custom_title: text(&doc.custom_title),
        guide_mode: Field(doc.guide_mode.map(OneOf)),
        preferred_audio_language: text(&doc.preferred_audio_language),
        preferred_audio_title: text(&doc.preferred_audio_title),
        preferred_subtitle_language: text(&doc.preferred_subtitle_language),
        subtitle_mode: text(&doc.subtitle_mode),
        ..ScheduleItemPatch::default()
    };
    match doc.collection_type {
        SlotContent::Playlist => patch.playlist_id = Field::set(Some(PlaylistId(content))),
        SlotContent::MediaItem => patch.media_item_id = Field::set(Some(MediaId(content))),
        _ => patch.collection_id = Field::set(Some(Int(content))),
    }
    if let Some(time) = &doc.start_time {
        patch.start_time = Field::set(Some(typed::<ClockTime>(
            &field("start_time"),
            time.as_str(),
        )?));
    }
    if let Some(count) = doc.multiple_count {
        patch.multiple_count = Field::set(Some(typed(&field("multiple_count"), count)?));
    }
    if let Some(minutes) = doc.duration_minutes {
        if minutes > MAX_DURATION_MINUTES {
            let problem = format!("must be at most {MAX_DURATION_MINUTES}");
            return Err(invalid(field("duration_minutes"), problem));
        }
        patch.playout_duration_hours = Field::set(Int(i64::from(minutes / 60)));
        patch.playout_duration_minutes = Field::set(Int(i64::from(minutes % 60)));
    }
    if let Some(attempts) = doc.discard_to_fill_attempts {
        let attempts = typed(&field("discard_to_fill_attempts"), attempts)?;
        patch.discard_to_fill_attempts = Field::set(Some(attempts));
    }
    if let Some(name) = &doc.tail_filler_collection {
        let id = Named::Collection.id_of(tx, &field("tail_filler_collection"), name)?;
        patch.tail_filler_collection_id = Field::set(Some(CollectionId(id)));
    }
    let filler = |slot: &str, name: &Option<String>| {
        preset(tx, &field(&format!("filler.{slot}")), name).map(|id| Field(id.map(Some)))
    };
    patch.pre_roll_filler_id = filler("pre_roll", &doc.filler.pre_roll)?;
    patch.mid_roll_filler_id = filler("mid_roll", &doc.filler.mid_roll)?;
    patch.post_roll_filler_id = filler("post_roll", &doc.filler.post_roll)?;
    patch.tail_filler_id = filler("tail", &doc.filler.tail)?;
    patch.fallback_filler_id = filler("fallback", &doc.filler.fallback)?;
    Ok(patch)
}

fn deco_patch(
    tx: &Transaction<'_>,
    doc: &DecoDoc,
    at: &str,
) -> Result<ChannelDecoPatch, YamlError> {
    let field = |f: &str| join(at, f);
    let group = doc
        .deco_group
        .as_deref()
        .map(|n| Named::DecoGroup.id_of(tx, &field("deco_group"), n))
        .transpose()?;
    let collection = doc
        .default_filler
        .collection
        .as_deref()
        .map(|n| Named::Collection.id_of(tx, &field("default_filler.collection"), n))
        .transpose()?;
    let watermark = doc
        .watermark
        .name
        .as_deref()
        .map(|n| Named::Watermark.id_of(tx, &field("watermark.name"), n))
        .transpose()?;
    let mut windows = Vec::with_capacity(doc.windows.len());
    for (i, window) in doc.windows.iter().enumerate() {
        let path = format!("{at}.windows[{i}]");
        let group = Named::DecoGroup.id_of(tx, &join(&path, "deco_group"), &window.deco_group)?;
        windows.push(WindowPart {
            start_time: typed::<BlockTime>(&join(&path, "start_time"), window.start_time.as_str())?,
            end_time: typed::<BlockTime>(&join(&path, "end_time"), window.end_time.as_str())?,
            deco_group_id: Int(group),
        });
    }
    let every = doc
        .break_every_minutes
        .map(|m| typed(&field("break_every_minutes"), m))
        .transpose()?;
    Ok(ChannelDecoPatch {
        deco_group_id: Field::set(group.map(Int)),
        breaks: Field::set(OneOf(doc.breaks)),
        break_every_minutes: Field::set(every),
        break_count: Field::set(typed(&field("break_count"), doc.break_count)?),
        default_filler: Field::set(FillerPart {
            mode: OneOf(doc.default_filler.mode),
            collection_id: collection.map(Int),
        }),
        watermark: Field::set(WatermarkPart {
            mode: OneOf(doc.watermark.mode),
            watermark_id: watermark.map(Int),
        }),
        windows: Field::set(windows),
    })
}

fn create_playout(
    tx: &Transaction<'_>,
    doc: &ChannelDoc,
    channel: ChannelId,
    schedule: Option<ScheduleId>,
    at: &str,
    clock: &BuildClock,
    fresh_seed: i64,
) -> Result<Changes, YamlError> {
    let path = join(at, "playout");
    let playout = doc.playout.as_ref();
    let reset = playout
        .and_then(|p| p.daily_reset_time.as_deref())
        .map(|t| typed::<ClockTime>(&join(&path, "daily_reset_time"), t))
        .transpose()?;
    let playout_type = playout.and_then(|p| p.playout_type.as_deref());
    let new = NewPlayout {
        patch: PlayoutPatch {
            channel_id: Field::set(channel),
            program_schedule_id: Field::set(schedule),
            playout_type: name(
                &join(&path, "playout_type"),
                &playout_type.map(str::to_string),
            )?,
            daily_reset_time: Field(reset.map(Some)),
            is_active: Field::set(Flag(true)),
            ..PlayoutPatch::default()
        },
        seed: playout.map_or(fresh_seed, |p| p.seed),
    };
    let (_, changes) = playouts::create(tx, &new, clock).map_err(|e| playout_err(&path, e))?;
    Ok(changes)
}

/// The server's template of the document's name, or a new one with its blocks.
fn ensure_template(
    tx: &Transaction<'_>,
    doc: &TemplateDoc,
    at: &str,
    clock: &BuildClock,
) -> Result<i64, YamlError> {
    if let Some(id) = Named::Template.find(tx, &doc.name)? {
        return Ok(id);
    }
    let patch = TemplatePatch {
        name: Field::set(typed(&join(at, "name"), doc.name.as_str())?),
        group_id: Field::default(),
        is_enabled: Field::set(Flag(doc.is_enabled)),
    };
    let (template, _) =
        templates::create(tx, &patch, clock.now_ms).map_err(|e| template_err(at, e))?;
    for (i, item) in doc.items.iter().enumerate() {
        let path = format!("{at}.items[{i}]");
        let block = create_block(tx, &item.block, &join(&path, "block"), clock)?;
        let start = typed::<BlockTime>(&join(&path, "start_time"), item.start_time.as_str())?;
        let patch = templates::ItemPatch {
            block_id: Field::set(Int(block)),
            start_time: Field::set(start),
        };
        templates::add_item(tx, template, &patch, clock.now_ms)
            .map_err(|e| template_err(&path, e))?;
    }
    Ok(template)
}

fn create_block(
    tx: &Transaction<'_>,
    doc: &BlockDoc,
    at: &str,
    clock: &BuildClock,
) -> Result<i64, YamlError> {
    let field = |f: &str| join(at, f);
    let patch = BlockPatch {
        name: Field::set(typed(&field("name"), doc.name.as_str())?),
        group_id: Field::default(),
        start_time: Field::set(typed(&field("start_time"), doc.start_time.as_str())?),
        duration_minutes: Field::set(typed(&field("duration_minutes"), doc.duration_minutes)?),
        days_of_week: Field::set(typed(&field("days_of_week"), i64::from(doc.days_of_week))?),
        stop_before_end: Field::set(Flag(doc.stop_before_end)),
    };
    let (block, _) = blocks::create(tx, &patch, clock.now_ms).map_err(|e| block_err(at, e))?;
    for (i, item) in doc.items.iter().enumerate() {
        let path = format!("{at}.items[{i}]");
        let named = match item.collection_type {
            BlockContent::Playlist => Named::Playlist,
            BlockContent::Collection | BlockContent::SmartCollection => Named::Collection,
        };
        let content = named.id_of(tx, &join(&path, "content"), &item.content)?;
        let patch = blocks::ItemPatch {
            collection_type: Field::set(OneOf(item.collection_type)),
            collection_id: Field::set(Int(content)),
            playback_order: Field(item.playback_order.map(OneOf)),
            include_in_guide: Field::set(Flag(item.include_in_guide)),
            disable_watermarks: Field::set(Flag(item.disable_watermarks)),
        };
        blocks::add_item(tx, block, &patch, clock.now_ms).map_err(|e| block_err(&path, e))?;
    }
    Ok(block)
}

/// The days a template applies on: `None` for every day, else each day of the mask.
fn days(mask: u8, at: &str) -> Result<Vec<Option<i64>>, YamlError> {
    match mask {
        127 => Ok(vec![None]),
        1..=126 => Ok((0..7).filter(|d| mask & (1 << d) != 0).map(Some).collect()),
        _ => Err(invalid(
            join(at, "days_of_week"),
            "must be between 1 and 127",
        )),
    }
}

/// An operation's refusal, its field put under the document path it came from.
fn refused(at: &str, field: &str, problem: String) -> YamlError {
    invalid(join(at, field), problem)
}

fn whole(at: &str, err: impl fmt::Display) -> YamlError {
    invalid(if at.is_empty() { "channel" } else { at }, err)
}

fn channel_err(at: &str, err: ChannelError) -> YamlError {
    match err {
        ChannelError::NumberTaken(number) => YamlError::NumberTaken(number),
        ChannelError::Invalid { field, problem } => refused(at, field, problem),
        ChannelError::Db(err) => YamlError::Db(err),
        other => whole(at, other),
    }
}

fn schedule_err(at: &str, err: ScheduleError) -> YamlError {
    match err {
        ScheduleError::Invalid { field, problem } => refused(at, field, problem),
        ScheduleError::Db(err) => YamlError::Db(err),
        other => whole(at, other),
    }
}

fn item_err(at: &str, err: ScheduleItemError) -> YamlError {
    match err {
        ScheduleItemError::Invalid { field, problem } => refused(at, field, problem),
        ScheduleItemError::Db(err) => YamlError::Db(err),
        other => whole(at, other),
    }
}

fn deco_err(at: &str, err: DecoError) -> YamlError {
    match err {
        DecoError::Invalid { field, problem } => refused(at, &field, problem),
        DecoError::Db(err) => YamlError::Db(err),
        other => whole(at, other),
    }
}

fn playout_err(at: &str, err: PlayoutError) -> YamlError {
    match err {
        PlayoutError::Invalid { field, problem } => refused(at, field, problem),
        PlayoutError::Db(err) => YamlError::Db(err),
        other => whole(at, other),
    }
}

fn block_err(at: &str, err: BlockError) -> YamlError {
    match err {
        BlockError::Invalid { field, problem } => refused(at, field, problem),
        BlockError::Db(err) => YamlError::Db(err),
        other => whole(at, other),
    }
}

fn template_err(at: &str, err: TemplateError) -> YamlError {
    match err {
        TemplateError::Invalid { field, problem } => refused(at, field, problem),
        TemplateError::Db(err) => YamlError::Db(err),
        other => whole(at, other),
    }
}
