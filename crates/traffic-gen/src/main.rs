//! `traffic-gen`: simulated users against a running stage, e.g.
//! `make stage1 traffic` or `cargo run -p traffic-gen -- --stage 1 --duration 30s`;
//! and, with `--compare` (`make stage4 compare`), stage 4's table of dice
//! rolled one at a time against dice rolled at once.
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
use traffic_gen::{Budget, CompareConfig, DieMix, TrafficConfig, Workload};

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
    /// Each user session sends 1..=this many requests (default 10).
    #[arg(long, env = "MAX_ROLLS_PER_USER")]
    max_rolls_per_user: Option<u32>,
    /// The same, under the name stages 2 and later use: a user's requests
    /// are page loads and rolls. Wins over --max-rolls-per-user.
    #[arg(long, env = "MAX_REQUESTS_PER_USER")]
    max_requests_per_user: Option<u32>,
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
    /// A request unanswered after this long counts as a timeout; default:
    /// 5 s, plus a second per die a stage 4 roll may roll one at a time.
    #[arg(long, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Dice and weights, e.g. fair=3,risky=1; default: the stage's mix (from
    /// stage 3: any die the page offers).
    #[arg(long, env = "DIE_MIX")]
    mix: Option<DieMix>,
    /// Stage 4: the share of rolls with "Use async rolling" ticked (0 to 1;
    /// default 0.5).
    #[arg(long, env = "ASYNC_PROBABILITY")]
    async_probability: Option<f64>,
    /// Stage 4: "Number of rolls" is drawn from 1..=this (default 10, the
    /// most the page accepts).
    #[arg(long, env = "MAX_ASYNC_ROLLS")]
    max_async_rolls: Option<u32>,
    /// Stage 4: instead of users, compare N sequential /roll calls with one
    /// /roll-async?times=N on the dice-roller, and print the table.
    #[arg(long)]
    compare: bool,
    /// With --compare: the batch sizes N.
    #[arg(long, value_delimiter = ',', default_value = "1,5,10,20")]
    sizes: Vec<u32>,
    /// With --compare: measurements per size and mode.
    #[arg(long, env = "COMPARE_REPETITIONS", default_value_t = 5)]
    repetitions: u32,
    /// With --compare: the die to roll.
    #[arg(long, default_value = "fair")]
    die: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let stage = match args.stage {
        Some(number) => stages::stage(number)?,
        None => stages::newest(),
    };
    if args.compare {
        return run_comparison(&args, stage).await;
    }
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
    if args
        .async_probability
        .is_some_and(|p| !(0.0..=1.0).contains(&p))
    {
        bail!("--async-probability (ASYNC_PROBABILITY) is a share from 0 to 1");
    }
    let mut workload = Workload::for_scenario(stage.scenario)
        .with_batches(args.async_probability, args.max_async_rolls);
    if let Some(mix) = &args.mix {
        workload = workload.with_mix(mix.clone());
    }
    let mut config = TrafficConfig::new(
        base_url,
        workload,
        Budget::new(args.duration, args.requests),
    );
    config.users = args.users.max(1);
    config.max_requests_per_session = args
        .max_requests_per_user
        .or(args.max_rolls_per_user)
        .unwrap_or(10)
        .max(1);
    config.think_time = (args.think_min, args.think_max);
    if let Some(timeout) = args.timeout {
        config.request_timeout = timeout;
    }
    Ok(config)
}

/// `--compare`: the table of stage 4's comparison, on stdout.
async fn run_comparison(args: &Args, stage: &stages::Stage) -> anyhow::Result<()> {
    let Some(dice_roller) = stage.service("dice-roller") else {
        bail!("stage {} has no dice-roller", stage.number);
    };
    if !matches!(
        stage.scenario,
        stages::Scenario::Page {
            batches: Some(_),
            ..
        }
    ) {
        bail!("--compare needs the dice-roller's /roll-async: stage 4 or later (--stage 4)");
    }
    if args.sizes.is_empty() || args.sizes.contains(&0) || args.repetitions == 0 {
        bail!("--sizes are batch sizes from 1 up, and --repetitions at least 1");
    }
    let base_url = match &args.url {
        Some(url) => url.clone(),
        None => format!("http://localhost:{}", dice_roller.port)
            .parse()
            .context("the dice-roller's default URL")?,
    };
    let config = CompareConfig {
        base_url,
        die: args.die.clone(),
        sizes: args.sizes.clone(),
        repetitions: args.repetitions,
    };
    let progress = ProgressBar::hidden();
    let telemetry = build_telemetry(&progress)?;
    // A batch of 20 one at a time waits for up to 20 rolls of up to a second.
    let timeout = args.timeout.unwrap_or(Duration::from_secs(30));
    let client = telemetry
        .http_client("dice-roller", timeout)
        .context("cannot build the HTTP client")?;
    let comparison = traffic_gen::compare(&config, &client).await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .context("flushing spans")?;
    write!(std::io::stdout().lock(), "{comparison}").context("writing the table")?;
    let measured = comparison.rows.iter().all(|row| {
        row.sequential.failures < config.repetitions && row.concurrent.failures < config.repetitions
    });
    if !measured {
        bail!(
            "some sizes had no successful measurement: is stage {} running? (make stage{} up)",
            stage.number,
            stage.number
        );
    }
    Ok(())
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
