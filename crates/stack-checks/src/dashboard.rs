//! Rules for the dashboards in `grafana-dashboards/`: every datasource is
//! provisioned, every query parses, every query of a stage's signals
//! filters on that stage (the `stage` label of the services' metrics and
//! logs, `deployment_environment_name` on Tempo's generated series,
//! `resource.deployment.environment.name` in TraceQL), and every stage
//! dashboard has a latency panel whose diamonds open the trace behind them.
//!
//! PromQL is parsed for real (promql-parser, through the `dashboards`
//! crate). LogQL and TraceQL have no Rust parser: for them this module
//! checks the stream selector and the shape of the pipeline, which catches
//! the usual slips (an unclosed brace or quote, a missing `stage` matcher,
//! an unknown pipeline stage), not every error Loki or Tempo would report.

use std::collections::{BTreeMap, BTreeSet};

use dashboards::{Dashboard, Language, Panel, language_of, promql_selectors};
use regex::Regex;

use crate::Problems;
use crate::backends::STAGE_LABEL;

pub use dashboards::is_generated_by_tempo;

/// A label matcher `(label, op, value)`.
pub type Matcher = (String, String, String);

/// The checks of one dashboard. `provisioned` maps each provisioned
/// datasource uid to its type.
pub fn check_dashboard(dashboard: &Dashboard, provisioned: &BTreeMap<String, String>) -> Problems {
    let mut problems = Vec::new();
    let file = dashboard.path.display().to_string();

    for panel in &dashboard.panels {
        let title = &panel.title;
        if panel.kind == "row" {
            continue;
        }
        if panel.description.trim().is_empty() {
            problems.push(format!(
                "{file}: panel {title:?} has no description (what it shows and why)"
            ));
        }
        if panel.kind != "text" && panel.targets.is_empty() {
            problems.push(format!("{file}: panel {title:?} has no query"));
        }
    }

    for uid in dashboard.datasource_uids() {
        if !provisioned.contains_key(&uid) {
            problems.push(format!(
                "{file}: datasource uid {uid:?} is not provisioned ({:?})",
                provisioned.keys().collect::<Vec<_>>()
            ));
        }
    }

    let variable = Regex::new(r"\$\{?([A-Za-z_]\w*)").expect("a valid regex");
    for query in dashboard.queries() {
        let title = &query.panel.title;
        let text = &query.target.text;
        let at = format!("{file}: panel {title:?}");
        if text.trim().is_empty() {
            problems.push(format!("{at}: empty query"));
            continue;
        }
        match provisioned.get(&query.datasource_uid) {
            Some(kind) if language_of(kind) == query.language => {}
            Some(kind) => problems.push(format!(
                "{at}: the datasource {} is a {kind}, not a {:?} one",
                query.datasource_uid, query.language
            )),
            None => problems.push(format!("{at}: query without a provisioned datasource")),
        }
        for name in variable.captures_iter(text).map(|c| c[1].to_owned()) {
            if !name.starts_with("__") && !dashboard.variables.contains(&name) {
                problems.push(format!("{at}: ${name} is not a variable of the dashboard"));
            }
        }
        // Any stage will do to check the syntax.
        let expanded = query.expanded("1");
        let found = match query.language {
            Language::PromQL => check_promql(text, &expanded),
            Language::LogQL => check_logql(&expanded),
            // A service map's query is a label filter on the service-graph
            // series Grafana reads from Prometheus.
            Language::TraceQL if query.target.query_type == "serviceMap" => {
                let as_promql = |filter: &str| format!("{SERVICE_GRAPH}{}", filter.trim());
                check_promql(&as_promql(text), &as_promql(&expanded))
            }
            Language::TraceQL if !text.contains(TRACEQL_STAGE) => {
                vec![format!(
                    "TraceQL does not keep to the stage: add {TRACEQL_STAGE}: {text}"
                )]
            }
            Language::TraceQL => check_traceql(&expanded),
            Language::Sql => Vec::new(),
            Language::Other => vec!["a datasource type these checks do not know".to_owned()],
        };
        problems.extend(found.into_iter().map(|problem| format!("{at}: {problem}")));
    }
    problems
}

