//! `make demo [STAGE=N]`: a stage's services run natively, driven by the
//! traffic generator, their signals checked item by item. No Docker needed:
//! spans go to an OTLP receiver inside this process.
//!
//! Prints the traffic summary, a waterfall of one trace and the checklist;
//! exits non-zero when an item fails. Every service it started is stopped on
//! the way out, also on Ctrl-C.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use demo::{DemoOptions, EnvOverride, Ports};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Run a stage natively and check its traces, logs and metrics."
)]
struct Args {
    /// The stage to run; default: the newest.
    #[arg(long)]
    stage: Option<u8>,
    /// How long the traffic runs (e.g. 12s, 1m).
    #[arg(long, env = "DEMO_DURATION", default_value = "12s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Simulated users at once.
    #[arg(long, default_value_t = 5)]
    users: usize,
    /// Listen on free ports instead of the stage's own (8N00...).
    #[arg(long)]
    free_ports: bool,
    /// An extra variable for one service, e.g. dice-roller:RUST_LOG=warn;
    /// repeatable. Break a signal on purpose and watch the checklist catch it.
    #[arg(long = "env", value_name = "SERVICE:KEY=VALUE")]
    overrides: Vec<EnvOverride>,
    /// Where the services' binaries are; default: next to this one.
    #[arg(long)]
    bin_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let stage = match args.stage {
        Some(number) => stages::stage(number)?,
        None => stages::newest(),
    };
    let mut options = DemoOptions::new(stage);
    options.traffic = args.duration;
    options.users = args.users.max(1);
    options.overrides = args.overrides;
    options.narrate = true;
    if args.free_ports {
        options.ports = Ports::Free;
    }
    if let Some(dir) = args.bin_dir {
        options.binary_dir = dir;
    }

    // Ctrl-C or SIGTERM: the runner stops every service before returning.
    let report = demo::run(&options, telemetry::shutdown_signal()).await?;
    write!(std::io::stdout().lock(), "{report}").context("writing the report")?;
    if !report.passed() {
        let failed: Vec<&str> = report
            .checklist
            .failures()
            .map(|check| check.title.as_str())
            .collect();
        // A failed item is the answer, not an error: say which, exit 1.
        writeln!(
            std::io::stderr(),
            "stage {} checklist failed: {}",
            stage.number,
            failed.join("; ")
        )
        .context("writing to stderr")?;
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
