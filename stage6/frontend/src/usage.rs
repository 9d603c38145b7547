//! Usage events: the log lines a product owner reads, routed apart.
//!
//! Stage 6: a usage event is an ordinary JSON log line on stdout with
//! `"usage": true`. Alloy sends every line to Loki as before, and through a
//! second pipeline only these to the usage receiver, which stores them in
//! PostgreSQL for analysts. Each carries `event`, the `user` (when it is a
//! known account), a `session` key (never the session id or the cookie), the
//! event's business fields, and, like every line, `trace_id` and `span_id`.
//! No password, hash, cookie or session id is ever a field here.

use tracing::info;

use crate::auth::SignedIn;

/// User names are typed by people: cap what goes into a line.
fn shown(user: &str) -> String {
    user.chars().take(64).collect()
}

pub fn sign_in(who: &SignedIn) {
    info!(usage = true, event = "sign_in", user = %shown(&who.user), session = %who.key, "usage event");
}

/// `known_account` is the name as typed when it is an account, `None` when it
/// is not: a name that is no account may be a password typed in the wrong
/// box, so it is never written down.
pub fn sign_in_failed(known_account: Option<&str>) {
    match known_account {
        Some(user) => {
            info!(usage = true, event = "sign_in_failed", user = %shown(user), known_user = true, "usage event")
        }
        None => info!(
            usage = true,
            event = "sign_in_failed",
            known_user = false,
            "usage event"
        ),
    }
}

/// Refused without checking the password: too many recent failures.
pub fn sign_in_throttled(known_account: Option<&str>) {
    match known_account {
        Some(user) => {
            info!(usage = true, event = "sign_in_throttled", user = %shown(user), known_user = true, "usage event")
        }
        None => info!(
            usage = true,
            event = "sign_in_throttled",
            known_user = false,
            "usage event"
        ),
    }
}

pub fn sign_out(who: &SignedIn, session_seconds: u64) {
    info!(usage = true, event = "sign_out", user = %shown(&who.user), session = %who.key, session_seconds, "usage event");
}

pub fn page_view(who: &SignedIn) {
    info!(usage = true, event = "page_view", user = %shown(&who.user), session = %who.key, "usage event");
}

/// A click on Roll and what came of it: `outcome` is `rolled`, `failed` (a
/// die failed) or `unavailable` (a service could not be reached); `total`
/// only when rolled.
pub fn roll(
    who: &SignedIn,
    die: &str,
    times: u32,
    concurrently: bool,
    outcome: &str,
    total: Option<i64>,
) {
    info!(
        usage = true,
        event = "roll",
        user = %shown(&who.user),
        session = %who.key,
        die,
        times,
        "async" = concurrently,
        outcome,
        total,
        "usage event"
    );
}
