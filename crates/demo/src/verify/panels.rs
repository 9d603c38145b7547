//! A dashboard's panels as the questions `verify` asks the stack: each
//! query with Grafana's variables set for the stage, sent to the backend
//! its datasource names, over the window (as a panel draws it).

use dashboards::{Dashboard, Language};

use super::scope::Scope;

/// Where a panel's query goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `query_range`, as a time-series panel asks.
    Prometheus,
    /// `query_range`: lines of a log query, series of a metric query.
    Loki,
    /// A TraceQL search.
    Tempo,
}

/// One query of one panel, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct PanelQuery {
    pub panel: String,
    /// `PromQL`, `LogQL`, `TraceQL`, or `service map` (a Tempo panel whose
    /// graph Grafana reads from Prometheus).
    pub language: &'static str,
    pub backend: Backend,
    /// The query with the variables expanded.
    pub expression: String,
}

/// The queries of every panel for the scope's stage, and the titles of the
/// panels `verify` cannot ask (SQL: they read a database, not the stack).
pub fn panel_queries(dashboard: &Dashboard, scope: &Scope) -> (Vec<PanelQuery>, Vec<String>) {
    let stage = scope.label();
    let mut queries = Vec::new();
    let mut not_run = Vec::new();
    for query in dashboard.queries() {
        let expression = query.expanded(&stage);
        let panel = query.panel.title.clone();
        let (language, backend, expression) = match query.language {
            Language::PromQL => ("PromQL", Backend::Prometheus, expression),
            Language::LogQL => ("LogQL", Backend::Loki, expression),
            // Grafana draws the service map from Tempo's generated series
            // in Prometheus; the target holds only their label filter.
            Language::TraceQL if query.target.query_type == "serviceMap" => (
                "service map",
                Backend::Prometheus,
                format!("traces_service_graph_request_total{}", expression.trim()),
            ),
            Language::TraceQL => ("TraceQL", Backend::Tempo, expression),
            Language::Sql | Language::Other => {
                if !not_run.contains(&panel) {
                    not_run.push(panel);
                }
                continue;
            }
        };
        queries.push(PanelQuery {
            panel,
            language,
            backend,
            expression,
        });
    }
    (queries, not_run)
}
