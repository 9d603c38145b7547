//! `make verify STAGE=N`: the seed's checklist against the Docker stack,
//! through the HTTP APIs of Prometheus (:9090), Loki (:3100) and Tempo
//! (:3200).
//!
//! Each API answer is first kept as a [`Recorded`] response (URL, status,
//! body); pure functions parse it (`prometheus`, `loki`, `tempo`,
//! `service_graph`) and pure functions decide (the `*_check` functions
//! here). So the decisions are tested on responses recorded from the real
//! servers, and the live run only adds the HTTP calls.

pub mod loki;
pub mod prometheus;
pub mod service_graph;
pub mod tempo;

use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use stages::{Stage, StageCheck};

use crate::checklist::{Check, Checklist};
use crate::local_checks;
use crate::trace::SpanRecord;
use loki::LokiLine;
use prometheus::Sample;
use service_graph::GraphEdge;

pub const DASHBOARD: &str = "every dashboard PromQL query returns data";
pub const TRACE: &str = "a sampled trace is in Tempo with spans from every service";
pub const LOGS: &str = "the sampled trace's logs are in Loki, from every service";
pub const GRAPH: &str = "the service graph has the stage's edges, paired, not guessed";

/// An HTTP answer as received: what the parsers read.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub url: String,
    pub status: u16,
    pub body: String,
}

impl Recorded {
    fn status_error(&self) -> ApiError {
        ApiError::Status {
            url: self.url.clone(),
            status: self.status,
            body: self.body.trim().chars().take(300).collect(),
        }
    }

    fn format_error(&self, reason: impl Display) -> ApiError {
        ApiError::Format {
            url: self.url.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Why an API gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach {url} (is the stack up? make stack-up)")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url} refused the query: {reason}")]
    Rejected { url: String, reason: String },
    #[error("{url} answered in an unexpected format: {reason}")]
    Format { url: String, reason: String },
}

/// Where the stack's APIs are.
#[derive(Debug, Clone)]
pub struct StackEndpoints {
    pub prometheus: String,
    pub loki: String,
    pub tempo: String,
}

impl Default for StackEndpoints {
    fn default() -> Self {
        Self {
            prometheus: "http://localhost:9090".into(),
            loki: "http://localhost:3100".into(),
            tempo: "http://localhost:3200".into(),
        }
    }
}

/// What `make verify` checks, and where.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub stage: &'static Stage,
    pub endpoints: StackEndpoints,
    /// The stage's dashboard, `grafana-dashboards/stageN.json`.
    pub dashboard: PathBuf,
    /// The LogQL stream selector of the stage's logs.
    pub loki_selector: String,
    /// How far back to look for a trace and its logs.
    pub lookback: Duration,
}

impl VerifyOptions {
    pub fn new(stage: &'static Stage) -> Self {
        Self {
            stage,
            endpoints: StackEndpoints::default(),
            dashboard: PathBuf::from(format!("grafana-dashboards/stage{}.json", stage.number)),
            loki_selector: format!("{{stage=\"{}\"}}", stage.number),
            lookback: Duration::from_secs(3600),
        }
    }
}

/// Runs every check against the stack.
pub async fn verify(options: &VerifyOptions) -> Checklist {
    let stack = StackClient::new(options.endpoints.clone());
    let stage = options.stage;
    let mut checklist = Checklist::new(format!(
        "stage {} ({}), against the stack",
        stage.number, stage.title
    ));
    checklist.push(check_dashboard(&stack, options).await);

    let (now, since) = window(options.lookback);
    let services: Vec<&str> = stage.services.iter().map(|service| service.name).collect();
    let sampled = stack.sample_trace(&services, since, now).await;
    match sampled {
        Ok(Some(trace_id)) => {
            let trace = stack.trace(&trace_id).await;
            checklist.push(trace_check(stage, &trace_id, &trace));
            let logs = stack
                .logs_of(&options.loki_selector, &trace_id, since, now)
                .await;
            checklist.push(logs_check(stage, &trace_id, &logs));
        }
        Ok(None) => {
            let hint = format!(
                "no trace through {} in Tempo in the last {}; send some with make stage{} traffic",
                services.join(", "),
                humantime::format_duration(options.lookback),
                stage.number
            );
            checklist.push(Check::fail(TRACE, vec![hint]));
            checklist.push(Check::fail(LOGS, vec!["no trace id to look for".into()]));
        }
        Err(error) => {
            checklist.push(Check::fail(
                TRACE,
                vec![format!("searching Tempo: {error}")],
            ));
            checklist.push(Check::fail(LOGS, vec!["no trace id to look for".into()]));
        }
    }
    let graph = stack
        .query(service_graph::EDGES_QUERY)
        .await
        .map(|samples| service_graph::edges(&samples));
    checklist.push(graph_check(stage, &graph));
    for check in stage.checks {
        let query = tempo::traces_showing(check);
        let trace = match stack.sample(&query, since, now).await {
            Ok(Some(trace_id)) => stack.trace(&trace_id).await,
            Ok(None) => Ok(None),
            Err(error) => Err(error),
        };
        checklist.push(stage_check_in_tempo(check, &query, &trace));
    }
    checklist
}

