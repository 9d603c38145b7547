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
//! * `passwords`: [`PasswordChecks`], argon2 hashing and checking on a
//!   `BoundedBlocking`, each worker reusing one block of memory.
//! * `headers`: [`browser_headers`], the Content-Security-Policy,
//!   `nosniff` and Referrer-Policy headers of every page (tower-http).
//! * `origin`: [`SameOriginLayer`], which refuses state-changing requests a
//!   browser sent from another site's page (cross-site request forgery).
//!
//! Timeouts on connections and case-insensitive media types are part of
//! serving itself: `telemetry::serve` applies them to every service.

mod blocking;
mod headers;
mod origin;
mod passwords;

pub use blocking::{BoundedBlocking, Busy};
pub use headers::{BrowserHeadersLayer, browser_headers, content_security_policy};
pub use origin::{SameOriginLayer, SameOriginService};
pub use passwords::PasswordChecks;

/// The largest form body the workshop's pages accept. Their forms hold a die
/// name, a number and a checkbox, or a user name and a password: a few
/// hundred bytes. A larger body is answered 413 before anything parses it
/// (axum's own default is 2 MB). Apply it with
/// `axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES)`.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
