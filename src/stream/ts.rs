//! MPEG transport-stream packets: a borrowed `Packet` view that reads fields without copying,
//! a `PacketMut` twin that rewrites counters and timestamps in place, PAT/PMT parsing and
//! writing (with the MPEG-2 CRC; a stream's type is a `StreamType`, never a bare byte), and
//! `Aligner`, which finds 188-byte packet boundaries in a byte stream read from a pipe.
//! Timestamps are typed by their clock (`Ticks90k` for PTS/DTS, `Pcr27M` for the PCR, from
//! `ticks`); the wire fields wrap, the values do not.
//!
//! It knows nothing of FFmpeg, channels or viewers: only the bytes of ISO/IEC 13818-1.

pub use super::ticks::{Pcr27M, Ticks90k};

pub const PACKET_LEN: usize = 188;
pub const SYNC_BYTE: u8 = 0x47;

/// PTS/DTS tick rate (90 kHz) and PCR tick rate (27 MHz).
pub const PTS_HZ: i64 = 90_000;
pub const PCR_HZ: i64 = 27_000_000;
/// PTS/DTS are 33-bit counters; they wrap after ~26.5 h.
pub const PTS_WRAP: i64 = 1 << 33;
/// The PCR base wraps with the PTS; the full PCR (base × 300 + extension) wraps here.
pub const PCR_WRAP: i64 = PTS_WRAP * 300;

/// A 13-bit packet identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pid(pub u16);

impl Pid {
    pub const PAT: Pid = Pid(0);
    pub const NULL: Pid = Pid(0x1fff);
}

/// A PMT `stream_type` (ISO/IEC 13818-1 table 2-34, plus the ATSC and SMPTE registrations
/// FFmpeg writes), decoded once at the PMT so no caller compares the wire byte. Values not
/// named here are kept as read: the splicer only skips them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamType(pub u8);

impl StreamType {
    pub const MPEG1_VIDEO: StreamType = StreamType(0x01);
    pub const MPEG2_VIDEO: StreamType = StreamType(0x02);
    pub const MPEG1_AUDIO: StreamType = StreamType(0x03);
    pub const MPEG2_AUDIO: StreamType = StreamType(0x04);
    /// AAC in ADTS frames, FFmpeg's AAC in TS.
    pub const AAC_ADTS: StreamType = StreamType(0x0f);
    pub const MPEG4_VIDEO: StreamType = StreamType(0x10);
    /// AAC in LATM.
    pub const AAC_LATM: StreamType = StreamType(0x11);
    pub const H264: StreamType = StreamType(0x1b);
    pub const HEVC: StreamType = StreamType(0x24);
    /// Chinese AVS video (FFmpeg's `cavs`).
    pub const CAVS: StreamType = StreamType(0x42);
    /// ATSC A/52 (AC-3) and its enhanced form (E-AC-3).
    pub const AC3: StreamType = StreamType(0x81);
    pub const EAC3: StreamType = StreamType(0x87);
    /// SMPTE VC-1.
    pub const VC1: StreamType = StreamType(0xea);

    /// A video codec the splicer can carry as the output's video stream.
    pub fn is_video(self) -> bool {
        matches!(
            self,
            Self::MPEG1_VIDEO
                | Self::MPEG2_VIDEO
                | Self::MPEG4_VIDEO
                | Self::H264
                | Self::HEVC
                | Self::CAVS
                | Self::VC1
        )
    }

    /// An audio codec the splicer can carry as the output's audio stream.
    pub fn is_audio(self) -> bool {
        matches!(
            self,
            Self::MPEG1_AUDIO
                | Self::MPEG2_AUDIO
                | Self::AAC_ADTS
                | Self::AAC_LATM
                | Self::AC3
                | Self::EAC3
        )
    }
}

/// A borrowed, validated (sync byte) view of one packet; reading a field copies nothing.
#[derive(Clone, Copy)]
pub struct Packet<'buf>(&'buf [u8; PACKET_LEN]);

/// Where a PES header's timestamps sit inside a packet (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PesTimestamps {
    pub pts_at: Option<usize>,
    pub dts_at: Option<usize>,
}

impl<'buf> Packet<'buf> {
    pub fn new(buf: &'buf [u8]) -> Option<Self> {
        let bytes: &[u8; PACKET_LEN] = buf.get(..PACKET_LEN)?.try_into().ok()?;
        (bytes[0] == SYNC_BYTE).then_some(Packet(bytes))
    }

