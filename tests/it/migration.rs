//! Migration from ErsatzTV and StreamTV (issue 17) through the real binary: the test writes
//! an ErsatzTV-shaped SQLite file (ErsatzTV's own table and column names, its integer
//! enums, table-per-type schedule items; its paths as ErsatzTV in Docker saw them) and a
//! StreamTV one, over clips it generates, puts them under the data dir's `import/`, and
//! checks that the channels come over and play, that what does not fit is a warning, and
//! the bad input.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use serde_json::{json, Value};

use crate::support::{media, wait_until, Client, TempDir, TestServer};

/// ErsatzTV's tables, as far as the migration reads them.
const ERSATZTV: &str = r#"
CREATE TABLE Library (Id INTEGER PRIMARY KEY, Name TEXT, MediaKind INTEGER);
CREATE TABLE LocalLibrary (Id INTEGER PRIMARY KEY);
CREATE TABLE LibraryPath (Id INTEGER PRIMARY KEY, Path TEXT, LibraryId INTEGER);
CREATE TABLE MediaItem (Id INTEGER PRIMARY KEY, LibraryPathId INTEGER);
CREATE TABLE MediaVersion (Id INTEGER PRIMARY KEY, Name TEXT, EpisodeId INTEGER, MovieId INTEGER, OtherVideoId INTEGER);
CREATE TABLE MediaFile (Id INTEGER PRIMARY KEY, Path TEXT, MediaVersionId INTEGER);
CREATE TABLE Collection (Id INTEGER PRIMARY KEY, Name TEXT, UseCustomPlaybackOrder INTEGER);
CREATE TABLE CollectionItem (CollectionId INTEGER, MediaItemId INTEGER, CustomIndex INTEGER);
CREATE TABLE Resolution (Id INTEGER PRIMARY KEY, Name TEXT, Width INTEGER, Height INTEGER);
CREATE TABLE FFmpegProfile (Id INTEGER PRIMARY KEY, Name TEXT, ResolutionId INTEGER, VideoBitrate INTEGER,
    VideoBufferSize INTEGER, AudioBitrate INTEGER, AudioChannels INTEGER, AudioSampleRate INTEGER);
CREATE TABLE ProgramSchedule (Id INTEGER PRIMARY KEY, Name TEXT, KeepMultiPartEpisodesTogether INTEGER,
    ShuffleScheduleItems INTEGER, RandomStartPoint INTEGER, TreatCollectionsAsShows INTEGER);
CREATE TABLE ProgramScheduleItem (Id INTEGER PRIMARY KEY, "Index" INTEGER, ProgramScheduleId INTEGER,
    CollectionType INTEGER, CollectionId INTEGER, MediaItemId INTEGER, PlaybackOrder INTEGER, StartTime TEXT);
CREATE TABLE ProgramScheduleFloodItem (Id INTEGER PRIMARY KEY);
CREATE TABLE ProgramScheduleOneItem (Id INTEGER PRIMARY KEY);
CREATE TABLE Playout (Id INTEGER PRIMARY KEY, ChannelId INTEGER, ProgramScheduleId INTEGER);
CREATE TABLE Channel (Id INTEGER PRIMARY KEY, Number TEXT, Name TEXT, "Group" TEXT, FFmpegProfileId INTEGER,
    IsEnabled INTEGER, UniqueId TEXT);
"#;

