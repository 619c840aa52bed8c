//! libhdhomerun's discovery wire format (hdhomerun_pkt.c): a frame is `u16 type` BE,
//! `u16 payload length` BE, the payload (TLVs), then a CRC-32 of all that, little-endian.
//! A TLV is `u8 tag`, a varlen length, the value. Pure: no sockets, no allocation; any
//! byte string in, `None` out when it is not a well-formed discover request.

pub const TYPE_DISCOVER_REQ: u16 = 0x0002;
pub const TYPE_DISCOVER_RPY: u16 = 0x0003;

/// libhdhomerun's largest frame (HDHOMERUN_MAX_PACKET_SIZE); anything longer is dropped.
pub const MAX_FRAME: usize = 1460;
/// type + length + CRC.
const FRAME_OVERHEAD: usize = 8;

pub const TAG_DEVICE_TYPE: u8 = 0x01;
pub const TAG_DEVICE_ID: u8 = 0x02;
pub const TAG_TUNER_COUNT: u8 = 0x10;
pub const TAG_LINEUP_URL: u8 = 0x27;
pub const TAG_BASE_URL: u8 = 0x2A;
pub const TAG_DEVICE_AUTH_STR: u8 = 0x2B;
pub const TAG_MULTI_TYPE: u8 = 0x2D;

pub const DEVICE_TYPE_TUNER: u32 = 0x0000_0001;
pub const DEVICE_TYPE_WILDCARD: u32 = 0xFFFF_FFFF;
pub const DEVICE_ID_WILDCARD: u32 = 0xFFFF_FFFF;

/// Device types one request may ask for. libhdhomerun sends one or two; 8 is generous, and
/// extra ones are ignored rather than grown into.
pub const MAX_REQUESTED_TYPES: usize = 8;

/// CRC-32/IEEE (zlib's `crc32`), table computed at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc = CRC_TABLE[((crc ^ u32::from(*b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc ^ 0xFFFF_FFFF
}

/// A parsed discover request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverRequest {
    /// Empty: no DEVICE_TYPE tag, which libhdhomerun treats as the wildcard.
    pub device_types: heapless::Vec<u32, MAX_REQUESTED_TYPES>,
    pub device_id: Option<u32>,
}

impl DiscoverRequest {
    /// Whether a tuner with `our_id` should answer (API.md §4, Match).
    pub fn matches(&self, our_id: u32) -> bool {
        let type_ok = self.device_types.is_empty()
            || self
                .device_types
                .iter()
                .any(|t| *t == DEVICE_TYPE_TUNER || *t == DEVICE_TYPE_WILDCARD);
        let id_ok = match self.device_id {
            None => true,
            Some(id) => id == DEVICE_ID_WILDCARD || id == our_id,
        };
        type_ok && id_ok
    }
}

/// The payload of a frame whose length and CRC check out, with its type.
pub fn unframe(frame: &[u8]) -> Option<(u16, &[u8])> {
    if frame.len() < FRAME_OVERHEAD || frame.len() > MAX_FRAME {
        return None;
    }
    let (body, crc_bytes) = frame.split_at(frame.len() - 4);
    let crc = u32::from_le_bytes(crc_bytes.try_into().ok()?);
    if crc32(body) != crc {
        return None;
    }
    let kind = u16::from_be_bytes([body[0], body[1]]);
    let len = usize::from(u16::from_be_bytes([body[2], body[3]]));
    let payload = &body[4..];
    (payload.len() == len).then_some((kind, payload))
}

/// Iterates the TLVs of a payload; stops at the first truncated one.
pub fn tlvs(mut payload: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (&tag, rest) = payload.split_first()?;
        let (&b0, rest) = rest.split_first()?;
        let (len, rest) = if b0 & 0x80 != 0 {
            let (&b1, rest) = rest.split_first()?;
            (usize::from(b0 & 0x7F) | usize::from(b1) << 7, rest)
        } else {
            (usize::from(b0), rest)
        };
        if rest.len() < len {
            payload = &[];
            return None;
        }
        let (value, rest) = rest.split_at(len);
        payload = rest;
        Some((tag, value))
    })
}