    pub fn bytes(self) -> &'buf [u8; PACKET_LEN] {
        self.0
    }

    pub fn pid(self) -> Pid {
        Pid(u16::from_be_bytes([self.0[1] & 0x1f, self.0[2]]))
    }

    /// Payload unit start indicator: a PES or PSI section begins in this packet.
    pub fn pusi(self) -> bool {
        self.0[1] & 0x40 != 0
    }

    pub fn has_adaptation(self) -> bool {
        self.0[3] & 0x20 != 0
    }

    pub fn has_payload(self) -> bool {
        self.0[3] & 0x10 != 0
    }

    pub fn cc(self) -> u8 {
        self.0[3] & 0x0f
    }

    /// The adaptation field after its length byte (empty when absent or zero-length).
    fn adaptation(self) -> &'buf [u8] {
        if !self.has_adaptation() {
            return &[];
        }
        let len = self.0[4] as usize;
        self.0.get(5..5 + len).unwrap_or(&[])
    }

    /// Random access indicator: a decoder can start here (a keyframe begins).
    pub fn random_access(self) -> bool {
        self.adaptation()
            .first()
            .is_some_and(|flags| flags & 0x40 != 0)
    }

    /// The PCR (as written: wrapped), when this packet carries one.
    pub fn pcr(self) -> Option<Pcr27M> {
        let af = self.adaptation();
        if af.len() < 7 || af[0] & 0x10 == 0 {
            return None;
        }
        Some(read_pcr(&af[1..7]))
    }

    fn payload_offset(self) -> Option<usize> {
        if !self.has_payload() {
            return None;
        }
        let at = if self.has_adaptation() {
            5 + self.0[4] as usize
        } else {
            4
        };
        (at < PACKET_LEN).then_some(at)
    }

    pub fn payload(self) -> &'buf [u8] {
        match self.payload_offset() {
            Some(at) => &self.0[at..],
            None => &[],
        }
    }

    /// Offsets of the PTS and DTS when a PES header with them starts in this packet.
    pub fn pes_timestamps(self) -> Option<PesTimestamps> {
        if !self.pusi() {
            return None;
        }
        let at = self.payload_offset()?;
        let pes = &self.0[at..];
        if pes.len() < 9 || pes[..3] != [0, 0, 1] {
            return None;
        }
        // Stream ids without the optional PES header (padding, private 2, ECM, ...).
        if matches!(
            pes[3],
            0xbc | 0xbe | 0xbf | 0xf0 | 0xf1 | 0xf2 | 0xf8 | 0xff
        ) {
            return None;
        }
        let flags = pes[7] >> 6;
        let has_pts = flags & 0b10 != 0;
        let has_dts = flags == 0b11;
        let pts_at = (has_pts && pes.len() >= 14).then_some(at + 9);
        let dts_at = (has_dts && pes.len() >= 19).then_some(at + 14);
        Some(PesTimestamps { pts_at, dts_at })
    }

    /// The PES header's PTS (as written: 33 bits, wrapped).
    pub fn pts(self) -> Option<Ticks90k> {
        let at = self.pes_timestamps()?.pts_at?;
        Some(read_timestamp(&self.0[at..at + 5]))
    }

    /// The PES header's DTS (as written: 33 bits, wrapped).
    pub fn dts(self) -> Option<Ticks90k> {
        let at = self.pes_timestamps()?.dts_at?;
        Some(read_timestamp(&self.0[at..at + 5]))
    }
}

/// The mutable twin of `Packet`: rewrites fields in place, before the bytes become `Bytes`.
pub struct PacketMut<'buf>(&'buf mut [u8; PACKET_LEN]);

impl<'buf> PacketMut<'buf> {
    pub fn new(buf: &'buf mut [u8]) -> Option<Self> {
        let bytes: &mut [u8; PACKET_LEN] = buf.get_mut(..PACKET_LEN)?.try_into().ok()?;
        (bytes[0] == SYNC_BYTE).then_some(PacketMut(bytes))
    }

    pub fn view(&self) -> Packet<'_> {
        Packet(self.0)
    }

    pub fn set_pid(&mut self, pid: Pid) {
        self.0[1] = (self.0[1] & 0xe0) | ((pid.0 >> 8) as u8 & 0x1f);
        self.0[2] = pid.0 as u8;
    }

    pub fn set_cc(&mut self, cc: u8) {
        self.0[3] = (self.0[3] & 0xf0) | (cc & 0x0f);
    }

    /// Rewrites the PCR (wrapped as it is written); does nothing when the packet carries
    /// none.
    pub fn set_pcr(&mut self, pcr: Pcr27M) {
        if self.view().pcr().is_some() {
            write_pcr(&mut self.0[6..12], pcr);
        }
    }

    pub fn set_pts(&mut self, pts: Ticks90k) {
        if let Some(at) = self.view().pes_timestamps().and_then(|t| t.pts_at) {
            write_timestamp(&mut self.0[at..at + 5], pts);
        }
    }

    pub fn set_dts(&mut self, dts: Ticks90k) {
        if let Some(at) = self.view().pes_timestamps().and_then(|t| t.dts_at) {
            write_timestamp(&mut self.0[at..at + 5], dts);
        }
    }
}

