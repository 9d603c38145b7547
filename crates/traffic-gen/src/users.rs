//! Simulated users, and the budget that stops them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use opentelemetry::trace::TraceContextExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use telemetry::HttpClient;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::field::Empty;
use tracing::instrument::WithSubscriber;
use tracing::{Instrument, info};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::TrafficConfig;
use crate::summary::{Outcome, Recorder, RequestStatus, Summary, send_and_read_body};
use crate::workload::{PageState, PlannedRequest};

/// How long a run lasts when neither a duration nor a request count is given.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(15);

/// When a run stops: once `duration` has passed or `requests` have been
/// sent, whichever comes first. Requests in flight at that moment finish
/// (each bounded by the request timeout), so a run takes at most the
/// duration plus one request timeout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
}

impl Budget {
    /// A budget from optional limits; with neither, [`DEFAULT_DURATION`], so a
    /// run is always bounded.
    pub fn new(duration: Option<Duration>, requests: Option<u64>) -> Self {
        match (duration, requests) {
            (None, None) => Self::duration(DEFAULT_DURATION),
            _ => Self { duration, requests },
        }
    }

    pub fn duration(duration: Duration) -> Self {
        Self {
            duration: Some(duration),
            requests: None,
        }
    }

    pub fn requests(requests: u64) -> Self {
        Self {
            duration: None,
            requests: Some(requests),
        }
    }
}

/// State every user shares: what is left of the budget and what happened.
struct Shared {
    deadline: Option<Instant>,
    /// Requests not yet sent, when the budget counts requests.
    tickets: Option<AtomicU64>,
    recorder: Mutex<Recorder>,
    progress: ProgressBar,
    counts_requests: bool,
}

impl Shared {
    /// Whether the user may send one more request; takes it from the budget.
    fn take_ticket(&self) -> bool {
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return false;
        }
        match &self.tickets {
            Some(tickets) => tickets
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                    left.checked_sub(1)
                })
                .is_ok(),
            None => true,
        }
    }

    /// Thinks for `think`, cut short by the deadline.
    async fn think(&self, think: Duration) {
        let until = Instant::now() + think;
        let until = self.deadline.map_or(until, |deadline| until.min(deadline));
        tokio::time::sleep_until(until).await;
    }

    fn record_secret(&self, secret: &str) {
        self.recorder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .secret(secret);
    }

    fn record(&self, outcome: Outcome) {
        let mut recorder = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        recorder.record(outcome);
        if self.counts_requests {
            self.progress.inc(1);
        }
        self.progress.set_message(format!(
            "{} requests, {} errors",
            recorder.requests(),
            recorder.error_count()
        ));
    }
}

/// Runs the traffic `config` describes through `client` and reports what
/// happened. `progress` shows the run (pass [`ProgressBar::hidden`] for
/// none); it is cleared at the end.
///
/// Spans go to the subscriber current when this is called: every user task
/// runs under it.
pub async fn run(config: &TrafficConfig, client: &HttpClient, progress: &ProgressBar) -> Summary {
    let started = Instant::now();
    let budget = config.budget;
    let counts_requests = budget.duration.is_none();
    let shared = Arc::new(Shared {
        deadline: budget.duration.map(|duration| started + duration),
        tickets: budget.requests.map(AtomicU64::new),
        recorder: Mutex::new(Recorder::new()),
        progress: progress.clone(),
        counts_requests,
    });
    style_progress(progress, budget);

    let mut users = JoinSet::new();
    for user in 0..config.users.max(1) {
        let user_loop = simulate_user(user, config.clone(), client.clone(), shared.clone());
        users.spawn(user_loop.with_current_subscriber());
    }
    let clock = budget
        .duration
        .filter(|_| !counts_requests)
        .map(|_| tokio::spawn(show_elapsed(progress.clone(), started)));
    while let Some(joined) = users.join_next().await {
        if let Err(error) = joined {
            tracing::error!(%error, "a simulated user failed");
        }
    }
    if let Some(clock) = clock {
        clock.abort();
    }
    progress.finish_and_clear();

    let elapsed = started.elapsed();
    // Every user has finished; take what they recorded.
    let recorder = std::mem::replace(
        &mut *shared.recorder.lock().unwrap_or_else(|e| e.into_inner()),
        Recorder::new(),
    );
    let target = config.base_url.as_str().trim_end_matches('/').to_owned();
    let summary = recorder.finish(target, config.users, elapsed);
    info!(
        requests = summary.requests,
        errors = summary.error_count(),
        "traffic finished"
    );
    summary
}

fn style_progress(progress: &ProgressBar, budget: Budget) {
    let (length, unit) = match (budget.duration, budget.requests) {
        (Some(duration), _) => (duration.as_secs().max(1), "s"),
        (None, Some(requests)) => (requests, "requests"),
        (None, None) => (0, ""),
    };
    progress.set_length(length);
    let template = format!("{{spinner}} [{{bar:40}}] {{pos}}/{{len}} {unit}  {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        progress.set_style(style.progress_chars("=> "));
    }
    progress.enable_steady_tick(Duration::from_millis(200));
}

