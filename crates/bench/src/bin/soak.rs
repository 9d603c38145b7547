//! `make soak`: stage 4's three services at a fixed request rate for minutes,
//! their memory sampled as it goes.
//!
//! The die-service, dice-roller and frontend run natively (release builds),
//! each exporting its spans to an in-process OTLP/HTTP sink that accepts and
//! counts them, and writing its JSON logs to a file. The load is open-loop
//! (docs/pitfalls.md#coordinated-omission): `POST /roll` on the frontend at a fixed rate, a request
//! sent on schedule whether or not the earlier ones have been answered, each
//! going frontend -> dice-roller -> die-service. Every `--sample-seconds` the
//! resident memory (`VmRSS`) of each service is read; at the end the samples
//! are printed as a table, with the answers counted: the risky die's own
//! failures (a 502 from the frontend for `die=risky`) are expected, anything
//! else that is not a 200 is an error.
//!
//! Run it through `make soak` (`SOAK_SECONDS=180 make soak` for a shorter
//! run); `--write BENCHMARKS.md` puts the table between the soak markers.
//! The logs are deleted after a run without errors (`SOAK_KEEP_LOGS=true`
//! keeps them).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bench::{Machine, ServerProcess, read_vm_rss_kib, replace_section};
use clap::Parser;
use testkit::{CollectorBehaviour, OtlpReceiver};
use tokio::time::{Instant, MissedTickBehavior};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// A request not answered by then is counted as an error (the frontend's own
/// backend timeout is 5 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Open loop, but not unbounded: past this many unanswered requests a tick is
/// counted as skipped instead of growing the load generator's own memory.
const MAX_IN_FLIGHT: usize = 5000;

#[derive(Parser)]
#[command(about = "Stage 4 at a fixed request rate, memory sampled")]
struct Args {
    /// How long the load runs, in seconds.
    #[arg(long, env = "SOAK_SECONDS", default_value_t = 600)]
    seconds: u64,
    /// Requests per second sent to the frontend.
    #[arg(long, env = "SOAK_RATE", default_value_t = 500)]
    rate: u32,
    /// How often memory is sampled, in seconds.
    #[arg(long, env = "SOAK_SAMPLE_SECONDS", default_value_t = 10)]
    sample_seconds: u64,
    /// Each roll's random delay bound (`ROLL_MAX_DELAY_MS` of the
    /// dice-roller); the workshop's 1000 ms would keep hundreds of requests
    /// in flight on a small machine.
    #[arg(long, env = "SOAK_ROLL_MAX_DELAY_MS", default_value_t = 100)]
    roll_max_delay_ms: u64,
    /// Where the services' logs go (about 70 MB a minute at 500 req/s).
    #[arg(long, default_value = "target/soak")]
    work_dir: PathBuf,
    /// Keep the logs after a run without errors (a run with errors always
    /// keeps them, to look the failures up).
    #[arg(long, env = "SOAK_KEEP_LOGS")]
    keep_logs: bool,
    /// The markdown file whose section between the soak markers is rewritten.
    #[arg(long)]
    write: Option<PathBuf>,
}

/// The three services, in the order they start.
const SERVICES: [&str; 3] = ["die-service", "dice-roller", "frontend"];

