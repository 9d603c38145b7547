//! `make demo` for real (services as processes, traffic, checklist), and the
//! decision logic of `make verify` against recorded stack responses. One test
//! binary, as in zero2prod: modules share helpers and compile once.

mod fake_stack;
mod native;
mod synthesized;
mod verify_fixtures;
mod verify_stages;
