//! Tempo's service-graph metrics, as Prometheus returns them.
//!
//! `traces_service_graph_request_total{client,server}` has a series per
//! edge. An edge is real only when Tempo paired a CLIENT span with its
//! child SERVER span; when it could not (no trace-context propagation) it
//! still guesses the edge from the client span's `peer.service` and labels
//! it `connection_type="virtual_node"`, as it does the `user -> X` edges
//! of root spans. So a check must require the label absent.
//!
//! Tempo's metrics-generator copies the stage (the server span's resource
//! attribute `deployment.environment.name`, see `stack/tempo/tempo.yml`)
//! into the label `deployment_environment_name`, so each stage has a graph
//! of its own, and a stage that sent nothing has none.

use super::prometheus::Sample;
use super::scope::Scope;

/// The query the check runs: every edge of the stage with its connection
/// type, and how many requests it carried in the window.
pub fn edges_query(scope: &Scope) -> String {
    format!(
        "sum by (client, server, connection_type) (increase(traces_service_graph_request_total{{deployment_environment_name=\"{}\"}}{}))",
        scope.environment(),
        scope.promql_range()
    )
}

/// One edge of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphEdge {
    pub client: String,
    pub server: String,
    /// `connection_type="virtual_node"`: guessed, not paired.
    pub virtual_node: bool,
    /// Requests in the window.
    pub value: f64,
}

impl GraphEdge {
    pub fn is(&self, client: &str, server: &str) -> bool {
        self.client == client && self.server == server
    }
}

/// The edges in a query answer; series without `client` and `server` are
/// not edges and are skipped.
pub fn edges(samples: &[Sample]) -> Vec<GraphEdge> {
    samples
        .iter()
        .filter_map(|sample| {
            Some(GraphEdge {
                client: sample.label("client")?.to_owned(),
                server: sample.label("server")?.to_owned(),
                virtual_node: sample.label("connection_type") == Some("virtual_node"),
                value: sample.value,
            })
        })
        .collect()
}
