//! Spans as both sources see them (the embedded receiver and Tempo's API),
//! and what can be read off a set of them: service-graph edges and whole
//! traces.

use std::collections::{BTreeMap, HashMap};

use stages::Edge;
pub use testkit::Kind;
use testkit::ReceivedSpan;

/// One span, ids as lower-case hex.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    pub service: String,
    pub name: String,
    pub kind: Kind,
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    pub start_unix_nanos: u64,
    pub end_unix_nanos: u64,
    pub error: bool,
}

impl From<&ReceivedSpan> for SpanRecord {
    fn from(span: &ReceivedSpan) -> Self {
        Self {
            service: span.service_name.clone(),
            name: span.name.clone(),
            kind: span.kind,
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            start_unix_nanos: span.start_unix_nanos,
            end_unix_nanos: span.end_unix_nanos,
            error: span.status == testkit::Status::Error,
        }
    }
}

/// Counts the requests of each edge the way Tempo's service-graph processor
/// pairs spans: a CLIENT span in one service whose child is a SERVER span in
/// another (docs/pitfalls.md#span-kinds). A CLIENT span whose callee never exported, or a
/// SERVER span that did not continue the caller's trace, pairs with nothing.
pub fn edges(spans: &[SpanRecord]) -> BTreeMap<(String, String), u64> {
    let clients: HashMap<(&str, &str), &SpanRecord> = spans
        .iter()
        .filter(|span| span.kind == Kind::Client)
        .map(|span| ((span.trace_id.as_str(), span.span_id.as_str()), span))
        .collect();
    let mut edges = BTreeMap::new();
    for server in spans.iter().filter(|span| span.kind == Kind::Server) {
        let Some(parent) = &server.parent_span_id else {
            continue;
        };
        if let Some(client) = clients.get(&(server.trace_id.as_str(), parent.as_str()))
            && client.service != server.service
        {
            *edges
                .entry((client.service.clone(), server.service.clone()))
                .or_default() += 1;
        }
    }
    edges
}

/// How many requests `edge` carried, from [`edges`].
pub fn edge_count(found: &BTreeMap<(String, String), u64>, edge: &Edge) -> u64 {
    found
        .get(&(edge.client.to_owned(), edge.server.to_owned()))
        .copied()
        .unwrap_or(0)
}

/// Spans grouped by trace id.
pub fn by_trace(spans: &[SpanRecord]) -> BTreeMap<&str, Vec<&SpanRecord>> {
    let mut traces: BTreeMap<&str, Vec<&SpanRecord>> = BTreeMap::new();
    for span in spans {
        traces.entry(span.trace_id.as_str()).or_default().push(span);
    }
    traces
}

/// The trace that shows the most: of the traces that show what `wanted`
/// asks for (a stage's lesson), or failing that of any, the ones without an
/// error; of those the one with the most services, then the most spans,
/// then the longest. Traces with errors are chosen only when there is
/// nothing else.
pub fn representative(
    spans: &[SpanRecord],
    wanted: impl Fn(&[&SpanRecord]) -> bool,
) -> Option<Vec<SpanRecord>> {
    by_trace(spans)
        .into_values()
        .max_by_key(|trace| {
            let shows = wanted(trace);
            let clean = !trace.iter().any(|span| span.error);
            let mut services: Vec<&str> = trace.iter().map(|span| span.service.as_str()).collect();
            services.sort_unstable();
            services.dedup();
            let (start, end) = extent(trace.iter().copied());
            (shows, clean, services.len(), trace.len(), end - start)
        })
        .map(|trace| trace.into_iter().cloned().collect())
}

/// The earliest start and the latest end of `spans`.
pub fn extent<'a>(spans: impl IntoIterator<Item = &'a SpanRecord>) -> (u64, u64) {
    spans.into_iter().fold((u64::MAX, 0), |(start, end), span| {
        (
            start.min(span.start_unix_nanos),
            end.max(span.end_unix_nanos),
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn span(
        service: &str,
        name: &str,
        kind: Kind,
        ids: (&str, &str, Option<&str>),
        start_ms: u64,
        end_ms: u64,
    ) -> SpanRecord {
        SpanRecord {
            service: service.into(),
            name: name.into(),
            kind,
            trace_id: ids.0.into(),
            span_id: ids.1.into(),
            parent_span_id: ids.2.map(str::to_owned),
            start_unix_nanos: start_ms * 1_000_000,
            end_unix_nanos: end_ms * 1_000_000,
            error: false,
        }
    }

    #[test]
    fn an_edge_needs_a_server_span_whose_parent_is_a_client_span_elsewhere() {
        let spans = vec![
            span(
                "traffic-gen",
                "GET",
                Kind::Client,
                ("t1", "c1", Some("r1")),
                0,
                10,
            ),
            span(
                "dice-roller",
                "GET /roll",
                Kind::Server,
                ("t1", "s1", Some("c1")),
                1,
                9,
            ),
            // No propagation: the server started a trace of its own.
            span(
                "traffic-gen",
                "GET",
                Kind::Client,
                ("t2", "c2", None),
                0,
                10,
            ),
            span(
                "dice-roller",
                "GET /roll",
                Kind::Server,
                ("t3", "s3", None),
                1,
                9,
            ),
            // An INTERNAL "client" span draws nothing.
            span(
                "traffic-gen",
                "GET",
                Kind::Internal,
                ("t4", "c4", None),
                0,
                10,
            ),
            span(
                "dice-roller",
                "GET /roll",
                Kind::Server,
                ("t4", "s4", Some("c4")),
                1,
                9,
            ),
        ];
        let found = edges(&spans);
        assert_eq!(found.len(), 1, "{found:?}");
        let edge = Edge {
            client: "traffic-gen",
            server: "dice-roller",
        };
        assert_eq!(edge_count(&found, &edge), 1);
    }

    #[test]
    fn the_representative_trace_is_the_fullest_one_without_errors() {
        let mut failed = span("a", "x", Kind::Server, ("bad", "1", None), 0, 10);
        failed.error = true;
        let spans = vec![
            failed,
            span("a", "x", Kind::Server, ("bad", "2", Some("1")), 0, 10),
            span("a", "x", Kind::Server, ("bad", "3", Some("1")), 0, 10),
            span("a", "x", Kind::Server, ("good", "1", None), 0, 10),
            span("b", "y", Kind::Server, ("good", "2", Some("1")), 0, 10),
            span("a", "x", Kind::Server, ("small", "1", None), 0, 10),
        ];
        let trace = representative(&spans, |_| true).unwrap();
        assert!(trace.iter().all(|span| span.trace_id == "good"));
        let small = representative(&spans, |trace| trace[0].trace_id == "small").unwrap();
        assert!(small.iter().all(|span| span.trace_id == "small"));
    }
}
