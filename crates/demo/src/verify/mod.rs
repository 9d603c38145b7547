//! `make verify STAGE=N`: the per-stage checklist against the Docker stack,
//! through the HTTP APIs of Prometheus (:9090), Loki (:3100) and Tempo
//! (:3200).
//!
//! Stages run side by side on one stack, so every question is limited to
//! one [`Scope`]: the stage (its `stage` label in Prometheus and Loki, its
//! `deployment.environment.name` in Tempo and in Tempo's generated metrics)
//! and a window ending now (15 minutes, the dashboards' own range). A stage
//! that sent nothing in the window fails with "no traffic from stage N in
//! the last 15m", however busy the others are.
//!
//! Each API answer is first kept as a [`Recorded`] response (URL, status,
//! body); pure functions parse it (`prometheus`, `loki`, `tempo`,
//! `service_graph`) and pure functions decide (`checks`). So the decisions
//! are tested on responses recorded from the real servers, and the live run
//! only adds the HTTP calls (`client`).

mod checks;
mod client;
pub mod loki;
pub mod panels;
pub mod prometheus;
pub mod scope;
pub mod service_graph;
pub mod tempo;

use std::fmt::Display;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use stages::{NativeCheck, Stage};

use crate::checklist::{Check, Checklist};
use crate::local_checks;
pub use checks::{
    DASHBOARD, GRAPH, Growth, JUDGED, LOGS, PanelAnswer, TRACE, TRAFFIC, USAGE, choose_trace,
    dashboard_check, graph_check, growth_query, logs_check, stage_check_in_tempo, trace_check,
    traffic_check, usable_traces, usage_check,
};
use client::{SEARCH_LIMIT, StackClient};
pub use scope::Scope;

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

/// The window `verify` looks at by default: the dashboards' own range.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// What `make verify` checks, and where.
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub stage: &'static Stage,
    pub endpoints: StackEndpoints,
    /// The stage's dashboard, `grafana-dashboards/stageN.json`.
    pub dashboard: PathBuf,
    /// The LogQL stream selector of the stage's logs: `{stage="N"}`.
    pub loki_selector: String,
    /// How far back to look: traces, lines and series older than this do
    /// not count.
    pub window: Duration,
    /// When the window ends; `None` is now. Tests pin it to the moment
    /// their recorded answers were made.
    pub end: Option<SystemTime>,
}

impl VerifyOptions {
    pub fn new(stage: &'static Stage) -> Self {
        Self {
            stage,
            endpoints: StackEndpoints::default(),
            dashboard: PathBuf::from(format!("grafana-dashboards/stage{}.json", stage.number)),
            loki_selector: format!("{{stage=\"{}\"}}", stage.number),
            window: WINDOW,
            end: None,
        }
    }

    pub fn scope(&self) -> Scope {
        Scope::new(
            self.stage,
            self.end.unwrap_or_else(SystemTime::now),
            self.window,
        )
    }
}

