//! The scheduler keeps every channel's timeline built: it loads schedules and collections
//! from SQLite, runs the pure `playout` builder, persists the items for the horizon, and
//! extends them in the background. Readers (the stream feeder, the guide) go through `cursor`.

pub mod cursor;

use std::sync::Arc;

use crate::app::App;

/// The library changed (a scan added, changed or lost media): rebuild the affected
/// playouts from now on, keeping the item playing now.
pub async fn library_changed(_app: &Arc<App>) {}
