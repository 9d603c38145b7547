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

/// `GET /`: the form, offering the dice the die-service lists right now.
pub async fn index(State(state): State<AppState>) -> Response {
    match dice(&state).await {
        Ok(dice) => {
            let selected = dice.first().cloned().unwrap_or_default();
            page(dice, selected, None, None, StatusCode::OK)
        }
        Err(response) => response,
    }
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
    let trace = trace_link(&state);
    let dice = match dice(&state).await {
        Ok(dice) => dice,
        Err(response) => return response,
    };
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
        let selected = dice.first().cloned().unwrap_or_default();
        let status = StatusCode::PAYLOAD_TOO_LARGE;
        return page(dice, selected, Some(outcome), trace, status);
    }
    let requested = form.ok().map(|Form(form)| form.die);
    // Only a die the die-service listed goes further, and only such a die
    // becomes a `die_type` label value.
    let Some(die) = requested
        .as_ref()
        .and_then(|die| dice.iter().find(|known| *known == die))
        .cloned()
    else {
        let shown: String = requested.unwrap_or_default().chars().take(32).collect();
        warn!(die = %shown, "unknown die requested");
        let outcome = Outcome::Failed {
            headline: "Unknown die".to_owned(),
            detail: format!("Choose one of: {}.", dice.join(", ")),
            backend_status: None,
            backend_body: None,
        };
        let selected = dice.first().cloned().unwrap_or_default();
        return page(
            dice,
            selected,
            Some(outcome),
            trace,
            StatusCode::BAD_REQUEST,
        );
    };

    // Stage 2: business attributes on the request's SERVER span, so Tempo can
    // find "every risky roll that failed" across both services.
    let span = Span::current();
    span.set_attribute("die.type", die.clone());
    span.set_attribute("backend.url", state.dice_roller.roll_url().to_owned());
    state.metrics.record_click(&die);
    info!(die_type = %die, "button clicked");

    match state.dice_roller.roll(&die).await {
        Ok(answer) => {
            span.set_attribute("backend.status_code", i64::from(answer.status));
            state
                .metrics
                .record_backend_call(&die, &answer.status.to_string(), answer.elapsed);
            info!(die_type = %die, backend_status = answer.status, "backend response");
            let (outcome, status) = match answer.roll() {
                Some(value) => (
                    Outcome::Rolled {
                        die: die.clone(),
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
            page(dice, die, Some(outcome), trace, status)
        }
        Err(failure) => {
            state
                .metrics
                .record_backend_call(&die, failure.label(), failure.elapsed());
            error!(die_type = %die, error = &failure as &dyn std::error::Error, "backend request failed");
            let (outcome, status) = unavailable("dice-roller", &failure);
            page(dice, die, Some(outcome), trace, status)
        }
    }
}

/// The dice the die-service lists, or the error page saying it cannot.
async fn dice(state: &AppState) -> Result<Vec<String>, Response> {
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
            if let Outcome::Failed { detail, .. } = &mut outcome {
                *detail = "Without it there are no dice to pick; try again in a moment.".to_owned();
            }
            Err(page(
                Vec::new(),
                String::new(),
                Some(outcome),
                trace_link(state),
                status,
            ))
        }
    }
}

/// What to tell a person when `peer` gave no usable answer.
fn unavailable(peer: &str, failure: &CallError) -> (Outcome, StatusCode) {
    let (headline, detail, status) = match failure {
        CallError::TimedOut { .. } => (
            format!("The {peer} is too slow"),
            "It did not answer in time. Nothing was rolled; try again.",
            StatusCode::GATEWAY_TIMEOUT,
        ),
        CallError::Unreachable { .. } => (
            format!("The {peer} is not answering"),
            "It may be down or restarting. Nothing was rolled; try again in a moment.",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        CallError::Status { .. } => (
            format!("The {peer} is failing"),
            "It answered with an error. Nothing was rolled; try again in a moment.",
            StatusCode::BAD_GATEWAY,
        ),
    };
    let outcome = Outcome::Failed {
        headline,
        detail: detail.to_owned(),
        backend_status: None,
        backend_body: None,
    };
    (outcome, status)
}

fn trace_link(state: &AppState) -> Option<TraceLink> {
    telemetry::current_trace_id().map(|id| TraceLink::new(&state.grafana_url, id))
}

fn page(
    dice: Vec<String>,
    selected: String,
    outcome: Option<Outcome>,
    trace: Option<TraceLink>,
    status: StatusCode,
) -> Response {
    Page {
        dice,
        selected,
        outcome,
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