/// Runs every check against the stack.
pub async fn verify(options: &VerifyOptions) -> Checklist {
    let stack = StackClient::new(options.endpoints.clone());
    let scope = options.scope();
    let stage = scope.stage;
    let environment = scope.environment();
    let services: Vec<&str> = stage
        .request_path()
        .iter()
        .map(|service| service.name)
        .collect();
    let mut checklist = Checklist::new(format!(
        "stage {} ({}), against the stack, {} (until {})",
        stage.number,
        stage.title,
        scope.last(),
        Scope::time(u128::from(scope.end) * 1_000_000_000),
    ));

    // Anything at all from the stage? Without it every other answer would
    // be about another stage, or about none.
    let probe = tempo::most_recent(&tempo::stage_spans(&environment));
    let recent = stack.search(&probe, &scope, 1).await;
    let traffic = checks::traffic_check(&scope, &probe, &recent);
    // Why the checks that judge the stage's traces cannot run, if they
    // cannot: no traffic, or no answer from Tempo.
    let blocked = match &recent {
        Err(error) => Some(scope.said(error, "TraceQL", &probe)),
        Ok(_) if !traffic.passed => Some(scope.no_traffic()),
        Ok(_) => None,
    };
    checklist.push(traffic);

    if let Some(why) = &blocked {
        checklist.push(Check::fail(TRACE, vec![why.clone()]));
        checklist.push(Check::fail(LOGS, vec![why.clone()]));
    } else {
        let query = tempo::most_recent(&tempo::traces_through(&environment, &services));
        let found = stack.search(&query, &scope, SEARCH_LIMIT).await;
        match checks::choose_trace(&scope, &services, &query, &found) {
            Ok(chosen) => {
                let trace = stack.trace(&chosen.trace_id).await;
                checklist.push(checks::trace_check(
                    &scope, &services, &query, &chosen, &trace,
                ));
                let logql = format!("{} |= \"{}\"", options.loki_selector, chosen.trace_id);
                let logs = stack.logs(&logql, &scope).await;
                checklist.push(checks::logs_check(
                    &scope,
                    &services,
                    &logql,
                    &chosen.trace_id,
                    &logs,
                ));
            }
            Err(problems) => {
                checklist.push(Check::fail(TRACE, problems));
                checklist.push(Check::fail(LOGS, vec!["no trace id to look for".into()]));
            }
        }
    }

    let query = service_graph::edges_query(&scope);
    let graph = stack
        .query(&query, &scope)
        .await
        .map(|samples| service_graph::edges(&samples));
    checklist.push(checks::graph_check(&scope, &services, &query, &graph));

    for check in stage.checks {
        if let Some(why) = &blocked {
            let title = local_checks::stage_check_title(check);
            checklist.push(Check::fail(title, vec![why.clone()]));
            continue;
        }
        let query = tempo::most_recent(&tempo::traces_showing(check, &environment));
        let (listed, traces) = match stack.search(&query, &scope, SEARCH_LIMIT).await {
            Ok(found) => {
                let (usable, passed_over) = checks::usable_traces(&scope, &[], &found);
                // A few more than are judged: some may be passed over.
                let fetch = &usable[..usable.len().min(2 * JUDGED)];
                (passed_over, stack.traces(fetch).await)
            }
            Err(error) => (Vec::new(), Err(error)),
        };
        checklist.push(checks::stage_check_in_tempo(
            &scope, check, &query, &listed, &traces,
        ));
    }

    for check in stage.native_checks {
        // What of a native check the stack can show. Stage 5's outage drill
        // and stage 6's secret scan need the processes: `make stage5
        // outage` and `make demo STAGE=6` run them.
        if let NativeCheck::UsageRouted { receiver, .. } = *check
            && let Some(receiver) = stage.service(receiver)
        {
            checklist.push(check_usage(&stack, &scope, receiver, blocked.as_deref()).await);
        }
    }

    checklist.push(check_dashboard(&stack, options, &scope).await);
    checklist
}

/// Stage 6: the receiver's newest trace, and how its counters grew.
async fn check_usage(
    stack: &StackClient,
    scope: &Scope,
    receiver: &'static stages::Service,
    blocked: Option<&str>,
) -> Check {
    if let Some(why) = blocked {
        return Check::fail(USAGE, vec![why.to_owned()]);
    }
    let query = tempo::most_recent(&tempo::traces_of(&scope.environment(), receiver.name));
    let trace = match stack.search(&query, scope, SEARCH_LIMIT).await {
        Ok(found) => {
            let (usable, _) = checks::usable_traces(scope, &[receiver.name], &found);
            match usable.first() {
                Some(newest) => stack
                    .trace(&newest.trace_id)
                    .await
                    .map(|trace| trace.map(|trace| (newest.trace_id.clone(), trace))),
                None => Ok(None),
            }
        }
        Err(error) => Err(error),
    };
    let mut growth = Vec::new();
    for series in receiver.series {
        let query = checks::growth_query(scope, receiver.name, series);
        let answer = stack.query(&query, scope).await;
        growth.push(Growth {
            series,
            query,
            answer,
        });
    }
    checks::usage_check(scope, receiver, &query, &trace, &growth)
}

async fn check_dashboard(stack: &StackClient, options: &VerifyOptions, scope: &Scope) -> Check {
    let dashboard = match dashboards::Dashboard::load(&options.dashboard) {
        Ok(dashboard) => dashboard,
        Err(error) => return Check::fail(DASHBOARD, vec![error.to_string()]),
    };
    let (queries, not_run) = panels::panel_queries(&dashboard, scope);
    let mut answers = Vec::new();
    for query in queries {
        let answer = match query.backend {
            panels::Backend::Prometheus => stack
                .query_range(&query.expression, scope)
                .await
                .map(|samples| samples.len()),
            panels::Backend::Loki => stack.log_amount(&query.expression, scope).await,
            panels::Backend::Tempo => stack
                .search(&query.expression, scope, 5)
                .await
                .map(|found| found.len()),
        };
        answers.push(PanelAnswer { query, answer });
    }
    checks::dashboard_check(scope, &answers, &not_run)
}
