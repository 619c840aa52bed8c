//! The ToolRegistry: the fixed set of things the troubleshooting agent may do, each with its
//! guard (`can_execute_*`). A tool name that is not here is refused; a restart names exactly
//! one running channel and goes through the restart gate
//! (`stream::Manager::restart_through_gate`), never around it. Read-only tools (status,
//! logs, now playing) need no guard. Every executed action writes an audit line.

use std::fmt;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use smol_str::SmolStr;

use crate::app::App;
use crate::changes::{Changes, Rebuild};
use crate::db::DbError;
use crate::logging::AUDIT_TARGET;
use crate::ops::ids::{ChannelId, PlayoutId};
use crate::scheduler::cursor;
use crate::stream::pool::MAX_TUNERS;
use crate::stream::restart::{Admission, ChannelRestarts, Reason, MAX_PER_WINDOW};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tool {
    Status,
    Logs,
    NowPlaying,
    RestartChannel,
    SkipItem,
    MarkBroken,
    RescanLibrary,
    RebuildPlayout,
}

const TOOLS: &[(&str, Tool)] = &[
    ("status", Tool::Status),
    ("logs", Tool::Logs),
    ("now_playing", Tool::NowPlaying),
    ("restart_channel", Tool::RestartChannel),
    ("skip_item", Tool::SkipItem),
    ("mark_broken", Tool::MarkBroken),
    ("rescan_library", Tool::RescanLibrary),
    ("rebuild_playout", Tool::RebuildPlayout),
];

impl Tool {
    /// The tool called `name`; `None` for any other name (refused).
    pub fn from_name(name: &str) -> Option<Tool> {
        TOOLS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    /// Every tool's name, as calls name them.
    pub fn names() -> impl Iterator<Item = &'static str> {
        TOOLS.iter().map(|(n, _)| *n)
    }

    pub fn as_str(self) -> &'static str {
        TOOLS
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn is_read_only(self) -> bool {
        matches!(self, Tool::Status | Tool::Logs | Tool::NowPlaying)
    }
}

/// One proposed tool call and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub tool: Tool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<SmolStr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<i64>,
    /// The playout item a skip is meant for (`playout_items.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playout_item_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playout_id: Option<i64>,
}

impl Call {
    pub fn new(tool: Tool) -> Call {
        Call {
            tool,
            channel: None,
            item_id: None,
            playout_item_id: None,
            library_id: None,
            playout_id: None,
        }
    }

    pub fn on_channel(mut self, channel: &str) -> Call {
        self.channel = Some(SmolStr::from(channel));
        self
    }

    pub fn with_item(mut self, item_id: i64) -> Call {
        self.item_id = Some(item_id);
        self
    }

    pub fn at_playout_item(mut self, playout_item_id: i64) -> Call {
        self.playout_item_id = Some(playout_item_id);
        self
    }
}

/// Why a call may not run.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    UnknownTool(String),
    Missing(&'static str),
    /// A restart of several channels (or of "all"): one channel per call, through the gate.
    ManyChannels,
    NoSuchChannel(SmolStr),
    NotRunning(SmolStr),
    NotPlayingNow(i64),
    NoSuchItem(i64),
    NotALocalFile(i64),
    AlreadyBroken(i64),
    NoSuchLibrary(i64),
    Busy(String),
    NoSuchPlayout(i64),
    NoRestartBudget,
    Deferred(Reason),
    Db(String),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::UnknownTool(n) => write!(f, "there is no tool called {n:?}"),
            Refused::Missing(arg) => write!(f, "the call needs {arg}"),
            Refused::ManyChannels => {
                f.write_str("a restart names exactly one channel and goes through the restart gate")
            }
            Refused::NoSuchChannel(n) => write!(f, "there is no channel {n}"),
            Refused::NotRunning(n) => write!(f, "channel {n} is not running"),
            Refused::NotPlayingNow(i) => write!(f, "playout item {i} is not what plays now"),
            Refused::NoSuchItem(i) => write!(f, "there is no media item {i}"),
            Refused::NotALocalFile(i) => write!(f, "media item {i} is not a local file"),
            Refused::AlreadyBroken(i) => write!(f, "media item {i} is marked broken already"),
            Refused::NoSuchLibrary(i) => write!(f, "there is no library {i}"),
            Refused::Busy(why) => f.write_str(why),
            Refused::NoSuchPlayout(i) => write!(f, "there is no playout {i}"),
            Refused::NoRestartBudget => write!(
                f,
                "the restart gate has no budget left this minute ({MAX_PER_WINDOW} restarts)"
            ),
            Refused::Deferred(Reason::Cooldown) => f.write_str(
                "the restart gate deferred it: the channel was restarted less than a minute ago",
            ),
            Refused::Deferred(Reason::Storm) => {
                f.write_str("the restart gate deferred it: too many restarts across all channels")
            }
            Refused::Db(e) => write!(f, "database: {e}"),
        }
    }
}

