//! `/api/ai/*`: the AI channel creator (API.md §2.13) and its settings (with the one-click
//! setups and the connection test, which never install or download). The planner routes
//! (`analyze`, `sources`, `plan…`), personas and sessions work with no LLM; `/message`
//! needs a provider and answers 503 without one. Plans and sessions are stored
//! (`ai::store`); every access to them runs on the writer, which purges the expired first.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::tx::write_tx;
use crate::ai::plan::{self, Modifications, Plan, Status};
use crate::ai::{clips, execute, intent, personas, sources, store};
use crate::app::App;
use crate::http::router::{self, by_verb, Verb};
use crate::http::{body, ApiError, ApiResult, Req};
use crate::scheduler::BuildClock;
use crate::time::now_ms;

pub async fn route(app: &Arc<App>, req: &mut Req, segs: &[&str]) -> ApiResult {
    match segs {
        ["settings"] => by_verb!(req, {
            Get => Ok(body::ok_json(&settings_view(app))),
            Put | Patch => put_settings(app, req).await,
        }),
        ["settings", "one-click", "local"] => {
            router::only(req, Verb::Post)?;
            one_click_local(app).await
        }
        ["settings", "one-click", "cloud"] => {
            router::only(req, Verb::Post)?;
            Err(ApiError::not_implemented(
                "no cloud default: exstreamtv stays local; an OpenAI-compatible server \
                 (llama.cpp, LM Studio, vLLM, or a hosted one) is set with PUT \
                 /api/ai/settings {provider: \"openai\", base_url, model, api_key}",
            ))
        }
        ["settings", "one-click", "troubleshooting"] => {
            router::only(req, Verb::Post)?;
            one_click_troubleshooting(app).await
        }
        ["settings", "test-connection"] => {
            router::only_get(req)?;
            test_connection(app).await
        }
        ["channel", "analyze"] => analyze(app, req).await,
        ["channel", "sources"] => rank(app, req).await,
        ["channel", "plan"] => create_plan(app, req).await,
        ["channel", "plan", id] => plan_by_verb(app, req, id.to_string()).await,
        ["channel", "plan", id, "approve"] => approve(app, req, id.to_string()).await,
        ["channel", "plan", id, "execute"] => execute_plan(app, req, id.to_string()).await,
        ["channel", "personas"] => {
            router::only_get(req)?;
            Ok(body::ok_json(&personas::all(&app.config.data_dir)))
        }
        ["channel", "personas", id] => {
            router::only_get(req)?;
            Ok(body::ok_json(&persona(app, id)?))
        }
        ["channel", "personas", id, "welcome"] => {
            router::only_get(req)?;
            let p = persona(app, id)?;
            let welcome = json!({"persona_id": p.id, "welcome_message": p.welcome_message});
            Ok(body::ok_json(&welcome))
        }
        ["channel", "start"] => start(app, req, false).await,
        ["channel", "start-with-persona"] => start(app, req, true).await,
        ["channel", "message"] => message(app, req).await,
        ["channel", "preview", sid] => preview(app, req, sid.to_string()).await,
        ["channel", "create"] => create_from_session(app, req).await,
        ["channel", "sessions"] => list_sessions(app, req).await,
        ["channel", "session", sid] => session_by_verb(app, req, sid.to_string()).await,
        ["channel", "status"] => status(app, req).await,
        _ => Err(router::not_found()),
    }
}

async fn plan_by_verb(app: &Arc<App>, req: &mut Req, id: String) -> ApiResult {
    by_verb!(req, {
        Get => get_plan(app, id).await,
        Put => modify_plan(app, req, id).await,
        Delete => delete_plan(app, id).await,
    })
}

