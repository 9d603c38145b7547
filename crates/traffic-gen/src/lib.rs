//! Simulated users for the workshop's services: traffic that leaves traces.
//!
//! A run starts `users` simulated users at once. Each user plays sessions of
//! 1..=`max_requests_per_session` requests with a think time between them
//! (the original workshop's NUM_USERS / MAX_ROLLS_PER_USER, MAX_REQUESTS_PER_USER from
//! stage 2), then gives its place to a new user, until the [`Budget`] is
//! spent: a duration, a request count, or both, whichever comes first. It
//! always stops by itself.
//!
//! From stage 2 a user is a person at the frontend's page ([`Workload::Page`]):
//! the page is loaded, then its form submitted from each page the answer
//! shows, so the dice picked are the ones the page offers. Page loads and
//! rolls are both requests of the summary, each with the page's status.
//! Stage 4's comparison (`compare`) measures `/roll` one at a time against
//! one `/roll-async` batch on the dice-roller itself.
//!
//! Every request is a trace of its own: a root `simulated_request` span and,
//! below it, the CLIENT span of [`telemetry::HttpClient`], which injects W3C
//! `traceparent` into the request. The service's SERVER span continues that
//! trace, so the traffic generator is the first hop of every trace and the
//! first edge of the service graph (`traffic-gen -> <entry service>`).
//!
//! Users are closed-loop, as the original workshop's generator was: a user waits for an
//! answer before thinking and sending the next request, and latency runs
//! from the send to the last byte of the answer. A server that stalls thus
//! shows as a drop in requests per second rather than in the percentiles
//! (docs/pitfalls.md#coordinated-omission). Stage 5's database load test and
//! outage drill hold a schedule instead (`open_loop`).
//!
//! From stage 6 each user session signs in first (its own cookie jar, as a
//! browser of its own) and signs out at the end; the [`Summary`] keeps the
//! passwords typed and the cookies received, for a check that no service
//! ever prints one.
//!
//! The caller owns telemetry: spans go to whichever `tracing` subscriber is
//! current when [`run`] is called (the binary installs one globally; `demo`
//! runs it under a subscriber of its own), and user tasks inherit it.
//!
//! # Layout
//!
//! * `workload`: [`Workload`], what one simulated request is, per stage
//!   scenario, and [`DieMix`], the weighted choice of die.
//! * `users`: the user loop and the shared [`Budget`].
//! * `open_loop`: requests on a fixed schedule, latency from the schedule.
//! * `load`: stage 5's database load test, [`database_load`] and its
//!   [`LoadReport`].
//! * `outage`: stage 5's outage drill, [`outage_drill`] with a
//!   [`DatabaseSwitch`] to stop and start the database, and its
//!   [`OutageReport`].
//! * `compare`: stage 4's comparison of rolls one at a time and at once,
//!   [`compare()`] and its [`Comparison`] table.
//! * `summary`: [`Summary`], requests, errors by status, latency percentiles
//!   and the trace ids worth pasting into Grafana.

mod compare;
mod load;
pub mod open_loop;
mod outage;
mod summary;
mod users;
mod workload;

use std::time::Duration;

pub use compare::{CompareConfig, Comparison, ComparisonRow, Timings, compare, timings};
pub use load::{LoadConfig, LoadReport, database_load, list_dice};
pub use open_loop::Sample;
pub use outage::{DatabaseSwitch, FAILURE_DEADLINE, OutagePlan, OutageReport, outage_drill};
pub use summary::{Outcome, RequestStatus, Summary, TraceRef};
pub use users::{Budget, run};
pub use workload::{Accounts, DieMix, DieMixError, PageState, PlannedRequest, Workload};

/// How much traffic to send, where, and at what pace.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// The entry service, e.g. `http://127.0.0.1:8100`.
    pub base_url: reqwest::Url,
    pub workload: Workload,
    /// Users active at once.
    pub users: usize,
    /// Each user session sends 1..=this many requests, then a new user
    /// takes its place.
    pub max_requests_per_session: u32,
    /// A user waits a random time in this range between two requests.
    pub think_time: (Duration, Duration),
    pub budget: Budget,
    /// A request without an answer after this long counts as a timeout.
    pub request_timeout: Duration,
}

impl TrafficConfig {
    /// Five users, sessions of up to ten requests, 0.2-1 s of thinking, for
    /// `budget`; the pace of someone clicking Roll in a browser. The request
    /// timeout suits the workload (a stage 4 roll may be ten rolls in a row).
    pub fn new(base_url: reqwest::Url, workload: Workload, budget: Budget) -> Self {
        Self {
            base_url,
            request_timeout: workload.request_timeout(),
            workload,
            users: 5,
            max_requests_per_session: 10,
            think_time: (Duration::from_millis(200), Duration::from_secs(1)),
            budget,
        }
    }
}
