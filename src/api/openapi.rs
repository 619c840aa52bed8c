//! `/openapi.json` (OpenAPI 3.0) and `/docs` + `/documentation` (one small HTML page), both
//! generated once, on first request, from `ROUTES`: every path the router serves with its
//! methods, a summary, and its main inputs and outputs by name. Both need the API token
//! (API.md lists them neither among the open routes nor among the exemptions).
//!
//! `ROUTES` is kept equal to the router by `tests/it/openapi.rs`: every (path, method) it
//! lists is asked of the real binary (none may answer the router's 404 or a 405, and each
//! path's `Allow` must list exactly its methods), and every route the router's `match` arms
//! serve must be here. The table is a few KB of text in the binary; the document is built
//! from it at run time, so it costs no megabyte-sized asset.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::app::App;
use crate::http::router;
use crate::http::{body, ApiResult, Req};

/// One path of the router and what it answers.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Space-separated, as `Allow` lists them (HEAD is implied by GET).
    pub methods: &'static str,
    /// The OpenAPI template: `{name}` is a parameter (a segment or part of one).
    pub path: &'static str,
    pub summary: &'static str,
    /// Inputs by name: `?q` a query parameter, `f` a body field (`f*` required),
    /// `@Schema` a body of that schema, `multipart:f` a file upload.
    pub input: &'static str,
    /// `@Schema`, `[@Schema]`, `{f g}` (fields of an object), or a media kind: `json`,
    /// `xml`, `m3u`, `ts`, `sse`, `text`, `html`, `png`, `image`, `empty`; then, after
    /// ` +` (or alone, as `+…`), what a POST creates, answered with 201.
    pub output: &'static str,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>` or `X-Api-Key: <token>`.
    Token,
    /// The TV routes: open, but `?access_token=` when `iptv.access_token` is set.
    AccessToken,
    Open,
}

impl Route {
    /// Who may call it, by the rules of `api::route` and the router (API.md §1).
    pub fn auth(&self) -> Auth {
        let p = self.path;
        if p.starts_with("/api/health")
            || matches!(
                p,
                "/api/lineup_status.json" | "/api/auth/session" | "/api/ai/channel"
            )
        {
            Auth::Open
        } else if p.starts_with("/api/")
            || matches!(p, "/openapi.json" | "/docs" | "/documentation")
        {
            Auth::Token
        } else if p.starts_with("/iptv/")
            || p.starts_with("/hdhomerun/")
            || matches!(
                p,
                "/discover.json"
                    | "/lineup.json"
                    | "/lineup_status.json"
                    | "/device.xml"
                    | "/lineup.post"
                    | "/auto/v{number}"
            )
        {
            Auth::AccessToken
        } else {
            Auth::Open
        }
    }
}

const fn r(
    methods: &'static str,
    path: &'static str,
    summary: &'static str,
    input: &'static str,
    output: &'static str,
) -> Route {
    Route {
        methods,
        path,
        summary,
        input,
        output,
    }
}

