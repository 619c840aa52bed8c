//! The credentials of online sources for yt-dlp: a YouTube cookies file (Netscape format)
//! and an archive.org login, each a file under `<data dir>/secrets/` written with mode 0600
//! (the directory 0700), replaced atomically (written beside, then renamed). They are
//! handed to yt-dlp as a file path (`--cookies FILE`; the archive.org login also as a netrc
//! file beside, `--netrc-location FILE`), never as an argument value, and never logged,
//! exported or shown: the API says only whether they are there.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A cookies export of one browser profile is tens of KiB; this bounds a bad upload.
pub const MAX_COOKIES_BYTES: usize = 1 << 20;

const YOUTUBE_COOKIES: &str = "youtube-cookies.txt";
const ARCHIVE_ORG: &str = "archive-org.json";
const ARCHIVE_ORG_NETRC: &str = "archive-org.netrc";
/// yt-dlp's archive.org extractor reads this machine of a netrc file.
const NETRC_MACHINE: &str = "archiveorg";

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets")
}

pub fn youtube_cookies(data_dir: &Path) -> PathBuf {
    dir(data_dir).join(YOUTUBE_COOKIES)
}

pub fn archive_org(data_dir: &Path) -> PathBuf {
    dir(data_dir).join(ARCHIVE_ORG)
}

/// The archive.org login as yt-dlp reads it (`--netrc-location`).
pub fn archive_org_netrc(data_dir: &Path) -> PathBuf {
    dir(data_dir).join(ARCHIVE_ORG_NETRC)
}

/// The netrc text of one login; `None` when a value holds whitespace or a quote, which
/// netrc cannot carry.
pub fn netrc(username: &str, password: &str) -> Option<String> {
    let plain = |v: &str| !v.is_empty() && !v.chars().any(|c| c.is_whitespace() || c == '"');
    (plain(username) && plain(password))
        .then(|| format!("machine {NETRC_MACHINE} login {username} password {password}\n"))
}

/// Whether `text` looks like a Netscape cookies file: its header, or a line of the seven
/// tab-separated fields.
pub fn is_netscape_cookies(text: &str) -> bool {
    text.lines().any(|l| {
        l.starts_with("# Netscape HTTP Cookie File")
            || (!l.starts_with('#') && l.split('\t').count() == 7)
    })
}

/// Writes `bytes` to `path` (mode 0600), replacing it atomically; the directory is made
/// 0700 first. Blocking: call it off the tokio workers.
pub fn store(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a secret needs a directory"))?;
    std::fs::create_dir_all(parent)?;
    std::fs::set_permissions(parent, std::fs::Permissions::from_mode(0o700))?;
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Removes the secret at `path`; true when there was one.
pub fn remove(path: &Path) -> std::io::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_0600_in_a_0700_dir_and_replaced_whole() {
        let root = std::env::temp_dir().join(format!("exstreamtv-cred-{}", std::process::id()));
        let path = youtube_cookies(&root);
        store(&path, b"one").unwrap();
        store(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&path), mode(path.parent().unwrap())), (0o600, 0o700));
        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn netscape_cookies_are_recognised() {
        assert!(is_netscape_cookies("# Netscape HTTP Cookie File\n"));
        assert!(is_netscape_cookies(
            ".youtube.com\tTRUE\t/\tTRUE\t0\tSID\tabc\n"
        ));
        assert!(!is_netscape_cookies("{\"cookies\": []}"));
    }

    #[test]
    fn a_login_becomes_one_netrc_line() {
        assert_eq!(
            netrc("ia", "p@ss").as_deref(),
            Some("machine archiveorg login ia password p@ss\n")
        );
        assert_eq!(netrc("ia", "two words"), None);
    }
}
