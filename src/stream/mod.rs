//! The streaming engine: one FFmpeg per tuned channel, spliced into one continuous MPEG-TS,
//! fanned out to every viewer from a zero-copy ring buffer.
//!
//! **Architecture invariant:** `stream` knows nothing of SQL; it is handed a playout cursor.

pub mod ffmpeg;
pub mod http;
pub mod ring;
pub mod splicer;
pub mod ts;
