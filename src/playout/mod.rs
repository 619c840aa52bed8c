//! Schedules become a timeline: pure, deterministic functions from (schedule, collections,
//! filler, the previous state, a time range) to playout items. Nothing here reads a clock,
//! a file or the database: the scheduler hands everything in, so a rebuild with the stored
//! seed and anchor yields the same items, and every mode is unit-tested alone.
//!
//! - `model`: the inputs (media, contents, slots, filler presets) and the output `Item`.
//! - `order`: playback orders applied (sorts, seeded shuffles) and the per-content cursors.
//! - `clock`: fixed start times and pad boundaries in the configured time zone (DST-aware).
//! - `blocks`: time-of-day blocks placed by templates, and when each airs.
//! - `deco`: breaks (assets by weight, windows) and the dead-air filler.
//! - `build`: the builder itself.
//! - `script`: scripted builds, one verb at a time on the builder's primitives.
//!
//! **Architecture invariant:** `playout` does not depend on tokio, `db` or `http`; of the
//! crate it uses only `kinds` (the stored enums, themselves dependency-free).

pub mod blocks;
pub mod build;
pub mod clock;
pub mod deco;
pub mod model;
pub mod order;
pub mod script;

pub use build::{build, Build};
pub use model::*;
pub use order::Anchor;

#[cfg(test)]
mod tests;