async fn session_by_verb(app: &Arc<App>, req: &mut Req, sid: String) -> ApiResult {
    by_verb!(req, {
        Get => Ok(body::ok_json(&load_session(app, sid).await?)),
        Delete => {
            let gone = write_tx(app, move |tx| Ok(store::delete_session(tx, &sid, now_ms())?)).await?;
            if !gone {
                return Err(ApiError::not_found("session not found or expired"));
            }
            Ok(body::no_content())
        },
    })
}

async fn list_sessions(app: &Arc<App>, req: &Req) -> ApiResult {
    router::only_get(req)?;
    let all = write_tx(app, |tx| Ok(store::sessions(tx, now_ms())?)).await?;
    let rows: Vec<Value> = all
        .iter()
        .map(|s| {
            json!({"session_id": s.session_id, "stage": s.stage,
                "message_count": s.messages.len(), "created_at": s.created_at,
                "updated_at": s.updated_at})
        })
        .collect();
    Ok(body::ok_json(&rows))
}

fn persona(app: &App, id: &str) -> Result<personas::Persona, ApiError> {
    personas::find(&app.config.data_dir, id)
        .ok_or_else(|| ApiError::not_found(format_args!("persona {id} not found")))
}

#[derive(Deserialize)]
struct AnalyzeBody {
    request: String,
    /// `false`: no `suggested_persona` in the answer.
    #[serde(default)]
    suggest_persona: Option<bool>,
}

fn required_text(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid(field, "must not be empty"));
    }
    if value.len() > 4000 {
        return Err(ApiError::invalid(field, "at most 4000 characters"));
    }
    Ok(())
}