/// Reads a 33-bit PTS/DTS from its 5-byte field.
pub fn read_timestamp(b: &[u8]) -> Ticks90k {
    Ticks90k(
        (((b[0] as i64 >> 1) & 0x07) << 30)
            | ((b[1] as i64) << 22)
            | (((b[2] as i64) >> 1) << 15)
            | ((b[3] as i64) << 7)
            | ((b[4] as i64) >> 1),
    )
}

/// Writes `ts` (taken modulo 2^33) keeping the field's 4-bit prefix and marker bits.
pub fn write_timestamp(b: &mut [u8], ts: Ticks90k) {
    let ts = ts.0.rem_euclid(PTS_WRAP);
    b[0] = (b[0] & 0xf0) | (((ts >> 29) as u8) & 0x0e) | 1;
    b[1] = (ts >> 22) as u8;
    b[2] = (((ts >> 14) as u8) & 0xfe) | 1;
    b[3] = (ts >> 7) as u8;
    b[4] = (((ts << 1) as u8) & 0xfe) | 1;
}

/// Reads the 6-byte PCR field as 27 MHz ticks (base × 300 + extension).
pub fn read_pcr(b: &[u8]) -> Pcr27M {
    let base = ((b[0] as i64) << 25)
        | ((b[1] as i64) << 17)
        | ((b[2] as i64) << 9)
        | ((b[3] as i64) << 1)
        | ((b[4] as i64) >> 7);
    let ext = (((b[4] as i64) & 1) << 8) | b[5] as i64;
    Pcr27M(base * 300 + ext)
}

/// Writes `pcr` (taken modulo the PCR's wrap) into its 6-byte field.
pub fn write_pcr(b: &mut [u8], pcr: Pcr27M) {
    let pcr = pcr.0.rem_euclid(PCR_WRAP);
    let base = pcr / 300;
    let ext = pcr % 300;
    b[0] = (base >> 25) as u8;
    b[1] = (base >> 17) as u8;
    b[2] = (base >> 9) as u8;
    b[3] = (base >> 1) as u8;
    b[4] = (((base & 1) as u8) << 7) | 0x7e | ((ext >> 8) as u8 & 1);
    b[5] = ext as u8;
}

/// `raw` (a wrapped counter with period `wrap`) placed on the unwrapped axis nearest `near`.
pub fn unwrap(near: i64, raw: i64, wrap: i64) -> i64 {
    let delta = (raw - near).rem_euclid(wrap);
    if delta > wrap / 2 {
        near + delta - wrap
    } else {
        near + delta
    }
}

/// One elementary stream of a PMT, with its descriptors when they fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PmtStream {
    pub stream_type: StreamType,
    pub pid: Pid,
    pub es_info: heapless::Vec<u8, ES_INFO_MAX>,
}

/// Descriptor bytes kept per stream. FFmpeg writes a 6-byte language descriptor for audio
/// and none for video; 64 bytes keeps a few more, and longer lists are dropped whole (a
/// decoder needs none of them to play H.264/AAC).
pub const ES_INFO_MAX: usize = 64;
/// Streams kept from a PMT: one video and one audio are used; 8 leaves room for the rest
/// of a typical file (extra audio, subtitles) to be seen and skipped.
pub const PMT_STREAMS_MAX: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pmt {
    pub program_number: u16,
    /// The section's `version_number` (5 bits): a new version is a new program definition.
    pub version: u8,
    pub pcr_pid: Pid,
    pub streams: heapless::Vec<PmtStream, PMT_STREAMS_MAX>,
}

/// The PSI section starting in this packet (after the pointer field), bounded to the packet
/// and checked by CRC. Sections spanning packets are not supported (FFmpeg never writes one
/// for PAT or PMT of a few streams).
fn section(packet: Packet<'_>) -> Option<&[u8]> {
    if !packet.pusi() {
        return None;
    }
    let payload = packet.payload();
    let pointer = *payload.first()? as usize;
    let section = payload.get(1 + pointer..)?;
    if section.len() < 3 {
        return None;
    }
    let len = (((section[1] & 0x0f) as usize) << 8) | section[2] as usize;
    let section = section.get(..3 + len)?;
    if len < 9 || crc32_mpeg2(section) != 0 {
        return None;
    }
    Some(section)
}

