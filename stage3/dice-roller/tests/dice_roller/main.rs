//! Stage 3's dice-roller tests: the real dice-roller and a real die-service
//! (reading a specifications file of the test's own) in one test process,
//! exporting to one in-process OTLP receiver.

mod api;
mod helpers;
mod metrics;
mod properties;
mod traces;
