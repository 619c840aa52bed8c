//! Errors become HTTP here and only here: every error body is `{"detail": "..."}` with the
//! right status. Layers convert their own error enums into `ApiError` with `From` impls.

use std::fmt::Display;

use hyper::header::{HeaderName, HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use hyper::StatusCode;

use super::body::json;
use super::Response;
use crate::db::DbError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// Extra headers (Allow, WWW-Authenticate, Retry-After, X-HDHomeRun-Error). A `Vec` keeps
    /// `ApiError` small on the happy path; only the rare error that has headers allocates.
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(serde::Serialize)]
struct Detail<'a> {
    detail: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Display) -> ApiError {
        ApiError {
            status,
            detail: detail.to_string(),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    pub fn bad_request(detail: impl Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(what: impl Display) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }

    pub fn conflict(detail: impl Display) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, detail)
    }

    /// 422 in API.md's form: `"<field>: <problem>"`.
    pub fn invalid(field: &str, problem: impl Display) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format_args!("{field}: {problem}"),
        )
    }

    /// 501: a route we have that cannot do its work here; the detail says why.
    pub fn not_implemented(reason: impl Display) -> ApiError {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, reason)
    }

    pub fn unauthorized(detail: impl Display) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
            .with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 405 with `Allow` listing `verbs` (routes call it through `router::by_verb!`).
    pub fn not_allowed(verbs: &[super::router::Verb]) -> ApiError {
        let allow = super::router::allow(verbs);
        let value = HeaderValue::from_str(&allow).unwrap_or(HeaderValue::from_static(""));
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
            .with_header(ALLOW, value)
    }

    pub fn unavailable(detail: impl Display, retry_after_s: u32) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
            .with_header(RETRY_AFTER, HeaderValue::from(retry_after_s))
    }

    /// A fault of ours: the detail stays generic (no paths, no internals); the cause is logged.
    pub fn internal(cause: impl Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }

    pub fn into_response(self) -> Response {
        let mut resp = json(
            self.status,
            &Detail {
                detail: &self.detail,
            },
        );
        for (name, value) in self.headers {
            resp.headers_mut().insert(name, value);
        }
        resp
    }
}

