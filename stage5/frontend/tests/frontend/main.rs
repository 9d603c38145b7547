//! Stage 5's tests: frontend, dice-roller and die-service, all real, in one
//! test process (each on its own runtime and subscriber, as if in three
//! processes), exporting to one in-process OTLP receiver.

mod batches;
mod browser;
mod dashboard;
mod failures;
mod helpers;
mod live_config;
mod metrics;
mod propagation;
mod properties;