/// An ErsatzTV database at `path` whose library folder is `/ersatz/media` (the clips' folder
/// as ErsatzTV's container saw it): channel 500 floods the collection "Favourites" (both
/// clips), 501 plays one clip then a TV show (not carried over), 1 collides with the demo.
fn ersatztv_db(path: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(ERSATZTV).unwrap();
    conn.execute_batch(
        r#"
        INSERT INTO Library VALUES (1, 'Shows', 2);
        INSERT INTO LocalLibrary VALUES (1);
        INSERT INTO Library VALUES (2, 'Plex Movies', 1);
        INSERT INTO LibraryPath VALUES (1, '/ersatz/media', 1);
        INSERT INTO LibraryPath VALUES (2, '/data/plex/movies', 2);
        INSERT INTO MediaItem VALUES (10, 1), (11, 1);
        INSERT INTO MediaVersion VALUES (1, 'Main', NULL, NULL, 10), (2, 'Main', 11, NULL, NULL);
        INSERT INTO MediaFile VALUES (1, '/ersatz/media/Alpha.mp4', 1), (2, '/ersatz/media/Beta.mp4', 2);
        INSERT INTO Collection VALUES (1, 'Favourites', 0);
        INSERT INTO CollectionItem VALUES (1, 10, NULL), (1, 11, NULL);
        INSERT INTO Resolution VALUES (1, '640x360', 640, 360);
        INSERT INTO FFmpegProfile VALUES (1, 'ETV Small', 1, 1500, 3000, 128, 2, 48000);
        INSERT INTO ProgramSchedule VALUES (1, 'Favourites all day', 1, 0, 0, 0), (2, 'Mixed', 0, 0, 0, 0);
        INSERT INTO ProgramScheduleItem VALUES (1, 0, 1, 0, 1, NULL, 1, NULL);
        INSERT INTO ProgramScheduleFloodItem VALUES (1);
        INSERT INTO ProgramScheduleItem VALUES (2, 0, 2, 40, NULL, 10, 1, NULL);
        INSERT INTO ProgramScheduleOneItem VALUES (2);
        INSERT INTO ProgramScheduleItem VALUES (3, 1, 2, 1, 7, NULL, 1, NULL);
        INSERT INTO ProgramScheduleFloodItem VALUES (3);
        INSERT INTO Playout VALUES (1, 1, 1), (2, 2, 2), (3, 3, 1);
        INSERT INTO Channel VALUES (1, '500', 'ETV Favourites', 'Imported', 1, 1, 'u1');
        INSERT INTO Channel VALUES (2, '501', 'ETV Mixed', NULL, NULL, 1, 'u2');
        INSERT INTO Channel VALUES (3, '1', 'Collides', NULL, NULL, 1, 'u3');
        "#,
    )
    .unwrap();
    // Newer ErsatzTV columns and tables: filler presets and watermarks, named by id from
    // the schedule item and the channel (older files lack them: the reader tolerates that).
    conn.execute_batch(
        r#"
        ALTER TABLE ProgramScheduleItem ADD COLUMN PostRollFillerId INTEGER;
        ALTER TABLE Channel ADD COLUMN WatermarkId INTEGER;
        ALTER TABLE Channel ADD COLUMN FallbackFillerId INTEGER;
        CREATE TABLE FillerPreset (Id INTEGER PRIMARY KEY, Name TEXT, FillerKind INTEGER, FillerMode INTEGER,
            Duration TEXT, Count INTEGER, PadToNearestMinute INTEGER, AllowWatermarks INTEGER,
            CollectionType INTEGER, CollectionId INTEGER, MediaItemId INTEGER);
        CREATE TABLE ChannelWatermark (Id INTEGER PRIMARY KEY, Name TEXT, Mode INTEGER, ImageSource INTEGER,
            Image TEXT, Location INTEGER, Size INTEGER, WidthPercent INTEGER, HorizontalMarginPercent INTEGER,
            VerticalMarginPercent INTEGER, FrequencyMinutes INTEGER, DurationSeconds INTEGER, Opacity INTEGER);
        INSERT INTO FillerPreset VALUES (1, 'ETV Bumps', 3, 2, NULL, 1, NULL, 0, 0, 1, NULL);
        INSERT INTO FillerPreset VALUES (2, 'ETV Dead Air', 5, 0, NULL, NULL, NULL, 0, 0, 1, NULL);
        INSERT INTO FillerPreset VALUES (3, 'ETV Show Filler', 3, 1, '00:05:00', NULL, NULL, 0, 1, 7, NULL);
        INSERT INTO ChannelWatermark VALUES (1, 'ETV Bug', 2, 0, 'ab/cdef.png', 2, 0, 12, 3, 4, 10, 20, 80);
        ALTER TABLE ProgramScheduleItem ADD COLUMN PlaylistId INTEGER;
        CREATE TABLE Playlist (Id INTEGER PRIMARY KEY, Name TEXT, PlaylistGroupId INTEGER);
        CREATE TABLE PlaylistItem (Id INTEGER PRIMARY KEY, "Index" INTEGER, PlaylistId INTEGER,
            CollectionType INTEGER, CollectionId INTEGER, MediaItemId INTEGER, PlaybackOrder INTEGER);
        INSERT INTO Playlist VALUES (1, 'ETV Mix', 1);
        INSERT INTO PlaylistItem VALUES (1, 0, 1, 40, NULL, 11, 1), (2, 1, 1, 1, 7, NULL, 1),
            (3, 2, 1, 0, 1, NULL, 1);
        INSERT INTO ProgramScheduleItem VALUES (4, 2, 2, 0, NULL, NULL, 1, NULL, NULL, 1);
        INSERT INTO ProgramScheduleFloodItem VALUES (4);
        UPDATE ProgramScheduleItem SET PostRollFillerId = 1 WHERE Id = 1;
        UPDATE Channel SET WatermarkId = 1, FallbackFillerId = 2 WHERE Id = 1;
        "#,
    )
    .unwrap();
}