/// A stage's own check (stage 4: a batch's rolls overlap) on a trace Tempo
/// found for it.
pub fn stage_check_in_tempo(
    check: &StageCheck,
    query: &str,
    trace: &Result<Option<Vec<SpanRecord>>, ApiError>,
) -> Check {
    match trace {
        Ok(Some(spans)) => local_checks::stage_check(check, spans),
        Ok(None) => Check::fail(
            local_checks::stage_check_title(check),
            vec![format!(
                "no trace in Tempo matches {query}: send traffic first"
            )],
        ),
        Err(error) => Check::fail(
            local_checks::stage_check_title(check),
            vec![error.to_string()],
        ),
    }
}

/// Start and end of the lookback, in Unix seconds.
fn window(lookback: Duration) -> (u64, u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    (now, now.saturating_sub(lookback.as_secs()))
}

async fn check_dashboard(stack: &StackClient, options: &VerifyOptions) -> Check {
    let dashboard = match dashboards::Dashboard::load(&options.dashboard) {
        Ok(dashboard) => dashboard,
        Err(error) => return Check::fail(DASHBOARD, vec![error.to_string()]),
    };
    let stage = options.stage.number.to_string();
    let mut results = Vec::new();
    for query in dashboard.queries() {
        if query.language != dashboards::Language::PromQL {
            continue;
        }
        let expression = query.expanded(&stage);
        let answer = stack.query(&expression).await;
        results.push(PanelAnswer {
            panel: query.panel.title.clone(),
            expression,
            answer,
        });
    }
    dashboard_check(&results)
}

/// A PromQL query of a dashboard panel and Prometheus' answer to it.
#[derive(Debug)]
pub struct PanelAnswer {
    pub panel: String,
    /// The query with Grafana's variables expanded.
    pub expression: String,
    pub answer: Result<Vec<Sample>, ApiError>,
}

/// Passes when every PromQL query of the dashboard has data.
pub fn dashboard_check(results: &[PanelAnswer]) -> Check {
    let mut problems = Vec::new();
    for PanelAnswer {
        panel,
        expression,
        answer,
    } in results
    {
        match answer {
            Ok(samples) if !samples.is_empty() => {}
            Ok(_) => problems.push(format!("panel {panel:?}: no data for {expression}")),
            Err(error) => problems.push(format!("panel {panel:?}: {error}")),
        }
    }
    if results.is_empty() {
        problems.push("the dashboard has no PromQL query".into());
    }
    let facts = vec![format!("{} PromQL queries, each with data", results.len())];
    Check::from_problems(DASHBOARD, facts, problems)
}

/// The trace `trace_id` as Tempo returned it has spans from every service.
pub fn trace_check(
    stage: &Stage,
    trace_id: &str,
    trace: &Result<Option<Vec<SpanRecord>>, ApiError>,
) -> Check {
    let spans = match trace {
        Ok(Some(spans)) => spans,
        Ok(None) => return Check::fail(TRACE, vec![format!("Tempo has no trace {trace_id}")]),
        Err(error) => return Check::fail(TRACE, vec![error.to_string()]),
    };
    let found: BTreeSet<&str> = spans.iter().map(|span| span.service.as_str()).collect();
    let missing: Vec<&str> = stage
        .services
        .iter()
        .map(|service| service.name)
        .filter(|name| !found.contains(name))
        .collect();
    let fact = format!(
        "trace {trace_id}: {} spans from {}",
        spans.len(),
        found.iter().copied().collect::<Vec<_>>().join(", ")
    );
    let problems = if missing.is_empty() {
        Vec::new()
    } else {
        vec![fact.clone(), format!("no span from {}", missing.join(", "))]
    };
    Check::from_problems(TRACE, vec![fact], problems)
}

/// Loki holds lines with `trace_id` from every service of the stage.
pub fn logs_check(stage: &Stage, trace_id: &str, logs: &Result<Vec<LokiLine>, ApiError>) -> Check {
    let lines = match logs {
        Ok(lines) => lines,
        Err(error) => return Check::fail(LOGS, vec![error.to_string()]),
    };
    let mut services = BTreeSet::new();
    for line in lines {
        if line.field("trace_id").as_deref() == Some(trace_id) {
            services.insert(line.field("service").unwrap_or_default());
        }
    }
    let missing: Vec<&str> = stage
        .services
        .iter()
        .map(|service| service.name)
        .filter(|name| !services.contains(*name))
        .collect();
    let fact = format!(
        "{} lines with trace_id {trace_id}, from {}",
        lines.len(),
        services.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    let problems = if missing.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "no line with trace_id {trace_id} from {}",
            missing.join(", ")
        )]
    };
    Check::from_problems(LOGS, vec![fact], problems)
}