impl From<crate::ops::channels::ChannelError> for ApiError {
    fn from(err: crate::ops::channels::ChannelError) -> Self {
        use crate::ops::channels::ChannelError;
        match err {
            ChannelError::NotFound => ApiError::not_found(&err),
            ChannelError::NumberTaken(_)
            | ChannelError::NotOnDemand { .. }
            | ChannelError::FromYaml { .. }
            | ChannelError::MirroredBy { .. } => ApiError::conflict(&err),
            ChannelError::Invalid { field, problem } => ApiError::invalid(field, problem),
            ChannelError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        if err.is_unique_violation() {
            return ApiError::conflict("already exists");
        }
        if matches!(err, DbError::Closed) {
            return ApiError::unavailable("shutting down", 5);
        }
        ApiError::internal(err)
    }
}

impl From<crate::ops::profiles::ProfileError> for ApiError {
    fn from(err: crate::ops::profiles::ProfileError) -> Self {
        use crate::ops::profiles::ProfileError;
        match err {
            ProfileError::NotFound => ApiError::not_found(&err),
            ProfileError::NameTaken(_) | ProfileError::InUse { .. } => ApiError::conflict(&err),
            ProfileError::Invalid { field, problem } => ApiError::invalid(field, problem),
            ProfileError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::resolutions::ResolutionError> for ApiError {
    fn from(err: crate::ops::resolutions::ResolutionError) -> Self {
        use crate::ops::resolutions::ResolutionError;
        match err {
            ResolutionError::NotFound => ApiError::not_found(&err),
            ResolutionError::NameTaken(_)
            | ResolutionError::BuiltIn
            | ResolutionError::InUse { .. } => ApiError::conflict(&err),
            ResolutionError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::media::MediaError> for ApiError {
    fn from(err: crate::ops::media::MediaError) -> Self {
        use crate::ops::media::MediaError;
        match err {
            MediaError::NotFound => ApiError::not_found(&err),
            MediaError::Invalid { field, problem } => ApiError::invalid(field, problem),
            MediaError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::libraries::LibraryError> for ApiError {
    fn from(err: crate::ops::libraries::LibraryError) -> Self {
        use crate::ops::libraries::LibraryError;
        match err {
            LibraryError::NotFound => ApiError::not_found(&err),
            LibraryError::InUse | LibraryError::Overlaps { .. } | LibraryError::TooMany => {
                ApiError::conflict(&err)
            }
            LibraryError::Invalid { field, problem } => ApiError::invalid(field, problem),
            LibraryError::Db(err) => ApiError::from(err),
        }
    }
}

/// A scan request the scanner refused: 409 for a scan already running, 503 (retry in 10 s)
/// when its queue is full.
impl From<crate::library::scanner::ScanRequestError> for ApiError {
    fn from(err: crate::library::scanner::ScanRequestError) -> Self {
        use crate::library::scanner::ScanRequestError;
        match err {
            ScanRequestError::AlreadyScanning => ApiError::conflict(&err),
            ScanRequestError::QueueFull => ApiError::unavailable(&err, 10),
        }
    }
}

impl Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl From<crate::ops::schedules::ScheduleError> for ApiError {
    fn from(err: crate::ops::schedules::ScheduleError) -> Self {
        use crate::ops::schedules::ScheduleError;
        match err {
            ScheduleError::NotFound => ApiError::not_found(&err),
            ScheduleError::InUse { .. } => ApiError::conflict(&err),
            ScheduleError::Invalid { field, problem } => ApiError::invalid(field, problem),
            ScheduleError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::collections::CollectionError> for ApiError {
    fn from(err: crate::ops::collections::CollectionError) -> Self {
        use crate::ops::collections::CollectionError;
        match err {
            CollectionError::NotFound(_)
            | CollectionError::NotMember
            | CollectionError::NotLinked => ApiError::not_found(&err),
            CollectionError::NameTaken
            | CollectionError::AlreadyMember
            | CollectionError::AlreadyLinked
            | CollectionError::Full
            | CollectionError::InUse { .. } => ApiError::conflict(&err),
            CollectionError::Invalid { field, problem } => ApiError::invalid(field, problem),
            CollectionError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::schedule_items::ScheduleItemError> for ApiError {
    fn from(err: crate::ops::schedule_items::ScheduleItemError) -> Self {
        use crate::ops::schedule_items::ScheduleItemError;
        match err {
            ScheduleItemError::NotFound | ScheduleItemError::ScheduleNotFound => {
                ApiError::not_found(&err)
            }
            ScheduleItemError::AtEdge(_) => ApiError::conflict(&err),
            ScheduleItemError::Invalid { field, problem } => ApiError::invalid(field, problem),
            ScheduleItemError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::blocks::BlockError> for ApiError {
    fn from(err: crate::ops::blocks::BlockError) -> Self {
        use crate::ops::blocks::BlockError;
        match err {
            BlockError::NotFound | BlockError::ItemNotFound => ApiError::not_found(&err),
            BlockError::InUse { .. } | BlockError::Full => ApiError::conflict(&err),
            BlockError::Invalid { field, problem } => ApiError::invalid(field, problem),
            BlockError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::templates::TemplateError> for ApiError {
    fn from(err: crate::ops::templates::TemplateError) -> Self {
        use crate::ops::templates::TemplateError;
        match err {
            TemplateError::NotFound
            | TemplateError::ItemNotFound
            | TemplateError::ChannelNotFound => ApiError::not_found(&err),
            TemplateError::Full => ApiError::conflict(&err),
            TemplateError::Invalid { field, problem } => ApiError::invalid(field, problem),
            TemplateError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::deco::DecoError> for ApiError {
    fn from(err: crate::ops::deco::DecoError) -> Self {
        use crate::ops::deco::DecoError;
        match err {
            DecoError::NotFound | DecoError::ChannelNotFound => ApiError::not_found(&err),
            DecoError::Invalid { field, problem } => ApiError::invalid(&field, problem),
            DecoError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::groups::GroupError> for ApiError {
    fn from(err: crate::ops::groups::GroupError) -> Self {
        use crate::ops::groups::GroupError;
        match err {
            GroupError::NotFound(_) => ApiError::not_found(&err),
            GroupError::NameTaken { .. } | GroupError::InUse { .. } => ApiError::conflict(&err),
            GroupError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::playlists::PlaylistError> for ApiError {
    fn from(err: crate::ops::playlists::PlaylistError) -> Self {
        use crate::ops::playlists::PlaylistError;
        match err {
            PlaylistError::NotFound
            | PlaylistError::EntryNotFound
            | PlaylistError::TargetNotFound(_) => ApiError::not_found(&err),
            PlaylistError::AlreadyIn(_)
            | PlaylistError::Full
            | PlaylistError::AtEnd(_)
            | PlaylistError::InUse { .. } => ApiError::conflict(&err),
            PlaylistError::Invalid { field, problem } => ApiError::invalid(field, problem),
            PlaylistError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::playouts::PlayoutError> for ApiError {
    fn from(err: crate::ops::playouts::PlayoutError) -> Self {
        use crate::ops::playouts::PlayoutError;
        match err {
            PlayoutError::NotFound => ApiError::not_found(&err),
            PlayoutError::Invalid { field, problem } => ApiError::invalid(field, problem),
            PlayoutError::Db(err) => ApiError::from(err),
        }
    }
}

impl From<crate::ops::filler::FillerError> for ApiError {
    fn from(err: crate::ops::filler::FillerError) -> Self {
        use crate::ops::filler::FillerError;
        match err {
            FillerError::NotFound | FillerError::ItemNotFound => ApiError::not_found(&err),
            FillerError::InUse { .. } => ApiError::conflict(&err),
            FillerError::Invalid { field, problem } => ApiError::invalid(field, problem),
            FillerError::Db(err) => ApiError::from(err),
        }
    }
}
