-- exstreamtv schema: the single source of truth for the database layout.
-- A fresh database runs this whole file; an older one runs the steps in src/db/migrate.rs.
-- Conventions: times are INTEGER milliseconds since the Unix epoch, UTC (*_ms);
-- booleans are INTEGER 0/1; JSON blobs are TEXT; ids are INTEGER PRIMARY KEY.

-- ---------------------------------------------------------------- settings (api::settings)
-- One row per setting, value as JSON. Unknown keys are kept so a downgrade loses nothing.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- ---------------------------------------------------------------- output profiles
CREATE TABLE resolutions (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    width     INTEGER NOT NULL CHECK (width > 0),
    height    INTEGER NOT NULL CHECK (height > 0),
    is_custom INTEGER NOT NULL DEFAULT 1
);
INSERT INTO resolutions (id, name, width, height, is_custom) VALUES
    (1, '720x480', 720, 480, 0),
    (2, '1280x720', 1280, 720, 0),
    (3, '1920x1080', 1920, 1080, 0),
    (4, '3840x2160', 3840, 2160, 0);

CREATE TABLE ffmpeg_profiles (
    id                    INTEGER PRIMARY KEY,
    name                  TEXT NOT NULL UNIQUE,
    resolution_id         INTEGER NOT NULL REFERENCES resolutions(id),
    thread_count          INTEGER NOT NULL DEFAULT 0,
    hardware_acceleration TEXT NOT NULL DEFAULT 'auto',
    video_codec           TEXT NOT NULL DEFAULT 'libx264',
    video_bitrate         TEXT NOT NULL DEFAULT '4000k',
    video_buffer_size     TEXT NOT NULL DEFAULT '8000k',
    framerate             INTEGER NOT NULL DEFAULT 30,
    quality_preset        TEXT NOT NULL DEFAULT 'medium',
    quality_crf           INTEGER,
    audio_codec           TEXT NOT NULL DEFAULT 'aac',
    audio_bitrate         TEXT NOT NULL DEFAULT '128k',
    audio_channels        INTEGER NOT NULL DEFAULT 2,
    audio_sample_rate     INTEGER NOT NULL DEFAULT 48000,
    normalize_audio       INTEGER NOT NULL DEFAULT 1,
    audio_loudness_target REAL NOT NULL DEFAULT -24,
    deinterlace           INTEGER NOT NULL DEFAULT 0,
    scaling_mode          TEXT NOT NULL DEFAULT 'pad',
    pad_color             TEXT,
    is_default            INTEGER NOT NULL DEFAULT 0,
    is_enabled            INTEGER NOT NULL DEFAULT 1,
    created_at_ms         INTEGER NOT NULL,
    updated_at_ms         INTEGER NOT NULL,
    -- passthrough|exact|never: when the source's video is copied (kinds::CopyMode).
    copy_mode             TEXT NOT NULL DEFAULT 'passthrough'
);

-- ---------------------------------------------------------------- media library (library)
-- A Plex, Jellyfin or Emby server (library::remote). `secret` is its token or API key: it is
-- sent only to that server, redacted in every API answer and left out of export.
CREATE TABLE media_sources (
    id                INTEGER PRIMARY KEY,
    source_type       TEXT NOT NULL,                   -- plex|jellyfin|emby
    name              TEXT NOT NULL,
    server_url        TEXT NOT NULL,
    secret            TEXT NOT NULL DEFAULT '',
    user_id           TEXT,
    verify_tls        INTEGER NOT NULL DEFAULT 1,
    path_replacements TEXT NOT NULL DEFAULT '[]',      -- JSON [{from, to}]
    is_enabled        INTEGER NOT NULL DEFAULT 1,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL
);

CREATE TABLE libraries (
    id                  INTEGER PRIMARY KEY,
    name                TEXT NOT NULL,
    library_type        TEXT NOT NULL DEFAULT 'other',   -- movie|show|music|other
    source_type         TEXT NOT NULL DEFAULT 'local',   -- local|plex|jellyfin|emby
    is_enabled          INTEGER NOT NULL DEFAULT 1,
    -- Canonical path of a local library: the key that makes `--media DIR` idempotent.
    path                TEXT UNIQUE,
    server_url          TEXT,
    recursive           INTEGER NOT NULL DEFAULT 1,
    file_extensions     TEXT NOT NULL DEFAULT '.mp4,.mkv,.avi,.mov,.wmv,.flv,.webm,.m4v,.ts,.m2ts',
    scan_interval_hours INTEGER NOT NULL DEFAULT 1,
    last_scan_ms        INTEGER,
    last_error          TEXT,
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL,
    -- A library of a Plex, Jellyfin or Emby server: the server and its library's key.
    media_source_id     INTEGER REFERENCES media_sources(id) ON DELETE CASCADE,
    remote_key          TEXT
);

