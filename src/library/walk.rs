//! The directory walk of a scan: blocking file-system work on its own thread, handing one
//! directory at a time (its media files with size, mtime and sidecars) to the scanner over a
//! bounded channel. Hidden entries are skipped; symlinked folders are followed once (a loop
//! or a second link to the same folder is not walked again). It knows nothing of SQL.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use crate::kinds::ArtworkKind;

/// A walk stops (with a library error) past this many folders: it bounds the visited set,
/// and no media library on a small board has anywhere near 50 000 folders.
pub const MAX_SCAN_DIRS: usize = 50_000;
/// Entries read from one folder at most; the rest are skipped with a warning. 100 000 is
/// ten times the "10k files in one folder" case and bounds one batch's memory.
pub const MAX_DIR_ENTRIES: usize = 100_000;
/// Folders the walker may run ahead of the scanner: enough to overlap the two, small enough
/// that a huge tree never sits in memory.
pub const WALK_AHEAD_DIRS: usize = 4;
/// Folders deeper than this below the root are not walked (a bound on the stack).
pub const MAX_DEPTH: usize = 32;
/// A folder's files go to the scanner in chunks of at most this many, so a scan's memory
/// does not grow with the size of a folder (10k files in one folder is a case we meet).
pub const WALK_CHUNK_FILES: usize = 1000;

/// The artwork kinds served at `/static/artwork/{id}/{kind}`, in `MediaFile::artwork` order.
pub const ARTWORK_KINDS: [ArtworkKind; 3] =
    [ArtworkKind::Poster, ArtworkKind::Thumb, ArtworkKind::Fanart];
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

#[derive(Debug)]
pub struct MediaFile {
    pub name: OsString,
    pub size: u64,
    pub mtime_ms: i64,
    pub nfo: Option<PathBuf>,
    /// Poster, thumb, fanart (in `ARTWORK_KINDS` order).
    pub artwork: [Option<PathBuf>; 3],
    /// A stamp of the NFO and artwork (mtimes summed, plus their count); 0 when there are none.
    pub sidecar_stamp: i64,
}

/// One walked folder, or one chunk of it. A folder's chunks arrive in name order and cover
/// its names without gaps: this chunk stands for every name after `after` (the previous
/// chunk's `up_to`) up to `up_to`, or to the end when `up_to` is `None` (the last chunk).
#[derive(Debug)]
pub struct DirBatch {
    pub dir: PathBuf,
    /// Folder names from the root down to `dir` (lossy), for name parsing.
    pub folders: Vec<String>,
    /// Sorted by name (bytes).
    pub files: Vec<MediaFile>,
    pub after: Option<OsString>,
    pub up_to: Option<OsString>,
}

#[derive(Debug)]
pub enum WalkEvent {
    Dir(DirBatch),
    /// A folder below the root could not be read; its known items are left as they are.
    DirError {
        dir: PathBuf,
        error: String,
    },
    /// The root is gone or unreadable, or the walk hit a bound: the scan fails.
    Fatal(String),
}

/// What to walk.
pub struct WalkSpec {
    pub root: PathBuf,
    pub recursive: bool,
    /// Lower-case extensions without the dot.
    pub extensions: Vec<String>,
}

