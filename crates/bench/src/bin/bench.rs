//! `make bench`: what telemetry costs the stage 1 dice-roller, measured.
//!
//! For each round, for each mode (`bench-server --mode ...`, pinned to one
//! core; the order rotates every round, so no mode always runs first or
//! last): start the server, warm it up, load it with wrk from the other core,
//! read its `/metrics` and peak memory, SIGTERM it and time its exit. Then
//! count user-space instructions per request under callgrind. The medians go
//! to stdout and, with `--write`, into `BENCHMARKS.md` between its markers.
//!
//! Run it through `make bench` (a release build; `BENCH_SECONDS`,
//! `BENCH_ROUNDS` and the other variables below shorten or lengthen it).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use bench::{
    CallgrindRun, Machine, Mode, ModeSummary, Report, Sample, ServerProcess, SpanCounts,
    instructions_per_request, pin_current_process, pinned, replace_between_markers, run_wrk,
};
use clap::Parser;
use testkit::{CollectorBehaviour, OtlpReceiver, metric_value};

/// The slow collector's delay: as long as the exporter's own timeout, so
/// every export is either answered at the last moment or given up.
const SLOW_COLLECTOR_DELAY: Duration = Duration::from_secs(5);
/// How long a server may take to start answering, and to exit.
const START_TIMEOUT: Duration = Duration::from_secs(20);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// The request every run sends: the fair die never fails, so every answer is
/// a 200 and every request writes the same log lines.
const ROLL_PATH: &str = "/roll?die=fair";

const DEFAULT_SECONDS: u64 = 5;
const DEFAULT_ROUNDS: usize = 3;
const DEFAULT_CONNECTIONS: u32 = 32;
const DEFAULT_CALLGRIND_SHORT: u64 = 500;
const DEFAULT_CALLGRIND_LONG: u64 = 2500;

#[derive(Parser)]
#[command(about = "Benchmark the stage 1 dice-roller with and without telemetry")]
struct Args {
    /// Seconds of measured load per run.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = DEFAULT_SECONDS)]
    seconds: u64,
    /// Seconds of load before each measured run (connections, caches, the
    /// allocator's pools), not measured.
    #[arg(long, env = "BENCH_WARMUP_SECONDS", default_value_t = 1)]
    warmup_seconds: u64,
    /// Rounds; each runs every mode once.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = DEFAULT_ROUNDS)]
    rounds: usize,
    /// wrk connections.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = DEFAULT_CONNECTIONS)]
    connections: u32,
    /// The core the server runs on.
    #[arg(long, env = "BENCH_SERVER_CPU", default_value_t = 0)]
    server_cpu: usize,
    /// The core wrk, the collectors and this harness run on.
    #[arg(long, env = "BENCH_LOAD_CPU", default_value_t = 1)]
    load_cpu: usize,
    /// Requests in the short and the long callgrind run; 0 skips callgrind.
    #[arg(long, env = "BENCH_CALLGRIND_SHORT", default_value_t = DEFAULT_CALLGRIND_SHORT)]
    callgrind_short: u64,
    #[arg(long, env = "BENCH_CALLGRIND_LONG", default_value_t = DEFAULT_CALLGRIND_LONG)]
    callgrind_long: u64,
    /// Modes to run (comma-separated); all of them by default.
    #[arg(long, env = "BENCH_MODES", value_enum, value_delimiter = ',')]
    modes: Vec<Mode>,
    /// Where logs and callgrind files go.
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// The markdown file whose section between the bench markers is
    /// rewritten with the results.
    #[arg(long)]
    write: Option<PathBuf>,
}

/// The collectors the modes export to, alive for the whole run.
struct Collectors {
    accepting: OtlpReceiver,
    slow: OtlpReceiver,
    /// A port that was free a moment ago and that nothing here listens on.
    dead_port: u16,
}

