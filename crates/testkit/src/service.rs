//! Running a real service in the test process, as if it were its own process.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use telemetry::{Telemetry, TelemetryConfig};
use tokio::sync::oneshot;

use crate::LogCapture;
use crate::otlp::OtlpReceiver;

/// Telemetry settings for a service under test: spans to `receiver`, batches
/// sent every 50 ms so tests wait little, `info` logs.
pub fn telemetry_config(service_name: &str, receiver: &OtlpReceiver) -> TelemetryConfig {
    let mut config = TelemetryConfig::new(service_name);
    config.otlp_endpoint = Some(receiver.endpoint());
    config.batch.scheduled_delay = Duration::from_millis(50);
    config
}

/// A service served by `telemetry::serve_with_shutdown` on 127.0.0.1, on a
/// fresh port, with its own tokio runtime whose every thread runs under the
/// service's own subscriber. Several services in one test process thus keep
/// their spans, service names and log lines apart, exactly as separate
/// processes would, with no global state.
pub struct TestService {
    address: SocketAddr,
    logs: LogCapture,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestService {
    /// Builds the service's telemetry from `config` (logs captured in memory),
    /// lets `make_app` build its router on the service's runtime, and serves
    /// it. Returns once the router is built and the port bound, so whatever a
    /// test does next happens after startup. Panics if `make_app` fails.
    pub fn spawn<F>(config: TelemetryConfig, make_app: F) -> Self
    where
        F: AsyncFnOnce(&Telemetry) -> anyhow::Result<Router> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking socket");
        let address = listener.local_addr().expect("local address");
        let logs = LogCapture::default();
        let telemetry = telemetry::build(&config, logs.clone()).expect("build telemetry");
        let (stop, stopped) = oneshot::channel::<()>();
        let (built_tx, built) = std::sync::mpsc::channel::<Result<(), String>>();

        let thread = std::thread::Builder::new()
            .name(config.service_name.clone())
            .spawn(move || {
                let dispatch = telemetry.dispatch().clone();
                let _default = tracing::dispatcher::set_default(&dispatch);
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .on_thread_start(move || {
                        // The runtime's threads live exactly as long as the
                        // service, so the default is never meant to be reset.
                        std::mem::forget(tracing::dispatcher::set_default(&dispatch));
                    })
                    .build()
                    .expect("tokio runtime");
                runtime.block_on(async move {
                    let router = match make_app(&telemetry).await {
                        Ok(router) => router,
                        Err(error) => {
                            let _ = built_tx.send(Err(format!("{error:#}")));
                            return;
                        }
                    };
                    let _ = built_tx.send(Ok(()));
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    telemetry::serve_with_shutdown(listener, router, telemetry, async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
                });
            })
            .expect("spawn service thread");
        match built.recv() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("building the service failed: {error}"),
            Err(_) => panic!("the service thread died while building the service"),
        }
        Self {
            address,
            logs,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `base_url` followed by `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.address, path_and_query)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The service's log lines so far.
    pub fn logs(&self) -> &LogCapture {
        &self.logs
    }

    /// Sends the shutdown signal without waiting: the service stops accepting
    /// connections, drains, then flushes its spans.
    pub fn signal_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Signals shutdown and waits until the service has drained its requests
    /// and flushed its spans.
    pub async fn shutdown(mut self) {
        self.signal_shutdown();
        if let Some(thread) = self.thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .expect("join task")
                .expect("service thread panicked");
        }
    }
}

impl Drop for TestService {
    fn drop(&mut self) {
        self.signal_shutdown();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