/// A StreamTV database: channel 600 plays its playlist of the two clips (by path).
fn streamtv_db(path: &Path, clips: &Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE channels (id INTEGER PRIMARY KEY, number TEXT, name TEXT, \"group\" TEXT, enabled INTEGER);
         CREATE TABLE media_items (id INTEGER PRIMARY KEY, url TEXT, title TEXT, duration REAL, source TEXT);
         CREATE TABLE playlists (id INTEGER PRIMARY KEY, name TEXT, channel_id INTEGER);
         CREATE TABLE playlist_items (id INTEGER PRIMARY KEY, playlist_id INTEGER, position INTEGER, media_item_id INTEGER);",
    )
    .unwrap();
    for (id, name) in [(1, "Beta"), (2, "Alpha")] {
        let url = clips.join(format!("{name}.mp4")).display().to_string();
        conn.execute(
            "INSERT INTO media_items VALUES (?1, ?2, ?3, NULL, 'local')",
            rusqlite::params![id, url, format!("STV {name}")],
        )
        .unwrap();
        conn.execute("INSERT INTO playlist_items VALUES (?1, 1, ?1, ?1)", [id])
            .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO playlists VALUES (1, 'STV list', 1);
         INSERT INTO channels VALUES (1, '600', 'StreamTV One', 'STV', 1);
         INSERT INTO channels VALUES (2, '601', 'Empty', NULL, 1);",
    )
    .unwrap();
}

fn plays(server: &TestServer, number: &str) -> usize {
    let mut s = server
        .anon()
        .stream(&format!("/iptv/channel/{number}.ts"))
        .unwrap();
    let mut buf = vec![0u8; 188 * 200];
    s.body.read_exact(&mut buf).unwrap();
    s.body.close();
    buf.chunks(188).filter(|p| p[0] == 0x47).count()
}

fn lineup_numbers(server: &TestServer) -> Vec<String> {
    let lineup = server.anon().get("/hdhomerun/lineup.json").json();
    lineup
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["GuideNumber"].as_str().unwrap().to_string())
        .collect()
}

