//! Schedules become a timeline: pure, deterministic functions from (schedule, collections,
//! previous state, time range) to playout items.
//!
//! **Architecture invariant:** `playout` does not depend on tokio, `db` or `http`.