/// A discover request, or `None` for anything else (bad CRC, other types, malformed).
pub fn parse_request(frame: &[u8]) -> Option<DiscoverRequest> {
    let (kind, payload) = unframe(frame)?;
    if kind != TYPE_DISCOVER_REQ {
        return None;
    }
    let mut req = DiscoverRequest {
        device_types: heapless::Vec::new(),
        device_id: None,
    };
    for (tag, value) in tlvs(payload) {
        match tag {
            TAG_DEVICE_TYPE | TAG_MULTI_TYPE => {
                for chunk in value.chunks_exact(4) {
                    let t = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                    // Past the bound the rest are ignored; a wildcard is among the first.
                    let _ = req.device_types.push(t);
                }
            }
            TAG_DEVICE_ID => {
                let bytes: [u8; 4] = value.try_into().ok()?;
                req.device_id = Some(u32::from_be_bytes(bytes));
            }
            _ => {}
        }
    }
    Some(req)
}

/// What a tuner tells a discovering client.
pub struct Reply<'a> {
    pub device_id: u32,
    pub tuner_count: u8,
    pub base_url: &'a str,
    pub lineup_url: &'a str,
    pub device_auth: &'a str,
}

/// A frame being built in a fixed buffer.
pub struct FrameBuf {
    buf: [u8; MAX_FRAME],
    len: usize,
}

