//! An approved plan made real in the caller's one write transaction: its smart collections
//! (`ops::collections::create_smart`), the deco group of its clips (`ops::groups`,
//! `ops::deco`), then the channel with its schedule, deco, playout and the template that
//! places its blocks (a part for some days only) through the YAML channel import
//! (`ops::yaml_channels::import`), the same typed operations every other creator uses, so
//! a plan creates nothing an edit could not. The caller commits and hands the `Changes` to
//! `App::apply`: the guide and the stream have the channel at once.

use std::fmt;

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;

use super::plan::{self, Plan};
use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::{
    BlockContent, DecoMode, FixedStartBehavior, PlaybackOrder, SlotContent, SlotMode, StartType,
};
use crate::ops::collections::{self, CollectionError, NewCollection};
use crate::ops::deco::{self as deco_ops, DecoPatch};
use crate::ops::fields::{Field, Int, Name, OneOf};
use crate::ops::groups::{self, GroupPatch, DECO_GROUPS};
use crate::ops::yaml_channels::{
    self, AppliedTemplateDoc, BlockDoc, BlockItemDoc, ChannelDoc, DecoDoc, DecoFillerDoc,
    FillerDoc, ItemDoc, ScheduleDoc, TemplateDoc, TemplateItemDoc, WatermarkDoc, YamlError,
};
use crate::scheduler::BuildClock;

#[derive(Debug)]
pub enum ExecuteError {
    /// The plan is not approved, or lacks what a channel needs.
    NotReady(String),
    /// A part of it the server refused (a name, a number): `what: why`.
    Refused(String),
    Db(DbError),
}

impl fmt::Display for ExecuteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecuteError::NotReady(why) => f.write_str(why),
            ExecuteError::Refused(why) => f.write_str(why),
            ExecuteError::Db(err) => write!(f, "{err}"),
        }
    }
}

impl From<DbError> for ExecuteError {
    fn from(err: DbError) -> Self {
        ExecuteError::Db(err)
    }
}

impl From<rusqlite::Error> for ExecuteError {
    fn from(err: rusqlite::Error) -> Self {
        ExecuteError::Db(err.into())
    }
}

/// What was created.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Created {
    pub channel_id: i64,
    pub channel_number: String,
    pub channel_name: String,
    pub schedule_id: Option<i64>,
    pub playout_id: Option<i64>,
    pub collection_ids: Vec<i64>,
    pub collections_created: usize,
    pub schedule_items: usize,
    /// Blocks the channel's template places (the parts for some days only).
    pub blocks_created: usize,
    /// Clips in the channel's deco group (0: no breaks).
    pub deco_clips: usize,
    pub playout_items: i64,
}

/// Creates everything `plan` describes; the plan's number is taken again if still free,
/// else the lowest free one is used.
pub fn execute(
    tx: &Transaction<'_>,
    plan: &Plan,
    clock: &BuildClock,
    seed: i64,
) -> Result<(Created, Changes), ExecuteError> {
    let Some(schedule) = &plan.schedule else {
        return Err(ExecuteError::NotReady("the plan has no schedule".into()));
    };
    let taken: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM channels WHERE number = ?1)",
        [&plan.channel.number],
        |r| r.get(0),
    )?;
    let number = if taken {
        plan::lowest_free_number(tx)?
    } else {
        plan.channel.number.clone()
    };
    let mut names = Vec::new();
    let mut ids = Vec::new();
    for c in &plan.collections {
        let (id, name) = ensure_collection(tx, c, clock)?;
        ids.push(id);
        let kind = match c.existing_id {
            Some(_) => SlotContent::Collection,
            None => SlotContent::SmartCollection,
        };
        names.push((c.name.clone(), name, kind));
    }
    let order: PlaybackOrder = schedule
        .playback_order
        .parse()
        .map_err(|e| ExecuteError::Refused(format!("schedule.playback_order: {e}")))?;
    let mut items = Vec::new();
    for slot in &schedule.slots {
        let Some((_, stored, kind)) = names.iter().find(|(n, _, _)| *n == slot.collection) else {
            return Err(ExecuteError::NotReady(format!(
                "slot names collection {:?}, which is not in the plan",
                slot.collection
            )));
        };
        items.push(item(*kind, stored, slot.start_time.clone(), order));
    }
    let mut doc = channel_doc(plan, number, items);
    for b in &plan.blocks {
        let Some((_, stored, kind)) = names.iter().find(|(n, _, _)| *n == b.collection) else {
            return Err(ExecuteError::NotReady(format!(
                "block names collection {:?}, which is not in the plan",
                b.collection
            )));
        };
        let content = match kind {
            SlotContent::SmartCollection => BlockContent::SmartCollection,
            _ => BlockContent::Collection,
        };
        push_block(tx, &mut doc, plan, b, content, stored, order)?;
    }
    let n_clips = add_deco(tx, &mut doc, plan, clock)?;
    let (channel, changes) = yaml_channels::import(tx, &doc, "", clock, seed).map_err(refused)?;
    let fresh = plan.collections.iter().filter(|c| c.existing_id.is_none());
    let mut created = created(tx, channel.0, &doc, ids, fresh.count())?;
    created.blocks_created = plan.blocks.len();
    created.deco_clips = n_clips;
    Ok((created, changes))
}

