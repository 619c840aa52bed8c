//! A channel plan built from an intent and our real media: the channel (name, the lowest
//! free number, checked again at execute), one collection per part of the request (a smart
//! query over the library, or an existing collection named in the request), a daily
//! schedule with a fixed start per time of day, a block for each part that airs only on
//! some days, the breaks and filler our short clips make (`clips`), warnings, and how much
//! content it holds. A plan reserves nothing. Deterministic: the same request over the
//! same library gives the same plan (its id and stamps aside).

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::clips;
use super::intent::{self, Intent, Segment, EVERY_DAY};
use super::sources::{round2, Amount, Condition, Filter};
use crate::db::DbError;
use crate::ops::blocks::BlockTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Something is missing (no content understood, a collection without items).
    Draft,
    Ready,
    Approved,
    Executed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Ready => "ready",
            Status::Approved => "approved",
            Status::Executed => "executed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    pub name: String,
    pub number: String,
    pub group: String,
}

/// A collection the channel plays: created as a smart collection from `query`, or an
/// existing one (`existing_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    pub name: String,
    pub query: Option<String>,
    pub existing_id: Option<i64>,
    pub items: i64,
    pub hours: f64,
}

/// One schedule slot: a collection from a fixed time of day (none: as soon as the one
/// before ends), until the next slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    pub collection: String,
    pub start_time: Option<String>,
    pub label: Option<String>,
    /// The days the request named (bit 0 = Sunday). Every slot of a built schedule is
    /// every day (127): a part for some days only is a `Block`.
    pub days: u8,
}

/// A part of the request that airs on some days only: a block (`ops::blocks`) placed by
/// the channel's template. While it airs it takes precedence over the daily schedule,
/// which fills the rest of the week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub name: String,
    pub collection: String,
    pub start_time: String,
    pub duration_minutes: u32,
    /// The blocks API's mask: 1 = Sunday .. 64 = Saturday (the intent's bit 0 = Sunday).
    pub days_of_week: u8,
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub name: String,
    pub playback_order: String,
    pub slots: Vec<Slot>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Filler {
    /// A filler preset's name, when the plan uses one.
    pub fallback: Option<String>,
    /// Our short clips as the channel's dead-air filler (the deco's `default_filler`): an
    /// existing collection, or a smart one over their folder.
    #[serde(default)]
    pub collection: Option<Collection>,
}

/// The channel's breaks: a deco group of our short clips, one after each programme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deco {
    /// The deco group execute creates (a free name next to this one).
    pub group: String,
    pub breaks: crate::kinds::BreakMode,
    pub deco_type: crate::kinds::DecoType,
    /// Where the clips are: `folder "/media/bumpers"` or `collection "Promos"`.
    pub source: String,
    /// The clips, in the library's order, at most `clips::MAX_CLIPS`.
    pub media_item_ids: Vec<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub plan_id: String,
    pub status: Status,
    pub is_ready: bool,
    pub request: String,
    pub persona_id: Option<String>,
    pub channel: Channel,
    pub collections: Vec<Collection>,
    pub schedule: Option<Schedule>,
    /// The parts for some days only (a plan stored before blocks existed has none).
    #[serde(default)]
    pub blocks: Vec<Block>,
    pub filler: Filler,
    pub deco: Option<Deco>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    pub estimated_content_hours: f64,
    pub estimated_unique_items: i64,
    pub modules: Vec<String>,
}

/// What `/plan` asks besides the request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Options {
    pub persona_id: Option<String>,
    /// Library names the content is taken from (none: all).
    pub preferred_sources: Vec<String>,
    /// Library names left out.
    pub excluded_sources: Vec<String>,
}

