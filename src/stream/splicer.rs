//! The TS splicer: joins the outputs of one FFmpeg per programme into one continuous
//! MPEG-TS. It rewrites PAT/PMT to one program with constant PIDs, renumbers continuity
//! counters per PID, and shifts every PTS/DTS/PCR of each new item by the maximum over
//! streams of (previous end − new first DTS), so no timestamp goes backwards or jumps.
//!
//! The shift of an item is known only once the first DTS of every stream has been seen, so
//! an item's first packets wait in a buffer allocated once, at construction.
//!
//! Timestamps are typed by clock: `Ticks90k` (PTS, DTS, the shift, frame steps) and `Pcr27M`
//! (PCR), crossing only through `Pcr27M::from_90k`, `base` and `with_base`.
//!
//! It knows nothing of processes, time or viewers: packets in, packets out to a `Sink`.

use super::ts::{
    self, parse_pat, parse_pmt, write_pat, write_pmt, Packet, PacketMut, ParamSetScan, Pcr27M, Pid,
    Pmt, PmtStream, StreamType, Ticks90k, VideoParams, ES_INFO_MAX, PACKET_LEN, PTS_HZ,
};

/// The PIDs of the output; FFmpeg is told to use the same ones (`-mpegts_pmt_start_pid`,
/// `-mpegts_start_pid`), so remapping is normally the identity.
pub const OUT_PMT_PID: Pid = Pid(0x1000);
pub const OUT_VIDEO_PID: Pid = Pid(0x100);
pub const OUT_AUDIO_PID: Pid = Pid(0x101);
pub const PROGRAM_NUMBER: u16 = 1;
pub const TRANSPORT_STREAM_ID: u16 = 1;

/// Packets of a new item held until every stream's first DTS is known: 4096 × 188 B ≈
/// 770 KiB, more than the first second of a 4 Mbit/s stream, in which FFmpeg has written
/// the first frame of every stream. Past it, the shift is computed from what was seen.
pub const PENDING_MAX_PACKETS: usize = 4096;

/// How much of an item's video (by DTS) is dropped while waiting for its first keyframe.
/// FFmpeg's outputs start with one; a source that never flags one (periodic intra refresh)
/// is passed on after this, so it is not blacked out for good.
const KEYFRAME_WAIT: Ticks90k = Ticks90k::from_ms(3000);

/// The largest DTS step taken as one frame's duration (to extend a stream's end): 1 s.
const MAX_FRAME_TICKS: Ticks90k = Ticks90k(PTS_HZ);

/// ISO/IEC 13818-1 wants a PCR at least every 100 ms. At a splice the PCR can step a little
/// more (each FFmpeg starts its PCR `muxdelay` before its first DTS), so the splicer fills
/// such a gap with PCR-only packets every 80 ms. Gaps over 2 s are left alone: that is not
/// a splice but an outage, and a decoder should see it.
const PCR_FILL_STEP: Pcr27M = Pcr27M::from_ms(80);
const PCR_FILL_MAX_GAP: Pcr27M = Pcr27M::from_ms(2000);
const PCR_MAX_GAP: Pcr27M = Pcr27M::from_ms(100);
/// Some FFmpeg outputs (short ones, some copies) carry no PCR at all. Then the splicer
/// writes one itself, at most every 80 ms, this far before the video DTS (FFmpeg's default
/// `muxdelay`, 0.7 s), or as far as the last real PCR was.
const DEFAULT_PCR_LEAD: Ticks90k = Ticks90k::from_ms(700);
/// A real PCR's distance before the video DTS is learnt only when it is under 2 s (else
/// it is a discontinuity, not FFmpeg's `muxdelay`).
const MAX_PCR_LEAD: Ticks90k = Ticks90k::from_ms(2000);

/// Where spliced packets go.
pub trait Sink {
    fn packet(&mut self, packet: &[u8]);
    /// A keyframe begins: the packets that follow are PAT, PMT, then the keyframe.
    fn keyframe(&mut self);
}

/// The tracks' slots: the output's one video and one audio stream.
const VIDEO: usize = 0;
const AUDIO: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Video,
    Audio,
}

fn kind(stream_type: StreamType) -> Option<Kind> {
    if stream_type.is_video() {
        Some(Kind::Video)
    } else if stream_type.is_audio() {
        Some(Kind::Audio)
    } else {
        None
    }
}

/// One output elementary stream.
#[derive(Debug)]
struct Track {
    out_pid: Pid,
    /// The PID carrying it in the current item's input.
    in_pid: Option<Pid>,
    /// `None` until a PMT has described it.
    stream_type: Option<StreamType>,
    es_info: heapless::Vec<u8, ES_INFO_MAX>,
    cc: u8,
    /// Output axis, unwrapped.
    last_dts: Option<Ticks90k>,
    last_step: Ticks90k,
    /// The pending item's first DTS, on its own (unwrapped input) axis.
    first_dts_in: Option<Ticks90k>,
    /// ADTS (AAC) frames counted in the current PES. FFmpeg packs several small AAC frames
    /// (silence) into one PES, so a stream's end is the last DTS plus all of them.
    adts: AdtsCounter,
}

/// Counts the ADTS frames of the PES being written, by walking frame lengths across packets.
#[derive(Debug, Default)]
struct AdtsCounter {
    frames: u32,
    /// Bytes left of the current frame.
    skip: usize,
    header: [u8; 6],
    header_len: usize,
    /// One frame's duration (1024 samples), from the last header.
    frame_ticks: Ticks90k,
    lost: bool,
}

/// ADTS sampling-frequency indexes 0..=12, in Hz.
const ADTS_RATES: [i64; 13] = [
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
];

impl AdtsCounter {
    /// Counts the frames in one packet of the audio track.
    fn packet(&mut self, p: Packet<'_>) {
        let payload = p.payload();
        if p.pusi() {
            self.start_pes();
            // Skip the PES header (9 bytes + its optional fields).
            if payload.len() >= 9 && payload[..3] == [0, 0, 1] {
                let at = 9 + payload[8] as usize;
                self.feed(payload.get(at..).unwrap_or(&[]));
            }
        } else {
            self.feed(payload);
        }
    }

    fn start_pes(&mut self) {
        self.frames = 0;
        self.skip = 0;
        self.header_len = 0;
        self.lost = false;
    }

    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() && !self.lost {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let n = (6 - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            data = &data[n..];
            if self.header_len < 6 {
                return;
            }
            let h = self.header;
            self.header_len = 0;
            let len =
                (((h[3] & 0x03) as usize) << 11) | ((h[4] as usize) << 3) | (h[5] as usize >> 5);
            if h[0] != 0xff || h[1] & 0xf0 != 0xf0 || len < 7 {
                self.lost = true;
                return;
            }
            if let Some(rate) = ADTS_RATES.get(((h[2] >> 2) & 0x0f) as usize) {
                self.frame_ticks = Ticks90k(1024 * PTS_HZ / rate);
            }
            self.frames += 1;
            self.skip = len - 6;
        }
    }
}

