//! Refusing form posts that a browser sent from another site's page.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

/// Tower middleware that refuses a state-changing request (anything but
/// GET, HEAD, OPTIONS and TRACE) when a browser sent it from a page of
/// another origin: cross-site request forgery, where a page elsewhere posts
/// a form to this service and the browser attaches the victim's cookie.
///
/// `SameSite=Lax` cookies do not stop it here: a *site* is a scheme and a
/// registrable domain, without the port, so every page served from
/// `localhost:*` (or `127.0.0.1:*`) is the same site as the workshop's
/// frontend, and its form posts carry the session cookie. The check is
/// therefore by *origin* (scheme, host and port), from what browsers send:
///
/// 1. `Sec-Fetch-Site` (every current browser): only `same-origin`, or
///    `none` (typed in the address bar, a bookmark), passes;
/// 2. else `Origin`: its host and port must be the request's `Host`;
///    `Origin: null` (a sandboxed or privacy-stripped page) is refused;
/// 3. else `Referer`, compared the same way;
/// 4. else the request did not come from a browser page (curl, the traffic
///    generator, another service) and passes: there is no cookie a forger
///    could have borrowed.
///
/// A refusal is a 403 whose body says why, logged at WARN.
///
/// ```
/// let app: axum::Router = axum::Router::new()
///     .route("/sign-in", axum::routing::post(|| async { "signed in" }))
///     .layer(hardening::SameOriginLayer);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SameOriginLayer;

impl<S> Layer<S> for SameOriginLayer {
    type Service = SameOriginService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SameOriginService { inner }
    }
}

/// The service [`SameOriginLayer`] wraps around a router.
#[derive(Clone, Debug)]
pub struct SameOriginService<S> {
    inner: S,
}

impl<S> Service<Request> for SameOriginService<S>
where
    S: Service<Request, Response = Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match cross_origin(request.method(), request.headers()) {
            None => Box::pin(self.inner.call(request)),
            Some(sender) => {
                // The sender is caller input: bounded before it is logged.
                let sender: String = sender.chars().take(100).collect();
                tracing::warn!(sender = %sender, "cross-origin request refused");
                Box::pin(async move { Ok(refusal(&sender)) })
            }
        }
    }
}

/// Who sent the request, when that is a page of another origin; `None` when
/// the request may pass.
fn cross_origin(method: &Method, headers: &HeaderMap) -> Option<String> {
    if matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return None;
    }
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => None,
            _ => Some(format!(
                "a page of another origin (Sec-Fetch-Site: {})",
                String::from_utf8_lossy(site.as_bytes())
            )),
        };
    }
    let host = text(header::HOST);
    let sender = text(header::ORIGIN).or_else(|| text(header::REFERER))?;
    let same = match (authority_of(sender), host) {
        (Some(sender), Some(host)) => same_authority(&sender, host),
        _ => false,
    };
    (!same).then(|| sender.to_owned())
}

/// `host[:port]` of an origin or a URL, the port made explicit.
fn authority_of(url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let authority = uri.authority()?;
    let port = authority.port_u16().or_else(|| match uri.scheme_str() {
        Some("https") => Some(443),
        _ => Some(80),
    })?;
    Some(format!("{}:{port}", authority.host()))
}

fn same_authority(sender: &str, host: &str) -> bool {
    let host = if host.contains(':') && !host.ends_with(']') {
        host.to_owned()
    } else {
        // A Host without a port: the browser used the scheme's default. The
        // service cannot know which scheme a proxy in front of it serves, so
        // both defaults count.
        return sender.eq_ignore_ascii_case(&format!("{host}:80"))
            || sender.eq_ignore_ascii_case(&format!("{host}:443"));
    };
    sender.eq_ignore_ascii_case(&host)
}

fn refusal(sender: &str) -> Response {
    let body = format!(
        "Refused: this form was sent from {sender}, not from this site's own page. \
         Open the page itself and submit the form there.\n"
    );
    (StatusCode::FORBIDDEN, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn refused(method: Method, pairs: &[(&'static str, &'static str)]) -> bool {
        cross_origin(&method, &headers(pairs)).is_some()
    }

    #[test]
    fn a_page_of_the_same_origin_may_post() {
        assert!(!refused(
            Method::POST,
            &[
                ("host", "localhost:8601"),
                ("sec-fetch-site", "same-origin")
            ]
        ));
        assert!(!refused(
            Method::POST,
            &[
                ("host", "localhost:8601"),
                ("origin", "http://localhost:8601")
            ]
        ));
        assert!(!refused(
            Method::POST,
            &[
                ("host", "LOCALHOST:8601"),
                ("referer", "http://localhost:8601/sign-in?x=1")
            ]
        ));
        assert!(!refused(
            Method::POST,
            &[("host", "dice.example"), ("origin", "https://dice.example")]
        ));
    }

    #[test]
    fn another_origin_is_refused_even_on_the_same_host() {
        for pairs in [
            &[("host", "localhost:8601"), ("sec-fetch-site", "same-site")][..],
            &[("host", "localhost:8601"), ("sec-fetch-site", "cross-site")],
            &[
                ("host", "localhost:8601"),
                ("origin", "http://evil.example"),
            ],
            &[
                ("host", "localhost:8601"),
                ("origin", "http://localhost:8000"),
            ],
            &[("host", "localhost:8601"), ("origin", "null")],
            &[
                ("host", "localhost:8601"),
                ("referer", "http://evil.example/x"),
            ],
            &[("host", "localhost"), ("origin", "http://localhost:8601")],
            &[("origin", "http://localhost:8601")],
        ] {
            assert!(refused(Method::POST, pairs), "{pairs:?}");
        }
    }

    #[test]
    fn reads_and_requests_without_a_browser_pass() {
        assert!(!refused(
            Method::GET,
            &[
                ("host", "localhost:8601"),
                ("origin", "http://evil.example")
            ]
        ));
        assert!(!refused(Method::POST, &[("host", "localhost:8601")]));
    }
}
