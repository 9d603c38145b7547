//! What telemetry costs a request, measured; and whether memory stays flat
//! over minutes of traffic.
//!
//! `make bench` runs the `bench` binary: it starts `bench-server` (the stage 1
//! dice-roller, see that binary's header) once per [`Mode`] and round, pinned
//! to one core, loads it with wrk pinned to the other, and writes the medians
//! into `BENCHMARKS.md`. `make soak` runs the `soak` binary: stage 4's three
//! services at a fixed request rate, their memory sampled as it goes.
//!
//! # Layout
//!
//! * `server`: [`ServerProcess`], a service as a child process pinned to a
//!   core: readiness, `/metrics`, peak memory, and how long SIGTERM takes.
//! * `wrk`: [`run_wrk`], one wrk run and its numbers, read from a Lua `done`
//!   hook rather than from wrk's human-readable text.
//! * `callgrind`: [`instructions_per_request`], user-space instructions per
//!   request from two callgrind runs of different lengths.
//! * `report`: [`Sample`], [`Report`] and the markdown table that
//!   `BENCHMARKS.md` carries between its markers.
//! * `machine`: what the figures were measured on.

mod callgrind;
mod machine;
mod report;
mod server;
mod wrk;

pub use callgrind::{CallgrindRun, instructions_per_request};
pub use machine::Machine;
pub use report::{
    ModeSummary, Report, Sample, SpanCounts, median, replace_between_markers, replace_section,
};
pub use server::{ServerProcess, pin_current_process, pinned, read_vm_hwm_kib, read_vm_rss_kib};
pub use wrk::{REPORT_SCRIPT as WRK_REPORT_SCRIPT, WrkResult, run_wrk};

/// Why a benchmark step failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start {program}; is it installed?")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// What a run of the dice-roller has switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// The router and handlers with no telemetry at all: the limit.
    Bare,
    /// Everything on: spans exported to a collector that accepts them at
    /// once, JSON logs written to a file, metrics.
    Full,
    /// Everything on, spans exported to a port nobody listens on.
    DeadCollector,
    /// Everything on, spans exported to a collector that answers after 5 s.
    SlowCollector,
    /// `full` with one trace in ten sampled
    /// (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `_ARG=0.1`): what
    /// head sampling saves, for comparison; not one of the targets.
    Sampled,
    /// The same router instrumented with the ready-made crates instead of
    /// `crates/telemetry`: init-tracing-opentelemetry's production preset
    /// (JSON logs on stdout, spans over OTLP/HTTP to the same collector as
    /// `full`), axum-tracing-opentelemetry's `OtelAxumLayer`, axum-prometheus.
    Recipe,
}

impl Mode {
    pub const ALL: [Mode; 6] = [
        Mode::Bare,
        Mode::Full,
        Mode::DeadCollector,
        Mode::SlowCollector,
        Mode::Sampled,
        Mode::Recipe,
    ];

    /// The name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Bare => "bare",
            Mode::Full => "full",
            Mode::DeadCollector => "dead-collector",
            Mode::SlowCollector => "slow-collector",
            Mode::Sampled => "sampled",
            Mode::Recipe => "recipe",
        }
    }

    /// Whether the server writes JSON logs (to the file the harness gives
    /// it as stdout).
    pub fn has_telemetry(self) -> bool {
        self != Mode::Bare
    }

    /// Whether the server runs `crates/telemetry`, whose `/metrics` counts
    /// requests served and spans exported and dropped.
    pub fn uses_telemetry_crate(self) -> bool {
        !matches!(self, Mode::Bare | Mode::Recipe)
    }
}
