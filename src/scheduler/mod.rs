//! The scheduler keeps every channel's timeline built: it loads schedules and collections
//! from SQLite, runs the pure `playout` builder, persists the items for the horizon, and
//! extends them in the background. Readers (the stream feeder, the guide) go through `cursor`.

pub mod cursor;
