//! `make demo`: a stage run natively and checked signal by signal.

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use indicatif::ProgressBar;
use stages::{NativeCheck, SettingValue, Stage, TRAFFIC_GEN};
use testkit::OtlpReceiver;
use tracing::instrument::WithSubscriber;
use traffic_gen::{Budget, OutagePlan, Summary, TrafficConfig, Workload};

use crate::DemoError;
use crate::checklist::{Check, Checklist};
use crate::correlation::{LogLine, TrafficWindow};
use crate::database::RunDatabase;
use crate::local_checks::{self, ServiceStart};
use crate::processes::ServiceProcess;
use crate::trace::{SpanRecord, representative};
use crate::waterfall;

/// How long a service may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a service gets to drain and flush after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long, after everything stopped, the spans of the traffic may still be
/// arriving. Services flush at exit, so this is rarely waited for.
const SPAN_SETTLE: Duration = Duration::from_secs(5);
/// Services export every 200 ms, so spans arrive while the traffic runs.
const SCHEDULE_DELAY_MS: &str = "200";
/// How long the outage drill keeps the database down: long enough for
/// every request of a few seconds to fail, short enough for a demo.
const OUTAGE: Duration = Duration::from_secs(3);
/// How long forwarding usage lines may keep retrying a failing receiver.
const FORWARD_DEADLINE: Duration = Duration::from_secs(15);

/// Which ports the services listen on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ports {
    /// The stage's own ports (8N00...), or a free one when that is taken.
    Stage,
    /// Free ports only (tests, or a stage already running next to the demo).
    Free,
}

/// An extra variable for one service, `service:KEY=VALUE`; how an attendee
/// (or a test) breaks a signal on purpose to see the checklist catch it.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvOverride {
    pub service: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid override {0:?}: expected service:KEY=VALUE, e.g. dice-roller:RUST_LOG=warn")]
pub struct EnvOverrideError(String);

