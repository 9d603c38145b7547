//! Compose files: what each service runs, mounts, publishes and sets, and
//! the checks every stage file and the stack file must pass.
//!
//! Compose accepts several spellings of the same thing (environment as a
//! list of `K=V` or as a map, ports as `"8100:8100"` or as a mapping,
//! networks as a list or a map); the accessors here read all of them, so the
//! checks see one shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use crate::design::{self, StageService};
use crate::{LoadError, Problems};

/// Host paths a compose file may bind-mount although they are not in the
/// repository: the Docker socket, for Alloy.
pub const HOST_PATHS: [&str; 1] = ["/var/run/docker.sock"];

/// A parsed compose file.
#[derive(Debug, Clone)]
pub struct ComposeFile {
    pub path: PathBuf,
    doc: Value,
}

/// One service of a compose file.
#[derive(Debug, Clone, Copy)]
pub struct Service<'a> {
    pub name: &'a str,
    value: &'a Value,
}

/// A published port: `host` on the host, `container` inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    pub host: u16,
    pub container: u16,
}

/// A volume entry of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// A host path (relative to the compose file, or absolute).
    Bind { source: String, target: String },
    /// A named volume.
    Volume { name: String, target: String },
    /// A volume with no source: anonymous.
    Anonymous { target: String },
}

impl ComposeFile {
    pub fn load(path: &Path) -> Result<Self, LoadError> {
        Ok(Self {
            path: path.to_owned(),
            doc: crate::yaml(path)?,
        })
    }

    pub fn from_str(path: impl Into<PathBuf>, text: &str) -> Result<Self, LoadError> {
        let path = path.into();
        let doc = crate::parse_yaml(&path, text)?;
        Ok(Self { path, doc })
    }

    /// The directory relative paths in the file start from.
    pub fn directory(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub fn services(&self) -> Vec<Service<'_>> {
        self.doc["services"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(name, value)| {
                Some(Service {
                    name: name.as_str()?,
                    value,
                })
            })
            .collect()
    }

    pub fn service(&self, name: &str) -> Option<Service<'_>> {
        self.services()
            .into_iter()
            .find(|service| service.name == name)
    }

    /// The service whose container is called `container` (its
    /// `container_name`).
    pub fn service_by_container(&self, container: &str) -> Option<Service<'_>> {
        self.services()
            .into_iter()
            .find(|service| service.container_name() == Some(container))
    }

    /// A top-level network's definition.
    pub fn network(&self, name: &str) -> Option<&Value> {
        self.doc["networks"].get(name)
    }

    /// Whether a named volume is declared at the top level.
    pub fn declares_volume(&self, name: &str) -> bool {
        self.doc["volumes"].get(name).is_some()
    }
}

