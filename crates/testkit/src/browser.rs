//! Headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), for tests that click through a page like a person.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::free_port;
use crate::programs::{CHROMEDRIVER, CHROMIUM};

/// A browser session; dropping it kills chromedriver and every Chromium
/// process it started.
pub struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium
    /// session with a fresh profile. Panics with the one line saying what
    /// to install if a Debian package is missing.
    pub async fn start() -> Self {
        let chromium = CHROMIUM.require();
        let chromedriver = CHROMEDRIVER.require();
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping the browser can kill
            // Chromium's processes too, even when a test panics.
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().expect("profile directory");
        // The flags keep Chromium off the network it would otherwise try
        // (updates, sync, field trials), which this machine refuses.
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-quic",
                    "--no-first-run",
                    "--window-size=1024,768",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            },
            // Chromium's DevTools network events, so a test can read the
            // response headers the browser actually received.
            "goog:loggingPrefs": { "performance": "ALL" }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        // chromedriver takes a moment to listen: retry until it does.
        let client = loop {
            match builder.connect(&webdriver).await {
                Ok(client) => break client,
                Err(error) if tokio::time::Instant::now() >= deadline => {
                    panic!("cannot open a Chromium session through chromedriver: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Self {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The WebDriver client: `goto`, `find`, `click`, ...
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Saves a PNG of the current page as `artefacts/<name>.png` and returns
    /// its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = artefacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// The headers of the last page (document) the browser received from a
    /// URL starting with `url_prefix`, names in lower case, as Chromium's
    /// network log recorded them; `None` if it loaded no such page since the
    /// last call (each call reads the log and empties it).
    pub async fn page_response_headers(
        &self,
        url_prefix: &str,
    ) -> Option<BTreeMap<String, String>> {
        let log = self
            .client
            .issue_cmd(PerformanceLog)
            .await
            .expect("read Chromium's performance log");
        let entries = log.as_array().cloned().unwrap_or_default();
        entries.iter().rev().find_map(|entry| {
            let message: serde_json::Value =
                serde_json::from_str(entry["message"].as_str()?).ok()?;
            let event = &message["message"];
            let response = &event["params"]["response"];
            (event["method"] == "Network.responseReceived"
                && event["params"]["type"] == "Document"
                && response["url"].as_str()?.starts_with(url_prefix))
            .then(|| {
                response["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, value)| {
                        (
                            name.to_ascii_lowercase(),
                            value.as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
        })
    }

    /// Asserts, on the page now shown (loaded from a URL starting with
    /// `url_prefix`), what a workshop frontend tells the browser and that the
    /// browser obeys it: the response carried a Content-Security-Policy
    /// that allows no script and no framing and names its stylesheets by
    /// hash, `nosniff` and a Referrer-Policy; the page's own stylesheet
    /// applied (the element `styled` has the workshop's accent colour as
    /// background), and a script slipped into the page did not run.
    pub async fn assert_page_locked_down(&self, url_prefix: &str, styled: &str) {
        let headers = self
            .page_response_headers(url_prefix)
            .await
            .unwrap_or_else(|| panic!("Chromium loaded no page from {url_prefix}"));
        let csp = headers
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("no Content-Security-Policy: {headers:?}"));
        for directive in [
            "default-src 'none'",
            "frame-ancestors 'none'",
            "style-src 'sha256-",
        ] {
            assert!(csp.contains(directive), "{directive} missing: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(
            headers.get("x-content-type-options").map(String::as_str),
            Some("nosniff")
        );
        assert!(headers.contains_key("referrer-policy"), "{headers:?}");

        let background = self
            .client
            .find(fantoccini::Locator::Id(styled))
            .await
            .unwrap_or_else(|e| panic!("#{styled}: {e}"))
            .css_value("background-color")
            .await
            .expect("computed background colour");
        assert!(
            background.starts_with("rgb(232, 89, 12") || background.starts_with("rgba(232, 89, 12"),
            "the inline stylesheet was blocked: #{styled} has background {background}"
        );

        let injected = self
            .client
            .execute(
                "const script = document.createElement('script');\
                 script.textContent = 'window.injected = true;';\
                 document.body.appendChild(script);\
                 return window.injected === true;",
                Vec::new(),
            )
            .await
            .expect("run a script through WebDriver");
        assert_eq!(
            injected,
            json!(false),
            "an inline script ran despite the policy"
        );
    }

    /// Ends the session cleanly.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: kill(2) with a negative pid signals the process group we
        // created for chromedriver; it touches no memory of ours.
        unsafe {
            libc::kill(-(self.driver.id() as i32), libc::SIGKILL);
        }
        let _ = self.driver.wait();
    }
}

/// Where tests leave files for people to look at (screenshots):
/// `ARTEFACTS_DIR`, or `artefacts/` at the workspace root. Created on demand.
pub fn artefacts_dir() -> PathBuf {
    let dir = std::env::var_os("ARTEFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../artefacts"));
    std::fs::create_dir_all(&dir).expect("create the artefacts directory");
    dir
}

/// chromedriver's log endpoint, for the `performance` (DevTools) log.
#[derive(Debug)]
struct PerformanceLog;

impl WebDriverCompatibleCommand for PerformanceLog {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"performance"}"#.to_owned()),
        )
    }
}
