//! Notifications: JSON webhooks sent on what a user of an always-on box wants to hear about
//! — a stream started or stopped, a library scan done or failed, a channel failing (its
//! circuit breaker opened). Parts of the server `emit` an `Event` onto one process-wide
//! bus (a bounded broadcast: emitting never waits and costs nothing with no listener);
//! `run` delivers each event to the services (`ops::notifications`) that asked for its
//! kind, each POST with a timeout and retries, and records the outcome in the history.
//!
//! Webhooks only: a generic JSON `webhook`, and `discord` / `slack` bodies for their
//! incoming-webhook URLs. This build has no TLS client, so an `https://` URL is refused at
//! creation with that reason (a local relay such as a reverse proxy can bridge it).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, Semaphore};

use crate::app::App;
pub use crate::kinds::{EventKind, ServiceType};
use crate::ops::notifications::{self as store, Delivery, Service};

/// Events in flight to the dispatcher; a burst beyond it drops the oldest (the dispatcher
/// logs how many), never blocks the stream or the scan that emitted them.
const BUS_CAPACITY: usize = 64;
/// One attempt's whole answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts per delivery: the first and two retries, 1 s then 2 s apart.
pub const ATTEMPTS: u32 = 3;
/// Deliveries running at once (a dead receiver costs at most its timeouts, not the box).
const DELIVERIES_AT_ONCE: usize = 4;
/// A receiver's answer is read only to see it ended; its body is not kept.
const ANSWER_CAP: usize = 64 * 1024;

/// One thing that happened: its kind, what it is about (a channel's number, a library's
/// id) and a sentence for people.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub event: EventKind,
    pub subject: String,
    pub message: String,
    pub timestamp: String,
}

impl Event {
    pub fn new(event: EventKind, subject: impl Into<String>, message: impl Into<String>) -> Self {
        Event {
            event,
            subject: subject.into(),
            message: message.into(),
            timestamp: crate::time::rfc3339(crate::time::now_ms()),
        }
    }
}

fn bus() -> &'static broadcast::Sender<Event> {
    static BUS: OnceLock<broadcast::Sender<Event>> = OnceLock::new();
    BUS.get_or_init(|| broadcast::channel(BUS_CAPACITY).0)
}

/// Tells the dispatcher; never waits. Before `run` subscribes (and in tools that never
/// run it) the event is dropped.
pub fn emit(event: Event) {
    let _ = bus().send(event);
}

/// The dispatcher: each event to every enabled service that wants it, until shutdown.
pub async fn run(app: Arc<App>) {
    let mut events = bus().subscribe();
    let mut shutdown = app.shutdown.clone();
    let slots = Arc::new(Semaphore::new(DELIVERIES_AT_ONCE));
    loop {
        let event = tokio::select! {
            _ = shutdown.changed() => return,
            received = events.recv() => match received {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(dropped = n, "notifications: events dropped in a burst");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        };
        let services = match app.db.read(store::enabled).await {
            Ok(services) => services,
            Err(err) => {
                tracing::warn!(%err, "notifications: cannot read the services");
                continue;
            }
        };
        for service in services.into_iter().filter(|s| s.wants(event.event)) {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            let (app, event) = (app.clone(), event.clone());
            tokio::spawn(async move {
                let delivery = deliver(&service, &event).await;
                record(&app, &service, &event, delivery).await;
                drop(slot);
            });
        }
    }
}

/// Sends `event` to `service` now (the `test` and `send` routes), recording the outcome.
pub async fn send_now(app: &App, service: &Service, event: &Event) -> Delivery {
    let delivery = deliver(service, event).await;
    record(app, service, event, delivery.clone()).await;
    delivery
}

async fn record(app: &App, service: &Service, event: &Event, delivery: Delivery) {
    let (name, kind) = (service.name.clone(), event.event);
    if let Err(err) = app
        .db
        .write(move |conn| store::record(conn, &name, kind, &delivery, crate::time::now_ms()))
        .await
    {
        tracing::warn!(%err, "notifications: cannot record a delivery");
    }
}

/// Up to `ATTEMPTS` POSTs; a 2xx ends it. A 4xx other than 408/429 is not retried: the
/// receiver refused this body and will refuse it again.
async fn deliver(service: &Service, event: &Event) -> Delivery {
    let body = Bytes::from(body_for(service.service_type, event).to_string());
    let mut last = Delivery::default();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_secs(1 << (attempt - 2))).await;
        }
        last.attempts = attempt;
        match crate::http::client::post_json(
            &service.url,
            &[],
            body.clone(),
            ANSWER_CAP,
            ATTEMPT_TIMEOUT,
        )
        .await
        {
            Ok(answer) => {
                let code = answer.status.as_u16();
                last.status_code = Some(code);
                if answer.status.is_success() {
                    last.success = true;
                    last.error = None;
                    return last;
                }
                last.error = Some(format!("the receiver answered {code}"));
                if answer.status.is_client_error() && code != 408 && code != 429 {
                    return last;
                }
            }
            Err(err) => {
                last.status_code = None;
                last.error = Some(err.to_string());
            }
        }
    }
    last
}

/// The body each kind of receiver reads.
fn body_for(kind: ServiceType, event: &Event) -> serde_json::Value {
    let line = format!("exstreamtv: {}", event.message);
    match kind {
        ServiceType::Webhook => serde_json::json!({
            "event": event.event,
            "subject": event.subject,
            "message": event.message,
            "timestamp": event.timestamp,
            "source": "exstreamtv",
        }),
        ServiceType::Discord => serde_json::json!({ "content": line }),
        ServiceType::Slack => serde_json::json!({ "text": line }),
    }
}
