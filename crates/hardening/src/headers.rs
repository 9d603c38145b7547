//! The response headers that tell a browser what a page may do.

use axum::http::{HeaderName, HeaderValue, header};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower::layer::util::{Identity, Stack};
use tower_http::set_header::SetResponseHeaderLayer;

/// [`browser_headers`]' layer: three `SetResponseHeaderLayer`s in one.
pub type BrowserHeadersLayer = Stack<
    SetResponseHeaderLayer<HeaderValue>,
    Stack<
        SetResponseHeaderLayer<HeaderValue>,
        Stack<SetResponseHeaderLayer<HeaderValue>, Identity>,
    >,
>;

/// The headers every page of a workshop frontend carries:
///
/// * `Content-Security-Policy`: nothing may load or run but what the page
///   is: no script at all (the pages need none, so an injected one cannot
///   run), only the stylesheets given here, inline, allowed by their SHA-256
///   (`style-src 'sha256-...'`, not `'unsafe-inline'`), forms posted only to
///   this origin, and no framing by any page (`frame-ancestors 'none'`:
///   clickjacking);
/// * `X-Content-Type-Options: nosniff`: a response is only ever what its
///   `Content-Type` says (a JSON error is never run as a script);
/// * `Referrer-Policy: same-origin`: a link out of the page (to Grafana)
///   does not carry the page's URL.
///
/// `inline_styles` are the exact contents of the pages' `<style>` elements.
///
/// ```
/// let style = "body { margin: 0; }";
/// let app: axum::Router = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "page" }))
///     .layer(hardening::browser_headers(&[style]));
/// let csp = hardening::content_security_policy(&[style]);
/// assert!(csp.contains("style-src 'sha256-"));
/// ```
pub fn browser_headers(inline_styles: &[&str]) -> BrowserHeadersLayer {
    let csp = content_security_policy(inline_styles);
    let set =
        |name: HeaderName, value: HeaderValue| SetResponseHeaderLayer::overriding(name, value);
    // Only base64, quotes and ASCII words: always a valid header value.
    let csp = HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'"));
    Stack::new(
        set(header::CONTENT_SECURITY_POLICY, csp),
        Stack::new(
            set(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            Stack::new(
                set(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("same-origin"),
                ),
                Identity::new(),
            ),
        ),
    )
}

/// The `Content-Security-Policy` of [`browser_headers`].
pub fn content_security_policy(inline_styles: &[&str]) -> String {
    let hashes: Vec<String> = inline_styles
        .iter()
        .map(|style| {
            let digest = Sha256::digest(style.as_bytes());
            format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect();
    format!(
        "default-src 'none'; style-src {}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        hashes.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_each_stylesheet_by_hash_and_allows_no_script() {
        let csp = content_security_policy(&["a{}", "b{}"]);
        // echo -n 'a{}' | openssl dgst -sha256 -binary | base64
        assert!(csp.contains("'sha256-"), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 2);
        assert!(csp.starts_with("default-src 'none';"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe"));
        assert!(
            !csp.contains("script-src"),
            "default-src 'none' forbids scripts"
        );
    }
}
