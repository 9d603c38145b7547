//! Grafana provisioning: the datasources with their fixed uids and the links
//! between signals, and the dashboards provider.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use crate::compose::Service;
use crate::{Problems, host_and_port};

/// The uids every dashboard and link relies on, with their datasource types.
pub const REQUIRED_DATASOURCES: [(&str, &str); 4] = [
    ("prometheus", "prometheus"),
    ("loki", "loki"),
    ("tempo", "tempo"),
    // Stage 6's usage analytics, from the usage receiver's table. The
    // current plugin id; `postgres` is its deprecated alias (docs/pitfalls.md#image-majors).
    ("usage-db", "grafana-postgresql-datasource"),
];

/// A provisioned datasource.
#[derive(Debug, Clone)]
pub struct Datasource {
    pub name: String,
    pub kind: String,
    pub uid: String,
    pub url: String,
    pub json_data: Value,
}

/// The datasources of a provisioning file.
pub fn datasources(doc: &Value) -> Vec<Datasource> {
    doc["datasources"]
        .as_sequence()
        .into_iter()
        .flatten()
        .map(|entry| {
            let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
            Datasource {
                name: text("name"),
                kind: text("type"),
                uid: text("uid"),
                url: text("url"),
                json_data: entry["jsonData"].clone(),
            }
        })
        .collect()
}

/// Grafana expands `$VAR` and `${VAR}` in the values of provisioning files
/// from its environment, so a literal `$` (Grafana's own `${__value.raw}`)
/// must be written `$$` (docs/pitfalls.md#grafana-provisioning). The workshop's files use no
/// environment variables, so every single `$` outside a comment is a
/// mistake.
pub fn check_dollar_escapes(file: &str, text: &str) -> Problems {
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let bytes = without_comment(line).as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                if bytes.get(i + 1) == Some(&b'$') {
                    i += 2;
                    continue;
                }
                problems.push(format!(
                    "{file}:{}: single `$` in {:?}: Grafana would expand it from its environment; write `$$`",
                    number + 1,
                    line.trim()
                ));
            }
            i += 1;
        }
    }
    problems
}

/// A YAML line without its comment: from a `#` at the start or after a
/// space, outside quotes.
fn without_comment(line: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return &line[..i],
            None => {}
        }
        previous = c;
    }
    line
}

/// The value Grafana reads from a provisioning file, whose environment has
/// none of the names used: `$$` becomes `$`, while `${NAME}` and `$NAME`
/// become empty, as Grafana's expansion of an unset variable does.
pub fn as_grafana_reads(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        rest = if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            tail
        } else if let Some(braced) = after.strip_prefix('{') {
            braced.find('}').map_or("", |end| &braced[end + 1..])
        } else {
            let name_len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if name_len == 0 {
                out.push('$');
            }
            &after[name_len..]
        };
    }
    out.push_str(rest);
    out
}

/// The Loki datasource's derived-field regex that finds trace ids in lines.
pub fn trace_id_regex(doc: &Value) -> Option<String> {
    datasources(doc)
        .into_iter()
        .filter(|source| source.kind == "loki")
        .flat_map(|source| {
            source.json_data["derivedFields"]
                .as_sequence()
                .cloned()
                .unwrap_or_default()
        })
        .find_map(|field| field["matcherRegex"].as_str().map(str::to_owned))
}

/// Where the Prometheus datasource sends an exemplar: the label of the
/// exemplar that holds a trace id, the datasource it opens, and the text of
/// the link Grafana shows on the diamond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExemplarDestination {
    /// The Prometheus datasource's uid.
    pub from: String,
    /// The exemplar label holding the trace id (`name`).
    pub label: String,
    pub datasource_uid: String,
    /// `urlDisplayLabel`, or Grafana's own "Query with <datasource name>".
    pub link: String,
}

/// Every `exemplarTraceIdDestinations` entry of the Prometheus datasources.
pub fn exemplar_destinations(doc: &Value) -> Vec<ExemplarDestination> {
    let sources = datasources(doc);
    let name_of = |uid: &str| {
        sources
            .iter()
            .find(|source| source.uid == uid)
            .map(|source| source.name.clone())
            .unwrap_or_default()
    };
    sources
        .iter()
        .filter(|source| source.kind == "prometheus")
        .flat_map(|source| {
            let entries = source.json_data["exemplarTraceIdDestinations"]
                .as_sequence()
                .cloned()
                .unwrap_or_default();
            entries.into_iter().map(move |entry| {
                let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
                let datasource_uid = text("datasourceUid");
                let link = match entry["urlDisplayLabel"].as_str() {
                    Some(label) => label.to_owned(),
                    None => format!("Query with {}", name_of(&datasource_uid)),
                };
                ExemplarDestination {
                    from: source.uid.clone(),
                    label: text("name"),
                    datasource_uid,
                    link,
                }
            })
        })
        .collect()
}

/// Every value of a `datasourceUid` key anywhere under `value`.
fn referenced_uids(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                if key.as_str() == Some("datasourceUid")
                    && let Some(uid) = child.as_str()
                {
                    out.push(uid.to_owned());
                }
                referenced_uids(child, out);
            }
        }
        Value::Sequence(list) => list.iter().for_each(|child| referenced_uids(child, out)),
        _ => {}
    }
}