/// The plan's breaks (a deco group of its clips, between programmes) and dead-air filler
/// on the channel's document; how many clips it holds.
fn add_deco(
    tx: &Transaction<'_>,
    doc: &mut ChannelDoc,
    plan: &Plan,
    clock: &BuildClock,
) -> Result<usize, ExecuteError> {
    let Some(deco) = &plan.deco else {
        return Ok(0);
    };
    let filler = match &plan.filler.collection {
        Some(c) => Some(ensure_collection(tx, c, clock)?.1),
        None => None,
    };
    let (group, n_clips) = deco_group(tx, deco, clock)?;
    doc.deco = Some(DecoDoc {
        deco_group: Some(group),
        breaks: deco.breaks,
        break_every_minutes: None,
        break_count: 1,
        default_filler: DecoFillerDoc {
            mode: match filler {
                Some(_) => DecoMode::Override,
                None => DecoMode::Inherit,
            },
            collection: filler,
        },
        watermark: WatermarkDoc {
            mode: DecoMode::Inherit,
            name: None,
        },
        windows: Vec::new(),
    });
    Ok(n_clips)
}

/// Places `b` in the channel's one template (made on the first block, under a free name,
/// applied on the days its blocks air).
fn push_block(
    tx: &Transaction<'_>,
    doc: &mut ChannelDoc,
    plan: &Plan,
    b: &plan::Block,
    content: BlockContent,
    collection: &str,
    order: PlaybackOrder,
) -> Result<(), ExecuteError> {
    if doc.templates.is_empty() {
        let name = free_name(tx, "templates", &plan.channel.name)?;
        doc.templates.push(AppliedTemplateDoc {
            template: TemplateDoc {
                name,
                is_enabled: true,
                items: Vec::new(),
            },
            days_of_week: 0,
            priority: 0,
        });
    }
    let applied = &mut doc.templates[0];
    applied.days_of_week |= b.days_of_week;
    applied.template.items.push(TemplateItemDoc {
        start_time: b.start_time.clone(),
        block: BlockDoc {
            name: b.name.clone(),
            start_time: b.start_time.clone(),
            duration_minutes: i64::from(b.duration_minutes),
            days_of_week: b.days_of_week,
            stop_before_end: true,
            items: vec![BlockItemDoc {
                collection_type: content,
                content: collection.to_string(),
                playback_order: Some(order),
                include_in_guide: true,
                disable_watermarks: false,
            }],
        },
    });
    Ok(())
}

/// The plan's deco group, under a free name, with one asset per clip that still exists;
/// returns (name, clips).
fn deco_group(
    tx: &Transaction<'_>,
    deco: &plan::Deco,
    clock: &BuildClock,
) -> Result<(String, usize), ExecuteError> {
    let name = free_name(tx, "deco_groups", &deco.group)?;
    let patch = GroupPatch {
        name: Field::set(Name(name.clone())),
    };
    let (group, _) = groups::create(tx, &DECO_GROUPS, &patch, clock.now_ms)
        .map_err(|e| ExecuteError::Refused(format!("deco.group: {e}")))?;
    let mut n_clips = 0;
    for &media in &deco.media_item_ids {
        let title: Option<String> = tx
            .query_row(
                "SELECT title FROM media_items WHERE id = ?1",
                [media],
                |r| r.get(0),
            )
            .optional()?;
        // A clip deleted since the plan was made is left out, never an error.
        let Some(title) = title else { continue };
        let patch = DecoPatch {
            name: Field::set(Name(title)),
            group_id: Field::set(Some(Int(group))),
            deco_type: Field::set(OneOf(deco.deco_type)),
            media_item_id: Field::set(Some(Int(media))),
            ..DecoPatch::default()
        };
        deco_ops::create(tx, &patch, clock.now_ms)
            .map_err(|e| ExecuteError::Refused(format!("deco.media_item_ids: {e}")))?;
        n_clips += 1;
    }
    Ok((name, n_clips))
}

