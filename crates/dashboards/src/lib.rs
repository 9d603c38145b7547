//! The Grafana dashboards in `grafana-dashboards/`, read as data.
//!
//! Checks of the stack (every datasource provisioned, every PromQL parses),
//! real-Prometheus tests (every panel returns data) and `make verify` all need
//! the same thing: each panel's queries, with their datasource and language,
//! and Grafana's variables expanded the way Grafana would.
//!
//! ```
//! let json = r#"{"title":"T","uid":"t","panels":[{"type":"timeseries","title":"Rate",
//!   "datasource":{"type":"prometheus","uid":"prometheus"},
//!   "targets":[{"refId":"A","expr":"rate(http_requests_total{stage=\"$stage\"}[$__rate_interval])"}]}]}"#;
//! let dashboard = dashboards::Dashboard::from_json("t.json", json).unwrap();
//! let query = &dashboard.queries()[0];
//! assert_eq!(query.language, dashboards::Language::PromQL);
//! assert_eq!(
//!     query.expanded("1"),
//!     r#"rate(http_requests_total{stage="1"}[1m])"#
//! );
//! assert_eq!(dashboards::promql_metric_names(&query.expanded("1")).unwrap(), ["http_requests_total"]);
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use promql_parser::parser::{Expr, parse};
use promql_parser::util::{ExprVisitor, walk_expr};
use serde::Deserialize;
use serde_json::Value;

/// A dashboard file.
#[derive(Debug, Clone)]
pub struct Dashboard {
    pub path: PathBuf,
    pub title: String,
    pub uid: String,
    /// Every panel, rows flattened, in file order.
    pub panels: Vec<Panel>,
    /// Names of the dashboard's template variables (`stage`, ...).
    pub variables: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatasourceRef {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub uid: String,
}

#[derive(Debug, Clone)]
pub struct Panel {
    pub title: String,
    /// Grafana's panel type: `timeseries`, `stat`, `logs`, `text`, ...
    pub kind: String,
    pub datasource: Option<DatasourceRef>,
    pub targets: Vec<Target>,
    /// The text of a `text` panel (how-to panels).
    pub content: Option<String>,
    /// What the panel shows and why (Grafana's panel description), or "".
    pub description: String,
    /// Where it sits on Grafana's 24-column grid.
    pub grid: GridPos,
}

/// A panel's place on the grid: `x` and `w` in 24ths of the width, `y` and
/// `h` in rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct GridPos {
    #[serde(default)]
    pub x: u32,
    #[serde(default)]
    pub y: u32,
    #[serde(default)]
    pub w: u32,
    #[serde(default)]
    pub h: u32,
}

impl GridPos {
    /// Side by side: on the same rows, one's right edge the other's left.
    pub fn beside(&self, other: &GridPos) -> bool {
        self.y == other.y && (self.x + self.w == other.x || other.x + other.w == self.x)
    }
}

#[derive(Debug, Clone)]
pub struct Target {
    pub ref_id: String,
    /// The target's own datasource, or else its panel's.
    pub datasource: Option<DatasourceRef>,
    /// PromQL or LogQL (`expr`), TraceQL (`query`), SQL (`rawSql`), or the
    /// label filter of a Tempo service-map query (`serviceMapQuery`, e.g.
    /// `{server="dice-roller"}`, applied to Tempo's generated metrics).
    pub text: String,
    /// Grafana's `queryType`, where the datasource has several (Tempo:
    /// `traceql`, `serviceMap`), or "".
    pub query_type: String,
    /// A Prometheus target that also asks for exemplars (`"exemplar":
    /// true`): Grafana draws each as a diamond linking to its trace.
    pub exemplar: bool,
}

/// Which language a query is written in, from its datasource's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    PromQL,
    LogQL,
    TraceQL,
    Sql,
    Other,
}

