//! Background scans of local libraries. `Scanner` (in `App`) takes scan requests and keeps
//! each library's latest progress; `run` is the one background task that executes scans,
//! one library at a time, each with a bounded number of ffprobe runs at once. A scan walks
//! the folder (`walk`), compares each folder with what the database knows (size + mtime),
//! probes only new or changed files, marks vanished ones missing, and commits in batches.
//! It never stops for a bad file; only a gone or unreadable root fails a scan.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsStr;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::names::{self, NameKind};
use super::nfo::{self, NfoRoot};
use super::probe;
use super::store::{self, Known, Metadata, Scanned, Write, MAX_LIBRARIES};
use super::walk::{self, DirBatch, MediaFile, WalkEvent, WalkSpec};
use crate::app::App;
use crate::kinds::{LibraryType, SourceType};

/// Rows per write transaction: large enough that a 10k-file first scan is ~20 commits, small
/// enough that progress reaches the database every few seconds even on a Pi.
const WRITE_BATCH: usize = 500;
/// A pending batch older than this is committed even when small, so new items appear soon.
const WRITE_INTERVAL: Duration = Duration::from_secs(2);
/// Per-file errors kept for the progress view; the log has them all.
const RECENT_ERRORS: usize = 20;
/// The progress line in the log, at most this often.
const LOG_INTERVAL: Duration = Duration::from_secs(5);
/// How often the scanner looks for libraries whose `scan_interval_hours` has passed. An
/// unchanged rescan costs a walk and no ffprobe, so checking often is cheap.
const DUE_CHECK_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// ffprobe runs at once when neither the setting nor the board says (never 0).
const MIN_CONCURRENCY: usize = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    Started,
    Running,
    Done,
    Error,
}

/// A scan's progress, as `GET /api/libraries/scan-progress/{id}` shows it (API.md's Scan
/// fields, plus ours: probed, failed, missing_items, changed_items, ffprobe_calls, ...).
#[derive(Debug, Clone, Serialize)]
pub struct ScanProgress {
    pub library_id: i64,
    pub status: ScanStatus,
    /// Media files found so far (final once `walk_complete`).
    pub total_files: u64,
    /// Files examined (unchanged, probed or failed).
    pub scanned_files: u64,
    pub new_items: u64,
    pub changed_items: u64,
    pub missing_items: u64,
    pub unchanged_items: u64,
    /// Files ffprobe read successfully in this scan.
    pub probed: u64,
    /// Files stored with an error (unreadable, corrupt, empty, no audio or video).
    pub failed: u64,
    /// API.md's name for `failed` plus folders that could not be read.
    pub errors: u64,
    /// ffprobe processes started by this scan (0 for an unchanged tree).
    pub ffprobe_calls: u64,
    /// Requests a scan of a media server's library sent (`library::remote::scan`).
    pub server_requests: u64,
    pub walk_complete: bool,
    pub current_file: Option<String>,
    pub percent_complete: f64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    pub recent_errors: VecDeque<FileError>,
    #[serde(skip)]
    started: Option<Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    pub path: String,
    pub error: String,
}

impl ScanProgress {
    fn new(library_id: i64) -> ScanProgress {
        ScanProgress {
            library_id,
            status: ScanStatus::Started,
            total_files: 0,
            scanned_files: 0,
            new_items: 0,
            changed_items: 0,
            missing_items: 0,
            unchanged_items: 0,
            probed: 0,
            failed: 0,
            errors: 0,
            ffprobe_calls: 0,
            server_requests: 0,
            walk_complete: false,
            current_file: None,
            percent_complete: 0.0,
            started_at: None,
            finished_at: None,
            error: None,
            recent_errors: VecDeque::new(),
            started: None,
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(self.status, ScanStatus::Started | ScanStatus::Running)
    }

    fn note_error(&mut self, path: String, error: String) {
        if self.recent_errors.len() == RECENT_ERRORS {
            self.recent_errors.pop_front();
        }
        self.recent_errors.push_back(FileError { path, error });
    }

    fn update_percent(&mut self) {
        self.percent_complete = if self.status == ScanStatus::Done {
            100.0
        } else if self.total_files == 0 {
            0.0
        } else {
            let done = self.scanned_files as f64 / self.total_files as f64 * 100.0;
            // Until the walk ends the total still grows: never claim completion early.
            let cap = if self.walk_complete { 100.0 } else { 99.0 };
            (done.min(cap) * 10.0).round() / 10.0
        };
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ScanRequestError {
    AlreadyScanning,
    QueueFull,
}

impl fmt::Display for ScanRequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScanRequestError::AlreadyScanning => {
                f.write_str("a scan of this library is already running")
            }
            ScanRequestError::QueueFull => f.write_str("too many scans queued"),
        }
    }
}

