//! `make demo` and `make verify`: the per-stage verification
//! checklist, measured.
//!
//! `demo` runs a stage natively, without Docker: it starts the stage's
//! services with their spans going to an OTLP receiver embedded in the
//! demo, drives them with the traffic generator, then checks each signal
//! (services answer, `/metrics` series, log lines whose ids match received
//! spans, spans per service, traces that cross services) and draws one trace
//! as a waterfall. `verify` asks the same questions of the Docker stack
//! through the Prometheus, Loki and Tempo HTTP APIs.
//!
//! # Layout
//!
//! * `checklist`: [`Check`] and [`Checklist`], the verdicts both tools print.
//! * `run`: the demo runner, [`run()`] with its [`DemoOptions`].
//! * `processes`: services as child processes, output captured, stopped with
//!   SIGTERM then SIGKILL.
//! * `database`: the run's own throwaway PostgreSQL cluster (stages 5 and
//!   6), which the outage drill stops and starts.
//! * `local_checks`: the demo's checklist items, pure functions of what the
//!   run measured.
//! * `correlation`: which log lines count as in-request, and whether their
//!   ids match a received span.
//! * `exposition`: enough Prometheus text parsing to find a series.
//! * `trace`: [`SpanRecord`], one span type for both sources, and what spans
//!   tell: service-graph edges, the representative trace.
//! * `waterfall`: a trace drawn as text.
//! * `verify`: clients of the stack's HTTP APIs, their response formats, and
//!   the checklist against the stack.

pub mod checklist;
pub mod correlation;
mod database;
pub mod exposition;
pub mod local_checks;
mod processes;
pub mod run;
pub mod trace;
pub mod verify;
pub mod waterfall;

use std::path::PathBuf;

pub use checklist::{Check, Checklist};
pub use run::{DemoOptions, DemoReport, EnvOverride, Ports, run};
pub use trace::SpanRecord;

/// Why a demo run could not produce a checklist at all. A signal that is
/// missing is not an error: it is a failed [`Check`].
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "{binary} is not built in {directory}: run `cargo build -p {package}` (`make demo` does)"
    )]
    NotBuilt {
        binary: &'static str,
        package: &'static str,
        directory: PathBuf,
    },
    #[error("cannot start {binary}")]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("127.0.0.1:{0} does not make a URL")]
    Url(u16),
    #[error("cannot set up the traffic generator's telemetry")]
    Telemetry(#[from] telemetry::TelemetryError),
    #[error("interrupted; every service that was started has been stopped")]
    Interrupted,
    #[error("cannot make a directory for the services' files")]
    Files(#[source] std::io::Error),
    #[error("the stage names database {0} but the run has no PostgreSQL cluster")]
    NoDatabase(&'static str),
    #[error("cannot start the run's own PostgreSQL cluster")]
    Database(#[from] testkit::PostgresError),
    #[error("cannot copy {source_path} for a service")]
    Copy {
        source_path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}
