//! The configs of Tempo, Loki and the OpenTelemetry Collector: the settings
//! without which a signal silently goes nowhere.

use serde_yaml_ng::Value;

use crate::{Problems, host_and_port};

/// The port in a `host:port` endpoint setting.
fn endpoint_port(value: &Value) -> Option<u16> {
    host_and_port(value.as_str()?).map(|(_, port)| port)
}

/// An OTLP receiver's listen address must be all interfaces: the receivers
/// of both Tempo and the collector default to localhost, which other
/// containers cannot reach.
fn check_listens_everywhere(what: &str, endpoint: &Value) -> Option<String> {
    match endpoint.as_str().and_then(host_and_port) {
        Some((host, _)) if host == "0.0.0.0" => None,
        _ => Some(format!(
            "{what} endpoint {endpoint:?} must be 0.0.0.0:<port> to be reachable from other containers"
        )),
    }
}

// --- Tempo --------------------------------------------------------------------

/// Tempo's HTTP port (its API, and its own `/metrics`).
pub fn tempo_http_port(tempo: &Value) -> u16 {
    port_or(&tempo["server"]["http_listen_port"], 3200)
}

/// The port of Tempo's OTLP receiver for `protocol` (`grpc` or `http`).
pub fn tempo_otlp_port(tempo: &Value, protocol: &str) -> Option<u16> {
    endpoint_port(&tempo["distributor"]["receivers"]["otlp"]["protocols"][protocol]["endpoint"])
}

