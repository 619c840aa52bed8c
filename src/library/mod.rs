//! The media library: local sources (`store`), Plex/Jellyfin/Emby servers (`remote`), the background scanner (`scanner`, `walk`,
//! `probe`), metadata from file names (`names`) and Kodi NFO sidecars (`nfo`), and smart
//! collections (`collections`). It must not know HTTP: the `api` handlers call in here.

pub mod collections;
pub mod credentials;
pub mod names;
pub mod nfo;
pub mod probe;
pub mod remote;
pub mod scanner;
pub mod store;
pub mod url_media;
pub mod validate;
pub mod walk;