/// The PMT PID of the first program of a PAT (program 0 is the network PID, skipped).
pub fn parse_pat(packet: Packet<'_>) -> Option<(u16, Pid)> {
    let s = section(packet)?;
    if s[0] != 0x00 {
        return None;
    }
    let body = &s[8..s.len() - 4];
    body.chunks_exact(4).find_map(|e| {
        let program = u16::from_be_bytes([e[0], e[1]]);
        let pid = Pid(u16::from_be_bytes([e[2] & 0x1f, e[3]]));
        (program != 0).then_some((program, pid))
    })
}

pub fn parse_pmt(packet: Packet<'_>) -> Option<Pmt> {
    let s = section(packet)?;
    if s[0] != 0x02 || s.len() < 16 {
        return None;
    }
    let program_number = u16::from_be_bytes([s[3], s[4]]);
    let version = (s[5] >> 1) & 0x1f;
    let pcr_pid = Pid(u16::from_be_bytes([s[8] & 0x1f, s[9]]));
    let program_info_len = (((s[10] & 0x0f) as usize) << 8) | s[11] as usize;
    let end = s.len() - 4;
    let mut at = 12 + program_info_len;
    let mut streams = heapless::Vec::new();
    while at + 5 <= end {
        let stream_type = StreamType(s[at]);
        let pid = Pid(u16::from_be_bytes([s[at + 1] & 0x1f, s[at + 2]]));
        let es_len = (((s[at + 3] & 0x0f) as usize) << 8) | s[at + 4] as usize;
        let info = s.get(at + 5..at + 5 + es_len)?;
        let es_info = heapless::Vec::from_slice(info).unwrap_or_default();
        // More streams than we keep: the rest are ignored, which drops only their packets.
        let _ = streams.push(PmtStream {
            stream_type,
            pid,
            es_info,
        });
        at += 5 + es_len;
    }
    Some(Pmt {
        program_number,
        version,
        pcr_pid,
        streams,
    })
}

/// A PAT with one program, written into a whole packet (CC 0; the caller sets it).
pub fn write_pat(out: &mut [u8; PACKET_LEN], transport_stream_id: u16, program: u16, pmt: Pid) {
    let mut section = [0u8; 16];
    section[0] = 0x00;
    let len = 13u16; // 5 header bytes after the length, 4 per program, 4 CRC
    section[1] = 0xb0 | (len >> 8) as u8;
    section[2] = len as u8;
    section[3..5].copy_from_slice(&transport_stream_id.to_be_bytes());
    section[5] = 0xc1; // version 0, current
    section[6] = 0;
    section[7] = 0;
    section[8..10].copy_from_slice(&program.to_be_bytes());
    section[10] = 0xe0 | (pmt.0 >> 8) as u8;
    section[11] = pmt.0 as u8;
    let crc = crc32_mpeg2(&section[..12]);
    section[12..16].copy_from_slice(&crc.to_be_bytes());
    write_psi_packet(out, Pid::PAT, &section);
}

/// A PMT for `program` with `streams`, written into a whole packet. Returns `false` (and
/// writes nothing) when it would not fit in one packet.
pub fn write_pmt(
    out: &mut [u8; PACKET_LEN],
    pmt_pid: Pid,
    program: u16,
    version: u8,
    pcr_pid: Pid,
    streams: &[PmtStream],
) -> bool {
    let mut section = [0u8; PACKET_LEN];
    let body_len: usize = streams.iter().map(|s| 5 + s.es_info.len()).sum();
    let total = 12 + body_len + 4;
    // 4 header bytes + the pointer field must fit too.
    if total > PACKET_LEN - 5 {
        return false;
    }
    let len = (total - 3) as u16;
    section[0] = 0x02;
    section[1] = 0xb0 | (len >> 8) as u8;
    section[2] = len as u8;
    section[3..5].copy_from_slice(&program.to_be_bytes());
    section[5] = 0xc1 | ((version & 0x1f) << 1);
    section[6] = 0;
    section[7] = 0;
    section[8] = 0xe0 | (pcr_pid.0 >> 8) as u8;
    section[9] = pcr_pid.0 as u8;
    section[10] = 0xf0;
    section[11] = 0;
    let mut at = 12;
    for s in streams {
        section[at] = s.stream_type.0;
        section[at + 1] = 0xe0 | (s.pid.0 >> 8) as u8;
        section[at + 2] = s.pid.0 as u8;
        section[at + 3] = 0xf0 | (s.es_info.len() >> 8) as u8;
        section[at + 4] = s.es_info.len() as u8;
        section[at + 5..at + 5 + s.es_info.len()].copy_from_slice(&s.es_info);
        at += 5 + s.es_info.len();
    }
    let crc = crc32_mpeg2(&section[..at]);
    section[at..at + 4].copy_from_slice(&crc.to_be_bytes());
    write_psi_packet(out, pmt_pid, &section[..at + 4]);
    true
}

