//! `traffic-gen`: simulated users against a running stage, e.g.
//! `make stage1 traffic` or `cargo run -p traffic-gen -- --stage 1 --duration 30s`.
//!
//! Progress and JSON log lines go to stderr; the summary (requests, errors by
//! status, p50/p95/p99, trace ids of slow and failed requests) to stdout. Its
//! spans are exported when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (`make stageN
//! traffic` points it at the stack's collector) and flushed before it exits.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use indicatif::ProgressBar;
use telemetry::{Telemetry, TelemetryConfig};
use traffic_gen::{Budget, DieMix, TrafficConfig, Workload};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Simulated users rolling dice against a workshop stage."
)]
struct Args {
    /// The stage whose scenario to play; default: the newest stage.
    #[arg(long)]
    stage: Option<u8>,
    /// The entry service's base URL; default: the stage's port on localhost.
    #[arg(long, env = "TARGET_URL")]
    url: Option<reqwest::Url>,
    /// Users active at once.
    #[arg(long, env = "NUM_USERS", default_value_t = 5)]
    users: usize,
    /// Each user session sends 1..=this many requests.
    #[arg(long, env = "MAX_ROLLS_PER_USER", default_value_t = 10)]
    max_rolls_per_user: u32,
    /// Stop after this long (e.g. 30s, 2m). With neither this nor --requests: 15s.
    #[arg(long, env = "TRAFFIC_DURATION", value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many requests (whichever of the two limits comes first).
    #[arg(long, env = "TRAFFIC_REQUESTS")]
    requests: Option<u64>,
    /// Shortest think time between a user's requests.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    think_min: Duration,
    /// Longest think time between a user's requests.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    think_max: Duration,
    /// A request unanswered after this long counts as a timeout.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Dice and weights, e.g. fair=3,risky=1; default: the stage's mix.
    #[arg(long, env = "DIE_MIX")]
    mix: Option<DieMix>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stage = match args.stage {
        Some(number) => stages::stage(number)?,
        None => stages::newest(),
    };
    let config = traffic_config(&args, stage)?;

    // Hidden by itself when stderr is not a terminal (CI, a pipe).
    let progress = ProgressBar::new(0);
    let telemetry = build_telemetry(&progress)?;
    let client = telemetry
        .http_client(stage.entry, config.request_timeout)
        .context("cannot build the HTTP client")?;

    let summary = traffic_gen::run(&config, &client, &progress).await;
    // The last batch of spans leaves only on shutdown (PITFALLS 2); it blocks
    // on the exporter thread, so keep it off the async workers.
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .context("flushing spans")?;

    write!(std::io::stdout().lock(), "{summary}").context("writing the summary")?;
    if summary.requests > 0 && summary.unanswered() == summary.requests {
        bail!(
            "no request to {} was answered: is stage {} running? (make stage{} up)",
            config.base_url,
            stage.number,
            stage.number
        );
    }
    Ok(())
}

fn traffic_config(args: &Args, stage: &stages::Stage) -> anyhow::Result<TrafficConfig> {
    if args.think_min > args.think_max {
        bail!("--think-min must not exceed --think-max");
    }
    let base_url = match &args.url {
        Some(url) => url.clone(),
        None => format!("http://localhost:{}", stage.entry_service().port)
            .parse()
            .context("the stage's default URL")?,
    };
    let mut workload = Workload::for_scenario(stage.scenario);
    if let Some(mix) = &args.mix {
        workload = workload.with_mix(mix.clone());
    }
    let mut config = TrafficConfig::new(
        base_url,
        workload,
        Budget::new(args.duration, args.requests),
    );
    config.users = args.users.max(1);
    config.max_requests_per_session = args.max_rolls_per_user.max(1);
    config.think_time = (args.think_min, args.think_max);
    config.request_timeout = args.timeout;
    Ok(config)
}

/// Telemetry like any service's, as `traffic-gen`, except that spans are
/// exported only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: a load tool run
/// by hand should not complain about a collector nobody asked for. Log lines
/// go to stderr, around the progress bar.
fn build_telemetry(progress: &ProgressBar) -> anyhow::Result<Telemetry> {
    let mut config = TelemetryConfig::from_env(stages::TRAFFIC_GEN)?;
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
        config.otlp_endpoint = None;
    }
    let bar = progress.clone();
    let telemetry = telemetry::build(&config, move || StderrAroundProgress(bar.clone()))?;
    tracing::dispatcher::set_global_default(telemetry.dispatch().clone())
        .context("installing the subscriber")?;
    Ok(telemetry)
}

/// Writes log lines to stderr with the progress bar lifted out of the way,
/// so a line never lands in the middle of the bar.
struct StderrAroundProgress(ProgressBar);

impl std::io::Write for StderrAroundProgress {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        self.0
            .suspend(|| std::io::stderr().lock().write_all(line))?;
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