/// The series Grafana's service map reads.
pub const SERVICE_GRAPH: &str = "traces_service_graph_request_total";

/// How a TraceQL query keeps to the dashboard's stage.
pub const TRACEQL_STAGE: &str = "resource.deployment.environment.name=\"stage$stage\"";

/// A PromQL query, as written (`raw`) and as Grafana sends it (`expanded`):
/// it parses; every selector of a service metric filters on `job` and
/// `stage` (never on `container_name`), and every selector of Tempo's
/// generated series on `deployment_environment_name`; every range is a
/// Grafana interval variable, so it suits whatever the scrape interval is.
pub fn check_promql(raw: &str, expanded: &str) -> Problems {
    let mut problems = Vec::new();
    let selectors = match promql_selectors(expanded) {
        Ok(selectors) => selectors,
        Err(error) => return vec![format!("PromQL does not parse: {error}: {expanded}")],
    };
    for selector in selectors {
        let name = selector.name.clone().unwrap_or_default();
        let has = |label: &str| selector.matchers.iter().any(|(l, _, _)| l == label);
        if has("container_name") {
            problems.push(format!(
                "{name}: filter on job, not container_name (docs/pitfalls.md#metric-names)"
            ));
        }
        if is_generated_by_tempo(&name) {
            if !has(STAGE_LABEL) {
                problems.push(format!(
                    "{name}: Tempo's series of every stage share this name; filter on \
                     {STAGE_LABEL}=\"stage$stage\""
                ));
            }
            continue;
        }
        for label in ["job", "stage"] {
            if !has(label) {
                problems.push(format!("{name}: the selector does not filter on {label}"));
            }
        }
    }
    // Ranges are read outside quoted strings, where `[0-9]` is a regex.
    let quoted = Regex::new(r#""(?:[^"\\]|\\.)*""#).expect("a valid regex");
    let unquoted = quoted.replace_all(raw, "\"\"");
    let range = Regex::new(r"\[([^\]]*)\]").expect("a valid regex");
    for window in range.captures_iter(&unquoted).map(|c| c[1].to_owned()) {
        if !window.starts_with('$') {
            problems.push(format!(
                "range [{window}]: use $__rate_interval (or $__range) so the window suits the scrape interval"
            ));
        }
    }
    problems
}

/// The stream selector of a LogQL query, as matchers, and what follows it.
pub fn logql_selector(query: &str) -> Result<(Vec<Matcher>, &str), String> {
    let start = query
        .find('{')
        .ok_or_else(|| "no stream selector {...}".to_owned())?;
    let mut rest = &query[start + 1..];
    let mut matchers = Vec::new();
    let matcher = Regex::new(r#"^\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|\})"#)
        .expect("a valid regex");
    loop {
        let captures = matcher
            .captures(rest)
            .ok_or_else(|| format!("unreadable stream selector at {rest:?}"))?;
        matchers.push((
            captures[1].to_owned(),
            captures[2].to_owned(),
            captures[3].to_owned(),
        ));
        let end = captures[0].len();
        let closed = &captures[4] == "}";
        rest = &rest[end..];
        if closed {
            return Ok((matchers, rest));
        }
    }
}

/// The parser and formatting stages a log pipeline may use after `|`.
const PIPELINE_STAGES: [&str; 10] = [
    "json",
    "logfmt",
    "unpack",
    "pattern",
    "regexp",
    "line_format",
    "label_format",
    "drop",
    "keep",
    "decolorize",
];

/// A LogQL query: a stream selector that filters on `stage`, then (for a
/// log query) pipeline stages that Loki knows: line filters (`|= "x"`),
/// parsers (`| json`), label filters (`| level="ERROR"`).
pub fn check_logql(query: &str) -> Problems {
    let (matchers, rest) = match logql_selector(query) {
        Ok(parsed) => parsed,
        Err(error) => return vec![format!("LogQL: {error}: {query}")],
    };
    let mut problems = Vec::new();
    if !matchers.iter().any(|(label, _, _)| label == "stage") {
        problems.push(format!("LogQL selector does not filter on stage: {query}"));
    }
    if !query.trim_start().starts_with('{') {
        // A metric query wraps the pipeline in functions; only its selector
        // is checked.
        return problems;
    }
    let label_filter = Regex::new(
        r#"^[A-Za-z_]\w*\s*(=~|!~|!=|==|>=|<=|=|>|<)\s*("(?:[^"\\]|\\.)*"|`[^`]*`|[\w.]+)\s*$"#,
    )
    .expect("a valid regex");
    let line_filter =
        Regex::new(r#"^(\|=|\|~|!=|!~)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*"#).expect("a valid regex");
    let mut rest = rest.trim_start();
    while !rest.is_empty() {
        if let Some(found) = line_filter.find(rest) {
            rest = rest[found.end()..].trim_start();
            continue;
        }
        let Some(after_pipe) = rest.strip_prefix('|') else {
            problems.push(format!("LogQL: unexpected {rest:?} in {query}"));
            break;
        };
        let end = stage_end(after_pipe);
        let stage = after_pipe[..end].trim();
        let word = stage.split_whitespace().next().unwrap_or_default();
        if !PIPELINE_STAGES.contains(&word) && !label_filter.is_match(stage) {
            problems.push(format!(
                "LogQL: unknown pipeline stage {stage:?} in {query}"
            ));
        }
        rest = after_pipe[end..].trim_start();
    }
    problems
}

/// Where a pipeline stage ends: at the next `|` outside quotes.
fn stage_end(text: &str) -> usize {
    let mut quote = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some('"'), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '`') => quote = Some(c),
            (None, '|') => return i,
            (None, _) => {}
        }
    }
    text.len()
}

