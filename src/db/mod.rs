//! The SQLite store: one file, WAL, foreign keys on. SQLite is blocking, so it runs on three
//! dedicated threads — one writer and two read-only readers (WAL lets them run side by side)
//! — and async code reaches them through `Db::write`, `Db::read` and `Db::read_bulk`. The
//! fast reader serves the stream, the guide and the polled documents; bulk and cold reads
//! (export, long lists) go to the bulk reader, so a large one never delays a tune or the
//! next programme. Nothing here knows HTTP.
//!
//! Query code for each area lives beside its area (`api::*`, `library::store`, ...) as
//! closures over a `&Connection`; this module owns only the connections and the schema.

mod migrate;
pub mod row;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub use migrate::SCHEMA_VERSION;

/// Jobs waiting for a DB thread. A bound, not a buffer: past it callers wait (backpressure)
/// instead of queueing without limit. 256 covers a burst of API writes during a scan.
const QUEUE_LEN: usize = 256;
/// How long a statement waits on a lock held by the other connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub enum DbError {
    Sqlite(rusqlite::Error),
    /// The file exists but is not an SQLite database; it is left untouched.
    NotADatabase(PathBuf),
    /// An SQLite file, but not one of ours (tables and no schema version).
    Foreign(PathBuf),
    /// Written by a newer exstreamtv; refused so that nothing is lost by a downgrade.
    TooNew {
        found: i64,
        supported: i64,
    },
    /// `PRAGMA quick_check` failed.
    Corrupt(String),
    Io(std::io::Error),
    /// The DB thread is gone (shutdown).
    Closed,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "sqlite: {e}"),
            DbError::NotADatabase(p) => write!(
                f,
                "{} is not an SQLite database; refusing to touch it (move it away to start afresh)",
                p.display()
            ),
            DbError::Foreign(p) => write!(
                f,
                "{} is an SQLite database of another program; refusing to touch it",
                p.display()
            ),
            DbError::TooNew { found, supported } => write!(
                f,
                "the database has schema version {found}, newer than this exstreamtv supports ({supported}); upgrade exstreamtv"
            ),
            DbError::Corrupt(msg) => write!(f, "the database is corrupt ({msg}); restore a backup"),
            DbError::Io(e) => write!(f, "{e}"),
            DbError::Closed => f.write_str("the database is closed"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Sqlite(e) => Some(e),
            DbError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<std::io::Error> for DbError {
    fn from(e: std::io::Error) -> Self {
        DbError::Io(e)
    }
}

impl DbError {
    /// A UNIQUE or PRIMARY KEY constraint failed: the API answers 409.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
    }

    /// A FOREIGN KEY constraint failed: a referenced row is missing or still in use.
    pub fn is_foreign_key_violation(&self) -> bool {
        matches!(self, DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
    }
}

/// Whether `table` has a row with this id. `table` is one of ours, never user input.
pub fn exists(conn: &Connection, table: &str, id: i64) -> Result<bool, DbError> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)");
    Ok(conn.query_row(&sql, [id], |r| r.get(0))?)
}

/// What a job gives back: its `Result<T, DbError>`, boxed as `Any`. The queue, the answer
/// channel and the async wait are then compiled once instead of once per call site (there
/// are about 150; this saved ~170 KB of a binary meant for small boards).
type Answer = Box<dyn std::any::Any + Send>;

/// A closure to run on a DB thread, and where its answer goes.
struct Job {
    run: Box<dyn FnOnce(&mut Connection) -> Answer + Send>,
    answer: oneshot::Sender<Answer>,
}

/// A cheap, cloneable handle to the two DB threads.
#[derive(Clone)]
pub struct Db {
    writer: mpsc::Sender<Job>,
    reader: mpsc::Sender<Job>,
    bulk: mpsc::Sender<Job>,
    path: PathBuf,
    /// Jobs handed to a DB thread and not finished yet (a gauge for /metrics).
    in_flight: Arc<AtomicU64>,
}