/// Every route, grouped as API.md groups them; one per line, read as a table.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    // Channels
    r("GET POST", "/api/channels", "List channels; create one (number*, name*)", "?include_content_status @Channel", "[@Channel] +@Channel"),
    r("GET PUT PATCH DELETE", "/api/channels/{id}", "A channel: read, partial update, delete", "@Channel", "@Channel"),
    r("GET", "/api/channels/number/{number}", "A channel by its number", "", "@Channel"),
    r("GET", "/api/channels/{number}/schedule", "A channel's programmes from the stored timeline, by number", "?hours", "{channel_id channel_number channel_name programmes message}"),
    r("GET", "/api/channels/{id}/programming", "A channel's programmes over the next hours", "?hours", "{channel_id channel_name channel_number playout_id hours program_count programs message}"),
    r("GET POST DELETE", "/api/channels/{id}/playback-position", "The on-demand resume position: read, set, reset", "item_index* media_id", "{item_index media_id last_played_at total_items_watched resume_available}"),
    r("POST DELETE", "/api/channels/{id}/icon", "Upload (PNG) or remove the channel's icon", "multipart:file", "@Channel"),
    r("GET", "/api/channels/{id}/playouts", "The channel's playouts", "", "[@Playout]"),
    r("POST", "/api/channels/{id}/toggle-enabled", "Flip enabled (never restarts a stream)", "", "@Channel"),
    r("GET PUT PATCH", "/api/channels/{id}/filler", "The channel's filler presets (0 clears)", "fallback_filler_id pre_roll_filler_id post_roll_filler_id", "{channel_id fallback_filler_id pre_roll_filler_id post_roll_filler_id fallback_filler pre_roll_filler post_roll_filler}"),
    r("GET PUT PATCH", "/api/channels/{id}/deco", "The channel's deco: group, breaks, dead-air filler, watermark (inherit|override|disable), windows; 0 clears an id", "deco_group_id breaks break_every_minutes break_count default_filler watermark windows", "{channel_id deco_group_id deco_group breaks break_every_minutes break_count default_filler watermark windows}"),
    r("GET", "/static/channel_icons/{file}", "A channel icon", "", "png"),
    // Media
    r("GET POST", "/api/media", "List media (filters, sort, paging); add a file or URL (a YouTube or archive.org page is resolved by yt-dlp when installed: 422 when it cannot be, or does not answer within sources.resolve_timeout_seconds)", "?source ?library_id ?media_type ?year ?year_min ?year_max ?duration_min ?duration_max ?content_rating ?genre ?search ?show ?include_missing ?sort_by ?sort_order ?skip ?limit ?paginated url* title description duration thumbnail", "[@MediaItem] +@MediaItem"),
    r("GET", "/api/media/count", "Media counts by source", "?source", "{total by_source}"),
    r("GET", "/api/media/filters", "The values the media filters take", "?source ?library_id", "{years year_ranges media_types content_ratings sources duration_ranges}"),
    r("GET", "/api/media/shows", "Shows with their episode counts", "?library_id ?skip ?limit", "{shows total skip limit has_more}"),
    r("GET", "/api/media/shows/{title}/episodes", "A show's episodes by season", "", "{show_title thumbnail year episode_count season_count seasons}"),
    r("GET", "/api/media/search", "Search media by title", "?q* ?source ?limit", "[@MediaItem]"),
    r("GET DELETE", "/api/media/{id}", "A media item: read, delete", "", "@MediaItem"),
    r("GET", "/static/artwork/{media_id}/{kind}", "A media item's artwork found beside its file", "", "image"),
    // Playlists and collections
    r("GET POST", "/api/playlists", "List playlists by name; create one", "name* description channel_id", "[@Playlist] +@Playlist"),
    r("GET PUT DELETE", "/api/playlists/{id}", "A playlist: read, rename, delete", "name description", "@Playlist"),
    r("POST DELETE", "/api/playlists/{id}/items/{item_id}", "Add a media item (POST: its id) or remove an entry", "", "+{message}"),
    r("POST", "/api/playlists/{id}/items/{item_id}/move", "Move an entry up or down", "direction*", "{message}"),
    r("POST", "/api/playlists/{id}/collections/{collection_id}", "Append a collection's items", "", "{message}"),
    r("GET POST", "/api/collections", "List collections; create one", "name* description collection_type search_query", "[@Collection] +@Collection"),
    r("POST", "/api/collections/consolidate", "Merge the parts of one collection (\"X Day 1\", \"X (2)\", …) into one, references repointed", "?dry_run", "{message dry_run consolidated groups}"),
    r("GET DELETE", "/api/collections/{id}", "A collection: read, delete", "", "@Collection"),
    r("POST DELETE", "/api/collections/{id}/items/{media_id}", "Add or remove a media item", "", "+empty"),
    r("POST", "/api/collections/smart", "Create a smart collection from a search", "name* search_query* description", "+{id name collection_type search_query item_count}"),
    r("POST", "/api/collections/smart/{id}/refresh", "Re-run a smart collection's search", "", "{collection_id previous_count new_count message}"),
    r("GET POST", "/api/collections/multi", "List multi-collections; create one", "name* description collection_ids", "[{id name description collection_count created_at updated_at}] +{id name description collection_count}"),
    r("GET PUT DELETE", "/api/collections/multi/{id}", "A multi-collection: read, rename, delete", "name description", "{id name description collections created_at updated_at}"),
    r("POST DELETE", "/api/collections/multi/{id}/collections/{collection_id}", "Link or unlink a collection", "", "+{message}"),
    // Schedules, schedule items, schedule history
    r("GET POST", "/api/schedules", "List schedules; create one", "?channel_id @Schedule", "[@Schedule] +@Schedule"),
    r("GET PUT PATCH DELETE", "/api/schedules/{id}", "A schedule: read, partial update, delete (409 in use)", "@Schedule", "@Schedule"),
    r("GET POST DELETE", "/api/schedules/{id}/items", "A schedule's items (compact view); append one; clear them all", "collection_type* collection_id* playback_mode playback_order custom_title", "[@SItem] +@SItem"),
    r("DELETE", "/api/schedules/{id}/items/{item_id}", "Remove an item (positions renumbered)", "", "empty"),
    r("GET POST", "/api/schedule-items", "Schedule items (full view); create one (at index, or appended)", "?schedule_id schedule_id* index @ScheduleItem", "[@ScheduleItem] +@ScheduleItem"),
    r("GET PUT PATCH DELETE", "/api/schedule-items/{id}", "A schedule item: read, partial update, delete", "@ScheduleItem", "@ScheduleItem"),
    r("POST", "/api/schedule-items/{id}/move", "Move an item up or down", "direction*", "@ScheduleItem"),
    r("GET", "/api/schedule-history", "Snapshots of schedules (newest 50 per schedule are kept), newest first", "?schedule_id", "[@ScheduleHistoryEntry]"),
    r("POST", "/api/schedule-history/capture", "Snapshot a schedule now", "schedule_id* label", "+@ScheduleHistoryEntry"),
    r("GET DELETE", "/api/schedule-history/{id}", "A snapshot: read, delete", "", "@ScheduleHistoryEntry"),
    r("POST", "/api/schedule-history/{id}/revert", "Restore a snapshot (after snapshotting the present); rebuilds the playouts", "", "{reverted_to saved_as schedule items}"),
    // Libraries
    r("POST", "/api/media/plex/from-rating-key", "Add one Plex item by its ratingKey", "rating_key* media_source_id", "+@MediaItem"),
    r("GET", "/api/libraries", "Every library", "", "[@Library]"),
    r("GET", "/api/libraries/stats", "Library totals", "", "{total_items movies shows episodes total_duration_hours last_scanned}"),
    r("GET", "/api/libraries/scan-progress/{id}", "A library's scan", "", "@Scan"),
    r("POST", "/api/libraries/scan-all", "Scan every library in the background", "", "{message libraries}"),
    r("GET POST", "/api/libraries/local", "Local libraries; add one", "name* path* library_type recursive file_extensions scan_interval_hours", "[@Library] +@Library"),
    r("GET DELETE", "/api/libraries/local/{id}", "A local library: read, delete", "", "@Library"),
    r("POST", "/api/libraries/local/{id}/scan", "Scan a library in the background", "", "@Scan"),
    r("GET POST", "/api/libraries/{type}", "Libraries of Plex, Jellyfin or Emby servers; add one (a stored source, or URL and token/api_key)", "name* media_source_id server_url token api_key user_id plex_library_key jellyfin_library_id emby_library_id library_key library_type scan_interval_hours", "[@Library] +@Library"),
    r("GET POST", "/api/libraries/{type}/discover", "A server's libraries", "?media_source_id ?server_url ?token ?api_key ?user_id", "[{key name type agent}]"),
    r("GET DELETE", "/api/libraries/{type}/{id}", "A server's library: read, delete", "", "@Library"),
    r("POST", "/api/libraries/{type}/{id}/scan", "Scan a server's library in the background (a delta after the first)", "", "@Scan"),
    r("GET", "/api/media-sources/summary", "Counts per media source", "", "{plex jellyfin emby local}"),
    r("POST", "/api/media-sources/test-connection", "Reach a server: its name, version and libraries", "source_type* media_source_id server_url token api_key user_id", "{success message server_name server_version libraries}"),
    r("GET POST", "/api/media-sources/{type}", "Plex, Jellyfin or Emby servers; add one (the secret is never shown again)", "name* server_url* token api_key user_id verify_tls path_replacements", "[{id name source_type server_url is_enabled last_scan item_count library_count user_id verify_tls path_replacements has_token}] +{id name source_type server_url is_enabled last_scan item_count library_count user_id verify_tls path_replacements has_token}"),
    r("GET", "/api/media-sources/{type}/libraries", "The libraries of every server of a type", "", "[@Library]"),
    r("GET DELETE", "/api/media-sources/{type}/{id}", "A server: read, delete (with its libraries)", "", "{id name source_type server_url is_enabled last_scan item_count library_count user_id verify_tls path_replacements has_token}"),
    r("POST", "/api/media-sources/{type}/{id}/scan", "Scan a server's libraries in the background", "library_ids", "{success message libraries scanning items_found items_imported}"),
    // FFmpeg profiles, resolutions, filler presets
    r("GET POST", "/api/ffmpeg-profiles", "FFmpeg profiles; create one", "@Profile", "[@Profile] +@Profile"),
    r("GET PUT PATCH DELETE", "/api/ffmpeg-profiles/{id}", "A profile: read, partial update, delete", "@Profile", "@Profile"),
    r("POST", "/api/ffmpeg-profiles/{id}/set-default", "Make a profile the default", "", "@Profile"),
    r("GET", "/api/ffmpeg-profiles/hardware-acceleration/available", "Hardware acceleration detected on this host", "", "{available}"),
    r("GET POST", "/api/resolutions", "Resolutions by size; create one", "@Resolution", "[@Resolution] +@Resolution"),
    r("GET PUT PATCH DELETE", "/api/resolutions/{id}", "A resolution: read, partial update, delete", "@Resolution", "@Resolution"),
    r("GET POST", "/api/filler-presets", "Filler presets; create one with its items", "@Preset", "[@Preset] +@Preset"),
    r("GET PUT PATCH DELETE", "/api/filler-presets/{id}", "A filler preset: read, partial update, delete", "@Preset", "@Preset"),
    r("POST", "/api/filler-presets/{id}/items", "Add an item to a preset", "@FItem", "+@FItem"),
    r("PUT PATCH DELETE", "/api/filler-presets/{id}/items/{item_id}", "A preset's item: update, delete", "@FItem", "@FItem"),
    // Playouts
    r("GET POST", "/api/playouts", "Playouts; create one (builds its timeline)", "?channel_id channel_id* program_schedule_id template_id playout_type", "[@Playout] +@Playout"),
    r("GET PUT PATCH DELETE", "/api/playouts/{id}", "A playout: read, update, delete", "program_schedule_id template_id playout_type is_active", "@Playout"),
    r("GET", "/api/playouts/{id}/items", "The playout's timeline", "?limit ?offset", "{playout_id items offset limit count}"),
    r("GET", "/api/playouts/{id}/now-playing", "What plays now and next", "", "{playout_id current_time current next}"),
    r("GET", "/api/playouts/{id}/history", "What played, newest first", "?limit", "[{id title media_item_id source_url started_at finished_at status error_message}]"),
    r("POST", "/api/playouts/{id}/rebuild", "Rebuild the timeline from now", "", "{playout_id status message items}"),
    r("POST", "/api/playouts/{id}/skip", "Skip what plays now", "", "{playout_id skipped skipped_item_id skipped_title message}"),
    r("POST", "/api/playouts/{id}/cancel-skip", "Acknowledged; a skip cannot be undone", "", "{playout_id cancelled message}"),
    r("POST", "/api/playouts/{id}/build/start", "Open a scripted build session (or return the open one)", "", "{session_id playout_id status current_time expires_at message}"),
    r("POST", "/api/playouts/{id}/build/commit", "Commit a build session: its items replace the timeline from its start", "?session_id*", "{session_id playout_id status items_added message}"),
    r("POST", "/api/playouts/{id}/build/cancel", "Cancel a build session; the timeline is unchanged", "?session_id*", "{session_id playout_id status message}"),
    r("GET", "/api/playouts/{id}/build/sessions", "The playout's build sessions, newest first", "?status_filter", "[{session_id playout_id status current_time watermark_enabled graphics_enabled pre_roll_enabled expires_at created_at}]"),
    r("GET", "/api/scripted/build/{build_id}/context", "The session's cursor, switches and EPG group", "", "{build_id playout_id status current_time items_buffered watermark_enabled graphics_enabled pre_roll_enabled epg_group_active epg_group_title expires_at state}"),
    r("GET", "/api/scripted/build/{build_id}/peek-next/{content_type}", "What a collection or playlist plays next", "?collection_id ?playlist_id ?playback_order", "{build_id content_type media_item_id title episode_title duration_seconds}"),
    r("POST", "/api/scripted/build/{build_id}/{action}", "A verb at the cursor: add-count|-duration|-collection|-all|-playlist|-smart-collection|-multi-collection, pad-to-next, pad-until[-exact], wait-until[-exact], skip-items, skip-to-item, create-playlist, add-show (show_title, season) and add-search (query, media_type) through a smart collection of their query and add-marathon (show_id: a title or an episode id; the whole show in season/episode order)", "collection_id playlist_id multi_collection_id count duration_minutes playback_order minutes filler_preset_id target_time item_index name media_item_ids show_title season query media_type show_id", "{build_id action items_buffered items_added current_time}"),
    r("POST", "/api/scripted/build/{build_id}/epg-group/{action}", "start (title*) or stop an EPG group", "title", "{build_id action items_buffered}"),
    r("POST", "/api/scripted/build/{build_id}/{switch}/{state}", "graphics|watermark|pre-roll on|off", "", "{build_id action items_buffered enabled}"),
    r("GET", "/api/playouts/channel/{number}", "A channel's playout and time blocks, by number", "", "{channel_number channel_name enabled playout schedule time_blocks}"),
    // Blocks, templates, deco
    r("GET POST", "/api/block-groups", "List block groups; create one", "name*", "[@BlockGroup] +@BlockGroup"),
    r("GET PUT PATCH DELETE", "/api/block-groups/{id}", "A block group: read, rename, delete (409 while it holds blocks)", "name", "@BlockGroup"),
    r("GET POST", "/api/blocks", "List blocks (with items); create one", "?group_id @Block", "[@Block] +@Block"),
    r("GET PUT PATCH DELETE", "/api/blocks/{id}", "A block: read, partial update, delete", "@Block", "@Block"),
    r("POST", "/api/blocks/{id}/items", "Append an item to a block", "@BItem", "+@Block"),
    r("POST", "/api/blocks/{id}/items/reorder", "Set the order of a block's items", "item_ids*", "@Block"),
    r("PUT PATCH DELETE", "/api/blocks/{id}/items/{item_id}", "A block item: partial update, remove", "@BItem", "@Block"),
    r("GET POST", "/api/template-groups", "List template groups; create one", "name*", "[@TemplateGroup] +@TemplateGroup"),
    r("GET PUT PATCH DELETE", "/api/template-groups/{id}", "A template group: read, rename, delete (409 while it holds templates)", "name", "@TemplateGroup"),
    r("GET POST", "/api/templates", "List templates (with items); create one", "?group_id @Template", "[@Template] +@Template"),
    r("GET PUT PATCH DELETE", "/api/templates/{id}", "A template: read, partial update, delete", "@Template", "@Template"),
    r("POST", "/api/templates/{id}/items", "Place a block in the template's day (start_time defaults to the block's)", "@TItem", "+@Template"),
    r("PUT PATCH DELETE", "/api/templates/{id}/items/{item_id}", "A template item: move, change block, remove", "@TItem", "@Template"),
    r("POST", "/api/templates/{id}/apply/{channel_id}", "Lay the channel's playout out with the template (one day 0=Sunday, or every day; highest priority wins a day)", "day_of_week priority", "{message playout_id template_id channel_id day_of_week}"),
    r("GET POST", "/api/deco-groups", "List deco groups; create one", "name*", "[@DecoGroup] +@DecoGroup"),
    r("GET PUT PATCH DELETE", "/api/deco-groups/{id}", "A deco group: read, rename, delete (409 while it holds assets or a channel uses it)", "name", "@DecoGroup"),
    r("GET POST", "/api/deco", "List break assets; create one", "?group_id ?deco_type @Deco", "[@Deco] +@Deco"),
    r("GET", "/api/deco/types", "The deco types with a description each", "", "{types descriptions}"),
    r("GET PUT PATCH DELETE", "/api/deco/{id}", "A break asset: read, partial update, delete", "@Deco", "@Deco"),
    // Watermarks
    r("GET POST", "/api/watermarks", "List watermarks; create one", "@Watermark", "[@Watermark] +@Watermark"),
    r("GET PUT PATCH DELETE", "/api/watermarks/{id}", "A watermark: read, partial update, delete (409 while a channel, deco or schedule item names it)", "@Watermark", "@Watermark"),
    r("GET POST DELETE", "/api/watermarks/{id}/image", "The watermark's PNG: read, upload (at most 2 MiB; 415 not a PNG, 413 too large), remove", "multipart:file", "@Watermark"),
    r("GET PUT PATCH", "/api/ai/settings", "The LLM provider settings (api_key write-only; 422 naming the field)", "provider base_url model api_key timeout_seconds agent", "{provider base_url model timeout_seconds agent api_key_set}"),
    r("POST", "/api/ai/settings/one-click/local", "Ollama on loopback (OLLAMA_HOST when set), its model kept or the first it has; 503 saying how to install or start it (nothing is downloaded)", "", "{success message models settings}"),
    r("POST", "/api/ai/settings/one-click/cloud", "501: no cloud default; an OpenAI-compatible base_url is set with PUT /api/ai/settings", "", "{detail}"),
    r("POST", "/api/ai/settings/one-click/troubleshooting", "The troubleshooting agent on in dry_run (proposes, never executes)", "", "{success message settings}"),
    r("GET", "/api/ai/settings/test-connection", "The provider's model list within timeout_seconds; always 200: success false with the reason when none is configured or it does not answer", "", "{success provider base_url models latency_ms message}"),
    r("POST", "/api/ai/channel/analyze", "A request in plain words as an intent (rules; no LLM needed)", "request* suggest_persona", "{request purpose confidence suggested_name suggested_persona genres shows collections era year_min year_max audience days segments needs_clarification clarification_questions}"),
    r("POST", "/api/ai/channel/sources", "Libraries and collections ranked against genres, types and years", "genres shows content_types era year_min year_max", "{query rankings primary_source recommended_combination total_content_available coverage_notes}"),
    r("POST", "/api/ai/channel/plan", "A channel plan over our media (offline; refined by the LLM when one is set)", "request* persona_id preferred_sources excluded_sources", "{plan_id status is_ready request persona_id channel collections schedule blocks filler deco warnings notes estimated_content_hours estimated_unique_items modules}"),
    r("GET PUT DELETE", "/api/ai/channel/plan/{id}", "A stored plan (24 h): read, modify, delete", "plan_id* modifications*", "{plan_id status is_ready request persona_id channel collections schedule blocks filler deco warnings notes estimated_content_hours estimated_unique_items modules}"),
    r("POST", "/api/ai/channel/plan/{id}/approve", "Approve a ready plan (409 otherwise)", "", "{success plan_id status message}"),
    r("POST", "/api/ai/channel/plan/{id}/execute", "Create an approved plan's collections, schedule, blocks, deco, playout and channel in one transaction (409 unless approved)", "", "{success plan_id status message channel_id channel_number channel_name schedule_id playout_id collection_ids collections_created schedule_items blocks_created deco_clips playout_items}"),
    r("GET", "/api/ai/channel/personas", "The personas (built-in and DATA/personas/*.yaml)", "", "[{id name title description specialties icon color welcome_message system_prompt}]"),
    r("GET", "/api/ai/channel/personas/{id}", "One persona", "", "{id name title description specialties icon color welcome_message system_prompt}"),
    r("GET", "/api/ai/channel/personas/{id}/welcome", "A persona's welcome message", "", "{persona_id welcome_message}"),
    r("POST", "/api/ai/channel/start", "Start a conversation (default persona)", "session_id", "{session_id welcome_message stage persona}"),
    r("POST", "/api/ai/channel/start-with-persona", "Start a conversation with a persona", "session_id persona_id*", "{session_id welcome_message stage persona}"),
    r("POST", "/api/ai/channel/message", "One conversation turn through the LLM (503 without a provider)", "session_id* message*", "{session_id response stage ready_to_build specification}"),
    r("GET", "/api/ai/channel/preview/{sid}", "The plan a session's specification would give", "", "{session_id ready_to_build specification preview}"),
    r("POST", "/api/ai/channel/create", "Plan and create the session's channel", "session_id*", "{success channel_id channel_number channel_name schedule_id playout_id}"),
    r("GET", "/api/ai/channel/sessions", "Conversations (24 h)", "", "[{session_id stage message_count created_at updated_at}]"),
    r("GET DELETE", "/api/ai/channel/session/{sid}", "A conversation: read, delete", "", "{session_id persona_id stage messages specification ready_to_build created_at updated_at}"),
    r("GET", "/api/ai/channel/status", "The provider's reachability and models, sessions, libraries", "", "{provider ollama_available models active_sessions media_sources}"),
    // Import and export
    r("GET", "/api/export", "The whole configuration as one JSON document", "", "json"),
    r("POST", "/api/import", "Replace the configuration with an export (one transaction, or nothing)", "format* tables settings", "json"),
    r("GET POST", "/api/export/channels/{id}/yaml", "A channel as YAML", "", "text"),
    r("POST", "/api/export/channels/{id}/yaml/write", "Write it to data/export/", "", "{path channel_id channel_number}"),
    r("GET", "/api/export/channels/yaml/bulk", "All channels as YAML", "", "text"),
    r("POST", "/api/import/channels/yaml", "Import YAML channels", "multipart:yaml_file ?validate", "+[@Channel]"),
    r("POST", "/api/import/channels/yaml/path", "Import a file in data/import/", "?file_path* ?validate", "+[@Channel]"),
    r("POST", "/api/import/m3u/preview", "An M3U playlist's channels", "?m3u_url* ?enrich_metadata", "{url_tvg total skipped truncated channels}"),
    r("POST", "/api/import/m3u/import", "Import M3U entries as relayed channels; the playlist's url-tvg guide is fetched and merged into ours for them", "m3u_url* selected_channels* channel_number_start auto_assign_numbers create_playlists", "[@Channel]"),
    r("GET", "/api/import/m3u/metadata/{tvg_id}", "What a playlist said of a tvg-id", "", "{tvg_id metadata}"),
    r("GET", "/api/auth/status", "Which source credentials are stored", "", "{youtube archive_org}"),
    r("GET", "/api/auth/youtube/status", "YouTube cookies stored; yt-dlp present", "", "{authenticated has_cookies yt_dlp_available}"),
    r("POST", "/api/auth/youtube/cookies", "Store a cookies.txt (secret)", "multipart:file", "{success message}"),
    r("DELETE", "/api/auth/youtube", "Forget the YouTube cookies", "", "{success message}"),
    r("GET", "/api/auth/archive-org/status", "The archive.org login stored", "", "{authenticated username yt_dlp_available}"),
    r("POST DELETE", "/api/auth/archive-org", "Store (secret) or forget the archive.org login", "username* password*", "{success message username}"),
    r("GET", "/api/m3u/service/status", "The M3U module's switch", "", "{enabled library_enabled testing_enabled}"),
    r("POST", "/api/m3u/service/enable", "M3U module on", "?enable ?enable_library ?enable_testing", "{success restart_required message status}"),
    r("POST", "/api/m3u/service/disable", "M3U module off", "", "{success restart_required message status}"),
    r("POST", "/api/m3u/service/restart", "Nothing to restart", "", "{success restart_required message}"),
    // Logs
    r("GET", "/api/integrations/hdhomerun/devices", "LAN HDHomeRun tuners by UDP discovery (broadcast, or ?address=HOST[:PORT] alone), ours left out, with their lineups", "?address", "{devices count}"),
    r("POST", "/api/integrations/hdhomerun/devices/{device_id}/import", "A device's channels (all, or guide_numbers) as relayed channels, numbered by guide number when free", "?address channel_number_start guide_numbers", "[@Channel]"),
    r("GET", "/api/migration/sources", "The sources a migration reads: ErsatzTV and StreamTV SQLite files", "", "[{id name description supported_formats icon}]"),
    r("GET", "/api/migration/detect", "The databases under the data dir's import/ folder, by the source each reads as", "", "{ersatztv streamtv}"),
    r("POST", "/api/migration/validate/{source}", "Counts what an ErsatzTV or StreamTV database holds (db_path under import/, or a multipart db_file)", "db_path db_file", "{is_valid source_type counts warnings errors}"),
    r("POST", "/api/migration/import/{source}", "Carries a database over: its folders as scanned libraries, URL media, FFmpeg profiles, collections, playlists and channels (each that does not fit is a warning)", "db_path db_file dry_run path_prefix_from path_prefix_to", "{success source_type migration_id stats errors warnings duration_seconds}"),
    r("GET", "/api/migration/progress/{id}", "How far a migration of this process got", "", "{migration_id status current_step total_steps current_step_number items_processed items_total errors started_at completed_at}"),
    r("POST", "/api/migration/repair/playout-items", "Rebuilds every playout from its schedule (dry_run=true, the default, counts only)", "?dry_run", "{success stats errors message}"),
    r("GET POST", "/api/integrations/iptv/sources", "The M3U playlists relayed channels come from (every import records its own); one added by URL, read at once (xtream: 501)", "name source_type m3u_url*", "[{id name source_type m3u_url is_enabled channel_count last_refresh last_error created_at url_tvg}]"),
    r("GET DELETE", "/api/integrations/iptv/sources/{id}", "One M3U source, read or forgotten (its channels stay)", "", "{id name source_type m3u_url is_enabled channel_count last_refresh last_error created_at url_tvg}"),
    r("POST", "/api/integrations/iptv/sources/{id}/refresh", "Reads the playlist again and records the count or the error", "", "{source_id success message}"),
    r("POST", "/api/integrations/iptv/sources/{id}/test", "Reads the playlist again and records the count or the error", "", "{source_id success message}"),
    r("GET", "/api/integrations/iptv/sources/{id}/channels", "The playlist's entries, as the import preview lists them", "", "[{index name tvg_id tvg_name logo group chno url}]"),
    r("GET POST", "/api/integrations/notifications/services", "Notification webhooks (webhook|discord|slack; http only), listed or created with the event kinds each wants", "name* service_type config* enabled", "[{id name service_type webhook_url events enabled created_at}]"),
    r("GET DELETE", "/api/integrations/notifications/services/{name}", "One notification webhook, read or deleted", "", "{id name service_type webhook_url events enabled created_at}"),
    r("POST", "/api/integrations/notifications/services/{name}/test", "Sends a test event now (timeout 5 s, 3 attempts)", "", "{service success status_code attempts message}"),
    r("POST", "/api/integrations/notifications/send", "Sends a message to every enabled webhook", "title* message*", "{results}"),
    r("GET", "/api/integrations/notifications/history", "The newest deliveries, newest first", "?limit", "[{id service event success status_code error attempts sent_at}]"),
    r("GET POST PUT PATCH DELETE", "/api/integrations/homeassistant", "501: no Home Assistant integration (loopback and named LAN devices only)", "", "error"),
    r("GET POST PUT PATCH DELETE", "/api/integrations/cloud", "501: no cloud integration", "", "error"),
    r("GET POST PUT PATCH DELETE", "/api/integrations/plugins", "501: no plugins", "", "error"),
    r("GET", "/api/performance/stats", "Requests, mean time, RSS, CPU, FFmpeg children, tuners, viewers", "", "{status uptime_seconds requests request_mean_ms process_rss_bytes cpu_percent ffmpeg_processes tuners_in_use tuner_count viewers}"),
    r("GET", "/api/performance/health", "The same as /api/performance/stats", "", "{status uptime_seconds requests request_mean_ms process_rss_bytes cpu_percent ffmpeg_processes tuners_in_use tuner_count viewers}"),
    r("GET", "/api/performance/requests/endpoints", "Per route: count, mean and longest time, errors (slowest first)", "", "{endpoints count}"),
    r("GET", "/api/performance/requests/slow", "The slowest requests since start", "", "{requests kept}"),
    r("GET", "/api/performance/cache", "The output cache (M3U, XMLTV, lineup): entries, bytes, hits, misses", "", "{outputs}"),
    r("POST", "/api/performance/cache/clear", "Drop every cached rendering", "", "{success cleared}"),
    r("GET", "/api/performance/database", "A read and a write round trip timed now; file, WAL and page counts", "", "{read_round_trip_ms write_round_trip_ms file_bytes wal_bytes page_count freelist_pages journal_mode}"),
    r("GET", "/api/performance/ffmpeg", "FFmpeg children: count, CPU seconds, RSS (from /proc); tuners", "", "{processes cpu_seconds_total rss_bytes_total tuners_in_use tuner_count}"),
    r("GET", "/api/performance/ffmpeg/processes", "Each FFmpeg child: pid, CPU, RSS, age", "", "{processes cpu_seconds_total rss_bytes_total tuners_in_use tuner_count processes_detail}"),
    r("GET", "/api/performance/tasks", "The background tasks", "", "{tasks count}"),
    r("GET", "/api/performance/tasks/scheduled", "The background tasks", "", "{tasks count}"),
    r("GET", "/api/performance/tasks/recent", "The tasks' latest records from the log ring", "", "{recent count}"),
    r("GET", "/api/player/channel/{num}/stream", "A channel's HLS URL for a player (404 unknown, 409 disabled)", "", "{channel_number channel_name stream_url format}"),
    r("POST", "/api/player/channel/{num}/switch", "Switch a player to a channel: its HLS URL", "", "{status channel_number channel_name stream_url}"),
    r("GET", "/api/player/channel/{num}/metadata", "What plays now on the channel, from the stored timeline", "", "{channel_number channel_name current_item_index elapsed_seconds elapsed_seconds_in_item current_item_start_time playout_start_time current_item}"),
    r("POST", "/api/player/control", "Check and acknowledge a player command (a live channel has no server-side pause)", "?action* ?value", "{status action value}"),
    r("GET", "/api/validation/status", "The validator: files, valid, invalid, a background run's progress (off without FFmpeg)", "", "{enabled watching total_files valid_files invalid_files running checked queued}"),
    r("GET", "/api/validation/results", "Stored verdicts, newest first", "?valid ?limit", "{count results}"),
    r("GET", "/api/validation/results/{file_path}", "One file's verdict (the path percent-encoded)", "", "{media_item_id file_path valid reason checked_at}"),
    r("POST", "/api/validation/validate", "Check one library file: ffprobe, then its first and last seconds decoded (503 without FFmpeg)", "?file_path ?media_item_id ?force", "{media_item_id file_path valid reason checked_at}"),
    r("POST", "/api/validation/validate-all", "Check every local file in the background (409 while one runs)", "", "{status total results valid invalid message}"),
    r("POST", "/api/validation/clear-cache", "Forget every verdict (invalid files may play again)", "", "{success cleared}"),
    r("GET", "/api/logs", "What the log routes offer", "", "{message endpoints status}"),
    r("GET", "/api/logs/entries", "Recent records from the in-memory ring", "?lines ?filter_level ?target ?search", "{entries total_lines showing}"),
    r("GET", "/api/logs/stream", "New records as Server-Sent Events", "", "sse"),
    r("GET POST", "/api/logs/clear", "Empty the in-memory ring", "", "{success message}"),
    r("GET", "/api/logs/{entry_id}", "One record with its context", "", "{entry context}"),
    r("POST", "/api/logs/browser", "Report a browser error", "type message* stack url line col", "{success}"),
    r("GET", "/api/logs/browser/entries", "Reported browser errors", "?limit", "{entries count}"),
    r("POST DELETE", "/api/logs/browser/clear", "Forget the reported browser errors", "", "{success}"),
    r("GET", "/api/logs/lifecycle/status", "The in-memory ring as EXStreamTV's log status (nothing is written to disk)", "", "{active_logs archived_logs total_active_size_mb total_archive_size_mb config}"),
    r("POST", "/api/logs/lifecycle/archive-now", "Nothing to archive: no log file is written", "", "{success archived deleted message}"),
    r("POST", "/api/logs/lifecycle/cleanup-now", "Nothing to delete: no log file is written", "", "{success archived deleted message}"),
    r("POST", "/api/logs/lifecycle/truncate-now", "Empty the in-memory ring", "", "{success truncated_records message}"),
    r("GET", "/api/logs/ollama/entries", "The AI module's records from the ring", "?lines", "{entries showing source}"),
    r("GET", "/api/logs/ollama/directory", "Where the AI module's logs are: the ring, no file", "", "{directory exists message}"),
    r("GET", "/api/ollama/status", "Whether Ollama answers at ai.base_url (2 s), its models, this machine", "", "{installed server_running base_url system_info recommended_models installed_models}"),
    r("POST", "/api/ollama/install", "501: nothing is installed; says how to install Ollama", "", "json"),
    r("POST", "/api/ollama/models/{id}/install", "501: nothing is downloaded; says how to pull a model", "", "json"),
    r("DELETE", "/api/ollama/models/{id}", "501: models are removed with ollama rm", "", "json"),
    r("POST", "/api/ollama/query", "The troubleshooting agent over the logs (rules): patterns, its plan, per ai.agent.mode", "query* include_streamtv_logs include_plex_logs include_browser_logs include_ollama_logs", "{success model response fixes log_matches context_used persona}"),
    r("GET", "/api/ollama/welcome", "The assistant's greeting", "", "{message}"),
    r("POST", "/api/ollama/conversation/clear", "Forget the conversation (rules keep none)", "", "{success}"),
    r("GET", "/api/ollama/pending-approvals", "Fixes waiting for approval (ai.agent.mode approve)", "", "{approvals}"),
    r("GET", "/api/ollama/fix-history", "Executed, failed and rejected fixes, newest first", "", "{fixes}"),
    r("POST", "/api/ollama/approvals/{id}/approve", "Run a queued fix through the registry's guards (409 in off or dry_run)", "", "{success fix}"),
    r("POST", "/api/ollama/approvals/{id}/reject", "Reject a queued fix; nothing runs", "reason", "{success}"),
    r("POST", "/api/ollama/fixes/{id}/apply", "Run a queued fix through the guards (409 when the mode forbids it)", "", "{success fix}"),
    r("GET", "/api/logs/plex/logs", "Our records about Plex servers (the Plex machine's files are not readable here)", "?lines", "{entries showing source}"),
    r("GET", "/api/logs/plex/logs/entries", "The same as /api/logs/plex/logs", "?lines", "{entries showing source}"),
    r("GET", "/api/logs/plex/logs/directory", "Where Plex's own logs are: not on this box", "", "{directory exists message}"),
    r("GET", "/api/logs/plex/logs/files", "Plex log files readable here: none", "", "{files}"),
    // Settings
    r("GET", "/api/settings", "Every settings section", "", "json"),
    r("GET", "/api/settings/server", "The listen address and log level", "", "{host port debug log_level}"),
    r("GET PUT PATCH", "/api/settings/{section}", "One settings section (a PUT merges and applies live)", "", "json"),
    r("GET PUT PATCH", "/api/settings/plex", "The default Plex server (the lowest-id Plex media source): the token redacted; use_for_epg only false", "enabled base_url token use_for_epg", "{enabled base_url token has_token use_for_epg media_source_id name}"),
    r("POST", "/api/settings/plex/test", "Reach the Plex server: name, version, libraries", "", "{success server_name version library_count libraries}"),
    r("GET", "/api/settings/plex/libraries", "The Plex server's libraries", "", "[{key name type agent}]"),
    r("POST", "/api/settings/plex/scan-library/{key}", "Scan our library of that Plex library key", "", "{success library_id status message}"),
    r("POST", "/api/settings/plex/rebuild-channel-playout/{channel_id}", "Rebuild a channel's playout from now", "", "{playout_id status message items}"),
    r("POST", "/api/settings/plex/rebuild-all-playouts", "Rebuild every playout from now", "", "{success playouts message}"),
    r("POST", "/api/settings/plex/refresh-urls", "Nothing to refresh: play URLs are signed per play (says so, with the item count)", "", "{success refreshed items message}"),
    r("POST", "/api/settings/plex/fix-library-ids", "Link Plex libraries that name no server to the server with their URL", "", "{success checked fixed unfixable message}"),
    r("POST", "/api/settings/plex/cleanup-duplicates", "Mark repeated Plex items (same rating key) missing, keeping the oldest", "", "{success duplicates_found marked_missing message}"),
    r("GET", "/api/settings/plex/test-channel/{channel_id}", "What the channel plays now and whether its source still has it", "", "{channel_id playing playable detail}"),
    r("GET", "/api/settings/plex/preview-filter", "Our Plex items matching a filter (at most 100)", "?title ?type ?genre ?year ?show_title", "{count limit items}"),
    r("POST", "/api/settings/plex/reload-guide", "501: Plex's guide is not imported", "", "error"),
    r("POST", "/api/settings/plex/auto-populate-playlists", "501: playlists are not filled from Plex filters", "", "error"),
    r("POST", "/api/settings/plex/rebuild-playlist/{playlist_id}", "501: playlists are not filled from Plex filters", "", "error"),
    r("POST", "/api/settings/plex/oauth/discover", "501: the PIN sign-in needs plex.tv", "", "error"),
    r("GET", "/api/settings/plex/oauth/pin", "501: the PIN sign-in needs plex.tv", "", "error"),
    r("GET", "/api/settings/plex/oauth/poll/{pin_id}", "501: the PIN sign-in needs plex.tv", "", "error"),
    // Health, dashboard, metrics, documentation
    r("GET", "/api/health", "Liveness with the version", "", "{status version timestamp}"),
    r("GET", "/api/health/live", "Alive", "", "{status}"),
    r("GET", "/api/health/ready", "Ready (503 until the database is open)", "", "{status}"),
    r("GET", "/api/health/detailed", "Components and system", "", "{status version timestamp system components config}"),
    r("GET", "/api/health/db", "The database", "", "{status pool_stats utilization_percent timestamp}"),
    r("GET", "/api/health/channels", "Running channels' health", "", "{status total_channels unhealthy_channels channels timestamp}"),
    r("GET", "/api/health/streaming", "FFmpeg processes", "", "{status watchdog url_resolver timestamp}"),
    r("GET", "/api/dashboard", "The dashboard's summary", "", "{message endpoints summary}"),
    r("GET", "/api/dashboard/stats", "Every dashboard figure", "", "{quick_stats system_info resource_usage active_streams recent_activity storage_breakdown}"),
    r("GET", "/api/dashboard/quick-stats", "Headline counts", "", "[{label value change icon color}]"),
    r("GET", "/api/dashboard/system-info", "The host", "", "{hostname platform python_version cpu_count memory_total_gb disk_total_gb uptime_hours}"),
    r("GET", "/api/dashboard/resource-usage", "CPU, memory, disk, network", "", "{cpu_percent memory_percent memory_used_gb disk_percent disk_used_gb network_sent_mb network_recv_mb}"),
    r("GET", "/api/dashboard/active-streams", "Channels streaming now", "", "[{channel_id channel_name channel_number current_item viewers uptime_minutes bitrate_kbps}]"),
    r("GET", "/api/dashboard/activity", "Recent events", "?limit", "[{id type message timestamp icon color}]"),
    r("GET", "/api/dashboard/stream-history", "Viewers and streams over time", "", "{hourly_viewers daily_streams weekly_bandwidth}"),
    r("GET", "/api/dashboard/library-stats", "Items per source", "", "{local plex jellyfin emby}"),
    r("GET", "/metrics", "Prometheus metrics", "", "text"),
    r("GET", "/health", "Liveness", "", "{status version app}"),
    r("GET", "/version", "The version", "", "{version app description}"),
    r("GET", "/", "The web UI; the JSON index (as /api) when Accept is application/json alone", "", "html"),
    r("GET", "/api", "Where the documents are", "", "{app version m3u xmltv hdhomerun api ui}"),
    r("GET", "/ui", "The web UI (any path under /ui/ but its assets)", "", "html"),
    r("GET", "/ui/assets/{file}", "A web UI asset by its content-hashed name: gzip, immutable", "", "text"),
    r("GET", "/favicon.ico", "The web UI's icon (SVG)", "", "image"),
    r("GET POST DELETE", "/api/auth/session", "Web UI login: GET whether the cookie is a live session; POST the API token for an HttpOnly session cookie (204); DELETE logs out", "token*", "{authenticated}"),
    r("GET", "/api/ai/channel", "EXStreamTV's AI creator page: 302 to the web UI's", "", "empty"),
    r("GET", "/openapi.json", "This document", "", "json"),
    r("GET", "/docs", "This document as an HTML page", "", "html"),
    r("GET", "/documentation", "This document as an HTML page", "", "html"),
    // IPTV
    r("GET", "/iptv/channels.m3u", "The channel playlist", "?mode ?access_token", "m3u"),
    r("GET", "/iptv/xmltv.xml", "The guide (relayed channels from their M3U source's url-tvg guide when it lists them)", "?access_token", "xml"),
    r("POST", "/iptv/xmltv/refresh", "Regenerate the guide on its next fetch", "", "{status message}"),
    r("GET", "/iptv/channel/{number}.ts", "A channel as continuous MPEG-TS", "?access_token", "ts"),
    r("GET", "/iptv/channel/{number}.m3u8", "A channel as live HLS", "?access_token", "m3u"),
    r("GET", "/iptv/channel/{number}/seg/{seq}.ts", "One HLS segment", "?access_token", "ts"),
    r("GET OPTIONS", "/iptv/stream/{media_id}", "One library item as MPEG-TS (?raw=1: the file, with Range)", "?start ?raw ?access_token", "ts"),
    r("GET", "/iptv/remote/{media_id}", "A Plex/Jellyfin/Emby item's bytes for our FFmpeg (loopback, signed, expiring; Range passes through)", "?exp ?sig", "ts"),
    // HDHomeRun
    r("GET", "/hdhomerun/discover.json", "The tuner's identity", "?access_token", "json"),
    r("GET", "/hdhomerun/lineup.json", "The channel lineup", "?show ?access_token", "json"),
    r("GET", "/hdhomerun/lineup_status.json", "The scan status", "", "json"),
    r("GET", "/hdhomerun/status.json", "The tuners' status", "", "json"),
    r("POST", "/hdhomerun/lineup.post", "Start or abort a channel scan", "?scan* ?source", "empty"),
    r("GET", "/hdhomerun/device.xml", "The UPnP device description", "", "xml"),
    r("GET", "/hdhomerun/service.xml", "The ContentDirectory service description", "", "xml"),
    r("POST", "/hdhomerun/control", "UPnP control (acknowledged)", "", "empty"),
    r("GET POST", "/hdhomerun/event", "UPnP events (acknowledged)", "", "empty"),
    r("GET", "/hdhomerun/epg", "The guide (as /iptv/xmltv.xml)", "?access_token", "xml"),
    r("GET", "/hdhomerun/auto/v{number}", "Tune a channel: MPEG-TS", "?access_token", "ts"),
    r("GET", "/hdhomerun/tuner{n}/stream", "Tune on a given tuner: MPEG-TS", "?channel* ?url ?access_token", "ts"),
    r("GET", "/api/lineup_status.json", "The scan status (open)", "", "json"),
    r("GET", "/discover.json", "307 to /hdhomerun/discover.json", "", "empty"),
    r("GET", "/lineup.json", "307 to /hdhomerun/lineup.json", "", "empty"),
    r("GET", "/lineup_status.json", "307 to /hdhomerun/lineup_status.json", "", "empty"),
    r("GET", "/device.xml", "The UPnP device description", "", "xml"),
    r("POST", "/lineup.post", "As /hdhomerun/lineup.post", "?scan* ?source", "empty"),
    r("GET", "/auto/v{number}", "As /hdhomerun/auto/v{number}", "?access_token", "ts"),
];

