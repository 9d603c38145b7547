//! `make verify STAGE=N`: the seed's per-stage checklist against the Docker
//! stack (`make stack-up`, `make stageN up`, `make stageN traffic` first),
//! through the Prometheus, Loki and Tempo HTTP APIs on localhost.
//!
//! Checks that every PromQL query of `grafana-dashboards/stageN.json` returns
//! data, samples a trace through every service of the stage from Tempo,
//! finds its log lines in Loki, reads the service graph's edges from
//! Prometheus, and judges the stage's own checks on a trace from Tempo
//! (stage 4: a `/roll-async` batch whose rolls overlap). Exits non-zero when
//! an item fails.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use demo::verify::{VerifyOptions, verify};

#[derive(Debug, Parser)]
#[command(version, about = "Check a stage's signals in the Docker stack.")]
struct Args {
    /// The stage to check; default: the newest.
    #[arg(long)]
    stage: Option<u8>,
    #[arg(long, default_value = "http://localhost:9090")]
    prometheus: String,
    #[arg(long, default_value = "http://localhost:3100")]
    loki: String,
    #[arg(long, default_value = "http://localhost:3200")]
    tempo: String,
    /// The stage's dashboard; default: grafana-dashboards/stageN.json.
    #[arg(long)]
    dashboard: Option<PathBuf>,
    /// LogQL stream selector of the stage's logs; default: {stage="N"}.
    #[arg(long)]
    loki_selector: Option<String>,
    /// How far back to look for a trace and its logs.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    lookback: Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let stage = match args.stage {
        Some(number) => stages::stage(number)?,
        None => stages::newest(),
    };
    let mut options = VerifyOptions::new(stage);
    options.endpoints.prometheus = args.prometheus;
    options.endpoints.loki = args.loki;
    options.endpoints.tempo = args.tempo;
    options.lookback = args.lookback;
    if let Some(dashboard) = args.dashboard {
        options.dashboard = dashboard;
    }
    if let Some(selector) = args.loki_selector {
        options.loki_selector = selector;
    }

    let checklist = verify(&options).await;
    write!(std::io::stdout().lock(), "{checklist}").context("writing the checklist")?;
    Ok(if checklist.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
