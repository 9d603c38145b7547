//! Stage 2's tests: the frontend and the dice-roller, both real, in one test
//! process (each on its own runtime and subscriber, as if in two processes),
//! exporting to one in-process OTLP receiver.

mod browser;
mod dashboard;
mod failures;
mod helpers;
mod metrics;
mod propagation;
mod properties;
