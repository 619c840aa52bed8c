//! `exstreamtv serve`: opens the store, prepares first-run content, binds the listener and
//! runs every long-lived task until SIGTERM/SIGINT, then shuts down in order: stop
//! accepting, end streams, kill and reap children, exit.
//!
//! The goal is start to healthy ≤ 20 ms on a warm data dir (`scripts/perf-platform
//! --start-only`), so before the listener comes only what the first guide or tune request
//! needs (the DB, the token, the settings, first-run content, the timelines) and nothing that
//! runs a program: the tools check and the encoder probe start right after it
//! (`background`). Each step's cost is logged at debug
//! (`EXSTREAMTV_LOG=info,exstreamtv::serve=debug`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::app::{App, AppParts};
use crate::board::Board;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::http::auth::{ApiToken, TokenSource};
use crate::settings::Settings;

/// Whole-process shutdown budget is 5 s (issue 3); the server drains in 2.5 s of it, the rest
/// is for background tasks and child processes.
const TASK_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub enum ServeError {
    Db(DbError),
    Io(&'static str, std::io::Error),
    Bind(std::net::SocketAddr, std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Db(_) => f.write_str("cannot open the database"),
            ServeError::Io(what, _) => write!(f, "{what}"),
            ServeError::Bind(addr, _) => write!(f, "cannot listen on {addr}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Db(e) => Some(e),
            ServeError::Io(_, e) | ServeError::Bind(_, e) => Some(e),
        }
    }
}

/// The start-up steps and what each cost, logged at debug: the start-to-healthy goal is
/// 20 ms, so a step that grows shows up here first.
struct Steps {
    last: Instant,
}

impl Steps {
    fn start() -> Steps {
        Steps {
            last: Instant::now(),
        }
    }

    fn done(&mut self, step: &'static str) {
        let now = Instant::now();
        let micros = now.duration_since(self.last).as_micros() as u64;
        tracing::debug!(step, micros, "start-up step");
        self.last = now;
    }
}

/// Everything before the listener: the parts of `App` that need blocking I/O, and what the
/// first guide or tune request must find (first-run content, timelines). The tools stay
/// unknown: `background::spawn_all` checks them.
pub fn prepare(config: Config, shutdown: watch::Receiver<bool>) -> Result<App, ServeError> {
    prepare_steps(config, shutdown, &mut Steps::start())
}

fn prepare_steps(
    config: Config,
    shutdown: watch::Receiver<bool>,
    steps: &mut Steps,
) -> Result<App, ServeError> {
    let board = match &config.board {
        Some(name) => {
            Board::by_name(name).unwrap_or_else(|| Board::detect(std::path::Path::new("/")))
        }
        None => Board::detect(std::path::Path::new("/")),
    };
    steps.done("board");
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| ServeError::Io("cannot create the data directory", e))?;
    let db = Db::open(&config.db_path()).map_err(ServeError::Db)?;
    steps.done("database");
    let api_token = load_token(&config)?;
    steps.done("token");
    let settings = load_settings(&db)?;
    steps.done("settings");
    let first_run = crate::firstrun::prepare(&db, &config).map_err(ServeError::Db)?;
    if first_run {
        tracing::info!("first run: created the demo channel");
    }
    let media_first_run =
        crate::firstrun::wants_media_channels(&db, &config).map_err(ServeError::Db)?;
    let media_dirs = config.media_dirs.clone();
    let media_libraries = db
        .write_blocking(move |conn| {
            crate::library::store::ensure_media_libraries(conn, &media_dirs)
        })
        .map_err(ServeError::Db)?;
    steps.done("first run and media folders");
    seed_default_profile(&db, &board);
    steps.done("default profile");
    // Timelines exist before the listener opens: the first tune or guide fetch finds them.
    match crate::scheduler::build_all_blocking(&db, &settings) {
        Ok(n_changed) => tracing::info!(n_changed, "playouts built"),
        Err(err) => {
            tracing::warn!(%err, "could not build the playouts; the horizon task retries in 10 minutes")
        }
    }
    steps.done("playouts");
    tracing::info!(board = %board.name, encoder = %board.encoder, data = %config.data_dir.display(), "starting");
    let app = App::new(AppParts {
        config,
        board,
        db,
        api_token,
        settings,
        shutdown,
    });
    if media_first_run {
        app.scanner.set_first_run(media_libraries.clone());
    }
    // Scanned in the background once the scanner task runs; the server answers meanwhile.
    for library_id in media_libraries {
        if let Err(e) = app.scanner.request(library_id) {
            tracing::warn!(library = library_id, error = %e, "media folder scan not queued");
        }
    }
    steps.done("app");
    Ok(app)
}