/// The resources the routes send and take, by field name.
#[rustfmt::skip]
const SCHEMAS: &[(&str, &str)] = &[
    ("Channel", "id number* name* group enabled logo_path logo_url playout_mode streaming_mode transcode_mode transcode_profile ffmpeg_profile_id watermark_id subtitle_mode preferred_audio_language_code preferred_audio_title preferred_subtitle_language_code stream_selector_mode stream_selector music_video_credits_mode music_video_credits_template song_video_mode idle_behavior playout_source mirror_source_channel_id playout_offset show_in_epg is_yaml_source created_at updated_at"),
    ("MediaItem", "id source source_id external_id library_id url title description duration thumbnail poster_path art_url uploader upload_date view_count meta_data media_type year content_rating genres studio show_title season_number episode_number episode_number_end added_date originally_available rating created_at updated_at container video_codec width height frame_rate field_order audio_codec audio_channels audio_sample_rate probe_error is_missing file_size"),
    ("Playlist", "id name* description channel_id created_at updated_at items"),
    ("Collection", "id name* description collection_type search_query auto_folder item_count created_at updated_at items"),
    ("Schedule", "id name* channel_id keep_multi_part_episodes_together treat_collections_as_shows shuffle_schedule_items random_start_point is_yaml_source playlist_id collection_id start_time end_time repeat created_at updated_at"),
    ("SItem", "id schedule_id position collection_type collection_id custom_title playback_mode multiple_count duration_minutes start_time playback_order guide_mode created_at updated_at"),
    ("ScheduleItem", "id schedule_id index start_type start_time fixed_start_time_behavior collection_type collection_id media_item_id playlist_id search_title search_query plex_show_key plex_season_key plex_artist_key playback_order playout_mode multiple_mode multiple_count playout_duration_hours playout_duration_minutes fill_with_group_mode tail_mode tail_filler_collection_id discard_to_fill_attempts custom_title guide_mode pre_roll_filler_id mid_roll_filler_id post_roll_filler_id tail_filler_id fallback_filler_id watermark_id preferred_audio_language preferred_audio_title preferred_subtitle_language subtitle_mode created_at updated_at"),
    ("ScheduleHistoryEntry", "id schedule_id created_at label schedule items"),
    ("Library", "id name library_type source_type is_enabled last_scan item_count status path server_url"),
    ("Scan", "library_id status total_files scanned_files new_items errors current_file percent_complete started_at"),
    ("Profile", "id name* resolution_id* thread_count hardware_acceleration video_codec video_bitrate video_buffer_size framerate quality_preset quality_crf audio_codec audio_bitrate audio_channels audio_sample_rate normalize_audio audio_loudness_target deinterlace scaling_mode pad_color is_default is_enabled copy_mode created_at updated_at"),
    ("Resolution", "id name* width* height* is_custom"),
    ("Preset", "id name* filler_mode count duration_seconds pad_to_minutes playback_order allow_repeats created_at updated_at items"),
    ("FItem", "id preset_id collection_type collection_id media_item_id weight min_duration_seconds max_duration_seconds"),
    ("BlockGroup", "id name* block_count"),
    ("Block", "id name* group_id start_time* duration_minutes* days_of_week stop_before_end created_at updated_at items"),
    ("BItem", "id position collection_type collection_id* playback_order include_in_guide disable_watermarks"),
    ("TemplateGroup", "id name* template_count"),
    ("Template", "id name* group_id is_enabled created_at updated_at items"),
    ("TItem", "id start_time block_id* block_name duration_minutes"),
    ("DecoGroup", "id name* deco_count"),
    ("Deco", "id name* group_id deco_type media_item_id file_path duration_seconds static_duration_seconds weight created_at updated_at"),
    ("Watermark", "id name* mode image_source location size width_percent horizontal_margin_percent vertical_margin_percent frequency_minutes duration_seconds opacity place_within_source_content opacity_expression z_index image original_content_type created_at updated_at"),
    ("Playout", "id channel_id program_schedule_id template_id playout_type daily_reset_time is_active created_at updated_at"),
    ("Error", "detail*"),
];