/// What the answers were.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    risky_failures: AtomicU64,
    /// Not 200 and not the risky die's failure, or no answer at all.
    errors: AtomicU64,
    skipped: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.rate == 0 || args.seconds == 0 || args.sample_seconds == 0 {
        bail!("SOAK_SECONDS, SOAK_RATE and SOAK_SAMPLE_SECONDS must be positive");
    }
    let machine = Machine::read();
    let bin_dir = std::env::current_exe()?
        .parent()
        .context("the soak binary has no directory")?
        .to_owned();
    std::fs::create_dir_all(&args.work_dir)?;
    let sink = OtlpReceiver::start_with(CollectorBehaviour::CountOnly);
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()?;

    let ports: Vec<u16> = SERVICES.iter().map(|_| testkit::free_port()).collect();
    let url = |i: usize| format!("http://127.0.0.1:{}", ports[i]);
    let mut servers = Vec::new();
    for (i, name) in SERVICES.iter().enumerate() {
        let mut env = vec![
            ("PORT", ports[i].to_string()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", sink.endpoint()),
            ("DIE_SERVICE_URL", url(0)),
            ("DICE_ROLLER_URL", url(1)),
        ];
        if *name == "dice-roller" {
            env.push(("ROLL_MAX_DELAY_MS", args.roll_max_delay_ms.to_string()));
        }
        let program = binary(&bin_dir, &format!("stage4-{name}"))?;
        let log = std::fs::File::create(args.work_dir.join(format!("{name}.log")))?;
        let mut server = ServerProcess::spawn(&[program], ports[i], &env, Stdio::from(log))?;
        server
            .wait_until_answering(&http, "/metrics", START_TIMEOUT)
            .await
            .with_context(|| format!("starting {name}"))?;
        servers.push(server);
    }
    eprintln!(
        "soak: {} req/s for {} s against the frontend on {}, memory every {} s",
        args.rate,
        args.seconds,
        url(2),
        args.sample_seconds
    );

    let tally = Arc::new(Tally::default());
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let roll_url = format!("{}/roll", url(2));
    let mut samples: Vec<(u64, Vec<Option<u64>>)> = Vec::new();
    let sample = |elapsed: u64| {
        (
            elapsed,
            servers
                .iter()
                .map(|s| read_vm_rss_kib(s.pid()))
                .collect::<Vec<_>>(),
        )
    };
    samples.push(sample(0));

    let start = Instant::now();
    let end = start + Duration::from_secs(args.seconds);
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / args.rate);
    // Open loop: a late tick fires at once, so the schedule is kept.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sampler = tokio::time::interval_at(
        start + Duration::from_secs(args.sample_seconds),
        Duration::from_secs(args.sample_seconds),
    );
    let mut requests = tokio::task::JoinSet::new();
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            tick = ticks.tick() => {
                if tick >= end {
                    break;
                }
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    tally.skipped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                n += 1;
                let form = request_form(n);
                let (http, url, tally) = (http.clone(), roll_url.clone(), tally.clone());
                requests.spawn(async move {
                    tally.sent.fetch_add(1, Ordering::Relaxed);
                    let status = http.post(url).form(&form).send().await.map(|r| r.status());
                    let counter = match status {
                        Ok(status) if status == 200 => &tally.ok,
                        Ok(status) if status == 502 && form[0].1 == "risky" => &tally.risky_failures,
                        _ => &tally.errors,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
            _ = sampler.tick() => {
                let elapsed = start.elapsed().as_secs();
                let row = sample(elapsed);
                eprintln!(
                    "{:>5} s  RSS {}  sent {}  errors {}",
                    elapsed,
                    row.1.iter().map(|k| kib(*k)).collect::<Vec<_>>().join(" / "),
                    tally.sent.load(Ordering::Relaxed),
                    tally.errors.load(Ordering::Relaxed),
                );
                samples.push(row);
            }
            Some(_) = requests.join_next(), if !requests.is_empty() => {}
        }
    }
    let load_seconds = start.elapsed().as_secs_f64();
    while requests.join_next().await.is_some() {}
    let last = sample(start.elapsed().as_secs());
    if samples.last().is_none_or(|(t, _)| *t != last.0) {
        samples.push(last);
    }
    let spans = sink.span_count();
    let mut exits = Vec::new();
    for server in servers.into_iter().rev() {
        exits.push(server.terminate(EXIT_TIMEOUT).await?);
    }
    let log_bytes: u64 = SERVICES
        .iter()
        .filter_map(|name| std::fs::metadata(args.work_dir.join(format!("{name}.log"))).ok())
        .map(|meta| meta.len())
        .sum();

    let markdown = report(
        &args,
        &machine,
        &samples,
        &tally,
        load_seconds,
        spans,
        log_bytes,
    );
    println!("{markdown}");
    if let Some(path) = &args.write {
        let old = std::fs::read_to_string(path).unwrap_or_default();
        std::fs::write(path, replace_section(&old, "soak", &markdown))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote the soak table into {}", path.display());
    }
    if tally.errors.load(Ordering::Relaxed) > 0 {
        eprintln!(
            "soak: there were errors other than the risky die's; the logs are in {}",
            args.work_dir.display()
        );
    } else if !args.keep_logs {
        for name in SERVICES {
            let _ = std::fs::remove_file(args.work_dir.join(format!("{name}.log")));
        }
    }
    Ok(())
}

/// The form of the `n`th request: mostly the fair die, every fourth the
/// risky one; one roll or three; every other request rolls concurrently
/// (stage 4's lesson), so both paths of the dice-roller are exercised.
fn request_form(n: u64) -> [(&'static str, &'static str); 3] {
    let die = if n.is_multiple_of(4) { "risky" } else { "fair" };
    let times = if n.is_multiple_of(3) { "3" } else { "1" };
    let concurrently = if n.is_multiple_of(2) { "on" } else { "off" };
    [("die", die), ("times", times), ("async", concurrently)]
}

fn binary(dir: &Path, name: &str) -> anyhow::Result<String> {
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} is missing: `make soak` builds it (cargo build --release -p {name})",
            path.display()
        );
    }
    Ok(path.display().to_string())
}