/// The datasources: the three required uids with their types, each URL a
/// stack service on the port it serves (`ports`), every `datasourceUid`
/// reference resolvable, and the links: Tempo -> Loki by trace id with
/// `service.name` mapped to Loki's `service_name`, Tempo's service map from
/// Prometheus, Loki -> Tempo through a derived field on `trace_id`.
pub fn check_datasources(doc: &Value, ports: &BTreeMap<String, u16>) -> Problems {
    let mut problems = Vec::new();
    let sources = datasources(doc);
    let kind_of: BTreeMap<&str, &str> = sources
        .iter()
        .map(|s| (s.uid.as_str(), s.kind.as_str()))
        .collect();
    if kind_of.len() != sources.len() {
        problems.push("datasources: two datasources share a uid".to_owned());
    }
    for (uid, kind) in REQUIRED_DATASOURCES {
        match kind_of.get(uid) {
            Some(&found) if found == kind => {}
            Some(found) => problems.push(format!(
                "datasource {uid} has type {found}, expected {kind}"
            )),
            None => problems.push(format!("no datasource with uid {uid} (type {kind})")),
        }
    }
    for source in &sources {
        let name = &source.name;
        if source.uid.is_empty() || source.uid != source.uid.to_lowercase() {
            problems.push(format!(
                "datasource {name}: uid {:?} must be set and lower case",
                source.uid
            ));
        }
        match host_and_port(&source.url) {
            Some((host, port)) => match ports.get(&host) {
                Some(&expected) if expected == port => {}
                Some(expected) => problems.push(format!(
                    "datasource {name}: {} but {host} serves on {expected}",
                    source.url
                )),
                None => problems.push(format!("datasource {name}: {host} is not a stack service")),
            },
            None => problems.push(format!("datasource {name}: url {:?}", source.url)),
        }
        let mut uids = Vec::new();
        referenced_uids(&source.json_data, &mut uids);
        for uid in uids {
            if !kind_of.contains_key(uid.as_str()) {
                problems.push(format!(
                    "datasource {name}: links to uid {uid}, which is not provisioned"
                ));
            }
        }
    }
    let uid_kind = |value: &Value| value.as_str().and_then(|uid| kind_of.get(uid).copied());

    if let Some(tempo) = sources.iter().find(|s| s.kind == "tempo") {
        let data = &tempo.json_data;
        let logs = &data["tracesToLogsV2"];
        if uid_kind(&logs["datasourceUid"]) != Some("loki") {
            problems.push("tempo: tracesToLogsV2.datasourceUid is not the Loki datasource".into());
        }
        if logs["filterByTraceID"].as_bool() != Some(true) {
            problems.push("tempo: tracesToLogsV2 must filter by trace id".into());
        }
        let maps_service = logs["tags"].as_sequence().into_iter().flatten().any(|tag| {
            tag["key"].as_str() == Some("service.name")
                && tag["value"].as_str() == Some("service_name")
        });
        if !maps_service {
            problems.push(
                "tempo: tracesToLogsV2.tags must map service.name to Loki's service_name label"
                    .into(),
            );
        }
        for shift in ["spanStartTimeShift", "spanEndTimeShift"] {
            if logs[shift].as_str().is_none() {
                problems.push(format!("tempo: tracesToLogsV2.{shift} is not set"));
            }
        }
        if uid_kind(&data["serviceMap"]["datasourceUid"]) != Some("prometheus") {
            problems
                .push("tempo: serviceMap.datasourceUid is not the Prometheus datasource".into());
        }
        if data["nodeGraph"]["enabled"].as_bool() != Some(true) {
            problems.push("tempo: nodeGraph.enabled must be true".into());
        }
    }

    if let Some(loki) = sources.iter().find(|s| s.kind == "loki") {
        let fields = loki.json_data["derivedFields"].as_sequence();
        let to_tempo = fields
            .into_iter()
            .flatten()
            .find(|field| uid_kind(&field["datasourceUid"]) == Some("tempo"));
        match to_tempo {
            None => problems.push("loki: no derived field links to the Tempo datasource".into()),
            Some(field) => {
                let url = field["url"].as_str().map(as_grafana_reads);
                if url.as_deref() != Some("${__value.raw}") {
                    problems.push(format!(
                        "loki: the derived field's url reads as {url:?} in Grafana, expected ${{__value.raw}}"
                    ));
                }
                match field["matcherRegex"].as_str().map(regex::Regex::new) {
                    Some(Ok(regex)) if regex.captures_len() == 2 => {}
                    Some(Ok(_)) => problems.push(
                        "loki: the derived field's regex needs exactly one capture group".into(),
                    ),
                    Some(Err(error)) => {
                        problems.push(format!("loki: the derived field's regex: {error}"));
                    }
                    None => problems.push("loki: the derived field has no matcherRegex".into()),
                }
            }
        }
    }
    problems
}