impl<'a> Service<'a> {
    pub fn image(&self) -> Option<&'a str> {
        self.value["image"].as_str()
    }

    pub fn container_name(&self) -> Option<&'a str> {
        self.value["container_name"].as_str()
    }

    /// `build:` as `(context, dockerfile, args)`; a bare string is the
    /// context.
    pub fn build(&self) -> Option<Build> {
        let build = self.value.get("build")?;
        if let Some(context) = build.as_str() {
            return Some(Build {
                context: context.to_owned(),
                dockerfile: "Dockerfile".to_owned(),
                args: BTreeMap::new(),
            });
        }
        Some(Build {
            context: build["context"].as_str().unwrap_or(".").to_owned(),
            dockerfile: build["dockerfile"]
                .as_str()
                .unwrap_or("Dockerfile")
                .to_owned(),
            args: key_values(&build["args"]),
        })
    }

    /// The environment, whichever way it is written.
    pub fn environment(&self) -> BTreeMap<String, String> {
        key_values(&self.value["environment"])
    }

    /// Container labels, whichever way they are written.
    pub fn labels(&self) -> BTreeMap<String, String> {
        key_values(&self.value["labels"])
    }

    /// The networks the service joins.
    pub fn networks(&self) -> Vec<String> {
        match &self.value["networks"] {
            Value::Sequence(list) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::Mapping(map) => map
                .keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Published ports; an entry that cannot be read is an `Err` naming it.
    pub fn ports(&self) -> Vec<Result<PortMapping, String>> {
        self.value["ports"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(parse_port)
            .collect()
    }

    /// The `env_file` entries, as written (relative to the compose file): a
    /// string, a list of strings, or a list of `{path, required}`.
    pub fn env_files(&self) -> Vec<String> {
        let entry = |value: &Value| {
            value
                .as_str()
                .or_else(|| value["path"].as_str())
                .map(str::to_owned)
        };
        match &self.value["env_file"] {
            Value::Sequence(list) => list.iter().filter_map(entry).collect(),
            other => entry(other).into_iter().collect(),
        }
    }

    pub fn mounts(&self) -> Vec<Mount> {
        self.value["volumes"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(parse_mount)
            .collect()
    }

    /// The command, as a list of arguments (a string is split on spaces).
    pub fn command(&self) -> Vec<String> {
        match &self.value["command"] {
            Value::String(text) => text.split_whitespace().map(str::to_owned).collect(),
            Value::Sequence(list) => list
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The healthcheck's test command, joined with spaces, if there is one.
    pub fn healthcheck(&self) -> Option<String> {
        match &self.value["healthcheck"]["test"] {
            Value::String(text) => Some(text.clone()),
            Value::Sequence(list) => Some(
                list.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
    }

    /// The container path a host path (as written in the file) is mounted at.
    pub fn mount_target(&self, source: &str) -> Option<String> {
        self.mounts().into_iter().find_map(|mount| match mount {
            Mount::Bind { source: s, target } if s == source => Some(target),
            _ => None,
        })
    }

    /// The host path (as written in the file) mounted at `target`.
    pub fn mount_source(&self, target: &str) -> Option<String> {
        self.mounts().into_iter().find_map(|mount| match mount {
            Mount::Bind { source, target: t } if t == target => Some(source),
            _ => None,
        })
    }
}

/// A service's `build:` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub context: String,
    pub dockerfile: String,
    pub args: BTreeMap<String, String>,
}

/// A list of `K=V` strings or a map, as compose allows for environment,
/// labels and build args. Numbers and booleans become their text.
fn key_values(value: &Value) -> BTreeMap<String, String> {
    let text = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    };
    match value {
        Value::Mapping(map) => map
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), text(v)?)))
            .collect(),
        Value::Sequence(list) => list
            .iter()
            .filter_map(Value::as_str)
            .map(|entry| match entry.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (entry.to_owned(), String::new()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// `"8100:8100"`, `"127.0.0.1:8100:8100"`, `"8100:8100/tcp"` or the long
/// form `{target, published}`.
fn parse_port(value: &Value) -> Result<PortMapping, String> {
    let unreadable = || format!("unreadable port entry {value:?}");
    if let Some(map) = value.as_mapping() {
        let number = |key: &str| -> Option<u16> {
            let v = map.get(key)?;
            v.as_u64()
                .and_then(|n| u16::try_from(n).ok())
                .or_else(|| v.as_str()?.parse().ok())
        };
        let container = number("target").ok_or_else(unreadable)?;
        let host = number("published").ok_or_else(unreadable)?;
        return Ok(PortMapping { host, container });
    }
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Err(unreadable()),
    };
    let text = text.split('/').next().unwrap_or_default();
    // From the right: the address before the host port may hold colons of
    // its own (`${WORKSHOP_BIND_ADDRESS:-127.0.0.1}`, `[::1]`).
    let parts: Vec<&str> = text.rsplitn(3, ':').collect();
    let (host, container) = match parts.as_slice() {
        // A bare port is published on a random host port: not a mapping the
        // design can rely on.
        [_] => return Err(format!("port {text:?} has no fixed host port")),
        [container, host] | [container, host, _] => (*host, *container),
        _ => return Err(unreadable()),
    };
    Ok(PortMapping {
        host: host.parse().map_err(|_| unreadable())?,
        container: container.parse().map_err(|_| unreadable())?,
    })
}

/// The variables an env file (`KEY=VALUE` lines, `#` comments) sets, as
/// compose reads them.
pub fn env_file_variables(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (key.trim().to_owned(), unquoted.to_owned())
        })
        .collect()
}

/// The variable an attendee sets to publish the workshop's ports beyond
/// this machine (`WORKSHOP_BIND_ADDRESS=0.0.0.0 make stack-up`).
pub const BIND_ADDRESS_VARIABLE: &str = "WORKSHOP_BIND_ADDRESS";

/// The host addresses a published port may name: the loopback, or the
/// opt-in variable defaulting to it.
pub const ALLOWED_HOST_IPS: [&str; 2] = ["127.0.0.1", "${WORKSHOP_BIND_ADDRESS:-127.0.0.1}"];

/// The host address a port entry publishes on, as written: the part before
/// the host port in the short form, `host_ip` in the long form; `None` when
/// it names none (every interface).
fn port_host_ip(value: &Value) -> Option<String> {
    if let Some(map) = value.as_mapping() {
        return map
            .get("host_ip")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    let text = value.as_str()?;
    let text = text.split('/').next().unwrap_or_default();
    let parts: Vec<&str> = text.rsplitn(3, ':').collect();
    match parts.as_slice() {
        [_, _, address] => Some((*address).to_owned()),
        _ => None,
    }
}

/// Every published port binds to the loopback, or to the opt-in variable
/// defaulting to it. A port published on every interface puts the service
/// (an anonymous-admin Grafana, a database with a known password) on the
/// conference Wi-Fi.
pub fn check_published_on_loopback(compose: &ComposeFile) -> Problems {
    let file = compose.path.display().to_string();
    let mut problems = Vec::new();
    for service in compose.services() {
        for entry in service.value["ports"].as_sequence().into_iter().flatten() {
            let address = port_host_ip(entry);
            if !address
                .as_deref()
                .is_some_and(|address| ALLOWED_HOST_IPS.contains(&address))
            {
                let shown = serde_yaml_ng::to_string(entry).unwrap_or_default();
                problems.push(format!(
                    "{file}: service {}: the port {} is published on {}: write it as \"{}:HOST:CONTAINER\" \
                     (or host_ip: {} in the long form), so it stays on this machine unless {BIND_ADDRESS_VARIABLE} opens it",
                    service.name,
                    shown.trim(),
                    address.map_or_else(|| "every interface".to_owned(), |a| format!("{a:?}")),
                    ALLOWED_HOST_IPS[1],
                    ALLOWED_HOST_IPS[1],
                ));
            }
        }
    }
    problems
}

/// `"./x:/y:ro"`, `"name:/y"`, `"/y"`, or the long form `{type, source, target}`.
fn parse_mount(value: &Value) -> Option<Mount> {
    if let Some(map) = value.as_mapping() {
        let field = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        let target = field("target")?;
        return Some(match (field("type").as_deref(), field("source")) {
            (Some("bind"), Some(source)) => Mount::Bind { source, target },
            (_, Some(name)) => Mount::Volume { name, target },
            (_, None) => Mount::Anonymous { target },
        });
    }
    let text = value.as_str()?;
    let mut parts = text.splitn(3, ':');
    let first = parts.next()?.to_owned();
    let Some(target) = parts.next() else {
        return Some(Mount::Anonymous { target: first });
    };
    let target = target.to_owned();
    // Compose treats a source with a slash or a leading dot as a path.
    Some(
        if first.starts_with('.') || first.starts_with('/') || first.starts_with('~') {
            Mount::Bind {
                source: first,
                target,
            }
        } else {
            Mount::Volume {
                name: first,
                target,
            }
        },
    )
}

/// Whether `image` names a fixed version: a tag other than `latest`, or a
/// digest. A moving tag changes config formats under a workshop overnight
/// (Tempo 3 refuses a Tempo 2 config).
pub fn image_is_pinned(image: &str) -> Result<(), String> {
    if image.contains("@sha256:") {
        return Ok(());
    }
    // The tag follows the last colon after the last slash; a colon before a
    // slash is a registry port (localhost:5000/x).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Err(format!("image {image:?} has no tag: it means latest")),
        Some((_, "")) => Err(format!("image {image:?} has an empty tag")),
        Some((_, "latest")) => Err(format!("image {image:?} is not pinned (latest)")),
        Some(_) => Ok(()),
    }
}

/// Checks that hold for every compose file: each service runs a pinned
/// image or is built here, every mounted repository file exists, every
/// named volume is declared, only known host paths are mounted, and every
/// port is published on the loopback unless the attendee opts in.
pub fn check_common(compose: &ComposeFile) -> Problems {
    let mut problems = Vec::new();
    let file = compose.path.display().to_string();
    if compose.services().is_empty() {
        problems.push(format!("{file}: no services"));
    }
    for service in compose.services() {
        let name = service.name;
        match (service.image(), service.build()) {
            (Some(image), None) => {
                if let Err(problem) = image_is_pinned(image) {
                    problems.push(format!("{file}: service {name}: {problem}"));
                }
            }
            (_, Some(build)) => {
                let dockerfile = compose
                    .directory()
                    .join(&build.context)
                    .join(&build.dockerfile);
                if !dockerfile.is_file() {
                    problems.push(format!(
                        "{file}: service {name} builds from {}, which does not exist",
                        dockerfile.display()
                    ));
                }
            }
            (None, None) => problems.push(format!("{file}: service {name} has no image")),
        }
        for mount in service.mounts() {
            match mount {
                Mount::Bind { source, .. } if source.starts_with('.') => {
                    if !compose.directory().join(&source).exists() {
                        problems.push(format!(
                            "{file}: service {name} mounts {source}, which does not exist"
                        ));
                    }
                }
                Mount::Bind { source, .. } => {
                    if !HOST_PATHS.contains(&source.as_str()) {
                        problems.push(format!(
                            "{file}: service {name} mounts the host path {source}; only {HOST_PATHS:?} are expected"
                        ));
                    }
                }
                Mount::Volume { name: volume, .. } => {
                    if !compose.declares_volume(&volume) {
                        problems.push(format!(
                            "{file}: service {name} uses volume {volume}, which is not declared"
                        ));
                    }
                }
                Mount::Anonymous { .. } => {}
            }
        }
        for port in service.ports() {
            if let Err(problem) = port {
                problems.push(format!("{file}: service {name}: {problem}"));
            }
        }
        for env_file in service.env_files() {
            if !compose.directory().join(&env_file).is_file() {
                problems.push(format!(
                    "{file}: service {name} reads env_file {env_file}, which does not exist"
                ));
            }
        }
    }
    problems.extend(check_published_on_loopback(compose));
    problems
}

/// The checks of stage `stage`'s compose file, against the design (docs/design.md#services-and-ports): its
/// services are the stage's, each with its container name, stage label and
/// ports, on the external `monitoring` network; our own services build their
/// `stageN-<service>` package and send spans to `otlp_endpoint`.
pub fn check_stage(compose: &ComposeFile, stage: u8, otlp_endpoint: &str) -> Problems {
    let mut problems = check_common(compose);
    let file = compose.path.display().to_string();
    let external = compose
        .network(design::NETWORK)
        .and_then(|network| network["external"].as_bool())
        == Some(true);
    if !external {
        problems.push(format!(
            "{file}: the {} network must be declared external: true (the stack creates it)",
            design::NETWORK
        ));
    }
    let expected = design::stage_services(stage);
    for service in compose.services() {
        let Some(planned) = expected.iter().find(|s| s.name == service.name) else {
            problems.push(format!(
                "{file}: service {} is not a stage {stage} service of the design (docs/design.md#services-and-ports)",
                service.name
            ));
            continue;
        };
        problems.extend(check_stage_service(
            &file,
            compose.directory(),
            &service,
            planned,
            stage,
            otlp_endpoint,
        ));
    }
    for planned in &expected {
        if compose.service(planned.name).is_none() {
            problems.push(format!(
                "{file}: stage {stage} needs the service {}",
                planned.name
            ));
        }
    }
    problems
}

fn check_stage_service(
    file: &str,
    compose_directory: &Path,
    service: &Service<'_>,
    planned: &StageService,
    stage: u8,
    otlp_endpoint: &str,
) -> Problems {
    let mut problems = Vec::new();
    let name = service.name;
    let mut problem = |text: String| problems.push(format!("{file}: service {name}: {text}"));
    if !service.networks().iter().any(|n| n == design::NETWORK) {
        problem(format!("does not join the {} network", design::NETWORK));
    }
    let container = design::container_name(name, stage);
    if service.container_name() != Some(container.as_str()) {
        problem(format!(
            "container_name is {:?}, expected {container:?}",
            service.container_name()
        ));
    }
    let stage_label = service.labels().get(design::STAGE_LABEL).cloned();
    if stage_label.as_deref() != Some(stage.to_string().as_str()) {
        problem(format!(
            "label {} is {stage_label:?}, expected \"{stage}\"",
            design::STAGE_LABEL
        ));
    }
    let ports: Vec<PortMapping> = service.ports().into_iter().flatten().collect();
    let expected_port = PortMapping {
        host: planned.host_port,
        container: planned.port,
    };
    if ports != [expected_port] {
        problem(format!(
            "publishes {ports:?}, expected {}:{}",
            planned.host_port, planned.port
        ));
    }
    if !planned.ours {
        return problems;
    }
    let environment = service.environment();
    let mut expect_env = |key: &str, expected: &str| {
        let actual = environment.get(key).map(String::as_str);
        if actual != Some(expected) {
            problem(format!("{key} is {actual:?}, expected {expected:?}"));
        }
    };
    expect_env("PORT", &planned.port.to_string());
    expect_env("OTEL_SERVICE_NAME", name);
    expect_env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint);
    // Peers by container name: every stage's services share their compose
    // names on the monitoring network, so `http://dice-roller:8200` may
    // reach another stage's dice-roller.
    for (variable, peer) in design::peers(name, stage) {
        let port = design::stage_services(stage)
            .into_iter()
            .find(|service| service.name == peer)
            .map_or(0, |service| service.port);
        let url = format!("http://{}:{port}", design::container_name(peer, stage));
        expect_env(variable, &url);
    }
    if design::links_to_grafana(name, stage) {
        // The page's trace links are opened by a browser on the host.
        expect_env("GRAFANA_URL", "http://localhost:3000");
    }
    let environment_attribute = format!("deployment.environment.name=stage{stage}");
    let resource = environment
        .get("OTEL_RESOURCE_ATTRIBUTES")
        .cloned()
        .unwrap_or_default();
    if !resource
        .split(',')
        .any(|pair| pair == environment_attribute)
    {
        problem(format!(
            "OTEL_RESOURCE_ATTRIBUTES {resource:?} lacks {environment_attribute} (the dashboards' trace panels filter on it)"
        ));
    }
    if design::watches_specs_file(name, stage) {
        match environment.get("DIE_SPECS_PATH") {
            Some(path) => {
                if let Err(why) = specs_directory_mount(compose_directory, service, path) {
                    problem(why);
                }
            }
            None => problem("sets no DIE_SPECS_PATH".to_owned()),
        }
    }
    match service.build() {
        Some(build) => {
            let package = format!("stage{stage}-{name}");
            if build.args.get("PACKAGE") != Some(&package) {
                problem(format!(
                    "builds PACKAGE {:?}, expected {package:?}",
                    build.args.get("PACKAGE")
                ));
            }
        }
        None => problem("is not built from the workspace".to_owned()),
    }
    match service.healthcheck() {
        Some(test) if test.contains(&format!(":{}/", planned.port)) => {}
        Some(test) => problem(format!(
            "healthcheck {test:?} does not probe port {}",
            planned.port
        )),
        None => problem("has no healthcheck".to_owned()),
    }
    problems
}

/// A watched file (`path` inside the container) must come from a bind mount
/// of a directory holding it: editors save by renaming a new file over the
/// old one, and a bind mount of the single file keeps showing the old inode,
/// so the service would never see an edit.
pub fn specs_directory_mount(
    compose_directory: &Path,
    service: &Service<'_>,
    path: &str,
) -> Result<(), String> {
    let mount = service.mounts().into_iter().find_map(|mount| match mount {
        Mount::Bind { source, target } => {
            let inside = path.strip_prefix(target.trim_end_matches('/'))?;
            let inside = inside.strip_prefix('/')?;
            Some((source, inside.to_owned()))
        }
        _ => None,
    });
    let Some((source, inside)) = mount else {
        let single = service.mounts().into_iter().any(
            |mount| matches!(mount, Mount::Bind { target, .. } if target.trim_end_matches('/') == path),
        );
        return Err(if single {
            format!(
                "{path} is bind-mounted as a single file: an editor's save (a rename) would never reach the service; mount its directory"
            )
        } else {
            format!("DIE_SPECS_PATH {path} is in no bind-mounted directory")
        });
    };
    let directory = compose_directory.join(&source);
    if !directory.is_dir() {
        return Err(format!("{source} (mounted for {path}) is not a directory"));
    }
    if !directory.join(&inside).is_file() {
        return Err(format!(
            "{source}/{inside} (DIE_SPECS_PATH {path}) does not exist"
        ));
    }
    Ok(())
}

/// The checks of the stack's compose file: the design's services and ports,
/// all on the `monitoring` network, which the stack creates under that very
/// name.
pub fn check_stack(compose: &ComposeFile) -> Problems {
    let mut problems = check_common(compose);
    let file = compose.path.display().to_string();
    let network_name = compose
        .network(design::NETWORK)
        .and_then(|network| network["name"].as_str());
    if network_name != Some(design::NETWORK) {
        problems.push(format!(
            "{file}: the stack must create the network with `name: {}` (stages refer to it by that name), found {network_name:?}",
            design::NETWORK
        ));
    }
    for planned in design::STACK_SERVICES {
        let Some(service) = compose.service(planned.name) else {
            problems.push(format!("{file}: the stack has no {} service", planned.name));
            continue;
        };
        let mut published: Vec<(u16, u16)> = service
            .ports()
            .into_iter()
            .flatten()
            .map(|p| (p.host, p.container))
            .collect();
        published.sort_unstable();
        let expected: Vec<(u16, u16)> = planned.published.iter().map(|&p| (p, p)).collect();
        if published != expected {
            problems.push(format!(
                "{file}: {} publishes {published:?}, expected {expected:?}",
                planned.name
            ));
        }
    }
    for service in compose.services() {
        if !service.networks().iter().any(|n| n == design::NETWORK) {
            problems.push(format!(
                "{file}: {} does not join the {} network",
                service.name,
                design::NETWORK
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_published_port_must_name_the_loopback_or_the_opt_in_variable() {
        let compose = ComposeFile::from_str(
            "/nowhere/docker-compose.yml",
            r#"
services:
  good:
    image: x:1
    ports:
      - "127.0.0.1:8100:8100"
      - "${WORKSHOP_BIND_ADDRESS:-127.0.0.1}:3000:3000/tcp"
      - {target: 80, published: 8080, host_ip: 127.0.0.1}
      - {target: 81, published: "8081", host_ip: "${WORKSHOP_BIND_ADDRESS:-127.0.0.1}"}
  bad:
    image: x:1
    ports:
      - "3000:3000"
      - 9090:9090
      - "0.0.0.0:5432:5432"
      - "[::]:8200:8200"
      - "${WORKSHOP_BIND_ADDRESS}:4318:4318"
      - "${OTHER:-127.0.0.1}:4317:4317"
      - {target: 80, published: 8080}
      - {target: 81, published: 8081, host_ip: 0.0.0.0}
"#,
        )
        .unwrap();
        let problems = check_published_on_loopback(&compose);
        assert_eq!(problems.len(), 8, "{problems:#?}");
        assert!(
            problems.iter().all(|p| p.contains("service bad")),
            "{problems:#?}"
        );
        assert!(problems[0].contains("every interface"), "{}", problems[0]);
        let good = compose.service("good").unwrap();
        let hosts: Vec<u16> = good.ports().into_iter().map(|p| p.unwrap().host).collect();
        assert_eq!(hosts, [8100, 3000, 8080, 8081]);
    }

    use super::*;

    #[test]
    fn pinned_images_have_a_real_tag_or_a_digest() {
        for good in [
            "prom/prometheus:v3.5.0",
            "grafana/tempo:2.10.8",
            "localhost:5000/tool:1.2",
            "debian@sha256:0123abcd",
        ] {
            assert!(image_is_pinned(good).is_ok(), "{good}");
        }
        for bad in [
            "grafana/grafana",
            "grafana/grafana:latest",
            "localhost:5000/tool",
            "postgres:",
        ] {
            assert!(image_is_pinned(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_spelling_of_ports_environment_and_mounts_reads_the_same() {
        let compose = ComposeFile::from_str(
            "/nowhere/docker-compose.yml",
            r#"
services:
  a:
    image: x:1
    environment: [PORT=8100, EMPTY]
    ports: ["8100:8100", "127.0.0.1:9000:9001/tcp", {target: 80, published: "8080"}]
    volumes: ["./x.yml:/etc/x.yml:ro", "data:/data", "/cache", {type: bind, source: ../y, target: /y}]
    networks: {monitoring: {}}
  b:
    image: y:2
    environment: {PORT: 8200, DEBUG: true}
    networks: [monitoring]
"#,
        )
        .unwrap();
        let a = compose.service("a").unwrap();
        assert_eq!(a.environment()["PORT"], "8100");
        assert_eq!(a.environment()["EMPTY"], "");
        let ports: Vec<_> = a.ports().into_iter().map(Result::unwrap).collect();
        assert_eq!(
            ports,
            [
                PortMapping {
                    host: 8100,
                    container: 8100
                },
                PortMapping {
                    host: 9000,
                    container: 9001
                },
                PortMapping {
                    host: 8080,
                    container: 80
                },
            ]
        );
        assert_eq!(
            a.mounts(),
            [
                Mount::Bind {
                    source: "./x.yml".into(),
                    target: "/etc/x.yml".into()
                },
                Mount::Volume {
                    name: "data".into(),
                    target: "/data".into()
                },
                Mount::Anonymous {
                    target: "/cache".into()
                },
                Mount::Bind {
                    source: "../y".into(),
                    target: "/y".into()
                },
            ]
        );
        assert_eq!(a.networks(), ["monitoring"]);
        let b = compose.service("b").unwrap();
        assert_eq!(b.environment()["PORT"], "8200");
        assert_eq!(b.environment()["DEBUG"], "true");
        assert_eq!(b.networks(), ["monitoring"]);
    }

    #[test]
    fn common_checks_catch_unpinned_images_missing_files_and_undeclared_volumes() {
        let directory = std::env::temp_dir();
        let compose = ComposeFile::from_str(
            directory.join("docker-compose.yml"),
            r#"
services:
  grafana:
    image: grafana/grafana:latest
    volumes: ["./no-such-file.yml:/etc/x.yml", "undeclared:/data", "/etc/passwd:/etc/passwd"]
    ports: ["3000"]
"#,
        )
        .unwrap();
        let problems = check_common(&compose).join("\n");
        assert!(problems.contains("not pinned"), "{problems}");
        assert!(problems.contains("no-such-file.yml"), "{problems}");
        assert!(problems.contains("volume undeclared"), "{problems}");
        assert!(problems.contains("/etc/passwd"), "{problems}");
        assert!(problems.contains("no fixed host port"), "{problems}");
    }

    #[test]
    fn stage_checks_catch_peers_by_service_name_and_single_file_mounts() {
        let directory = tempfile_dir();
        std::fs::create_dir_all(directory.join("die-service")).unwrap();
        std::fs::write(directory.join("die-service/dice.json"), "{}").unwrap();
        let compose = ComposeFile::from_str(
            directory.join("docker-compose.yml"),
            r#"
services:
  die-service:
    image: x:1
    environment:
      DIE_SPECS_PATH: /etc/die-service/dice.json
    volumes: ["./die-service/dice.json:/etc/die-service/dice.json:ro"]
  dice-roller:
    image: x:1
    environment:
      DIE_SERVICE_URL: http://die-service:8302
  frontend:
    image: x:1
    environment:
      DICE_ROLLER_URL: http://dice-roller-stage3:8300
      GRAFANA_URL: http://grafana:3000
networks:
  monitoring: {external: true}
"#,
        )
        .unwrap();
        let problems = check_stage(&compose, 3, "http://otel-collector:4318").join("\n");
        for expected in [
            "dice-roller: DIE_SERVICE_URL is Some(\"http://die-service:8302\"), expected \"http://die-service-stage3:8302\"",
            "frontend: DIE_SERVICE_URL is None",
            "frontend: GRAFANA_URL",
            "bind-mounted as a single file",
        ] {
            assert!(problems.contains(expected), "{expected} in:\n{problems}");
        }
        assert!(!problems.contains("DICE_ROLLER_URL"), "{problems}");

        let service = |volume: &str| {
            ComposeFile::from_str(
                directory.join("docker-compose.yml"),
                &format!("services:\n  d:\n    image: x:1\n    volumes: [\"{volume}\"]\n"),
            )
            .unwrap()
        };
        let good = service("./die-service:/etc/die-service:ro");
        let d = good.service("d").unwrap();
        assert_eq!(
            specs_directory_mount(good.directory(), &d, "/etc/die-service/dice.json"),
            Ok(())
        );
        assert!(
            specs_directory_mount(good.directory(), &d, "/etc/die-service/other.json")
                .unwrap_err()
                .contains("does not exist")
        );
        std::fs::remove_dir_all(&directory).unwrap();
    }

    /// A directory of this test's own.
    fn tempfile_dir() -> PathBuf {
        let directory = std::env::temp_dir().join(format!(
            "stack-checks-compose-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&directory);
        std::fs::create_dir_all(&directory).unwrap();
        directory
    }

    #[test]
    fn stage_checks_catch_each_departure_from_the_design() {
        let compose = ComposeFile::from_str(
            std::env::temp_dir().join("docker-compose.yml"),
            r#"
services:
  dice-roller:
    image: local/dice:1
    container_name: dice-roller
    environment:
      PORT: "8100"
      OTEL_SERVICE_NAME: dice
      OTEL_EXPORTER_OTLP_ENDPOINT: http://localhost:4318
    ports: ["8100:8000"]
  stray:
    image: x:1
networks:
  monitoring: {}
"#,
        )
        .unwrap();
        let problems = check_stage(&compose, 1, "http://otel-collector:4318").join("\n");
        for expected in [
            "external: true",
            "does not join the monitoring network",
            "expected \"dice-roller-stage1\"",
            "label workshop.stage",
            "expected 8100:8100",
            "OTEL_SERVICE_NAME",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "deployment.environment.name=stage1",
            "not built from the workspace",
            "no healthcheck",
            "stray is not a stage 1 service",
        ] {
            assert!(problems.contains(expected), "{expected} in:\n{problems}");
        }
    }
}
