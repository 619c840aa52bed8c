//! `/api/integrations/notifications/*` (EXStreamTV's routes, webhooks only; `notify` says
//! why): `services` listed and created (`{name*, service_type=webhook|discord|slack,
//! config: {webhook_url*, events?: [kind]}, enabled=true}`, the URL through
//! `http::url_guard`), one read or deleted by name, `services/{name}/test` sends a `test`
//! event now and answers what the receiver said, `send {title*, message*}` sends to every
//! enabled service, `history?limit=50` lists the newest deliveries.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::tx::{read, write_tx};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::url_guard::{self, Scheme};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::kinds::{EventKind, ServiceType};
use crate::notify::{self, Event};
use crate::ops::notifications::{self as store, Delivery, NewService, NotificationError, Service};

/// Names are shown in lists and history lines.
const MAX_NAME_CHARS: usize = 100;
const DEFAULT_HISTORY: i64 = 50;
const MAX_HISTORY: i64 = store::KEEP_HISTORY;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["services"] => by_verb!(req, {
            Get => {
                let services = read(app, |conn| Ok(store::list(conn)?)).await?;
                let out: Vec<ServiceView> = services.iter().map(ServiceView::of).collect();
                Ok(body::ok_json(&out))
            },
            Post => create(app, req).await,
        }),
        ["services", name] => {
            let name = (*name).to_owned();
            by_verb!(req, {
                Get => {
                    let service = named(app, name).await?;
                    Ok(body::ok_json(&ServiceView::of(&service)))
                },
                Delete => {
                    write_tx(app, move |tx| Ok(store::delete(tx, &name)?)).await?;
                    Ok(body::no_content())
                },
            })
        }
        ["services", name, "test"] => {
            router::only(req, Verb::Post)?;
            let service = named(app, (*name).to_owned()).await?;
            let event = Event::new(EventKind::Test, service.name.clone(), "a test notification");
            let delivery = notify::send_now(app, &service, &event).await;
            Ok(body::ok_json(&Outcome::of(&service.name, &delivery)))
        }
        ["send"] => {
            router::only(req, Verb::Post)?;
            send(app, req).await
        }
        ["history"] => {
            router::only_get(req)?;
            let limit = req
                .query_parsed::<i64>("limit")?
                .unwrap_or(DEFAULT_HISTORY)
                .clamp(1, MAX_HISTORY);
            let sent = read(app, move |conn| Ok(store::history(conn, limit)?)).await?;
            let out: Vec<SentView> = sent.iter().map(SentView::of).collect();
            Ok(body::ok_json(&out))
        }
        _ => Err(router::not_found()),
    }
}

impl From<NotificationError> for ApiError {
    fn from(e: NotificationError) -> Self {
        match e {
            NotificationError::NotFound => ApiError::not_found("Notification service"),
            NotificationError::NameTaken => ApiError::conflict(&e),
            NotificationError::Db(e) => e.into(),
        }
    }
}

async fn named(app: &Arc<App>, name: String) -> Result<Service, ApiError> {
    read(app, move |conn| {
        store::by_name(conn, &name)?.ok_or_else(|| NotificationError::NotFound.into())
    })
    .await
}

#[derive(Deserialize)]
struct CreateBody {
    name: String,
    #[serde(default = "webhook")]
    service_type: ServiceType,
    config: Config,
    #[serde(default = "yes")]
    enabled: bool,
}

#[derive(Deserialize)]
struct Config {
    webhook_url: String,
    #[serde(default)]
    events: Vec<EventKind>,
}

fn webhook() -> ServiceType {
    ServiceType::Webhook
}

fn yes() -> bool {
    true
}

async fn create(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: CreateBody = req.params_requiring(&["name", "config"]).await?;
    let name = input.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.contains('/') {
        return Err(ApiError::invalid(
            "name",
            format_args!("1 to {MAX_NAME_CHARS} characters, no '/'"),
        ));
    }
    let url = input.config.webhook_url.trim().to_owned();
    let allow_loopback = app.settings().sources.allow_loopback;
    // The scheme first: an https URL is refused before its host is even resolved.
    let https = |_| {
        ApiError::invalid(
            "config.webhook_url",
            "https is not supported by this build (no TLS client); use http, e.g. through a local relay",
        )
    };
    match url_guard::parse(&url) {
        Ok(parsed) if parsed.scheme == Scheme::Https => return Err(https(())),
        Ok(_) => {}
        Err(err) => return Err(ApiError::invalid("config.webhook_url", err)),
    }
    match url_guard::check(&url, allow_loopback).await {
        Ok(Scheme::Http) => {}
        Ok(Scheme::Https) => return Err(https(())),
        Err(err) => return Err(ApiError::invalid("config.webhook_url", err)),
    }
    let service = write_tx(app, move |tx| {
        let new = NewService {
            name: &name,
            service_type: input.service_type,
            url: &url,
            events: &input.config.events,
            enabled: input.enabled,
        };
        Ok(store::create(tx, &new, crate::time::now_ms())?)
    })
    .await?;
    Ok(body::created(service.id, &ServiceView::of(&service)))
}

#[derive(Deserialize)]
struct SendBody {
    title: String,
    message: String,
}

async fn send(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let input: SendBody = req.params_requiring(&["title", "message"]).await?;
    let services = read(app, |conn| Ok(store::enabled(conn)?)).await?;
    let event = Event::new(
        EventKind::Test,
        input.title.chars().take(200).collect::<String>(),
        format!("{}: {}", input.title, input.message)
            .chars()
            .take(2000)
            .collect::<String>(),
    );
    let mut results = Vec::with_capacity(services.len());
    for service in &services {
        let delivery = notify::send_now(app, service, &event).await;
        results.push(Outcome::of(&service.name, &delivery));
    }
    Ok(body::ok_json(&serde_json::json!({ "results": results })))
}

#[derive(Serialize)]
struct ServiceView {
    id: i64,
    name: String,
    service_type: ServiceType,
    webhook_url: String,
    events: Vec<EventKind>,
    enabled: bool,
    created_at: String,
}

impl ServiceView {
    fn of(s: &Service) -> ServiceView {
        ServiceView {
            id: s.id,
            name: s.name.clone(),
            service_type: s.service_type,
            webhook_url: s.url.clone(),
            events: s.events.clone(),
            enabled: s.enabled,
            created_at: crate::time::rfc3339(s.created_at_ms),
        }
    }
}

#[derive(Serialize)]
struct Outcome {
    service: String,
    success: bool,
    status_code: Option<u16>,
    attempts: u32,
    message: String,
}

impl Outcome {
    fn of(service: &str, d: &Delivery) -> Outcome {
        let message = match (&d.error, d.status_code) {
            (Some(e), _) => e.clone(),
            (None, Some(code)) => format!("delivered ({code})"),
            (None, None) => "delivered".to_owned(),
        };
        Outcome {
            service: service.to_owned(),
            success: d.success,
            status_code: d.status_code,
            attempts: d.attempts,
            message,
        }
    }
}

#[derive(Serialize)]
struct SentView {
    id: i64,
    service: String,
    event: String,
    success: bool,
    status_code: Option<u16>,
    error: Option<String>,
    attempts: u32,
    sent_at: String,
}

impl SentView {
    fn of(s: &store::Sent) -> SentView {
        SentView {
            id: s.id,
            service: s.service.clone(),
            event: s.event.clone(),
            success: s.delivery.success,
            status_code: s.delivery.status_code,
            error: s.delivery.error.clone(),
            attempts: s.delivery.attempts,
            sent_at: crate::time::rfc3339(s.sent_at_ms),
        }
    }
}