/// Every edge the stage expects is in the graph as a paired edge, and every
/// service appears in the graph.
pub fn graph_check(stage: &Stage, graph: &Result<Vec<GraphEdge>, ApiError>) -> Check {
    let edges = match graph {
        Ok(edges) => edges,
        Err(error) => return Check::fail(GRAPH, vec![error.to_string()]),
    };
    let mut facts = Vec::new();
    let mut problems = Vec::new();
    for expected in stage.edges {
        let (client, server) = (expected.client, expected.server);
        let real = edges
            .iter()
            .any(|edge| edge.is(client, server) && !edge.virtual_node);
        let guessed = edges
            .iter()
            .any(|edge| edge.is(client, server) && edge.virtual_node);
        if real {
            facts.push(format!("{client} -> {server}"));
        } else if guessed {
            problems.push(format!(
                "{client} -> {server} is only a virtual_node edge, guessed from peer.service: \
                 {server} did not continue {client}'s trace (traceparent propagation)"
            ));
        } else {
            problems.push(format!(
                "{client} -> {server} is missing: is {client}'s outgoing span of kind CLIENT, \
                 and is the metrics-generator enabled?"
            ));
        }
    }
    for service in stage.services {
        if !edges
            .iter()
            .any(|edge| edge.client == service.name || edge.server == service.name)
        {
            problems.push(format!("{} is not in the service graph", service.name));
        }
    }
    Check::from_problems(GRAPH, facts, problems)
}

/// The stack's APIs over HTTP, answers kept as [`Recorded`].
struct StackClient {
    http: reqwest::Client,
    endpoints: StackEndpoints,
}

impl StackClient {
    fn new(endpoints: StackEndpoints) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            endpoints,
        }
    }

    async fn get(&self, url: String, query: &[(&str, String)]) -> Result<Recorded, ApiError> {
        let unreachable = |source| ApiError::Unreachable {
            url: url.clone(),
            source,
        };
        let response = self
            .http
            .get(&url)
            .query(query)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok(Recorded { url, status, body })
    }

    async fn query(&self, expression: &str) -> Result<Vec<Sample>, ApiError> {
        let url = format!("{}/api/v1/query", self.endpoints.prometheus);
        let answer = self.get(url, &[("query", expression.to_owned())]).await?;
        prometheus::parse_query(&answer)
    }

    /// The newest trace (in the first page of results) that went through
    /// every one of `services`.
    async fn sample_trace(
        &self,
        services: &[&str],
        since: u64,
        now: u64,
    ) -> Result<Option<String>, ApiError> {
        self.sample(&tempo::traces_through(services), since, now)
            .await
    }

    /// The newest trace (in the first page of results) matching `traceql`.
    async fn sample(
        &self,
        traceql: &str,
        since: u64,
        now: u64,
    ) -> Result<Option<String>, ApiError> {
        let url = format!("{}/api/search", self.endpoints.tempo);
        let query = [
            ("q", traceql.to_owned()),
            ("limit", "20".to_owned()),
            ("start", since.to_string()),
            ("end", now.to_string()),
        ];
        let found = tempo::parse_search(&self.get(url, &query).await?)?;
        Ok(found.into_iter().next().map(|trace| trace.trace_id))
    }

    async fn trace(&self, trace_id: &str) -> Result<Option<Vec<SpanRecord>>, ApiError> {
        let url = format!("{}/api/traces/{trace_id}", self.endpoints.tempo);
        tempo::parse_trace(&self.get(url, &[]).await?)
    }

    async fn logs_of(
        &self,
        selector: &str,
        trace_id: &str,
        since: u64,
        now: u64,
    ) -> Result<Vec<LokiLine>, ApiError> {
        let url = format!("{}/loki/api/v1/query_range", self.endpoints.loki);
        let nanos = |seconds: u64| (u128::from(seconds) * 1_000_000_000).to_string();
        let query = [
            ("query", format!("{selector} |= \"{trace_id}\"")),
            ("start", nanos(since)),
            // Loki's end is exclusive and lines may be a moment in the future.
            ("end", nanos(now + 60)),
            ("limit", "1000".to_owned()),
            ("direction", "forward".to_owned()),
        ];
        loki::parse_streams(&self.get(url, &query).await?)
    }
}
