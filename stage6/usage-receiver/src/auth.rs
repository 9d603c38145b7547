//! Who may push: the sender must show the token the receiver was given.
//!
//! Stage 6: the receiver writes whatever it is sent into a table analysts
//! trust, so an unauthenticated push endpoint lets anyone who can reach the
//! port invent usage. Alloy sends `Authorization: Bearer <token>`
//! (`bearer_token` in its `loki.write` endpoint); the receiver compares it in
//! constant time and never logs it.

use axum::http::{HeaderMap, header};
use ctutils::CtEq;
use sha2::{Digest, Sha256};

/// The token a push must carry, kept only as its SHA-256: the comparison is
/// then between two 32-byte digests, in constant time, so neither the
/// token's bytes nor its length leak through timing. `Debug` shows nothing.
#[derive(Clone)]
pub struct PushToken([u8; 32]);

impl PushToken {
    /// The shortest token accepted: a guessable token protects nothing.
    pub const MIN_LENGTH: usize = 16;

    /// `token`, if it is at least [`Self::MIN_LENGTH`] visible ASCII
    /// characters (no spaces: it travels in a header).
    pub fn new(token: &str) -> Option<Self> {
        let usable =
            token.len() >= Self::MIN_LENGTH && token.bytes().all(|byte| byte.is_ascii_graphic());
        usable.then(|| Self(Sha256::digest(token.as_bytes()).into()))
    }

    fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&presented).to_bool()
    }
}

impl std::fmt::Debug for PushToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushToken(not shown)")
    }
}

/// Why a push was refused: the `reason` label of
/// `usage_push_unauthorized_total`, a closed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header, but not `Bearer <token>`.
    WrongScheme,
    /// A bearer token, not the receiver's.
    WrongToken,
    /// A token in the URL's query string, where proxies and access logs
    /// keep it: refused even when it is right.
    TokenInQuery,
}

impl Refusal {
    pub const ALL: [Self; 4] = [
        Self::Missing,
        Self::WrongScheme,
        Self::WrongToken,
        Self::TokenInQuery,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::WrongScheme => "wrong_scheme",
            Self::WrongToken => "wrong_token",
            Self::TokenInQuery => "token_in_query",
        }
    }

    /// What the sender is told.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "send the push token as Authorization: Bearer <token>",
            Self::WrongScheme => "the Authorization header must be Bearer <token>",
            Self::WrongToken => "wrong push token",
            Self::TokenInQuery => {
                "never put a token in the URL; send it as Authorization: Bearer <token>"
            }
        }
    }
}

/// Whether a push may be stored: with a token configured, only when it
/// carries that token, in the header; without one (the development flag),
/// always.
pub fn authorize(
    token: Option<&PushToken>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), Refusal> {
    let Some(token) = token else {
        return Ok(());
    };
    if query.is_some_and(names_a_credential) {
        return Err(Refusal::TokenInQuery);
    }
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::Missing)?
        .to_str()
        .map_err(|_| Refusal::WrongScheme)?;
    let (scheme, presented) = value.trim().split_once(' ').ok_or(Refusal::WrongScheme)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Refusal::WrongScheme);
    }
    if token.matches(presented.trim()) {
        Ok(())
    } else {
        Err(Refusal::WrongToken)
    }
}

/// Whether a query string has a parameter named like a credential
/// (`token`, `access_token`, `auth`, ...).
fn names_a_credential(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        name.contains("token") || name.contains("auth")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "a-token-of-twenty-chars";

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_the_right_bearer_token_in_the_header_passes() {
        let token = PushToken::new(TOKEN).unwrap();
        let check = |auth: Option<&str>, query: Option<&str>| {
            authorize(Some(&token), &headers(auth), query)
        };
        assert_eq!(check(Some(&format!("Bearer {TOKEN}")), None), Ok(()));
        assert_eq!(check(Some(&format!("bearer  {TOKEN} ")), None), Ok(()));
        assert_eq!(check(None, None), Err(Refusal::Missing));
        assert_eq!(
            check(Some(&format!("Basic {TOKEN}")), None),
            Err(Refusal::WrongScheme)
        );
        assert_eq!(check(Some(TOKEN), None), Err(Refusal::WrongScheme));
        assert_eq!(
            check(Some("Bearer a-token-of-twenty-charz"), None),
            Err(Refusal::WrongToken)
        );
        assert_eq!(check(Some("Bearer "), None), Err(Refusal::WrongScheme));
        assert_eq!(
            check(
                Some(&format!("Bearer {TOKEN}")),
                Some(&format!("access_token={TOKEN}"))
            ),
            Err(Refusal::TokenInQuery)
        );
        assert_eq!(check(Some(&format!("Bearer {TOKEN}")), Some("x=1")), Ok(()));
        // The development flag: no token configured, every push passes.
        assert_eq!(authorize(None, &headers(None), None), Ok(()));
    }

    #[test]
    fn short_or_spaced_tokens_are_refused_and_never_shown() {
        assert!(PushToken::new("short").is_none());
        assert!(PushToken::new("a token with spaces in it").is_none());
        let token = PushToken::new(TOKEN).unwrap();
        assert!(!format!("{token:?}").contains(TOKEN));
    }
}