/// Moves a duration-budget bar along with the clock; aborted when the run ends.
async fn show_elapsed(progress: ProgressBar, started: Instant) {
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    loop {
        ticks.tick().await;
        progress.set_position(started.elapsed().as_secs());
    }
}

/// One place in the user pool: sessions of requests with think time, each
/// session a new simulated user, until the budget is spent.
async fn simulate_user(
    first_user: usize,
    config: TrafficConfig,
    client: HttpClient,
    shared: Arc<Shared>,
) {
    let mut rng = StdRng::from_os_rng();
    let mut user = first_user;
    loop {
        let session = rng.random_range(1..=config.max_requests_per_session.max(1));
        // A new user has seen no page yet and, from stage 6, has a browser
        // of their own: a cookie jar for the session cookie.
        let mut page = PageState::default();
        let (client, jar) = match browser(&client, &config) {
            Ok(browser) => browser,
            Err(error) => {
                tracing::error!(%error, "cannot make a client with a cookie store");
                return;
            }
        };
        let mut sent = 0;
        while sent < session {
            if !shared.take_ticket() {
                info!(user, requests = sent, "user finished");
                return;
            }
            let planned = config.workload.plan(&config.base_url, &page, &mut rng);
            send_and_read(&client, planned, user, &config, &mut page, &shared).await;
            if let Some(jar) = &jar {
                remember_cookies(jar, &config.base_url, &shared);
            }
            sent += 1;
            let (least, most) = config.think_time;
            let think = rng.random_range(least..=most.max(least));
            shared.think(think).await;
        }
        if page.signed_in() && shared.take_ticket() {
            let planned = config.workload.sign_out(&config.base_url);
            send_and_read(&client, planned, user, &config, &mut page, &shared).await;
            sent += 1;
        }
        info!(user, requests = sent, "user finished");
        user += config.users.max(1);
    }
}

/// The client a session uses: the shared one, or, when the workload signs
/// in, one with a cookie jar of its own.
fn browser(
    client: &HttpClient,
    config: &TrafficConfig,
) -> reqwest::Result<(HttpClient, Option<Arc<reqwest::cookie::Jar>>)> {
    if !config.workload.signs_in() {
        return Ok((client.clone(), None));
    }
    let jar = Arc::new(reqwest::cookie::Jar::default());
    Ok((client.with_cookie_store(jar.clone())?, Some(jar)))
}

/// Sends `planned`, records its outcome (and the password it typed), and
/// updates what the user has seen.
async fn send_and_read(
    client: &HttpClient,
    planned: PlannedRequest,
    user: usize,
    config: &TrafficConfig,
    page: &mut PageState,
    shared: &Shared,
) {
    if let Some(password) = planned.password() {
        shared.record_secret(password);
    }
    let reads_pages = config.workload.reads_pages();
    let (outcome, body) = simulated_request(client, planned, user, reads_pages).await;
    if let (RequestStatus::Http(status), Some(body)) = (outcome.status, body) {
        page.saw(status, &body);
    } else if reads_pages {
        // No page came back: the user reloads.
        *page = PageState::default();
    }
    shared.record(outcome);
}

/// Remembers the cookie values the jar holds for the frontend, so a check
/// can make sure no service ever prints them.
fn remember_cookies(jar: &reqwest::cookie::Jar, url: &reqwest::Url, shared: &Shared) {
    use reqwest::cookie::CookieStore as _;
    let Some(header) = jar.cookies(url) else {
        return;
    };
    let Ok(text) = header.to_str() else {
        return;
    };
    for cookie in text.split(';') {
        if let Some((_, value)) = cookie.trim().split_once('=')
            && !value.is_empty()
        {
            shared.record_secret(value);
        }
    }
}

/// Sends one request in a trace of its own and times it; returns the body
/// too when `keep_body` (a page the user reads).
///
/// The root span stands for the user's action; the client's CLIENT span
/// below it is the one whose context travels in `traceparent`.
async fn simulated_request(
    client: &HttpClient,
    planned: PlannedRequest,
    user: usize,
    keep_body: bool,
) -> (Outcome, Option<String>) {
    let span = tracing::info_span!(
        parent: None,
        "simulated_request",
        "traffic.action" = planned.action,
        "die.type" = planned.die.as_str(),
        "traffic.user" = user as i64,
        "http.response.status_code" = Empty,
        "otel.status_code" = Empty,
    );
    let trace_id = trace_id_of(&span);
    let started = Instant::now();
    let (status, body) = async {
        let builder = match &planned.form {
            Some(form) => client.request_builder().post(planned.url).form(form),
            None => client.request_builder().get(planned.url),
        };
        let (status, body) = send_and_read_body(client, builder.build()).await;
        // The latency covers the whole body, as a user sees it.
        let body = body
            .filter(|_| keep_body)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        (status, body)
    }
    .instrument(span.clone())
    .await;
    let latency = started.elapsed();
    status.record_on(&span);
    let outcome = Outcome {
        status,
        latency,
        trace_id,
    };
    (outcome, body)
}

/// The trace id OpenTelemetry gave `span`, as 32 lower-case hex digits.
fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let otel_span = context.span();
    let span_context = otel_span.span_context();
    span_context
        .is_valid()
        .then(|| format!("{:032x}", span_context.trace_id()))
}