/// Builds the plan for `request` over the library in `conn`; `plan_id` is the caller's.
pub fn build(
    conn: &Connection,
    request: &str,
    options: &Options,
    plan_id: String,
) -> Result<Plan, DbError> {
    let vocab = intent::vocabulary(conn)?;
    let intent = intent::analyze(request, &vocab);
    let mut plan = Plan {
        plan_id,
        status: Status::Draft,
        is_ready: false,
        request: intent.request.clone(),
        persona_id: options
            .persona_id
            .clone()
            .or_else(|| Some(intent.suggested_persona.to_string())),
        channel: Channel {
            name: intent.suggested_name.clone(),
            number: lowest_free_number(conn)?,
            group: "AI".into(),
        },
        collections: Vec::new(),
        schedule: None,
        blocks: Vec::new(),
        filler: Filler::default(),
        deco: None,
        warnings: Vec::new(),
        notes: Vec::new(),
        estimated_content_hours: 0.0,
        estimated_unique_items: 0,
        modules: vec!["collections".into(), "schedule".into(), "playout".into()],
    };
    let mut slots = Vec::new();
    for seg in intent.segments.iter().filter(|s| s.has_content()) {
        let name = collection_for(conn, &mut plan, seg, &intent, options)?;
        slots.push(Slot {
            collection: name,
            start_time: seg.time.map(|t| hhmm(t.start_minute)),
            label: seg.time.map(|t| t.label.to_string()),
            days: if seg.days == 0 { EVERY_DAY } else { seg.days },
        });
    }
    for seg in intent.segments.iter().filter(|s| !s.has_content()) {
        plan.notes
            .push(format!("not understood as content: {:?}", seg.text));
    }
    plan.schedule = schedule(&mut plan, &intent, slots);
    clips::fill(conn, &mut plan)?;
    if intent.needs_clarification {
        plan.warnings.extend(intent.clarification_questions.clone());
    }
    settle(conn, &mut plan)?;
    Ok(plan)
}

/// The segment's collection: an existing one it names, else a smart query. Returns its
/// name in the plan (unique there).
fn collection_for(
    conn: &Connection,
    plan: &mut Plan,
    seg: &Segment,
    intent: &Intent,
    options: &Options,
) -> Result<String, DbError> {
    if seg.genres.is_empty() && seg.shows.is_empty() && !seg.collections.is_empty() {
        let name = &seg.collections[0];
        let existing: Option<i64> = conn
            .query_row("SELECT id FROM collections WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = existing {
            push(plan, name.clone(), None, Some(id));
            return Ok(name.clone());
        }
    }
    let mut libraries = seg.libraries.clone();
    libraries.extend(options.preferred_sources.iter().cloned());
    let filter = Filter {
        genres: seg.genres.clone(),
        shows: seg.shows.clone(),
        libraries,
        content_types: Vec::new(),
        year_min: seg.year_min.or(intent.year_min),
        year_max: seg.year_max.or(intent.year_max),
        excluded: options.excluded_sources.clone(),
    };
    let mut what: Vec<&str> = seg.shows.iter().map(String::as_str).collect();
    what.extend(seg.genres.iter().map(String::as_str));
    if what.is_empty() {
        what.extend(seg.libraries.iter().map(String::as_str));
    }
    let era = intent::era_label(filter.year_min, filter.year_max);
    let label = match era {
        Some(era) => format!("{era} {}", what.join(" & ")),
        None => what.join(" & "),
    };
    let mut name = format!("{}: {label}", plan.channel.name);
    let mut n = 2;
    while plan.collections.iter().any(|c| c.name == name) {
        name = format!("{}: {label} ({n})", plan.channel.name);
        n += 1;
    }
    if plan.collections.iter().any(|c| c.query == filter.query()) {
        // Two parts asking for the same content share one collection.
        let same = plan.collections.iter().find(|c| c.query == filter.query());
        if let Some(same) = same {
            return Ok(same.name.clone());
        }
    }
    push(plan, name.clone(), filter.query(), None);
    Ok(name)
}

fn push(plan: &mut Plan, name: String, query: Option<String>, existing_id: Option<i64>) {
    plan.collections.push(Collection {
        name,
        query,
        existing_id,
        items: 0,
        hours: 0.0,
    });
}