async fn analyze(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let b: AnalyzeBody = req.params_requiring(&["request"]).await?;
    required_text("request", &b.request)?;
    let intent = super::tx::read(app, move |conn| {
        let vocab = intent::vocabulary(conn)?;
        Ok(intent::analyze(&b.request, &vocab))
    })
    .await?;
    let mut v = serde_json::to_value(&intent).map_err(ApiError::internal)?;
    if b.suggest_persona == Some(false) {
        if let Value::Object(map) = &mut v {
            map.insert("suggested_persona".into(), Value::Null);
        }
    }
    Ok(body::ok_json(&v))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SourcesBody {
    genres: Vec<String>,
    shows: Vec<String>,
    content_types: Vec<String>,
    era: Option<String>,
    year_min: Option<i32>,
    year_max: Option<i32>,
}

async fn rank(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let b: SourcesBody = req.json_or_default().await?;
    let mut filter = sources::Filter {
        genres: b.genres,
        shows: b.shows,
        content_types: b.content_types,
        year_min: b.year_min,
        year_max: b.year_max,
        ..sources::Filter::default()
    };
    if let Some(era) = &b.era {
        let (lo, hi) = intent::years(era.trim().to_lowercase().as_str())
            .ok_or_else(|| ApiError::invalid("era", "a decade (\"90s\", \"1990s\") or a year"))?;
        filter.year_min = filter.year_min.or(Some(lo));
        filter.year_max = filter.year_max.or(Some(hi));
    }
    for t in &filter.content_types {
        if !["episode", "movie", "other", "music_video"].contains(&t.as_str()) {
            return Err(ApiError::invalid(
                "content_types",
                "episode, movie, music_video or other",
            ));
        }
    }
    let ranked = super::tx::read(app, move |conn| Ok(sources::rank(conn, &filter)?)).await?;
    Ok(body::ok_json(&ranked))
}

#[derive(Deserialize)]
struct PlanBody {
    request: String,
    #[serde(flatten)]
    options: plan::Options,
}

async fn create_plan(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let b: PlanBody = req.params_requiring(&["request"]).await?;
    required_text("request", &b.request)?;
    let offline = write_tx(app, move |tx| {
        let now = now_ms();
        store::purge(tx, now)?;
        let plan = plan::build(tx, &b.request, &b.options, crate::ai::fresh_id("plan-"))?;
        store::save_plan(tx, &plan, now)?;
        Ok(plan)
    })
    .await?;
    let ai = app.settings().ai.clone();
    if ai.provider == crate::kinds::AiProvider::None {
        return Ok(body::ok_json(&offline));
    }
    let names = super::tx::read(app, |conn| Ok(intent::vocabulary(conn)?.collections)).await?;
    let plan_json = serde_json::to_string(&offline).map_err(ApiError::internal)?;
    let refined = crate::ai::provider::refine(app, &ai, &offline.request, &plan_json, &names).await;
    let merged = write_tx(app, move |tx| {
        let mut plan = offline;
        match refined {
            Ok(r) => plan::refine(tx, &mut plan, &r.channel_name, &r.collections, r.notes)?,
            Err(err) => plan.warnings.push(format!(
                "the LLM did not refine this plan ({}): the offline plan is returned",
                err.detail
            )),
        }
        store::save_plan(tx, &plan, now_ms())?;
        Ok(plan)
    })
    .await?;
    Ok(body::ok_json(&merged))
}

/// The plan; the purge of expired ones commits even when it is not found.
async fn load(app: &Arc<App>, id: String) -> Result<Plan, ApiError> {
    let what = format!("plan {id} not found or expired");
    write_tx(app, move |tx| Ok(store::plan(tx, &id, now_ms())?))
        .await?
        .ok_or_else(|| ApiError::not_found(what))
}

async fn get_plan(app: &Arc<App>, id: String) -> ApiResult {
    Ok(body::ok_json(&load(app, id).await?))
}

#[derive(Deserialize)]
struct ModifyBody {
    plan_id: String,
    modifications: Modifications,
}

async fn modify_plan(app: &Arc<App>, req: &mut Req, id: String) -> ApiResult {
    let b: ModifyBody = req.params_requiring(&["plan_id", "modifications"]).await?;
    if b.plan_id != id {
        return Err(ApiError::invalid("plan_id", "does not match the path"));
    }
    if let Some(name) = &b.modifications.channel_name {
        required_text("modifications.channel_name", name)?;
    }
    if let Some(number) = &b.modifications.channel_number {
        if !crate::kinds::is_channel_number(number) {
            return Err(ApiError::invalid(
                "modifications.channel_number",
                "not a channel number",
            ));
        }
    }
    let plan = write_tx(app, move |tx| {
        let now = now_ms();
        let mut plan = store::plan(tx, &id, now)?
            .ok_or_else(|| ApiError::not_found(format_args!("plan {id} not found or expired")))?;
        if plan.status == Status::Executed {
            return Err(ApiError::conflict("the plan was executed already"));
        }
        plan::modify(tx, &mut plan, &b.modifications)?;
        store::save_plan(tx, &plan, now)?;
        Ok(plan)
    })
    .await?;
    Ok(body::ok_json(&plan))
}

async fn delete_plan(app: &Arc<App>, id: String) -> ApiResult {
    let gone = write_tx(app, move |tx| Ok(store::delete_plan(tx, &id, now_ms())?)).await?;
    if !gone {
        return Err(ApiError::not_found("plan not found or expired"));
    }
    Ok(body::no_content())
}

#[derive(Serialize)]
struct Outcome<'a> {
    success: bool,
    plan_id: &'a str,
    status: &'static str,
    message: String,
    #[serde(flatten)]
    created: Option<execute::Created>,
}

async fn approve(app: &Arc<App>, req: &Req, id: String) -> ApiResult {
    router::only(req, Verb::Post)?;
    let plan = write_tx(app, move |tx| {
        let now = now_ms();
        let mut plan = store::plan(tx, &id, now)?
            .ok_or_else(|| ApiError::not_found(format_args!("plan {id} not found or expired")))?;
        match plan.status {
            Status::Ready | Status::Approved => plan.status = Status::Approved,
            Status::Draft => {
                // The first warning that says why (no clips never does).
                let why = plan.warnings.iter().find(|w| *w != clips::NO_CLIPS);
                let why = why.cloned().unwrap_or_default();
                return Err(ApiError::conflict(format_args!(
                    "the plan is not ready: {why}"
                )));
            }
            Status::Executed => return Err(ApiError::conflict("the plan was executed already")),
        }
        store::save_plan(tx, &plan, now)?;
        Ok(plan)
    })
    .await?;
    Ok(body::ok_json(&Outcome {
        success: true,
        plan_id: &plan.plan_id,
        status: plan.status.as_str(),
        message: "approved: execute creates the channel".into(),
        created: None,
    }))
}

