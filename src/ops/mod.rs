//! The operations every writer calls: the REST API today, and the web UI, the planner, the
//! agent and the importers next, so none of them fakes HTTP or copies SQL. One file per
//! resource. An operation runs inside the caller's write transaction, takes typed input
//! parsed once at the edge, and returns domain values with the `Changes` it made (applied
//! by the caller through `App::apply`, after the commit); a refusal is the resource's error
//! enum, which `http::error` maps to a status in one place.
//!
//! It must not know HTTP or JSON.

pub mod channels;
pub mod collections;
pub mod filler;
pub mod ids;
pub mod libraries;
pub mod media;
pub mod playlists;
pub mod playouts;
pub mod profiles;
pub mod readers;
pub mod resolutions;
pub mod schedule_items;
pub mod schedules;