CREATE TABLE media_items (
    id                   INTEGER PRIMARY KEY,
    library_id           INTEGER REFERENCES libraries(id) ON DELETE CASCADE,
    source               TEXT NOT NULL DEFAULT 'local',  -- local|generated|plex|...
    source_id            TEXT,
    external_id          TEXT,
    -- Local files: the path as raw bytes (file names need not be UTF-8) and a lossy display form.
    path_bytes           BLOB,
    -- The parent directory's raw bytes: the scanner compares one directory at a time.
    dir_bytes            BLOB,
    url                  TEXT NOT NULL,
    title                TEXT NOT NULL,
    description          TEXT,
    duration_ms          INTEGER,
    thumbnail            TEXT,
    poster_path          TEXT,
    art_url              TEXT,
    media_type           TEXT,                            -- episode|movie|music_video|other
    year                 INTEGER,
    content_rating       TEXT,
    genres               TEXT,                            -- comma-separated
    studio               TEXT,
    show_title           TEXT,
    season_number        INTEGER,
    episode_number       INTEGER,
    episode_number_end   INTEGER,                         -- multi-episode files (S01E01-E02)
    originally_available TEXT,
    rating               REAL,
    meta_data            TEXT,
    -- What the scanner knows: size + mtime decide whether ffprobe runs again.
    file_size            INTEGER,
    file_mtime_ms        INTEGER,
    -- A stamp of the NFO and artwork beside the file (their mtimes summed, plus their count):
    -- metadata is re-read (no ffprobe) when a sidecar is added, changed or removed.
    sidecar_stamp        INTEGER,
    container            TEXT,
    video_codec          TEXT,
    width                INTEGER,
    height               INTEGER,
    frame_rate           REAL,
    field_order          TEXT,
    audio_codec          TEXT,
    audio_channels       INTEGER,
    audio_sample_rate    INTEGER,
    streams              TEXT,                            -- JSON array from ffprobe
    probe_error          TEXT,                            -- set when ffprobe could not read it
    is_missing           INTEGER NOT NULL DEFAULT 0,      -- vanished from disk; kept for what plays now
    added_at_ms          INTEGER NOT NULL,
    created_at_ms        INTEGER NOT NULL,
    updated_at_ms        INTEGER NOT NULL
);
CREATE UNIQUE INDEX media_items_url ON media_items(url);
CREATE UNIQUE INDEX media_items_path ON media_items(path_bytes);
CREATE INDEX media_items_library ON media_items(library_id, dir_bytes, path_bytes);
CREATE INDEX media_items_show ON media_items(show_title, season_number, episode_number);
CREATE INDEX media_items_title ON media_items(title);