async fn execute_plan(app: &Arc<App>, req: &Req, id: String) -> ApiResult {
    router::only(req, Verb::Post)?;
    let clock = BuildClock::now(&app.settings());
    let seed = super::playouts::random_seed()?;
    let (plan, created, changes) = write_tx(app, move |tx| {
        let now = clock.now_ms;
        let mut plan = store::plan(tx, &id, now)?
            .ok_or_else(|| ApiError::not_found(format_args!("plan {id} not found or expired")))?;
        if plan.status != Status::Approved {
            return Err(ApiError::conflict(format_args!(
                "the plan is {}: approve it first",
                plan.status.as_str()
            )));
        }
        let (created, changes) =
            execute::execute(tx, &plan, &clock, seed).map_err(execute_error)?;
        plan.status = Status::Executed;
        store::save_plan(tx, &plan, now)?;
        Ok((plan, created, changes))
    })
    .await?;
    app.apply(changes).await;
    tracing::info!(plan = %plan.plan_id, channel = %created.channel_number, "AI plan executed");
    Ok(body::ok_json(&Outcome {
        success: true,
        plan_id: &plan.plan_id,
        status: plan.status.as_str(),
        message: format!("channel {} created", created.channel_number),
        created: Some(created),
    }))
}

pub fn execute_error(err: execute::ExecuteError) -> ApiError {
    match err {
        execute::ExecuteError::NotReady(why) => ApiError::conflict(why),
        execute::ExecuteError::Refused(why) => ApiError::invalid("plan", why),
        execute::ExecuteError::Db(err) => ApiError::from(err),
    }
}

fn settings_view(app: &App) -> Value {
    let s = app.settings();
    let mut v = serde_json::to_value(&s.ai).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert(
            "api_key_set".into(),
            Value::Bool(api_key_path(app).exists()),
        );
    }
    v
}

pub fn api_key_path(app: &App) -> std::path::PathBuf {
    app.config.data_dir.join("secrets").join("ai-api-key")
}

/// The API key, if one is stored.
pub fn api_key(app: &App) -> Option<String> {
    let key = std::fs::read_to_string(api_key_path(app)).ok()?;
    Some(key.trim().to_string()).filter(|k| !k.is_empty())
}