/// Parses `".mp4,.mkv, avi"` into `["mp4", "mkv", "avi"]`.
pub fn parse_extensions(list: &str) -> Vec<String> {
    list.split(',')
        .map(|e| e.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect()
}

fn extension_of(name: &OsStr) -> Option<String> {
    let bytes = name.as_bytes();
    let dot = bytes.iter().rposition(|b| *b == b'.')?;
    (dot > 0).then(|| String::from_utf8_lossy(&bytes[dot + 1..]).to_ascii_lowercase())
}

fn stem_of(name: &OsStr) -> &[u8] {
    let bytes = name.as_bytes();
    match bytes.iter().rposition(|b| *b == b'.') {
        Some(dot) if dot > 0 => &bytes[..dot],
        _ => bytes,
    }
}

fn mtime_ms(meta: &std::fs::Metadata) -> i64 {
    meta.mtime() * 1000 + meta.mtime_nsec() / 1_000_000
}

/// Walks `spec.root` depth-first, sending one `WalkEvent` per folder. Blocking: run it on a
/// blocking thread. Returns when done or when the receiver is dropped (scan cancelled).
pub fn walk(spec: &WalkSpec, tx: &mpsc::Sender<WalkEvent>) {
    let send = |event: WalkEvent| tx.blocking_send(event).is_ok();
    let root_meta = match root_folder(&spec.root) {
        Ok(meta) => meta,
        Err(fatal) => {
            send(WalkEvent::Fatal(fatal));
            return;
        }
    };
    let mut visited: HashSet<(u64, u64)> = HashSet::new();
    visited.insert((root_meta.dev(), root_meta.ino()));
    let mut stack: Vec<(PathBuf, Vec<String>)> = vec![(spec.root.clone(), Vec::new())];
    while let Some((dir, folders)) = stack.pop() {
        let entries = match read_dir_sorted(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                if dir == spec.root || !spec.root.is_dir() {
                    send(WalkEvent::Fatal(format!(
                        "the media folder {} is gone or unreadable: {e}",
                        spec.root.display()
                    )));
                    return;
                }
                if !send(WalkEvent::DirError {
                    dir,
                    error: e.to_string(),
                }) {
                    return;
                }
                continue;
            }
        };
        let listing = match Listing::of(spec, &dir, folders.len(), entries, &mut visited) {
            Ok(listing) => listing,
            Err(fatal) => {
                send(WalkEvent::Fatal(fatal));
                return;
            }
        };
        // Reverse order on the stack so folders are walked by name.
        for name in listing.subdirs.iter().rev() {
            let mut sub_folders = folders.clone();
            sub_folders.push(String::from_utf8_lossy(name.as_bytes()).into_owned());
            stack.push((dir.join(name), sub_folders));
        }
        if !listing.send_files(&dir, &folders, &send) {
            return;
        }
    }
}

/// The root's metadata, or why the scan fails at once.
fn root_folder(root: &Path) -> Result<std::fs::Metadata, String> {
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => Ok(meta),
        Ok(_) => Err(format!("{} is not a folder", root.display())),
        Err(e) => Err(format!("cannot open {}: {e}", root.display())),
    }
}

/// One folder's entries, sorted into what the walk does with them.
struct Listing {
    /// Sorted by name.
    media_names: Vec<OsString>,
    sidecars: Vec<(OsString, i64)>,
    subdirs: Vec<OsString>,
}

impl Listing {
    /// Pass 1: folders and sidecars are stat'ed now; media files are only named, so a huge
    /// folder costs a sorted list of names, not a list of files. `Err` is a bound the walk
    /// hit (the scan fails).
    fn of(
        spec: &WalkSpec,
        dir: &Path,
        depth: usize,
        entries: Vec<(OsString, EntryKind)>,
        visited: &mut HashSet<(u64, u64)>,
    ) -> Result<Listing, String> {
        let mut listing = Listing {
            media_names: Vec::new(),
            sidecars: Vec::new(),
            subdirs: Vec::new(),
        };
        for (name, kind) in entries {
            if name.as_bytes().first() == Some(&b'.') {
                continue;
            }
            let ext = extension_of(&name);
            let is_media = ext.as_ref().is_some_and(|e| spec.extensions.contains(e));
            let is_sidecar = ext
                .as_deref()
                .is_some_and(|e| e == "nfo" || IMAGE_EXTENSIONS.contains(&e));
            if kind == EntryKind::File && is_media {
                listing.media_names.push(name);
                continue;
            }
            if kind == EntryKind::File && !is_sidecar {
                continue;
            }
            let path = dir.join(&name);
            // Follows symlinks: a linked file or folder counts as what it points to.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                if !spec.recursive || depth >= MAX_DEPTH {
                    continue;
                }
                if !visited.insert((meta.dev(), meta.ino())) {
                    tracing::debug!(path = %path.display(), "folder already walked (symlink); skipped");
                    continue;
                }
                if visited.len() > MAX_SCAN_DIRS {
                    return Err(format!(
                        "more than {MAX_SCAN_DIRS} folders; split the library"
                    ));
                }
                listing.subdirs.push(name);
            } else if meta.is_file() && is_media {
                listing.media_names.push(name);
            } else if meta.is_file() && is_sidecar {
                listing.sidecars.push((name, mtime_ms(&meta)));
            }
        }
        // A symlinked media file joins out of order: keep the names sorted.
        listing.media_names.sort();
        Ok(listing)
    }

    /// Pass 2: one chunk of files at a time, each covering the names after the previous
    /// chunk's last name up to its own last name. False when the receiver is gone.
    fn send_files(
        &self,
        dir: &Path,
        folders: &[String],
        send: &impl Fn(WalkEvent) -> bool,
    ) -> bool {
        let mut after: Option<OsString> = None;
        let mut chunks = self.media_names.chunks(WALK_CHUNK_FILES).peekable();
        loop {
            let names = chunks.next().unwrap_or(&[]);
            let is_last = chunks.peek().is_none();
            let mut files = stat_media(dir, names);
            attach_sidecars(dir, &mut files, &self.sidecars);
            let up_to = if is_last { None } else { names.last().cloned() };
            let batch = DirBatch {
                dir: dir.to_path_buf(),
                folders: folders.to_vec(),
                files,
                after: after.take(),
                up_to: up_to.clone(),
            };
            if !send(WalkEvent::Dir(batch)) {
                return false;
            }
            match up_to {
                Some(last) => after = Some(last),
                None => return true,
            }
        }
    }
}

