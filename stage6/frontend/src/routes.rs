use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use telemetry::OpenTelemetrySpanExt;
use tracing::{Span, error, info, warn};

use crate::AppState;
use crate::auth::{CurrentUser, SignedIn};
use crate::backend::{Answer, CallError};
use crate::pages::{Outcome, Page, TraceLink};
use crate::usage;

/// `GET /`: the form, offering the dice the die-service lists right now.
/// Signed-in people only (`CurrentUser` sends others to `/sign-in`).
pub async fn index(State(state): State<AppState>, current: CurrentUser) -> Response {
    let who = current.signed_in;
    usage::page_view(&who);
    match dice(&state, &who).await {
        Ok(dice) => Page {
            user: who.user,
            selected: dice.first().cloned().unwrap_or_default(),
            dice,
            times: 1,
            concurrently: false,
            outcome: None,
            trace: None,
        }
        .into_response_with(StatusCode::OK),
        Err(response) => response,
    }
}

/// The most dice one click may roll.
pub const MAX_ROLLS: u32 = 10;

#[derive(Deserialize)]
pub struct RollForm {
    die: String,
    /// "Number of rolls"; 1 when left empty.
    times: Option<String>,
    /// "Use async rolling": `on` when ticked, absent otherwise.
    #[serde(rename = "async")]
    concurrently: Option<String>,
}

/// `POST /roll` (the form's Roll button): asks the dice-roller and shows what
/// happened, with the trace id of this very request.
pub async fn roll(
    State(state): State<AppState>,
    current: CurrentUser,
    form: Result<Form<RollForm>, FormRejection>,
) -> Response {
    let who = current.signed_in;
    let trace = trace_link(&state);
    let dice = match dice(&state, &who).await {
        Ok(dice) => dice,
        Err(response) => return response,
    };
    let form = match form {
        Ok(Form(form)) => Some(form),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large(who, dice, trace);
        }
        Err(_) => None,
    };
    let concurrently = form
        .as_ref()
        .is_some_and(|form| form.concurrently.is_some());
    let requested = form.as_ref().map(|form| form.die.clone());
    // Only a die the die-service listed goes further, and only such a die
    // becomes a `die_type` label value.
    let Some(die) = requested
        .as_ref()
        .and_then(|die| dice.iter().find(|known| *known == die))
        .cloned()
    else {
        let shown: String = requested.unwrap_or_default().chars().take(32).collect();
        warn!(die = %shown, "unknown die requested");
        let detail = format!("Choose one of: {}.", dice.join(", "));
        let selected = dice.first().cloned().unwrap_or_default();
        let view = View {
            user: who.user,
            dice,
            selected,
            times: 1,
            concurrently,
            trace,
        };
        return view.failed("Unknown die", detail, StatusCode::BAD_REQUEST);
    };
    let times = match form
        .as_ref()
        .and_then(|form| form.times.as_deref())
        .map(str::trim)
    {
        None | Some("") => Some(1),
        Some(times) => times
            .parse()
            .ok()
            .filter(|times| (1..=MAX_ROLLS).contains(times)),
    };
    let view = View {
        user: who.user.clone(),
        dice,
        selected: die.clone(),
        times: times.unwrap_or(1),
        concurrently,
        trace,
    };
    let Some(times) = times else {
        warn!("invalid number of rolls requested");
        let detail = format!("The number of rolls is a whole number from 1 to {MAX_ROLLS}.");
        return view.failed("Invalid number of rolls", detail, StatusCode::BAD_REQUEST);
    };

    // Stage 2: business attributes on the request's SERVER span, so Tempo can
    // find "every risky roll that failed" across both services.
    let span = Span::current();
    span.set_attribute("die.type", die.clone());
    span.set_attribute("backend.url", state.dice_roller.roll_url().to_owned());
    state.metrics.record_click(&die);
    info!(die_type = %die, times, concurrently, "button clicked");

    let result = if concurrently {
        state.metrics.record_async_request(times);
        roll_at_once(&state, &die, times).await
    } else {
        roll_one_at_a_time(&state, &die, times).await
    };
    // Stage 6: the click, as a product owner sees it, is a usage event.
    match result {
        Ok((rolls, last)) => {
            usage::roll(
                &who,
                &die,
                times,
                concurrently,
                "rolled",
                Some(rolls.iter().sum()),
            );
            view.rolled(rolls, concurrently, last)
        }
        Err(RollFailure::Backend(answer)) => {
            usage::roll(&who, &die, times, concurrently, "failed", None);
            view.backend_failed(answer)
        }
        Err(RollFailure::Unavailable(outcome, status)) => {
            usage::roll(&who, &die, times, concurrently, "unavailable", None);
            view.page(outcome, status)
        }
    }
}

