//! The streaming engine: one FFmpeg per tuned channel, spliced into one continuous MPEG-TS,
//! fanned out to every viewer from a zero-copy ring buffer.
//!
//! - `ts`: packet views, PAT/PMT, timestamps; `ticks`: the 90 kHz and 27 MHz clocks as
//!   types; `splicer`: items joined into one stream.
//! - `ring`: the zero-copy fan-out; `hls`: segments cut from it in memory.
//! - `ffmpeg`: the encoder, the command builder, child processes and the start-up probe;
//!   `pool`: the tuners;
//!   `breaker`: failures, backoff and the circuit breaker; `restart`: the restart gate
//!   (per-channel cooldown, all-channel rate).
//! - `pacing`: the stream_throttler modes (how far ahead a feeder may run).
//! - `longrun`: when a day-long FFmpeg run is handed over to a fresh one.
//! - `channel`: one tuned channel and its feeder; `manager`: tunes, idle stop, shutdown,
//!   stats; `http`: the entry points the routers call; `raw`: a library file as it is
//!   (`?raw=1`, with `Range`).
//!
//! **Architecture invariant:** `stream` knows nothing of SQL; it is handed a playout cursor.

pub mod breaker;
pub mod channel;
pub mod ffmpeg;
pub mod hls;
pub mod http;
pub mod longrun;
pub mod manager;
pub mod pacing;
pub mod pool;
pub mod raw;
pub mod restart;
pub mod ring;
pub mod splicer;
pub mod ticks;
pub mod ts;

pub use manager::Manager;
