//! Tempo's service-graph metrics, as Prometheus returns them.
//!
//! `traces_service_graph_request_total{client,server}` has a series per
//! edge. An edge is real only when Tempo paired a CLIENT span with its
//! child SERVER span; when it could not (no trace-context propagation) it
//! still guesses the edge from the client span's `peer.service` and labels
//! it `connection_type="virtual_node"`, as it does the `user -> X` edges
//! of root spans (PITFALLS 19). So a check must require the label absent.

use super::prometheus::Sample;

/// The query the check runs: every edge with its connection type.
pub const EDGES_QUERY: &str =
    "sum by (client, server, connection_type) (traces_service_graph_request_total)";

/// One edge of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphEdge {
    pub client: String,
    pub server: String,
    /// `connection_type="virtual_node"`: guessed, not paired.
    pub virtual_node: bool,
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