/// `/openapi.json`.
pub async fn document(app: &Arc<App>, req: &Req) -> ApiResult {
    // The token first, as under /api: an anonymous caller learns nothing of the route.
    app.api_token.check(req)?;
    router::only_get(req)?;
    static DOC: OnceLock<Bytes> = OnceLock::new();
    let doc = DOC.get_or_init(|| Bytes::from(openapi().to_string()));
    Ok(body::bytes("application/json", doc.clone()))
}

/// `/docs` and `/documentation`.
pub async fn page(app: &Arc<App>, req: &Req) -> ApiResult {
    app.api_token.check(req)?;
    router::only_get(req)?;
    static PAGE: OnceLock<Bytes> = OnceLock::new();
    let page = PAGE.get_or_init(|| Bytes::from(html()));
    Ok(body::bytes("text/html; charset=utf-8", page.clone()))
}

/// The OpenAPI 3.0 document of `ROUTES`.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let mut ops = Map::new();
        for method in route.methods.split(' ') {
            ops.insert(method.to_ascii_lowercase(), operation(route, method));
        }
        paths.insert(route.path.to_string(), Value::Object(ops));
    }
    let schemas: Map<String, Value> = SCHEMAS
        .iter()
        .map(|(name, fields)| ((*name).to_string(), object_schema(fields)))
        .collect();
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "exstreamtv",
            "version": crate::VERSION,
            "description": "Live TV channels from a media library. Every GET also answers HEAD; \
                PUT and PATCH are partial (only the fields sent change; a schema's required fields are \
                needed on create). Errors are {\"detail\": \"...\"}. /api needs the API token except /api/health* \
                and /api/lineup_status.json; the TV routes (/iptv, /hdhomerun) need \
                ?access_token= only when iptv.access_token is set (off by default).",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "accessToken": {"type": "apiKey", "in": "query", "name": "access_token"},
            },
            "schemas": schemas,
        },
    })
}

