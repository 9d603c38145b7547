//! Signing in and out.

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;
use tracing::{error, info, warn};

use crate::AppState;
use crate::auth::{self, CurrentUser, SignedIn};
use crate::pages::SignInPage;
use crate::usage;

/// The one message for a failed sign-in: it does not say which part was
/// wrong, so it does not tell a guesser which names exist.
const WRONG: &str = "Wrong user name or password.";

/// `GET /sign-in`: the form (or the dice, for someone already signed in).
pub async fn page(session: Session) -> Response {
    if auth::signed_in(&session).await.is_some() {
        return Redirect::to("/").into_response();
    }
    SignInPage { message: None }.into_response_with(StatusCode::OK)
}

#[derive(Deserialize)]
pub struct SignInForm {
    user: String,
    password: String,
}

/// `POST /sign-in`: checks the password against the account's argon2 hash;
/// on success starts a session (new id, HttpOnly SameSite=Lax cookie) and
/// goes to the dice.
pub async fn sign_in(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    // The form is never logged: it holds a password.
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(
                "That form is far larger than a user name and a password.",
                StatusCode::PAYLOAD_TOO_LARGE,
            );
        }
        Err(_) => return refuse("Enter a user name and a password.", StatusCode::BAD_REQUEST),
    };
    let name = form.user.trim().to_owned();
    if name.is_empty() || name.chars().count() > 64 || form.password.is_empty() {
        return refuse("Enter a user name and a password.", StatusCode::BAD_REQUEST);
    }
    let known = state.accounts.exists(&name).then_some(name.as_str());

    if !state.throttle.allows(&name) {
        state.metrics.record_sign_in("throttled");
        usage::sign_in_throttled(known);
        warn!("sign-in refused: too many failures for this user name");
        return refuse(
            "Too many failed sign-ins for this user name. Wait a few minutes and try again.",
            StatusCode::TOO_MANY_REQUESTS,
        );
    }

    // argon2 takes tens of milliseconds of CPU and 19 MiB: off the async
    // workers, a few at a time.
    let Ok(verified) = state.accounts.check(&name, form.password).await else {
        state.metrics.record_sign_in("busy");
        warn!("sign-in refused: too many sign-ins being checked");
        let mut response = refuse(
            "Too many sign-ins at this moment. Try again in a second.",
            StatusCode::SERVICE_UNAVAILABLE,
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    if !verified {
        state.throttle.record_failure(&name);
        state.metrics.record_sign_in("failure");
        usage::sign_in_failed(known);
        info!("sign-in failed");
        return refuse(WRONG, StatusCode::UNAUTHORIZED);
    }

    state.throttle.record_success(&name);
    let who = SignedIn::new(name);
    if let Err(failure) = who.start(&session).await {
        error!(
            error = &failure as &dyn std::error::Error,
            "cannot start a session"
        );
        return refuse(
            "Something went wrong; try again.",
            StatusCode::INTERNAL_SERVER_ERROR,
        );
    }
    state.metrics.record_sign_in("success");
    usage::sign_in(&who);
    Redirect::to("/").into_response()
}

/// `POST /sign-out`: ends the session (deleted from the store, cookie
/// cleared) and goes back to the sign-in form.
pub async fn sign_out(current: CurrentUser) -> Response {
    let who = current.signed_in;
    usage::sign_out(&who, who.seconds_so_far());
    if let Err(failure) = current.session.flush().await {
        error!(
            error = &failure as &dyn std::error::Error,
            "cannot end a session"
        );
    }
    Redirect::to("/sign-in").into_response()
}

fn refuse(message: &str, status: StatusCode) -> Response {
    SignInPage {
        message: Some(message.to_owned()),
    }
    .into_response_with(status)
}