/// Timed slots sorted by start; an untimed part plays between them (else the first
/// collection every day has, else the first), so every hour of the day has content. A
/// part for some days only becomes a block (`split_blocks`).
fn schedule(plan: &mut Plan, intent: &Intent, slots: Vec<Slot>) -> Option<Schedule> {
    if slots.is_empty() {
        return None;
    }
    let (mut timed, untimed): (Vec<Slot>, Vec<Slot>) =
        slots.into_iter().partition(|s| s.start_time.is_some());
    let pick = |every_day: bool| {
        untimed
            .iter()
            .chain(timed.iter())
            .find(|s| !every_day || s.days == EVERY_DAY)
    };
    let rest = pick(true)
        .or(pick(false))
        .map(|s| s.collection.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    if timed.is_empty() {
        out = untimed;
    } else {
        timed.sort_by(|a, b| a.start_time.cmp(&b.start_time));
        let ends: BTreeSet<String> = timed.iter().filter_map(|s| s.start_time.clone()).collect();
        for seg in intent.segments.iter().filter(|s| s.has_content()) {
            if let Some(t) = seg.time {
                let end = hhmm((t.start_minute + t.minutes) % (24 * 60));
                if !ends.contains(&end)
                    && !out
                        .iter()
                        .any(|s: &Slot| s.start_time.as_ref() == Some(&end))
                {
                    out.push(Slot {
                        collection: rest.clone(),
                        start_time: Some(end),
                        label: Some(format!("after {}", t.label)),
                        days: EVERY_DAY,
                    });
                }
            }
        }
        out.extend(timed);
        // An untimed part for some days takes those whole days.
        out.extend(untimed.into_iter().filter(|s| s.days != EVERY_DAY));
        out.sort_by(|a, b| a.start_time.cmp(&b.start_time));
    }
    let slots = split_blocks(plan, out, &rest);
    Some(Schedule {
        name: plan.channel.name.clone(),
        playback_order: if intent.shows.is_empty() {
            "shuffled".into()
        } else {
            "season_episode".into()
        },
        slots,
    })
}

const DAY_MINUTES: u32 = 24 * 60;

/// Moves the slots for some days only into `plan.blocks`, each from its start to the next
/// start of the day (an untimed one: the whole day). What stays is the daily schedule;
/// when nothing does, `rest` plays every day.
fn split_blocks(plan: &mut Plan, slots: Vec<Slot>, rest: &str) -> Vec<Slot> {
    let minute = |s: &Slot| s.start_time.as_deref().and_then(BlockTime::parse);
    let starts: Vec<u32> = slots.iter().filter_map(minute).collect();
    let mut daily = Vec::new();
    for slot in slots {
        if slot.days == EVERY_DAY {
            daily.push(slot);
            continue;
        }
        let duration = match minute(&slot) {
            Some(start) => starts
                .iter()
                .map(|s| (s + DAY_MINUTES - start) % DAY_MINUTES)
                .filter(|d| *d > 0)
                .min()
                .unwrap_or(DAY_MINUTES),
            None => DAY_MINUTES,
        };
        let when = match &slot.label {
            Some(label) => format!("{} {label}", day_names(slot.days)),
            None => day_names(slot.days),
        };
        plan.blocks.push(Block {
            name: format!("{}: {when}", plan.channel.name),
            collection: slot.collection,
            start_time: slot.start_time.unwrap_or_else(|| "00:00".into()),
            duration_minutes: duration,
            // The intent's bit 0 = Sunday is the blocks API's 1 = Sunday: no conversion.
            days_of_week: slot.days,
            label: slot.label,
        });
    }
    if daily.is_empty() {
        daily.push(Slot {
            collection: rest.to_string(),
            start_time: None,
            label: None,
            days: EVERY_DAY,
        });
    }
    daily
}

/// "Saturday", "Saturday, Sunday": the days of a mask (bit 0 = Sunday).
fn day_names(days: u8) -> String {
    const NAMES: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let named: Vec<&str> = (0..7)
        .filter(|d| days & (1 << d) != 0)
        .map(|d| NAMES[d])
        .collect();
    named.join(", ")
}

/// Counts each collection and the whole, sets warnings and the status. Run after every
/// change to the plan.
pub fn settle(conn: &Connection, plan: &mut Plan) -> Result<(), DbError> {
    let mut conditions = Vec::new();
    for c in &mut plan.collections {
        let cond = match c.existing_id {
            Some(id) => Condition::in_collection(id),
            None => Condition::of_query(c.query.as_deref())?,
        };
        let Amount { items, hours } = cond.amount(conn)?;
        (c.items, c.hours) = (items, hours);
        conditions.push(cond);
    }
    if let Some(c) = &mut plan.filler.collection {
        let cond = match c.existing_id {
            Some(id) => Condition::in_collection(id),
            None => Condition::of_query(c.query.as_deref())?,
        };
        let Amount { items, hours } = cond.amount(conn)?;
        (c.items, c.hours) = (items, hours);
    }
    let refs: Vec<&Condition> = conditions.iter().collect();
    let total = Condition::any(&refs).amount(conn)?;
    plan.estimated_unique_items = total.items;
    plan.estimated_content_hours = round2(total.hours);
    plan.warnings.retain(|w| !w.starts_with("no media matches"));
    for c in plan.collections.iter().filter(|c| c.items == 0) {
        plan.warnings
            .push(format!("no media matches collection {:?}", c.name));
    }
    let ready = plan.schedule.is_some()
        && !plan.collections.is_empty()
        && plan.collections.iter().all(|c| c.items > 0);
    plan.is_ready = ready;
    if matches!(
        plan.status,
        Status::Draft | Status::Ready | Status::Approved
    ) {
        plan.status = if ready { Status::Ready } else { Status::Draft };
    }
    Ok(())
}

/// The lowest positive channel number no channel has.
pub fn lowest_free_number(conn: &Connection) -> Result<String, DbError> {
    let taken: BTreeSet<u64> = conn
        .prepare("SELECT number FROM channels")?
        .query_map([], |r| r.get::<_, String>(0))?
        .filter_map(|n| n.ok()?.parse().ok())
        .collect();
    let mut n = 1;
    while taken.contains(&n) {
        n += 1;
    }
    Ok(n.to_string())
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

/// What `PUT /plan/{id}` may change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Modifications {
    pub channel_name: Option<String>,
    pub channel_number: Option<String>,
    pub group: Option<String>,
    pub playback_order: Option<crate::kinds::PlaybackOrder>,
    /// Collections (by their name in the plan) to drop, with their slots.
    pub remove_collections: Vec<String>,
}

/// Applies `m`; an approved plan goes back to ready (it must be approved again).
pub fn modify(conn: &Connection, plan: &mut Plan, m: &Modifications) -> Result<(), DbError> {
    if let Some(name) = &m.channel_name {
        plan.channel.name = name.clone();
        if let Some(s) = &mut plan.schedule {
            s.name = name.clone();
        }
    }
    if let Some(number) = &m.channel_number {
        plan.channel.number = number.clone();
    }
    if let Some(group) = &m.group {
        plan.channel.group = group.clone();
    }
    if let (Some(order), Some(s)) = (m.playback_order, &mut plan.schedule) {
        s.playback_order = order.as_str().to_string();
    }
    if !m.remove_collections.is_empty() {
        plan.collections
            .retain(|c| !m.remove_collections.contains(&c.name));
        plan.blocks
            .retain(|b| !m.remove_collections.contains(&b.collection));
        if let Some(s) = &mut plan.schedule {
            s.slots
                .retain(|slot| !m.remove_collections.contains(&slot.collection));
            if s.slots.is_empty() {
                plan.schedule = None;
            }
        }
    }
    if plan.status == Status::Approved {
        plan.status = Status::Ready;
    }
    settle(conn, plan)
}

/// Merges what an LLM suggested: a channel name, existing collections by name (one that
/// does not exist is a warning, never an error later), notes. The offline checks run again.
pub fn refine(
    conn: &Connection,
    plan: &mut Plan,
    channel_name: &Option<String>,
    collections: &[String],
    notes: Vec<String>,
) -> Result<(), DbError> {
    if let Some(name) = channel_name.as_deref().map(str::trim) {
        if !name.is_empty() && name.chars().count() <= 100 {
            plan.channel.name = name.to_string();
            if let Some(s) = &mut plan.schedule {
                s.name = name.to_string();
            }
        }
    }
    for name in collections.iter().take(8) {
        let id: Option<i64> = conn
            .query_row("SELECT id FROM collections WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        match id {
            None => plan.warnings.push(format!(
                "the LLM named collection {name:?}, which does not exist"
            )),
            Some(id) if plan.collections.iter().any(|c| c.existing_id == Some(id)) => {}
            // Nothing understood offline: the model's pick becomes the content.
            Some(id) if plan.schedule.is_none() => {
                push(plan, name.clone(), None, Some(id));
                plan.schedule = Some(Schedule {
                    name: plan.channel.name.clone(),
                    playback_order: "shuffled".into(),
                    slots: vec![Slot {
                        collection: name.clone(),
                        start_time: None,
                        label: None,
                        days: EVERY_DAY,
                    }],
                });
            }
            Some(_) => plan
                .notes
                .push(format!("the LLM suggests collection {name:?} as well")),
        }
    }
    plan.notes.extend(
        notes
            .into_iter()
            .take(8)
            .map(|n| n.chars().take(300).collect()),
    );
    settle(conn, plan)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An in-memory library: (title, show, genre, year, minutes).
    pub(crate) fn library() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        conn.execute_batch(include_str!("../../schema.sql"))
            .unwrap();
        let rows: &[(&str, Option<&str>, &str, i64, i64)] = &[
            ("Toon 1", Some("Toon Town"), "Animation", 1994, 22),
            ("Toon 2", Some("Toon Town"), "Animation, Family", 1995, 22),
            ("Laugh 1", Some("Laugh Street"), "Comedy", 1996, 24),
            ("Old Film", None, "Drama", 1950, 90),
        ];
        for (title, show, genres, year, minutes) in rows {
            conn.execute(
                "INSERT INTO media_items (url, title, duration_ms, media_type, year, genres,
                     show_title, added_at_ms, created_at_ms, updated_at_ms)
                 VALUES (?1, ?1, ?2, 'episode', ?3, ?4, ?5, 0, 0, 0)",
                rusqlite::params![title, minutes * 60_000, year, genres, show],
            )
            .unwrap();
        }
        conn
    }

    fn summary(plan: &Plan) -> String {
        let mut out = format!(
            "{} #{} {} items={} hours={}\n",
            plan.channel.name,
            plan.channel.number,
            plan.status.as_str(),
            plan.estimated_unique_items,
            plan.estimated_content_hours
        );
        for c in &plan.collections {
            out += &format!("  {} <{:?}> {}\n", c.name, c.query, c.items);
        }
        for s in plan.schedule.iter().flat_map(|s| &s.slots) {
            out += &format!("  {:?} {} days={}\n", s.start_time, s.collection, s.days);
        }
        for b in &plan.blocks {
            out += &format!(
                "  block {:?} {}+{}min days={} {}\n",
                b.name, b.start_time, b.duration_minutes, b.days_of_week, b.collection
            );
        }
        if let Some(d) = &plan.deco {
            out += &format!(
                "  deco {:?} {} {} from {} clips={:?}\n",
                d.group, d.breaks, d.deco_type, d.source, d.media_item_ids
            );
        }
        if let Some(c) = &plan.filler.collection {
            out += &format!("  filler {} <{:?}> {}\n", c.name, c.query, c.items);
        }
        for w in &plan.warnings {
            out += &format!("  ! {w}\n");
        }
        out
    }

    /// Two five-second bumpers in a folder named `bumpers`.
    pub(crate) fn add_bumpers(conn: &Connection) {
        for n in 1..=2 {
            conn.execute(
                "INSERT INTO media_items (url, title, duration_ms, media_type,
                     added_at_ms, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, 5000, 'other', 0, 0, 0)",
                rusqlite::params![format!("/media/Bumpers/b{n}.mp4"), format!("Bumper {n}")],
            )
            .unwrap();
        }
    }

    #[test]
    fn a_bumpers_folder_is_the_breaks_and_the_filler() {
        let conn = library();
        add_bumpers(&conn);
        let plan = build(&conn, "Toon Town", &Options::default(), "p".into()).unwrap();
        expect_test::expect![[r#"
            Toon Town #1 ready items=2 hours=0.73
              Toon Town: Toon Town <Some("show:\"Toon Town\"")> 2
              None Toon Town: Toon Town days=127
              deco "Toon Town: breaks" between_programmes bumper from folder "/media/Bumpers" clips=[5, 6]
              filler Toon Town: breaks <Some("folder:\"/media/Bumpers\"")> 2
        "#]]
        .assert_eq(&summary(&plan));
        assert!(plan.modules.contains(&"deco".to_string()));
    }

    #[test]
    fn golden_plans() {
        let conn = library();
        let build = |r: &str| build(&conn, r, &Options::default(), "p".into()).unwrap();
        let a = build("90s cartoons on Saturday mornings, sitcoms at night");
        assert_eq!(
            a,
            build("90s cartoons on Saturday mornings, sitcoms at night")
        );
        expect_test::expect![[r#"
            90s Animation & Comedy #1 ready items=3 hours=1.13
              90s Animation & Comedy: 90s Animation <Some("genre:\"Animation\" year:1990-1999")> 2
              90s Animation & Comedy: 90s Comedy <Some("genre:\"Comedy\" year:1990-1999")> 1
              Some("02:00") 90s Animation & Comedy: 90s Comedy days=127
              Some("12:00") 90s Animation & Comedy: 90s Comedy days=127
              Some("20:00") 90s Animation & Comedy: 90s Comedy days=127
              block "90s Animation & Comedy: Saturday morning" 06:00+360min days=64 90s Animation & Comedy: 90s Animation
              ! no short clips in the library (a collection or folder named bumpers, promos, commercials, station ids or filler, items under 5 minutes): no breaks or filler
        "#]]
        .assert_eq(&summary(&a));
        expect_test::expect![[r#"
            Toon Town #1 ready items=2 hours=0.73
              Toon Town: Toon Town <Some("show:\"Toon Town\"")> 2
              None Toon Town: Toon Town days=127
              ! no short clips in the library (a collection or folder named bumpers, promos, commercials, station ids or filler, items under 5 minutes): no breaks or filler
        "#]]
        .assert_eq(&summary(&build("Toon Town for the kids")));
        expect_test::expect![[r#"
            Western #1 draft items=0 hours=0
              Western: Western <Some("genre:\"Western\"")> 0
              None Western: Western days=127
              ! no short clips in the library (a collection or folder named bumpers, promos, commercials, station ids or filler, items under 5 minutes): no breaks or filler
              ! no media matches collection "Western: Western"
        "#]]
        .assert_eq(&summary(&build("westerns")));
    }

    #[test]
    fn an_executed_plan_is_a_channel_with_a_timeline() {
        let mut conn = library();
        let plan = build(
            &conn,
            "Toon Town and sitcoms",
            &Options::default(),
            "p".into(),
        )
        .unwrap();
        let tx = conn.transaction().unwrap();
        let clock = crate::scheduler::BuildClock {
            now_ms: 1_767_225_600_000,
            horizon_ms: 86_400_000,
            tz: jiff::tz::TimeZone::UTC,
        };
        let (created, changes) = super::super::execute::execute(&tx, &plan, &clock, 7).unwrap();
        assert_eq!(created.channel_number, "1");
        assert_eq!(created.collections_created, plan.collections.len());
        assert!(created.playout_items > 10, "{created:?}");
        assert!(changes.content);
        // A second run of the same plan takes the next number and fresh collection names.
        let (again, _) = super::super::execute::execute(&tx, &plan, &clock, 7).unwrap();
        assert_eq!(again.channel_number, "2");
        let names: i64 = tx
            .query_row("SELECT count(DISTINCT name) FROM collections", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(names as usize, 2 * plan.collections.len());
    }

    #[test]
    fn an_executed_plan_has_its_blocks_breaks_and_filler() {
        let mut conn = library();
        add_bumpers(&conn);
        let request = "90s cartoons on Saturday mornings, sitcoms at night";
        let plan = build(&conn, request, &Options::default(), "p".into()).unwrap();
        let tx = conn.transaction().unwrap();
        let clock = crate::scheduler::BuildClock {
            now_ms: 1_767_225_600_000,
            horizon_ms: 86_400_000,
            tz: jiff::tz::TimeZone::UTC,
        };
        let (created, _) = super::super::execute::execute(&tx, &plan, &clock, 7).unwrap();
        assert_eq!((created.blocks_created, created.deco_clips), (1, 2));
        let block: (String, i64, i64) = tx
            .query_row(
                "SELECT b.start_time, b.duration_minutes, pt.days_of_week FROM blocks b
                 JOIN template_items ti ON ti.block_id = b.id
                 JOIN playout_templates pt ON pt.template_id = ti.template_id
                 JOIN playouts p ON p.id = pt.playout_id WHERE p.channel_id = ?1",
                [created.channel_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(block, ("06:00".into(), 360, 64), "Saturday mornings only");
        let deco: (String, String, i64) = tx
            .query_row(
                "SELECT cd.breaks, cd.default_filler_mode, count(d.id) FROM channel_deco cd
                 JOIN deco d ON d.group_id = cd.deco_group_id WHERE cd.channel_id = ?1",
                [created.channel_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(deco, ("between_programmes".into(), "override".into(), 2));
        // Again: fresh names for the template and the deco group, nothing shared.
        let (again, _) = super::super::execute::execute(&tx, &plan, &clock, 7).unwrap();
        assert_eq!((again.blocks_created, again.deco_clips), (1, 2));
        let n: (i64, i64) = tx
            .query_row(
                "SELECT (SELECT count(DISTINCT name) FROM templates),
                        (SELECT count(DISTINCT name) FROM deco_groups)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(n, (2, 2));
    }
}