impl From<DbError> for Refused {
    fn from(e: DbError) -> Self {
        Refused::Db(e.to_string())
    }
}

/// Words that name more than one channel where a restart wants one.
const MANY: &[&str] = &["all", "*", "every", "each", "any"];

/// The registry's own state: the agent's half of the restart gate per channel (its
/// cooldown), bounded by the tuners since only a running channel is restarted.
#[derive(Default)]
pub struct ToolRegistry {
    cooldowns: Mutex<heapless::Vec<(ChannelId, ChannelRestarts), MAX_TUNERS>>,
}

impl ToolRegistry {
    /// A call by tool name and JSON arguments (from a request or a model): an unknown name,
    /// or arguments that are not the call's, are refused here.
    pub fn parse(name: &str, args: &Value) -> Result<Call, Refused> {
        Tool::from_name(name).ok_or_else(|| Refused::UnknownTool(name.to_string()))?;
        let mut doc = args.clone();
        if let Value::Object(map) = &mut doc {
            map.insert("tool".into(), json!(name));
        } else {
            doc = json!({ "tool": name });
        }
        serde_json::from_value(doc)
            .map_err(|_| Refused::Missing("arguments of the documented types"))
    }

    /// The call's guard: `Ok` when it may run now.
    pub async fn can_execute(&self, app: &App, call: &Call) -> Result<(), Refused> {
        match call.tool {
            Tool::Status | Tool::Logs | Tool::NowPlaying => Ok(()),
            Tool::RestartChannel => self.can_execute_restart(app, call).await.map(|_| ()),
            Tool::SkipItem => can_execute_skip(app, call).await.map(|_| ()),
            Tool::MarkBroken => can_execute_mark_broken(app, call).await.map(|_| ()),
            Tool::RescanLibrary => can_execute_rescan(app, call).await.map(|_| ()),
            Tool::RebuildPlayout => can_execute_rebuild(app, call).await,
        }
    }

    /// One running channel, named by its number, and budget left at the gate.
    pub async fn can_execute_restart(&self, app: &App, call: &Call) -> Result<ChannelId, Refused> {
        let number = call.channel.as_ref().ok_or(Refused::Missing("channel"))?;
        if MANY.contains(&number.to_ascii_lowercase().as_str()) || number.contains(',') {
            return Err(Refused::ManyChannels);
        }
        let info = cursor::channel_by_number(&app.db, number)
            .await?
            .ok_or_else(|| Refused::NoSuchChannel(number.clone()))?;
        if app.streams.running(info.id).is_none() {
            return Err(Refused::NotRunning(number.clone()));
        }
        if app.streams.restart_rate_per_minute() >= MAX_PER_WINDOW {
            return Err(Refused::NoRestartBudget);
        }
        Ok(info.id)
    }