/// The page for a form far larger than the page's own: 413.
fn too_large(who: SignedIn, dice: Vec<String>, trace: Option<TraceLink>) -> Response {
    warn!("oversized form refused");
    let view = View {
        user: who.user,
        selected: dice.first().cloned().unwrap_or_default(),
        dice,
        times: 1,
        concurrently: false,
        trace,
    };
    let detail = format!(
        "This page's form is a few bytes; at most {} are accepted.",
        hardening::MAX_FORM_BYTES
    );
    view.failed("Form too large", detail, StatusCode::PAYLOAD_TOO_LARGE)
}

/// Why a roll produced no total.
enum RollFailure {
    /// The dice-roller answered with an error (a die failed, ...).
    Backend(Answer),
    /// A service could not be reached: what to show, with what status.
    Unavailable(Outcome, StatusCode),
}

/// One `/roll-async` request for all the dice: the values and the answer.
async fn roll_at_once(
    state: &AppState,
    die: &str,
    times: u32,
) -> Result<(Vec<i64>, Answer), RollFailure> {
    let answer = call(state, die, state.dice_roller.roll_async(die, times).await)
        .map_err(|(outcome, status)| RollFailure::Unavailable(outcome, status))?;
    match answer.batch() {
        Some(rolls) => Ok((rolls, answer)),
        None => Err(RollFailure::Backend(answer)),
    }
}

/// Stage 4: the other way, for comparison: one `/roll` request per die, each
/// waiting for the last, so their spans sit end to end in the waterfall.
async fn roll_one_at_a_time(
    state: &AppState,
    die: &str,
    times: u32,
) -> Result<(Vec<i64>, Answer), RollFailure> {
    let mut rolls = Vec::new();
    loop {
        let answer = call(state, die, state.dice_roller.roll(die).await)
            .map_err(|(outcome, status)| RollFailure::Unavailable(outcome, status))?;
        match answer.roll() {
            Some(value) => rolls.push(value),
            None => return Err(RollFailure::Backend(answer)),
        }
        if rolls.len() == times as usize {
            return Ok((rolls, answer));
        }
    }
}

/// Records a call to the dice-roller in the span, the log and the metrics;
/// a call that got no answer becomes the page saying so.
fn call(
    state: &AppState,
    die: &str,
    result: Result<Answer, CallError>,
) -> Result<Answer, (Outcome, StatusCode)> {
    match result {
        Ok(answer) => {
            Span::current().set_attribute("backend.status_code", i64::from(answer.status));
            state
                .metrics
                .record_backend_call(die, &answer.status.to_string(), answer.elapsed);
            info!(die_type = %die, backend_status = answer.status, "backend response");
            Ok(answer)
        }
        Err(failure) => {
            state
                .metrics
                .record_backend_call(die, failure.label(), failure.elapsed());
            error!(die_type = %die, error = &failure as &dyn std::error::Error, "backend request failed");
            Err(unavailable("dice-roller", &failure))
        }
    }
}