impl Collectors {
    fn endpoint(&self, mode: Mode) -> Option<String> {
        match mode {
            Mode::Bare => None,
            Mode::Full | Mode::Sampled | Mode::Recipe => Some(self.accepting.endpoint()),
            Mode::DeadCollector => Some(format!("http://127.0.0.1:{}", self.dead_port)),
            Mode::SlowCollector => Some(self.slow.endpoint()),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let modes = if args.modes.is_empty() {
        Mode::ALL.to_vec()
    } else {
        args.modes.clone()
    };
    let machine = Machine::read();
    for tool in ["wrk", "taskset"] {
        which(tool)?;
    }
    if args.callgrind_long > 0 {
        which("valgrind")?;
        if args.callgrind_long <= args.callgrind_short {
            bail!("BENCH_CALLGRIND_LONG must exceed BENCH_CALLGRIND_SHORT");
        }
    }
    let servers = ServerBinaries::find(&modes)?;
    std::fs::create_dir_all(&args.work_dir)?;
    let script = args.work_dir.join("report.lua");
    std::fs::write(&script, bench::WRK_REPORT_SCRIPT)?;
    // This process hosts the collectors: keep them, like wrk, off the
    // server's core. Children started from here inherit the pinning.
    pin_current_process(args.load_cpu)?;
    let collectors = Collectors {
        accepting: OtlpReceiver::start_with(CollectorBehaviour::CountOnly),
        slow: OtlpReceiver::start_with(CollectorBehaviour::Slow(SLOW_COLLECTOR_DELAY)),
        dead_port: testkit::free_port(),
    };
    let http = reqwest::Client::new();

    let mut samples = Vec::new();
    for round in 1..=args.rounds {
        for i in 0..modes.len() {
            let mode = modes[(i + round - 1) % modes.len()];
            let sample = measure(&args, &servers, &script, &collectors, &http, mode, round)
                .await
                .with_context(|| format!("round {round}, mode {}", mode.name()))?;
            eprintln!(
                "round {round}/{} {:<15} {:>7.0} req/s  p99 {:>6} µs  peak RSS {:>6} KiB  exit {:.2} s",
                args.rounds,
                mode.name(),
                sample.wrk.requests_per_second(),
                sample.wrk.p99_us,
                sample.peak_rss_kib.unwrap_or(0),
                sample.exit.as_secs_f64(),
            );
            samples.push(sample);
        }
    }

    let mut summaries = Vec::new();
    for &mode in &modes {
        let instructions = if args.callgrind_long > 0 {
            let per_request = count_instructions(&args, &servers, &collectors, mode)
                .await
                .with_context(|| format!("callgrind, mode {}", mode.name()))?;
            eprintln!(
                "callgrind {:<15} {per_request:.0} instructions per request",
                mode.name()
            );
            Some(per_request)
        } else {
            None
        };
        summaries.push(ModeSummary::of(mode, &samples, instructions));
    }

    let report = Report {
        machine,
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        command: command_line(&args),
        settings: format!(
            "Server (`bench-server`, release build, `ROLL_MAX_DELAY_MS=0`, `GET {ROLL_PATH}`) pinned to core {}; \
             `wrk -t1 -c{}` for {} s after {} s of warm-up, pinned to core {} with the collectors; \
             {} interleaved rounds, medians. Peak RSS is `VmHWM`; log bytes are the JSON log file's size over the \
             requests served; spans are the server's own counters read at the end of the load. \
             `sampled` is `full` with `OTEL_TRACES_SAMPLER=parentbased_traceidratio` and `OTEL_TRACES_SAMPLER_ARG=0.1`; \
             `recipe` is the same router with init-tracing-opentelemetry's production preset, axum-tracing-opentelemetry's `OtelAxumLayer` \
             and axum-prometheus instead of `crates/telemetry`, exporting to the same collector as `full`.",
            args.server_cpu,
            args.connections,
            args.seconds,
            args.warmup_seconds,
            args.load_cpu,
            args.rounds,
        ),
        summaries,
        samples,
        callgrind_requests: (args.callgrind_long > 0)
            .then_some((args.callgrind_short, args.callgrind_long)),
    };
    let markdown = report.markdown();
    println!("{markdown}");
    if let Some(path) = &args.write {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, replace_between_markers(&old, &markdown))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the table into {}", path.display());
    }
    Ok(())
}

/// The servers the modes run: `bench-server --mode <mode>` from this
/// workspace, and for `recipe` the `bench-recipe` binary, built from
/// crates/bench/recipe (a workspace of its own) into target/recipe.
struct ServerBinaries {
    bench_server: PathBuf,
    recipe: PathBuf,
}

impl ServerBinaries {
    fn find(modes: &[Mode]) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let bench_server = exe.with_file_name("bench-server");
        // target/release/bench -> target/recipe/release/bench-recipe
        let recipe = exe
            .parent()
            .and_then(Path::parent)
            .map(|target| target.join("recipe/release/bench-recipe"))
            .unwrap_or_default();
        let needed = [
            (true, &bench_server, "cargo build --release -p bench"),
            (
                modes.contains(&Mode::Recipe),
                &recipe,
                "cargo build --release --manifest-path crates/bench/recipe/Cargo.toml --target-dir target/recipe",
            ),
        ];
        for (needed, binary, build) in needed {
            if needed && !binary.exists() {
                bail!(
                    "{} is missing: build it with `{build}` (`make bench` does)",
                    binary.display()
                );
            }
        }
        Ok(Self {
            bench_server,
            recipe,
        })
    }

    /// The command line that serves `mode`.
    fn command(&self, mode: Mode) -> Vec<String> {
        match mode {
            Mode::Recipe => vec![self.recipe.display().to_string()],
            _ => vec![
                self.bench_server.display().to_string(),
                "--mode".to_owned(),
                mode.name().to_owned(),
            ],
        }
    }
}

/// The environment `bench-server` gets in `mode`, serving on `port`.
fn server_env(collectors: &Collectors, mode: Mode, port: u16) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("PORT", port.to_string()),
        ("ROLL_MAX_DELAY_MS", "0".to_owned()),
    ];
    if let Some(endpoint) = collectors.endpoint(mode) {
        env.push(("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint));
    }
    if mode == Mode::Recipe {
        // init-tracing-opentelemetry picks the exporter from the protocol
        // and creates none when it cannot tell.
        env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_owned()));
    }
    if mode == Mode::Sampled {
        env.push(("OTEL_TRACES_SAMPLER", "parentbased_traceidratio".to_owned()));
        env.push(("OTEL_TRACES_SAMPLER_ARG", "0.1".to_owned()));
    }
    env
}