impl FrameBuf {
    fn new(kind: u16) -> FrameBuf {
        let mut f = FrameBuf {
            buf: [0; MAX_FRAME],
            len: 4,
        };
        f.buf[..2].copy_from_slice(&kind.to_be_bytes());
        f
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        // Room must stay for the CRC.
        if end + 4 > MAX_FRAME {
            return None;
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Some(())
    }

    fn tlv(&mut self, tag: u8, value: &[u8]) -> Option<()> {
        let n = value.len();
        if n <= 127 {
            self.push(&[tag, n as u8])?;
        } else {
            let hi = u8::try_from(n >> 7).ok()?;
            self.push(&[tag, 0x80 | (n & 0x7F) as u8, hi])?;
        }
        self.push(value)
    }

    fn finish(mut self) -> Option<FrameBuf> {
        let payload_len = u16::try_from(self.len - 4).ok()?;
        self.buf[2..4].copy_from_slice(&payload_len.to_be_bytes());
        let crc = crc32(&self.buf[..self.len]);
        self.buf[self.len..self.len + 4].copy_from_slice(&crc.to_le_bytes());
        self.len += 4;
        Some(self)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The reply frame, or `None` when the strings do not fit in one frame.
pub fn build_reply(reply: &Reply<'_>) -> Option<FrameBuf> {
    let mut f = FrameBuf::new(TYPE_DISCOVER_RPY);
    f.tlv(TAG_DEVICE_TYPE, &DEVICE_TYPE_TUNER.to_be_bytes())?;
    f.tlv(TAG_DEVICE_ID, &reply.device_id.to_be_bytes())?;
    f.tlv(TAG_TUNER_COUNT, &[reply.tuner_count])?;
    f.tlv(TAG_BASE_URL, reply.base_url.as_bytes())?;
    f.tlv(TAG_LINEUP_URL, reply.lineup_url.as_bytes())?;
    f.tlv(TAG_DEVICE_AUTH_STR, reply.device_auth.as_bytes())?;
    f.finish()
}

/// A discover request frame (what libhdhomerun sends), for tests and tools.
pub fn build_request(device_type: u32, device_id: Option<u32>) -> Option<FrameBuf> {
    let mut f = FrameBuf::new(TYPE_DISCOVER_REQ);
    f.tlv(TAG_DEVICE_TYPE, &device_type.to_be_bytes())?;
    if let Some(id) = device_id {
        f.tlv(TAG_DEVICE_ID, &id.to_be_bytes())?;
    }
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JELLYFIN_PROBE: [u8; 20] = [
        0x00, 0x02, 0x00, 0x0C, 0x01, 0x04, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x04, 0xFF, 0xFF, 0xFF,
        0xFF, 0x73, 0xCC, 0x7D, 0x8F,
    ];

    #[test]
    fn jellyfin_probe_parses_and_matches() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let req = parse_request(&JELLYFIN_PROBE).expect("valid probe");
        assert_eq!(req.device_types.as_slice(), &[DEVICE_TYPE_WILDCARD]);
        assert_eq!(req.device_id, Some(DEVICE_ID_WILDCARD));
        assert!(req.matches(0x1053_C5A3));
        // Our own builder produces the same bytes.
        assert_eq!(
            build_request(DEVICE_TYPE_WILDCARD, Some(DEVICE_ID_WILDCARD))
                .unwrap()
                .as_bytes(),
            &JELLYFIN_PROBE
        );
    }

    #[test]
    fn reply_layout() {
        let url = "http://192.168.1.20:8411/hdhomerun";
        let frame = build_reply(&Reply {
            device_id: 0x1053_C5A3,
            tuner_count: 4,
            base_url: url,
            lineup_url: "http://192.168.1.20:8411/hdhomerun/lineup.json",
            device_auth: "exstreamtv",
        })
        .unwrap();
        let bytes = frame.as_bytes();
        let (kind, payload) = unframe(bytes).expect("our CRC checks");
        assert_eq!(kind, TYPE_DISCOVER_RPY);
        assert_eq!(
            &payload[..16],
            &[1, 4, 0, 0, 0, 1, 2, 4, 0x10, 0x53, 0xC5, 0xA3, 0x10, 1, 4, 0x2A]
        );
        let tags: Vec<(u8, Vec<u8>)> = tlvs(payload).map(|(t, v)| (t, v.to_vec())).collect();
        assert_eq!(tags[3], (TAG_BASE_URL, url.as_bytes().to_vec()));
        assert_eq!(tags.len(), 6);
    }

    #[test]
    fn matching_rules() {
        let req = |types: &[u32], id: Option<u32>| DiscoverRequest {
            device_types: heapless::Vec::from_slice(types).unwrap(),
            device_id: id,
        };
        let ours = 0x1053_C5A3;
        assert!(req(&[], None).matches(ours));
        assert!(req(&[DEVICE_TYPE_TUNER], Some(ours)).matches(ours));
        assert!(!req(&[DEVICE_TYPE_TUNER], Some(0x10A0_B0C4)).matches(ours));
        assert!(!req(&[0x0000_0005], None).matches(ours)); // storage device only
        assert!(req(&[0x0000_0005, DEVICE_TYPE_TUNER], None).matches(ours));
    }

    #[test]
    fn varlen_and_truncation() {
        let long = "x".repeat(300);
        let mut f = FrameBuf::new(TYPE_DISCOVER_RPY);
        f.tlv(TAG_BASE_URL, long.as_bytes()).unwrap();
        let f = f.finish().unwrap();
        let (_, payload) = unframe(f.as_bytes()).unwrap();
        assert_eq!(
            &payload[..3],
            &[TAG_BASE_URL, 0x80 | (300 & 0x7F) as u8, (300 >> 7) as u8]
        );
        assert_eq!(tlvs(payload).next().unwrap().1.len(), 300);
        // A TLV claiming more than is there ends the iteration.
        assert_eq!(tlvs(&[1, 4, 0, 0]).count(), 0);
        // Too long for one frame: no reply rather than a broken one.
        let huge = "y".repeat(2000);
        assert!(build_reply(&Reply {
            device_id: 1,
            tuner_count: 1,
            base_url: &huge,
            lineup_url: "",
            device_auth: ""
        })
        .is_none());
    }

    #[test]
    fn garbage_never_panics_and_bad_crc_is_dropped() {
        let mut bad = JELLYFIN_PROBE;
        bad[19] ^= 1;
        assert!(parse_request(&bad).is_none());
        assert!(parse_request(&[0; MAX_FRAME + 1]).is_none());
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut buf = [0u8; 64];
        for round in 0..20_000 {
            let n = (round % 64) + 1;
            for b in buf.iter_mut().take(n) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            // Random bodies with a valid CRC reach the TLV parser too.
            if n >= 8 {
                let crc = crc32(&buf[..n - 4]);
                buf[n - 4..n].copy_from_slice(&crc.to_le_bytes());
            }
            let _ = parse_request(&buf[..n]);
            let _ = tlvs(&buf[..n]).count();
        }
    }
}