fn kib(value: Option<u64>) -> String {
    value.map_or("-".to_owned(), |k| format!("{:.1} MB", k as f64 / 1024.0))
}

fn report(
    args: &Args,
    machine: &Machine,
    samples: &[(u64, Vec<Option<u64>>)],
    tally: &Tally,
    load_seconds: f64,
    spans: u64,
    log_bytes: u64,
) -> String {
    use std::fmt::Write as _;
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!-- soak:begin: written by `make soak`, edits up to soak:end are overwritten -->"
    );
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let _ = writeln!(out, "Measured {date} on {machine}.\n");
    let command = if args.seconds == 600 {
        "make soak".to_owned()
    } else {
        format!("SOAK_SECONDS={} make soak", args.seconds)
    };
    let _ = writeln!(
        out,
        "Command: `{command}`: stage 4 (release builds, `ROLL_MAX_DELAY_MS={}`), `POST /roll` on the frontend \
         at {} req/s open-loop for {} s (a quarter `risky`, a third `times=3`, half `async`), spans to an \
         in-process OTLP/HTTP sink, JSON logs to files. Resident memory (`VmRSS`) every {} s:\n",
        args.roll_max_delay_ms, args.rate, args.seconds, args.sample_seconds
    );
    out.push_str("| time | ");
    out.push_str(&SERVICES.join(" | "));
    out.push_str(" |\n|--:|--:|--:|--:|\n");
    for (t, row) in samples {
        let _ = writeln!(
            out,
            "| {}:{:02} | {} |",
            t / 60,
            t % 60,
            row.iter().map(|k| kib(*k)).collect::<Vec<_>>().join(" | ")
        );
    }
    out.push('\n');
    // Minute 1 against the end: the soak's verdict.
    let at = |seconds: u64| samples.iter().find(|(t, _)| *t >= seconds);
    if let (Some((t1, first)), Some((tn, last))) = (at(60), samples.last()) {
        let _ = writeln!(
            out,
            "RSS at {}:{:02} and at the end ({}:{:02}):",
            t1 / 60,
            t1 % 60,
            tn / 60,
            tn % 60
        );
        out.push('\n');
        for (i, name) in SERVICES.iter().enumerate() {
            if let (Some(a), Some(b)) = (first[i], last[i]) {
                let _ = writeln!(
                    out,
                    "- {name}: {} -> {} ({:+.1}%)",
                    kib(Some(a)),
                    kib(Some(b)),
                    (b as f64 - a as f64) / a as f64 * 100.0
                );
            }
        }
        out.push('\n');
    }
    let sent = get(&tally.sent);
    let _ = writeln!(
        out,
        "Requests: {sent} sent ({:.0}/s achieved), {} answered 200, {} risky-die failures (502, expected), \
         **{} other errors**, {} not sent because {MAX_IN_FLIGHT} were already waiting. Spans received by the sink: {spans} \
         ({:.1} per request). Log lines written: {:.1} MB ({:.0} bytes per request, all three services).",
        sent as f64 / load_seconds,
        get(&tally.ok),
        get(&tally.risky_failures),
        get(&tally.errors),
        get(&tally.skipped),
        spans as f64 / sent.max(1) as f64,
        log_bytes as f64 / 1e6,
        log_bytes as f64 / sent.max(1) as f64,
    );
    let _ = writeln!(out, "<!-- soak:end -->");
    out
}