/// Scan requests and progress, shared through `App`.
pub struct Scanner {
    requests: mpsc::Sender<i64>,
    receiver: Mutex<Option<mpsc::Receiver<i64>>>,
    /// Latest scan per library; at most `MAX_LIBRARIES` entries (one per library).
    progress: Mutex<HashMap<i64, ScanProgress>>,
    /// Libraries whose first completed scan creates channels (first run with `--media`).
    first_run: Mutex<Vec<i64>>,
    /// ffprobe processes started since the server started (tests and benches read it).
    pub ffprobe_calls_total: AtomicU64,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    pub fn new() -> Scanner {
        // One queued request per library at most: a library already queued or scanning is
        // refused with 409, so the queue can never hold more than MAX_LIBRARIES.
        let (tx, rx) = mpsc::channel(MAX_LIBRARIES);
        Scanner {
            requests: tx,
            receiver: Mutex::new(Some(rx)),
            progress: Mutex::new(HashMap::new()),
            first_run: Mutex::new(Vec::new()),
            ffprobe_calls_total: AtomicU64::new(0),
        }
    }

    fn with_progress<T>(&self, f: impl FnOnce(&mut HashMap<i64, ScanProgress>) -> T) -> T {
        // A poisoned map still holds valid progress values (each update is one assignment).
        match self.progress.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Queues a scan of `library_id`; its progress reads `started` at once.
    pub fn request(&self, library_id: i64) -> Result<ScanProgress, ScanRequestError> {
        self.with_progress(|map| {
            if map.get(&library_id).is_some_and(ScanProgress::is_active) {
                return Err(ScanRequestError::AlreadyScanning);
            }
            if !map.contains_key(&library_id) && map.len() >= MAX_LIBRARIES {
                // Forget finished scans of deleted libraries before refusing.
                map.retain(|_, p| p.is_active());
            }
            self.requests
                .try_send(library_id)
                .map_err(|_| ScanRequestError::QueueFull)?;
            let mut progress = ScanProgress::new(library_id);
            progress.started_at = Some(crate::time::rfc3339(crate::time::now_ms()));
            map.insert(library_id, progress.clone());
            Ok(progress)
        })
    }

    pub fn progress(&self, library_id: i64) -> Option<ScanProgress> {
        self.with_progress(|map| map.get(&library_id).cloned())
    }

    pub fn is_scanning(&self, library_id: i64) -> bool {
        self.with_progress(|map| map.get(&library_id).is_some_and(ScanProgress::is_active))
    }

    /// Drops the progress of a deleted library.
    pub fn forget(&self, library_id: i64) {
        self.with_progress(|map| map.remove(&library_id));
    }

    pub(crate) fn update(&self, library_id: i64, f: impl FnOnce(&mut ScanProgress)) {
        self.with_progress(|map| {
            if let Some(p) = map.get_mut(&library_id) {
                f(p);
                p.update_percent();
            }
        });
    }

    /// Marks libraries whose first completed scan creates one channel per folder.
    pub fn set_first_run(&self, library_ids: Vec<i64>) {
        if let Ok(mut guard) = self.first_run.lock() {
            *guard = library_ids;
        }
    }

    fn take_first_run(&self, library_id: i64) -> bool {
        match self.first_run.lock() {
            Ok(mut guard) => match guard.iter().position(|id| *id == library_id) {
                Some(i) => {
                    guard.remove(i);
                    true
                }
                None => false,
            },
            Err(_) => false,
        }
    }
}

/// The scanning task: runs queued scans one after another until shutdown.
pub async fn run(app: Arc<App>) {
    let receiver = match app.scanner.receiver.lock() {
        Ok(mut guard) => guard.take(),
        Err(_) => None,
    };
    let Some(mut requests) = receiver else {
        tracing::error!("library scanner started twice; the second one exits");
        return;
    };
    let mut shutdown = app.shutdown.clone();
    // The first check one interval after start: the start-up scans are already queued.
    let mut due_check = tokio::time::interval_at(
        tokio::time::Instant::now() + DUE_CHECK_INTERVAL,
        DUE_CHECK_INTERVAL,
    );
    due_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let library_id = tokio::select! {
            _ = probe::shutdown_signal(&mut shutdown) => return,
            _ = due_check.tick() => {
                queue_due_scans(&app).await;
                continue;
            }
            next = requests.recv() => match next {
                Some(id) => id,
                None => return,
            },
        };
        scan_library(&app, library_id).await;
        if app.is_shutting_down() {
            return;
        }
    }
}