impl FromStr for EnvOverride {
    type Err = EnvOverrideError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || EnvOverrideError(text.to_owned());
        let (service, assignment) = text.split_once(':').ok_or_else(invalid)?;
        let (key, value) = assignment.split_once('=').ok_or_else(invalid)?;
        if service.is_empty() || key.is_empty() {
            return Err(invalid());
        }
        Ok(Self {
            service: service.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// Everything a demo run needs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub stage: &'static Stage,
    /// Where the services' binaries are (`target/debug`).
    pub binary_dir: PathBuf,
    pub ports: Ports,
    /// How long the traffic runs.
    pub traffic: Duration,
    pub users: usize,
    pub think_time: (Duration, Duration),
    pub overrides: Vec<EnvOverride>,
    /// Tell the user what is happening on stderr, with a progress bar.
    pub narrate: bool,
}

impl DemoOptions {
    /// The defaults of `make demo` for `stage`: its own ports, 12 s of
    /// traffic from 5 users, binaries next to the running executable.
    pub fn new(stage: &'static Stage) -> Self {
        Self {
            stage,
            binary_dir: default_binary_dir(),
            ports: Ports::Stage,
            traffic: Duration::from_secs(12),
            users: 5,
            think_time: (Duration::from_millis(100), Duration::from_millis(500)),
            overrides: Vec::new(),
            narrate: false,
        }
    }
}

/// Where cargo put the running executable's sibling binaries: its own
/// directory, or the parent of `deps/` for a test binary. This follows
/// `CARGO_TARGET_DIR` without reading it.
pub fn default_binary_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.file_name().is_some_and(|name| name == "deps") {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct DemoReport {
    pub checklist: Checklist,
    pub traffic: Option<Summary>,
    pub waterfall: Option<String>,
}

impl DemoReport {
    pub fn passed(&self) -> bool {
        self.checklist.passed()
    }
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(summary) = &self.traffic {
            writeln!(f, "== traffic ==\n{summary}")?;
        }
        if let Some(waterfall) = &self.waterfall {
            writeln!(f, "== a representative trace ==\n{waterfall}")?;
        }
        write!(f, "== checklist ==\n{}", self.checklist)
    }
}

/// Runs the demo: starts the stage's services, sends traffic, checks every
/// signal, and stops every service again, also when `interrupted` completes
/// first (Ctrl-C), and, by `kill_on_drop`, when this future is dropped.
pub async fn run(
    options: &DemoOptions,
    interrupted: impl Future<Output = ()>,
) -> Result<DemoReport, DemoError> {
    let binaries = locate_binaries(options)?;
    let receiver = OtlpReceiver::start();
    // Files the services get copies of (`SettingValue::CopyOfFile`); removed
    // when the run ends.
    let files = tempfile::tempdir().map_err(DemoError::Files)?;
    tokio::pin!(interrupted);
    // Stages 5 and 6: a PostgreSQL of the run's own. Declared before the
    // services, it is dropped (stopped and removed) only after they are.
    if !options.stage.databases().is_empty() {
        narrate(options, "starting a throwaway PostgreSQL cluster ...");
    }
    let database = tokio::select! {
        database = RunDatabase::for_stage(options.stage) => database?,
        () = &mut interrupted => return Err(DemoError::Interrupted),
    };
    let context = RunContext {
        options,
        binaries: &binaries,
        receiver: &receiver,
        files: files.path(),
        database: database.as_ref(),
        secret: run_secret(),
    };
    let mut running = Vec::new();
    let result = tokio::select! {
        result = run_stage(&context, &mut running) => result,
        () = interrupted => Err(DemoError::Interrupted),
    };
    stop_all(&mut running, options).await;
    result
}

/// What every step of a run reads.
struct RunContext<'a> {
    options: &'a DemoOptions,
    binaries: &'a [PathBuf],
    receiver: &'a OtlpReceiver,
    /// Where copies of files go (`SettingValue::CopyOfFile`).
    files: &'a Path,
    /// The run's PostgreSQL, for stages whose services name a database.
    database: Option<&'a RunDatabase>,
    /// `SettingValue::RunSecret`: made for this run, never printed.
    secret: String,
}

/// A random token for the run: 32 hex digits, 128 bits.
fn run_secret() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Each service's binary, or the build command that makes it.
fn locate_binaries(options: &DemoOptions) -> Result<Vec<PathBuf>, DemoError> {
    options
        .stage
        .services
        .iter()
        .map(|service| {
            let path = options.binary_dir.join(service.binary);
            if path.is_file() {
                Ok(path)
            } else {
                Err(DemoError::NotBuilt {
                    binary: service.binary,
                    package: service.package,
                    directory: options.binary_dir.clone(),
                })
            }
        })
        .collect()
}

async fn run_stage(
    context: &RunContext<'_>,
    running: &mut Vec<ServiceProcess>,
) -> Result<DemoReport, DemoError> {
    let options = context.options;
    let stage = options.stage;
    let say = |message: String| narrate(options, &message);
    let http = reqwest::Client::new();
    let mut checklist = Checklist::new(format!(
        "stage {} ({}), run natively",
        stage.number, stage.title
    ));

    let starts = start_services(context, &http, running).await?;
    let started = local_checks::services_answer(&starts);
    let all_up = started.passed;
    checklist.push(started);
    if !all_up {
        return Ok(DemoReport {
            checklist,
            traffic: None,
            waterfall: None,
        });
    }

    say(format!(
        "sending traffic to {} for {} s ...",
        stage.entry,
        options.traffic.as_secs()
    ));
    let entry_port = running
        .iter()
        .find(|service| service.name == stage.entry)
        .map_or(stage.entry_service().port, |service| service.port);
    let (summary, window) = send_traffic(options, context.receiver, entry_port).await?;
    let mut scrapes = scrape_metrics(running, &http).await;

    // What only a run that owns the processes and the database can check,
    // while the services still run.
    let mut native = Vec::new();
    for check in stage.native_checks {
        match *check {
            NativeCheck::UsageRouted {
                emitter,
                receiver,
                database,
                table,
            } => {
                say(format!(
                    "forwarding {emitter}'s usage lines to {receiver}, as Alloy would ..."
                ));
                native
                    .push(route_usage(context, running, emitter, receiver, database, table).await);
            }
            NativeCheck::DatabaseOutage { service, path } => {
                say(format!(
                    "outage drill: stopping PostgreSQL for {} s under traffic to {service} ...",
                    OUTAGE.as_secs()
                ));
                native.push(outage_drill(context, running, service, path).await);
            }
            // Judged below, on everything the run captured.
            NativeCheck::NoSecrets => {}
        }
    }
    if !stage.native_checks.is_empty() {
        // The checks above sent requests of their own (the usage
        // receiver's first): what still runs is scraped again.
        for (name, rescrape) in scrape_metrics(running, &http).await {
            if let (Ok(text), Some((_, scrape))) =
                (rescrape, scrapes.iter_mut().find(|(n, _)| *n == name))
            {
                *scrape = Ok(text);
            }
        }
    }

    say("stopping the services (SIGTERM: drain, then flush spans) ...".into());
    stop_all(running, options).await;
    let logs: Vec<(&str, Vec<LogLine>)> = running
        .iter()
        .map(|service| (service.name, service.log_lines()))
        .collect();
    let received = settled_spans(context.receiver, &summary, stage.entry).await;
    let spans: Vec<SpanRecord> = received.iter().map(SpanRecord::from).collect();

    checklist.push(local_checks::metrics_exposed(stage, &scrapes));
    checklist.push(local_checks::logs_correlated(stage, &logs, &spans, window));
    checklist.push(local_checks::spans_received(stage, &spans));
    checklist.push(local_checks::traces_cross_services(stage, &spans, &summary));
    checklist.push(local_checks::traffic_ran(&summary));
    for check in stage.checks {
        checklist.push(local_checks::stage_check(check, &spans));
    }
    for check in native {
        checklist.push(check);
    }
    if stage
        .native_checks
        .iter()
        .any(|check| matches!(check, NativeCheck::NoSecrets))
    {
        let captured = captured_texts(running, &received, &scrapes);
        let mut secrets = summary.secrets.clone();
        secrets.push(context.secret.clone());
        checklist.push(local_checks::no_secrets(
            &secrets,
            captured
                .iter()
                .map(|(origin, text)| (origin.clone(), text.as_str())),
        ));
    }
    // The trace that shows the stage's lesson, when it has one to show
    // (stage 4: a batch whose rolls overlap; stage 5: a query under a
    // request), else the fullest.
    let waterfall = representative(&spans, |trace| {
        stage
            .checks
            .iter()
            .all(|check| local_checks::shows(check, trace))
    })
    .map(|trace| waterfall::render(&trace));
    Ok(DemoReport {
        checklist,
        traffic: Some(summary),
        waterfall,
    })
}

/// Stage 5's drill: steady requests to `service`'s `path` while the run's
/// PostgreSQL is stopped for [`OUTAGE`] and started again.
async fn outage_drill(
    context: &RunContext<'_>,
    running: &[ServiceProcess],
    service: &'static str,
    path: &str,
) -> Check {
    let drill = async {
        let database = context
            .database
            .ok_or("the stage names no database to stop")?;
        let process = running
            .iter()
            .find(|process| process.name == service)
            .ok_or_else(|| format!("{service} is not running"))?;
        let url = format!("{}{path}", process.base_url())
            .parse()
            .map_err(|error| format!("{path}: {error}"))?;
        // The drill's own requests are not part of the traffic's traces.
        let mut config = telemetry::TelemetryConfig::new(TRAFFIC_GEN);
        config.otlp_endpoint = None;
        let telemetry =
            telemetry::build(&config, std::io::sink).map_err(|error| error.to_string())?;
        let client = telemetry
            .http_client(service, Duration::from_secs(5))
            .map_err(|error| error.to_string())?;
        let plan = OutagePlan::new(url, OUTAGE);
        traffic_gen::outage_drill(&plan, &client, &mut database.switch()).await
    };
    local_checks::outage_survived(&drill.await)
}

/// Stage 6 without Alloy: stops `emitter` (so every line it printed has
/// been read), pushes its usage lines to `receiver` in Loki's JSON form,
/// and counts the rows they became.
async fn route_usage(
    context: &RunContext<'_>,
    running: &mut [ServiceProcess],
    emitter: &str,
    receiver: &str,
    database: &str,
    table: &str,
) -> Check {
    let Some(push_url) = running
        .iter()
        .find(|process| process.name == receiver)
        .map(|process| format!("{}/loki/api/v1/push", process.base_url()))
    else {
        return local_checks::usage_routed(
            emitter,
            &[],
            &Err(format!("{receiver} is not running")),
            &Err("no receiver".into()),
        );
    };
    let mut lines = Vec::new();
    if let Some(process) = running.iter_mut().find(|process| process.name == emitter) {
        process.stop(STOP_GRACE).await;
        lines = process.log_lines();
    }
    let usage = testkit::usage_lines(lines.iter().map(|line| line.text.as_str()));
    let forwarded = testkit::forward_usage_lines(
        usage.iter().copied(),
        &push_url,
        &context.secret,
        FORWARD_DEADLINE,
    )
    .await
    .map_err(|error| error.to_string());
    let stored = match context.database {
        // The receiver answers once the rows are committed: one count is
        // the truth.
        Some(run_database) => run_database.count_rows(database, table).await,
        None => Err("the stage names no database".to_owned()),
    };
    local_checks::usage_routed(emitter, &usage, &forwarded, &stored)
}

/// Everything a secret must never reach, with where each came from: every
/// line the services printed, every string attribute of every span
/// received, every `/metrics` page scraped.
fn captured_texts(
    running: &[ServiceProcess],
    spans: &[testkit::ReceivedSpan],
    scrapes: &[(&str, Result<String, String>)],
) -> Vec<(String, String)> {
    let mut captured = Vec::new();
    for process in running {
        for line in process.log_lines() {
            captured.push((format!("a log line of {}", process.name), line.text));
        }
        for line in process.stderr_tail() {
            captured.push((format!("stderr of {}", process.name), line));
        }
    }
    for span in spans {
        for (key, value) in &span.attributes {
            captured.push((
                format!(
                    "attribute {key} of a {} span of {}",
                    span.name, span.service_name
                ),
                value.to_string(),
            ));
        }
        captured.push((
            format!(
                "the status of a {} span of {}",
                span.name, span.service_name
            ),
            span.status_message.clone(),
        ));
    }
    for (service, scrape) in scrapes {
        if let Ok(text) = scrape {
            captured.push((format!("/metrics of {service}"), text.clone()));
        }
    }
    captured
}

/// Starts the services in the stage's order, each once its peers answer.
async fn start_services(
    context: &RunContext<'_>,
    http: &reqwest::Client,
    running: &mut Vec<ServiceProcess>,
) -> Result<Vec<ServiceStart>, DemoError> {
    let options = context.options;
    let mut starts = Vec::new();
    for (service, binary) in options.stage.services.iter().zip(context.binaries) {
        let port = choose_port(options, service.port);
        let env = service_env(context, service, port, running)?;
        narrate(
            options,
            &format!("starting {} on :{port} ...", service.name),
        );
        let mut process = ServiceProcess::spawn(service.name, binary, port, &env)?;
        let answered = process.wait_until_answering(http, START_TIMEOUT).await;
        let failed = answered.is_err();
        starts.push(ServiceStart {
            name: service.name,
            port,
            pid: process.pid(),
            answered,
            stderr_tail: process.stderr_tail(),
        });
        running.push(process);
        if failed {
            break;
        }
    }
    Ok(starts)
}

/// The variables a service runs with: its port and name, telemetry pointed
/// at the embedded receiver, its peers' URLs, its own settings (files copied
/// into `files`), then the overrides.
fn service_env(
    context: &RunContext<'_>,
    service: &stages::Service,
    port: u16,
    running: &[ServiceProcess],
) -> Result<Vec<(String, String)>, DemoError> {
    let (options, receiver) = (context.options, context.receiver);
    let mut env: Vec<(String, String)> = [
        ("PORT", port.to_string()),
        ("OTEL_SERVICE_NAME", service.name.to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint()),
        ("OTEL_BSP_SCHEDULE_DELAY", SCHEDULE_DELAY_MS.to_owned()),
        // Whatever the caller's shell says, the demo checks every span.
        ("OTEL_TRACES_SAMPLER", "parentbased_always_on".to_owned()),
        // The services' own default (INFO, libraries' plumbing spans off),
        // whatever the caller's shell says.
        ("RUST_LOG", telemetry::DEFAULT_LOG_FILTER.to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    for peer in service.peers {
        if let Some(peer_process) = running.iter().find(|p| p.name == peer.service) {
            env.push((peer.variable.to_owned(), peer_process.base_url()));
        }
    }
    for setting in service.env {
        let value = match setting.value {
            SettingValue::Text(text) => text.to_owned(),
            SettingValue::CopyOfFile(relative) => copy_into(context.files, service.name, relative)?
                .display()
                .to_string(),
            SettingValue::Database(name) => context
                .database
                .ok_or(DemoError::NoDatabase(name))?
                .url(name),
            SettingValue::RunSecret => context.secret.clone(),
        };
        env.push((setting.variable.to_owned(), value));
    }
    for change in options
        .overrides
        .iter()
        .filter(|o| o.service == service.name)
    {
        env.push((change.key.clone(), change.value.clone()));
    }
    Ok(env)
}

/// Copies the repository file `relative` to `files/<service>/<file name>`,
/// a directory of its own so a service watching it sees no other file.
fn copy_into(files: &Path, service: &str, relative: &str) -> Result<PathBuf, DemoError> {
    let source = stages::repository_root().join(relative);
    let directory = files.join(service);
    let copy_error = |error| DemoError::Copy {
        source_path: source.clone(),
        error,
    };
    std::fs::create_dir_all(&directory).map_err(copy_error)?;
    let name = source.file_name().unwrap_or(source.as_os_str());
    let copy = directory.join(name);
    std::fs::copy(&source, &copy).map_err(copy_error)?;
    Ok(copy)
}

fn choose_port(options: &DemoOptions, stage_port: u16) -> u16 {
    if options.ports == Ports::Stage && port_is_free(stage_port) {
        return stage_port;
    }
    // Outside the kernel's ephemeral range, which every outgoing connection
    // also draws from (see `testkit::free_port`).
    let port = testkit::free_port();
    if options.ports == Ports::Stage {
        narrate(
            options,
            &format!("port {stage_port} is taken; using {port}"),
        );
    }
    port
}

/// Whether a service could listen on `port` (services bind 0.0.0.0).
fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("0.0.0.0", port)).is_ok()
}

/// Runs the stage's traffic in this process, as the service `traffic-gen`
/// exporting to the receiver, and flushes its spans.
async fn send_traffic(
    options: &DemoOptions,
    receiver: &OtlpReceiver,
    entry_port: u16,
) -> Result<(Summary, TrafficWindow), DemoError> {
    let telemetry_config = testkit::telemetry_config(TRAFFIC_GEN, receiver);
    let telemetry = telemetry::build(&telemetry_config, std::io::sink)?;
    let stage = options.stage;
    let base_url = format!("http://127.0.0.1:{entry_port}")
        .parse()
        .map_err(|_| DemoError::Url(entry_port))?;
    let mut config = TrafficConfig::new(
        base_url,
        Workload::for_scenario(stage.scenario),
        Budget::duration(options.traffic),
    );
    config.users = options.users;
    config.think_time = options.think_time;
    let client = telemetry.http_client(stage.entry, config.request_timeout)?;
    let progress = if options.narrate {
        ProgressBar::new(0)
    } else {
        ProgressBar::hidden()
    };

    let start = SystemTime::now();
    let summary = traffic_gen::run(&config, &client, &progress)
        .with_subscriber(telemetry.dispatch().clone())
        .await;
    let end = SystemTime::now();
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
    Ok((summary, TrafficWindow { start, end }))
}

async fn scrape_metrics(
    running: &[ServiceProcess],
    http: &reqwest::Client,
) -> Vec<(&'static str, Result<String, String>)> {
    let mut scrapes = Vec::new();
    for service in running {
        let url = format!("{}/metrics", service.base_url());
        let body = async {
            http.get(&url)
                .timeout(Duration::from_secs(5))
                .send()
                .await?
                .error_for_status()?
                .text()
                .await
        };
        scrapes.push((service.name, body.await.map_err(|error| error.to_string())));
    }
    scrapes
}

async fn stop_all(running: &mut [ServiceProcess], options: &DemoOptions) {
    for service in running.iter_mut().rev() {
        if let Some(status) = service.stop(STOP_GRACE).await
            && !status.success()
        {
            narrate(options, &format!("{} exited with {status}", service.name));
        }
    }
}

/// The spans received, once every answered request's trace has reached the
/// entry service (or [`SPAN_SETTLE`] has passed: the checks then say what is
/// missing).
async fn settled_spans(
    receiver: &OtlpReceiver,
    summary: &Summary,
    entry: &str,
) -> Vec<testkit::ReceivedSpan> {
    let expected = (summary.requests - summary.unanswered()) as usize;
    let reached_entry = |spans: &[testkit::ReceivedSpan]| {
        let traffic: std::collections::HashSet<&str> =
            summary.trace_ids.iter().map(String::as_str).collect();
        spans
            .iter()
            .filter(|span| span.service_name == entry && span.kind == testkit::Kind::Server)
            .filter(|span| traffic.contains(span.trace_id.as_str()))
            .count()
            >= expected
    };
    match receiver.wait_for(SPAN_SETTLE, reached_entry).await {
        Ok(spans) => spans,
        Err(error) => error.received,
    }
}

fn narrate(options: &DemoOptions, message: &str) {
    if options.narrate {
        let _ = writeln!(std::io::stderr(), "{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_names_service_variable_and_value() {
        let parsed: EnvOverride = "dice-roller:RUST_LOG=warn,x=y".parse().unwrap();
        assert_eq!(parsed.service, "dice-roller");
        assert_eq!(parsed.key, "RUST_LOG");
        assert_eq!(parsed.value, "warn,x=y");
        for bad in ["RUST_LOG=warn", "dice-roller:", ":A=b", "dice-roller:=b"] {
            assert!(bad.parse::<EnvOverride>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_missing_binary_names_the_package_to_build() {
        let mut options = DemoOptions::new(stages::stage(1).unwrap());
        options.binary_dir = PathBuf::from("/nonexistent");
        let error = locate_binaries(&options).unwrap_err().to_string();
        assert!(
            error.contains("cargo build -p stage1-dice-roller"),
            "{error}"
        );
    }
}