/// The API token: from the environment, the token file, or generated into it.
fn load_token(config: &Config) -> Result<ApiToken, ServeError> {
    let (api_token, source) = ApiToken::load(config.api_token.as_deref(), &config.data_dir)
        .map_err(|e| ServeError::Io("cannot read or write the API token file", e))?;
    match source {
        TokenSource::Env => tracing::info!("API token from EXSTREAMTV_API_TOKEN"),
        TokenSource::File(path) => tracing::info!(path = %path.display(), "API token loaded"),
        TokenSource::Generated(path) => tracing::info!(
            path = %path.display(),
            "generated a new API token (send it as Authorization: Bearer <token>)"
        ),
    }
    Ok(api_token)
}

/// The stored settings, with an HDHomeRun device id generated (and saved) on first use.
fn load_settings(db: &Db) -> Result<Settings, ServeError> {
    let settings = db.write_blocking(|conn| {
        let mut settings = Settings::load(conn)?;
        if crate::hdhr::device_id::parse(&settings.hdhomerun.device_id).is_none() {
            let random = crate::http::auth::random_bytes::<4>().map_err(DbError::Io)?;
            let id = crate::hdhr::device_id::generate(random);
            settings.hdhomerun.device_id = crate::hdhr::device_id::format(id);
            settings.save(conn)?;
        }
        Ok(settings)
    });
    settings.map_err(ServeError::Db)
}

/// The board's default FFmpeg profile, created once. A failure is logged, not fatal: the
/// server still runs, with the profiles the database has.
fn seed_default_profile(db: &Db, board: &Board) {
    let default_profile = crate::ops::profiles::DefaultProfile::for_board(board);
    let seeded = db.write_blocking(move |conn| {
        let tx = conn.transaction()?;
        let created =
            crate::ops::profiles::ensure_default(&tx, &default_profile, crate::time::now_ms())?;
        tx.commit()?;
        Ok(created.is_some())
    });
    match seeded {
        Ok(true) => tracing::info!(board = %board.name, "created the default FFmpeg profile"),
        Ok(false) => {}
        Err(err) => tracing::warn!(%err, "could not create the default FFmpeg profile"),
    }
}

pub fn run(config: Config) -> Result<(), ServeError> {
    crate::logging::init(&config.log_filter);
    let mut steps = Steps::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Two workers: the boards have 1-4 cores and FFmpeg needs them more than we do.
        .worker_threads(2)
        .thread_name("exstreamtv")
        .enable_all()
        .build()
        .map_err(|e| ServeError::Io("cannot start the async runtime", e))?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    steps.done("runtime");
    let app = Arc::new(prepare_steps(config, shutdown_rx.clone(), &mut steps)?);
    let result = runtime.block_on(serve_until_signal(app, steps, shutdown_tx, shutdown_rx));
    // Tasks that ignored the signal are dropped here; children are already reaped.
    runtime.shutdown_timeout(Duration::from_millis(500));
    result
}

async fn serve_until_signal(
    app: Arc<App>,
    mut steps: Steps,
    shutdown_tx: watch::Sender<bool>,
    shutdown_rx: watch::Receiver<bool>,
) -> Result<(), ServeError> {
    // Installed before anything announces that we listen: a SIGTERM that arrives right after
    // start must shut down gracefully, not kill the process with the default action.
    let signals = Signals::install();
    steps.done("signals");
    let listener = TcpListener::bind(app.config.listen)
        .await
        .map_err(|e| ServeError::Bind(app.config.listen, e))?;
    steps.done("bind");
    let local = listener
        .local_addr()
        .map_err(|e| ServeError::Io("cannot read the bound address", e))?;
    // Documents and discovery replies name the real address (the port may be 0 on the
    // command line); set before the first request can be served.
    app.outputs.set_http_addr(local);
    crate::library::remote::sign::init(local);
    // Tests parse this line to find an ephemeral port.
    tracing::info!(addr = %local, "listening");
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(crate::http::server::serve(
        app.clone(),
        listener,
        shutdown_rx.clone(),
    ));
    // The tools check and the encoder probe start here, after the listener (`background`).
    crate::background::spawn_all(&app, &mut tasks, local);
    steps.done("tasks");

    signals.wait().await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(true);
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(
        crate::http::server::SHUTDOWN_GRACE + TASK_SHUTDOWN_GRACE,
        drain,
    )
    .await
    .is_err()
    {
        tracing::warn!("some tasks did not stop in time; aborting them");
        tasks.abort_all();
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGTERM and SIGINT, both meaning "shut down gracefully".
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        if term.is_none() || int.is_none() {
            tracing::error!("cannot install signal handlers; stop with SIGKILL");
        }
        Signals { term, int }
    }

    async fn wait(mut self) {
        let (Some(term), Some(int)) = (self.term.as_mut(), self.int.as_mut()) else {
            std::future::pending::<()>().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