/// Queues a scan of every enabled library whose `scan_interval_hours` (0: never) has
/// passed since its last successful scan. A failed library is retried at each check, so a
/// folder that comes back (a remounted disk) is noticed.
async fn queue_due_scans(app: &Arc<App>) {
    let now = crate::time::now_ms();
    let due = app
        .db
        .read(move |conn| {
            // Local and remote alike: a remote rescan is a delta (`remote::scan`).
            let rows = store::libraries(conn, None)?;
            Ok(rows
                .into_iter()
                .filter(|l| l.is_enabled && l.scan_interval_hours > 0)
                .filter(|l| match l.last_scan_ms {
                    Some(last) => now - last >= l.scan_interval_hours * 3_600_000,
                    None => l.last_error.is_some(),
                })
                .map(|l| l.id)
                .collect::<Vec<_>>())
        })
        .await;
    match due {
        Ok(ids) => {
            for id in ids {
                // Already queued or scanning: nothing to add.
                let _ = app.scanner.request(id);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot look for libraries due a scan"),
    }
}

/// The ffprobe a scan runs: the checked one (a scan queued at start waits for the tools
/// check); if the check has no answer within `tools::TOOLS_WAIT` (a starved start), the
/// configured name, which is what an unresolved tool runs anyway.
async fn ffprobe_program(app: &App) -> PathBuf {
    match app.tools.wait(app.shutdown.clone()).await {
        Some(tools) => tools.ffprobe.program().to_path_buf(),
        None => PathBuf::from(&app.settings().ffmpeg.ffprobe_path),
    }
}

/// Why a scan ended early.
enum ScanEnd {
    Failed(String),
    Shutdown,
}

async fn scan_library(app: &Arc<App>, library_id: i64) {
    app.scanner.update(library_id, |p| {
        p.status = ScanStatus::Running;
        p.started = Some(Instant::now());
    });
    let library = match app
        .db
        .read(move |conn| store::library(conn, library_id))
        .await
    {
        Ok(Some(library)) => library,
        Ok(None) => {
            finish(
                app,
                library_id,
                Err(ScanEnd::Failed("the library was deleted".into())),
            )
            .await;
            return;
        }
        Err(e) => {
            finish(
                app,
                library_id,
                Err(ScanEnd::Failed(format!("database: {e}"))),
            )
            .await;
            return;
        }
    };
    if library.source_type != SourceType::Local {
        let result = super::remote::scan::run(app, library_id).await;
        finish(app, library_id, result.map_err(ScanEnd::Failed)).await;
        return;
    }
    let Some(root) = library.path.clone() else {
        finish(
            app,
            library_id,
            Err(ScanEnd::Failed("not a local library".into())),
        )
        .await;
        return;
    };
    tracing::info!(library = library_id, path = %root, "library scan started");
    let spec = WalkSpec {
        root: PathBuf::from(&root),
        recursive: library.recursive,
        extensions: walk::parse_extensions(&library.file_extensions),
    };
    let ffprobe = ffprobe_program(app).await;
    let mut scan = Scan::new(app.clone(), library_id, library.library_type, ffprobe);
    let result = scan.run(spec).await;
    let changed = scan.changed;
    let result = match result {
        Ok(()) => Ok(changed),
        Err(end) => Err(end),
    };
    finish(app, library_id, result).await;
}

/// Records the end of a scan, then tells the rest of the server what changed. A scan reads
/// `done` once its collections and first-run channels are written, so a client that waits
/// for `done` finds them; the playout rebuild follows.
async fn finish(app: &Arc<App>, library_id: i64, result: Result<u64, ScanEnd>) {
    let now = crate::time::now_ms();
    let changed = match result {
        Ok(changed) => changed,
        Err(ScanEnd::Shutdown) => {
            app.scanner.update(library_id, |p| {
                p.status = ScanStatus::Error;
                p.error = Some("cancelled by shutdown".into());
            });
            return;
        }
        Err(ScanEnd::Failed(error)) => {
            record_failure(app, library_id, now, error).await;
            return;
        }
    };
    record_result(app, library_id, now, None).await;
    if changed > 0 {
        if let Err(e) = app.db.write(super::collections::refresh_after_scan).await {
            tracing::warn!(error = %e, "cannot refresh collections after a scan");
        }
    }
    let created = if app.scanner.take_first_run(library_id) {
        first_run_channels(app, library_id).await
    } else {
        0
    };
    // Timelines first, then "done": a client that sees the scan finished must find the
    // new media in the guide and the stream already.
    if changed > 0 || created > 0 {
        app.apply(crate::changes::Changes::all("library scan"))
            .await;
    }
    let mut summary = None;
    app.scanner.update(library_id, |p| {
        p.finished_at = Some(crate::time::rfc3339(now));
        p.current_file = None;
        p.status = ScanStatus::Done;
        summary = Some(p.clone());
    });
    if let Some(p) = summary {
        log_summary(library_id, &p);
    }
}

async fn record_result(app: &Arc<App>, library_id: i64, now: i64, error: Option<String>) {
    if let Err(e) = app
        .db
        .write(move |conn| store::set_scan_result(conn, library_id, now, error.as_deref()))
        .await
    {
        tracing::warn!(library = library_id, error = %e, "cannot record the scan result");
    }
}

async fn record_failure(app: &Arc<App>, library_id: i64, now: i64, error: String) {
    record_result(app, library_id, now, Some(error.clone())).await;
    tracing::warn!(library = library_id, %error, "library scan failed");
    crate::notify::emit(crate::notify::Event::new(
        crate::notify::EventKind::ScanFailed,
        library_id.to_string(),
        format!("the scan of library {library_id} failed: {error}"),
    ));
    app.scanner.update(library_id, |p| {
        p.finished_at = Some(crate::time::rfc3339(now));
        p.current_file = None;
        p.status = ScanStatus::Error;
        p.error = Some(error);
    });
}

/// The first scan of a library makes one channel per folder. Returns how many.
async fn first_run_channels(app: &Arc<App>, library_id: i64) -> usize {
    let clock = crate::scheduler::BuildClock::now(&app.settings());
    match app
        .db
        .write(move |conn| crate::firstrun::create_media_channels(conn, library_id, &clock))
        .await
    {
        Ok(n) => {
            if n > 0 {
                tracing::info!(
                    library = library_id,
                    channels = n,
                    "first run: one channel per folder"
                );
            }
            n
        }
        Err(e) => {
            tracing::warn!(library = library_id, error = %e, "first run: cannot create channels");
            0
        }
    }
}

fn log_summary(library_id: i64, p: &ScanProgress) {
    let elapsed_ms = p
        .started
        .map(|s| s.elapsed().as_millis() as u64)
        .unwrap_or(0);
    tracing::info!(
        library = library_id,
        files = p.total_files,
        new = p.new_items,
        changed = p.changed_items,
        missing = p.missing_items,
        failed = p.failed,
        ffprobe_calls = p.ffprobe_calls,
        elapsed_ms,
        "library scan done"
    );
    crate::notify::emit(crate::notify::Event::new(
        crate::notify::EventKind::ScanDone,
        library_id.to_string(),
        format!(
            "the scan of library {library_id} is done: {} files, {} new, {} changed, {} missing, {} failed",
            p.total_files, p.new_items, p.changed_items, p.missing_items, p.failed
        ),
    ));
}

/// What one file's task returns.
enum FileOutcome {
    Item {
        item: Box<Scanned>,
        probed: bool,
        ffprobe_run: bool,
    },
    /// The file was gone when ffprobe looked (a folder unmounted mid-scan): not judged, so
    /// that it is probed again when it is back.
    Vanished {
        existing_id: Option<i64>,
    },
    Cancelled,
}

struct Scan {
    app: Arc<App>,
    library_id: i64,
    library_type: LibraryType,
    ffprobe: PathBuf,
    concurrency: usize,
    jobs: JoinSet<FileOutcome>,
    pending: Vec<Write>,
    pending_since: Instant,
    /// Hashes of the folders walked (or unreadable): their items are judged by the walk;
    /// items of any other folder are missing. Bounded by `walk::MAX_SCAN_DIRS`.
    walked: HashSet<u64>,
    /// Rows inserted, updated, marked missing or present again.
    changed: u64,
    last_log: Instant,
}

fn dir_hash(dir: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut h);
    h.finish()
}

impl Scan {
    fn new(app: Arc<App>, library_id: i64, library_type: LibraryType, ffprobe: PathBuf) -> Scan {
        let setting = app.settings().library.scan_concurrency;
        let concurrency = setting
            .unwrap_or(app.board.scan_concurrency)
            .max(MIN_CONCURRENCY as u16) as usize;
        Scan {
            app,
            library_id,
            library_type,
            ffprobe,
            concurrency,
            jobs: JoinSet::new(),
            pending: Vec::new(),
            pending_since: Instant::now(),
            walked: HashSet::new(),
            changed: 0,
            last_log: Instant::now(),
        }
    }

    async fn run(&mut self, spec: WalkSpec) -> Result<(), ScanEnd> {
        let root = spec.root.clone();
        let (tx, mut rx) = mpsc::channel(walk::WALK_AHEAD_DIRS);
        let walker = tokio::task::spawn_blocking(move || walk::walk(&spec, &tx));
        let mut shutdown = self.app.shutdown.clone();
        let mut fatal = None;
        loop {
            let event = tokio::select! {
                _ = probe::shutdown_signal(&mut shutdown) => {
                    drop(rx);
                    return Err(self.abort(ScanEnd::Shutdown).await);
                }
                event = rx.recv() => event,
            };
            match event {
                None => break,
                Some(WalkEvent::Dir(batch)) => {
                    self.walked
                        .insert(dir_hash(batch.dir.as_os_str().as_bytes()));
                    if let Err(end) = self.scan_dir(batch).await {
                        drop(rx);
                        return Err(self.abort(end).await);
                    }
                }
                Some(WalkEvent::DirError { dir, error }) => {
                    self.walked.insert(dir_hash(dir.as_os_str().as_bytes()));
                    tracing::warn!(dir = %dir.display(), %error, "cannot read a folder; its items are left as they are");
                    let shown = dir.display().to_string();
                    self.app.scanner.update(self.library_id, |p| {
                        p.errors += 1;
                        p.note_error(shown, error);
                    });
                }
                Some(WalkEvent::Fatal(error)) => {
                    fatal = Some(error);
                    break;
                }
            }
        }
        drop(rx);
        // The walker has sent its last event (or stops at its next send).
        let _ = walker.await;
        self.app
            .scanner
            .update(self.library_id, |p| p.walk_complete = true);
        while !self.jobs.is_empty() {
            if let Err(end) = self.collect_one().await {
                return Err(self.abort(end).await);
            }
        }
        self.flush().await.map_err(ScanEnd::Failed)?;
        if let Some(error) = fatal {
            // Nothing is marked missing: an unmounted disk must not empty the channels.
            return Err(ScanEnd::Failed(error));
        }
        if !tokio::fs::metadata(&root).await.is_ok_and(|m| m.is_dir()) {
            return Err(ScanEnd::Failed(format!(
                "the media folder {} vanished during the scan",
                root.display()
            )));
        }
        self.mark_unwalked_dirs_missing()
            .await
            .map_err(ScanEnd::Failed)
    }

    async fn scan_dir(&mut self, batch: DirBatch) -> Result<(), ScanEnd> {
        let DirBatch {
            dir,
            folders,
            files,
            after,
            up_to,
        } = batch;
        let n_files = files.len() as u64;
        self.app
            .scanner
            .update(self.library_id, |p| p.total_files += n_files);
        let dir_bytes = dir.as_os_str().as_bytes().to_vec();
        let mut known = self
            .known_in_chunk(&dir, after.as_deref(), up_to.as_deref())
            .await?;
        let folders: Arc<[String]> = folders.into();
        let mut n_unchanged = 0u64;
        for file in files {
            let path = dir.join(&file.name);
            let path_bytes = path.as_os_str().as_bytes().to_vec();
            match known.remove(&path_bytes) {
                Some(k) if same_file(&k, &file) => {
                    if k.sidecar_stamp.unwrap_or(0) != file.sidecar_stamp {
                        self.spawn_file(
                            path,
                            dir_bytes.clone(),
                            folders.clone(),
                            file,
                            Some(k.id),
                            false,
                        )
                        .await?;
                    } else {
                        n_unchanged += 1;
                        if k.is_missing {
                            self.push(Write::Present(k.id)).await?;
                        }
                    }
                }
                Some(k) => {
                    self.spawn_file(
                        path,
                        dir_bytes.clone(),
                        folders.clone(),
                        file,
                        Some(k.id),
                        true,
                    )
                    .await?
                }
                None => {
                    self.spawn_file(path, dir_bytes.clone(), folders.clone(), file, None, true)
                        .await?
                }
            }
        }
        if n_unchanged > 0 {
            self.app.scanner.update(self.library_id, |p| {
                p.unchanged_items += n_unchanged;
                p.scanned_files += n_unchanged;
            });
        }
        for (_, k) in known {
            if !k.is_missing {
                self.push(Write::Missing(k.id)).await?;
            }
        }
        if self.pending_since.elapsed() >= WRITE_INTERVAL && !self.pending.is_empty() {
            self.flush().await.map_err(ScanEnd::Failed)?;
        }
        self.log_progress();
        Ok(())
    }

    /// The stored items of the chunk's share of the folder's names: after the previous
    /// chunk's last, up to this chunk's last (or the end).
    async fn known_in_chunk(
        &self,
        dir: &Path,
        after: Option<&OsStr>,
        up_to: Option<&OsStr>,
    ) -> Result<HashMap<Vec<u8>, store::Known>, ScanEnd> {
        let library_id = self.library_id;
        let query_dir = dir.as_os_str().as_bytes().to_vec();
        let path_of = |name: &OsStr| dir.join(name).into_os_string().into_vec();
        let lower = after.map(path_of);
        let upper = up_to.map(path_of);
        self.app
            .db
            .read(move |conn| {
                store::known_in_dir(
                    conn,
                    library_id,
                    &query_dir,
                    lower.as_deref(),
                    upper.as_deref(),
                )
            })
            .await
            .map_err(|e| ScanEnd::Failed(format!("database: {e}")))
    }

    fn log_progress(&mut self) {
        if self.last_log.elapsed() < LOG_INTERVAL {
            return;
        }
        self.last_log = Instant::now();
        if let Some(p) = self.app.scanner.progress(self.library_id) {
            tracing::info!(
                library = self.library_id,
                seen = p.total_files,
                scanned = p.scanned_files,
                probed = p.probed,
                failed = p.failed,
                percent = p.percent_complete,
                "library scan progress"
            );
        }
    }

    /// Starts the examination of one file, waiting for a free slot first.
    async fn spawn_file(
        &mut self,
        path: PathBuf,
        dir_bytes: Vec<u8>,
        folders: Arc<[String]>,
        file: MediaFile,
        existing_id: Option<i64>,
        needs_probe: bool,
    ) -> Result<(), ScanEnd> {
        while self.jobs.len() >= self.concurrency {
            self.collect_one().await?;
        }
        let shown = path.to_string_lossy().into_owned();
        self.app
            .scanner
            .update(self.library_id, |p| p.current_file = Some(shown));
        let ctx = FileContext {
            ffprobe: self.ffprobe.clone(),
            shutdown: self.app.shutdown.clone(),
            library_id: self.library_id,
            library_type: self.library_type,
        };
        self.jobs.spawn(examine(
            ctx,
            path,
            dir_bytes,
            folders,
            file,
            existing_id,
            needs_probe,
        ));
        Ok(())
    }

    /// Waits for one file task and records its outcome.
    async fn collect_one(&mut self) -> Result<(), ScanEnd> {
        let Some(joined) = self.jobs.join_next().await else {
            return Ok(());
        };
        let outcome = match joined {
            Ok(outcome) => outcome,
            Err(e) => {
                // A panicking file task loses that file only.
                tracing::error!(error = %e, "a file examination task failed");
                return Ok(());
            }
        };
        match outcome {
            FileOutcome::Cancelled => Err(ScanEnd::Shutdown),
            FileOutcome::Vanished { existing_id } => {
                self.app.scanner.update(self.library_id, |p| {
                    p.scanned_files += 1;
                    p.ffprobe_calls += 1;
                });
                self.app
                    .scanner
                    .ffprobe_calls_total
                    .fetch_add(1, Ordering::Relaxed);
                match existing_id {
                    Some(id) => self.push(Write::Missing(id)).await,
                    None => Ok(()),
                }
            }
            FileOutcome::Item {
                item,
                probed,
                ffprobe_run,
            } => {
                let is_new = item.existing_id.is_none();
                let failure = match &item.probe {
                    Some(Err(e)) => Some((item.url.clone(), e.clone())),
                    _ => None,
                };
                if ffprobe_run {
                    self.app
                        .scanner
                        .ffprobe_calls_total
                        .fetch_add(1, Ordering::Relaxed);
                }
                self.app.scanner.update(self.library_id, |p| {
                    p.scanned_files += 1;
                    if ffprobe_run {
                        p.ffprobe_calls += 1;
                    }
                    if probed {
                        p.probed += 1;
                    }
                    if is_new {
                        p.new_items += 1;
                    } else {
                        p.changed_items += 1;
                    }
                    if let Some((path, error)) = failure.clone() {
                        p.failed += 1;
                        p.errors += 1;
                        p.note_error(path, error);
                    }
                });
                if let Some((path, error)) = failure {
                    tracing::warn!(%path, %error, "media file skipped");
                }
                self.push(Write::Item(item)).await
            }
        }
    }

    async fn push(&mut self, write: Write) -> Result<(), ScanEnd> {
        if self.pending.is_empty() {
            self.pending_since = Instant::now();
        }
        if let Write::Missing(_) = write {
            self.app
                .scanner
                .update(self.library_id, |p| p.missing_items += 1);
        }
        self.pending.push(write);
        if self.pending.len() >= WRITE_BATCH {
            self.flush().await.map_err(ScanEnd::Failed)?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let writes = std::mem::take(&mut self.pending);
        let applied = self
            .app
            .db
            .write(move |conn| store::apply(conn, writes))
            .await
            .map_err(|e| format!("database: {e}"))?;
        self.changed += applied.inserted + applied.updated + applied.missing + applied.present;
        Ok(())
    }

    /// Ends a scan early: waits for the running file tasks; at shutdown, keeps what was
    /// already probed, so the next start does not probe it again.
    async fn abort(&mut self, end: ScanEnd) -> ScanEnd {
        self.drain_jobs().await;
        if matches!(end, ScanEnd::Shutdown) {
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %e, "scan results lost at shutdown");
            }
        }
        end
    }

    /// Waits for running file tasks (each kills and reaps its ffprobe on shutdown); the
    /// files they finished are queued for writing, the cancelled ones are dropped.
    async fn drain_jobs(&mut self) {
        while let Some(joined) = self.jobs.join_next().await {
            if let Ok(FileOutcome::Item { item, .. }) = joined {
                self.pending.push(Write::Item(item));
            }
        }
    }

    /// Folders the database knows but the walk did not reach are gone: their items are
    /// marked missing (never deleted).
    async fn mark_unwalked_dirs_missing(&mut self) -> Result<(), String> {
        let library_id = self.library_id;
        let dirs = self
            .app
            .db
            .read(move |conn| store::present_dirs(conn, library_id))
            .await
            .map_err(|e| format!("database: {e}"))?;
        let gone: Vec<Vec<u8>> = dirs
            .into_iter()
            .filter(|d| !self.walked.contains(&dir_hash(d)))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let n = self
            .app
            .db
            .write(move |conn| {
                let tx = conn.transaction()?;
                let mut n = 0;
                for dir in &gone {
                    n += store::mark_dir_missing(&tx, library_id, dir)?;
                }
                tx.commit()?;
                Ok(n)
            })
            .await
            .map_err(|e| format!("database: {e}"))?;
        self.changed += n;
        self.app
            .scanner
            .update(library_id, |p| p.missing_items += n);
        Ok(())
    }
}

