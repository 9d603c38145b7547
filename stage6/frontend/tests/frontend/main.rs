//! Stage 6's tests: frontend, dice-roller and die-service, all real, in one
//! test process (each on its own runtime and subscriber, as if in three
//! processes), exporting to one in-process OTLP receiver, and the usage
//! receiver the frontend's usage events are routed to.

mod batches;
mod browser;
mod dashboard;
mod failures;
mod forwarding;
mod helpers;
mod hostile;
mod live_config;
mod metrics;
mod propagation;
mod properties;
mod secrets;
mod sign_in;
mod sign_in_flood;
mod usage;