fn post(c: &Client, path: &str, body: &Value) -> Value {
    let r = c.post_json(path, body);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

#[test]
fn an_ersatztv_database_comes_over_and_its_channels_play() {
    let clips = TempDir::new("mig-clips");
    media::clip(&clips.path().join("Alpha.mp4"), 2.0, 440);
    media::clip(&clips.path().join("Beta.mp4"), 2.0, 660);
    let server = TestServer::start();
    let c = server.client();
    let import = server.data_dir().join("import");
    std::fs::create_dir_all(&import).unwrap();
    let db = import.join("ersatztv.sqlite3");
    ersatztv_db(&db);
    let db_path = db.display().to_string();

    let v = post(
        &c,
        "/api/migration/validate/ersatztv",
        &json!({"db_path": db_path}),
    );
    assert_eq!(v["is_valid"], true, "{v}");
    assert_eq!(v["counts"]["Channel"], 3, "{v}");
    assert_eq!(v["counts"]["ProgramScheduleItem"], 4, "{v}");
    let detected = c.get("/api/migration/detect").json();
    assert_eq!(
        detected["ersatztv"][0]["path"],
        db_path.as_str(),
        "{detected}"
    );
    assert_eq!(detected["streamtv"], json!([]), "{detected}");

    // A dry run counts and changes nothing.
    let before = lineup_numbers(&server);
    let dry = post(
        &c,
        "/api/migration/import/ersatztv",
        &json!({"db_path": db_path, "dry_run": true}),
    );
    assert_eq!(dry["success"], true, "{dry}");
    assert_eq!(dry["stats"]["channels"], 3, "{dry}");
    assert_eq!(lineup_numbers(&server), before);
    assert_eq!(c.get("/api/libraries").json().as_array().unwrap().len(), 0);

    let clips_dir = std::fs::canonicalize(clips.path())
        .unwrap()
        .display()
        .to_string();
    let done = post(
        &c,
        "/api/migration/import/ersatztv",
        &json!({"db_path": db_path, "path_prefix_from": "/ersatz/media", "path_prefix_to": clips_dir}),
    );
    assert_eq!(done["success"], true, "{done}");
    let stats = &done["stats"];
    assert_eq!(
        (
            stats["libraries"].clone(),
            stats["collections"].clone(),
            stats["collection_items"].clone()
        ),
        (json!(1), json!(1), json!(2)),
        "{done}"
    );
    assert_eq!(
        (stats["channels"].clone(), stats["channels_skipped"].clone()),
        (json!(2), json!(1)),
        "{done}"
    );
    assert_eq!(stats["ffmpeg_profiles"], 1, "{done}");
    assert_eq!(
        (stats["filler_presets"].clone(), stats["watermarks"].clone()),
        (json!(2), json!(1)),
        "{done}"
    );
    let warnings = done["warnings"].to_string();
    for expected in [
        "playlist \\\"ETV Mix\\\": an item of ErsatzTV collection type 1 is not carried over",
        "filler preset \\\"ETV Show Filler\\\": it draws from ErsatzTV collection type 1",
        "watermark \\\"ETV Bug\\\": its image is in ErsatzTV's artwork cache",
    ] {
        assert!(warnings.contains(expected), "{expected}: {warnings}");
    }
    assert!(
        warnings.contains("channel 1 \\\"Collides\\\" not imported"),
        "{warnings}"
    );
    assert!(warnings.contains("collection type 1"), "{warnings}");
    // The Plex library's folder is on the Plex server: not a library here.
    let libraries = c.get("/api/libraries").json();
    assert_eq!(libraries.as_array().unwrap().len(), 1, "{libraries}");
    let id = done["migration_id"].as_str().unwrap();
    let progress = c.get(&format!("/api/migration/progress/{id}")).json();
    assert_eq!(progress["status"], "completed", "{progress}");

    let numbers = lineup_numbers(&server);
    assert!(
        numbers.contains(&"500".to_string()) && numbers.contains(&"501".to_string()),
        "{numbers:?}"
    );
    let ch = c.get("/api/channels/number/500").json();
    assert_eq!(ch["group"], "Imported", "{ch}");
    let profile = c
        .get(&format!("/api/ffmpeg-profiles/{}", ch["ffmpeg_profile_id"]))
        .json();
    assert_eq!(profile["name"], "ETV Small", "{profile}");
    assert_eq!(profile["video_bitrate"], "1500k", "{profile}");
    // Its playlist: Beta's file, then the collection (the show inside it stayed behind).
    let lists = c.get("/api/playlists").json();
    let mix = lists
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ETV Mix")
        .cloned()
        .unwrap_or_else(|| panic!("{lists}"));
    let entries = c.get(&format!("/api/playlists/{}", mix["id"])).json()["items"].clone();
    assert_eq!(entries.as_array().map(Vec::len), Some(2), "{entries}");
    assert_eq!(entries[1]["collection"]["name"], "Favourites", "{entries}");
    let yaml_mixed = c
        .get(&format!(
            "/api/export/channels/{}/yaml",
            c.get("/api/channels/number/501").json()["id"]
        ))
        .text();
    assert!(yaml_mixed.contains("content: ETV Mix"), "{yaml_mixed}");
    // The presets it names came with it, and are its own here.
    let presets = c.get("/api/filler-presets").json();
    let preset = |name: &str| {
        presets
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {presets}"))
    };
    assert_eq!(preset("ETV Bumps")["filler_mode"], "count", "{presets}");
    assert_eq!(preset("ETV Bumps")["count"], 1, "{presets}");
    let marks = c.get("/api/watermarks").json();
    let mark = marks
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "ETV Bug")
        .cloned()
        .unwrap_or_else(|| panic!("{marks}"));
    assert_eq!(
        (
            mark["mode"].clone(),
            mark["location"].clone(),
            mark["opacity"].clone(),
            mark["frequency_minutes"].clone()
        ),
        (
            json!("intermittent"),
            json!("top_right"),
            json!(80),
            json!(10)
        ),
        "{mark}"
    );
    assert_eq!(ch["watermark_id"], mark["id"], "{ch}");
    let yaml = c
        .get(&format!("/api/export/channels/{}/yaml", ch["id"]))
        .text();
    for part in ["post_roll: ETV Bumps", "fallback: ETV Dead Air"] {
        assert!(yaml.contains(part), "{part} in\n{yaml}");
    }
    // The guide has the collection's clips, by the titles our scan gave them.
    let xml = server.anon().get("/iptv/xmltv.xml").text();
    assert!(
        xml.contains("Alpha") && xml.contains("Beta"),
        "{}",
        &xml[..xml.len().min(3000)]
    );
    assert!(plays(&server, "500") > 150);
    assert!(plays(&server, "501") > 150);
    // Importing again: every channel's number is taken now, nothing is duplicated.
    let again = post(
        &c,
        "/api/migration/import/ersatztv",
        &json!({"db_path": db_path, "path_prefix_from": "/ersatz/media", "path_prefix_to": clips_dir}),
    );
    assert_eq!(again["stats"]["channels"], 0, "{again}");
    assert_eq!(again["stats"]["libraries"], 0, "{again}");
    assert_eq!(c.get("/api/libraries").json().as_array().unwrap().len(), 1);
    // Repair rebuilds every playout (and says so); its dry run only counts.
    let r = c.post("/api/migration/repair/playout-items").json();
    assert_eq!(r["stats"]["rebuilt"], 0, "{r}");
    let r = c
        .post("/api/migration/repair/playout-items?dry_run=false")
        .json();
    assert!(r["stats"]["rebuilt"].as_i64().unwrap() >= 3, "{r}");
}