/// Tempo receives OTLP from other containers, and its metrics-generator
/// turns spans into the service graph and span metrics and remote-writes
/// them to `remote_write_url` (docs/pitfalls.md#span-kinds, docs/pitfalls.md#service-graph-traps: without the `overrides`
/// processors nothing is written and nothing is logged). The config also
/// stays valid for Tempo 3, which rejects `ingester`, `compactor` and
/// `metrics_generator.traces_storage` (docs/pitfalls.md#image-majors).
pub fn check_tempo(tempo: &Value, remote_write_url: &str) -> Problems {
    let mut problems = Vec::new();
    let processors: Vec<&str> = tempo["overrides"]["defaults"]["metrics_generator"]["processors"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for processor in ["service-graphs", "span-metrics"] {
        if !processors.contains(&processor) {
            problems.push(format!(
                "tempo: overrides.defaults.metrics_generator.processors lacks {processor}"
            ));
        }
    }
    let storage = &tempo["metrics_generator"]["storage"];
    if storage["path"].as_str().is_none() {
        problems.push("tempo: metrics_generator.storage.path is not set".to_owned());
    }
    let urls: Vec<&str> = storage["remote_write"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["url"].as_str())
        .collect();
    if urls != [remote_write_url] {
        problems.push(format!(
            "tempo: metrics_generator remote-writes to {urls:?}, expected [{remote_write_url:?}]"
        ));
    }
    for protocol in ["grpc", "http"] {
        let endpoint =
            &tempo["distributor"]["receivers"]["otlp"]["protocols"][protocol]["endpoint"];
        if let Some(problem) =
            check_listens_everywhere(&format!("tempo: otlp {protocol}"), endpoint)
        {
            problems.push(problem);
        }
    }
    for (key, present) in [
        ("ingester", tempo.get("ingester").is_some()),
        ("compactor", tempo.get("compactor").is_some()),
        (
            "metrics_generator.traces_storage",
            tempo["metrics_generator"].get("traces_storage").is_some(),
        ),
    ] {
        if present {
            problems.push(format!(
                "tempo: `{key}` is rejected by Tempo 3; leave it out so the config serves both majors"
            ));
        }
    }
    problems.extend(check_stage_dimension(tempo));
    if tempo["storage"]["trace"]["backend"].as_str() != Some("local") {
        problems
            .push("tempo: storage.trace.backend should be local (the tempo-data volume)".into());
    }
    problems
}

/// The resource attribute that names a service's stage, and the label
/// Tempo's metrics-generator makes of it on its generated series.
pub const STAGE_ATTRIBUTE: &str = "deployment.environment.name";
pub const STAGE_LABEL: &str = "deployment_environment_name";

/// Both processors of the metrics-generator add the stage as a dimension,
/// so every `traces_service_graph_*` and `traces_spanmetrics_*` series says
/// which stage it is from (dashboards and `make verify` select on it); and
/// the service graph does not split it into `client_`/`server_` labels,
/// which the traffic generator's edges (whose client has no stage) would
/// lack. A per-tenant `overrides` setting would win over the global one, so
/// none may drop the dimension either.
pub fn check_stage_dimension(tempo: &Value) -> Problems {
    let mut problems = Vec::new();
    let processor = &tempo["metrics_generator"]["processor"];
    let overrides = &tempo["overrides"]["defaults"]["metrics_generator"]["processor"];
    for (name, key) in [
        ("service_graphs", "service-graphs"),
        ("span_metrics", "span-metrics"),
    ] {
        let dimensions = |section: &Value| -> Option<Vec<String>> {
            section[name]["dimensions"].as_sequence().map(|list| {
                list.iter()
                    .filter_map(|value| value.as_str().map(str::to_owned))
                    .collect()
            })
        };
        let global = dimensions(processor).unwrap_or_default();
        if !global.iter().any(|dimension| dimension == STAGE_ATTRIBUTE) {
            problems.push(format!(
                "tempo: metrics_generator.processor.{name}.dimensions lacks {STAGE_ATTRIBUTE}: \
                 the {key} series would carry no {STAGE_LABEL} label, so stages running side \
                 by side could not be told apart"
            ));
        }
        if let Some(overridden) = dimensions(overrides)
            && !overridden
                .iter()
                .any(|dimension| dimension == STAGE_ATTRIBUTE)
        {
            problems.push(format!(
                "tempo: overrides.defaults.metrics_generator.processor.{name}.dimensions \
                 replaces the global dimensions without {STAGE_ATTRIBUTE}"
            ));
        }
    }
    for section in [processor, overrides] {
        if section["service_graphs"]["enable_client_server_prefix"].as_bool() == Some(true) {
            problems.push(format!(
                "tempo: enable_client_server_prefix turns {STAGE_LABEL} into client_ and server_ \
                 labels, and the traffic generator's edges (no stage on the client) lose the \
                 client_ one; leave it off"
            ));
        }
    }
    problems
}

/// The label whose value is the trace id on the exemplars Tempo attaches to
/// its span metrics: `traceID` (Tempo 2.10's default, in its
/// `modules/generator/registry/histogram.go`) unless
/// `overrides.defaults.metrics_generator.trace_id_label_name` renames it.
pub fn tempo_exemplar_trace_id_label(tempo: &Value) -> String {
    tempo["overrides"]["defaults"]["metrics_generator"]["trace_id_label_name"]
        .as_str()
        .unwrap_or("traceID")
        .to_owned()
}

// --- Loki ---------------------------------------------------------------------

pub fn loki_http_port(loki: &Value) -> u16 {
    port_or(&loki["server"]["http_listen_port"], 3100)
}

/// Loki as one process on filesystem storage, reachable from other
/// containers, accepting pushes without a tenant (Alloy sends none), and
/// storing structured metadata when Alloy sends it.
pub fn check_loki(loki: &Value, needs_structured_metadata: bool) -> Problems {
    let mut problems = Vec::new();
    if loki["auth_enabled"].as_bool() != Some(false) {
        problems.push("loki: auth_enabled must be false (Alloy pushes without a tenant id)".into());
    }
    if let Some(address) = loki["server"]["http_listen_address"].as_str()
        && address != "0.0.0.0"
    {
        problems.push(format!(
            "loki: http_listen_address {address} is unreachable from other containers"
        ));
    }
    let schemas = loki["schema_config"]["configs"].as_sequence();
    let filesystem_tsdb = schemas.into_iter().flatten().any(|schema| {
        schema["store"].as_str() == Some("tsdb")
            && schema["object_store"].as_str() == Some("filesystem")
            && schema["schema"].as_str() == Some("v13")
    });
    if !filesystem_tsdb {
        problems.push("loki: no tsdb/v13 schema on filesystem storage".into());
    }
    if loki["common"]["storage"]["filesystem"]
        .get("chunks_directory")
        .is_none()
    {
        problems.push("loki: common.storage.filesystem.chunks_directory is not set".into());
    }
    if needs_structured_metadata
        && loki["limits_config"]["allow_structured_metadata"].as_bool() != Some(true)
    {
        problems.push(
            "loki: Alloy sends structured metadata, so limits_config.allow_structured_metadata must be true".into(),
        );
    }
    problems
}

// --- OpenTelemetry Collector -------------------------------------------------

/// The collector's OTLP receiver port for `protocol` (`grpc` or `http`).
pub fn collector_otlp_port(collector: &Value, protocol: &str) -> Option<u16> {
    endpoint_port(&collector["receivers"]["otlp"]["protocols"][protocol]["endpoint"])
}

/// The port of the collector's own Prometheus metrics.
pub fn collector_metrics_port(collector: &Value) -> Option<u16> {
    collector["service"]["telemetry"]["metrics"]["readers"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find_map(|reader| {
            let port = &reader["pull"]["exporter"]["prometheus"]["port"];
            port.as_u64().and_then(|port| u16::try_from(port).ok())
        })
}

/// The collector's pipelines only use components it defines; the traces
/// pipeline batches and exports OTLP to Tempo at `tempo_host` on the port
/// Tempo's config listens on; receivers and the metrics endpoint are
/// reachable from other containers.
pub fn check_collector(collector: &Value, tempo: &Value, tempo_host: &str) -> Problems {
    let mut problems = Vec::new();
    let defined = |section: &str, id: &str| collector[section].get(id).is_some();
    let ids = |value: &Value| -> Vec<String> {
        value
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    for extension in ids(&collector["service"]["extensions"]) {
        if !defined("extensions", &extension) {
            problems.push(format!("collector: extension {extension} is not defined"));
        }
    }
    let pipelines = collector["service"]["pipelines"].as_mapping();
    for (name, pipeline) in pipelines.into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        for section in ["receivers", "processors", "exporters"] {
            for id in ids(&pipeline[section]) {
                if !defined(section, &id) {
                    problems.push(format!(
                        "collector: pipeline {name} uses {section} {id}, which is not defined"
                    ));
                }
            }
        }
    }
    let traces = &collector["service"]["pipelines"]["traces"];
    if !ids(&traces["processors"]).iter().any(|p| p == "batch") {
        problems.push("collector: the traces pipeline does not batch".into());
    }
    let exporters = ids(&traces["exporters"]);
    let to_tempo = exporters.iter().find_map(|id| {
        let kind = id.split('/').next().unwrap_or_default();
        let protocol = match kind {
            "otlp_grpc" => "grpc",
            "otlp_http" => "http",
            "otlp" | "otlphttp" => {
                problems.push(format!(
                    "collector: exporter {id}: `{kind}` is a deprecated alias (otlp_grpc, otlp_http)"
                ));
                return None;
            }
            _ => return None,
        };
        let endpoint = collector["exporters"][id.as_str()]["endpoint"].as_str()?;
        Some((id.clone(), protocol, host_and_port(endpoint)))
    });
    match to_tempo {
        None => problems.push("collector: the traces pipeline exports no OTLP".into()),
        Some((id, protocol, address)) => {
            let expected =
                tempo_otlp_port(tempo, protocol).map(|port| (tempo_host.to_owned(), port));
            if address != expected {
                problems.push(format!(
                    "collector: exporter {id} sends to {address:?}, but Tempo's OTLP {protocol} receiver is {expected:?}"
                ));
            }
        }
    }
    for protocol in ["grpc", "http"] {
        let endpoint = &collector["receivers"]["otlp"]["protocols"][protocol]["endpoint"];
        if let Some(problem) =
            check_listens_everywhere(&format!("collector: otlp {protocol}"), endpoint)
        {
            problems.push(problem);
        }
    }
    let metrics_host = collector["service"]["telemetry"]["metrics"]["readers"]
        .as_sequence()
        .into_iter()
        .flatten()
        .find_map(|reader| reader["pull"]["exporter"]["prometheus"]["host"].as_str());
    if metrics_host != Some("0.0.0.0") {
        problems.push(format!(
            "collector: its own metrics listen on {metrics_host:?}; Prometheus needs 0.0.0.0"
        ));
    }
    problems
}

fn port_or(value: &Value, default: u16) -> u16 {
    value
        .as_u64()
        .and_then(|port| u16::try_from(port).ok())
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn tempo_without_the_overrides_block_is_caught() {
        let tempo = yaml(
            r#"
ingester: {max_block_duration: 5m}
distributor: {receivers: {otlp: {protocols: {grpc: {endpoint: "127.0.0.1:4317"}, http: {endpoint: "0.0.0.0:4318"}}}}}
metrics_generator: {storage: {path: /x, remote_write: [{url: "http://localhost:9090/api/v1/write"}]}}
storage: {trace: {backend: local}}
"#,
        );
        let problems = check_tempo(&tempo, "http://prometheus:9090/api/v1/write").join("\n");
        assert!(problems.contains("lacks service-graphs"), "{problems}");
        assert!(problems.contains("lacks span-metrics"), "{problems}");
        assert!(problems.contains("remote-writes to"), "{problems}");
        assert!(problems.contains("otlp grpc endpoint"), "{problems}");
        assert!(!problems.contains("otlp http endpoint"), "{problems}");
        assert!(
            problems.contains("`ingester` is rejected by Tempo 3"),
            "{problems}"
        );
    }

    #[test]
    fn tempo_without_the_stage_dimension_is_caught() {
        let good = yaml(
            r#"
metrics_generator:
  processor:
    service_graphs: {dimensions: [deployment.environment.name]}
    span_metrics: {dimensions: [deployment.environment.name]}
"#,
        );
        assert_eq!(check_stage_dimension(&good), Vec::<String>::new());
        let missing = yaml(
            "metrics_generator: {processor: {service_graphs: {dimensions: [service.version]}}}",
        );
        let problems = check_stage_dimension(&missing).join("\n");
        assert!(
            problems.contains("processor.service_graphs.dimensions lacks"),
            "{problems}"
        );
        assert!(
            problems.contains("processor.span_metrics.dimensions lacks"),
            "{problems}"
        );
        let prefixed = yaml(
            r#"
metrics_generator:
  processor:
    service_graphs: {dimensions: [deployment.environment.name], enable_client_server_prefix: true}
    span_metrics: {dimensions: [deployment.environment.name]}
overrides: {defaults: {metrics_generator: {processor: {span_metrics: {dimensions: []}}}}}
"#,
        );
        let problems = check_stage_dimension(&prefixed).join("\n");
        assert!(
            problems.contains("enable_client_server_prefix"),
            "{problems}"
        );
        assert!(
            problems.contains("replaces the global dimensions"),
            "{problems}"
        );
        assert_eq!(tempo_exemplar_trace_id_label(&good), "traceID");
        let renamed =
            yaml("overrides: {defaults: {metrics_generator: {trace_id_label_name: trace_id}}}");
        assert_eq!(tempo_exemplar_trace_id_label(&renamed), "trace_id");
    }

    #[test]
    fn loki_checks_catch_auth_and_missing_structured_metadata() {
        let loki = yaml(
            "auth_enabled: true\nschema_config: {configs: [{store: boltdb-shipper, object_store: filesystem, schema: v12}]}\n",
        );
        let problems = check_loki(&loki, true).join("\n");
        assert!(problems.contains("auth_enabled"), "{problems}");
        assert!(problems.contains("tsdb/v13"), "{problems}");
        assert!(problems.contains("allow_structured_metadata"), "{problems}");
        assert!(!check_loki(&loki, false).join("\n").contains("structured"));
    }

    #[test]
    fn collector_checks_catch_dangling_ids_and_a_wrong_tempo_port() {
        let tempo = yaml(
            "distributor: {receivers: {otlp: {protocols: {grpc: {endpoint: '0.0.0.0:4317'}}}}}",
        );
        let collector = yaml(
            r#"
receivers: {otlp: {protocols: {grpc: {endpoint: "0.0.0.0:4317"}, http: {endpoint: "localhost:4318"}}}}
processors: {batch: {}}
exporters: {otlp_grpc/tempo: {endpoint: "tempo:4318"}}
service:
  extensions: [health_check]
  pipelines:
    traces: {receivers: [otlp, zipkin], processors: [batch], exporters: [otlp_grpc/tempo]}
"#,
        );
        let problems = check_collector(&collector, &tempo, "tempo").join("\n");
        assert!(problems.contains("extension health_check"), "{problems}");
        assert!(problems.contains("receivers zipkin"), "{problems}");
        assert!(problems.contains("4318"), "{problems}");
        assert!(problems.contains("otlp http endpoint"), "{problems}");
        assert!(problems.contains("own metrics"), "{problems}");
    }

    #[test]
    fn deprecated_exporter_names_are_reported() {
        let collector = yaml(
            "exporters: {otlp: {endpoint: 'tempo:4317'}}\nservice: {pipelines: {traces: {processors: [batch], exporters: [otlp]}}}",
        );
        let problems = check_collector(&collector, &Value::Null, "tempo").join("\n");
        assert!(problems.contains("deprecated alias"), "{problems}");
    }
}