fn write_psi_packet(out: &mut [u8; PACKET_LEN], pid: Pid, section: &[u8]) {
    out.fill(0xff);
    out[0] = SYNC_BYTE;
    out[1] = 0x40 | (pid.0 >> 8) as u8; // PUSI
    out[2] = pid.0 as u8;
    out[3] = 0x10; // payload only, CC 0
    out[4] = 0; // pointer field
    out[5..5 + section.len()].copy_from_slice(section);
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32/MPEG-2; over a section including its CRC it yields 0.
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    data.iter().fold(0xffff_ffff, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ b) as usize]
    })
}

/// Finds packet boundaries in bytes read from a pipe in arbitrary pieces: whole packets are
/// handed out, a partial one waits for the next read, and garbage before a sync byte is
/// skipped (and counted).
pub struct Aligner {
    buf: Box<[u8]>,
    len: usize,
    pub n_skipped_bytes: u64,
}

impl Aligner {
    /// `capacity` bytes per read (plus the ≤187 carried over).
    pub fn new(capacity: usize) -> Aligner {
        Aligner {
            buf: vec![0u8; capacity + PACKET_LEN].into_boxed_slice(),
            len: 0,
            n_skipped_bytes: 0,
        }
    }

    /// The free space to read into.
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Records `n` bytes read into `spare()`, then returns the whole packets now available
    /// (aligned, editable). Call `consume` afterwards.
    pub fn filled(&mut self, n: usize) -> &mut [u8] {
        self.commit(n);
        self.whole()
    }

    /// The whole packets held (aligned, editable).
    pub fn whole(&mut self) -> &mut [u8] {
        let whole = self.len / PACKET_LEN * PACKET_LEN;
        &mut self.buf[..whole]
    }

    /// Drops the first `n` bytes (whole packets from `whole()`), keeping the rest.
    pub fn consume_bytes(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Records `n` bytes read into `spare()` and resynchronises on a sync byte.
    pub fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(self.buf.len());
        let mut start = 0;
        // Resynchronise: a packet starts at a sync byte followed, one packet on, by another
        // (or by the end of what we have).
        while start < self.len {
            let here = self.buf[start] == SYNC_BYTE;
            let next_ok =
                start + PACKET_LEN >= self.len || self.buf[start + PACKET_LEN] == SYNC_BYTE;
            if here && next_ok {
                break;
            }
            start += 1;
        }
        if start > 0 {
            self.n_skipped_bytes += start as u64;
            self.buf.copy_within(start..self.len, 0);
            self.len -= start;
        }
    }

    /// Drops the whole packets returned by `filled`, keeping the partial tail.
    pub fn consume(&mut self) {
        let whole = self.len / PACKET_LEN * PACKET_LEN;
        self.buf.copy_within(whole..self.len, 0);
        self.len -= whole;
    }

    /// Forgets any partial packet (a new input begins).
    pub fn reset(&mut self) {
        self.len = 0;
    }
}

/// The version of the first PMT in `packets` (whole packets; the PMT found through a PAT
/// before it), as the splicer writes them at the head of every keyframe chunk.
pub fn program_version(packets: &[u8]) -> Option<u8> {
    let mut pmt_pid = None;
    for chunk in packets.chunks_exact(PACKET_LEN) {
        let p = Packet::new(chunk)?;
        if p.pid() == Pid::PAT {
            pmt_pid = parse_pat(p).map(|(_, pid)| pid);
        } else if pmt_pid == Some(p.pid()) {
            return parse_pmt(p).map(|pmt| pmt.version);
        }
    }
    None
}

/// What identifies the coding parameters of an H.264 stream: a digest of every sequence and
/// picture parameter set (SPS, PPS) ahead of a keyframe's first slice, and the profile and
/// level the SPS names. Two keyframes with equal values decode with the same parameters; a
/// different size, frame rate (VUI timing), profile, level or entropy coding changes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoParams {
    pub digest: u64,
    pub profile_idc: u8,
    pub level_idc: u8,
}

