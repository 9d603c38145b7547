//! `traffic-gen`: simulated users against a running stage, e.g.
//! `make stage1 traffic` or `cargo run -p traffic-gen -- --stage 1 --duration 30s`;
//! with `--compare` (`make stage4 compare`), stage 4's table of dice rolled
//! one at a time against dice rolled at once; with `--db-load` (`make stage5
//! load`), stage 5's open-loop database load test; with `--outage` (`make
//! stage5 outage`), stage 5's outage drill against the Docker stage.
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
use traffic_gen::{
    Budget, CompareConfig, DatabaseSwitch, DieMix, LoadConfig, OutagePlan, TrafficConfig, Workload,
    list_dice,
};

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
    /// Stage 6: the accounts users sign in with, as the frontend's
    /// DEMO_USERS (name:password,...); default: the stage's demo accounts.
    #[arg(long, env = "DEMO_USERS", hide_env_values = true)]
    accounts: Option<String>,
    /// Stage 5: instead of users, the database load test: list and get
    /// queries to the die-service on a fixed schedule (an open loop).
    #[arg(long)]
    db_load: bool,
    /// With --db-load: the target rate.
    #[arg(long, env = "QUERIES_PER_SECOND", default_value_t = 20.0)]
    queries_per_second: f64,
    /// With --db-load: how long to keep the rate, in seconds.
    #[arg(long, env = "DURATION_SECONDS", default_value_t = 30)]
    duration_seconds: u64,
    /// With --db-load: the share of queries that list every die (0 to 1);
    /// the rest get one die by identifier.
    #[arg(long, env = "LIST_TO_GET_RATIO", default_value_t = 0.2)]
    list_to_get_ratio: f64,
    /// Stage 5: instead of users, the outage drill: rolls at a steady rate
    /// while the stage's PostgreSQL container is stopped, then started.
    #[arg(long)]
    outage: bool,
    /// With --outage: how long the database stays down, in seconds.
    #[arg(long, env = "OUTAGE_SECONDS", default_value_t = 10)]
    outage_seconds: u64,
    /// With --outage: the container to stop; default postgres-stageN.
    #[arg(long)]
    container: Option<String>,
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
    if args.db_load {
        return run_database_load(&args, stage).await;
    }
    if args.outage {
        return run_outage_drill(&args, stage).await;
    }
    let config = traffic_config(&args, stage)?;

    // Hidden by itself when stderr is not a terminal (CI, a pipe).
    let progress = ProgressBar::new(0);
    let telemetry = build_telemetry(&progress)?;
    let client = telemetry
        .http_client(stage.entry, config.request_timeout)
        .context("cannot build the HTTP client")?;

    let summary = traffic_gen::run(&config, &client, &progress).await;
    // The last batch of spans leaves only on shutdown (docs/pitfalls.md#exporter-runtime); it blocks
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
    if let Some(text) = &args.accounts {
        let Some(accounts) = traffic_gen::Accounts::parse(text, 0.0) else {
            bail!("DEMO_USERS (--accounts) is name:password,name:password");
        };
        workload = workload.with_accounts(accounts.accounts);
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

/// The base URL of `service` of `stage`: `--url`, or its port on localhost.
fn service_url(args: &Args, stage: &stages::Stage, service: &str) -> anyhow::Result<reqwest::Url> {
    if let Some(url) = &args.url {
        return Ok(url.clone());
    }
    let Some(found) = stage.service(service) else {
        bail!("stage {} has no {service}", stage.number);
    };
    format!("http://localhost:{}", found.port)
        .parse()
        .context("the service's default URL")
}

/// `--db-load`: the database load test's report, on stdout.
async fn run_database_load(args: &Args, stage: &stages::Stage) -> anyhow::Result<()> {
    if stage.number < 5 {
        bail!("--db-load needs the die-service's database: stage 5 or later (--stage 5)");
    }
    if !(args.queries_per_second > 0.0 && args.queries_per_second <= 1000.0) {
        bail!("--queries-per-second (QUERIES_PER_SECOND) is a rate above 0, at most 1000");
    }
    if !(1..=3600).contains(&args.duration_seconds) {
        bail!("--duration-seconds (DURATION_SECONDS) is from 1 to 3600");
    }
    if !(0.0..=1.0).contains(&args.list_to_get_ratio) {
        bail!("--list-to-get-ratio (LIST_TO_GET_RATIO) is a share from 0 to 1");
    }
    let base_url = service_url(args, stage, "die-service")?;
    let progress = ProgressBar::hidden();
    let telemetry = build_telemetry(&progress)?;
    let client = telemetry
        .http_client(
            "die-service",
            args.timeout.unwrap_or(Duration::from_secs(5)),
        )
        .context("cannot build the HTTP client")?;
    let identifiers = list_dice(&client, &base_url).await.with_context(|| {
        format!(
            "cannot list the dice at {base_url}dice: is stage {} running? (make stage{} up)",
            stage.number, stage.number
        )
    })?;
    let config = LoadConfig {
        base_url,
        queries_per_second: args.queries_per_second,
        duration: Duration::from_secs(args.duration_seconds),
        list_share: args.list_to_get_ratio,
        identifiers,
    };
    eprintln!(
        "sending {:.1} queries/s to {} for {} s ...",
        config.queries_per_second, config.base_url, args.duration_seconds
    );
    let report = traffic_gen::database_load(&config, &client).await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .context("flushing spans")?;
    write!(std::io::stdout().lock(), "{report}").context("writing the report")?;
    Ok(())
}

/// The identifiers `GET /dice` lists.
/// `--outage`: the drill against the Docker stage, its timeline on stdout.
async fn run_outage_drill(args: &Args, stage: &stages::Stage) -> anyhow::Result<()> {
    let Some(stages::NativeCheck::DatabaseOutage { service, path }) = stage
        .native_checks
        .iter()
        .find(|check| matches!(check, stages::NativeCheck::DatabaseOutage { .. }))
        .copied()
    else {
        bail!("the outage drill is stage 5's (--stage 5)");
    };
    if !(1..=600).contains(&args.outage_seconds) {
        bail!("--outage-seconds (OUTAGE_SECONDS) is from 1 to 600");
    }
    let url = service_url(args, stage, service)?.join(path)?;
    let mut container = DockerContainer(
        args.container
            .clone()
            .unwrap_or_else(|| format!("postgres-stage{}", stage.number)),
    );
    let progress = ProgressBar::hidden();
    let telemetry = build_telemetry(&progress)?;
    let client = telemetry
        .http_client(service, args.timeout.unwrap_or(Duration::from_secs(5)))
        .context("cannot build the HTTP client")?;
    let plan = OutagePlan::new(url, Duration::from_secs(args.outage_seconds));
    eprintln!(
        "{:.0} requests/s to {}; stopping {} for {} s, then starting it ...",
        plan.rate, plan.url, container.0, args.outage_seconds
    );
    let report = traffic_gen::outage_drill(&plan, &client, &mut container).await;
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .context("flushing spans")?;
    let report = report.map_err(anyhow::Error::msg)?;
    writeln!(std::io::stdout().lock(), "{report}").context("writing the report")?;
    let problems = report.problems();
    if !problems.is_empty() {
        bail!(
            "the drill did not go as stage 5 promises:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// The Docker path's database: `docker stop` and `docker start` its container.
struct DockerContainer(String);

impl DockerContainer {
    async fn docker(&self, action: &str) -> Result<(), String> {
        let output = tokio::process::Command::new("docker")
            .args([action, self.0.as_str()])
            .output()
            .await
            .map_err(|error| format!("cannot run docker: {error}"))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "docker {action} {} failed: {}",
                self.0,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }
}

impl DatabaseSwitch for DockerContainer {
    async fn stop(&mut self) -> Result<(), String> {
        self.docker("stop").await
    }

    async fn start(&mut self) -> Result<(), String> {
        self.docker("start").await
    }
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