#[test]
fn a_streamtv_database_its_upload_and_the_bad_input() {
    let clips = TempDir::new("mig-stv");
    media::clip(&clips.path().join("Alpha.mp4"), 2.0, 440);
    media::clip(&clips.path().join("Beta.mp4"), 2.0, 660);
    let server = TestServer::start();
    let c = server.client();
    let import = server.data_dir().join("import");
    std::fs::create_dir_all(&import).unwrap();
    let db = import.join("streamtv.db");
    streamtv_db(&db, clips.path());
    let db_path = db.display().to_string();

    // Bad input first: each a clear answer, nothing created.
    let outside = clips.path().join("x.db");
    std::fs::copy(&db, &outside).unwrap();
    for (body, starts) in [
        (
            json!({"db_path": outside.display().to_string()}),
            "db_path: ",
        ),
        (json!({"db_path": "/etc/passwd"}), "db_path: "),
        (json!({}), "db_path: "),
        (
            json!({"db_path": db_path}),
            "db_path: not a ersatztv database",
        ),
    ] {
        let r = c.post_json("/api/migration/import/ersatztv", &body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert!(r.detail().starts_with(starts), "{body}: {}", r.detail());
    }
    let text = import.join("notes.db");
    std::fs::write(&text, b"not a database at all").unwrap();
    let v = post(
        &c,
        "/api/migration/validate/streamtv",
        &json!({"db_path": text.display().to_string()}),
    );
    assert_eq!(v["is_valid"], false, "{v}");
    assert!(
        v["errors"][0].as_str().unwrap().contains("cannot read"),
        "{v}"
    );
    assert_eq!(
        c.post_json("/api/migration/import/tunarr", &json!({}))
            .status,
        404
    );
    assert_eq!(c.get("/api/migration/progress/nope").status, 404);
    assert_eq!(c.get("/api/migration/import/streamtv").status, 405);
    let r = c.request("POST", "/api/migration/import/streamtv", Some(b"{not json"));
    assert_eq!(r.status, 400, "{}", r.text());

    // The upload: validated from the multipart part, the temporary file removed after.
    let boundary = "migboundary";
    let mut upload = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"db_file\"; filename=\"streamtv.db\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    upload.extend_from_slice(&std::fs::read(&db).unwrap());
    upload.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = c
        .clone()
        .header(
            "Content-Type",
            &format!("multipart/form-data; boundary={boundary}"),
        )
        .request("POST", "/api/migration/validate/streamtv", Some(&upload));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["counts"]["playlist_items"], 2, "{}", r.text());
    let leftovers: Vec<_> = std::fs::read_dir(&import)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let done = post(
        &c,
        "/api/migration/import/streamtv",
        &json!({"db_path": db_path}),
    );
    assert_eq!(done["success"], true, "{done}");
    assert_eq!(done["stats"]["media_items"], 2, "{done}");
    assert_eq!(done["stats"]["playlists"], 1, "{done}");
    assert_eq!(done["stats"]["channels"], 2, "{done}");
    assert!(done["warnings"].to_string().contains("601"), "{done}");
    let ch = c.get("/api/channels/number/600").json();
    assert_eq!(ch["name"], "StreamTV One", "{ch}");
    assert!(wait_until(Duration::from_secs(5), || server
        .anon()
        .get("/iptv/xmltv.xml")
        .text()
        .contains("STV Beta")));
    assert!(plays(&server, "600") > 150);
}

