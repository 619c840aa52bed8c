//! A scan of one remote library, page by page (`PAGE_SIZE` items, so memory stays flat
//! whatever the library's size). The first scan lists everything. A rescan asks the server
//! only for what changed since the last scan (`updatedAt` / `MinDateLastSaved`) plus the
//! library's count; when our present items plus the new ones equal that count nothing can
//! have gone, and the scan ends there (two requests for an unchanged library). Otherwise it
//! lists everything and marks what the server no longer has missing — only after the whole
//! listing arrived, so a server that goes down mid-scan marks nothing missing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::store::{self, ItemWrite, KnownItem, RemoteTarget};
use super::{Page, PageAsk, RemoteItem, Server, MAX_ITEMS, PAGE_SIZE};
use crate::app::App;

/// Slack on "changed since": the server's clock and ours may disagree by this much.
const SINCE_SLACK_MS: i64 = 10 * 60_000;

struct Scan<'a> {
    app: &'a Arc<App>,
    library_id: i64,
    target: RemoteTarget,
    server: Server,
    known: HashMap<String, KnownItem>,
    seen: HashSet<String>,
    /// Rows inserted, updated, revived or marked missing.
    changed: u64,
    /// Items present now that were not before (new or revived).
    added: u64,
    requests: u64,
}

/// Scans `library_id`; returns the rows it changed, or the sentence that names why not.
pub async fn run(app: &Arc<App>, library_id: i64) -> Result<u64, String> {
    let target = app
        .db
        .read(move |conn| store::target(conn, library_id))
        .await
        .map_err(|e| format!("database: {e}"))?
        .ok_or_else(|| "not a library of a media server".to_string())?;
    let known = app
        .db
        .read(move |conn| store::known(conn, library_id))
        .await
        .map_err(|e| format!("database: {e}"))?;
    let kind = target.source.source_type;
    tracing::info!(
        library = library_id,
        source = target.source.id,
        kind = %kind,
        server = %target.source.server_url,
        "remote library scan started"
    );
    let mut scan = Scan {
        app,
        library_id,
        server: target.source.server(),
        target,
        known,
        seen: HashSet::new(),
        changed: 0,
        added: 0,
        requests: 0,
    };
    let result = scan.run().await;
    let requests = scan.requests;
    app.scanner.update(library_id, |p| {
        p.server_requests = requests;
        p.walk_complete = true;
    });
    match &result {
        Ok(()) => tracing::info!(
            library = library_id,
            kind = %kind,
            changed = scan.changed,
            requests,
            "remote library scan finished"
        ),
        Err(e) => {
            tracing::warn!(library = library_id, kind = %kind, error = %e, "remote library scan failed")
        }
    }
    result.map(|()| scan.changed)
}

impl Scan<'_> {
    async fn run(&mut self) -> Result<(), String> {
        if let Some(last) = self.target.last_scan_ms {
            if self.delta(last - SINCE_SLACK_MS).await? {
                return Ok(());
            }
        }
        self.full().await
    }

    fn ask(&self, start: u64, size: u64, since_ms: Option<i64>) -> PageAsk<'_> {
        PageAsk {
            library_key: &self.target.remote_key,
            library_type: self.target.library_type,
            start,
            size,
            since_ms,
        }
    }

    async fn page(&mut self, start: u64, size: u64, since: Option<i64>) -> Result<Page, String> {
        self.requests += 1;
        let ask = self.ask(start, size, since);
        self.server.page(&ask).await.map_err(|e| e.to_string())
    }

    /// The changes since `since`; true when they account for the whole library.
    async fn delta(&mut self, since: i64) -> Result<bool, String> {
        let total = self.page(0, 0, None).await?.total;
        self.list(Some(since)).await?;
        let present_before = self.known.values().filter(|k| !k.is_missing).count() as u64;
        Ok(present_before + self.added == total)
    }

    /// Every item; then whatever was not listed is missing.
    async fn full(&mut self) -> Result<(), String> {
        self.seen.clear();
        self.list(None).await?;
        let gone: Vec<i64> = self
            .known
            .iter()
            .filter(|(key, k)| !k.is_missing && !self.seen.contains(*key))
            .map(|(_, k)| k.id)
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let n = self
            .app
            .db
            .write(move |conn| store::mark_missing(conn, &gone))
            .await
            .map_err(|e| format!("database: {e}"))?;
        self.changed += n;
        self.app
            .scanner
            .update(self.library_id, |p| p.missing_items += n);
        Ok(())
    }

    /// Pages through the listing (all, or changed since `since`), writing what changed.
    async fn list(&mut self, since: Option<i64>) -> Result<(), String> {
        let mut start = 0;
        loop {
            let page = self.page(start, PAGE_SIZE, since).await?;
            if page.total > MAX_ITEMS {
                return Err(format!(
                    "{}: more than {MAX_ITEMS} items",
                    self.server.label
                ));
            }
            let n = page.items.len() as u64;
            if since.is_none() {
                let total = page.total;
                self.app
                    .scanner
                    .update(self.library_id, |p| p.total_files = total);
            }
            self.write_page(page.items).await?;
            start += n;
            // The server's count may change between pages: stop at an empty page or its end.
            if n == 0 || start >= page.total {
                return Ok(());
            }
        }
    }

    async fn write_page(&mut self, items: Vec<RemoteItem>) -> Result<(), String> {
        let scanned = items.len() as u64;
        let mut writes = Vec::new();
        let (mut new, mut changed) = (0, 0);
        for item in items {
            // A server that shifts its answer between pages may list an item twice.
            if !self.seen.insert(item.key.clone()) {
                continue;
            }
            let known = self.known.get(&item.key);
            match known {
                Some(k) if !k.is_missing && k.stamp == Some(item.stamp()) => continue,
                Some(k) if !k.is_missing => changed += 1,
                _ => new += 1,
            }
            let local_path = self.local_path(&item).await;
            writes.push(ItemWrite { item, local_path });
        }
        let current = writes.last().map(|w| w.item.title.clone());
        if !writes.is_empty() {
            let (library_id, source) = (self.library_id, self.server.source_type);
            let now = crate::time::now_ms();
            self.app
                .db
                .write(move |conn| store::write_items(conn, library_id, source, &writes, now))
                .await
                .map_err(|e| format!("database: {e}"))?;
        }
        self.added += new;
        self.changed += new + changed;
        self.app.scanner.update(self.library_id, |p| {
            p.scanned_files += scanned;
            p.new_items += new;
            p.changed_items += changed;
            p.unchanged_items += scanned - new - changed;
            if current.is_some() {
                p.current_file = current;
            }
        });
        Ok(())
    }

    /// The local file of an item, after the source's path replacements, if it exists here.
    async fn local_path(&self, item: &RemoteItem) -> Option<String> {
        let local = self
            .target
            .source
            .local_path(item.server_path.as_deref()?)?;
        let is_file = tokio::fs::metadata(&local).await.is_ok_and(|m| m.is_file());
        is_file.then_some(local)
    }
}