impl Db {
    /// Opens (creating if absent) and migrates the database at `path`, then starts its threads.
    /// Blocking: call before the runtime serves requests, or from `spawn_blocking`.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(DbError::Io)?;
        }
        check_header(path)?;
        let mut writer = Connection::open(path)?;
        configure(&writer)?;
        migrate::check_integrity(&writer)?;
        migrate::migrate(&mut writer, path)?;
        let in_flight = Arc::new(AtomicU64::new(0));
        Ok(Db {
            writer: spawn_thread("exstreamtv-db-w", writer, in_flight.clone())?,
            reader: spawn_thread("exstreamtv-db-r", open_reader(path)?, in_flight.clone())?,
            bulk: spawn_thread("exstreamtv-db-b", open_reader(path)?, in_flight.clone())?,
            path: path.to_path_buf(),
            in_flight,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn jobs_in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Runs `f` on the writer connection. Use a transaction inside `f` for multi-statement
    /// writes; when this returns Ok the write is committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        unbox(call(&self.writer, &self.in_flight, erase(f)).await?)
    }

    /// Runs `f` on the read-only connection; it sees every committed write.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let job = erase(move |conn: &mut Connection| f(conn));
        unbox(call(&self.reader, &self.in_flight, job).await?)
    }

    /// Runs `f` on the bulk reader: for reads that take long or touch many rows (export, the
    /// web UI's lists, the planner), so the fast reader stays free for the stream and the
    /// guide. It sees every committed write; `f` may hold a read transaction for a snapshot.
    pub async fn read_bulk<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        unbox(call(&self.bulk, &self.in_flight, erase(f)).await?)
    }

    /// Runs `f` on the writer from blocking code (startup, subcommands, tests).
    pub fn write_blocking<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (answer, rx) = oneshot::channel();
        let job = Job {
            run: erase(f),
            answer,
        };
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        if self.writer.blocking_send(job).is_err() {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            return Err(DbError::Closed);
        }
        unbox(rx.blocking_recv().map_err(|_| DbError::Closed)?)
    }
}

fn erase<T, F>(f: F) -> Box<dyn FnOnce(&mut Connection) -> Answer + Send>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
{
    Box::new(move |conn| Box::new(f(conn)) as Answer)
}

fn unbox<T: 'static>(answer: Answer) -> Result<T, DbError> {
    match answer.downcast::<Result<T, DbError>>() {
        Ok(result) => *result,
        // `erase` boxes exactly this type, and each answer goes back to its own caller.
        Err(_) => unreachable!("a DB job answered with another type"),
    }
}

async fn call(
    queue: &mpsc::Sender<Job>,
    in_flight: &AtomicU64,
    run: Box<dyn FnOnce(&mut Connection) -> Answer + Send>,
) -> Result<Answer, DbError> {
    let (answer, rx) = oneshot::channel();
    in_flight.fetch_add(1, Ordering::Relaxed);
    if queue.send(Job { run, answer }).await.is_err() {
        in_flight.fetch_sub(1, Ordering::Relaxed);
        return Err(DbError::Closed);
    }
    rx.await.map_err(|_| DbError::Closed)
}

fn spawn_thread(
    name: &str,
    mut conn: Connection,
    in_flight: Arc<AtomicU64>,
) -> Result<mpsc::Sender<Job>, DbError> {
    let (tx, mut rx) = mpsc::channel::<Job>(QUEUE_LEN);
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            // Ends when every Db handle is dropped; the connection closes with it.
            while let Some(job) = rx.blocking_recv() {
                // A panicking job must not take the DB thread down with it: the caller sees
                // its answer channel dropped (DbError::Closed for that one call) and we go on.
                let run = job.run;
                let answered =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&mut conn)));
                if let Ok(answer) = answered {
                    let _ = job.answer.send(answer);
                }
                in_flight.fetch_sub(1, Ordering::Relaxed);
            }
        })
        .map_err(DbError::Io)?;
    Ok(tx)
}

fn open_reader(path: &Path) -> Result<Connection, DbError> {
    let reader = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&reader)?;
    Ok(reader)
}

fn configure(conn: &Connection) -> Result<(), DbError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never block the writer; a power cut loses at most the last transactions,
    // never the file. NORMAL syncs at checkpoints only, sparing the SD card.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    Ok(())
}

/// Refuses a non-empty file that does not start with SQLite's magic header, before SQLite
/// could treat it as anything else.
fn check_header(path: &Path) -> Result<(), DbError> {
    use std::io::Read;
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DbError::Io(e)),
    };
    let mut header = [0u8; 16];
    let n = file.read(&mut header).map_err(DbError::Io)?;
    if n == 0 {
        return Ok(());
    }
    if n < 16 || &header != b"SQLite format 3\0" {
        return Err(DbError::NotADatabase(path.to_path_buf()));
    }
    Ok(())
}

/// Reads an optional row: `Ok(None)` when the query returns nothing.
pub fn optional<T>(result: rusqlite::Result<T>) -> Result<Option<T>, DbError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