/// ITU-T H.264 NAL unit types read here.
const NAL_SPS: u8 = 7;
const NAL_PPS: u8 = 8;
/// Types 1..=5 are coded slices: the parameter sets of the access unit are all before them.
const NAL_SLICE_MAX: u8 = 5;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Follows the H.264 byte stream of one access unit across TS packets, from a keyframe's
/// first packet to its first slice (or the next PES), hashing its SPS and PPS NAL units as
/// they pass: no buffer, no allocation, a few packets per keyframe. Start codes may be cut
/// by packet boundaries; zero bytes are held back until it is known whether they begin a
/// start code, so `00 00 01` and `00 00 00 01` framings hash the same.
#[derive(Debug, Default)]
pub struct ParamSetScan {
    active: bool,
    done: bool,
    /// The access unit's first packet (its PES start) has been read.
    begun: bool,
    /// Zero bytes seen and not yet hashed.
    zeros: u8,
    /// The next byte is a NAL header.
    at_header: bool,
    /// The NAL unit being read is an SPS or PPS (its bytes are hashed).
    in_set: bool,
    /// Position in the current SPS (1 = the byte after its header), 0 outside one.
    sps_at: u8,
    digest: u64,
    n_sets: u8,
    profile_idc: u8,
    level_idc: u8,
}

impl ParamSetScan {
    /// A keyframe begins: scan its access unit from `p` on (`p` is its first packet).
    pub fn start(&mut self, p: Packet<'_>) {
        *self = ParamSetScan {
            active: true,
            digest: FNV_OFFSET,
            ..ParamSetScan::default()
        };
        self.feed(p);
    }

    /// Whether a scan runs and still wants packets.
    #[inline]
    pub fn wants(&self) -> bool {
        self.active && !self.done
    }

    /// The next packet of the video PID.
    pub fn feed(&mut self, p: Packet<'_>) {
        if !self.wants() {
            return;
        }
        let payload = p.payload();
        let data = if p.pusi() {
            if self.begun {
                // A new PES is a new access unit: this one had no slice in sight.
                self.done = true;
                return;
            }
            // Skip the PES header (9 bytes and its optional fields).
            match payload {
                [0, 0, 1, _, _, _, _, _, len, rest @ ..] => {
                    rest.get(*len as usize..).unwrap_or(&[])
                }
                _ => {
                    self.done = true;
                    return;
                }
            }
        } else {
            payload
        };
        self.begun = true;
        for &b in data {
            self.byte(b);
            if self.done {
                return;
            }
        }
    }

    fn byte(&mut self, b: u8) {
        if b == 0 {
            self.zeros = self.zeros.saturating_add(1);
            return;
        }
        if b == 1 && self.zeros >= 2 {
            // A start code: the held zeros were its own, and a NAL header follows.
            self.zeros = 0;
            self.in_set = false;
            self.sps_at = 0;
            self.at_header = true;
            return;
        }
        for _ in 0..self.zeros {
            self.nal_byte(0);
        }
        self.zeros = 0;
        if self.at_header {
            self.at_header = false;
            let nal_type = b & 0x1f;
            if (1..=NAL_SLICE_MAX).contains(&nal_type) {
                self.done = true;
                return;
            }
            // An AUD, SEI or filler is skipped; only the parameter sets are hashed.
            self.in_set = matches!(nal_type, NAL_SPS | NAL_PPS);
            if self.in_set {
                self.n_sets = self.n_sets.saturating_add(1);
                self.hash(b);
                self.sps_at = u8::from(nal_type == NAL_SPS);
            }
            return;
        }
        self.nal_byte(b);
    }

    /// A byte inside a NAL unit (after its header).
    fn nal_byte(&mut self, b: u8) {
        if !self.in_set {
            return;
        }
        self.hash(b);
        // An SPS starts with profile_idc, the constraint flags, then level_idc.
        match self.sps_at {
            1 => self.profile_idc = b,
            3 => self.level_idc = b,
            _ => {}
        }
        if (1..4).contains(&self.sps_at) {
            self.sps_at += 1;
        }
    }

