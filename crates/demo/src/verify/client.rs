//! The stack's HTTP APIs, each answer kept as a [`Recorded`] response for
//! the parsers. Every call is limited to a [`Scope`]'s window.

use std::time::Duration;

use super::loki::{self, LokiLine};
use super::prometheus::{self, Sample};
use super::scope::Scope;
use super::tempo::{self, FoundTrace, TempoTrace};
use super::{ApiError, Recorded, StackEndpoints};

/// How many traces a search asks for: enough to skip a few that do not
/// fit (a batch of one, a trace begun before the window) and still judge
/// several.
pub const SEARCH_LIMIT: usize = 20;

pub(super) struct StackClient {
    http: reqwest::Client,
    endpoints: StackEndpoints,
}

impl StackClient {
    pub(super) fn new(endpoints: StackEndpoints) -> Self {
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

    /// A PromQL instant query at the window's end.
    pub(super) async fn query(
        &self,
        expression: &str,
        scope: &Scope,
    ) -> Result<Vec<Sample>, ApiError> {
        let url = format!("{}/api/v1/query", self.endpoints.prometheus);
        let query = [
            ("query", expression.to_owned()),
            ("time", scope.end.to_string()),
        ];
        prometheus::parse_query(&self.get(url, &query).await?)
    }

    /// A PromQL range query over the window, as a time-series panel draws
    /// it: the series that have a number somewhere in it.
    pub(super) async fn query_range(
        &self,
        expression: &str,
        scope: &Scope,
    ) -> Result<Vec<Sample>, ApiError> {
        let url = format!("{}/api/v1/query_range", self.endpoints.prometheus);
        // About a hundred points, never finer than the scrape interval.
        let step = (scope.window().as_secs() / 100).max(15);
        let query = [
            ("query", expression.to_owned()),
            ("start", scope.start.to_string()),
            ("end", scope.end.to_string()),
            ("step", step.to_string()),
        ];
        prometheus::parse_query(&self.get(url, &query).await?)
    }

    /// A TraceQL search in the window.
    pub(super) async fn search(
        &self,
        traceql: &str,
        scope: &Scope,
        limit: usize,
    ) -> Result<Vec<FoundTrace>, ApiError> {
        let url = format!("{}/api/search", self.endpoints.tempo);
        let query = [
            ("q", traceql.to_owned()),
            ("limit", limit.to_string()),
            ("start", scope.start.to_string()),
            ("end", scope.end.to_string()),
        ];
        tempo::parse_search(&self.get(url, &query).await?)
    }

    pub(super) async fn trace(&self, trace_id: &str) -> Result<Option<TempoTrace>, ApiError> {
        let url = format!("{}/api/traces/{trace_id}", self.endpoints.tempo);
        tempo::parse_trace(&self.get(url, &[]).await?)
    }

    /// The traces `found` names, fetched one after the other; those Tempo
    /// no longer has are left out.
    pub(super) async fn traces(
        &self,
        found: &[FoundTrace],
    ) -> Result<Vec<(String, TempoTrace)>, ApiError> {
        let mut traces = Vec::new();
        for trace in found {
            if let Some(spans) = self.trace(&trace.trace_id).await? {
                traces.push((trace.trace_id.clone(), spans));
            }
        }
        Ok(traces)
    }

    fn loki_range(
        &self,
        logql: &str,
        scope: &Scope,
        limit: usize,
    ) -> (String, Vec<(&str, String)>) {
        let url = format!("{}/loki/api/v1/query_range", self.endpoints.loki);
        let nanos = |seconds: u64| (u128::from(seconds) * 1_000_000_000).to_string();
        let query = vec![
            ("query", logql.to_owned()),
            ("start", nanos(scope.start)),
            // Loki's end is exclusive, and a line may be stamped a moment
            // after the span it belongs to.
            ("end", nanos(scope.end + 60)),
            ("limit", limit.to_string()),
        ];
        (url, query)
    }

    /// The lines of a log query in the window, oldest first.
    pub(super) async fn logs(&self, logql: &str, scope: &Scope) -> Result<Vec<LokiLine>, ApiError> {
        let (url, mut query) = self.loki_range(logql, scope, 1000);
        query.push(("direction", "forward".to_owned()));
        loki::parse_streams(&self.get(url, &query).await?)
    }

    /// How much a log or metric LogQL query finds in the window.
    pub(super) async fn log_amount(&self, logql: &str, scope: &Scope) -> Result<usize, ApiError> {
        let (url, query) = self.loki_range(logql, scope, 10);
        loki::parse_amount(&self.get(url, &query).await?)
    }
}
