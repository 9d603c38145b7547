//! `make verify STAGE=N`: the per-stage checklist (docs/design.md#checklist) against the Docker
//! stack (`make stack-up`, `make stageN up`, `make stageN traffic` first),
//! through the Prometheus, Loki and Tempo HTTP APIs on localhost.
//!
//! Every question is limited to the stage and to a window ending now (15
//! minutes by default, the dashboards' range): that the stage sent spans at
//! all; the newest trace of its requests, with a span from every service on
//! their path, and that trace's log lines in Loki; the stage's service
//! graph, paired edges that carried requests; the stage's own checks on its
//! newest traces (stage 4: batches of two or more rolls that overlap;
//! stages 5 and 6: a query span under every die-service request); stage 6's
//! usage receiver, whose traces are its own; and every panel of
//! `grafana-dashboards/stageN.json`, its PromQL, LogQL and TraceQL run with
//! the stage's variables. Exits non-zero when an item fails.

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
    /// How far back to look: a stage with no span in this window has had no
    /// traffic, and only traces begun in it are judged.
    #[arg(long, alias = "lookback", default_value = "15m", value_parser = humantime::parse_duration)]
    window: Duration,
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
    options.window = args.window;
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
