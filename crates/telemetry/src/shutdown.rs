//! Serving a router, and stopping without losing anything.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::Telemetry;
use crate::metrics::metrics_router;
use crate::server::not_found;

/// How long in-flight requests get to finish after a shutdown signal. A
/// request still running then is abandoned so that a hung dependency cannot
/// keep the process alive forever; Docker's own stop timeout is 10 s.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// How long a connection may take to send a request's head (the request line
/// and headers). The clock starts whenever the server waits for a request:
/// when the connection is accepted, and again after each response on a
/// kept-alive connection. So the one bound closes both a half-sent request
/// (one slow client per connection could otherwise hold connections open for
/// ever) and a keep-alive connection left idle.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Completes on SIGINT (Ctrl-C) or SIGTERM (`docker stop`, `kill`).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // Installing the handler fails only if signals are unavailable
        // altogether; then wait for the other signal rather than exit.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Serves `router` on `listener` until SIGINT or SIGTERM, then drains and
/// flushes; see [`serve_with_shutdown`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    telemetry: Telemetry,
) -> std::io::Result<()> {
    serve_with_shutdown(listener, router, telemetry, shutdown_signal()).await
}

/// Serves `router` on `listener` with the service's telemetry until `shutdown`
/// completes.
///
/// * Every route is wrapped in [`Telemetry::http_layer`]: a SERVER span and
///   RED metrics per request. Unknown paths get a JSON 404 from a fallback
///   that `serve` installs (so a service sets no fallback of its own), traced
///   and counted under the one `handler="unmatched"` label.
/// * `GET /metrics` serves the registry. It is added after the layer on
///   purpose: scrapes every 15 s would otherwise fill the traces and the
///   request metrics with Prometheus' own traffic.
/// * When `shutdown` completes the listener closes at once (new connections
///   are refused), in-flight requests finish (bounded by a drain timeout),
///   and only then are the spans flushed, so the spans of those last
///   requests are exported too.
/// * A connection must send each request's head within
///   [`HEADER_READ_TIMEOUT`], and is closed when it idles that long between
///   requests.
/// * The `Content-Type` media type reaches handlers in lower case, since
///   media types are case-insensitive and extractors compare them as written.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    telemetry: Telemetry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router
        .fallback(not_found)
        .layer(telemetry.http_layer())
        .merge(metrics_router(telemetry.registry().clone()))
        .map_request(lowercase_media_type);

    // axum::serve sets no timer, and hyper's header-read timeout does nothing
    // without one: a connection that never finishes its request would stay
    // open for ever. Serving with hyper's own builder sets both. HTTP/1 only:
    // browsers, Prometheus, Alloy and the services' own clients all speak it
    // to a plain-HTTP port.
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            stream = accept(&listener) => stream,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = connections.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A connection error (a reset, a timeout) concerns that client
            // only; hyper has already closed it.
            let _ = connection.await;
        });
    }
    // New connections are refused from here on; the ones open finish the
    // request they are serving (idle ones close at once), bounded by the
    // drain timeout.
    drop(listener);
    tracing::info!("shutdown signal received, draining in-flight requests");
    if tokio::time::timeout(DRAIN_TIMEOUT, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still running at the drain deadline, abandoning them");
    }
    tracing::info!("stopped serving, flushing telemetry");
    // Flushing blocks on the exporter thread; keep it off the async workers.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    Ok(())
}

/// The next connection. Errors that concern one connection (reset before it
/// was accepted) are skipped; others (out of file descriptors) are logged and
/// retried after a pause, rather than ending the server or spinning.
async fn accept(listener: &TcpListener) -> TcpStream {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return stream,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) => {}
            Err(error) => {
                tracing::error!(error = %error, "cannot accept connections; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Media types are case-insensitive (`APPLICATION/JSON` is `application/json`),
/// but axum's `Form` and the services' own matching compare them as written.
/// The type and subtype reach the handlers in lower case; parameters
/// (`charset=UTF-8`) are left as sent.
fn lowercase_media_type<B>(mut request: Request<B>) -> Request<B> {
    let lowered = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            let media_type = value.split(';').next().unwrap_or("");
            media_type.bytes().any(|byte| byte.is_ascii_uppercase())
        })
        .and_then(|value| {
            let (media_type, parameters) = value.split_at(value.find(';').unwrap_or(value.len()));
            HeaderValue::from_str(&format!("{}{parameters}", media_type.to_ascii_lowercase())).ok()
        });
    if let Some(lowered) = lowered {
        request.headers_mut().insert(header::CONTENT_TYPE, lowered);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_type_after(value: &str) -> String {
        let request = Request::builder()
            .header(header::CONTENT_TYPE, value)
            .body(())
            .unwrap();
        lowercase_media_type(request).headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn media_types_reach_handlers_in_lower_case_with_their_parameters_as_sent() {
        assert_eq!(content_type_after("APPLICATION/JSON"), "application/json");
        assert_eq!(
            content_type_after("Application/X-WWW-Form-Urlencoded; Charset=UTF-8"),
            "application/x-www-form-urlencoded; Charset=UTF-8"
        );
        assert_eq!(content_type_after("text/plain"), "text/plain");
    }
}