/// EXStreamTV's tables (SQLAlchemy snake_case), as far as the migration reads them.
const EXSTREAMTV: &str = r#"
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
CREATE TABLE ffmpeg_profiles (id INTEGER PRIMARY KEY, name TEXT, custom_width INTEGER, custom_height INTEGER,
    video_bitrate TEXT, video_buffer_size TEXT, audio_bitrate TEXT, audio_channels INTEGER, audio_sample_rate INTEGER);
CREATE TABLE channels (id INTEGER PRIMARY KEY, number TEXT, name TEXT, "group" TEXT, enabled INTEGER,
    ffmpeg_profile_id INTEGER, playout_mode TEXT);
CREATE TABLE media_items (id INTEGER PRIMARY KEY, media_type TEXT, source TEXT, url TEXT, title TEXT, duration INTEGER);
CREATE TABLE playlists (id INTEGER PRIMARY KEY, name TEXT, source_type TEXT, collection_type TEXT);
CREATE TABLE playlist_items (id INTEGER PRIMARY KEY, playlist_id INTEGER, media_item_id INTEGER, source_url TEXT,
    title TEXT, position INTEGER);
CREATE TABLE program_schedules (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE program_schedule_items (id INTEGER PRIMARY KEY, schedule_id INTEGER, position INTEGER,
    collection_type TEXT, collection_id INTEGER, playback_mode TEXT, playback_order TEXT, multiple_count INTEGER);
CREATE TABLE playouts (id INTEGER PRIMARY KEY, channel_id INTEGER, program_schedule_id INTEGER, schedule_kind TEXT);
CREATE TABLE filler_presets (id INTEGER PRIMARY KEY, name TEXT, filler_mode TEXT, count INTEGER,
    duration_seconds INTEGER, pad_to_minutes INTEGER, collection_id INTEGER);
"#;

/// An EXStreamTV database: channel 700 (id 42) floods "EXS list" (both clips, by path),
/// 701 (id 1, taken here by the demo channel) the same; a YouTube item; `revision` stamped.
fn exstreamtv_db(path: &Path, clips: &Path, revision: &str) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(EXSTREAMTV).unwrap();
    for (id, name) in [(1, "Alpha"), (2, "Beta")] {
        let url = clips.join(format!("{name}.mp4")).display().to_string();
        conn.execute(
            "INSERT INTO media_items VALUES (?1, 'other_video', 'local', ?2, ?3, 2)",
            rusqlite::params![id, url, format!("EXS {name}")],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO playlist_items VALUES (?1, 1, ?1, NULL, 'x', ?1)",
            [id],
        )
        .unwrap();
    }
    conn.execute("INSERT INTO alembic_version VALUES (?1)", [revision])
        .unwrap();
    conn.execute_batch(
        "INSERT INTO media_items VALUES (3, 'other_video', 'youtube', 'https://www.youtube.com/watch?v=abc', 'A Tube', 60);
         INSERT INTO ffmpeg_profiles VALUES (1, 'EXS 720', 1280, 720, '3000k', '6000k', '128k', 2, 48000);
         INSERT INTO playlists VALUES (1, 'EXS list', 'local', 'static');
         INSERT INTO program_schedules VALUES (1, 'EXS all day');
         INSERT INTO program_schedule_items VALUES (1, 1, 1, 'playlist', 1, 'flood', 'chronological', NULL);
         INSERT INTO program_schedule_items VALUES (2, 1, 2, 'show', 9, 'one', 'shuffle', NULL);
         INSERT INTO channels VALUES (42, '700', 'EXS Loop', 'EXS', 1, 1, 'continuous');
         INSERT INTO channels VALUES (1, '701', 'EXS Taken', NULL, 1, NULL, 'continuous');
         INSERT INTO playouts VALUES (1, 42, 1, 'flood'), (2, 1, 1, 'flood');
         INSERT INTO filler_presets VALUES (1, 'Bumpers', 'count', 2, NULL, NULL, 1);
         INSERT INTO filler_presets VALUES (2, 'Orphan', 'duration', NULL, 60, NULL, NULL);",
    )
    .unwrap();
}