/// What the page shows besides the outcome: the form as submitted, and the
/// request's trace.
struct View {
    user: String,
    dice: Vec<String>,
    selected: String,
    times: u32,
    concurrently: bool,
    trace: Option<TraceLink>,
}

impl View {
    fn rolled(self, rolls: Vec<i64>, concurrently: bool, last: Answer) -> Response {
        let outcome = Outcome::Rolled {
            die: self.selected.clone(),
            total: rolls.iter().sum(),
            rolls,
            concurrently,
            backend_status: last.status,
            backend_body: last.body,
        };
        self.page(outcome, StatusCode::OK)
    }

    fn backend_failed(self, answer: Answer) -> Response {
        let outcome = Outcome::Failed {
            headline: "The dice-roller could not roll".to_owned(),
            detail: answer
                .error_message()
                .unwrap_or_else(|| "It answered with an error.".to_owned()),
            backend_status: Some(answer.status),
            backend_body: Some(answer.body),
        };
        self.page(outcome, StatusCode::BAD_GATEWAY)
    }

    fn failed(self, headline: &str, detail: String, status: StatusCode) -> Response {
        let outcome = Outcome::Failed {
            headline: headline.to_owned(),
            detail,
            backend_status: None,
            backend_body: None,
        };
        self.page(outcome, status)
    }

    fn page(self, outcome: Outcome, status: StatusCode) -> Response {
        Page {
            user: self.user,
            dice: self.dice,
            selected: self.selected,
            times: self.times,
            concurrently: self.concurrently,
            outcome: Some(outcome),
            trace: self.trace,
        }
        .into_response_with(status)
    }
}

/// The dice the die-service lists, or the error page saying it cannot.
async fn dice(state: &AppState, who: &SignedIn) -> Result<Vec<String>, Response> {
    match state.die_list.identifiers().await {
        Ok(dice) => {
            info!(dice = dice.len(), "die list fetched");
            Ok(dice)
        }
        Err(failure) => {
            error!(
                error = &failure as &dyn std::error::Error,
                "die list fetch failed"
            );
            let (mut outcome, status) = unavailable("die-service", &failure);
            if let (Outcome::Failed { detail, .. }, CallError::Unreachable { .. }) =
                (&mut outcome, &failure)
            {
                *detail = "Without it there are no dice to pick; try again in a moment.".to_owned();
            }
            let view = View {
                user: who.user.clone(),
                dice: Vec::new(),
                selected: String::new(),
                times: 1,
                concurrently: false,
                trace: trace_link(state),
            };
            Err(view.page(outcome, status))
        }
    }
}

/// What to tell a person when `peer` gave no usable answer.
fn unavailable(peer: &str, failure: &CallError) -> (Outcome, StatusCode) {
    let (headline, detail, status) = match failure {
        CallError::TimedOut { .. } => (
            format!("The {peer} is too slow"),
            "It did not answer in time. Nothing was rolled; try again.".to_owned(),
            StatusCode::GATEWAY_TIMEOUT,
        ),
        CallError::Unreachable { .. } => (
            format!("The {peer} is not answering"),
            "It may be down or restarting. Nothing was rolled; try again in a moment.".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        // Stage 5: a peer that can say what is wrong (its database is down)
        // gets its words passed on, rather than a generic failure.
        CallError::Status {
            reason: Some(reason),
            ..
        } => (
            format!("The {peer} is failing"),
            format!("It says: {reason}."),
            StatusCode::BAD_GATEWAY,
        ),
        CallError::Status { reason: None, .. } => (
            format!("The {peer} is failing"),
            "It answered with an error. Nothing was rolled; try again in a moment.".to_owned(),
            StatusCode::BAD_GATEWAY,
        ),
    };
    let outcome = Outcome::Failed {
        headline,
        detail,
        backend_status: None,
        backend_body: None,
    };
    (outcome, status)
}

fn trace_link(state: &AppState) -> Option<TraceLink> {
    telemetry::current_trace_id().map(|id| TraceLink::new(&state.grafana_url, id))
}