fn same_file(k: &Known, f: &MediaFile) -> bool {
    k.size == Some(f.size as i64) && k.mtime_ms == Some(f.mtime_ms)
}

struct FileContext {
    ffprobe: PathBuf,
    shutdown: tokio::sync::watch::Receiver<bool>,
    library_id: i64,
    library_type: LibraryType,
}

/// Probes (when asked) and reads the names and NFO of one file.
async fn examine(
    ctx: FileContext,
    path: PathBuf,
    dir_bytes: Vec<u8>,
    folders: Arc<[String]>,
    file: MediaFile,
    existing_id: Option<i64>,
    needs_probe: bool,
) -> FileOutcome {
    let (probe, probed, ffprobe_run) = if !needs_probe {
        (None, false, false)
    } else if file.size == 0 {
        (Some(Err("empty file (0 bytes)".to_string())), false, false)
    } else {
        match probe::probe(&ctx.ffprobe, &path, ctx.shutdown.clone()).await {
            Ok(p) => (Some(Ok(p)), true, true),
            Err(probe::ProbeError::Cancelled) => return FileOutcome::Cancelled,
            Err(_) if tokio::fs::metadata(&path).await.is_err() => {
                return FileOutcome::Vanished { existing_id }
            }
            Err(e) => (Some(Err(e.to_string())), false, true),
        }
    };
    let meta = metadata(&folders, &file, ctx.library_type).await;
    let url = path.to_string_lossy().into_owned();
    let artwork = file
        .artwork
        .map(|a| a.map(|p| p.as_os_str().as_bytes().to_vec()));
    FileOutcome::Item {
        item: Box::new(Scanned {
            existing_id,
            library_id: ctx.library_id,
            path_bytes: path.into_os_string().into_vec(),
            dir_bytes,
            url,
            size: file.size as i64,
            mtime_ms: file.mtime_ms,
            sidecar_stamp: file.sidecar_stamp,
            meta,
            probe,
            artwork,
        }),
        probed,
        ffprobe_run,
    }
}