async fn measure(
    args: &Args,
    servers: &ServerBinaries,
    script: &Path,
    collectors: &Collectors,
    http: &reqwest::Client,
    mode: Mode,
    round: usize,
) -> anyhow::Result<Sample> {
    let port = testkit::free_port();
    let log_path = args.work_dir.join(format!("{}.log", mode.name()));
    let stdout = if mode.has_telemetry() {
        Stdio::from(std::fs::File::create(&log_path)?)
    } else {
        Stdio::null()
    };
    let command = pinned(args.server_cpu, servers.command(mode));
    let mut server =
        ServerProcess::spawn(&command, port, &server_env(collectors, mode, port), stdout)?;
    server
        .wait_until_answering(http, "/", START_TIMEOUT)
        .await?;

    let url = server.url(ROLL_PATH);
    let warmup = run_wrk(
        &url,
        args.connections,
        Duration::from_secs(args.warmup_seconds),
        args.load_cpu,
        script,
    )
    .await?;
    let wrk = run_wrk(
        &url,
        args.connections,
        Duration::from_secs(args.seconds),
        args.load_cpu,
        script,
    )
    .await?;

    let (served, spans) = if mode.uses_telemetry_crate() {
        let text = server.metrics(http).await?;
        let served = metric_value(&text, "http_requests_total", &[("handler", "/roll")]) as u64;
        let spans = SpanCounts {
            exported: metric_value(&text, "otel_spans_exported_total", &[]) as u64,
            dropped_queue_full: metric_value(
                &text,
                "otel_spans_dropped_total",
                &[("reason", "queue_full")],
            ) as u64,
            dropped_export_failed: metric_value(
                &text,
                "otel_spans_dropped_total",
                &[("reason", "export_failed")],
            ) as u64,
            queued: metric_value(&text, "otel_spans_queued", &[]) as u64,
        };
        (served, Some(spans))
    } else {
        (warmup.requests + wrk.requests, None)
    };
    let peak_rss_kib = server.peak_rss_kib();
    let exit = server.terminate(EXIT_TIMEOUT).await?;
    let (log_bytes, log_lines) = if mode.has_telemetry() {
        let log = std::fs::read(&log_path)?;
        let lines = log.iter().filter(|&&b| b == b'\n').count() as u64;
        (Some(log.len() as u64), Some(lines))
    } else {
        (None, None)
    };
    Ok(Sample {
        mode,
        round,
        wrk,
        peak_rss_kib,
        served,
        spans,
        log_bytes,
        log_lines,
        exit,
    })
}

/// Instructions per request in `mode`: two callgrind runs, short and long.
async fn count_instructions(
    args: &Args,
    servers: &ServerBinaries,
    collectors: &Collectors,
    mode: Mode,
) -> anyhow::Result<f64> {
    let mut runs = Vec::new();
    for requests in [args.callgrind_short, args.callgrind_long] {
        let port = testkit::free_port();
        let out_file = args
            .work_dir
            .join(format!("callgrind.{}.{requests}.out", mode.name()));
        let command = servers.command(mode);
        let stdout = if mode.has_telemetry() {
            Stdio::from(std::fs::File::create(
                args.work_dir.join(format!("callgrind.{}.log", mode.name())),
            )?)
        } else {
            Stdio::null()
        };
        let env = server_env(collectors, mode, port);
        runs.push(
            CallgrindRun::measure(&command, port, &env, stdout, ROLL_PATH, requests, &out_file)
                .await?,
        );
    }
    Ok(instructions_per_request(&runs[0], &runs[1]))
}

/// Fails with a hint when `tool` is not on the PATH.
fn which(tool: &str) -> anyhow::Result<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    if !found {
        bail!("`{tool}` is not installed (Debian: apt-get install wrk valgrind util-linux)");
    }
    Ok(())
}

/// `make bench` and the variables that differ from their defaults.
fn command_line(args: &Args) -> String {
    let mut vars = Vec::new();
    if args.seconds != DEFAULT_SECONDS {
        vars.push(format!("BENCH_SECONDS={}", args.seconds));
    }
    if args.rounds != DEFAULT_ROUNDS {
        vars.push(format!("BENCH_ROUNDS={}", args.rounds));
    }
    if args.connections != DEFAULT_CONNECTIONS {
        vars.push(format!("BENCH_CONNECTIONS={}", args.connections));
    }
    if args.callgrind_short != DEFAULT_CALLGRIND_SHORT
        || args.callgrind_long != DEFAULT_CALLGRIND_LONG
    {
        vars.push(format!(
            "BENCH_CALLGRIND_SHORT={} BENCH_CALLGRIND_LONG={}",
            args.callgrind_short, args.callgrind_long
        ));
    }
    vars.push("make bench".to_owned());
    vars.join(" ")
}
