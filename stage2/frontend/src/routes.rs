use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use telemetry::OpenTelemetrySpanExt;
use tracing::{Span, error, info, warn};

use crate::AppState;
use crate::backend::CallError;
use crate::pages::{Outcome, Page, TraceLink};

/// The dice the page offers; the only values `die_type` labels take.
pub const DICE: &[&str] = &["fair", "risky"];

fn known_die(name: &str) -> Option<&'static str> {
    DICE.iter().copied().find(|die| *die == name)
}

/// `GET /`: the form.
pub async fn index() -> Response {
    Page {
        dice: DICE,
        selected: DICE[0],
        outcome: None,
        trace: None,
    }
    .into_response_with(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct RollForm {
    die: String,
}

/// `POST /roll` (the form's Roll button): asks the dice-roller and shows what
/// happened, with the trace id of this very request.
pub async fn roll(
    State(state): State<AppState>,
    form: Result<Form<RollForm>, FormRejection>,
) -> Response {
    let trace = telemetry::current_trace_id().map(|id| TraceLink::new(&state.grafana_url, id));
    if form_too_large(&form) {
        warn!("oversized form refused");
        let outcome = Outcome::Failed {
            headline: "Form too large".to_owned(),
            detail: format!(
                "This page's form is a few bytes; at most {} are accepted.",
                hardening::MAX_FORM_BYTES
            ),
            backend_status: None,
            backend_body: None,
        };
        return page(DICE[0], outcome, trace, StatusCode::PAYLOAD_TOO_LARGE);
    }
    let requested = form.ok().map(|Form(form)| form.die);
    let Some(die) = requested.as_deref().and_then(known_die) else {
        let shown: String = requested.unwrap_or_default().chars().take(32).collect();
        warn!(die = %shown, "unknown die requested");
        let outcome = Outcome::Failed {
            headline: "Unknown die".to_owned(),
            detail: format!("Choose one of: {}.", DICE.join(", ")),
            backend_status: None,
            backend_body: None,
        };
        return page(DICE[0], outcome, trace, StatusCode::BAD_REQUEST);
    };

    // Stage 2: business attributes on the request's SERVER span, so Tempo can
    // find "every risky roll that failed" across both services.
    let span = Span::current();
    span.set_attribute("die.type", die);
    span.set_attribute("backend.url", state.dice_roller.roll_url().to_owned());
    state.metrics.record_click(die);
    info!(die_type = die, "button clicked");

    match state.dice_roller.roll(die).await {
        Ok(answer) => {
            span.set_attribute("backend.status_code", i64::from(answer.status));
            state
                .metrics
                .record_backend_call(die, &answer.status.to_string(), answer.elapsed);
            info!(
                die_type = die,
                backend_status = answer.status,
                "backend response"
            );
            let (outcome, status) = match answer.roll() {
                Some(value) => (
                    Outcome::Rolled {
                        die,
                        value,
                        backend_status: answer.status,
                        backend_body: answer.body,
                    },
                    StatusCode::OK,
                ),
                None => (
                    Outcome::Failed {
                        headline: "The dice-roller could not roll".to_owned(),
                        detail: answer
                            .error_message()
                            .unwrap_or_else(|| "It answered with an error.".to_owned()),
                        backend_status: Some(answer.status),
                        backend_body: Some(answer.body),
                    },
                    StatusCode::BAD_GATEWAY,
                ),
            };
            page(die, outcome, trace, status)
        }
        Err(failure) => {
            state
                .metrics
                .record_backend_call(die, failure.label(), failure.elapsed());
            error!(
                die_type = die,
                error = &failure as &dyn std::error::Error,
                "backend request failed"
            );
            let (headline, detail, status) = match failure {
                CallError::TimedOut { .. } => (
                    "The dice-roller is too slow",
                    "It did not answer in time. Nothing was rolled; try again.",
                    StatusCode::GATEWAY_TIMEOUT,
                ),
                CallError::Unreachable { .. } => (
                    "The dice-roller is not answering",
                    "It may be down or restarting. Nothing was rolled; try again in a moment.",
                    StatusCode::SERVICE_UNAVAILABLE,
                ),
            };
            let outcome = Outcome::Failed {
                headline: headline.to_owned(),
                detail: detail.to_owned(),
                backend_status: None,
                backend_body: None,
            };
            page(die, outcome, trace, status)
        }
    }
}

fn page(
    selected: &'static str,
    outcome: Outcome,
    trace: Option<TraceLink>,
    status: StatusCode,
) -> Response {
    Page {
        dice: DICE,
        selected,
        outcome: Some(outcome),
        trace,
    }
    .into_response_with(status)
}

/// Whether the form was refused for its size (over `MAX_FORM_BYTES`): a 413,
/// where any other unreadable form is a 400.
fn form_too_large<T>(form: &Result<T, FormRejection>) -> bool {
    form.as_ref()
        .is_err_and(|rejection| rejection.status() == StatusCode::PAYLOAD_TOO_LARGE)
}