/// The media files among `names` that still are files, with their size and time.
fn stat_media(dir: &Path, names: &[OsString]) -> Vec<MediaFile> {
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let Ok(meta) = std::fs::metadata(dir.join(name)) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        files.push(MediaFile {
            name: name.clone(),
            size: meta.len(),
            mtime_ms: mtime_ms(&meta),
            nfo: None,
            artwork: [None, None, None],
            sidecar_stamp: 0,
        });
    }
    files
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EntryKind {
    File,
    /// A folder, a symlink or anything else: decided by following it.
    Other,
}

fn read_dir_sorted(dir: &Path) -> std::io::Result<Vec<(OsString, EntryKind)>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if names.len() >= MAX_DIR_ENTRIES {
            tracing::warn!(dir = %dir.display(), max = MAX_DIR_ENTRIES, "folder has too many entries; the rest are skipped");
            break;
        }
        // The kind comes with the directory entry on Linux (no stat).
        let kind = match entry.file_type() {
            Ok(t) if t.is_file() => EntryKind::File,
            _ => EntryKind::Other,
        };
        names.push((entry.file_name(), kind));
    }
    names.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(names)
}

/// Kodi's names: `<stem>.nfo`; `<stem>-poster.jpg`, `poster.jpg`, `folder.jpg`;
/// `<stem>-thumb.jpg`, `<stem>.jpg`; `<stem>-fanart.jpg`, `fanart.jpg` (folder-wide names
/// apply to every file of the folder, as in a movie folder).
fn attach_sidecars(dir: &Path, files: &mut [MediaFile], sidecars: &[(OsString, i64)]) {
    if sidecars.is_empty() {
        return;
    }
    let find = |candidates: &[Vec<u8>]| -> Option<(PathBuf, i64)> {
        candidates.iter().find_map(|want| {
            sidecars
                .iter()
                .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(want))
                .map(|(name, mtime)| (dir.join(name), *mtime))
        })
    };
    let with_images = |base: &[u8]| -> Vec<Vec<u8>> {
        IMAGE_EXTENSIONS
            .iter()
            .map(|ext| [base, b".", ext.as_bytes()].concat())
            .collect()
    };
    for file in files.iter_mut() {
        let stem = stem_of(&file.name).to_vec();
        // Sum of mtimes plus count: adding, changing or removing any sidecar changes it.
        let mut stamp: i64 = 0;
        if let Some((path, mtime)) = find(&[[stem.as_slice(), b".nfo"].concat()]) {
            file.nfo = Some(path);
            stamp = stamp.wrapping_add(mtime).wrapping_add(1);
        }
        let suffixed = |kind: &str| with_images(&[stem.as_slice(), b"-", kind.as_bytes()].concat());
        let mut poster = suffixed("poster");
        poster.extend(with_images(b"poster"));
        poster.extend(with_images(b"folder"));
        let mut thumb = suffixed("thumb");
        thumb.extend(with_images(&stem));
        let mut fanart = suffixed("fanart");
        fanart.extend(with_images(b"fanart"));
        for (slot, candidates) in [poster, thumb, fanart].iter().enumerate() {
            if let Some((path, mtime)) = find(candidates) {
                file.artwork[slot] = Some(path);
                stamp = stamp.wrapping_add(mtime).wrapping_add(1);
            }
        }
        file.sidecar_stamp = stamp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks `root` on a thread (the walker blocks on a bounded channel) and collects events.
    fn walk_all(root: &Path) -> Vec<WalkEvent> {
        let (tx, mut rx) = mpsc::channel(WALK_AHEAD_DIRS);
        let spec = WalkSpec {
            root: root.to_path_buf(),
            recursive: true,
            extensions: parse_extensions(".mkv,.mp4"),
        };
        let walker = std::thread::spawn(move || walk(&spec, &tx));
        let mut events = Vec::new();
        while let Some(e) = rx.blocking_recv() {
            events.push(e);
        }
        walker.join().unwrap();
        events
    }

    #[test]
    fn walks_without_loops_hidden_files_or_other_extensions() {
        let root = std::env::temp_dir().join(format!("exstreamtv-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let touch = |p: &str| {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        };
        touch("b/Show - S01E01.mkv");
        touch("b/Show - S01E01.nfo");
        touch("b/Show - S01E01-thumb.jpg");
        touch("b/fanart.png");
        touch("a/Film (2001).MP4");
        touch("a/poster.jpg");
        touch("a/notes.txt");
        touch(".hidden/x.mkv");
        touch("a/.x.mkv");
        // A loop back to the root, and a second link to a folder already walked.
        std::os::unix::fs::symlink(&root, root.join("b/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("again")).unwrap();
        let events = walk_all(&root);
        let dirs: Vec<(String, Vec<String>)> = events
            .iter()
            .map(|e| match e {
                WalkEvent::Dir(b) => (
                    b.folders.join("/"),
                    b.files
                        .iter()
                        .map(|f| f.name.to_string_lossy().into_owned())
                        .collect(),
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            dirs,
            [
                ("".to_string(), vec![]),
                ("a".to_string(), vec!["Film (2001).MP4".to_string()]),
                ("b".to_string(), vec!["Show - S01E01.mkv".to_string()]),
            ]
        );
        let WalkEvent::Dir(b) = &events[2] else {
            unreachable!()
        };
        let show = &b.files[0];
        assert!(show.nfo.as_ref().unwrap().ends_with("Show - S01E01.nfo"));
        assert!(show.artwork[1]
            .as_ref()
            .unwrap()
            .ends_with("Show - S01E01-thumb.jpg"));
        assert!(show.artwork[2].as_ref().unwrap().ends_with("fanart.png"));
        assert!(show.sidecar_stamp > 0);
        let WalkEvent::Dir(a) = &events[1] else {
            unreachable!()
        };
        assert!(a.files[0].artwork[0]
            .as_ref()
            .unwrap()
            .ends_with("poster.jpg"));
        assert_eq!(a.files[0].size, 1);

        std::fs::remove_dir_all(&root).unwrap();
        let events = walk_all(&root);
        assert!(
            matches!(&events[..], [WalkEvent::Fatal(e)] if e.contains("cannot open")),
            "{events:?}"
        );
    }

    #[test]
    fn extensions() {
        assert_eq!(parse_extensions(".mp4, .MKV,avi,,"), ["mp4", "mkv", "avi"]);
        assert_eq!(extension_of(OsStr::new("a.b.MKV")).as_deref(), Some("mkv"));
        assert_eq!(extension_of(OsStr::new(".hidden")), None);
        assert_eq!(stem_of(OsStr::new("Show - S01E01.mkv")), b"Show - S01E01");
    }
}
