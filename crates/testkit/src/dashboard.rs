//! A Grafana dashboard's PromQL against a real Prometheus: the loop every
//! stage's dashboard test runs.
//!
//! A dashboard's queries fall in two groups. PromQL over the services' own
//! metrics can be answered by a Prometheus scraping the services under test:
//! each must return a number once traffic has run. The rest needs what a
//! test does not run (Loki, Tempo, or the `traces_*` series Tempo's
//! metrics-generator writes), so it is only parsed, and the panels it comes
//! from are listed so a test can hold that list exact.

use std::collections::BTreeSet;
use std::time::Duration;

use dashboards::{Dashboard, Language, is_generated_by_tempo, promql_metric_names};

use crate::PrometheusServer;

/// The queries of one dashboard for one stage, sorted.
#[derive(Debug, Clone, Default)]
pub struct DashboardQueries {
    /// `(panel title, PromQL with the variables expanded)`, to run.
    pub runnable: Vec<(String, String)>,
    /// Titles of the panels with a query that is only parsed.
    pub parsed_only: BTreeSet<String>,
    /// What the parsers found wrong, one sentence each.
    pub problems: Vec<String>,
}

impl DashboardQueries {
    /// Sorts the queries of `dashboard` with `$stage` set to `stage`.
    /// `parse` checks a query that cannot run here (LogQL, TraceQL, Tempo's
    /// PromQL) and returns its problems; the stack-checks crate has parsers
    /// for each language.
    pub fn sort(
        dashboard: &Dashboard,
        stage: u8,
        parse: impl Fn(Language, &str) -> Vec<String>,
    ) -> Self {
        let stage = stage.to_string();
        let mut sorted = Self::default();
        for query in dashboard.queries() {
            let expression = query.expanded(&stage);
            let title = query.panel.title.clone();
            if query.language == Language::PromQL {
                match promql_metric_names(&expression) {
                    Ok(names) if !names.iter().all(|name| is_generated_by_tempo(name)) => {
                        sorted.runnable.push((title, expression));
                        continue;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        sorted
                            .problems
                            .push(format!("{title}: {error}: {expression}"));
                        continue;
                    }
                }
            }
            sorted.problems.extend(
                parse(query.language, &expression)
                    .into_iter()
                    .map(|problem| format!("{title}: {problem}")),
            );
            sorted.parsed_only.insert(title);
        }
        sorted
    }

    /// Polls every runnable query until it returns a number, all within one
    /// `timeout` (once the first has data the others follow within a scrape
    /// or two); returns a sentence per query still without data.
    pub async fn without_data(
        &self,
        prometheus: &PrometheusServer,
        timeout: Duration,
    ) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut failures = Vec::new();
        for (title, expression) in &self.runnable {
            let left = deadline
                .saturating_duration_since(tokio::time::Instant::now())
                .max(Duration::from_secs(1));
            if let Err(error) = prometheus.wait_for_data(expression, left).await {
                failures.push(format!("{title}: {error}"));
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_promql_runs_and_the_rest_is_only_parsed() {
        let json = r#"{"title":"T","uid":"t","panels":[
          {"type":"timeseries","title":"Rate","datasource":{"type":"prometheus","uid":"prometheus"},
           "targets":[{"refId":"A","expr":"sum(rate(http_requests_total{stage=\"$stage\"}[$__rate_interval]))"}]},
          {"type":"timeseries","title":"Edges","datasource":{"type":"prometheus","uid":"prometheus"},
           "targets":[{"refId":"A","expr":"sum(rate(traces_service_graph_request_total[$__rate_interval]))"}]},
          {"type":"logs","title":"Logs","datasource":{"type":"loki","uid":"loki"},
           "targets":[{"refId":"A","expr":"{stage=\"$stage\"} | json"}]},
          {"type":"stat","title":"Broken","datasource":{"type":"prometheus","uid":"prometheus"},
           "targets":[{"refId":"A","expr":"sum(rate(x[1m]"}]}]}"#;
        let dashboard = Dashboard::from_json("t.json", json).unwrap();
        let sorted = DashboardQueries::sort(&dashboard, 3, |language, query| {
            if language == Language::LogQL && !query.contains("stage=\"3\"") {
                vec!["no stage".into()]
            } else {
                Vec::new()
            }
        });
        assert_eq!(
            sorted.runnable,
            [(
                "Rate".to_owned(),
                r#"sum(rate(http_requests_total{stage="3"}[1m]))"#.to_owned()
            )]
        );
        assert_eq!(
            sorted.parsed_only,
            BTreeSet::from(["Edges".to_owned(), "Logs".to_owned()])
        );
        assert_eq!(sorted.problems.len(), 1, "{:?}", sorted.problems);
        assert!(sorted.problems[0].starts_with("Broken: "));
    }
}