/// One query of one panel.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub panel: &'a Panel,
    pub target: &'a Target,
    pub language: Language,
    /// The datasource uid the query uses.
    pub datasource_uid: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a dashboard: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl Dashboard {
    pub fn load(path: &Path) -> Result<Self, DashboardError> {
        let text = std::fs::read_to_string(path).map_err(|source| DashboardError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(path, &text)
    }

    /// Every `*.json` in `directory`, sorted by file name.
    pub fn load_all(directory: &Path) -> Result<Vec<Self>, DashboardError> {
        let read_error = |source| DashboardError::Read {
            path: directory.to_owned(),
            source,
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(directory)
            .map_err(read_error)?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|path| Self::load(path)).collect()
    }

    pub fn from_json(path: impl Into<PathBuf>, text: &str) -> Result<Self, DashboardError> {
        let path = path.into();
        let invalid = |reason: String| DashboardError::Invalid {
            path: path.clone(),
            reason,
        };
        let root: Value = serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
        let title = root["title"]
            .as_str()
            .ok_or_else(|| invalid("no title".into()))?
            .to_owned();
        let uid = root["uid"]
            .as_str()
            .ok_or_else(|| invalid("no uid".into()))?
            .to_owned();
        let mut panels = Vec::new();
        collect_panels(&root["panels"], &mut panels).map_err(invalid)?;
        let variables = root["templating"]["list"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|variable| variable["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            path,
            title,
            uid,
            panels,
            variables,
        })
    }

    /// Every query of every panel.
    pub fn queries(&self) -> Vec<Query<'_>> {
        self.panels
            .iter()
            .flat_map(|panel| {
                panel.targets.iter().map(move |target| {
                    let datasource = target.datasource.as_ref().or(panel.datasource.as_ref());
                    let kind = datasource.map(|d| d.kind.as_str()).unwrap_or("");
                    Query {
                        panel,
                        target,
                        language: language_of(kind),
                        datasource_uid: datasource.map(|d| d.uid.clone()).unwrap_or_default(),
                    }
                })
            })
            .collect()
    }

    /// Every datasource uid a panel or query refers to.
    pub fn datasource_uids(&self) -> BTreeSet<String> {
        self.panels
            .iter()
            .flat_map(|panel| {
                panel
                    .datasource
                    .iter()
                    .chain(panel.targets.iter().filter_map(|t| t.datasource.as_ref()))
            })
            .map(|datasource| datasource.uid.clone())
            .collect()
    }
}

/// The query language of a Grafana datasource type (`prometheus`, `loki`, ...).
pub fn language_of(datasource_type: &str) -> Language {
    match datasource_type {
        "prometheus" => Language::PromQL,
        "loki" => Language::LogQL,
        "tempo" => Language::TraceQL,
        "grafana-postgresql-datasource" | "postgres" => Language::Sql,
        _ => Language::Other,
    }
}

fn collect_panels(value: &Value, out: &mut Vec<Panel>) -> Result<(), String> {
    let Some(panels) = value.as_array() else {
        return Ok(());
    };
    for panel in panels {
        let panel_datasource = datasource(&panel["datasource"]);
        let mut targets = Vec::new();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let text = ["expr", "query", "rawSql", "serviceMapQuery"]
                .iter()
                .find_map(|key| target[*key].as_str())
                .unwrap_or("")
                .to_owned();
            targets.push(Target {
                ref_id: target["refId"].as_str().unwrap_or("").to_owned(),
                datasource: datasource(&target["datasource"]).or_else(|| panel_datasource.clone()),
                text,
                query_type: target["queryType"].as_str().unwrap_or("").to_owned(),
                exemplar: target["exemplar"].as_bool().unwrap_or(false),
            });
        }
        out.push(Panel {
            title: panel["title"].as_str().unwrap_or("").to_owned(),
            kind: panel["type"].as_str().unwrap_or("").to_owned(),
            datasource: panel_datasource,
            targets,
            content: panel["options"]["content"].as_str().map(str::to_owned),
            description: panel["description"].as_str().unwrap_or("").to_owned(),
            grid: serde_json::from_value(panel["gridPos"].clone()).unwrap_or_default(),
        });
        // Collapsed rows keep their panels inside.
        collect_panels(&panel["panels"], out)?;
    }
    Ok(())
}

fn datasource(value: &Value) -> Option<DatasourceRef> {
    serde_json::from_value(value.clone())
        .ok()
        .filter(|d: &DatasourceRef| !d.uid.is_empty())
}

impl Query<'_> {
    /// The query as Grafana would send it for `stage`: `$stage`/`${stage}`
    /// become the stage number, `$__rate_interval`/`$__interval`/`$__range`
    /// become fixed windows that suit a 15 s scrape interval.
    pub fn expanded(&self, stage: &str) -> String {
        expand(&self.target.text, stage)
    }
}

