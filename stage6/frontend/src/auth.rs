//! Who is signed in: the session's contents and the extractor that requires
//! one.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

/// Where the signed-in user is kept in the session.
const SIGNED_IN: &str = "signed_in";

/// A signed-in person, as the session remembers them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedIn {
    pub user: String,
    /// A random key made at sign-in, stored in the session. Usage events
    /// carry it to tell sessions apart. It is not the session id, which is
    /// the cookie's value and a secret: that never reaches a log (docs/pitfalls.md#secrets-in-logs).
    pub key: String,
    /// When the session started, seconds since the epoch.
    pub since: u64,
}

impl SignedIn {
    pub fn new(user: String) -> Self {
        let key = format!("{:016x}", rand::random::<u64>());
        Self {
            user,
            key,
            since: now(),
        }
    }

    /// How long this session has lasted, in seconds.
    pub fn seconds_so_far(&self) -> u64 {
        now().saturating_sub(self.since)
    }

    /// Starts a session for this person: a new session id (so an id planted
    /// before sign-in is worthless: session fixation), then the contents.
    pub async fn start(&self, session: &Session) -> Result<(), tower_sessions::session::Error> {
        session.cycle_id().await?;
        session.insert(SIGNED_IN, self).await
    }
}

/// Seconds since the epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// The signed-in person of a request. A handler that takes it is only
/// reached by signed-in people; others are sent to the sign-in page.
pub struct CurrentUser {
    pub signed_in: SignedIn,
    pub session: Session,
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let to_sign_in = || Redirect::to("/sign-in").into_response();
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| to_sign_in())?;
        match session.get::<SignedIn>(SIGNED_IN).await {
            Ok(Some(signed_in)) => Ok(Self { signed_in, session }),
            _ => Err(to_sign_in()),
        }
    }
}

/// Whether the request's session has someone signed in.
pub async fn signed_in(session: &Session) -> Option<SignedIn> {
    session.get::<SignedIn>(SIGNED_IN).await.ok().flatten()
}
