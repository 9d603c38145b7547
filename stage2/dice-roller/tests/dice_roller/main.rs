//! Stage 2's dice-roller tests: each spawns the real dice-roller (the same router and the
//! same `telemetry::serve_with_shutdown` as `main`) on 127.0.0.1:0 against an
//! in-process OTLP receiver, and asserts on what comes out: exported spans,
//! captured log lines, `/metrics`, and a real Prometheus.

mod api;
mod helpers;
mod logs;
mod metrics;
mod prometheus;
mod properties;
mod shutdown;
mod traces;
