//! The closed sets of values stored as text: every mode, order, kind and type a column of
//! `schema.sql` holds (and the API sends) as a string, each an enum with one `FromStr` and
//! one `as_str`. Text is decoded here once, at the edge (an API body, an import, a row the
//! builder or the guide reads); past that point nothing compares these strings again. The
//! database keeps the canonical strings, which are also the wire strings of API.md.
//!
//! Also the one check of a channel number's form (`is_channel_number`), which the API, the
//! lineup and the stream routes share.
//!
//! It depends on nothing else of the crate (only `std` and serde), so the pure `playout`
//! builder can use these types too.

use std::fmt;
use std::str::FromStr;

/// An enum stored and sent as text: the generic face of every `text_enum!` below, for code
/// that validates any of them (API columns, the importer, settings).
pub trait TextEnum: Copy + Eq + FromStr<Err = UnknownValue> + 'static {
    /// The canonical strings, one per variant, in declaration order.
    const NAMES: &'static [&'static str];
    /// Every variant, in declaration order (`NAMES[i]` is `ALL[i].as_str()`).
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
}

/// A text that is none of an enum's values. The message names the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownValue {
    /// What was given, cut to `MAX_SHOWN_CHARS` (it may come from a 32 MiB import).
    value: String,
    expected: &'static [&'static str],
}

/// The most of an unknown value an error message repeats.
const MAX_SHOWN_CHARS: usize = 64;

impl UnknownValue {
    pub fn new(value: &str, expected: &'static [&'static str]) -> UnknownValue {
        UnknownValue {
            value: value.chars().take(MAX_SHOWN_CHARS).collect(),
            expected,
        }
    }

    /// The accepted values, canonical names only.
    pub fn expected(&self) -> &'static [&'static str] {
        self.expected
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown value {:?} (expected one of: {})",
            self.value,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnknownValue {}

/// `names` as a sentence lists them: "movie, show, music or other" (the API's older 422
/// texts word a choice so).
pub fn either(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A value set as data: its names and a parser to its canonical text. Lets table-driven
/// code (API columns, the importer's column list) validate a column against an enum, or a
/// subset of one, without being generic.
#[derive(Debug, Clone, Copy)]
pub struct Values {
    /// The accepted values (canonical names), as error messages list them.
    pub names: &'static [&'static str],
    /// The canonical text of `text` (an alias becomes its canonical name).
    pub canonical: fn(&str) -> Result<&'static str, UnknownValue>,
}

impl Values {
    /// Every value of `T`.
    pub const fn of<T: TextEnum>() -> Values {
        Values {
            names: T::NAMES,
            canonical: canonical::<T>,
        }
    }
}

fn canonical<T: TextEnum>(text: &str) -> Result<&'static str, UnknownValue> {
    text.parse::<T>().map(T::as_str)
}