#[test]
fn an_exstreamtv_database_keeps_its_channel_ids() {
    let clips = TempDir::new("mig-exs");
    media::clip(&clips.path().join("Alpha.mp4"), 2.0, 440);
    media::clip(&clips.path().join("Beta.mp4"), 2.0, 660);
    let server = TestServer::start();
    let c = server.client();
    let import = server.data_dir().join("import");
    std::fs::create_dir_all(&import).unwrap();
    let db = import.join("exstreamtv.db");
    exstreamtv_db(&db, clips.path(), "001");
    let db_path = db.display().to_string();

    let v = post(
        &c,
        "/api/migration/validate/exstreamtv",
        &json!({"db_path": db_path}),
    );
    assert_eq!(v["is_valid"], true, "{v}");
    assert_eq!(v["counts"]["program_schedule_items"], 2, "{v}");
    assert!(!v["warnings"].to_string().contains("newer"), "{v}");
    let detected = c.get("/api/migration/detect").json();
    assert_eq!(
        detected["exstreamtv"][0]["path"],
        db_path.as_str(),
        "{detected}"
    );

    // Its config.yaml: the DeviceID Plex keyed its DVR by comes over (a bad one would not).
    let config = import.join("config.yaml");
    std::fs::write(
        &config,
        "server:\n  port: 8411\nhdhomerun:\n  enabled: true\n  device_id: \"1053c5a3\"\n  device_auth: oldbox\n  tuner_count: 4\n",
    )
    .unwrap();
    let body = json!({"db_path": db_path, "config_path": config.display().to_string()});
    let v = post(&c, "/api/migration/validate/exstreamtv", &body);
    assert_eq!(v["config"]["device_id"], "1053C5A3", "{v}");
    let outside = c.post_json(
        "/api/migration/validate/exstreamtv",
        &json!({"db_path": db_path, "config_path": "/etc/hostname"}),
    );
    assert_eq!(outside.status, 422, "{}", outside.text());
    assert!(
        outside.detail().contains("config_path"),
        "{}",
        outside.detail()
    );

    let done = post(&c, "/api/migration/import/exstreamtv", &body);
    assert_eq!(done["success"], true, "{done}");
    let discover = server.anon().get("/hdhomerun/discover.json").json();
    assert_eq!(discover["DeviceID"], "1053C5A3", "{discover}");
    assert_eq!(discover["DeviceAuth"], "oldbox", "{discover}");
    assert_eq!(done["stats"]["channels"], 2, "{done}");
    assert_eq!(done["stats"]["playlists"], 1, "{done}");
    assert_eq!(done["stats"]["ffmpeg_profiles"], 1, "{done}");
    assert_eq!(done["stats"]["filler_presets"], 1, "{done}");
    let warnings = done["warnings"].to_string();
    for expected in [
        "\\\"A Tube\\\" is a youtube page",
        "id 1 is taken here",
        "show 9 is not carried over",
        "filler preset \\\"Orphan\\\": it names no playlist",
    ] {
        assert!(warnings.contains(expected), "{expected}: {warnings}");
    }
    let numbers = lineup_numbers(&server);
    assert!(
        numbers.contains(&"700".to_string()) && numbers.contains(&"701".to_string()),
        "{numbers:?}"
    );
    let ch = c.get("/api/channels/number/700").json();
    assert_eq!(
        (ch["id"].clone(), ch["group"].clone()),
        (json!(42), json!("EXS")),
        "{ch}"
    );
    let profile = c
        .get(&format!("/api/ffmpeg-profiles/{}", ch["ffmpeg_profile_id"]))
        .json();
    assert_eq!(profile["video_bitrate"], "3000k", "{profile}");
    let m3u = server.anon().get("/iptv/channels.m3u").text();
    assert!(
        m3u.contains("tvg-id=\"exstream.42\" tvg-name=\"EXS Loop\""),
        "{m3u}"
    );
    assert!(wait_until(Duration::from_secs(5), || server
        .anon()
        .get("/iptv/xmltv.xml")
        .text()
        .contains("EXS Beta")));
    assert!(plays(&server, "700") > 150);
}

#[test]
fn an_exstreamtv_database_newer_or_locked() {
    let clips = TempDir::new("mig-exs-bad");
    let server = TestServer::start();
    let c = server.client();
    let import = server.data_dir().join("import");
    std::fs::create_dir_all(&import).unwrap();
    let db = import.join("newer.db");
    exstreamtv_db(&db, clips.path(), "zz_future_9999");
    let body = json!({"db_path": db.display().to_string()});
    let v = post(&c, "/api/migration/validate/exstreamtv", &body);
    assert_eq!(v["is_valid"], true, "{v}");
    assert!(
        v["warnings"]
            .to_string()
            .contains("zz_future_9999 is newer"),
        "{v}"
    );

    // Its server still running and writing: the read fails fast with a clear 409.
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let began = std::time::Instant::now();
    let r = c.post_json("/api/migration/import/exstreamtv", &body);
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        r.detail().contains("locked by another process"),
        "{}",
        r.detail()
    );
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    holder.execute_batch("ROLLBACK").unwrap();
    let r = c.post_json("/api/migration/import/exstreamtv", &body);
    assert_eq!(r.status, 200, "{}", r.text());
}
