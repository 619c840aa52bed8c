//! A small MPEG-TS checker for tests, independent of the server's own parser: continuity
//! counter errors per PID, PCR errors (backwards, or more than `MAX_PCR_GAP` apart), and
//! PTS/DTS errors (a stream's DTS not increasing, or jumping more than `MAX_TS_JUMP`).
//! Standard library only, so the unit tests of `stream::splicer` include it too.

#![allow(dead_code)]

/// ISO/IEC 13818-1 wants a PCR at least every 100 ms.
pub const MAX_PCR_GAP_27MHZ: i64 = 27_000_000 / 10;
/// A DTS step longer than this is a visible jump (a frame is ≤ 42 ms, an AAC frame 21 ms).
pub const MAX_TS_JUMP_90KHZ: i64 = 90_000 / 2;

#[derive(Debug, Clone, Default)]
pub struct PidReport {
    pub pid: u16,
    pub packets: u64,
    pub pes_starts: u64,
    pub first_dts: i64,
    pub last_dts: i64,
    /// (PTS, byte offset of the packet) of every PES start, unwrapped 90 kHz.
    pub pes: Vec<(i64, usize)>,
    last_cc: Option<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub packets: u64,
    pub sync_errors: u64,
    pub cc_errors: u64,
    pub pcr_errors: u64,
    pub pts_errors: u64,
    pub keyframes: u64,
    pub pids: Vec<PidReport>,
    /// The first few errors, described.
    pub errors: Vec<String>,
    /// The PIDs of the first two packets (PAT = 0, then the PMT).
    pub first_pids: Vec<u16>,
    /// Whether the first packet after PAT/PMT on the video PID is a random access point.
    pub starts_with_keyframe: bool,
    pub pcr_pid: Option<u16>,
    pub first_pcr: Option<i64>,
    pub last_pcr: Option<i64>,
}

impl Report {
    pub fn pid(&self, pid: u16) -> Option<&PidReport> {
        self.pids.iter().find(|p| p.pid == pid)
    }

    fn note(&mut self, text: String) {
        if self.errors.len() < 20 {
            self.errors.push(text);
        }
    }

    pub fn total_errors(&self) -> u64 {
        self.cc_errors + self.pcr_errors + self.pts_errors + self.sync_errors
    }
}

