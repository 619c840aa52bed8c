//! The migrations of this process and how far each got (`/api/migration/progress/{id}`):
//! EXStreamTV's `MigrationProgress`, kept for the newest `KEEP` runs only.

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};

use serde::Serialize;

const KEEP: usize = 16;

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub migration_id: String,
    /// pending|running|completed|failed
    pub status: &'static str,
    pub current_step: String,
    pub total_steps: u32,
    pub current_step_number: u32,
    pub items_processed: u64,
    pub items_total: u64,
    pub errors: Vec<String>,
    pub started_at: String,
    pub completed_at: Option<String>,
}

pub struct Registry {
    runs: Mutex<VecDeque<Progress>>,
    next: std::sync::atomic::AtomicU64,
}

impl Registry {
    pub fn global() -> &'static Registry {
        static REGISTRY: OnceLock<Registry> = OnceLock::new();
        REGISTRY.get_or_init(|| Registry {
            runs: Mutex::new(VecDeque::with_capacity(KEEP)),
            next: std::sync::atomic::AtomicU64::new(1),
        })
    }

    /// A new run of `total_steps`; its id.
    pub fn start(&self, source: &str, total_steps: u32) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{source}-{n}");
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if runs.len() == KEEP {
            runs.pop_front();
        }
        runs.push_back(Progress {
            migration_id: id.clone(),
            status: "running",
            current_step: "reading".to_owned(),
            total_steps,
            current_step_number: 1,
            items_processed: 0,
            items_total: 0,
            errors: Vec::new(),
            started_at: crate::time::rfc3339(crate::time::now_ms()),
            completed_at: None,
        });
        id
    }

    pub fn update(&self, id: &str, f: impl FnOnce(&mut Progress)) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = runs.iter_mut().find(|p| p.migration_id == id) {
            f(p);
        }
    }

    /// Marks the run ended (`failed` with `error`, else `completed`).
    pub fn finish(&self, id: &str, error: Option<String>) {
        self.update(id, |p| {
            p.status = if error.is_some() {
                "failed"
            } else {
                "completed"
            };
            p.errors.extend(error);
            p.current_step = "done".to_owned();
            p.current_step_number = p.total_steps;
            p.completed_at = Some(crate::time::rfc3339(crate::time::now_ms()));
        });
    }

    pub fn get(&self, id: &str) -> Option<Progress> {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.iter().find(|p| p.migration_id == id).cloned()
    }
}
