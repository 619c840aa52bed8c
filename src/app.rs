//! The shared state every handler and background task sees, behind one `Arc<App>`:
//! configuration, the board, the database, the token, settings, tools and counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use tokio::sync::watch;

use crate::board::Board;
use crate::changes::Changes;
use crate::config::Config;
use crate::db::Db;
use crate::http::audit::Audit;
use crate::http::auth::ApiToken;
use crate::http::ApiError;
use crate::library::scanner::Scanner;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::time::UnixMs;
use crate::tools::ToolsCheck;

pub struct App {
    pub config: Config,
    pub board: Board,
    pub db: Db,
    pub api_token: ApiToken,
    /// FFmpeg and ffprobe: checked in the background once the listener is open
    /// (`background::check_tools`); unknown until then.
    pub tools: ToolsCheck,
    pub metrics: Metrics,
    /// The audit log's state: the 401 limiter (`http::audit`).
    pub audit: Audit,
    /// The streaming engine: running channels, tuners, viewers.
    pub streams: crate::stream::Manager,
    pub started_at: Instant,
    pub started_ms: UnixMs,
    /// Turns true once when the server begins to shut down.
    pub shutdown: watch::Receiver<bool>,
    /// Cached client documents (lineup, M3U, discover.json, device.xml) and the HTTP address
    /// they name (`iptv::cache`).
    pub outputs: crate::iptv::cache::Outputs,
    /// Library scan requests and progress (`library::scanner`).
    pub scanner: Scanner,
    /// YouTube and archive.org pages resolved to their direct URLs (`library::url_media`).
    pub pages: crate::library::url_media::Pages,
    /// The M3U sources' own guides, merged into our XMLTV (`iptv::source_guide`).
    pub source_guides: crate::iptv::source_guide::SourceGuides,
    settings: RwLock<Arc<Settings>>,
    /// Bumped by every write that changes what clients see (channels, playouts, media,
    /// settings); cached documents compare it to know they are stale.
    content_version: AtomicU64,
}

pub struct AppParts {
    pub config: Config,
    pub board: Board,
    pub db: Db,
    pub api_token: ApiToken,
    pub settings: Settings,
    pub shutdown: watch::Receiver<bool>,
}

impl App {
    pub fn new(parts: AppParts) -> App {
        let outputs = crate::iptv::cache::Outputs::new(parts.config.listen);
        App {
            config: parts.config,
            board: parts.board,
            db: parts.db,
            api_token: parts.api_token,
            tools: ToolsCheck::checking(),
            metrics: Metrics::default(),
            audit: Audit::default(),
            streams: crate::stream::Manager::default(),
            started_at: Instant::now(),
            started_ms: crate::time::now_ms(),
            outputs,
            shutdown: parts.shutdown,
            scanner: Scanner::new(),
            pages: Default::default(),
            source_guides: Default::default(),
            settings: RwLock::new(Arc::new(parts.settings)),
            content_version: AtomicU64::new(1),
        }
    }

    /// The direct URL of a YouTube or archive.org `page`: cached until it expires, else
    /// resolved by yt-dlp (bounded by `sources.resolve_timeout_seconds`) and put through
    /// `http::url_guard` before anything fetches it.
    pub async fn resolve_page(
        &self,
        page: &str,
    ) -> Result<crate::library::url_media::Resolved, crate::library::url_media::ResolveError> {
        use crate::library::url_media::{self, ResolveError, Resolved};
        if let Some(url) = self.pages.get(page, crate::time::now_ms()) {
            return Ok(Resolved {
                url,
                title: None,
                duration_ms: None,
            });
        }
        let yt_dlp = crate::tools::resolve("yt-dlp").ok_or(ResolveError::NotInstalled)?;
        let sources = self.settings().sources.clone();
        let resolved = url_media::resolve(
            &yt_dlp,
            &self.config.data_dir,
            page,
            sources.resolve_timeout(),
            self.shutdown.clone(),
        )
        .await?;
        crate::http::url_guard::check(&resolved.url, sources.allow_loopback)
            .await
            .map_err(|err| ResolveError::Refused(err.to_string()))?;
        self.pages.put(page, &resolved.url, crate::time::now_ms());
        tracing::info!(page, "page resolved by yt-dlp");
        Ok(resolved)
    }

    /// A snapshot of the settings; cheap (one refcount), never held across a write.
    pub fn settings(&self) -> Arc<Settings> {
        // A poisoned lock still holds a whole Arc (it is swapped in one store).
        match self.settings.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies `change` to a copy of the settings, persists it, then publishes it. `change`
    /// validates and returns a 422 to refuse; nothing is stored then.
    pub async fn update_settings(
        &self,
        change: impl FnOnce(&mut Settings) -> Result<(), ApiError>,
    ) -> Result<Arc<Settings>, ApiError> {
        let mut next = (*self.settings()).clone();
        change(&mut next)?;
        let to_store = next.clone();
        self.db.write(move |conn| to_store.save(conn)).await?;
        let next = Arc::new(next);
        match self.settings.write() {
            Ok(mut guard) => *guard = next.clone(),
            Err(poisoned) => *poisoned.into_inner() = next.clone(),
        }
        self.content_changed();
        Ok(next)
    }

    /// Tuners (= the FFmpeg pool size): `--tuners`, else the setting, else the board's.
    pub fn tuner_count(&self) -> u16 {
        self.config
            .tuners
            .or(self.settings().hdhomerun.tuner_count)
            .unwrap_or(self.board.tuners)
    }

    /// Acts on what a committed write changed (`changes`), the one place that does: the
    /// playouts it names are rebuilt from now, cached documents (lineup, M3U, XMLTV,
    /// discover.json) become stale, and the running channels whose timeline changed re-read
    /// it at once (their feeders cut over when what should play now is not what plays).
    ///
    /// The write is committed already, so a failed rebuild is logged, not returned: every
    /// running channel re-reads its timeline, and the horizon task extends it later.
    pub async fn apply(self: &Arc<Self>, mut changes: Changes) {
        let rebuild = std::mem::take(&mut changes.rebuild);
        if !rebuild.is_empty() {
            match crate::scheduler::rebuild(self, &rebuild).await {
                Ok(timelines) => changes.timelines.merge(timelines),
                Err(err) => {
                    tracing::warn!(%err, cause = %changes.cause, "rebuild after a write failed");
                    changes.timelines = crate::changes::Timelines::All;
                }
            }
            changes.content |= !changes.timelines.is_empty();
        }
        self.announce(&changes);
    }

    /// Stale documents and woken channels, for `changes` that rebuild nothing.
    fn announce(&self, changes: &Changes) {
        if changes.content {
            self.content_version.fetch_add(1, Ordering::Release);
        }
        if !changes.timelines.is_empty() {
            self.streams
                .timelines_changed(&changes.timelines, &changes.cause);
        }
    }

    /// A write whose effect is not described more precisely: `apply(Changes::any(..))`.
    /// Every running channel re-checks its timeline (one small read each, at most the tuner
    /// count), so a write that forgets to say what it touched can never leave a stream
    /// playing what the guide no longer says.
    pub fn content_changed(&self) {
        self.announce(&Changes::any("write"));
    }

    pub fn content_version(&self) -> u64 {
        self.content_version.load(Ordering::Acquire)
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