fn operation(route: &Route, method: &str) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), route.summary.into());
    op.insert(
        "operationId".into(),
        format!("{} {}", method.to_ascii_lowercase(), route.path).into(),
    );
    let security = match route.auth() {
        Auth::Token => json!([{"bearer": []}, {"apiKey": []}]),
        Auth::AccessToken => json!([{}, {"accessToken": []}]),
        Auth::Open => json!([]),
    };
    op.insert("security".into(), security);
    let mut params: Vec<Value> = path_params(route.path).map(path_param).collect();
    let mut fields = Vec::new();
    let mut body_ref = None;
    let mut upload = None;
    for token in route.input.split_whitespace() {
        if let Some(q) = token.strip_prefix('?') {
            let (name, required) = required(q);
            if name != "access_token" {
                params
                    .push(json!({"name": name, "in": "query", "required": required, "schema": {}}));
            }
        } else if let Some(schema) = token.strip_prefix('@') {
            body_ref = Some(schema);
        } else if let Some(file) = token.strip_prefix("multipart:") {
            upload = Some(file);
        } else {
            fields.push(token);
        }
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }
    let takes_body = matches!(method, "POST" | "PUT" | "PATCH");
    if takes_body {
        let content = if let Some(file) = upload {
            json!({"multipart/form-data": {"schema": {
                "type": "object", "required": [file],
                "properties": {file: {"type": "string", "format": "binary"}},
            }}})
        } else if body_ref.is_some() || !fields.is_empty() {
            let schema = match body_ref {
                Some(name) if fields.is_empty() => schema_ref(name),
                Some(name) => {
                    json!({"allOf": [schema_ref(name), object_schema(&fields.join(" "))]})
                }
                None => object_schema(&fields.join(" ")),
            };
            json!({"application/json": {"schema": schema}})
        } else {
            Value::Null
        };
        if !content.is_null() {
            op.insert(
                "requestBody".into(),
                json!({"required": false, "content": content}),
            );
        }
    }
    let (output, created) = match route.output.split_once('+') {
        Some((output, created)) => (output.trim(), Some(created)),
        None => (route.output, None),
    };
    let (code, ok) = match (method, created) {
        ("DELETE", _) => ("204", json!({"description": "done"})),
        ("OPTIONS", _) => ("200", json!({"description": "CORS preflight"})),
        ("POST", Some(created)) => ("201", response(created)),
        _ => ("200", response(output)),
    };
    let mut responses = Map::new();
    responses.insert(code.into(), ok);
    responses.insert(
        "default".into(),
        json!({"description": "an error", "content": {"application/json": {"schema": schema_ref("Error")}}}),
    );
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

