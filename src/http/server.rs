//! The listener: an accept loop bounded by a connection semaphore, one hyper HTTP/1.1
//! connection task per socket, panics in handlers caught and answered with 500, and a
//! graceful shutdown (stop accepting, let requests finish, bounded grace, abort the rest).

use std::cell::Cell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch, Semaphore};
use tokio::task::JoinSet;

use super::error::ApiError;
use super::head_timeout::ConnTimer;
use super::request::Req;
use super::{router, Response};
use crate::app::App;
use crate::hdhr::polled::LastPolled;

/// Concurrent connections. A LAN box serves a handful of TV clients and their keep-alive
/// sockets; 512 leaves room for that plus a burst while keeping a slowloris from exhausting
/// file descriptors (each connection also costs ~10 KiB of buffers).
pub const MAX_CONNECTIONS: usize = 512;
/// A client must deliver a complete request head this fast, or its connection is closed:
/// the slowloris defence. Generous for a phone on weak Wi-Fi, short for an attacker.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// hyper's read buffer, and so the largest request head: 16 KiB covers any real client
/// (browsers send < 8 KiB); a bigger head gets 431 and the connection closes.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// How long in-flight requests may run after shutdown begins before they are aborted.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Longest pause after a failing `accept()` (EMFILE and the like): back off, never exit.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves until `shutdown` turns true, then drains connections within `SHUTDOWN_GRACE`.
pub async fn serve(app: Arc<App>, listener: TcpListener, mut shutdown: watch::Receiver<bool>) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    // One oneshot per connection, dropped together at shutdown. A connection task polls its
    // receiver at every wake-up (every request), which costs an atomic load; a shared watch
    // there would take the watch's waiter lock each time, across all connections.
    let mut closers: Vec<oneshot::Sender<()>> = Vec::new();
    let mut backoff = Duration::from_millis(5);
    loop {
        // The permit is taken before accept(), so at the limit new sockets wait in the
        // kernel's backlog instead of being accepted and dropped.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(5);
                pair
            }
            Err(err) => {
                tracing::warn!(%err, "accept failed; backing off");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        closers.retain(|closer| !closer.is_closed());
        let (closer, mut closed) = oneshot::channel::<()>();
        closers.push(closer);
        connections.spawn(async move {
            let _permit = permit;
            let service = ConnService {
                app,
                peer,
                last_polled: Cell::new(None),
            };
            let conn = http1::Builder::new()
                .timer(ConnTimer::unarmed())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES)
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                biased;
                _ = conn.as_mut() => {}
                // The sender is dropped only at shutdown.
                _ = &mut closed => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                }
            }
        });
        // Reap finished connection tasks so the set stays as small as the live connections.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    drop(closers);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_millis(500), drain)
        .await
        .is_err()
    {
        connections.abort_all();
    }
}

/// One connection's requests. `call` answers the polled HDHomeRun documents itself, from
/// the cache (no future, no allocation: Plex and Jellyfin poll them every few seconds);
/// everything else runs the router in one boxed future.
struct ConnService {
    app: Arc<App>,
    peer: SocketAddr,
    /// The connection's last polled document (`hdhr::polled::LastPolled`); taken out and
    /// put back by `call`, which hyper never runs twice at once.
    last_polled: Cell<Option<LastPolled>>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: hyper::Request<Incoming>) -> Answer {
        let (parts, body) = req.into_parts();
        let req = Req::new(parts, body, self.peer);
        let mut last = self.last_polled.take();
        // A panic here is not answered: the router meets it again and answers 500.
        let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::hdhr::polled::answer(&self.app, &req, &mut last)
        }));
        self.last_polled.set(last);
        if let Ok(Some((resp, doc))) = polled {
            self.app.metrics.record_polled(doc);
            return Answer::Ready(Some(resp));
        }
        Answer::Routed(Box::pin(handle(self.app.clone(), req)))
    }
}

/// The response `ConnService::call` promises.
enum Answer {
    Ready(Option<Response>),
    Routed(Pin<Box<dyn Future<Output = Response> + Send>>),
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            // hyper polls a service future until it is ready, and not after.
            Answer::Ready(resp) => Poll::Ready(Ok(resp.take().unwrap_or_else(|| {
                ApiError::new(
                    hyper::StatusCode::INTERNAL_SERVER_ERROR,
                    "response polled twice",
                )
                .into_response()
            }))),
            Answer::Routed(routed) => routed.as_mut().poll(cx).map(Ok),
        }
    }
}

async fn handle(app: Arc<App>, mut req: Req) -> Response {
    let started = std::time::Instant::now();
    let outcome = CatchPanic(std::pin::pin!(router::route(&app, &mut req))).await;
    let resp = match outcome {
        Ok(Ok(resp)) => resp,
        Ok(Err(err)) => err.into_response(),
        Err(()) => {
            tracing::error!(method = %req.parts.method, path = req.parts.uri.path(), "handler panicked");
            ApiError::new(
                hyper::StatusCode::INTERNAL_SERVER_ERROR,
                "internal server error",
            )
            .into_response()
        }
    };
    app.metrics
        .record_request(&req, resp.status(), started.elapsed());
    app.audit.record(&req, &resp);
    resp
}

/// Resolves to `Err(())` if polling the inner future panics: a panicking handler dies alone
/// and its client gets a 500, while the connection and the server live on.
struct CatchPanic<'a, F>(Pin<&'a mut F>);

impl<F: Future> Future for CatchPanic<'_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(_) => Poll::Ready(Err(())),
        }
    }
}