async fn put_settings(app: &Arc<App>, req: &mut Req) -> ApiResult {
    let Value::Object(mut patch) = req.json::<Value>().await? else {
        return Err(ApiError::invalid("body", "expected a JSON object"));
    };
    let key = patch.remove("api_key");
    let current = serde_json::to_value(&app.settings().ai).unwrap_or(Value::Null);
    let Value::Object(mut fields) = current else {
        return Err(ApiError::internal("the ai section is not an object"));
    };
    for (k, v) in patch {
        if !fields.contains_key(&k) {
            return Err(ApiError::invalid(&k, "unknown field"));
        }
        fields.insert(k, v);
    }
    let next: crate::settings::Ai = crate::http::request::from_value(Value::Object(fields))?;
    match key {
        None => {}
        Some(Value::Null) => {
            crate::library::credentials::remove(&api_key_path(app)).map_err(ApiError::internal)?;
        }
        Some(Value::String(k)) if k.trim().is_empty() => {
            crate::library::credentials::remove(&api_key_path(app)).map_err(ApiError::internal)?;
        }
        Some(Value::String(k)) => {
            if k.len() > 4096 || k.chars().any(char::is_control) {
                return Err(ApiError::invalid(
                    "api_key",
                    "at most 4096 printable characters",
                ));
            }
            let path = api_key_path(app);
            tokio::task::spawn_blocking(move || {
                crate::library::credentials::store(&path, k.as_bytes())
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        }
        Some(_) => return Err(ApiError::invalid("api_key", "expected a string or null")),
    }
    store_ai(app, next).await?;
    tracing::info!("ai settings updated");
    Ok(body::ok_json(&settings_view(app)))
}

/// Where a local Ollama listens: `OLLAMA_HOST` (Ollama's own variable, `host:port` or a
/// URL) when set, else its default port on loopback.
fn local_ollama_url() -> String {
    match std::env::var("OLLAMA_HOST") {
        Ok(host) if host.starts_with("http://") => host,
        Ok(host) if !host.trim().is_empty() => format!("http://{}", host.trim()),
        _ => "http://127.0.0.1:11434".into(),
    }
}

/// `/status` and one-click/local ask for the model list this long at most: a local
/// Ollama that is up answers in milliseconds; the full `timeout_seconds` is for
/// test-connection, which is the test.
const STATUS_LIMIT_S: u32 = 5;

/// Stores `ai` as the settings, with the same checks as PUT.
async fn store_ai(app: &Arc<App>, ai: crate::settings::Ai) -> Result<(), ApiError> {
    app.update_settings(|s| {
        s.ai = ai;
        s.validate().map_err(|err| {
            let field = err.field.strip_prefix("ai.").unwrap_or(err.field);
            ApiError::invalid(field, &err.problem)
        })
    })
    .await?;
    Ok(())
}

/// `POST /api/ai/settings/one-click/local`: Ollama on this machine, its model kept or the
/// first it has. Nothing is installed or downloaded: an Ollama that does not answer, or
/// has no model, is a 503 saying what to do, and the settings stay as they were.
async fn one_click_local(app: &Arc<App>) -> ApiResult {
    let mut ai = app.settings().ai.clone();
    ai.provider = crate::kinds::AiProvider::Ollama;
    ai.base_url = local_ollama_url();
    let models = crate::ai::provider::models(app, &ai, STATUS_LIMIT_S)
        .await
        .map_err(|err| {
            ApiError::unavailable(
                format_args!(
                    "Ollama does not answer at {} ({}): install it from https://ollama.com \
                     and start it (`ollama serve`); nothing is downloaded by this server",
                    ai.base_url, err.detail
                ),
                60,
            )
        })?;
    if ai.model.trim().is_empty() {
        let Some(first) = models.first() else {
            return Err(ApiError::unavailable(
                format_args!(
                    "Ollama at {} has no model: pull one with `ollama pull <model>`",
                    ai.base_url
                ),
                60,
            ));
        };
        ai.model = first.clone();
    }
    let message = format!("local Ollama at {} with model {}", ai.base_url, ai.model);
    store_ai(app, ai).await?;
    tracing::info!("{message}");
    Ok(body::ok_json(&json!({
        "success": true,
        "message": message,
        "models": models,
        "settings": settings_view(app),
    })))
}

/// `POST /api/ai/settings/one-click/troubleshooting`: the agent on, in `dry_run` (it
/// proposes, never executes).
async fn one_click_troubleshooting(app: &Arc<App>) -> ApiResult {
    let mut ai = app.settings().ai.clone();
    ai.agent.mode = crate::kinds::AgentMode::DryRun;
    store_ai(app, ai).await?;
    tracing::info!("troubleshooting agent set to dry_run");
    Ok(body::ok_json(&json!({
        "success": true,
        "message": "the troubleshooting agent is on in dry_run: it proposes fixes, never runs them",
        "settings": settings_view(app),
    })))
}

/// `GET /api/ai/settings/test-connection`: the provider's model list within
/// `timeout_seconds`. Always 200: a provider that is down is the test's answer
/// (`success: false` and why), not a failure of ours.
async fn test_connection(app: &Arc<App>) -> ApiResult {
    let ai = app.settings().ai.clone();
    let mut out = json!({
        "success": false,
        "provider": ai.provider,
        "base_url": ai.base_url,
        "models": [],
        "latency_ms": null,
    });
    if ai.provider == crate::kinds::AiProvider::None {
        out["message"] = json!("no provider configured");
        return Ok(body::ok_json(&out));
    }
    let started = std::time::Instant::now();
    let models = crate::ai::provider::models(app, &ai, ai.timeout_seconds).await;
    out["latency_ms"] = json!(started.elapsed().as_millis() as u64);
    match models {
        Ok(models) => {
            out["success"] = json!(true);
            out["message"] = json!(format!(
                "{} answers with {} model(s)",
                ai.provider,
                models.len()
            ));
            out["models"] = json!(models);
        }
        Err(err) => out["message"] = json!(err.detail),
    }
    Ok(body::ok_json(&out))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StartBody {
    session_id: Option<String>,
    persona_id: Option<String>,
}

#[derive(Deserialize)]
struct SessionRef {
    session_id: String,
}

fn check_session_id(id: &str) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(ApiError::invalid(
            "session_id",
            "1-128 letters, digits, - _ .",
        ));
    }
    Ok(())
}

async fn start(app: &Arc<App>, req: &mut Req, with_persona: bool) -> ApiResult {
    router::only(req, Verb::Post)?;
    let b: StartBody = if with_persona {
        req.params_requiring(&["persona_id"]).await?
    } else {
        req.json_or_default().await?
    };
    let persona_id = b.persona_id.unwrap_or_else(|| "tv_executive".into());
    let session_id = b.session_id;
    let persona = personas::find(&app.config.data_dir, &persona_id).ok_or_else(|| {
        ApiError::invalid("persona_id", format_args!("no persona {persona_id:?}"))
    })?;
    let sid = session_id.unwrap_or_else(|| crate::ai::fresh_id("s-"));
    check_session_id(&sid)?;
    let now = now_ms();
    let session = store::Session {
        session_id: sid,
        persona_id: Some(persona.id.clone()),
        stage: "gathering".into(),
        messages: vec![store::Message {
            role: "assistant".into(),
            content: persona.welcome_message.clone(),
        }],
        specification: None,
        ready_to_build: false,
        created_at: now,
        updated_at: now,
    };
    let saved = session.clone();
    write_tx(app, move |tx| {
        store::purge(tx, now)?;
        Ok(store::save_session(tx, &saved, now)?)
    })
    .await?;
    Ok(body::ok_json(&json!({
        "session_id": session.session_id,
        "welcome_message": persona.welcome_message,
        "stage": session.stage,
        "persona": {"id": persona.id, "name": persona.name, "title": persona.title},
    })))
}

async fn load_session(app: &Arc<App>, sid: String) -> Result<store::Session, ApiError> {
    let what = format!("session {sid} not found or expired");
    write_tx(app, move |tx| Ok(store::session(tx, &sid, now_ms())?))
        .await?
        .ok_or_else(|| ApiError::not_found(what))
}

async fn preview(app: &Arc<App>, req: &Req, sid: String) -> ApiResult {
    router::only_get(req)?;
    let session = load_session(app, sid).await?;
    let spec = session.specification.clone();
    let preview = match spec {
        Some(spec) => Some(
            super::tx::read(app, move |conn| {
                Ok(plan::build(
                    conn,
                    &spec,
                    &plan::Options::default(),
                    "preview".into(),
                )?)
            })
            .await?,
        ),
        None => None,
    };
    Ok(body::ok_json(&json!({
        "session_id": session.session_id,
        "ready_to_build": session.ready_to_build,
        "specification": session.specification,
        "preview": preview,
    })))
}

async fn create_from_session(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let b: SessionRef = req.params_requiring(&["session_id"]).await?;
    let session = load_session(app, b.session_id).await?;
    let Some(spec) = session.specification.clone() else {
        return Err(ApiError::conflict(
            "the session has no channel specification yet: talk it through with /message first",
        ));
    };
    let clock = BuildClock::now(&app.settings());
    let seed = super::playouts::random_seed()?;
    let options = plan::Options {
        persona_id: session.persona_id.clone(),
        ..plan::Options::default()
    };
    let (created, changes) = write_tx(app, move |tx| {
        let mut plan = plan::build(tx, &spec, &options, crate::ai::fresh_id("plan-"))?;
        if !plan.is_ready {
            let why = plan.warnings.join("; ");
            return Err(ApiError::conflict(format_args!(
                "the plan is not ready: {why}"
            )));
        }
        let done = execute::execute(tx, &plan, &clock, seed).map_err(execute_error)?;
        plan.status = Status::Executed;
        store::save_plan(tx, &plan, clock.now_ms)?;
        Ok(done)
    })
    .await?;
    app.apply(changes).await;
    Ok(body::ok_json(&json!({
        "success": true,
        "channel_id": created.channel_id,
        "channel_number": created.channel_number,
        "channel_name": created.channel_name,
        "schedule_id": created.schedule_id,
        "playout_id": created.playout_id,
    })))
}

#[derive(Deserialize)]
struct MessageBody {
    session_id: String,
    message: String,
}

async fn message(app: &Arc<App>, req: &mut Req) -> ApiResult {
    router::only(req, Verb::Post)?;
    let b: MessageBody = req.params_requiring(&["session_id", "message"]).await?;
    required_text("message", &b.message)?;
    let settings = app.settings();
    if settings.ai.provider == crate::kinds::AiProvider::None {
        return Err(crate::ai::provider::not_configured());
    }
    let mut session = load_session(app, b.session_id).await?;
    let persona = session
        .persona_id
        .as_deref()
        .and_then(|id| personas::find(&app.config.data_dir, id));
    let prompt = persona.map(|p| p.system_prompt).unwrap_or_default();
    session.messages.push(store::Message {
        role: "user".into(),
        content: b.message,
    });
    let reply =
        crate::ai::provider::converse(app, &settings.ai, &prompt, &session.messages).await?;
    session.messages.push(store::Message {
        role: "assistant".into(),
        content: reply.response.clone(),
    });
    session.stage = reply.stage.clone();
    session.ready_to_build = reply.ready_to_build;
    if reply.specification.is_some() {
        session.specification = reply.specification.clone();
    }
    let saved = session.clone();
    write_tx(app, move |tx| {
        Ok(store::save_session(tx, &saved, now_ms())?)
    })
    .await?;
    Ok(body::ok_json(&json!({
        "session_id": session.session_id,
        "response": reply.response,
        "stage": session.stage,
        "ready_to_build": session.ready_to_build,
        "specification": session.specification,
    })))
}

async fn status(app: &Arc<App>, req: &Req) -> ApiResult {
    router::only_get(req)?;
    let settings = app.settings();
    let models = crate::ai::provider::models(app, &settings.ai, STATUS_LIMIT_S).await;
    let (models, available) = match models {
        Ok(models) => (models, true),
        Err(_) => (Vec::new(), false),
    };
    let (active, sources) = write_tx(app, |tx| {
        let now = now_ms();
        let active = store::sessions(tx, now)?.len();
        let n: i64 = tx
            .query_row("SELECT count(*) FROM libraries", [], |r| r.get(0))
            .map_err(crate::db::DbError::from)?;
        Ok((active, n))
    })
    .await?;
    Ok(body::ok_json(&json!({
        "provider": settings.ai.provider,
        "ollama_available": available,
        "models": models,
        "active_sessions": active,
        "media_sources": sources,
    })))
}