/// The `{name}` parameters of a path template, in order.
pub fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

fn path_param(name: &str) -> Value {
    let integer = name == "id" || name == "n" || name == "seq" || name.ends_with("_id");
    let schema = if integer {
        json!({"type": "integer", "minimum": if name == "n" || name == "seq" { 0 } else { 1 }})
    } else {
        match name {
            "number" => json!({"type": "string", "pattern": "^\\d+(\\.\\d+)?$", "example": "100"}),
            "section" => json!({"type": "string", "example": "ffmpeg", "enum": [
                "ffmpeg", "hdhomerun", "hdhr", "streaming", "stream-throttler", "stream_throttler",
                "playout", "iptv", "channels", "breaker", "library"]}),
            "kind" => {
                json!({"type": "string", "example": "poster", "enum": ["poster", "thumb", "fanart"]})
            }
            "file" => json!({"type": "string", "example": "channel_1.png"}),
            "type" => {
                json!({"type": "string", "example": "plex", "enum": ["plex", "jellyfin", "emby"]})
            }
            "entry_id" => {
                json!({"type": "string", "example": "aGVsbG8", "description": "base64 of the record's line"})
            }
            _ => json!({"type": "string", "example": "Demo"}),
        }
    };
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn required(name: &str) -> (&str, bool) {
    match name.strip_suffix('*') {
        Some(name) => (name, true),
        None => (name, false),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// An object with these fields (`f*` required); their types are the resource's (API.md).
fn object_schema(fields: &str) -> Value {
    let mut properties = Map::new();
    let mut needed = Vec::new();
    for field in fields.split_whitespace() {
        let (name, is_required) = required(field);
        properties.insert(name.to_string(), json!({}));
        if is_required {
            needed.push(Value::from(name));
        }
    }
    let mut schema = json!({"type": "object", "properties": properties});
    if !needed.is_empty() {
        schema["required"] = Value::Array(needed);
    }
    schema
}

fn response(output: &str) -> Value {
    let json_of = |schema: Value| json!({"description": "ok", "content": {"application/json": {"schema": schema}}});
    if let Some(inner) = output.strip_prefix('[').and_then(|o| o.strip_suffix(']')) {
        let item = match inner.strip_prefix('@') {
            Some(name) => schema_ref(name),
            None => object_schema(inner.trim_matches(|c| c == '{' || c == '}')),
        };
        return json_of(json!({"type": "array", "items": item}));
    }
    if let Some(name) = output.strip_prefix('@') {
        return json_of(schema_ref(name));
    }
    if let Some(fields) = output.strip_prefix('{').and_then(|o| o.strip_suffix('}')) {
        return json_of(object_schema(fields));
    }
    let media = match output {
        "json" => "application/json",
        "xml" => "application/xml",
        "m3u" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "sse" => "text/event-stream",
        "text" => "text/plain",
        "html" => "text/html",
        "png" => "image/png",
        "image" => "image/*",
        _ => return json!({"description": "no body"}),
    };
    json!({"description": "ok", "content": {media: {}}})
}

/// The HTML page: the routes in a table, no script (about 13 KB; the fields are in the
/// document).
fn html() -> String {
    let mut out = String::with_capacity(24 * 1024);
    out.push_str(
        "<!doctype html><html lang=en><meta charset=utf-8><title>exstreamtv API</title>\
         <style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:75em}\
         table{border-collapse:collapse}td,th{padding:3px 8px;text-align:left;vertical-align:top;\
         border-bottom:1px solid #ddd}code{font-size:13px}</style>",
    );
    let _ = write!(
        out,
        "<h1>exstreamtv API {}</h1><p>The machine-readable form is <a href=/openapi.json>\
         /openapi.json</a> (OpenAPI 3.0). <b>token</b>: <code>Authorization: Bearer &lt;token&gt;</code> \
         or <code>X-Api-Key</code>; <b>tv</b>: open, with <code>?access_token=</code> when \
         <code>iptv.access_token</code> is set (off by default). Every GET also answers HEAD; \
         errors are <code>{{\"detail\": \"...\"}}</code>. Each route's inputs and outputs, \
         by name, are in the document.</p>\
         <table><tr><th>Methods<th>Path<th>Auth<th>What",
        crate::VERSION
    );
    for route in ROUTES {
        let auth = match route.auth() {
            Auth::Token => "token",
            Auth::AccessToken => "tv",
            Auth::Open => "open",
        };
        let _ = write!(
            out,
            "<tr><td>{}<td><code>{}</code><td>{auth}<td>{}",
            route.methods,
            escape(route.path),
            escape(route.summary),
        );
    }
    out.push_str("</table></html>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_one_path_with_known_methods_and_outputs() {
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(seen.insert(route.path), "{} listed twice", route.path);
            for method in route.methods.split(' ') {
                assert!(
                    matches!(
                        method,
                        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS"
                    ),
                    "{method} {}",
                    route.path
                );
            }
            for name in route
                .input
                .split_whitespace()
                .chain(route.output.split([' ', '+', '[', ']']))
                .filter_map(|t| t.strip_prefix('@'))
            {
                assert!(
                    SCHEMAS.iter().any(|(s, _)| *s == name),
                    "{}: no schema {name}",
                    route.path
                );
            }
        }
        let doc = openapi();
        assert_eq!(doc["paths"].as_object().unwrap().len(), ROUTES.len());
        assert_eq!(
            doc["paths"]["/api/schedule-history/{id}/revert"]["post"]["parameters"][0]["name"],
            "id"
        );
        // As tests/it/openapi.rs: one line per route, no bundle.
        assert!(html().len() < 64 * 1024, "the page stays small");
    }
}
