//! The one integration-test crate: each module covers an area, all against the real binary.

mod consolidate;
mod lan_tuners;
mod performance;
mod support;

mod audit;
mod blocks;
mod copy;
mod copy_faults;
mod copy_matrix;
mod follow;
mod hdhr;
mod history;
mod hls_cache;
mod iptv;
mod library;
mod m3u;
mod openapi;
mod ops;
mod outputs_fixture;
mod platform;
mod player;
mod playout;
mod prewarm;
mod remote;
mod remote_fake;
mod scripted;
mod stream;
mod stream_fixture;
mod validation;
mod watermarks;
mod web_ui;
mod yaml_channels;