    fn hash(&mut self, b: u8) {
        self.digest = (self.digest ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }

    /// The parameters read, once the scan is done and met at least one SPS or PPS.
    pub fn params(&self) -> Option<VideoParams> {
        (self.active && self.done && self.n_sets > 0).then_some(VideoParams {
            digest: self.digest,
            profile_idc: self.profile_idc,
            level_idc: self.level_idc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet_with_pes(pid: Pid, pts: i64, dts: Option<i64>) -> [u8; PACKET_LEN] {
        let mut p = [0xffu8; PACKET_LEN];
        p[0] = SYNC_BYTE;
        p[1] = 0x40 | (pid.0 >> 8) as u8;
        p[2] = pid.0 as u8;
        p[3] = 0x10;
        let pes = &mut p[4..];
        pes[..3].copy_from_slice(&[0, 0, 1]);
        pes[3] = 0xe0;
        pes[4] = 0;
        pes[5] = 0;
        pes[6] = 0x80;
        pes[7] = if dts.is_some() { 0xc0 } else { 0x80 };
        pes[8] = if dts.is_some() { 10 } else { 5 };
        pes[9] = if dts.is_some() { 0x30 } else { 0x20 };
        write_timestamp(&mut pes[9..14], Ticks90k(pts));
        if let Some(d) = dts {
            pes[14] = 0x10;
            write_timestamp(&mut pes[14..19], Ticks90k(d));
        }
        p
    }

    #[test]
    fn timestamps_round_trip_and_wrap() {
        for ts in [0, 1, 90_000, PTS_WRAP - 1, 0x1_2345_6789 & (PTS_WRAP - 1)] {
            let mut p = packet_with_pes(Pid(0x100), ts, Some(ts / 2));
            let view = Packet::new(&p).unwrap();
            assert_eq!(view.pts(), Some(Ticks90k(ts)));
            assert_eq!(view.dts(), Some(Ticks90k(ts / 2)));
            let mut m = PacketMut::new(&mut p).unwrap();
            m.set_pts(Ticks90k(ts + PTS_WRAP + 7));
            assert_eq!(
                Packet::new(&p).unwrap().pts(),
                Some(Ticks90k((ts + 7) % PTS_WRAP))
            );
        }
    }

    #[test]
    fn pcr_round_trips() {
        let mut p = [0xffu8; PACKET_LEN];
        p[0] = SYNC_BYTE;
        p[1] = 0x01;
        p[2] = 0x00;
        p[3] = 0x30; // adaptation + payload
        p[4] = 7;
        p[5] = 0x50; // random access + PCR
        let pcr = Pcr27M(123_456_789_012i64 % PCR_WRAP);
        write_pcr(&mut p[6..12], pcr);
        let view = Packet::new(&p).unwrap();
        assert_eq!(view.pcr(), Some(pcr));
        assert!(view.random_access());
        assert_eq!(view.pid(), Pid(0x100));
        PacketMut::new(&mut p).unwrap().set_pcr(pcr + Pcr27M(300));
        assert_eq!(Packet::new(&p).unwrap().pcr(), Some(pcr + Pcr27M(300)));
    }

    #[test]
    fn pat_and_pmt_round_trip() {
        let mut p = [0u8; PACKET_LEN];
        write_pat(&mut p, 1, 1, Pid(0x1000));
        assert_eq!(parse_pat(Packet::new(&p).unwrap()), Some((1, Pid(0x1000))));
        let streams = [
            PmtStream {
                stream_type: StreamType::H264,
                pid: Pid(0x100),
                es_info: heapless::Vec::new(),
            },
            PmtStream {
                stream_type: StreamType::AAC_ADTS,
                pid: Pid(0x101),
                es_info: heapless::Vec::from_slice(&[0x0a, 4, b'e', b'n', b'g', 0]).unwrap(),
            },
        ];
        assert!(write_pmt(&mut p, Pid(0x1000), 1, 3, Pid(0x100), &streams));
        let pmt = parse_pmt(Packet::new(&p).unwrap()).unwrap();
        assert_eq!(pmt.pcr_pid, Pid(0x100));
        assert_eq!(pmt.streams.as_slice(), &streams);
        // A flipped bit fails the CRC.
        p[12] ^= 1;
        assert_eq!(parse_pmt(Packet::new(&p).unwrap()), None);
    }

    #[test]
    fn unwrap_picks_the_nearest() {
        assert_eq!(unwrap(PTS_WRAP - 10, 5, PTS_WRAP), PTS_WRAP + 5);
        assert_eq!(unwrap(PTS_WRAP + 5, PTS_WRAP - 10, PTS_WRAP), PTS_WRAP - 10);
        assert_eq!(unwrap(1000, 900, PTS_WRAP), 900);
    }

    #[test]
    fn aligner_resyncs_and_carries_partials() {
        let mut a = Aligner::new(1024);
        let mut stream = vec![0x00, 0x12, 0x47]; // garbage, including a lone sync byte
        for i in 0..3u8 {
            let mut p = [i; PACKET_LEN];
            p[0] = SYNC_BYTE;
            stream.extend_from_slice(&p);
        }
        let mut got = Vec::new();
        for piece in stream.chunks(100) {
            a.spare()[..piece.len()].copy_from_slice(piece);
            let whole = a.filled(piece.len()).to_vec();
            got.extend(whole);
            a.consume();
        }
        assert_eq!(got.len(), 3 * PACKET_LEN);
        assert_eq!(got[1], 0);
        assert_eq!(got[PACKET_LEN + 1], 1);
        assert_eq!(a.n_skipped_bytes, 3);
    }

    /// Packets of the video PID carrying `es` as one PES (the first with the PES header).
    fn pes_packets(es: &[u8], first_room: usize) -> Vec<[u8; PACKET_LEN]> {
        let mut out = Vec::new();
        let mut first = packet_with_pes(Pid(0x100), 0, None);
        first[4 + 5] = 0x21; // keep the PTS field valid; the header is 9 + 5 bytes
        let at = 4 + 14;
        let n = first_room.min(es.len()).min(PACKET_LEN - at);
        // Stuff the front so that `n` bytes of ES end the packet.
        let mut p = [0xffu8; PACKET_LEN];
        p[..4].copy_from_slice(&first[..4]);
        p[3] = 0x30;
        let stuffing = PACKET_LEN - 4 - 14 - n;
        p[4] = (stuffing - 1) as u8;
        if stuffing > 1 {
            p[5] = 0x40; // random access
        }
        p[4 + stuffing..4 + stuffing + 14].copy_from_slice(&first[4..18]);
        p[4 + stuffing + 14..].copy_from_slice(&es[..n]);
        out.push(p);
        for piece in es[n..].chunks(PACKET_LEN - 4) {
            let mut c = [0xffu8; PACKET_LEN];
            c[0] = SYNC_BYTE;
            c[1] = 0x01;
            c[2] = 0x00;
            if piece.len() == PACKET_LEN - 4 {
                c[3] = 0x10;
                c[4..].copy_from_slice(piece);
            } else {
                let stuffing = PACKET_LEN - 4 - piece.len();
                c[3] = 0x30;
                c[4] = (stuffing - 1) as u8;
                if stuffing > 1 {
                    c[5] = 0;
                }
                c[4 + stuffing..].copy_from_slice(piece);
            }
            out.push(c);
        }
        out
    }

    fn scan(packets: &[[u8; PACKET_LEN]]) -> Option<VideoParams> {
        let mut scan = ParamSetScan::default();
        let mut packets = packets.iter().map(|p| Packet::new(p).unwrap());
        scan.start(packets.next()?);
        for p in packets {
            scan.feed(p);
        }
        scan.params()
    }

    #[test]
    fn parameter_sets_are_read_across_packets_whatever_the_framing() {
        let sps = [
            0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10,
        ];
        let pps = [0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];
        let au = |long_codes: bool, sei_len: usize, sps: &[u8]| {
            let code: &[u8] = if long_codes {
                &[0, 0, 0, 1]
            } else {
                &[0, 0, 1]
            };
            let mut es = Vec::new();
            es.extend_from_slice(&[0, 0, 0, 1, 0x09, 0xf0]); // AUD
            es.extend_from_slice(code);
            es.push(0x06); // SEI, long enough to push the sets into a later packet
            es.extend(std::iter::repeat_n(0x5a, sei_len));
            es.extend_from_slice(code);
            es.extend_from_slice(sps);
            es.extend_from_slice(code);
            es.extend_from_slice(&pps);
            es.extend_from_slice(code);
            es.extend_from_slice(&[0x65, 0x88, 0x84, 0x00, 0x33]); // IDR slice
            es.extend(std::iter::repeat_n(0x77, 400));
            es
        };
        let reference = scan(&pes_packets(&au(false, 10, &sps), 160)).unwrap();
        assert_eq!((reference.profile_idc, reference.level_idc), (0x64, 0x1f));
        // The same sets, framed with 4-byte start codes, cut across packets at every byte.
        for room in 1..120 {
            let got = scan(&pes_packets(&au(true, 150, &sps), room));
            assert_eq!(got, Some(reference), "first packet holding {room} bytes");
        }
        // Another level is another SPS.
        let mut other = sps;
        other[3] = 0x1e;
        let changed = scan(&pes_packets(&au(false, 10, &other), 160)).unwrap();
        assert_ne!(changed.digest, reference.digest);
        assert_eq!(changed.level_idc, 0x1e);
        // A keyframe without parameter sets has none to report.
        let bare = [0, 0, 1, 0x65, 0x88, 0x84, 0x00, 0x33, 0x10];
        assert_eq!(scan(&pes_packets(&bare, 160)), None);
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut buf = [0u8; PACKET_LEN];
        for round in 0..200_000 {
            for b in buf.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            buf[0] = SYNC_BYTE;
            if round % 3 == 0 {
                buf[1] |= 0x40;
                buf[4] = (seed >> 8) as u8 % 8;
            }
            let p = Packet::new(&buf).unwrap();
            let _ = (
                p.pcr(),
                p.pts(),
                p.dts(),
                p.random_access(),
                p.payload().len(),
            );
            let _ = (parse_pat(p), parse_pmt(p));
            let mut m = PacketMut::new(&mut buf).unwrap();
            m.set_pts(Ticks90k(1));
            m.set_dts(Ticks90k(2));
            m.set_pcr(Pcr27M(3));
        }
    }
}