/// `base`, or `base (2)`, … : the first name no row of `table` has. `table` is one of
/// ours, never client input.
fn free_name(tx: &Transaction<'_>, table: &str, base: &str) -> Result<String, ExecuteError> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE name = ?1)");
    for n in 1..100 {
        let name = if n == 1 {
            base.to_string()
        } else {
            format!("{base} ({n})")
        };
        let taken: bool = tx.query_row(&sql, [&name], |r| r.get(0))?;
        if !taken {
            return Ok(name);
        }
    }
    Err(ExecuteError::Refused(format!(
        "{table}: every name near {base:?} is taken"
    )))
}

fn refused(err: YamlError) -> ExecuteError {
    match err {
        YamlError::Db(err) => ExecuteError::Db(err),
        other => ExecuteError::Refused(other.to_string()),
    }
}

/// The existing collection, or a new smart one under a free name; returns (id, name).
fn ensure_collection(
    tx: &Transaction<'_>,
    c: &plan::Collection,
    clock: &BuildClock,
) -> Result<(i64, String), ExecuteError> {
    if let Some(id) = c.existing_id {
        let name: Option<String> = tx
            .query_row("SELECT name FROM collections WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        return name.map(|n| (id, n)).ok_or_else(|| {
            ExecuteError::NotReady(format!("collection {:?} no longer exists", c.name))
        });
    }
    let Some(query) = &c.query else {
        return Err(ExecuteError::NotReady(format!(
            "collection {:?} has no query",
            c.name
        )));
    };
    for n in 1..100 {
        let name = if n == 1 {
            c.name.clone()
        } else {
            format!("{} ({n})", c.name)
        };
        let new = NewCollection {
            name: name.clone(),
            description: Some("created by the AI channel planner".into()),
        };
        match collections::create_smart(tx, &new, query, clock.now_ms) {
            Ok((id, _, _)) => return Ok((id.0, name)),
            Err(CollectionError::NameTaken) => continue,
            Err(CollectionError::Db(err)) => return Err(ExecuteError::Db(err)),
            Err(other) => return Err(ExecuteError::Refused(format!("{}: {other}", c.name))),
        }
    }
    Err(ExecuteError::Refused(format!(
        "collection {:?}: every name is taken",
        c.name
    )))
}

fn item(
    kind: SlotContent,
    collection: &str,
    start_time: Option<String>,
    order: PlaybackOrder,
) -> ItemDoc {
    let fixed = start_time.is_some();
    ItemDoc {
        start_type: Some(if fixed {
            StartType::Fixed
        } else {
            StartType::Dynamic
        }),
        start_time,
        fixed_start_time_behavior: fixed.then_some(FixedStartBehavior::Flexible),
        playback_order: Some(order),
        playout_mode: Some(SlotMode::Flood),
        ..ItemDoc::new(kind, collection.to_string())
    }
}

fn channel_doc(plan: &Plan, number: String, items: Vec<ItemDoc>) -> ChannelDoc {
    ChannelDoc {
        number,
        name: plan.channel.name.clone(),
        group: Some(plan.channel.group.clone()),
        enabled: Some(true),
        ffmpeg_profile: None,
        settings: Default::default(),
        filler: FillerDoc {
            fallback: plan.filler.fallback.clone(),
            ..FillerDoc::default()
        },
        schedule: Some(ScheduleDoc {
            name: plan.channel.name.clone(),
            keep_multi_part_episodes_together: true,
            treat_collections_as_shows: false,
            shuffle_schedule_items: false,
            random_start_point: false,
            repeat: true,
            start_time: None,
            end_time: None,
            collection: None,
            playlist: None,
            items,
        }),
        templates: Vec::new(),
        deco: None,
        playout: None,
    }
}

fn created(
    tx: &Transaction<'_>,
    channel_id: i64,
    doc: &ChannelDoc,
    collection_ids: Vec<i64>,
    collections_created: usize,
) -> Result<Created, ExecuteError> {
    let schedule_id: Option<i64> = tx
        .query_row(
            "SELECT id FROM schedules WHERE channel_id = ?1 ORDER BY id DESC LIMIT 1",
            [channel_id],
            |r| r.get(0),
        )
        .optional()?;
    let playout_id: Option<i64> = tx
        .query_row(
            "SELECT id FROM playouts WHERE channel_id = ?1 ORDER BY id DESC LIMIT 1",
            [channel_id],
            |r| r.get(0),
        )
        .optional()?;
    let playout_items: i64 = tx.query_row(
        "SELECT count(*) FROM playout_items WHERE playout_id = ?1",
        [playout_id.unwrap_or(0)],
        |r| r.get(0),
    )?;
    Ok(Created {
        channel_id,
        channel_number: doc.number.clone(),
        channel_name: doc.name.clone(),
        schedule_id,
        playout_id,
        collection_ids,
        collections_created,
        schedule_items: doc.schedule.as_ref().map_or(0, |s| s.items.len()),
        blocks_created: 0,
        deco_clips: 0,
        playout_items,
    })
}
