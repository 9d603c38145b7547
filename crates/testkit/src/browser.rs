//! Headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`), for tests that click through a page like a person.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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
            }
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