/// The dashboards provider reads the directory where the Grafana service
/// mounts the repository's `grafana-dashboards/`, into a folder; and the
/// provisioning directory itself is mounted where Grafana looks for it.
pub fn check_dashboard_provider(doc: &Value, grafana: &Service<'_>) -> Problems {
    let mut problems = Vec::new();
    if grafana.mount_target("./grafana/provisioning").as_deref()
        != Some("/etc/grafana/provisioning")
    {
        problems.push(
            "grafana: ./grafana/provisioning is not mounted at /etc/grafana/provisioning".into(),
        );
    }
    let Some(dashboards) = grafana.mount_target("../grafana-dashboards") else {
        problems.push("grafana: ../grafana-dashboards is not mounted".into());
        return problems;
    };
    let providers = doc["providers"].as_sequence();
    let reads_it = providers.into_iter().flatten().find(|provider| {
        provider["type"].as_str() == Some("file")
            && provider["options"]["path"].as_str() == Some(dashboards.as_str())
    });
    match reads_it {
        None => problems.push(format!(
            "grafana: no file provider reads {dashboards}, where the dashboards are mounted"
        )),
        Some(provider) => {
            if provider["folder"].as_str().unwrap_or_default().is_empty() {
                problems.push("grafana: the dashboards provider puts them in no folder".into());
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    fn ports() -> BTreeMap<String, u16> {
        [
            ("prometheus", 9090),
            ("loki", 3100),
            ("tempo", 3200),
            ("postgres-stage6", 5432),
        ]
        .into_iter()
        .map(|(name, port)| (name.to_owned(), port))
        .collect()
    }

    const GOOD: &str = r#"
datasources:
  - {name: Prometheus, type: prometheus, uid: prometheus, url: "http://prometheus:9090"}
  - name: Loki
    type: loki
    uid: loki
    url: http://loki:3100
    jsonData:
      derivedFields:
        - {name: trace_id, matcherRegex: '"trace_id":"(\w+)"', url: "$${__value.raw}", datasourceUid: tempo}
  - name: Tempo
    type: tempo
    uid: tempo
    url: http://tempo:3200
    jsonData:
      tracesToLogsV2:
        datasourceUid: loki
        filterByTraceID: true
        spanStartTimeShift: "-1m"
        spanEndTimeShift: "1m"
        tags: [{key: service.name, value: service_name}]
      serviceMap: {datasourceUid: prometheus}
      nodeGraph: {enabled: true}
  - {name: Usage, type: grafana-postgresql-datasource, uid: usage-db, url: "postgres-stage6:5432"}
"#;

    #[test]
    fn grafana_reads_double_dollars_as_one_and_expands_the_rest() {
        assert_eq!(as_grafana_reads("$${__value.raw}"), "${__value.raw}");
        assert_eq!(as_grafana_reads("${__value.raw}"), "");
        assert_eq!(as_grafana_reads("a $__tags b $ c"), "a  b $ c");
        assert_eq!(as_grafana_reads("{$$__tags}"), "{$__tags}");
    }

    #[test]
    fn the_sample_provisioning_passes() {
        assert_eq!(
            check_datasources(&yaml(GOOD), &ports()),
            Vec::<String>::new()
        );
        assert_eq!(check_dollar_escapes("x.yml", GOOD), Vec::<String>::new());
        assert_eq!(
            trace_id_regex(&yaml(GOOD)).as_deref(),
            Some(r#""trace_id":"(\w+)""#)
        );
    }

    #[test]
    fn a_wrong_uid_case_is_caught() {
        // The original workshop's trace-to-logs broke exactly this way.
        let broken = GOOD.replace("datasourceUid: loki", "datasourceUid: Loki");
        let problems = check_datasources(&yaml(&broken), &ports()).join("\n");
        assert!(problems.contains("links to uid Loki"), "{problems}");
        assert!(
            problems.contains("tracesToLogsV2.datasourceUid"),
            "{problems}"
        );
        let renamed = GOOD.replace("uid: tempo\n", "uid: Tempo\n");
        let problems = check_datasources(&yaml(&renamed), &ports()).join("\n");
        assert!(
            problems.contains("no datasource with uid tempo"),
            "{problems}"
        );
        assert!(problems.contains("lower case"), "{problems}");
    }

    #[test]
    fn missing_links_and_wrong_urls_are_caught() {
        let broken = GOOD
            .replace("serviceMap: {datasourceUid: prometheus}", "")
            .replace("http://loki:3100", "http://loki:3101")
            .replace("$${__value.raw}", "${__value.raw}")
            .replace("value: service_name", "value: service");
        let problems = check_datasources(&yaml(&broken), &ports()).join("\n");
        for expected in [
            "serviceMap",
            "serves on 3100",
            "expected ${__value.raw}",
            "service_name",
        ] {
            assert!(problems.contains(expected), "{expected} in:\n{problems}");
        }
        let escapes = check_dollar_escapes("x.yml", &broken).join("\n");
        assert!(escapes.contains("x.yml:10: single `$`"), "{escapes}");
        let comments = "# $VAR in a comment\nurl: \"$$x # not a comment $y\" # but $this is\n";
        let problems = check_dollar_escapes("c.yml", comments);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("$y"), "{problems:?}");
    }
}