/// A TraceQL query: non-empty, a spanset `{...}` first, braces, parentheses
/// and quotes balanced.
pub fn check_traceql(query: &str) -> Problems {
    if !query.trim_start().starts_with('{') {
        return vec![format!(
            "TraceQL should start with a spanset {{...}}: {query}"
        )];
    }
    let mut stack = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in query.chars() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '(' => stack.push(c),
            '}' | ')' => {
                let open = if c == '}' { '{' } else { '(' };
                if stack.pop() != Some(open) {
                    return vec![format!("TraceQL: unbalanced {c} in {query}")];
                }
            }
            _ => {}
        }
    }
    if in_string || !stack.is_empty() {
        return vec![format!("TraceQL: unclosed quote or brace in {query}")];
    }
    Vec::new()
}

/// The check of a query a test cannot run for data (it needs Loki, Tempo,
/// or Tempo's generated `traces_*` series): parse it in its language.
pub fn check_parsed_only(language: Language, query: &str) -> Problems {
    match language {
        Language::PromQL => promql_selectors(query)
            .err()
            .map(|error| format!("PromQL does not parse: {error}: {query}"))
            .into_iter()
            .collect(),
        Language::LogQL => check_logql(query),
        Language::TraceQL => check_traceql(query),
        other => vec![format!("a {other:?} query, which no stage test can run")],
    }
}

/// Tempo's span-latency histogram, which carries exemplars.
pub const SPAN_LATENCY_BUCKET: &str = "traces_spanmetrics_latency_bucket";

/// A time series every target of which asks for exemplars of Tempo's span
/// latency.
pub fn is_exemplar_latency_panel(panel: &Panel) -> bool {
    panel.kind == "timeseries"
        && !panel.targets.is_empty()
        && panel
            .targets
            .iter()
            .all(|target| target.exemplar && target.text.contains(SPAN_LATENCY_BUCKET))
}

/// Whether a panel draws a service's RED latency (its own duration
/// histogram, as scraped).
fn is_red_latency_panel(panel: &Panel) -> bool {
    panel
        .targets
        .iter()
        .any(|target| target.text.contains("http_request_duration_seconds"))
}