/// Expands Grafana's variables in `text`; see [`Query::expanded`]. A name
/// runs as far as letters, digits and `_` go, so `$__interval_ms` is not
/// `$__interval` followed by `_ms`; unknown variables are left as they are.
///
/// ```
/// assert_eq!(dashboards::expand("[$__rate_interval] ${stage} $__interval_ms $stage_x", "3"), "[1m] 3 15000 $stage_x");
/// ```
pub fn expand(text: &str, stage: &str) -> String {
    let value = |name: &str| match name {
        "stage" => Some(stage),
        "__rate_interval" => Some("1m"),
        "__interval" => Some("15s"),
        "__interval_ms" => Some("15000"),
        "__range" => Some("5m"),
        "__range_s" => Some("300"),
        _ => None,
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, braced) = match after.strip_prefix('{') {
            Some(inner) => (inner.split('}').next().unwrap_or(""), true),
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], false)
            }
        };
        let consumed = if braced { name.len() + 2 } else { name.len() };
        match value(name) {
            Some(value) if !braced || after[1..].contains('}') => {
                out.push_str(value);
                rest = &after[consumed..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Metric names that do not come from a stage's services and so carry no
/// `job`/`stage` labels: Tempo's metrics-generator writes `traces_*` (service
/// graph, span metrics) into Prometheus with `client`/`server`/`service`
/// labels instead. A test scraping only the services has no data for them.
pub fn is_generated_by_tempo(metric: &str) -> bool {
    metric.starts_with("traces_")
}

/// The metric names a PromQL expression selects, sorted, or the parse error.
pub fn promql_metric_names(expression: &str) -> Result<Vec<String>, String> {
    Ok(promql_selectors(expression)?
        .into_iter()
        .filter_map(|selector| selector.name)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

/// A vector selector of a PromQL expression: its metric name and its label
/// matchers as `(label, op, value)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub name: Option<String>,
    pub matchers: Vec<(String, String, String)>,
}

/// Every vector selector in `expression` (parsing it with promql-parser).
pub fn promql_selectors(expression: &str) -> Result<Vec<Selector>, String> {
    struct Collect(Vec<Selector>);
    impl ExprVisitor for Collect {
        type Error = ();
        fn pre_visit(&mut self, expr: &Expr) -> Result<bool, ()> {
            let selector = match expr {
                Expr::VectorSelector(selector) => Some(selector),
                Expr::MatrixSelector(matrix) => Some(&matrix.vs),
                _ => None,
            };
            if let Some(selector) = selector {
                self.0.push(Selector {
                    name: selector.name.clone(),
                    matchers: selector
                        .matchers
                        .matchers
                        .iter()
                        .map(|m| (m.name.clone(), m.op.to_string(), m.value.clone()))
                        .collect(),
                });
            }
            Ok(true)
        }
    }
    let expr = parse(expression)?;
    let mut collect = Collect(Vec::new());
    let _ = walk_expr(&mut collect, &expr);
    Ok(collect.0)
}

/// Expands the Grafana SQL macros the dashboards use, as Grafana's PostgreSQL
/// datasource would for a time range of the last hour:
/// `$__timeFilter(col)` and `$__timeGroupAlias(col, '1m')` (any interval in
/// seconds, minutes or hours).
///
/// ```
/// let sql = dashboards::expand_sql("SELECT $__timeGroupAlias(t, '1m'), count(*) FROM x WHERE $__timeFilter(t) GROUP BY 1");
/// assert_eq!(
///     sql,
///     "SELECT to_timestamp(floor(extract(epoch FROM t) / 60) * 60) AS \"time\", count(*) FROM x \
///      WHERE t BETWEEN now() - interval '1 hour' AND now() + interval '1 minute' GROUP BY 1"
/// );
/// ```
pub fn expand_sql(text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(start) = out.find("$__timeFilter(") {
        let args_start = start + "$__timeFilter(".len();
        let Some(end) = out[args_start..].find(')').map(|i| args_start + i) else {
            break;
        };
        let column = out[args_start..end].trim().to_owned();
        out.replace_range(
            start..=end,
            &format!("{column} BETWEEN now() - interval '1 hour' AND now() + interval '1 minute'"),
        );
    }
    while let Some(start) = out.find("$__timeGroupAlias(") {
        let args_start = start + "$__timeGroupAlias(".len();
        let Some(end) = out[args_start..].find(')').map(|i| args_start + i) else {
            break;
        };
        let args: Vec<&str> = out[args_start..end].split(',').map(str::trim).collect();
        let column = args.first().copied().unwrap_or("time").to_owned();
        let interval = args.get(1).map(|i| i.trim_matches('\'')).unwrap_or("1m");
        let (number, unit) = interval.split_at(interval.len().saturating_sub(1));
        let seconds = number.parse::<u64>().unwrap_or(1)
            * match unit {
                "h" => 3600,
                "m" => 60,
                _ => 1,
            };
        out.replace_range(
            start..=end,
            &format!("to_timestamp(floor(extract(epoch FROM {column}) / {seconds}) * {seconds}) AS \"time\""),
        );
    }
    out
}
