//! exstreamtv: a self-hosted live-TV server in one static binary.
//!
//! The binary (`main.rs`) is a thin CLI over this library, so integration tests and
//! benches can reach the same code. See ARCHITECTURE.md for the module map.

pub mod agent;
pub mod ai;
pub mod api;
pub mod app;
pub mod background;
pub mod board;
pub mod changes;
pub mod child;
pub mod config;
pub mod db;
pub mod doctor;
pub mod firstrun;
pub mod hash;
pub mod hdhr;
pub mod http;
pub mod iptv;
pub mod kinds;
pub mod library;
pub mod logging;
pub mod metrics;
pub mod migration;
pub mod notify;
pub mod ops;
pub mod playout;
pub mod residency;
pub mod scheduler;
pub mod serve;
pub mod settings;
pub mod stream;
pub mod system;
pub mod time;
pub mod tools;
pub mod web;

/// The crate version, as `exstreamtv --version` and `/version` print it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