    /// Runs `call` after its guard; `Ok` is what it did, as a sentence or a document.
    pub async fn execute(&self, app: &std::sync::Arc<App>, call: &Call) -> Result<Value, Refused> {
        let done = match call.tool {
            Tool::Status => return Ok(json!({ "channels": app.streams.snapshot().len() })),
            Tool::NowPlaying => return Ok(now_playing(app)),
            Tool::Logs => {
                return Ok(json!({ "errors": super::envelope::gather(app, None).recent_errors }))
            }
            Tool::RestartChannel => self.restart(app, call).await?,
            Tool::SkipItem => skip(app, call).await?,
            Tool::MarkBroken => mark_broken(app, call).await?,
            Tool::RescanLibrary => {
                let id = can_execute_rescan(app, call).await?;
                app.scanner
                    .request(id)
                    .map_err(|e| Refused::Busy(e.to_string()))?;
                format!("library {id} rescan requested")
            }
            Tool::RebuildPlayout => {
                can_execute_rebuild(app, call).await?;
                let id = call.playout_id.unwrap_or_default();
                app.apply(Changes::rebuilding(Rebuild::of([PlayoutId(id)]), "agent"))
                    .await;
                format!("playout {id} rebuilt from now")
            }
        };
        tracing::info!(
            target: AUDIT_TARGET,
            actor = "agent",
            tool = call.tool.as_str(),
            args = %serde_json::to_string(call).unwrap_or_default(),
            outcome = %done,
            "troubleshooting agent executed a fix"
        );
        Ok(json!(done))
    }

    async fn restart(&self, app: &App, call: &Call) -> Result<String, Refused> {
        let id = self.can_execute_restart(app, call).await?;
        let number = call.channel.clone().unwrap_or_default();
        let mut cooldowns = self.cooldowns.lock().unwrap_or_else(|p| p.into_inner());
        // Channels no longer running give their slot back (the set stays ≤ the tuners).
        cooldowns.retain(|(c, _)| *c == id || app.streams.running(*c).is_some());
        if !cooldowns.iter().any(|(c, _)| *c == id) {
            let _ = cooldowns.push((id, ChannelRestarts::default()));
        }
        let slot = cooldowns
            .iter_mut()
            .find(|(c, _)| *c == id)
            .map(|(_, r)| r)
            .ok_or(Refused::NotRunning(number.clone()))?;
        match app.streams.restart_through_gate(id, slot) {
            None => Err(Refused::NotRunning(number)),
            Some(Admission::Defer { reason, .. }) => Err(Refused::Deferred(reason)),
            Some(Admission::Now) => Ok(format!(
                "channel {number}: FFmpeg restarted through the restart gate"
            )),
        }
    }
}

fn now_playing(app: &App) -> Value {
    let list: Vec<Value> = app
        .streams
        .snapshot()
        .into_iter()
        .map(|s| json!({"channel": s.number, "item_id": s.current_item_id, "title": s.current_title, "viewers": s.viewers}))
        .collect();
    json!({ "now_playing": list })
}

