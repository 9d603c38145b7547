//! Defences a workshop service puts between itself and hostile input.
//!
//! A workshop runs on shared Wi-Fi, and its services are read by people who
//! will copy them. Each mechanism here bounds one thing an attacker could
//! otherwise make unbounded, and is small enough to read in one sitting.
//!
//! # Layout
//!
//! * `blocking`: [`BoundedBlocking`], CPU-heavy work (password hashing) on
//!   tokio's blocking threads, a few at a time, with a bounded queue: a flood
//!   of requests gets "busy, retry later" instead of the process's memory.
//! * `origin`: [`SameOriginLayer`], which refuses state-changing requests a
//!   browser sent from another site's page (cross-site request forgery).
//!
//! Timeouts on connections and case-insensitive media types are part of
//! serving itself: `telemetry::serve` applies them to every service.

mod blocking;
mod origin;

pub use blocking::{BoundedBlocking, Busy};
pub use origin::{SameOriginLayer, SameOriginService};
