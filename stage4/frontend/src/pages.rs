use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

/// The page's stylesheet, inline in its `<style>` element (no request of
/// its own). The Content-Security-Policy allows exactly this text, by its
/// SHA-256, and nothing else: see `hardening::browser_headers`.
pub const PAGE_STYLE: &str = include_str!("../templates/page.css");

/// The one page: the form, and below it the outcome of the last roll.
#[derive(Template)]
#[template(path = "page.html")]
pub struct Page {
    /// The dice the die-service listed (empty if it could not be asked).
    pub dice: Vec<String>,
    /// The die to preselect: the one just rolled.
    pub selected: String,
    /// The number of rolls and the async box, as last submitted.
    pub times: u32,
    pub concurrently: bool,
    pub outcome: Option<Outcome>,
    pub trace: Option<TraceLink>,
}

/// What became of a roll, in words a person can act on.
pub enum Outcome {
    Rolled {
        die: String,
        rolls: Vec<i64>,
        total: i64,
        /// One `/roll-async` request, or one `/roll` per die.
        concurrently: bool,
        /// The dice-roller's last answer.
        backend_status: u16,
        backend_body: String,
    },
    Failed {
        headline: String,
        detail: String,
        backend_status: Option<u16>,
        backend_body: Option<String>,
    },
}

impl Outcome {
    /// `[4, 1, 6]`.
    pub fn rolls_text(rolls: &[i64]) -> String {
        let values: Vec<String> = rolls.iter().map(i64::to_string).collect();
        format!("[{}]", values.join(", "))
    }
}

/// The trace a roll produced, with a link that opens it in Grafana.
pub struct TraceLink {
    pub trace_id: String,
    pub url: String,
}

impl TraceLink {
    /// A link to Grafana's Explore, querying the `tempo` datasource for the trace.
    pub fn new(grafana_url: &str, trace_id: String) -> Self {
        let panes = serde_json::json!({
            "trace": {
                "datasource": "tempo",
                "queries": [{
                    "refId": "A",
                    "datasource": {"type": "tempo", "uid": "tempo"},
                    "queryType": "traceql",
                    "query": trace_id,
                }],
                "range": {"from": "now-1h", "to": "now"},
            }
        });
        let url = reqwest::Url::parse_with_params(
            &format!("{grafana_url}/explore"),
            [
                ("schemaVersion", "1"),
                ("orgId", "1"),
                ("panes", &panes.to_string()),
            ],
        )
        .map(String::from)
        .unwrap_or_else(|_| grafana_url.to_owned());
        Self { trace_id, url }
    }
}

impl Page {
    /// The page with `status`. Rendering only fails on a template bug, which
    /// the tests would catch; the fallback keeps even that a plain page.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        match self.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Something went wrong</h1>".to_owned()),
            )
                .into_response(),
        }
    }
}
