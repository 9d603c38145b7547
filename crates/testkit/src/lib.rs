//! What the workshop's tests need to observe a service from outside, for real.
//!
//! # Layout
//!
//! * `otlp`: [`OtlpReceiver`], an in-process OTLP/HTTP collector that decodes
//!   the protobuf a service exports and lets a test wait, with a deadline, for
//!   the spans it expects. It can also play a slow or failing collector.
//! * `logs`: [`LogCapture`], an in-memory log sink whose lines parse as JSON.
//! * `service`: [`TestService`], a service served on 127.0.0.1:0 by the same
//!   `telemetry::serve_with_shutdown` its `main` uses, on its own runtime and
//!   under its own subscriber, so several services share one test process
//!   without sharing any telemetry.
//! * `browser`: [`Browser`], headless Chromium over WebDriver, for clicking
//!   through a page and saving screenshots to `artefacts/`.
//! * `postgres`: [`PostgresCluster`], a throwaway PostgreSQL cluster of the
//!   test's own (Debian's binaries, a temporary directory, a free port) that
//!   the test may stop and start.
//! * `programs`: where the programs above are found (`PATH`, as
//!   `.ci/install-deps` installs them), and the one-line failure that names
//!   a missing one and `make setup`.
//! * `prometheus`: [`PrometheusServer`], Debian's real Prometheus scraping the
//!   services, queried through its HTTP API.
//! * `dashboard`: [`DashboardQueries`], a Grafana dashboard's PromQL run
//!   against such a Prometheus (every stage's dashboard test).
//! * `traffic`: [`RequestLoop`], steady bounded requests in the background
//!   while Prometheus scrapes.
//! * `properties`: [`proptest_config`] (the `PROPTEST_CASES` knob) and the
//!   hostile inputs every stage's property tests draw from.
//! * `usage_forwarder`: [`forward_usage_lines`], Alloy's usage branch in
//!   miniature (stage 6): usage lines out of a service's stdout, pushed to
//!   the usage receiver.

mod background;
mod browser;
mod dashboard;
mod logs;
mod otlp;
mod postgres;
pub mod programs;
mod prometheus;
mod properties;
mod service;
mod traffic;
mod usage_forwarder;

pub use browser::{Browser, artefacts_dir};
pub use dashboard::DashboardQueries;
pub use logs::LogCapture;
pub use otlp::{
    AttributeValue, CollectorBehaviour, Kind, OtlpReceiver, ReceivedSpan, Status, WaitError,
};
pub use postgres::{PostgresCluster, PostgresError, PostgresExporter};
pub use prometheus::{PrometheusServer, ScrapeTarget, has_number, value_of};
pub use properties::{
    Answer, HostileInput, check_every_input, hostile_query, hostile_text, no_server_error,
    property_runner, proptest_config,
};
pub use service::{TestService, telemetry_config};
pub use traffic::RequestLoop;
pub use usage_forwarder::{ForwardError, USAGE_MARKER, forward_usage_lines, usage_lines};

/// A port that was free a moment ago, for programs that cannot be told to
/// pick their own (Prometheus, PostgreSQL, a service binary).
///
/// Between this check and the program's own bind, someone else may take the
/// port. Port 0 would hand out one of the kernel's ephemeral ports, the range
/// every outgoing connection of every test also draws its local port from,
/// so under a parallel test run that race is lost now and then. The ports
/// here come from below that range instead, chosen at random, where only
/// another caller of this function can collide (and a program that fails to
/// bind can be given another).
pub fn free_port() -> u16 {
    use rand::Rng;
    let (low, high) = (20_000u16, ephemeral_ports_start().clamp(20_001, 32_768));
    let mut rng = rand::rng();
    for _ in 0..100 {
        let port = rng.random_range(low..high);
        let bindable = |host: &str| std::net::TcpListener::bind((host, port)).is_ok();
        if bindable("127.0.0.1") && bindable("0.0.0.0") {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("bind 127.0.0.1:0")
}

/// Where the kernel's ephemeral ports start (Linux's default is 32768).
fn ephemeral_ports_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// A line of Prometheus text exposition, parsed enough for exact assertions.
/// Returns the value of the sample `name{labels}` where every `(label, value)`
/// pair in `labels` matches, summed over the series that match.
pub fn metric_value(exposition: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let matches = labels.iter().all(|(label, expected)| {
                label_text
                    .split(',')
                    .any(|pair| pair == format!("{label}=\"{expected}\""))
            });
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}
