//! What a handler receives: the request head, its body (read at most once, bounded), and the
//! peer address. JSON decoding maps serde's failures onto 400 (malformed) and 422 (naming
//! the field), as API.md requires.

use std::borrow::Cow;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, CONTENT_LENGTH};
use hyper::http::request::Parts;
use hyper::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::query;

/// JSON bodies above this are refused with 413 (API.md: 1 MiB JSON).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

pub struct Req {
    pub parts: Parts,
    body: Option<Incoming>,
    pub peer: SocketAddr,
}

impl Req {
    pub fn new(parts: Parts, body: Incoming, peer: SocketAddr) -> Req {
        Req {
            parts,
            body: Some(body),
            peer,
        }
    }

    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    pub fn is_head(&self) -> bool {
        self.parts.method == Method::HEAD
    }

    pub fn header(&self, name: impl hyper::header::AsHeaderName) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn raw_query(&self) -> Option<&str> {
        self.parts.uri.query()
    }

    /// The first value of a query parameter, decoded.
    pub fn query(&self, name: &str) -> Option<Cow<'_, str>> {
        query::get(self.parts.uri.query(), name)
    }

    /// A query parameter parsed as `T`; absent is `Ok(None)`, unparsable is 400.
    pub fn query_parsed<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        match self.query(name) {
            None => Ok(None),
            Some(v) => v.parse::<T>().map(Some).map_err(|_| {
                ApiError::bad_request(format_args!("query parameter {name}: invalid value {v:?}"))
            }),
        }
    }

    /// The whole body, at most `limit` bytes (413 beyond). A second call yields an empty body.
    pub async fn body_bytes(&mut self, limit: usize) -> Result<Bytes, ApiError> {
        let Some(body) = self.body.take() else {
            return Ok(Bytes::new());
        };
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format_args!("body is larger than {limit} bytes"),
            )
        };
        let declared = self
            .parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(err)
                if err
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some() =>
            {
                Err(too_large())
            }
            Err(_) => Err(ApiError::bad_request("the request body could not be read")),
        }
    }

    /// Decodes a JSON body into `T`: 400 when it is not JSON, 422 naming the field when it is
    /// JSON of the wrong shape, 413 above 1 MiB.
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let bytes = self.body_bytes(MAX_JSON_BODY).await?;
        parse_json(&bytes)
    }

    /// Like `json`, but an empty body is `T::default()` (routes whose inputs are optional).
    pub async fn json_or_default<T: DeserializeOwned + Default>(&mut self) -> Result<T, ApiError> {
        let bytes = self.body_bytes(MAX_JSON_BODY).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        parse_json(&bytes)
    }

    /// API.md's "q:" inputs: query parameters, or a JSON object body, merged (the body wins).
    /// Query values that look like numbers or booleans are typed as such, so `?count=3`
    /// fills an integer field; use `de::string_or_number` on string fields that may look numeric.
    pub async fn params<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let map = self.params_map().await?;
        from_value(serde_json::Value::Object(map))
    }

    /// `params` for a create: each of `required` absent or `null` is "field required",
    /// checked before any other field is decoded (a typed patch alone would say "may not be
    /// null" for the `null`, and name another field's problem first).
    pub async fn params_requiring<T: DeserializeOwned>(
        &mut self,
        required: &[&str],
    ) -> Result<T, ApiError> {
        let map = self.params_map().await?;
        if let Some(field) = required
            .iter()
            .find(|field| map.get(**field).is_none_or(serde_json::Value::is_null))
        {
            return Err(ApiError::invalid(field, "field required"));
        }
        from_value(serde_json::Value::Object(map))
    }

    async fn params_map(&mut self) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
        let mut map = serde_json::Map::new();
        if let Some(q) = self.parts.uri.query() {
            for (k, v) in query::pairs(q) {
                map.insert(k.into_owned(), guess_json(&v));
            }
        }
        let bytes = self.body_bytes(MAX_JSON_BODY).await?;
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(serde_json::Value::Object(body)) => map.extend(body),
                Ok(_) => return Err(ApiError::invalid("body", "expected a JSON object")),
                Err(e) => return Err(ApiError::bad_request(format_args!("malformed JSON: {e}"))),
            }
        }
        Ok(map)
    }
}

impl Req {
    /// A header by name, for names not among hyper's constants.
    pub fn header_str(&self, name: &'static str) -> Option<&str> {
        self.header(HeaderName::from_static(name))
    }
}

fn guess_json(v: &str) -> serde_json::Value {
    if let Ok(n) = v.parse::<i64>() {
        return n.into();
    }
    match v {
        "true" => true.into(),
        "false" => false.into(),
        _ => v.into(),
    }
}

/// 400 for bytes that are not JSON; 422 `"<field>: <problem>"` for JSON of the wrong shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format_args!("malformed JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::invalid("body", "expected a JSON object"));
    }
    from_value(value)
}

pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner().to_string();
        // serde says "missing field `name`" at the parent: name the field itself.
        if let Some(field) = inner
            .strip_prefix("missing field `")
            .and_then(|s| s.strip_suffix('`'))
        {
            let full = if path == "." {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
            return ApiError::invalid(&full, "field required");
        }
        let field = if path == "." { "body" } else { path.as_str() };
        ApiError::invalid(field, inner)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Channel {
        number: String,
        name: String,
        enabled: Option<bool>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Channel>(b"{nope").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse_json::<Channel>(br#"{"number":"1"}"#).unwrap_err();
        assert_eq!(
            (e.status, e.detail.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "name: field required")
        );
        let e = parse_json::<Channel>(br#"{"number":"1","name":"x","enabled":"yes"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            e.detail.starts_with("enabled: invalid type"),
            "{}",
            e.detail
        );
        let e = parse_json::<Channel>(b"[1]").unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