/// How long the ADTS (AAC) frames in one PES payload last beyond the first, in 90 kHz
/// ticks (0 for a payload that is not ADTS).
fn adts_span_90khz(payload: &[u8]) -> i64 {
    const RATES: [i64; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let (mut at, mut n_frames, mut rate) = (0, 0i64, 48000);
    while at + 7 <= payload.len() && payload[at] == 0xff && payload[at + 1] & 0xf0 == 0xf0 {
        rate = RATES
            .get(((payload[at + 2] >> 2) & 0x0f) as usize)
            .copied()
            .unwrap_or(48000);
        let len = (((payload[at + 3] & 0x03) as usize) << 11)
            | ((payload[at + 4] as usize) << 3)
            | (payload[at + 5] as usize >> 5);
        if len < 7 {
            break;
        }
        n_frames += 1;
        at += len;
    }
    (n_frames - 1).max(0) * 1024 * 90_000 / rate
}

fn ts33(b: &[u8]) -> i64 {
    (((b[0] as i64 >> 1) & 7) << 30)
        | ((b[1] as i64) << 22)
        | (((b[2] as i64) >> 1) << 15)
        | ((b[3] as i64) << 7)
        | ((b[4] as i64) >> 1)
}

fn unwrap(near: i64, raw: i64, wrap: i64) -> i64 {
    let delta = (raw - near).rem_euclid(wrap);
    if delta > wrap / 2 {
        near + delta - wrap
    } else {
        near + delta
    }
}

pub fn check(ts: &[u8]) -> Report {
    let mut r = Report::default();
    let mut pmt_pid: Option<u16> = None;
    let mut video_pid: Option<u16> = None;
    let mut seen_video = false;
    let mut last_pcr: Option<i64> = None;
    let mut last_dts: std::collections::HashMap<u16, i64> = Default::default();
    // The payload of each audio PID's current PES, and how long the previous one lasted
    // (90 kHz): FFmpeg packs many tiny AAC frames (silence) into one PES, so the step to the
    // next PES is the frames' length, not one frame's.
    let mut audio_pes: std::collections::HashMap<u16, Vec<u8>> = Default::default();
    let mut audio_span: std::collections::HashMap<u16, i64> = Default::default();
    for (n, p) in ts.chunks_exact(188).enumerate() {
        let offset = n * 188;
        r.packets += 1;
        if p[0] != 0x47 {
            r.sync_errors += 1;
            r.note(format!("packet {n}: no sync byte"));
            continue;
        }
        let pid = u16::from_be_bytes([p[1] & 0x1f, p[2]]);
        if r.first_pids.len() < 2 {
            r.first_pids.push(pid);
        }
        if pid == 0x1fff {
            continue;
        }
        let pusi = p[1] & 0x40 != 0;
        let has_af = p[3] & 0x20 != 0;
        let has_payload = p[3] & 0x10 != 0;
        let cc = p[3] & 0x0f;
        let idx = match r.pids.iter().position(|x| x.pid == pid) {
            Some(i) => i,
            None => {
                r.pids.push(PidReport {
                    pid,
                    ..Default::default()
                });
                r.pids.len() - 1
            }
        };
        let entry = &mut r.pids[idx];
        entry.packets += 1;
        let expected = match entry.last_cc {
            None => None,
            Some(last) if has_payload => Some((last + 1) & 0x0f),
            Some(last) => Some(last),
        };
        entry.last_cc = Some(cc);
        if expected.is_some_and(|e| e != cc) {
            r.cc_errors += 1;
            r.note(format!(
                "packet {n} pid {pid:#x}: cc {cc}, expected {expected:?}"
            ));
        }
        let mut payload_at = 4;
        let mut random_access = false;
        if has_af {
            let len = p[4] as usize;
            payload_at = 5 + len;
            if len > 0 && 5 + len <= 188 {
                let flags = p[5];
                random_access = flags & 0x40 != 0;
                if flags & 0x10 != 0 && len >= 7 {
                    let b = &p[6..12];
                    let base = ((b[0] as i64) << 25)
                        | ((b[1] as i64) << 17)
                        | ((b[2] as i64) << 9)
                        | ((b[3] as i64) << 1)
                        | ((b[4] as i64) >> 7);
                    let raw = base * 300 + ((((b[4] as i64) & 1) << 8) | b[5] as i64);
                    if r.pcr_pid.is_none() || r.pcr_pid == Some(pid) {
                        r.pcr_pid = Some(pid);
                        let pcr = match last_pcr {
                            Some(l) => unwrap(l, raw, (1i64 << 33) * 300),
                            None => raw,
                        };
                        if let Some(l) = last_pcr {
                            if pcr <= l || pcr - l > MAX_PCR_GAP_27MHZ {
                                r.pcr_errors += 1;
                                r.note(format!(
                                    "packet {n}: pcr step {} ms",
                                    (pcr - l) as f64 / 27_000.0
                                ));
                            }
                        }
                        r.first_pcr.get_or_insert(pcr);
                        r.last_pcr = Some(pcr);
                        last_pcr = Some(pcr);
                    }
                }
            }
        }
        if Some(pid) == video_pid && !seen_video {
            seen_video = true;
            r.starts_with_keyframe = random_access;
        }
        if random_access && Some(pid) == video_pid {
            r.keyframes += 1;
        }
        if !has_payload || payload_at >= 188 {
            continue;
        }
        let payload = &p[payload_at..];
        if pid == 0 && pusi && payload.len() > 13 {
            let s = &payload[1 + payload[0] as usize..];
            if s.len() >= 12 {
                pmt_pid = Some(u16::from_be_bytes([s[10] & 0x1f, s[11]]));
            }
            continue;
        }
        if Some(pid) == pmt_pid && pusi {
            let s = &payload[1 + payload[0] as usize..];
            if s.len() > 12 {
                let len = (((s[1] & 0x0f) as usize) << 8) | s[2] as usize;
                let pil = (((s[10] & 0x0f) as usize) << 8) | s[11] as usize;
                let end = (3 + len).saturating_sub(4).min(s.len());
                let mut at = 12 + pil;
                while at + 5 <= end {
                    let st = s[at];
                    let epid = u16::from_be_bytes([s[at + 1] & 0x1f, s[at + 2]]);
                    if matches!(st, 0x01 | 0x02 | 0x1b | 0x24) && video_pid.is_none() {
                        video_pid = Some(epid);
                    }
                    at += 5 + ((((s[at + 3] & 0x0f) as usize) << 8) | s[at + 4] as usize);
                }
            }
            continue;
        }
        if Some(pid) != video_pid && video_pid.is_some() {
            let buf = audio_pes.entry(pid).or_default();
            if pusi && payload.len() >= 9 && payload[..3] == [0, 0, 1] {
                audio_span.insert(pid, adts_span_90khz(buf));
                buf.clear();
                let at = (9 + payload[8] as usize).min(payload.len());
                buf.extend_from_slice(&payload[at..]);
            } else {
                buf.extend_from_slice(payload);
            }
        }
        if pusi && payload.len() >= 14 && payload[..3] == [0, 0, 1] {
            let flags = payload[7] >> 6;
            if flags & 2 == 0 {
                continue;
            }
            let raw_pts = ts33(&payload[9..14]);
            let raw_dts = if flags == 3 && payload.len() >= 19 {
                ts33(&payload[14..19])
            } else {
                raw_pts
            };
            let prev = last_dts.get(&pid).copied();
            let dts = prev.map_or(raw_dts, |l| unwrap(l, raw_dts, 1 << 33));
            let pts = unwrap(dts, raw_pts, 1 << 33);
            let entry = &mut r.pids[idx];
            entry.pes_starts += 1;
            if entry.pes_starts == 1 {
                entry.first_dts = dts;
            }
            entry.last_dts = dts;
            entry.pes.push((pts, offset));
            if pts < dts {
                r.pts_errors += 1;
                r.note(format!("packet {n} pid {pid:#x}: pts < dts"));
            }
            if let Some(l) = prev {
                let span = audio_span.get(&pid).copied().unwrap_or(0);
                if dts <= l || dts - l > MAX_TS_JUMP_90KHZ + span {
                    r.pts_errors += 1;
                    r.note(format!(
                        "packet {n} pid {pid:#x}: dts step {} ms",
                        (dts - l) as f64 / 90.0
                    ));
                }
            }
            last_dts.insert(pid, dts);
        }
    }
    r
}