/// The channel's active playout, the playout item (`playout_items.id`) it plays now, and
/// whether it mirrors another channel.
async fn playing(app: &App, number: &str) -> Result<(i64, Option<i64>, bool), Refused> {
    let info = cursor::channel_by_number(&app.db, number)
        .await?
        .ok_or_else(|| Refused::NoSuchChannel(number.into()))?;
    let now = crate::time::now_ms();
    let found = app
        .db
        .read(move |conn| {
            use rusqlite::OptionalExtension;
            let playout: Option<i64> = conn
                .query_row(
                    "SELECT id FROM playouts WHERE channel_id = ?1 AND is_active = 1 ORDER BY id LIMIT 1",
                    [info.id.0],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(playout) = playout else {
                return Ok(None);
            };
            // A mirror plays its source's timeline: skipping is done on the source.
            if !matches!(
                crate::scheduler::mirror::source_of(conn, info.id.0)?,
                crate::scheduler::mirror::Source::Generated
            ) {
                return Ok(Some((playout, None, true)));
            }
            let item: Option<i64> = conn
                .query_row(
                    "SELECT id FROM playout_items
                     WHERE playout_id = ?1 AND start_ms <= ?2 AND finish_ms > ?2",
                    rusqlite::params![playout, now],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(Some((playout, item, false)))
        })
        .await?;
    found.ok_or(Refused::NoSuchPlayout(0))
}

/// The channel's playout, when the item named (if any) is what plays now: skipping moves
/// whatever plays, so a stale proposal must not skip the next thing.
pub async fn can_execute_skip(app: &App, call: &Call) -> Result<i64, Refused> {
    let number = call.channel.as_ref().ok_or(Refused::Missing("channel"))?;
    let (playout, current, mirror) = playing(app, number).await?;
    if mirror {
        return Err(Refused::Busy(format!(
            "channel {number} mirrors another channel: skip on the source"
        )));
    }
    match call.playout_item_id {
        Some(want) if current != Some(want) => Err(Refused::NotPlayingNow(want)),
        _ => Ok(playout),
    }
}

async fn skip(app: &std::sync::Arc<App>, call: &Call) -> Result<String, Refused> {
    let playout = can_execute_skip(app, call).await?;
    Ok(match crate::scheduler::skip(app, playout).await? {
        Some(s) => format!("skipped {:?} on playout {playout}", s.title),
        None => format!("nothing plays on playout {playout}"),
    })
}

/// A local library file not marked invalid yet: returns its path.
pub async fn can_execute_mark_broken(
    app: &App,
    call: &Call,
) -> Result<std::path::PathBuf, Refused> {
    let id = call.item_id.ok_or(Refused::Missing("item_id"))?;
    let row = app
        .db
        .read(move |conn| {
            use rusqlite::OptionalExtension;
            Ok(conn
                .query_row(
                    "SELECT m.path_bytes, v.valid = 0 FROM media_items m
                     LEFT JOIN media_validations v ON v.media_item_id = m.id WHERE m.id = ?1",
                    [id],
                    |r| {
                        Ok((
                            r.get::<_, Option<Vec<u8>>>(0)?,
                            r.get::<_, Option<bool>>(1)?,
                        ))
                    },
                )
                .optional()?)
        })
        .await?;
    let (path, invalid) = row.ok_or(Refused::NoSuchItem(id))?;
    let path = path.ok_or(Refused::NotALocalFile(id))?;
    if invalid == Some(true) {
        return Err(Refused::AlreadyBroken(id));
    }
    use std::os::unix::ffi::OsStringExt;
    Ok(std::path::PathBuf::from(std::ffi::OsString::from_vec(path)))
}

/// Marks the item invalid the way a failed validation does (`media_validations`), so its
/// timelines drop it at the rebuild that follows.
async fn mark_broken(app: &std::sync::Arc<App>, call: &Call) -> Result<String, Refused> {
    use crate::library::validate::{self, Verdict};
    let path = can_execute_mark_broken(app, call).await?;
    let id = call.item_id.unwrap_or_default();
    let size = std::fs::metadata(&path).ok().map(|m| m.len() as i64);
    let verdict = Verdict {
        reason: Some("marked broken by the troubleshooting agent (it kept failing)".into()),
    };
    let now = crate::time::now_ms();
    let newly = app
        .db
        .write(move |conn| validate::store(conn, id, &verdict, size, now))
        .await?;
    if newly {
        app.apply(Changes::all("agent marked an item broken")).await;
    }
    Ok(format!(
        "media item {id} marked broken; its timelines drop it"
    ))
}

pub async fn can_execute_rescan(app: &App, call: &Call) -> Result<i64, Refused> {
    let id = call.library_id.ok_or(Refused::Missing("library_id"))?;
    let exists = app
        .db
        .read(move |conn| crate::db::exists(conn, "libraries", id))
        .await?;
    if !exists {
        return Err(Refused::NoSuchLibrary(id));
    }
    if app.scanner.is_scanning(id) {
        return Err(Refused::Busy(format!("library {id} is being scanned")));
    }
    Ok(id)
}

pub async fn can_execute_rebuild(app: &App, call: &Call) -> Result<(), Refused> {
    let id = call.playout_id.ok_or(Refused::Missing("playout_id"))?;
    let exists = app
        .db
        .read(move |conn| crate::db::exists(conn, "playouts", id))
        .await?;
    if exists {
        Ok(())
    } else {
        Err(Refused::NoSuchPlayout(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tools_and_wrong_arguments_are_refused() {
        assert_eq!(
            ToolRegistry::parse("format_disk", &json!({})),
            Err(Refused::UnknownTool("format_disk".into()))
        );
        assert!(ToolRegistry::parse("restart_channel", &json!({"channel": 5})).is_err());
        let call = ToolRegistry::parse("mark_broken", &json!({"item_id": 4})).unwrap();
        assert_eq!(call, Call::new(Tool::MarkBroken).with_item(4));
        for (name, tool) in TOOLS {
            assert_eq!(Tool::from_name(name), Some(*tool));
            assert_eq!(tool.as_str(), *name);
        }
    }
}
