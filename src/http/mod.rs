//! The HTTP layer: a hyper 1 server (`server`), the hand-rolled router (`router`), the
//! request/response helpers handlers use (`request`, `body`, `query`), the one place errors
//! become responses (`error`), API-token checks (`auth`), and the audit log of writes and
//! 401s (`audit`). It knows no SQL and no FFmpeg.

pub mod audit;
pub mod auth;
pub mod body;
pub mod client;
pub mod curl;
pub mod error;
pub mod head_timeout;
pub mod multipart;
pub mod query;
pub mod request;
pub mod router;
pub mod server;
pub mod url_guard;

pub use body::Body;
pub use error::ApiError;
pub use request::Req;

/// What every handler returns.
pub type Response = hyper::Response<Body>;
pub type ApiResult<T = Response> = Result<T, ApiError>;