/// Declares an enum stored as text: the variants with their canonical strings (and any
/// older spellings still accepted, after `|`), `as_str`, `FromStr`, `Display`, serde as the
/// string, and `TextEnum`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident = $text:literal $(| $alias:literal)*
            ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical string: what the database holds and the API sends.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(text: &str) -> Result<$name, UnknownValue> {
                match text {
                    $( $text $(| $alias)* => Ok($name::$variant), )+
                    _ => Err(UnknownValue::new(text, $name::NAMES)),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TextEnum for $name {
            const NAMES: &'static [&'static str] = $name::NAMES;
            const ALL: &'static [$name] = $name::ALL;
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

// ------------------------------------------------------------------ schedules and the builder

text_enum! {
    /// How a schedule item's items appear in the guide (`schedule_items.guide_mode`, copied
    /// to `playout_items.guide_mode`).
    pub enum GuideMode {
        Normal = "normal",
        /// The item's `custom_title` is the programme title.
        Custom = "custom",
        /// Not a programme of its own: it lengthens the one before it.
        Hide = "hide",
    }
}

text_enum! {
    /// The order a content plays in (`schedule_items.playback_order`,
    /// `filler_presets.playback_order`).
    pub enum PlaybackOrder {
        /// By (date, season, episode, title): air order across shows.
        Chronological = "chronological",
        /// By (show title, season, episode, title): movies without numbers fall back to titles.
        SeasonEpisode = "season_episode",
        /// Every item once per pass, in a seeded random order that changes each pass.
        /// ("shuffle" is EXStreamTV's spelling of the same.)
        Shuffled = "shuffled" | "shuffle",
        /// Each pick independent (repeats possible), seeded.
        Random = "random",
        /// Shows interleaved at random, each show's episodes still in order.
        ShuffleInOrder = "shuffle_in_order",
    }
}

impl PlaybackOrder {
    /// The orders a filler preset takes (API.md §2.6: chronological|shuffled|random).
    pub const FILLER: Values = Values {
        names: &[
            PlaybackOrder::Chronological.as_str(),
            PlaybackOrder::Shuffled.as_str(),
            PlaybackOrder::Random.as_str(),
        ],
        canonical: filler_order,
    };
}

fn filler_order(text: &str) -> Result<&'static str, UnknownValue> {
    let names = PlaybackOrder::FILLER.names;
    match text.parse::<PlaybackOrder>() {
        Ok(order) if names.contains(&order.as_str()) => Ok(order.as_str()),
        _ => Err(UnknownValue::new(text, names)),
    }
}

text_enum! {
    /// How much of its content a schedule item plays (`schedule_items.playout_mode`, the
    /// compact view's `playback_mode`). The builder's `playout::Mode` adds the counts.
    pub enum SlotMode {
        /// Until the next fixed start time (forever when there is none).
        Flood = "flood",
        One = "one",
        /// `multiple_count` items.
        Multiple = "multiple",
        /// What fits in `playout_duration_*`, then the tail.
        Duration = "duration",
    }
}

text_enum! {
    /// When a schedule item starts (`schedule_items.start_type`).
    pub enum StartType {
        /// As soon as the one before it ends.
        Dynamic = "dynamic",
        /// At `start_time`, in the configured zone.
        Fixed = "fixed",
    }
}

text_enum! {
    /// What a fixed start does when the time has passed (`fixed_start_time_behavior`).
    pub enum FixedStartBehavior {
        /// Waits for the next occurrence.
        Strict = "strict",
        /// Starts at once.
        Flexible = "flexible",
    }
}

text_enum! {
    /// What fills the rest of a `duration` block (`schedule_items.tail_mode`).
    pub enum TailMode {
        /// Nothing: the next slot starts at once.
        None = "none",
        Offline = "offline",
        /// The slot's tail filler (then fallback filler, then offline for what is left).
        Filler = "filler",
    }
}

text_enum! {
    /// What a schedule item plays (`schedule_items.collection_type`).
    pub enum SlotContent {
        Collection = "collection",
        TelevisionShow = "television_show",
        TelevisionSeason = "television_season",
        Artist = "artist",
        MultiCollection = "multi_collection",
        SmartCollection = "smart_collection",
        Playlist = "playlist",
        MediaItem = "media_item",
    }
}

text_enum! {
    /// Why a timeline item is there when it is not the scheduled content itself
    /// (`playout_items.filler_kind`).
    pub enum FillerKind {
        PreRoll = "pre_roll",
        MidRoll = "mid_roll",
        PostRoll = "post_roll",
        Pad = "pad",
        Tail = "tail",
        Fallback = "fallback",
        /// Nothing can play: the slate.
        Offline = "offline",
        /// A deco break between programmes (bumper, commercial, station id, promo, credits).
        Break = "break",
    }
}

text_enum! {
    /// How much a filler preset plays (`filler_presets.filler_mode`); the builder's
    /// `playout::FillerMode` carries the count, duration or pad minutes with it.
    pub enum FillerModeKind {
        Count = "count",
        Duration = "duration",
        Pad = "pad",
    }
}

text_enum! {
    /// What a block item draws from (`block_items.collection_type`).
    pub enum BlockContent {
        Collection = "collection",
        Playlist = "playlist",
        SmartCollection = "smart_collection",
    }
}

text_enum! {
    /// A deco asset's part in a break (`deco.deco_type`).
    pub enum DecoType {
        Bumper = "bumper",
        Commercial = "commercial",
        StationId = "station_id",
        Promo = "promo",
        Credits = "credits",
    }
}

text_enum! {
    /// When a channel's deco breaks air (`channel_deco.breaks`).
    pub enum BreakMode {
        None = "none",
        BetweenProgrammes = "between_programmes",
        EveryNMinutes = "every_n_minutes",
    }
}

text_enum! {
    /// How one part of a channel's deco relates to what it would otherwise have:
    /// `inherit` keeps it (the channel's fallback filler, its watermark), `override`
    /// replaces it with the deco's own, `disable` turns it off.
    pub enum DecoMode {
        Inherit = "inherit",
        Override = "override",
        Disable = "disable",
    }
}

text_enum! {
    /// When a watermark shows (`watermarks.mode`): always, for `duration_seconds` every
    /// `frequency_minutes`, or never.
    pub enum WatermarkMode {
        Permanent = "permanent",
        Intermittent = "intermittent",
        None = "none",
    }
}

text_enum! {
    /// Where a watermark sits in the frame (`watermarks.location`).
    pub enum WatermarkLocation {
        TopLeft = "top_left",
        TopRight = "top_right",
        BottomLeft = "bottom_left",
        BottomRight = "bottom_right",
        Center = "center",
    }
}

text_enum! {
    /// How big a watermark is drawn (`watermarks.size`): `width_percent` of the frame, or
    /// the image's own pixels.
    pub enum WatermarkSize {
        Scaled = "scaled",
        ActualSize = "actual_size",
    }
}

text_enum! {
    /// What a watermark draws (`watermarks.image_source`): its uploaded PNG, or the
    /// channel's uploaded icon.
    pub enum WatermarkImageSource {
        Custom = "custom",
        ChannelLogo = "channel_logo",
    }
}

text_enum! {
    /// What a filler item draws from (`filler_items.collection_type`; a media item needs none).
    pub enum FillerContent {
        Playlist = "playlist",
        Collection = "collection",
    }
}

text_enum! {
    /// A playout history row's fate (`playout_history.status`).
    pub enum HistoryStatus {
        Played = "played",
        Skipped = "skipped",
    }
}

text_enum! {
    /// A scripted build session's state (`build_sessions.status`).
    pub enum BuildStatus {
        Building = "building",
        Committed = "committed",
        Cancelled = "cancelled",
        Expired = "expired",
    }
}

// ------------------------------------------------------------------ channels

text_enum! {
    /// EXStreamTV's channel playout mode (`channels.playout_mode`); only `on_demand` changes
    /// anything here (it keeps a playback position).
    pub enum ChannelPlayoutMode {
        Continuous = "continuous",
        OnDemand = "on_demand",
        Scheduled = "scheduled",
        Flood = "flood",
        Loop = "loop",
    }
}

text_enum! {
    /// EXStreamTV's channel streaming mode (`channels.streaming_mode`), kept for clients.
    pub enum StreamingMode {
        TransportStreamHybrid = "transport_stream_hybrid",
        HlsHybrid = "hls_hybrid",
        HlsDirect = "hls_direct",
        MpegTs = "mpeg_ts",
    }
}

text_enum! {
    /// The legacy per-channel encoder choice (`channels.transcode_profile`).
    pub enum TranscodeProfile {
        Cpu = "cpu",
        Nvidia = "nvidia",
        Intel = "intel",
    }
}

text_enum! {
    /// Where a channel's timeline comes from (`channels.playout_source`).
    pub enum PlayoutSource {
        /// Its own schedule, through the builder.
        Generated = "generated",
        /// Another channel's timeline, shifted (`scheduler::mirror`).
        Mirror = "mirror",
    }
}

// ------------------------------------------------------------------ output

text_enum! {
    /// An FFmpeg profile's encoder family (`ffmpeg_profiles.hardware_acceleration`); the
    /// `ffmpeg.hwaccel` setting takes the same names, or "" for the board's.
    pub enum HardwareAcceleration {
        None = "none",
        Auto = "auto",
        Vaapi = "vaapi",
        V4l2m2m = "v4l2m2m",
        Qsv = "qsv",
        Nvenc = "nvenc",
        Videotoolbox = "videotoolbox",
    }
}

text_enum! {
    /// How a picture of another shape fits the output (`ffmpeg_profiles.scaling_mode`).
    pub enum ScalingMode {
        /// Letterboxed or pillarboxed.
        Pad = "pad",
        Stretch = "stretch",
        Crop = "crop",
    }
}

text_enum! {
    /// How far a feeder may run ahead of the clock (setting `stream_throttler.mode`;
    /// `stream::pacing` says what each does).
    pub enum ThrottleMode {
        Realtime = "realtime",
        Burst = "burst",
        Adaptive = "adaptive",
        Disabled = "disabled",
    }
}

text_enum! {
    /// Which LLM server the AI channel creator and the agent talk to (setting
    /// `ai.provider`): none (rules only), Ollama's `/api/chat`, or any OpenAI-compatible
    /// `/chat/completions` (llama.cpp's server, LM Studio, vLLM).
    pub enum AiProvider {
        None = "none",
        Ollama = "ollama",
        Openai = "openai",
    }
}

text_enum! {
    /// What the troubleshooting agent may do with the steps it plans (setting
    /// `ai.agent.mode`): nothing, propose only, queue for approval, or execute.
    pub enum AgentMode {
        Off = "off",
        DryRun = "dry_run",
        Approve = "approve",
        Auto = "auto",
    }
}

text_enum! {
    /// What a notification is about (`notify`); a service lists the kinds it wants.
    pub enum EventKind {
        StreamStart = "stream_start",
        StreamStop = "stream_stop",
        ScanDone = "scan_done",
        ScanFailed = "scan_failed",
        ChannelFailing = "channel_failing",
        Test = "test",
    }
}

text_enum! {
    /// The body a notification receiver reads (`notify`): our JSON, or the incoming-webhook
    /// body of Discord (`content`) or Slack (`text`).
    pub enum ServiceType {
        Webhook = "webhook",
        Discord = "discord",
        Slack = "slack",
    }
}

text_enum! {
    /// FFmpeg's `-loglevel` names (setting `ffmpeg.log_level`).
    pub enum FfmpegLogLevel {
        Quiet = "quiet",
        Panic = "panic",
        Fatal = "fatal",
        Error = "error",
        Warning = "warning",
        Info = "info",
        Verbose = "verbose",
        Debug = "debug",
    }
}

// ------------------------------------------------------------------ library

text_enum! {
    /// What a library holds (`libraries.library_type`): a movie library's unnumbered files
    /// are movies.
    pub enum LibraryType {
        Movie = "movie",
        Show = "show",
        Music = "music",
        Other = "other",
    }
}

text_enum! {
    /// Where a library lives (`libraries.source_type`).
    pub enum SourceType {
        Local = "local",
        Plex = "plex",
        Jellyfin = "jellyfin",
        Emby = "emby",
    }
}

text_enum! {
    /// Where a media item comes from (`media_items.source`).
    pub enum MediaSource {
        Local = "local",
        /// Made by FFmpeg's lavfi (the demo channel): `url` is the lavfi graph.
        Generated = "generated",
        Plex = "plex",
        Jellyfin = "jellyfin",
        Emby = "emby",
        Youtube = "youtube",
        ArchiveOrg = "archive_org",
        /// A file (or an HLS VOD) over HTTP(S): `url` is played by FFmpeg, seekable.
        Url = "url",
        /// A live stream (an M3U entry, MPEG-TS or HLS live): relayed, never seeked.
        Live = "live",
    }
}

text_enum! {
    /// What a media item is (`media_items.media_type`): the guide's categories and titles.
    pub enum MediaType {
        Episode = "episode",
        Movie = "movie",
        MusicVideo = "music_video",
        Other = "other",
    }
}

text_enum! {
    /// What a collection is (`collections.collection_type`).
    pub enum CollectionKind {
        Manual = "manual",
        /// Its items are a saved search, refreshed after scans.
        Smart = "smart",
        Multi = "multi",
    }
}

text_enum! {
    /// An image found beside a media file (`media_artwork.kind`, the last segment of
    /// `/static/artwork/{id}/{kind}`).
    pub enum ArtworkKind {
        Poster = "poster",
        Thumb = "thumb",
        Fanart = "fanart",
    }
}

text_enum! {
    /// When an FFmpeg profile passes the source's video through instead of encoding it
    /// (`ffmpeg_profiles.copy_mode`; `stream::ffmpeg` decides per programme).
    pub enum CopyMode {
        /// Progressive 8-bit H.264 of any size and frame rate is copied.
        Passthrough = "passthrough",
        /// Only a source that already matches the profile's size and rate is copied.
        Exact = "exact",
        /// Always encoded.
        Never = "never",
    }
}

// ------------------------------------------------------------------ channel numbers

text_enum! {
    /// What a channel does without viewers (`channels.idle_behavior`).
    pub enum IdleBehavior {
        /// Stops once nobody watched it for the idle grace (`channels.idle_grace_seconds`).
        StopOnDisconnect = "stop_on_disconnect",
        /// Starts at boot and runs without viewers (it holds a tuner), so every tune is
        /// warm (EXStreamTV's prewarmed channels).
        KeepRunning = "keep_running",
    }
}

/// The longest channel number: HDHomeRun GuideNumbers are short, and a bound keeps a
/// number's digits within `u128` where the lineup sorts them.
pub const MAX_CHANNEL_NUMBER_LEN: usize = 16;

/// `^\d+(\.\d+)?$` (ASCII digits), at most `MAX_CHANNEL_NUMBER_LEN` characters: a channel
/// number as the API stores it and the stream routes take it (API.md §1, "IDs").
pub fn is_channel_number(text: &str) -> bool {
    if text.len() > MAX_CHANNEL_NUMBER_LEN {
        return false;
    }
    let (major, minor) = match text.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && minor.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant survives `as_str` → `FromStr`; `NAMES` and `ALL` agree; a bogus
    /// value is refused with a message that lists every canonical name.
    fn round_trip<T: TextEnum + fmt::Debug + fmt::Display>() {
        assert_eq!(T::ALL.len(), T::NAMES.len());
        for (variant, name) in T::ALL.iter().zip(T::NAMES) {
            assert_eq!(variant.as_str(), *name);
            assert_eq!(variant.to_string(), *name);
            assert_eq!(name.parse::<T>(), Ok(*variant), "{name}");
            assert_eq!((Values::of::<T>().canonical)(name), Ok(*name));
        }
        for bogus in ["bogus", "", " normal", "NORMAL"] {
            let err = bogus.parse::<T>().expect_err(bogus);
            assert_eq!(err.expected(), T::NAMES);
            let message = err.to_string();
            assert!(message.starts_with("unknown value \""), "{message}");
            for name in T::NAMES {
                assert!(message.contains(name), "{message}");
            }
        }
    }

    macro_rules! round_trips {
        ($($test:ident: $kind:ty),+ $(,)?) => {
            $(
                #[test]
                fn $test() {
                    round_trip::<$kind>();
                }
            )+
        };
    }

    round_trips! {
        guide_mode: GuideMode,
        playback_order: PlaybackOrder,
        slot_mode: SlotMode,
        start_type: StartType,
        fixed_start_behavior: FixedStartBehavior,
        tail_mode: TailMode,
        slot_content: SlotContent,
        filler_kind: FillerKind,
        filler_mode_kind: FillerModeKind,
        filler_content: FillerContent,
        history_status: HistoryStatus,
        build_status: BuildStatus,
        channel_playout_mode: ChannelPlayoutMode,
        streaming_mode: StreamingMode,
        transcode_profile: TranscodeProfile,
        playout_source: PlayoutSource,
        hardware_acceleration: HardwareAcceleration,
        scaling_mode: ScalingMode,
        throttle_mode: ThrottleMode,
        ffmpeg_log_level: FfmpegLogLevel,
        library_type: LibraryType,
        source_type: SourceType,
        media_source: MediaSource,
        media_type: MediaType,
        collection_kind: CollectionKind,
        artwork_kind: ArtworkKind,
        idle_behavior: IdleBehavior,
        copy_mode: CopyMode,
        ai_provider: AiProvider,
        agent_mode: AgentMode,
        event_kind: EventKind,
        service_type: ServiceType,
    }

    #[test]
    fn either_words_a_choice() {
        assert_eq!(either(LibraryType::NAMES), "movie, show, music or other");
        assert_eq!(either(&["a", "b"]), "a or b");
        assert_eq!(either(&["a"]), "a");
    }

    #[test]
    fn aliases_parse_to_their_canonical_value() {
        assert_eq!("shuffle".parse(), Ok(PlaybackOrder::Shuffled));
        assert_eq!(
            (Values::of::<PlaybackOrder>().canonical)("shuffle"),
            Ok("shuffled")
        );
        // The alias is accepted, never listed.
        assert!(!PlaybackOrder::NAMES.contains(&"shuffle"));
    }

    #[test]
    fn filler_orders_are_a_subset() {
        let canonical = PlaybackOrder::FILLER.canonical;
        assert_eq!(canonical("shuffle"), Ok("shuffled"));
        assert_eq!(canonical("random"), Ok("random"));
        let err = canonical("season_episode").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown value \"season_episode\" (expected one of: chronological, shuffled, random)"
        );
    }

    #[test]
    fn an_unknown_value_is_quoted_and_cut() {
        let err = "x\"y".parse::<GuideMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown value \"x\\\"y\" (expected one of: normal, custom, hide)"
        );
        let long = "z".repeat(10_000);
        let err = long.parse::<GuideMode>().unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let json = serde_json::to_string(&ThrottleMode::Burst).unwrap();
        assert_eq!(json, "\"burst\"");
        assert_eq!(
            serde_json::from_str::<ThrottleMode>("\"adaptive\"").unwrap(),
            ThrottleMode::Adaptive
        );
        let err = serde_json::from_str::<ThrottleMode>("\"warp\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("unknown value \"warp\" (expected one of: realtime, burst"),
            "{err}"
        );
    }

    #[test]
    fn channel_numbers() {
        for good in [
            "1",
            "100",
            "5.1",
            "007",
            "5.10",
            "0012.30",
            "1234567890123456",
        ] {
            assert!(is_channel_number(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "5.",
            ".1",
            "1.2.3",
            "a",
            "-1",
            "1e3",
            " 1",
            "1 ",
            "١",
            "５",
            "12345678901234567",
        ] {
            assert!(!is_channel_number(bad), "{bad:?}");
        }
    }
}