/// The latency panel with exemplars, from a latency spike to the trace that
/// caused it: there is one; it reads Prometheus' provisioned datasource
/// (`prometheus_uid`, the one whose exemplars link to Tempo); it shows the
/// stage's SERVER spans by `service` and `span_name`; it sits beside a RED
/// latency panel where the dashboard has one; and its description says
/// what the diamonds are and names the link Grafana shows on one
/// (`link`, e.g. "Query with Tempo").
pub fn check_exemplar_panel(dashboard: &Dashboard, prometheus_uid: &str, link: &str) -> Problems {
    let file = dashboard.path.display().to_string();
    let panels: Vec<&Panel> = dashboard
        .panels
        .iter()
        .filter(|panel| is_exemplar_latency_panel(panel))
        .collect();
    if panels.is_empty() {
        return vec![format!(
            "{file}: no latency panel with exemplars (a timeseries of {SPAN_LATENCY_BUCKET} \
             whose targets have \"exemplar\": true)"
        )];
    }
    let mut problems = Vec::new();
    let red: Vec<&Panel> = dashboard
        .panels
        .iter()
        .filter(|panel| is_red_latency_panel(panel))
        .collect();
    let grouping = Regex::new(r"by \(([^)]*)\)").expect("a valid regex");
    for panel in panels {
        let at = format!("{file}: panel {:?}", panel.title);
        let uids: BTreeSet<&str> = panel
            .datasource
            .iter()
            .chain(panel.targets.iter().filter_map(|t| t.datasource.as_ref()))
            .map(|datasource| datasource.uid.as_str())
            .collect();
        if uids != BTreeSet::from([prometheus_uid]) {
            problems.push(format!(
                "{at}: reads {uids:?}, not the provisioned Prometheus {prometheus_uid:?} whose \
                 exemplars link to Tempo"
            ));
        }
        for target in &panel.targets {
            let expanded = dashboards::expand(&target.text, "1");
            let Ok(selectors) = promql_selectors(&expanded) else {
                problems.push(format!("{at}: PromQL does not parse: {expanded}"));
                continue;
            };
            for selector in selectors {
                let matches = |label: &str, value: Option<&str>| {
                    selector.matchers.iter().any(|(l, op, v)| {
                        l == label && op == "=" && value.is_none_or(|value| v == value)
                    })
                };
                if !matches("span_kind", Some("SPAN_KIND_SERVER")) {
                    problems.push(format!(
                        "{at}: keep to the requests a service serves: span_kind=\"SPAN_KIND_SERVER\""
                    ));
                }
                if !matches(STAGE_LABEL, None) {
                    problems.push(format!(
                        "{at}: keep to the stage: {STAGE_LABEL}=\"stage$stage\""
                    ));
                }
            }
            let by: BTreeSet<&str> = grouping
                .captures_iter(&target.text)
                .flat_map(|c| c.get(1).map_or("", |m| m.as_str()).split(','))
                .map(str::trim)
                .collect();
            for label in ["le", "service", "span_name"] {
                if !by.contains(label) {
                    problems.push(format!(
                        "{at}: group by {label} (le, service, span_name): {}",
                        target.text
                    ));
                }
            }
        }
        if !red.is_empty() && !red.iter().any(|other| other.grid.beside(&panel.grid)) {
            let titles: Vec<&str> = red.iter().map(|p| p.title.as_str()).collect();
            problems.push(format!(
                "{at}: place it beside the RED latency panel ({})",
                titles.join(" or ")
            ));
        }
        let description = panel.description.to_lowercase();
        if !description.contains("exemplar") || !panel.description.contains(link) {
            problems.push(format!(
                "{at}: its description must say what the diamonds (exemplars) are and that \
                 {link:?} opens the trace"
            ));
        }
    }
    problems
}