/// Names first, then the NFO over them (an NFO is what a person wrote on purpose).
async fn metadata(folders: &[String], file: &MediaFile, library_type: LibraryType) -> Metadata {
    let name = file.name.to_string_lossy();
    let stem = match name.rfind('.') {
        Some(dot) if dot > 0 => &name[..dot],
        _ => &name[..],
    };
    let folder_refs: Vec<&str> = folders.iter().map(String::as_str).collect();
    let info = names::parse(stem, &folder_refs);
    let mut kind = info.kind;
    if library_type == LibraryType::Movie && kind != NameKind::Episode {
        kind = NameKind::Movie;
    }
    let mut meta = Metadata {
        kind: Some(kind),
        title: info.title,
        show_title: info.show_title,
        season_number: info.season_number,
        episode_number: info.episode_number,
        episode_number_end: info.episode_number_end,
        year: info.year,
        ..Metadata::default()
    };
    if let Some(nfo_path) = &file.nfo {
        match read_nfo(nfo_path).await {
            Ok(n) => {
                match n.root {
                    NfoRoot::Episode => meta.kind = Some(NameKind::Episode),
                    NfoRoot::Movie => meta.kind = Some(NameKind::Movie),
                    NfoRoot::Show | NfoRoot::Other => {}
                }
                if let Some(t) = n.title {
                    meta.title = t;
                }
                meta.show_title = n.show_title.or(meta.show_title);
                meta.description = n.plot;
                meta.season_number = n.season.or(meta.season_number);
                meta.episode_number = n.episode.or(meta.episode_number);
                meta.year = n.year.or(meta.year);
                meta.genres = (!n.genres.is_empty()).then(|| n.genres.join(","));
                meta.rating = n.rating;
                meta.content_rating = n.content_rating;
                meta.studio = n.studio;
                meta.originally_available = n.aired;
            }
            Err(e) => tracing::warn!(nfo = %nfo_path.display(), error = %e, "bad NFO skipped"),
        }
    }
    if meta.title.is_empty() {
        meta.title = name.into_owned();
    }
    meta
}

async fn read_nfo(path: &Path) -> Result<nfo::Nfo, String> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(nfo::MAX_NFO_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > nfo::MAX_NFO_BYTES {
        return Err(format!("larger than {} bytes", nfo::MAX_NFO_BYTES));
    }
    nfo::parse(&bytes).map_err(|e| e.to_string())
}
