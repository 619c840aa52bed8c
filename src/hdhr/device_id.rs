//! HDHomeRun DeviceIDs: 8 hex digits whose last nibble is a check digit computed as
//! libhdhomerun's `hdhomerun_discover_validate_device_id` does. Plex keys a DVR by this id
//! and libhdhomerun drops devices whose id fails the check.

const CHECK_TABLE: [u32; 16] = [
    0xA, 0x5, 0xF, 0x6, 0x7, 0xC, 0x1, 0xB, 0x9, 0x2, 0x8, 0xD, 0x4, 0x3, 0xE, 0x0,
];

fn nibble(id: u32, i: u32) -> u32 {
    (id >> (28 - 4 * i)) & 0xF
}

/// The check nibble for the 7 leading nibbles of `id` (its last nibble is ignored).
pub fn check_nibble(id: u32) -> u32 {
    CHECK_TABLE[nibble(id, 0) as usize]
        ^ nibble(id, 1)
        ^ CHECK_TABLE[nibble(id, 2) as usize]
        ^ nibble(id, 3)
        ^ CHECK_TABLE[nibble(id, 4) as usize]
        ^ nibble(id, 5)
        ^ CHECK_TABLE[nibble(id, 6) as usize]
}

pub fn is_valid(id: u32) -> bool {
    check_nibble(id) == id & 0xF
}

/// Parses 8 hex digits (either case) into an id; any other text is `None`.
pub fn parse(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

pub fn format(id: u32) -> String {
    format!("{id:08X}")
}

/// A new valid id from 7 random nibbles. Ids starting with 0 or F are avoided: libhdhomerun
/// treats 0xFFFFFFFF as the wildcard and 0 as "none".
pub fn generate(random: [u8; 4]) -> u32 {
    let mut id = u32::from_be_bytes(random) & 0x0FFF_FFF0 | 0x1000_0000;
    id |= check_nibble(id);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_ids() {
        assert!(is_valid(0x1053C5A3));
        assert!(is_valid(0x10A0B0C4));
        assert!(!is_valid(0xE5E17001));
        assert!(is_valid(0xE5E17005));
    }

    #[test]
    fn generated_ids_are_valid() {
        for seed in 0u32..2000 {
            let id = generate(seed.wrapping_mul(2_654_435_761).to_be_bytes());
            assert!(is_valid(id), "{id:08X}");
            assert_eq!(parse(&format(id)), Some(id));
        }
        assert_eq!(parse("1053c5a3"), Some(0x1053C5A3));
        assert_eq!(parse("1053C5A"), None);
        assert_eq!(parse("1053C5AZ"), None);
    }
}
