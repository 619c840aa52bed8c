//! Gives back the code pages that only startup ran. Opening the database, migrating it,
//! seeding the demo channel, reading settings and probing the encoder run once, yet their
//! code stays mapped, and the kernel maps 64 KB around every page fault: a few seconds
//! after start about 4 MB of the binary's text is resident of which idle needs a few
//! hundred KB. Dropping the page-table entries of the executable mappings once startup is
//! over leaves only what runs afterwards: the pages stay in the page cache, and the next
//! access to one maps the same bytes again (a minor fault, no disk read while cached).

use std::ffi::c_void;
use std::ptr::NonNull;

use nix::sys::mman::{madvise, MmapAdvise};

/// Drops the resident pages of every file-backed executable mapping (ours and the shared
/// libraries'); returns how many bytes of mappings it advised. Linux only; a failure
/// changes nothing and is not an error worth reporting.
pub fn release_startup_code() -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    let mut released = 0;
    for line in maps.lines() {
        let Some((start, end)) = executable_file_mapping(line) else {
            continue;
        };
        let Some(addr) = NonNull::new(start as *mut c_void) else {
            continue;
        };
        // SAFETY: an `r-xp` file mapping is program text, which is never written (W^X:
        // the loader maps it read+execute only), so no page of it is a private dirty copy.
        // MADV_DONTNEED on it only drops page-table entries; the next access maps the same
        // file bytes again. Nothing else in the address space is touched.
        if unsafe { madvise(addr, end - start, MmapAdvise::MADV_DONTNEED) }.is_ok() {
            released += end - start;
        }
    }
    released
}

/// `(start, end)` of a `/proc/self/maps` line that maps a file read+execute, private.
fn executable_file_mapping(line: &str) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    if fields.next()? != "r-xp" {
        return None;
    }
    // offset, device, inode, then the path: `[vdso]` and anonymous mappings have none.
    let path = fields.nth(3)?;
    if !path.starts_with('/') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    (end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_private_executable_file_mappings_are_chosen() {
        let text = "55e0c0000000-55e0c0400000 r-xp 00001000 08:01 123 /usr/bin/exstreamtv";
        assert_eq!(
            executable_file_mapping(text),
            Some((0x55e0_c000_0000, 0x55e0_c040_0000))
        );
        for other in [
            "55e0c0400000-55e0c0500000 r--p 00401000 08:01 123 /usr/bin/exstreamtv",
            "55e0c0500000-55e0c0510000 rw-p 00501000 08:01 123 /usr/bin/exstreamtv",
            "7ffd1000-7ffd3000 r-xp 00000000 00:00 0 [vdso]",
            "7f0000000000-7f0000021000 r-xp 00000000 00:00 0",
            "7f0000000000-7f0000021000 r-xs 00000000 08:01 9 /dev/shm/x",
        ] {
            assert_eq!(executable_file_mapping(other), None, "{other}");
        }
    }

    #[test]
    fn the_process_keeps_running_after_its_code_is_released() {
        assert!(release_startup_code() > 0);
        // Code and data keep working: the pages come back on their next access.
        let v: Vec<u64> = (0..10_000).collect();
        assert_eq!(v.iter().sum::<u64>(), 49_995_000);
        assert!(format!("{:?}", std::time::Instant::now()).contains("Instant"));
    }
}
