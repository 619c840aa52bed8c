//! The response body: empty, one shared `Bytes` (cached documents are cloned by refcount,
//! never copied), or a stream (MPEG-TS, XMLTV, SSE) polled straight by hyper.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::StatusCode;
use serde::Serialize;

use super::audit::CreatedId;
use super::Response;

pub type BoxedStream = Pin<Box<dyn hyper::body::Body<Data = Bytes, Error = std::io::Error> + Send>>;

pub enum Body {
    Empty,
    Full(Option<Bytes>),
    Stream(BoxedStream),
}

impl Body {
    pub fn stream<B>(body: B) -> Body
    where
        B: hyper::body::Body<Data = Bytes, Error = std::io::Error> + Send + 'static,
    {
        Body::Stream(Box::pin(body))
    }

    /// Reads a whole (finite) body into memory: for tests and small documents.
    pub async fn collect_bytes(self) -> Result<Bytes, std::io::Error> {
        Ok(self.collect().await?.to_bytes())
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body::Full(Some(b))
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(stream) => stream.as_mut().poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(bytes) => bytes.is_none(),
            Body::Stream(stream) => stream.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::Stream(stream) => stream.size_hint(),
        }
    }
}

pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON response. Serialising our own types cannot fail (no maps with non-string keys).
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut resp = hyper::Response::new(Body::from(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, JSON);
    resp
}

pub fn ok_json<T: Serialize + ?Sized>(value: &T) -> Response {
    json(StatusCode::OK, value)
}

/// A 201 that made no resource of its own (a membership); see `created`.
pub fn created_json<T: Serialize + ?Sized>(value: &T) -> Response {
    json(StatusCode::CREATED, value)
}

/// A 201 for the new resource `id`, which the audit line names (`audit::CreatedId`).
pub fn created<T: Serialize + ?Sized>(id: i64, value: &T) -> Response {
    let mut resp = json(StatusCode::CREATED, value);
    resp.extensions_mut().insert(CreatedId(id));
    resp
}

pub fn no_content() -> Response {
    let mut resp = hyper::Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// `200` with an empty body (UPnP control, lineup.post).
pub fn empty_ok() -> Response {
    hyper::Response::new(Body::Empty)
}

/// A document already rendered into `Bytes` (shared, zero copy).
pub fn bytes(content_type: &'static str, body: Bytes) -> Response {
    let mut resp = hyper::Response::new(Body::from(body));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// Never constructed: lets `Infallible` bodies convert where a stream error type is needed.
pub fn infallible_to_io(never: Infallible) -> std::io::Error {
    match never {}
}

/// The work that fills a `Chunks` body: it runs elsewhere (a DB thread) and answers here
/// when it is done; an error ends the body with that error.
pub type Producer = Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// A body read from a bounded channel of chunks, while the body itself drives the future
/// of the work that sends them (so the work has an owner: dropping the response, as a
/// client that disconnects does, drops its end of the channel and the work stops at its
/// next send). Memory stays the channel's bound, whatever the document's size.
pub struct Chunks {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    producer: Option<Producer>,
}

impl Chunks {
    pub fn new(rx: tokio::sync::mpsc::Receiver<Bytes>, producer: Producer) -> Chunks {
        Chunks {
            rx,
            producer: Some(producer),
        }
    }
}

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        // Polled first so the work is handed over on the first poll, and its failure is
        // seen; its end alone does not end the body (chunks may still be queued).
        if let Some(producer) = this.producer.as_mut() {
            if let Poll::Ready(result) = producer.as_mut().poll(cx) {
                this.producer = None;
                if let Err(err) = result {
                    this.rx.close();
                    return Poll::Ready(Some(Err(std::io::Error::other(err))));
                }
            }
        }
        match this.rx.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            // Every sender is gone: the work finished (or failed, seen above).
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
