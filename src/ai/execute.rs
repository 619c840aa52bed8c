//! An approved plan made real in the caller's one write transaction: its smart collections
//! (`ops::collections::create_smart`), then the channel with its schedule and playout
//! through the YAML channel import (`ops::yaml_channels::import`), the same typed
//! operations every other creator uses, so a plan creates nothing an edit could not. The
//! caller commits and hands the `Changes` to `App::apply`: the guide and the stream have
//! the channel at once.

use std::fmt;

use rusqlite::{OptionalExtension, Transaction};
use serde::Serialize;

use super::plan::{self, Plan};
use crate::changes::Changes;
use crate::db::DbError;
use crate::kinds::{FixedStartBehavior, PlaybackOrder, SlotContent, SlotMode, StartType};
use crate::ops::collections::{self, CollectionError, NewCollection};
use crate::ops::yaml_channels::{self, ChannelDoc, FillerDoc, ItemDoc, ScheduleDoc, YamlError};
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
    let doc = channel_doc(plan, number, items);
    let (channel, changes) = yaml_channels::import(tx, &doc, "", clock, seed).map_err(refused)?;
    let fresh = plan.collections.iter().filter(|c| c.existing_id.is_none());
    let created = created(tx, channel.0, &doc, ids, fresh.count())?;
    Ok((created, changes))
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
        collection_type: kind,
        content: collection.to_string(),
        start_type: Some(if fixed {
            StartType::Fixed
        } else {
            StartType::Dynamic
        }),
        start_time,
        fixed_start_time_behavior: fixed.then_some(FixedStartBehavior::Flexible),
        playback_order: Some(order),
        playout_mode: Some(SlotMode::Flood),
        multiple_mode: None,
        multiple_count: None,
        duration_minutes: None,
        search_title: None,
        search_query: None,
        fill_with_group_mode: None,
        tail_mode: None,
        tail_filler_collection: None,
        discard_to_fill_attempts: None,
        custom_title: None,
        guide_mode: None,
        filler: FillerDoc::default(),
        preferred_audio_language: None,
        preferred_audio_title: None,
        preferred_subtitle_language: None,
        subtitle_mode: None,
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
        playout_items,
    })
}
