//! The media library: local sources, the ffprobe scanner, metadata from file names and NFO
//! sidecars, collections and playlists.
