//! Serving a router, and stopping without losing anything.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use crate::Telemetry;
use crate::metrics::metrics_router;
use crate::server::not_found;

/// How long in-flight requests get to finish after a shutdown signal. A
/// request still running then is abandoned so that a hung dependency cannot
/// keep the process alive forever; Docker's own stop timeout is 10 s.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

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
pub async fn serve_with_shutdown(
    listener: TcpListener,
    router: Router,
    telemetry: Telemetry,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router
        .fallback(not_found)
        .layer(telemetry.http_layer())
        .merge(metrics_router(telemetry.registry().clone()));

    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutdown signal received, draining in-flight requests");
        let _ = signalled_tx.send(());
    });
    let drain_deadline = async {
        // Once signalled, the drain has DRAIN_TIMEOUT; before that, no limit.
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    let result = tokio::select! {
        result = server => result,
        () = drain_deadline => {
            tracing::warn!(timeout = ?DRAIN_TIMEOUT, "requests still running at the drain deadline, abandoning them");
            Ok(())
        }
    };
    tracing::info!("stopped serving, flushing telemetry");
    // Flushing blocks on the exporter thread; keep it off the async workers.
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    result
}