/// The panel titles of a dashboard, for checking that the panels a stage's
/// contract lists are all there.
pub fn panel_titles(dashboard: &Dashboard) -> BTreeSet<String> {
    dashboard
        .panels
        .iter()
        .map(|panel| panel.title.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provisioned() -> BTreeMap<String, String> {
        [
            ("prometheus", "prometheus"),
            ("loki", "loki"),
            ("tempo", "tempo"),
        ]
        .into_iter()
        .map(|(uid, kind)| (uid.to_owned(), kind.to_owned()))
        .collect()
    }

    fn check(json: &str) -> String {
        let dashboard = Dashboard::from_json("d.json", json).unwrap();
        check_dashboard(&dashboard, &provisioned()).join("\n")
    }

    #[test]
    fn promql_must_filter_on_job_and_stage_with_variable_ranges() {
        let good = r#"sum(rate(http_requests_total{job="dice-roller", stage="$stage"}[$__rate_interval]))"#;
        assert_eq!(
            check_promql(good, &dashboards::expand(good, "1")),
            Vec::<String>::new()
        );
        let bad = r#"rate(http_requests_total{container_name="dice-roller-stage1"}[5m])"#;
        let problems = check_promql(bad, bad).join("\n");
        assert!(problems.contains("not container_name"), "{problems}");
        assert!(problems.contains("does not filter on job"), "{problems}");
        assert!(problems.contains("does not filter on stage"), "{problems}");
        assert!(problems.contains("range [5m]"), "{problems}");
        let classes = r#"sum(rate(http_requests_total{job="a", stage="1", status=~"5[0-9]{2}"}[$__rate_interval]))"#;
        assert_eq!(
            check_promql(classes, &dashboards::expand(classes, "1")),
            Vec::<String>::new()
        );
        let tempo = "sum by (client, server) (rate(traces_service_graph_request_total{deployment_environment_name=\"stage$stage\"}[$__rate_interval]))";
        assert_eq!(
            check_promql(tempo, &dashboards::expand(tempo, "1")),
            Vec::<String>::new()
        );
        let broken = "sum(rate(x{job=\"a\", stage=\"1\"}[1m]";
        assert!(check_promql("", broken)[0].contains("does not parse"));
    }

    #[test]
    fn tempo_series_and_traceql_must_keep_to_the_stage() {
        let unscoped = "sum by (client, server) (rate(traces_service_graph_request_total{connection_type=\"\"}[$__rate_interval]))";
        let problems = check_promql(unscoped, &dashboards::expand(unscoped, "1")).join("\n");
        assert!(
            problems.contains("filter on deployment_environment_name"),
            "{problems}"
        );
        let problems = check(
            r#"{"title":"T","uid":"t","templating":{"list":[{"name":"stage"}]},"panels":[
              {"type":"nodeGraph","title":"Map","description":"d","datasource":{"type":"tempo","uid":"tempo"},
               "targets":[{"refId":"A","queryType":"serviceMap","serviceMapQuery":"{server=~\"a|b\"}"}]},
              {"type":"table","title":"Traces","description":"d","datasource":{"type":"tempo","uid":"tempo"},
               "targets":[{"refId":"A","queryType":"traceql","query":"{resource.service.name=\"a\"}"}]}]}"#,
        );
        assert!(
            problems.contains("\"Map\": traces_service_graph_request_total: Tempo's series"),
            "{problems}"
        );
        assert!(
            problems.contains("\"Traces\": TraceQL does not keep to the stage"),
            "{problems}"
        );
    }

    fn exemplar_dashboard(target: &str, x: u32) -> Dashboard {
        let json = format!(
            r#"{{"title":"T","uid":"t","panels":[
              {{"type":"timeseries","title":"Latency","gridPos":{{"x":0,"y":8,"w":8,"h":8}},
               "datasource":{{"type":"prometheus","uid":"prometheus"}},
               "targets":[{{"refId":"A","expr":"histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{{job=\"a\",stage=\"$stage\"}}[$__rate_interval])))"}}]}},
              {{"type":"timeseries","title":"Spans","gridPos":{{"x":{x},"y":8,"w":8,"h":8}},
               "description":"Diamonds are exemplars: Query with Tempo opens the trace.",
               "datasource":{{"type":"prometheus","uid":"prometheus"}},
               "targets":[{{"refId":"A","exemplar":true,"expr":{target}}}]}}]}}"#
        );
        Dashboard::from_json("d.json", &json).unwrap()
    }

    #[test]
    fn an_exemplar_panel_reads_the_stage_s_server_spans_beside_the_red_latency() {
        let good = serde_json::to_string(
            "histogram_quantile(0.95, sum by (le, service, span_name) (rate(traces_spanmetrics_latency_bucket{deployment_environment_name=\"stage$stage\", span_kind=\"SPAN_KIND_SERVER\"}[$__rate_interval])))",
        )
        .unwrap();
        let check = |dashboard: &Dashboard| {
            check_exemplar_panel(dashboard, "prometheus", "Query with Tempo").join("\n")
        };
        assert_eq!(check(&exemplar_dashboard(&good, 8)), "");
        let far = check(&exemplar_dashboard(&good, 16));
        assert!(
            far.contains("beside the RED latency panel (Latency)"),
            "{far}"
        );
        let loose = serde_json::to_string(
            "histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket[$__rate_interval])))",
        )
        .unwrap();
        let problems = check(&exemplar_dashboard(&loose, 8));
        for expected in [
            "SPAN_KIND_SERVER",
            "keep to the stage",
            "group by service",
            "group by span_name",
        ] {
            assert!(problems.contains(expected), "{expected}: {problems}");
        }
        let other =
            check_exemplar_panel(&exemplar_dashboard(&good, 8), "mimir", "Query with Tempo");
        assert!(
            other[0].contains("not the provisioned Prometheus \"mimir\""),
            "{other:?}"
        );
        let without =
            Dashboard::from_json("d.json", r#"{"title":"T","uid":"t","panels":[]}"#).unwrap();
        assert!(check(&without).contains("no latency panel with exemplars"));
    }

    #[test]
    fn logql_selectors_and_pipelines_are_read() {
        let (matchers, rest) =
            logql_selector(r#"{service_name="dice-roller", stage=~"1|2"} | json"#).unwrap();
        assert_eq!(matchers[1], ("stage".into(), "=~".into(), "1|2".into()));
        assert_eq!(rest, " | json");
        for good in [
            r#"{service_name="dice-roller", stage="1"} | json | level="ERROR""#,
            r#"{stage="1"} |= "abc" != "def" | logfmt | roll_value >= 3"#,
            r#"{stage="1"} | json | line_format "{{.message}} | x""#,
            r#"sum by (service_name) (count_over_time({stage="1"} | json [5m]))"#,
        ] {
            assert_eq!(check_logql(good), Vec::<String>::new(), "{good}");
        }
        for (bad, expected) in [
            (
                r#"{service_name="dice-roller"} | json"#,
                "does not filter on stage",
            ),
            (r#"{stage="1" | json"#, "unreadable stream selector"),
            (r#"{stage="1"} | jsn"#, "unknown pipeline stage"),
            (r#"{stage="1"} json"#, "unexpected"),
        ] {
            let problems = check_logql(bad).join("\n");
            assert!(problems.contains(expected), "{bad}: {problems}");
        }
    }

    #[test]
    fn traceql_must_be_balanced() {
        assert!(check_traceql(r#"{resource.service.name="a" && status=error}"#).is_empty());
        assert!(check_traceql(r#"{ span.x = "}" } | count() > 1"#).is_empty());
        assert!(!check_traceql(r#"{resource.service.name="a""#).is_empty());
        assert!(!check_traceql(r#"resource.service.name="a""#).is_empty());
    }

    #[test]
    fn dashboards_with_unknown_uids_or_undescribed_panels_are_caught() {
        let problems = check(
            r#"{"title":"T","uid":"t","panels":[
              {"type":"timeseries","title":"Rate","datasource":{"type":"prometheus","uid":"Prometheus"},
               "targets":[{"refId":"A","expr":"rate(x{job=\"a\",stage=\"$stage\"}[$__rate_interval])"}]},
              {"type":"logs","title":"Logs","description":"lines",
               "datasource":{"type":"loki","uid":"loki"},
               "targets":[{"refId":"A","expr":"{stage=\"$stage\"} | json"}]}]}"#,
        );
        assert!(
            problems.contains("uid \"Prometheus\" is not provisioned"),
            "{problems}"
        );
        assert!(
            problems.contains("\"Rate\" has no description"),
            "{problems}"
        );
        assert!(problems.contains("$stage is not a variable"), "{problems}");
    }
}
