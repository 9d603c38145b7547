//! The stack as the repository has it: every compose file, config and
//! dashboard parsed and cross-checked (see the crate docs for why nothing
//! here starts a container). One test binary; `files` loads what the tests
//! read.

mod alloy;
mod compose;
mod configs;
mod dashboards;
mod exemplars;
mod files;
mod grafana;
mod logs;
mod makefile;
mod references;
mod snapshots;