impl Track {
    fn new(out_pid: Pid) -> Track {
        Track {
            out_pid,
            in_pid: None,
            stream_type: None,
            es_info: heapless::Vec::new(),
            cc: 0x0f,
            last_dts: None,
            last_step: Ticks90k::ZERO,
            first_dts_in: None,
            adts: AdtsCounter::default(),
        }
    }

    /// The track's latest DTS (output axis) is `d`; a plausible step from the one before
    /// is kept as its frame duration.
    fn reached(&mut self, d: Ticks90k) {
        if let Some(last) = self.last_dts {
            let step = d - last;
            if step > Ticks90k::ZERO && step <= MAX_FRAME_TICKS {
                self.last_step = step;
            }
        }
        self.last_dts = Some(d);
    }

    /// Where this stream's previous item ended: the last DTS plus the last PES's frames
    /// (AAC), or plus one frame step.
    fn end(&self) -> Option<Ticks90k> {
        let adts = &self.adts;
        let span = if self.stream_type == Some(StreamType::AAC_ADTS)
            && adts.frames > 0
            && adts.frame_ticks > Ticks90k::ZERO
        {
            adts.frame_ticks * adts.frames as i64
        } else {
            self.last_step
        };
        self.last_dts.map(|d| d + span)
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SpliceStats {
    pub n_items: u64,
    pub n_packets_out: u64,
    pub n_packets_dropped: u64,
    /// Video packets dropped because they came before their item's first keyframe.
    pub n_video_before_keyframe: u64,
    /// Keyframes whose SPS/PPS differed from the previous ones (a new PMT version each).
    pub n_param_changes: u64,
    /// The current item's shift.
    pub shift: Ticks90k,
}

pub struct Splicer {
    tracks: [Track; 2],
    pat: [u8; PACKET_LEN],
    pat_cc: u8,
    pmt: [u8; PACKET_LEN],
    pmt_cc: u8,
    pmt_version: u8,
    pmt_valid: bool,
    in_pmt_pid: Option<Pid>,
    in_pcr_pid: Option<Pid>,
    /// Added to the input's timestamps.
    shift: Ticks90k,
    /// The last input timestamp seen (unwrapped), to unwrap the next one.
    in_ref: Option<Ticks90k>,
    /// Output PCR, unwrapped.
    last_pcr: Option<Pcr27M>,
    first_pcr: Option<Pcr27M>,
    /// How far the PCR runs behind the video DTS, from the last real PCR.
    pcr_lead: Ticks90k,
    /// The first DTS ever written (output axis): where the stream's clock starts.
    first_dts: Option<Ticks90k>,
    /// The pending item's first PCR, on its own (unwrapped input) axis.
    first_pcr_in: Option<Pcr27M>,
    pending: Vec<u8>,
    is_pending: bool,
    has_output: bool,
    /// Whether the current item's video waits for its first keyframe, and since which
    /// input DTS: nothing before it decodes (a new programme's parameter sets come with its
    /// keyframe), so it is dropped.
    video_gate: VideoGate,
    /// The H.264 parameter sets of the keyframe being read, and those of the last one read.
    scan: ParamSetScan,
    video_params: Option<VideoParams>,
    /// The gate dropped video of the current item: its audio before the keyframe goes too
    /// (`audio_floor`), or the picture would resume late after a stretch of sound alone.
    video_dropped: bool,
    /// Audio PES decoded before this (the kept video's first DTS, input axis) are dropped.
    audio_floor: Option<Ticks90k>,
    /// The audio PES being read is one of those.
    dropping_audio_pes: bool,
    stats: SpliceStats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VideoGate {
    Waiting { since: Option<Ticks90k> },
    Open,
}

impl Default for Splicer {
    fn default() -> Self {
        Splicer::new()
    }
}

impl Splicer {
    pub fn new() -> Splicer {
        let mut pat = [0u8; PACKET_LEN];
        write_pat(&mut pat, TRANSPORT_STREAM_ID, PROGRAM_NUMBER, OUT_PMT_PID);
        Splicer {
            // In slot order: `VIDEO`, `AUDIO`.
            tracks: [Track::new(OUT_VIDEO_PID), Track::new(OUT_AUDIO_PID)],
            pat,
            pat_cc: 0x0f,
            pmt: [0u8; PACKET_LEN],
            pmt_cc: 0x0f,
            pmt_version: 0,
            pmt_valid: false,
            in_pmt_pid: None,
            in_pcr_pid: None,
            shift: Ticks90k::ZERO,
            in_ref: None,
            last_pcr: None,
            first_pcr: None,
            pcr_lead: DEFAULT_PCR_LEAD,
            first_dts: None,
            first_pcr_in: None,
            pending: Vec::with_capacity(PENDING_MAX_PACKETS * PACKET_LEN),
            is_pending: false,
            has_output: false,
            video_gate: VideoGate::Waiting { since: None },
            scan: ParamSetScan::default(),
            video_params: None,
            video_dropped: false,
            audio_floor: None,
            dropping_audio_pes: false,
            stats: SpliceStats::default(),
        }
    }

    pub fn stats(&self) -> SpliceStats {
        SpliceStats {
            shift: self.shift,
            ..self.stats
        }
    }

    /// The last PCR written, on the unwrapped output axis.
    pub fn last_pcr(&self) -> Option<Pcr27M> {
        self.last_pcr
    }

    /// Whether anything has been written yet.
    pub fn has_output(&self) -> bool {
        self.first_dts.is_some()
    }

    /// The first PCR written (output axis).
    pub fn first_pcr(&self) -> Option<Pcr27M> {
        self.first_pcr
    }

    /// How far the output has advanced, in milliseconds of stream time, from its first
    /// DTS to the end of the latest stream.
    pub fn elapsed_ms(&self) -> i64 {
        match (self.first_dts, self.end_dts()) {
            (Some(first), Some(end)) => (end - first).as_ms(),
            _ => 0,
        }
    }

    /// Where the output ends so far (the latest stream end), on the output axis.
    pub fn end_dts(&self) -> Option<Ticks90k> {
        self.tracks.iter().filter_map(Track::end).max()
    }

    /// Whether `packet` (of the current item's input) starts a video frame: a clean place to
    /// cut the item off. FFmpeg's muxer writes every PES whole, so before this packet each
    /// stream's last frame is complete, and nothing decodes half a picture at the cut.
    pub fn starts_video_frame(&self, packet: &[u8]) -> bool {
        Packet::new(packet).is_some_and(|p| {
            let video = self.tracks[VIDEO].in_pid;
            p.pusi() && video.is_some() && Some(p.pid()) == video
        })
    }

    /// The next packets come from a new FFmpeg (the next programme, or a restart).
    pub fn begin_item(&mut self) {
        self.stats.n_items += 1;
        // Anything still pending (an item that produced too little) is spliced as it is.
        if self.is_pending {
            self.resolve_shift();
        }
        self.in_pmt_pid = None;
        self.in_pcr_pid = None;
        self.in_ref = None;
        self.first_pcr_in = None;
        for t in &mut self.tracks {
            t.in_pid = None;
            t.first_dts_in = None;
        }
        self.video_gate = VideoGate::Waiting { since: None };
        self.scan = ParamSetScan::default();
        self.video_dropped = false;
        self.audio_floor = None;
        self.dropping_audio_pes = false;
        // The first item keeps its own timestamps; later ones wait for their shift.
        self.is_pending = self.has_output;
        self.pending.clear();
    }

    /// Releases a pending item's packets now (its input ended early).
    pub fn flush(&mut self, sink: &mut impl Sink) {
        if self.is_pending {
            self.resolve_shift();
            self.replay(sink);
        }
    }

    /// Splices whole packets (`input.len()` a multiple of 188; a trailing partial packet is
    /// ignored). Packets are edited in place, then handed to `sink`.
    pub fn push(&mut self, input: &mut [u8], sink: &mut impl Sink) {
        for chunk in input.chunks_exact_mut(PACKET_LEN) {
            if self.is_pending {
                if !self.scan_pending(chunk) {
                    continue;
                }
                if self.pending.len() + PACKET_LEN <= self.pending.capacity() {
                    self.pending.extend_from_slice(chunk);
                } else {
                    self.stats.n_packets_dropped += 1;
                }
                if self.is_ready() || self.pending.len() + PACKET_LEN > self.pending.capacity() {
                    self.resolve_shift();
                    self.replay(sink);
                }
            } else {
                self.process(chunk, sink);
            }
        }
    }

    /// Learns the pending item's PIDs, first timestamps and first keyframe's parameter sets
    /// without emitting anything. `false`: the packet is dropped (video before the
    /// keyframe).
    fn scan_pending(&mut self, chunk: &[u8]) -> bool {
        let Some(p) = Packet::new(chunk) else {
            return true;
        };
        let pid = p.pid();
        if pid == Pid::PAT {
            if let Some((_, pmt)) = parse_pat(p) {
                self.in_pmt_pid = Some(pmt);
            }
            return true;
        }
        if Some(pid) == self.in_pmt_pid {
            if let Some(pmt) = parse_pmt(p) {
                self.apply_pmt(&pmt);
            }
            return true;
        }
        let slot = self.slot_of(pid);
        // Dropped before its PCR is learnt: the item's clock starts with what is kept.
        if slot == Some(VIDEO) && !self.passes_video_gate(p) {
            return false;
        }
        if Some(pid) == self.in_pcr_pid && self.first_pcr_in.is_none() {
            if let Some(pcr) = p.pcr() {
                let base = self.unwrap_in(pcr.base());
                self.first_pcr_in = Some(pcr.with_base(base));
            }
        }
        let Some(slot) = slot else {
            return true;
        };
        if slot == VIDEO {
            // Decided before the replay emits the keyframe's PMT: any change is marked.
            self.follow_params(p, true);
        }
        if self.tracks[slot].first_dts_in.is_none() {
            if let Some(dts) = p.dts().or_else(|| p.pts()) {
                let dts = self.unwrap_in(dts);
                self.tracks[slot].first_dts_in = Some(dts);
            }
        }
        true
    }

    /// Whether a video packet of the current item may pass: from its first keyframe on, or
    /// once `KEYFRAME_WAIT` of video went by without one.
    fn passes_video_gate(&mut self, p: Packet<'_>) -> bool {
        let VideoGate::Waiting { since } = self.video_gate else {
            return true;
        };
        let waited_out = match (since, p.dts().or_else(|| p.pts())) {
            (Some(since), Some(d)) => d.nearest_to(since) - since >= KEYFRAME_WAIT,
            (None, Some(d)) => {
                self.video_gate = VideoGate::Waiting { since: Some(d) };
                false
            }
            (_, None) => false,
        };
        if p.random_access() || (waited_out && p.pusi()) {
            self.video_gate = VideoGate::Open;
            return true;
        }
        self.stats.n_video_before_keyframe += 1;
        self.video_dropped = true;
        false
    }

    /// Whether an audio packet is kept while `audio_floor` holds: whole PES from the first
    /// one that decodes at or after it.
    fn passes_audio_floor(&mut self, p: Packet<'_>) -> bool {
        let Some(floor) = self.audio_floor else {
            return true;
        };
        if p.pusi() {
            let d = p.dts().or_else(|| p.pts()).map(|d| d.nearest_to(floor));
            self.dropping_audio_pes = d.is_some_and(|d| d < floor);
            if !self.dropping_audio_pes {
                self.audio_floor = None;
            }
        }
        !self.dropping_audio_pes
    }

    /// Follows the parameter sets of each keyframe of the video. When they differ from the
    /// last ones, the PMT gets a new version, so the keyframe's own PAT/PMT announce the new
    /// coding parameters in band (HLS marks a discontinuity there). `marked`: the change may
    /// be announced whenever the scan ends (the item is pending: nothing emitted yet);
    /// otherwise only when it ends on the keyframe's first packet, before its PMT is out.
    fn follow_params(&mut self, p: Packet<'_>, marked: bool) {
        let at_keyframe = p.random_access();
        if at_keyframe {
            self.scan.start(p);
        } else if self.scan.wants() {
            self.scan.feed(p);
        } else {
            return;
        }
        if self.scan.wants() {
            return;
        }
        let Some(params) = self.scan.params() else {
            return;
        };
        let changed = self.video_params.is_some_and(|old| old != params);
        self.video_params = Some(params);
        if changed && (marked || at_keyframe) {
            self.stats.n_param_changes += 1;
            self.rebuild_pmt();
        }
    }

    /// The parameters of the last keyframe whose SPS/PPS were read.
    pub fn video_params(&self) -> Option<VideoParams> {
        self.video_params
    }

    fn is_ready(&self) -> bool {
        if self.tracks[VIDEO].in_pid.is_some() && self.scan.wants() {
            // The first keyframe's parameter sets are still being read.
            return false;
        }
        let mut any = false;
        for t in &self.tracks {
            if t.in_pid.is_some() {
                any = true;
                if t.first_dts_in.is_none() {
                    return false;
                }
            }
        }
        any
    }

    fn resolve_shift(&mut self) {
        if self.video_dropped {
            // The item starts at its first keyframe, its audio too (to within one frame).
            if let Some(floor) = self.tracks[VIDEO].first_dts_in {
                self.audio_floor = Some(floor);
                let audio = &mut self.tracks[AUDIO];
                audio.first_dts_in = audio.first_dts_in.map(|d| d.max(floor));
            }
        }
        let mut shift: Option<Ticks90k> = None;
        for t in &self.tracks {
            if let (Some(end), Some(first)) = (t.end(), t.first_dts_in) {
                let want = end - first;
                shift = Some(shift.map_or(want, |s| s.max(want)));
            }
        }
        // The PCR must not go backwards either.
        if let (Some(last), Some(first), Some(s)) = (self.last_pcr, self.first_pcr_in, shift) {
            let want = (last - first).base() + Ticks90k(1);
            shift = Some(s.max(want));
        }
        if let Some(s) = shift {
            self.shift = s;
        }
        self.is_pending = false;
    }

    fn replay(&mut self, sink: &mut impl Sink) {
        let mut pending = std::mem::take(&mut self.pending);
        self.in_ref = None;
        for chunk in pending.chunks_exact_mut(PACKET_LEN) {
            self.process(chunk, sink);
        }
        pending.clear();
        self.pending = pending;
    }

    fn slot_of(&self, pid: Pid) -> Option<usize> {
        self.tracks.iter().position(|t| t.in_pid == Some(pid))
    }

    /// `raw` (a 33-bit input timestamp or PCR base) on the input's unwrapped axis.
    fn unwrap_in(&mut self, raw: Ticks90k) -> Ticks90k {
        let at = match self.in_ref {
            Some(near) => raw.nearest_to(near),
            None => raw,
        };
        self.in_ref = Some(at);
        at
    }

    fn apply_pmt(&mut self, pmt: &Pmt) {
        self.in_pcr_pid = Some(pmt.pcr_pid);
        let mut changed = !self.pmt_valid;
        for (slot, want) in [(VIDEO, Kind::Video), (AUDIO, Kind::Audio)] {
            let found = pmt
                .streams
                .iter()
                .find(|s| kind(s.stream_type) == Some(want));
            let track = &mut self.tracks[slot];
            track.in_pid = found.map(|s| s.pid);
            if let Some(s) = found {
                if track.stream_type != Some(s.stream_type) || s.es_info != track.es_info {
                    track.stream_type = Some(s.stream_type);
                    track.es_info = s.es_info.clone();
                    changed = true;
                }
            }
        }
        if changed {
            self.rebuild_pmt();
        }
    }

    fn rebuild_pmt(&mut self) {
        let mut streams: heapless::Vec<PmtStream, 2> = heapless::Vec::new();
        for t in &self.tracks {
            if let Some(stream_type) = t.stream_type {
                let _ = streams.push(PmtStream {
                    stream_type,
                    pid: t.out_pid,
                    es_info: t.es_info.clone(),
                });
            }
        }
        let pcr_pid = if self.tracks[VIDEO].stream_type.is_some() {
            OUT_VIDEO_PID
        } else {
            OUT_AUDIO_PID
        };
        let version = if self.pmt_valid {
            (self.pmt_version + 1) & 0x1f
        } else {
            0
        };
        if write_pmt(
            &mut self.pmt,
            OUT_PMT_PID,
            PROGRAM_NUMBER,
            version,
            pcr_pid,
            &streams,
        ) {
            self.pmt_version = version;
            self.pmt_valid = true;
        }
    }

    fn emit_pat(&mut self, sink: &mut impl Sink) {
        self.pat_cc = (self.pat_cc + 1) & 0x0f;
        self.pat[3] = (self.pat[3] & 0xf0) | self.pat_cc;
        sink.packet(&self.pat);
        self.stats.n_packets_out += 1;
    }

    fn emit_pmt(&mut self, sink: &mut impl Sink) {
        if !self.pmt_valid {
            return;
        }
        self.pmt_cc = (self.pmt_cc + 1) & 0x0f;
        self.pmt[3] = (self.pmt[3] & 0xf0) | self.pmt_cc;
        sink.packet(&self.pmt);
        self.stats.n_packets_out += 1;
    }

    /// An adaptation-only packet carrying `pcr` on a track's PID (no payload: same CC).
    fn emit_pcr_only(&mut self, slot: usize, pcr: Pcr27M, sink: &mut impl Sink) {
        let track = &self.tracks[slot];
        let mut p = [0xffu8; PACKET_LEN];
        p[0] = ts::SYNC_BYTE;
        p[1] = (track.out_pid.0 >> 8) as u8;
        p[2] = track.out_pid.0 as u8;
        p[3] = 0x20 | track.cc;
        p[4] = (PACKET_LEN - 5) as u8;
        p[5] = 0x10;
        ts::write_pcr(&mut p[6..12], pcr);
        sink.packet(&p);
        self.stats.n_packets_out += 1;
    }

    /// One packet of the current item, out: PAT and PMT become the splicer's own, a packet
    /// of a track is retimed and renumbered, anything else is dropped.
    fn process(&mut self, chunk: &mut [u8], sink: &mut impl Sink) {
        let Some(p) = Packet::new(chunk) else {
            self.stats.n_packets_dropped += 1;
            return;
        };
        let pid = p.pid();
        if pid == Pid::PAT {
            if let Some((_, pmt)) = parse_pat(p) {
                self.in_pmt_pid = Some(pmt);
            }
            self.emit_pat(sink);
            return;
        }
        if Some(pid) == self.in_pmt_pid {
            if let Some(pmt) = parse_pmt(p) {
                self.apply_pmt(&pmt);
            }
            self.emit_pmt(sink);
            return;
        }
        let Some(slot) = self.slot_of(pid) else {
            // SDT, null packets, streams we do not carry.
            self.stats.n_packets_dropped += 1;
            return;
        };
        // Read before the ADTS walk, as the unsplit step did: the other order runs the same
        // instructions but measured ~4% slower in `benches/ts_splice.rs`.
        let timing = Timing::of(p, Some(pid) == self.in_pcr_pid);
        if slot == VIDEO {
            // Most video packets are neither a keyframe nor wanted by a gate or scan: one
            // test of fields at hand, not two calls (measured in `benches/ts_splice.rs`).
            let watched =
                timing.random_access || self.video_gate != VideoGate::Open || self.scan.wants();
            if watched && !self.watch_video(p) {
                return;
            }
        } else if self.audio_floor.is_some() && !self.passes_audio_floor(p) {
            self.stats.n_packets_dropped += 1;
            return;
        }
        if self.tracks[slot].stream_type == Some(StreamType::AAC_ADTS) {
            self.tracks[slot].adts.packet(p);
        }
        self.retime(slot, timing, chunk, sink);
    }

    /// A watched video packet (a keyframe, or one a gate or scan wants): `false` if the
    /// gate drops it. Out of line and cold: a few packets a second take it, and inlined it
    /// made every packet's path longer (measured in `benches/ts_splice.rs`).
    #[cold]
    #[inline(never)]
    fn watch_video(&mut self, p: Packet<'_>) -> bool {
        if !self.passes_video_gate(p) {
            return false;
        }
        self.follow_params(p, false);
        true
    }

    /// A track's packet onto the output axis: a keyframe is preceded by PAT and PMT, the
    /// PCR and timestamps are shifted (and a missing PCR written), the PID and CC become
    /// the track's.
    fn retime(&mut self, slot: usize, timing: Timing, chunk: &mut [u8], sink: &mut impl Sink) {
        if slot == VIDEO && timing.random_access {
            sink.keyframe();
            self.emit_pat(sink);
            self.emit_pmt(sink);
        }
        let shift = self.shift;
        // Unwrapped in the packet's order, PCR first: each is unwrapped near the one before.
        let pcr_out = timing.pcr.map(|pcr| self.shift_pcr(slot, pcr, sink));
        let pts_out = timing.pts.map(|t| self.unwrap_in(t) + shift);
        let dts_out = timing.dts.map(|t| self.unwrap_in(t) + shift);
        let decode_at = dts_out.or(pts_out);
        if slot == VIDEO {
            self.follow_pcr(pcr_out, decode_at, sink);
        }
        let Some(mut m) = PacketMut::new(chunk) else {
            return; // unreachable: `Packet::new` accepted the same bytes
        };
        if let Some(out) = pcr_out {
            m.set_pcr(out);
        }
        if let Some(out) = pts_out {
            m.set_pts(out);
        }
        if let Some(out) = dts_out {
            m.set_dts(out);
        }
        if let Some(d) = decode_at {
            self.first_dts.get_or_insert(d);
            self.tracks[slot].reached(d);
        }
        let track = &mut self.tracks[slot];
        m.set_pid(track.out_pid);
        if timing.has_payload {
            track.cc = (track.cc + 1) & 0x0f;
        }
        m.set_cc(track.cc);
        self.has_output = true;
        self.stats.n_packets_out += 1;
        sink.packet(chunk);
    }

    /// An input PCR on the output axis: shifted, never backwards (even after a PCR of our
    /// own), and a splice's gap over `PCR_MAX_GAP` filled first.
    fn shift_pcr(&mut self, slot: usize, pcr: Pcr27M, sink: &mut impl Sink) -> Pcr27M {
        let base = self.unwrap_in(pcr.base());
        let mut out = pcr.with_base(base + self.shift);
        if let Some(last) = self.last_pcr {
            out = out.max(last + Pcr27M(1));
            self.fill_pcr_gap(slot, last, out, sink);
        }
        self.last_pcr = Some(out);
        self.first_pcr.get_or_insert(out);
        out
    }

    /// PCR-only packets every `PCR_FILL_STEP` from `last` towards `next`, when the gap is a
    /// splice's (over `PCR_MAX_GAP`, at most `PCR_FILL_MAX_GAP`).
    fn fill_pcr_gap(&mut self, slot: usize, mut last: Pcr27M, next: Pcr27M, sink: &mut impl Sink) {
        let gap = next - last;
        if gap > PCR_MAX_GAP && gap <= PCR_FILL_MAX_GAP {
            while next - last > PCR_MAX_GAP {
                last += PCR_FILL_STEP;
                self.emit_pcr_only(slot, last, sink);
            }
        }
    }

    /// On the video track: a real PCR teaches how far it runs before the DTS; a frame
    /// without one gets a PCR of our own when one is due (`DEFAULT_PCR_LEAD`).
    fn follow_pcr(
        &mut self,
        pcr: Option<Pcr27M>,
        decode_at: Option<Ticks90k>,
        sink: &mut impl Sink,
    ) {
        match (pcr, decode_at) {
            (Some(pcr), Some(d)) => {
                let lead = d - pcr.base();
                if (Ticks90k::ZERO..MAX_PCR_LEAD).contains(&lead) {
                    self.pcr_lead = lead;
                }
            }
            (None, Some(d)) => {
                let want = Pcr27M::from_90k(d - self.pcr_lead);
                let due = self
                    .last_pcr
                    .is_none_or(|last| want - last >= PCR_FILL_STEP);
                if due {
                    let pcr = self
                        .last_pcr
                        .map_or(want, |last| want.max(last + Pcr27M(1)));
                    self.emit_pcr_only(VIDEO, pcr, sink);
                    self.last_pcr = Some(pcr);
                    self.first_pcr.get_or_insert(pcr);
                }
            }
            _ => {}
        }
    }
}

/// The fields of a track's packet the splicer retimes, read once from the input.
#[derive(Clone, Copy)]
struct Timing {
    /// Only on the input's PCR PID (a PCR elsewhere is left as it is).
    pcr: Option<Pcr27M>,
    pts: Option<Ticks90k>,
    dts: Option<Ticks90k>,
    random_access: bool,
    has_payload: bool,
}

impl Timing {
    fn of(p: Packet<'_>, on_pcr_pid: bool) -> Timing {
        Timing {
            pcr: if on_pcr_pid { p.pcr() } else { None },
            pts: p.pts(),
            dts: p.dts(),
            random_access: p.random_access(),
            has_payload: p.has_payload(),
        }
    }
}

#[cfg(test)]
#[path = "../../tests/it/support/tscheck.rs"]
mod tscheck;

#[cfg(test)]
mod tests {
    use super::super::ts::{write_pcr, write_timestamp, SYNC_BYTE};
    use super::*;

    struct VecSink {
        out: Vec<u8>,
        n_keyframes: usize,
    }

    impl Sink for VecSink {
        fn packet(&mut self, packet: &[u8]) {
            self.out.extend_from_slice(packet);
        }
        fn keyframe(&mut self) {
            self.n_keyframes += 1;
        }
    }

    /// A synthetic FFmpeg output: PAT, PMT, then `n_frames` video frames (30 fps, a
    /// keyframe every 30, PCR on each) interleaved with AAC frames (1920 ticks), starting
    /// at `first_dts`; audio starts `audio_lead` ticks earlier (AAC priming).
    struct ItemGen {
        video_pid: Pid,
        audio_pid: Pid,
        pmt_pid: Pid,
        cc: [u8; 8192],
    }

    impl ItemGen {
        fn new(video_pid: u16, audio_pid: u16, pmt_pid: u16) -> ItemGen {
            ItemGen {
                video_pid: Pid(video_pid),
                audio_pid: Pid(audio_pid),
                pmt_pid: Pid(pmt_pid),
                cc: [0x0f; 8192],
            }
        }

        fn next_cc(&mut self, pid: Pid) -> u8 {
            let cc = &mut self.cc[pid.0 as usize];
            *cc = (*cc + 1) & 0x0f;
            *cc
        }

        fn pes(&mut self, out: &mut Vec<u8>, pid: Pid, pts: i64, dts: i64, key: bool, pcr: bool) {
            let mut p = [0xffu8; PACKET_LEN];
            p[0] = SYNC_BYTE;
            p[1] = 0x40 | (pid.0 >> 8) as u8;
            p[2] = pid.0 as u8;
            let cc = self.next_cc(pid);
            p[3] = 0x30 | cc;
            p[4] = 7;
            p[5] = (if key { 0x40 } else { 0 }) | (if pcr { 0x10 } else { 0 });
            if pcr {
                write_pcr(&mut p[6..12], Pcr27M::from_90k(Ticks90k(dts - 9000)));
            }
            let pes = &mut p[12..];
            pes[..4].copy_from_slice(&[0, 0, 1, 0xe0]);
            pes[6] = 0x80;
            pes[7] = 0xc0;
            pes[8] = 10;
            pes[9] = 0x30;
            write_timestamp(&mut pes[9..14], Ticks90k(pts));
            pes[14] = 0x10;
            write_timestamp(&mut pes[14..19], Ticks90k(dts));
            out.extend_from_slice(&p);
            // A continuation packet without PUSI.
            let mut c = [0x55u8; PACKET_LEN];
            c[0] = SYNC_BYTE;
            c[1] = (pid.0 >> 8) as u8;
            c[2] = pid.0 as u8;
            c[3] = 0x10 | self.next_cc(pid);
            out.extend_from_slice(&c);
        }

        fn item(&mut self, first_dts: i64, n_frames: i64, audio_lead: i64) -> Vec<u8> {
            let mut out = Vec::new();
            let mut p = [0u8; PACKET_LEN];
            write_pat(&mut p, 1, 1, self.pmt_pid);
            out.extend_from_slice(&p);
            let streams = [
                PmtStream {
                    stream_type: StreamType::H264,
                    pid: self.video_pid,
                    es_info: heapless::Vec::new(),
                },
                PmtStream {
                    stream_type: StreamType::AAC_ADTS,
                    pid: self.audio_pid,
                    es_info: heapless::Vec::new(),
                },
            ];
            write_pmt(&mut p, self.pmt_pid, 1, 0, self.video_pid, &streams);
            out.extend_from_slice(&p);
            let mut audio_dts = first_dts - audio_lead;
            for f in 0..n_frames {
                let dts = first_dts + f * 3000;
                while audio_dts <= dts {
                    self.pes(&mut out, self.audio_pid, audio_dts, audio_dts, false, false);
                    audio_dts += 1920;
                }
                self.pes(&mut out, self.video_pid, dts + 3000, dts, f % 30 == 0, true);
            }
            out
        }
    }

    fn splice(items: Vec<Vec<u8>>, piece: usize) -> VecSink {
        let mut splicer = Splicer::new();
        let mut sink = VecSink {
            out: Vec::new(),
            n_keyframes: 0,
        };
        for mut item in items {
            splicer.begin_item();
            for part in item.chunks_mut(piece / PACKET_LEN * PACKET_LEN) {
                splicer.push(part, &mut sink);
            }
        }
        splicer.flush(&mut sink);
        sink
    }

    #[test]
    fn twenty_splices_are_continuous() {
        let mut gen = ItemGen::new(0x100, 0x101, 0x1000);
        // Every item restarts at FFmpeg's 1.4 s, audio primed ~16 ms early.
        let items: Vec<_> = (0..21).map(|_| gen.item(126_000, 90, 1410)).collect();
        let total_in: usize = items.iter().map(Vec::len).sum();
        let sink = splice(items, 4096);
        let report = tscheck::check(&sink.out);
        assert_eq!(report.cc_errors, 0, "{report:?}");
        assert_eq!(report.pts_errors, 0, "{report:?}");
        assert_eq!(report.pcr_errors, 0, "{report:?}");
        assert_eq!(sink.out.len(), total_in + 21 * 3 * 2 * PACKET_LEN);
        assert_eq!(sink.n_keyframes, 21 * 3);
        // 21 items of 3 s each: the video spans 63 s less one frame, with no gap.
        let video = report.pid(0x100).unwrap();
        assert_eq!(video.last_dts - video.first_dts, 63 * 90_000 - 3000);
        assert!(sink.out.starts_with(&[SYNC_BYTE, 0x40, 0x00]));
    }

    #[test]
    fn remaps_other_pids_to_the_constant_ones() {
        let mut a = ItemGen::new(0x100, 0x101, 0x1000);
        let mut b = ItemGen::new(0x200, 0x300, 0x40);
        let items = vec![a.item(126_000, 60, 1410), b.item(900_000, 60, 0)];
        let sink = splice(items, 188 * 7);
        let report = tscheck::check(&sink.out);
        assert_eq!(
            report.cc_errors + report.pts_errors + report.pcr_errors,
            0,
            "{report:?}"
        );
        let mut pids: Vec<u16> = report.pids.iter().map(|p| p.pid).collect();
        pids.sort();
        assert_eq!(pids, vec![0, 0x100, 0x101, 0x1000]);
    }

    #[test]
    fn a_short_item_without_all_streams_still_splices() {
        let mut gen = ItemGen::new(0x100, 0x101, 0x1000);
        let mut video_only = gen.item(126_000, 30, 0);
        // Keep PAT, PMT and the first video frame's packets only (the audio comes first).
        video_only.truncate(PACKET_LEN * 2);
        let items = vec![
            gen.item(126_000, 30, 1410),
            video_only,
            gen.item(126_000, 30, 1410),
        ];
        let sink = splice(items, 188 * 3);
        let report = tscheck::check(&sink.out);
        assert_eq!(report.cc_errors + report.pts_errors, 0, "{report:?}");
    }

    /// An audio PES holding several ADTS frames (FFmpeg packs small ones, e.g. silence):
    /// the stream's end is its DTS plus all its frames, so the next item does not overlap.
    #[test]
    fn a_pes_of_several_aac_frames_extends_the_audio_end() {
        fn adts_pes(pid: Pid, dts: i64, n_frames: usize, cc: &mut u8) -> Vec<u8> {
            let mut payload = vec![0u8, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1];
            write_timestamp(&mut payload[9..14], Ticks90k(dts));
            for _ in 0..n_frames {
                let len = 40usize;
                // ADTS header: sync, MPEG-4, no CRC, AAC LC, 48 kHz (index 3), mono.
                let mut f = vec![0xff, 0xf1, 0x4c, 0x40, 0, 0x1f, 0xfc];
                f[3] |= ((len >> 11) & 0x03) as u8;
                f[4] = ((len >> 3) & 0xff) as u8;
                f[5] = (((len & 0x07) << 5) as u8) | 0x1f;
                f.resize(len, 0x11);
                payload.extend_from_slice(&f);
            }
            let mut out = Vec::new();
            for (i, piece) in payload.chunks(PACKET_LEN - 4).enumerate() {
                let mut p = [0xffu8; PACKET_LEN];
                p[0] = SYNC_BYTE;
                p[1] = if i == 0 { 0x40 } else { 0 } | (pid.0 >> 8) as u8;
                p[2] = pid.0 as u8;
                *cc = (*cc + 1) & 0x0f;
                if piece.len() == PACKET_LEN - 4 {
                    p[3] = 0x10 | *cc;
                    p[4..].copy_from_slice(piece);
                } else {
                    // Stuff the short last packet with an adaptation field.
                    let stuff = PACKET_LEN - 4 - piece.len();
                    p[3] = 0x30 | *cc;
                    p[4] = (stuff - 1) as u8;
                    if stuff > 1 {
                        p[5] = 0;
                    }
                    p[4 + stuff..].copy_from_slice(piece);
                }
                out.extend_from_slice(&p);
            }
            out
        }
        let item = |first: i64| {
            let mut out = Vec::new();
            let mut p = [0u8; PACKET_LEN];
            write_pat(&mut p, 1, 1, Pid(0x1000));
            out.extend_from_slice(&p);
            let streams = [PmtStream {
                stream_type: StreamType::AAC_ADTS,
                pid: Pid(0x101),
                es_info: heapless::Vec::new(),
            }];
            write_pmt(&mut p, Pid(0x1000), 1, 0, Pid(0x101), &streams);
            out.extend_from_slice(&p);
            let mut cc = 0x0f;
            // One PES of 10 frames (10 × 1920 ticks), then a single frame.
            out.extend(adts_pes(Pid(0x101), first, 10, &mut cc));
            out.extend(adts_pes(Pid(0x101), first + 10 * 1920, 1, &mut cc));
            out
        };
        let items = vec![item(126_000), item(126_000)];
        let sink = splice(items, 188 * 5);
        let report = tscheck::check(&sink.out);
        assert_eq!(
            report.cc_errors + report.pts_errors,
            0,
            "{:?}",
            report.errors
        );
        let audio = report.pid(0x101).unwrap();
        let dts: Vec<i64> = audio.pes.iter().map(|(pts, _)| *pts).collect();
        // The second item starts right after the first one's single last frame.
        assert_eq!(dts, vec![126_000, 145_200, 147_120, 166_320]);

        // A PES of many frames at the end of an item pushes the next one back by all of them.
        let tail_heavy = |first: i64| {
            let mut out = item(first);
            let mut cc = 0x0f;
            for p in out.chunks_mut(PACKET_LEN) {
                if p[1] & 0x1f == 0x01 {
                    cc = p[3] & 0x0f;
                }
            }
            out.extend(adts_pes(Pid(0x101), first + 11 * 1920, 8, &mut cc));
            out
        };
        let sink = splice(vec![tail_heavy(126_000), item(126_000)], 188 * 3);
        let report = tscheck::check(&sink.out);
        assert_eq!(
            report.cc_errors + report.pts_errors,
            0,
            "{:?}",
            report.errors
        );
        let audio = report.pid(0x101).unwrap();
        let second_item_first = audio.pes[3].0;
        assert_eq!(second_item_first, 126_000 + 19 * 1920);
    }

    #[test]
    fn random_input_never_panics() {
        let mut seed: u64 = 0xDEAD_BEEF_CAFE_F00D;
        let mut splicer = Splicer::new();
        let mut sink = VecSink {
            out: Vec::new(),
            n_keyframes: 0,
        };
        let mut buf = vec![0u8; PACKET_LEN * 64];
        for round in 0..2000 {
            for b in buf.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            for p in buf.chunks_mut(PACKET_LEN) {
                p[0] = SYNC_BYTE;
                // Steer some packets onto the PIDs the splicer cares about.
                match p[5] % 4 {
                    0 => p[1] &= 0xe0,
                    1 => {
                        p[1] = (p[1] & 0xe0) | 0x10;
                        p[2] = 0;
                    }
                    2 => {
                        p[1] = (p[1] & 0xe0) | 0x01;
                        p[2] = 0;
                    }
                    _ => {}
                }
            }
            if round % 10 == 0 {
                splicer.begin_item();
            }
            splicer.push(&mut buf, &mut sink);
            sink.out.clear();
        }
        splicer.flush(&mut sink);
    }
}

/// The splicer fed real FFmpeg outputs whose video parameters differ, as copy mode
/// produces them at programme boundaries (and the HLS cut from its output).
#[cfg(test)]
mod ffmpeg_sources {
    use super::tests_support::*;
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// `ffmpeg -v error` decodes `ts` without a word (every frame at its own timestamp).
    fn decode_errors(ts: &[u8]) -> String {
        let mut child = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-f",
                "mpegts",
                "-i",
                "pipe:0",
            ])
            .args(["-fps_mode", "passthrough", "-enc_time_base:v", "1/90000"])
            .args(["-f", "null", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ffmpeg");
        let mut stdin = child.stdin.take().expect("piped");
        let ts = ts.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&ts));
        let out = child.wait_with_output().expect("ffmpeg ran");
        writer
            .join()
            .expect("writer")
            .expect("ffmpeg read its input");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// (width×height, frames) of each run of equal-sized frames, by ffprobe.
    fn size_runs(ts: &[u8]) -> Vec<(String, usize)> {
        // One file per call: the tests run in parallel in one process, so a shared folder
        // removed by one would take the other's file with it.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("splice-{}-{n}.ts", std::process::id()));
        std::fs::write(&path, ts).expect("write");
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
            .args(["frame=width,height", "-of", "csv=p=0"])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .expect("run ffprobe");
        let _ = std::fs::remove_file(&path);
        let mut runs: Vec<(String, usize)> = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let size = line.trim().trim_end_matches(',').replace(',', "x");
            if size.is_empty() {
                continue; // a frame's side data, on a line of its own
            }
            match runs.last_mut() {
                Some((last, n)) if *last == size => *n += 1,
                _ => runs.push((size, 1)),
            }
        }
        runs
    }

    /// The H.264 NAL unit types of the first video PES at or after byte `from`.
    fn first_au_nal_types(ts: &[u8], from: usize) -> (bool, Vec<u8>) {
        let mut es = Vec::new();
        let mut random_access = false;
        for p in ts[from..].chunks_exact(PACKET_LEN) {
            let p = Packet::new(p).expect("sync");
            if p.pid() != OUT_VIDEO_PID {
                continue;
            }
            if p.pusi() {
                if !es.is_empty() {
                    break;
                }
                random_access = p.random_access();
                let pl = p.payload();
                es.extend_from_slice(&pl[9 + pl[8] as usize..]);
            } else if !es.is_empty() {
                es.extend_from_slice(p.payload());
            }
        }
        let types = es
            .windows(4)
            .filter(|w| w[..3] == [0, 0, 1])
            .map(|w| w[3] & 0x1f)
            .collect();
        (random_access, types)
    }

    /// Byte offsets where the PMT version changes, and the versions.
    fn pmt_changes(ts: &[u8]) -> Vec<(usize, u8)> {
        let mut out = Vec::new();
        let mut last = None;
        for (n, p) in ts.chunks_exact(PACKET_LEN).enumerate() {
            let p = Packet::new(p).expect("sync");
            if p.pid() == OUT_PMT_PID {
                let v = parse_pmt(p).expect("our PMT parses").version;
                if last.is_some_and(|l| l != v) {
                    out.push((n * PACKET_LEN, v));
                }
                last = Some(v);
            }
        }
        out
    }

    #[test]
    fn joins_programmes_of_other_sizes_rates_and_profiles_into_one_clean_stream() {
        let a = ffmpeg_ts("320x180", 25, "baseline", 2.0, 440);
        let b = ffmpeg_ts("416x240", 30, "high", 2.0, 880);
        let (out, stats) = splice_all(vec![a.clone(), b, a]);
        let report = tscheck::check(&out);
        assert_eq!(report.total_errors(), 0, "{:?}", report.errors);
        let mut pids: Vec<u16> = report.pids.iter().map(|p| p.pid).collect();
        pids.sort();
        assert_eq!(pids, vec![0, 0x100, 0x101, 0x1000]);
        assert_eq!(decode_errors(&out), "");
        assert_eq!(
            size_runs(&out),
            vec![
                ("320x180".to_string(), 50),
                ("416x240".to_string(), 60),
                ("320x180".to_string(), 50)
            ]
        );
        // Both boundaries are announced by a new PMT version, each just ahead of the new
        // programme's first keyframe, which carries its SPS and PPS before its IDR slice.
        assert_eq!(stats.n_param_changes, 2);
        let changes = pmt_changes(&out);
        assert_eq!(changes.iter().map(|c| c.1).collect::<Vec<_>>(), vec![1, 2]);
        for (at, _) in changes {
            let (random_access, types) = first_au_nal_types(&out, at);
            assert!(random_access, "the first frame after {at} is no keyframe");
            let idr = types.iter().position(|t| *t == 5).expect("an IDR slice");
            let sps = types.iter().position(|t| *t == 7).expect("an SPS");
            let pps = types.iter().position(|t| *t == 8).expect("a PPS");
            assert!(sps < idr && pps < idr, "{types:?}");
        }
        assert_eq!(stats.n_video_before_keyframe, 0);
    }

    #[test]
    fn programmes_of_the_same_parameters_keep_the_pmt_version() {
        let a = ffmpeg_ts("320x180", 25, "baseline", 1.0, 440);
        let b = ffmpeg_ts("320x180", 25, "baseline", 1.0, 880);
        let (out, stats) = splice_all(vec![a, b.clone(), b]);
        assert_eq!(stats.n_param_changes, 0);
        assert!(pmt_changes(&out).is_empty());
        assert_eq!(tscheck::check(&out).total_errors(), 0);
    }

    #[test]
    fn video_before_a_new_programmes_first_keyframe_is_dropped() {
        let a = ffmpeg_ts("320x180", 25, "baseline", 1.0, 440);
        let mut b = ffmpeg_ts("416x240", 30, "high", 4.0, 880);
        // Cut `b` to start in its first GOP: its first video packets are not a keyframe.
        let first_video = b
            .chunks_exact(PACKET_LEN)
            .position(|p| Packet::new(p).is_some_and(|p| p.pid() == OUT_VIDEO_PID && p.pusi()))
            .expect("video");
        let second_frame = b
            .chunks_exact(PACKET_LEN)
            .enumerate()
            .skip(first_video + 1)
            .find(|(_, p)| Packet::new(p).is_some_and(|p| p.pid() == OUT_VIDEO_PID && p.pusi()))
            .map(|(n, _)| n)
            .expect("a second frame");
        b.drain(first_video * PACKET_LEN..second_frame * PACKET_LEN);
        let (out, stats) = splice_all(vec![a, b]);
        assert!(stats.n_video_before_keyframe > 0);
        assert_eq!(tscheck::check(&out).total_errors(), 0);
        assert_eq!(decode_errors(&out), "");
        let runs = size_runs(&out);
        assert_eq!(runs.len(), 2, "{runs:?}");
        // The second programme starts at its next keyframe, its second GOP (2 s at 30 fps).
        assert_eq!(runs[0], ("320x180".to_string(), 25));
        assert_eq!(runs[1], ("416x240".to_string(), 60));
    }

    #[test]
    fn hls_marks_the_boundaries_where_the_video_parameters_change() {
        let a = ffmpeg_ts("320x180", 25, "baseline", 8.0, 440);
        let b = ffmpeg_ts("416x240", 30, "high", 8.0, 880);
        let hls = super::super::hls::Hls::default();
        hls.touch(super::super::hls::HOLD);
        feed_hls(vec![a.clone(), b, a], &hls);
        let text = hls.playlist("1/seg/", "");
        // 24 s: the window holds the last six segments, both boundaries among them.
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 2, "{text}");
        let segment_after = |mark: usize| -> u64 {
            let uri = text[mark..]
                .lines()
                .nth(2)
                .expect("a segment after the mark");
            let seq = uri.trim_start_matches("1/seg/").trim_end_matches(".ts");
            seq.parse().expect("a number")
        };
        for (mark, _) in text.match_indices("#EXT-X-DISCONTINUITY\n") {
            let seq = segment_after(mark);
            let chunks = hls.segment(seq).expect("listed, so kept");
            let bytes: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
            let (random_access, types) = first_au_nal_types(&bytes, 0);
            assert!(random_access && types.contains(&7), "{types:?}");
            let runs = size_runs(&bytes);
            assert_eq!(runs.len(), 1, "segment {seq} mixes sizes: {runs:?}");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use std::process::{Command, Stdio};

    /// A libx264 + AAC TS from lavfi as the feeder's FFmpeg writes it (same PIDs and muxer
    /// options), `seconds` long, with a `freq` tone; FFmpeg is reaped by `output`.
    pub fn ffmpeg_ts(size: &str, rate: u32, profile: &str, seconds: f64, freq: u32) -> Vec<u8> {
        let video = format!("testsrc2=size={size}:rate={rate}");
        let audio = format!("sine=frequency={freq}:sample_rate=48000");
        let t = format!("{seconds:.3}");
        let g = (rate * 2).to_string();
        let out = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                &video,
            ])
            .args(["-f", "lavfi", "-i", &audio, "-t", &t])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-profile:v",
                profile,
            ])
            .args(["-g", &g, "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2"])
            .args(["-f", "mpegts", "-mpegts_pmt_start_pid", "4096"])
            .args([
                "-mpegts_start_pid",
                "256",
                "-pes_payload_size",
                "0",
                "pipe:1",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("run ffmpeg");
        assert!(out.status.success(), "ffmpeg failed");
        out.stdout
    }

    pub struct VecSink {
        pub out: Vec<u8>,
    }

    impl Sink for VecSink {
        fn packet(&mut self, packet: &[u8]) {
            self.out.extend_from_slice(packet);
        }
        fn keyframe(&mut self) {}
    }

    /// The items spliced in 40-packet reads.
    pub fn splice_all(items: Vec<Vec<u8>>) -> (Vec<u8>, SpliceStats) {
        let mut splicer = Splicer::new();
        let mut sink = VecSink { out: Vec::new() };
        for mut item in items {
            splicer.begin_item();
            for part in item.chunks_mut(PACKET_LEN * 40) {
                splicer.push(part, &mut sink);
            }
            splicer.flush(&mut sink);
        }
        (sink.out, splicer.stats())
    }

    /// Cuts ring chunks as the feeder does (at a keyframe, at 64 packets, at the end of each
    /// read) and hands them to `hls` with the stream time reached before the read.
    struct HlsSink<'a> {
        hls: &'a super::super::hls::Hls,
        buf: Vec<u8>,
        keyframe: bool,
        stream_ms: i64,
    }

    impl HlsSink<'_> {
        fn flush(&mut self) {
            if self.buf.is_empty() {
                return;
            }
            let chunk = bytes::Bytes::from(std::mem::take(&mut self.buf));
            let now = crate::time::now_ms();
            self.hls
                .on_chunk(&chunk, self.keyframe, self.stream_ms, now);
            self.keyframe = false;
        }
    }

    impl Sink for HlsSink<'_> {
        fn packet(&mut self, packet: &[u8]) {
            self.buf.extend_from_slice(packet);
            if self.buf.len() >= 64 * PACKET_LEN {
                self.flush();
            }
        }
        fn keyframe(&mut self) {
            self.flush();
            self.keyframe = true;
        }
    }

    pub fn feed_hls(items: Vec<Vec<u8>>, hls: &super::super::hls::Hls) {
        let mut splicer = Splicer::new();
        let mut sink = HlsSink {
            hls,
            buf: Vec::new(),
            keyframe: false,
            stream_ms: 0,
        };
        for mut item in items {
            splicer.begin_item();
            for part in item.chunks_mut(PACKET_LEN * 40) {
                sink.stream_ms = splicer.elapsed_ms();
                splicer.push(part, &mut sink);
                sink.flush();
            }
            splicer.flush(&mut sink);
            sink.flush();
        }
    }
}