-- Poster, thumb and fanart images found beside a file (kind: poster|thumb|fanart), served
-- openly at /static/artwork/{media_item_id}/{kind} for M3U tvg-logo and XMLTV <icon>.
CREATE TABLE media_artwork (
    media_item_id INTEGER NOT NULL REFERENCES media_items(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    path_bytes    BLOB NOT NULL,
    PRIMARY KEY (media_item_id, kind)
) WITHOUT ROWID;

-- ---------------------------------------------------------------- collections and playlists
CREATE TABLE collections (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT,
    collection_type TEXT NOT NULL DEFAULT 'manual',  -- manual|smart|multi
    search_query    TEXT,
    -- A first-run channel's collection follows its folder (absolute, lossy UTF-8): every
    -- scan appends the folder's new items (library::collections::sync_auto_folders).
    auto_folder     TEXT,
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL
);

CREATE TABLE collection_items (
    id            INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    media_item_id INTEGER NOT NULL REFERENCES media_items(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    UNIQUE (collection_id, media_item_id)
);
CREATE INDEX collection_items_media ON collection_items(media_item_id);

CREATE TABLE multi_collections (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    description   TEXT,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE multi_collection_links (
    id                  INTEGER PRIMARY KEY,
    multi_collection_id INTEGER NOT NULL REFERENCES multi_collections(id) ON DELETE CASCADE,
    collection_id       INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    position            INTEGER NOT NULL,
    UNIQUE (multi_collection_id, collection_id)
);

CREATE TABLE playlists (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT,
    channel_id    INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

-- An entry is a media item or a whole collection (exactly one of the two).
CREATE TABLE playlist_items (
    id            INTEGER PRIMARY KEY,
    playlist_id   INTEGER NOT NULL REFERENCES playlists(id) ON DELETE CASCADE,
    media_item_id INTEGER REFERENCES media_items(id) ON DELETE CASCADE,
    collection_id INTEGER REFERENCES collections(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    CHECK ((media_item_id IS NULL) != (collection_id IS NULL))
);
CREATE INDEX playlist_items_playlist ON playlist_items(playlist_id, position);

-- ---------------------------------------------------------------- channels
CREATE TABLE channels (
    id                               INTEGER PRIMARY KEY,
    number                           TEXT NOT NULL UNIQUE,
    name                             TEXT NOT NULL,
    "group"                          TEXT NOT NULL DEFAULT 'General',
    enabled                          INTEGER NOT NULL DEFAULT 1,
    logo_path                        TEXT,
    logo_url                         TEXT,
    playout_mode                     TEXT NOT NULL DEFAULT 'continuous',
    streaming_mode                   TEXT NOT NULL DEFAULT 'transport_stream_hybrid',
    transcode_mode                   TEXT NOT NULL DEFAULT 'on_demand',
    transcode_profile                TEXT,
    ffmpeg_profile_id                INTEGER REFERENCES ffmpeg_profiles(id),
    watermark_id                     INTEGER,
    subtitle_mode                    TEXT NOT NULL DEFAULT 'none',
    preferred_audio_language_code    TEXT,
    preferred_audio_title            TEXT,
    preferred_subtitle_language_code TEXT,
    stream_selector_mode             TEXT NOT NULL DEFAULT 'default',
    stream_selector                  TEXT,
    music_video_credits_mode         TEXT NOT NULL DEFAULT 'none',
    music_video_credits_template     TEXT,
    song_video_mode                  TEXT NOT NULL DEFAULT 'default',
    idle_behavior                    TEXT NOT NULL DEFAULT 'stop_on_disconnect',
    playout_source                   TEXT NOT NULL DEFAULT 'generated',
    mirror_source_channel_id         INTEGER REFERENCES channels(id),
    playout_offset                   INTEGER,
    show_in_epg                      INTEGER NOT NULL DEFAULT 1,
    is_yaml_source                   INTEGER NOT NULL DEFAULT 0,
    fallback_filler_id               INTEGER REFERENCES filler_presets(id),
    pre_roll_filler_id               INTEGER REFERENCES filler_presets(id),
    post_roll_filler_id              INTEGER REFERENCES filler_presets(id),
    created_at_ms                    INTEGER NOT NULL,
    updated_at_ms                    INTEGER NOT NULL
);

-- ---------------------------------------------------------------- filler
CREATE TABLE filler_presets (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    filler_mode      TEXT NOT NULL DEFAULT 'duration',   -- count|duration|pad
    count            INTEGER,
    duration_seconds INTEGER,
    pad_to_minutes   INTEGER,
    playback_order   TEXT NOT NULL DEFAULT 'shuffled',
    allow_repeats    INTEGER NOT NULL DEFAULT 1,
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL
);

CREATE TABLE filler_items (
    id                   INTEGER PRIMARY KEY,
    preset_id            INTEGER NOT NULL REFERENCES filler_presets(id) ON DELETE CASCADE,
    collection_type      TEXT,                  -- playlist|collection
    collection_id        INTEGER,
    media_item_id        INTEGER REFERENCES media_items(id) ON DELETE CASCADE,
    weight               INTEGER NOT NULL DEFAULT 1,
    min_duration_seconds INTEGER,
    max_duration_seconds INTEGER
);

-- ---------------------------------------------------------------- schedules (playout input)
CREATE TABLE schedules (
    id                                INTEGER PRIMARY KEY,
    name                              TEXT NOT NULL,
    channel_id                        INTEGER REFERENCES channels(id) ON DELETE SET NULL,
    keep_multi_part_episodes_together INTEGER NOT NULL DEFAULT 0,
    treat_collections_as_shows        INTEGER NOT NULL DEFAULT 0,
    shuffle_schedule_items            INTEGER NOT NULL DEFAULT 0,
    random_start_point                INTEGER NOT NULL DEFAULT 0,
    is_yaml_source                    INTEGER NOT NULL DEFAULT 0,
    playlist_id                       INTEGER REFERENCES playlists(id) ON DELETE SET NULL,
    collection_id                     INTEGER REFERENCES collections(id) ON DELETE SET NULL,
    start_time                        TEXT,
    end_time                          TEXT,
    "repeat"                          INTEGER NOT NULL DEFAULT 1,
    created_at_ms                     INTEGER NOT NULL,
    updated_at_ms                     INTEGER NOT NULL
);

CREATE TABLE schedule_items (
    id                         INTEGER PRIMARY KEY,
    schedule_id                INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    position                   INTEGER NOT NULL,
    start_type                 TEXT NOT NULL DEFAULT 'dynamic',     -- dynamic|fixed
    start_time                 TEXT,                                -- HH:MM:SS in the configured zone
    fixed_start_time_behavior  TEXT,
    collection_type            TEXT NOT NULL DEFAULT 'collection',
    collection_id              INTEGER,
    media_item_id              INTEGER REFERENCES media_items(id) ON DELETE SET NULL,
    playlist_id                INTEGER REFERENCES playlists(id) ON DELETE SET NULL,
    search_title               TEXT,
    search_query               TEXT,
    plex_show_key              TEXT,
    plex_season_key            TEXT,
    plex_artist_key            TEXT,
    playback_order             TEXT NOT NULL DEFAULT 'chronological',
    playout_mode               TEXT NOT NULL DEFAULT 'one',         -- flood|one|multiple|duration
    multiple_mode              TEXT,
    multiple_count             INTEGER,
    playout_duration_hours     INTEGER NOT NULL DEFAULT 0,
    playout_duration_minutes   INTEGER NOT NULL DEFAULT 0,
    fill_with_group_mode       TEXT,
    tail_mode                  TEXT,                                -- none|offline|filler
    tail_filler_collection_id  INTEGER,
    discard_to_fill_attempts   INTEGER,
    custom_title               TEXT,
    guide_mode                 TEXT NOT NULL DEFAULT 'normal',      -- normal|custom|hide
    pre_roll_filler_id         INTEGER REFERENCES filler_presets(id) ON DELETE SET NULL,
    mid_roll_filler_id         INTEGER REFERENCES filler_presets(id) ON DELETE SET NULL,
    post_roll_filler_id        INTEGER REFERENCES filler_presets(id) ON DELETE SET NULL,
    tail_filler_id             INTEGER REFERENCES filler_presets(id) ON DELETE SET NULL,
    fallback_filler_id         INTEGER REFERENCES filler_presets(id) ON DELETE SET NULL,
    watermark_id               INTEGER,
    preferred_audio_language   TEXT,
    preferred_audio_title      TEXT,
    preferred_subtitle_language TEXT,
    subtitle_mode              TEXT,
    created_at_ms              INTEGER NOT NULL,
    updated_at_ms              INTEGER NOT NULL
);
CREATE INDEX schedule_items_schedule ON schedule_items(schedule_id, position);

-- A schedule as it was before a change (ops::schedule_history): its schedules row (a JSON
-- object, column -> value) and its schedule_items rows by position (a JSON array of them).
-- The newest 50 per schedule are kept; they go with their schedule.
CREATE TABLE schedule_history (
    id            INTEGER PRIMARY KEY,
    schedule_id   INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    label         TEXT NOT NULL,
    schedule      TEXT NOT NULL,
    items         TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX schedule_history_schedule ON schedule_history(schedule_id, id);

-- ---------------------------------------------------------------- playouts (playout)
CREATE TABLE playouts (
    id                  INTEGER PRIMARY KEY,
    channel_id          INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    program_schedule_id INTEGER REFERENCES schedules(id),
    template_id         INTEGER,
    playout_type        TEXT NOT NULL DEFAULT 'continuous',
    daily_reset_time    TEXT,
    is_active           INTEGER NOT NULL DEFAULT 1,
    -- The shuffle seed: a rebuild with the same seed yields the same timeline.
    seed                INTEGER NOT NULL,
    -- Where the builder stopped (JSON: per-collection cursors, schedule position).
    anchor              TEXT,
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL
);
CREATE INDEX playouts_channel ON playouts(channel_id);

-- The timeline: what plays, to the millisecond. Contiguous: each finish is the next start.
CREATE TABLE playout_items (
    id            INTEGER PRIMARY KEY,
    playout_id    INTEGER NOT NULL REFERENCES playouts(id) ON DELETE CASCADE,
    media_item_id INTEGER REFERENCES media_items(id) ON DELETE SET NULL,  -- NULL: offline slate
    source_url    TEXT,
    title         TEXT NOT NULL,
    episode_title TEXT,
    start_ms      INTEGER NOT NULL,
    finish_ms     INTEGER NOT NULL CHECK (finish_ms > start_ms),
    -- Where playback starts inside the media (a trimmed or resumed item).
    in_point_ms   INTEGER NOT NULL DEFAULT 0,
    filler_kind   TEXT,                -- pre_roll|mid_roll|post_roll|pad|tail|fallback|offline
    custom_title  TEXT,
    guide_mode    TEXT NOT NULL DEFAULT 'normal',
    -- The builder's state after this item (JSON, playout::Anchor), on the last item of each
    -- step: a rebuild resumes here and reproduces what follows.
    anchor        TEXT,
    -- From a block item with "disable watermarks": no watermark, whatever the channel's.
    watermark_off INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX playout_items_time ON playout_items(playout_id, start_ms);

CREATE TABLE playout_history (
    id            INTEGER PRIMARY KEY,
    playout_id    INTEGER NOT NULL REFERENCES playouts(id) ON DELETE CASCADE,
    media_item_id INTEGER REFERENCES media_items(id) ON DELETE SET NULL,
    title         TEXT NOT NULL,
    source_url    TEXT,
    started_at_ms INTEGER NOT NULL,
    finished_at_ms INTEGER,
    status        TEXT NOT NULL DEFAULT 'played',
    error_message TEXT
);
CREATE INDEX playout_history_playout ON playout_history(playout_id, started_at_ms);

CREATE TABLE playback_positions (
    channel_id          INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
    item_index          INTEGER NOT NULL,
    media_id            INTEGER,
    last_played_at_ms   INTEGER,
    total_items_watched INTEGER NOT NULL DEFAULT 0
);

-- Blocks (ops::blocks): time-of-day programming, "Saturday cartoons, 08:00, 4 h".
CREATE TABLE block_groups (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE blocks (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    group_id         INTEGER REFERENCES block_groups(id),
    start_time       TEXT NOT NULL,                -- HH:MM in the playout time zone
    duration_minutes INTEGER NOT NULL,
    days_of_week     INTEGER NOT NULL DEFAULT 127, -- bit 0 (1) = Sunday .. bit 6 (64) = Saturday
    stop_before_end  INTEGER NOT NULL DEFAULT 1,   -- 0: the item that overruns finishes
    created_at_ms    INTEGER NOT NULL,
    updated_at_ms    INTEGER NOT NULL
);
CREATE TABLE block_items (
    id               INTEGER PRIMARY KEY,
    block_id         INTEGER NOT NULL REFERENCES blocks(id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    collection_type  TEXT NOT NULL DEFAULT 'collection',
    collection_id    INTEGER NOT NULL,
    playback_order   TEXT NOT NULL DEFAULT 'chronological',
    include_in_guide INTEGER NOT NULL DEFAULT 1,
    disable_watermarks INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX block_items_block ON block_items(block_id, position);

-- Templates (ops::templates): a day laid out from blocks, applied to a playout for days.
CREATE TABLE template_groups (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE templates (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    group_id      INTEGER REFERENCES template_groups(id),
    is_enabled    INTEGER NOT NULL DEFAULT 1,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE template_items (
    id          INTEGER PRIMARY KEY,
    template_id INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    block_id    INTEGER NOT NULL REFERENCES blocks(id),
    start_time  TEXT NOT NULL                     -- HH:MM: the block's place in this day
);
CREATE INDEX template_items_template ON template_items(template_id, start_time);
CREATE INDEX template_items_block ON template_items(block_id);
-- A template applied to a playout (POST /api/templates/{id}/apply/{channel_id}).
CREATE TABLE playout_templates (
    id            INTEGER PRIMARY KEY,
    playout_id    INTEGER NOT NULL REFERENCES playouts(id) ON DELETE CASCADE,
    template_id   INTEGER NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
    days_of_week  INTEGER NOT NULL,               -- bit 0 (1) = Sunday .. bit 6 (64) = Saturday
    priority      INTEGER NOT NULL DEFAULT 0,     -- the highest applies on a day two cover
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX playout_templates_playout ON playout_templates(playout_id);

-- Deco (ops::deco): break assets in groups, and each channel's secondary content.
CREATE TABLE deco_groups (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE TABLE deco (
    id                      INTEGER PRIMARY KEY,
    name                    TEXT NOT NULL,
    group_id                INTEGER REFERENCES deco_groups(id),
    deco_type               TEXT NOT NULL DEFAULT 'bumper',
    media_item_id           INTEGER REFERENCES media_items(id) ON DELETE SET NULL,
    file_path               TEXT,
    duration_seconds        REAL,
    static_duration_seconds REAL NOT NULL DEFAULT 5,
    weight                  INTEGER NOT NULL DEFAULT 1,
    created_at_ms           INTEGER NOT NULL,
    updated_at_ms           INTEGER NOT NULL
);
CREATE INDEX deco_group ON deco(group_id);
CREATE TABLE channel_deco (
    channel_id                   INTEGER PRIMARY KEY REFERENCES channels(id) ON DELETE CASCADE,
    deco_group_id                INTEGER REFERENCES deco_groups(id),
    breaks                       TEXT NOT NULL DEFAULT 'none',
    break_every_minutes          INTEGER,
    break_count                  INTEGER NOT NULL DEFAULT 1,
    default_filler_mode          TEXT NOT NULL DEFAULT 'inherit',
    default_filler_collection_id INTEGER REFERENCES collections(id) ON DELETE SET NULL,
    watermark_mode               TEXT NOT NULL DEFAULT 'inherit',
    watermark_id                 INTEGER,
    updated_at_ms                INTEGER NOT NULL
);
CREATE TABLE channel_deco_windows (
    id            INTEGER PRIMARY KEY,
    channel_id    INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    position      INTEGER NOT NULL,
    start_time    TEXT NOT NULL,                  -- HH:MM, local; end before start wraps midnight
    end_time      TEXT NOT NULL,
    deco_group_id INTEGER REFERENCES deco_groups(id)
);
CREATE INDEX channel_deco_windows_channel ON channel_deco_windows(channel_id, position);

-- Media validation verdicts (library::validate): an invalid file leaves the timelines.
CREATE TABLE media_validations (
    media_item_id INTEGER PRIMARY KEY REFERENCES media_items(id) ON DELETE CASCADE,
    valid         INTEGER NOT NULL,
    reason        TEXT,
    file_size     INTEGER,             -- bytes when checked: a changed file is checked again
    checked_at_ms INTEGER NOT NULL
);

-- Watermarks (ops::watermarks): a PNG drawn over the picture. The image lives in the row, so
-- a backup stays one file; FFmpeg reads a copy, DATA/cache/watermarks/<image_sha256>.png.
CREATE TABLE watermarks (
    id                          INTEGER PRIMARY KEY,
    name                        TEXT NOT NULL,
    mode                        TEXT NOT NULL DEFAULT 'permanent',   -- permanent|intermittent|none
    image_source                TEXT NOT NULL DEFAULT 'custom',      -- custom|channel_logo
    location                    TEXT NOT NULL DEFAULT 'bottom_right',
    size                        TEXT NOT NULL DEFAULT 'scaled',      -- scaled|actual_size
    width_percent               REAL NOT NULL DEFAULT 15,
    horizontal_margin_percent   REAL NOT NULL DEFAULT 5,
    vertical_margin_percent     REAL NOT NULL DEFAULT 5,
    frequency_minutes           INTEGER NOT NULL DEFAULT 15,
    duration_seconds            INTEGER NOT NULL DEFAULT 15,
    opacity                     INTEGER NOT NULL DEFAULT 100,
    place_within_source_content INTEGER NOT NULL DEFAULT 0,
    opacity_expression          TEXT,
    z_index                     INTEGER NOT NULL DEFAULT 0,
    image                       BLOB,
    image_sha256                TEXT,
    original_content_type       TEXT,
    created_at_ms               INTEGER NOT NULL,
    updated_at_ms               INTEGER NOT NULL
);
-- Scripted build sessions (ops::build_sessions) and what each buffers until its commit.
CREATE TABLE build_sessions (
    id                INTEGER PRIMARY KEY,
    playout_id        INTEGER NOT NULL REFERENCES playouts(id) ON DELETE CASCADE,
    status            TEXT NOT NULL DEFAULT 'building',  -- building|committed|cancelled|expired
    -- Where the buffered items replace the timeline at commit, and where the next verb adds.
    start_ms          INTEGER NOT NULL,
    cursor_ms         INTEGER NOT NULL,
    -- The builder's state at the cursor (JSON, playout::Anchor): collection cursors.
    anchor            TEXT NOT NULL,
    watermark_enabled INTEGER NOT NULL DEFAULT 1,
    graphics_enabled  INTEGER NOT NULL DEFAULT 1,
    pre_roll_enabled  INTEGER NOT NULL DEFAULT 1,
    -- An open EPG group: its items show as one programme of this title.
    epg_group_title   TEXT,
    epg_group_opened  INTEGER NOT NULL DEFAULT 0,
    expires_at_ms     INTEGER NOT NULL,
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL
);
CREATE INDEX build_sessions_playout ON build_sessions(playout_id, status);
CREATE TABLE build_session_items (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES build_sessions(id) ON DELETE CASCADE,
    media_item_id INTEGER REFERENCES media_items(id) ON DELETE SET NULL,
    title         TEXT NOT NULL,
    episode_title TEXT,
    start_ms      INTEGER NOT NULL,
    finish_ms     INTEGER NOT NULL CHECK (finish_ms > start_ms),
    in_point_ms   INTEGER NOT NULL DEFAULT 0,
    filler_kind   TEXT,
    custom_title  TEXT,
    guide_mode    TEXT NOT NULL DEFAULT 'normal',
    watermark_off INTEGER NOT NULL DEFAULT 0   -- the session's watermark switch was off
);
CREATE INDEX build_session_items_session ON build_session_items(session_id, start_ms);

-- Notification webhooks (notify, ops::notifications) and the newest deliveries.
CREATE TABLE notification_services (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    service_type  TEXT NOT NULL DEFAULT 'webhook',  -- webhook|discord|slack
    url           TEXT NOT NULL,
    events        TEXT NOT NULL DEFAULT '',         -- comma-separated kinds; empty = all
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE notification_history (
    id            INTEGER PRIMARY KEY,
    service       TEXT NOT NULL,
    event         TEXT NOT NULL,
    success       INTEGER NOT NULL,
    status_code   INTEGER,
    error         TEXT,
    attempts      INTEGER NOT NULL,
    sent_at_ms    INTEGER NOT NULL
);

-- The M3U playlists relayed channels come from (ops::m3u_sources), with their last read.
CREATE TABLE m3u_sources (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL,
    url             TEXT NOT NULL UNIQUE,
    enabled         INTEGER NOT NULL DEFAULT 1,
    channel_count   INTEGER NOT NULL DEFAULT 0,
    last_refresh_ms INTEGER,
    last_error      TEXT,
    created_at_ms   INTEGER NOT NULL,
    -- The playlist's own XMLTV (`#EXTM3U url-tvg`), merged into our guide (iptv::source_guide).
    url_tvg         TEXT
);
CREATE TABLE ai_plans (
    id            TEXT PRIMARY KEY,
    status        TEXT NOT NULL,
    body          TEXT NOT NULL,                   -- the plan, JSON (ai::plan::Plan)
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX ai_plans_created ON ai_plans(created_at_ms);
CREATE TABLE ai_sessions (
    id            TEXT PRIMARY KEY,
    body          TEXT NOT NULL,                   -- the session, JSON (ai::store::Session)
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
CREATE INDEX ai_sessions_created ON ai_sessions(created_at_ms);
-- The troubleshooting agent's queue (pending approvals) and fix history (`agent::queue`).
CREATE TABLE agent_fixes (
    id            INTEGER PRIMARY KEY,
    tool          TEXT NOT NULL,
    call          TEXT NOT NULL,                 -- the tool call as JSON
    pattern       TEXT,
    reason        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'executed', 'failed', 'rejected')),
    outcome       TEXT,
    created_at_ms INTEGER NOT NULL,
    decided_at_ms INTEGER
);
CREATE INDEX agent_fixes_status ON agent_fixes(status, id);
-- The web UI's login sessions (web::session): the SHA-256 of the cookie's id, never the id.
CREATE TABLE web_sessions (
    hash          TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
);
