//! A small reader for Alloy's configuration syntax, and the checks of the
//! workshop's log pipeline.
//!
//! No Rust parser for Alloy's syntax exists, and Alloy itself cannot run
//! here. This reads the subset a pipeline is written in: blocks with an
//! optional label, attributes, strings, lists, objects, function calls and
//! references (`loki.process.workshop.receiver`). That is enough to check
//! the wiring, which is where a pipeline breaks without a word: a
//! `forward_to` naming a component that does not exist, relabel rules that
//! are never applied, or a push URL that is not Loki's.
//!
//! ```
//! let config = stack_checks::alloy::parse(r#"
//!     loki.write "loki" {
//!       endpoint { url = "http://loki:3100/loki/api/v1/push" }
//!     }
//! "#).unwrap();
//! let write = config.component("loki.write", "loki").unwrap();
//! assert_eq!(write.blocks[0].string("url"), Some("http://loki:3100/loki/api/v1/push"));
//! ```

use std::collections::BTreeSet;

use crate::Problems;

/// A parsed file: its top-level blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub blocks: Vec<Block>,
}

/// `name "label" { attributes and blocks }`; components are the top-level
/// blocks with a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// e.g. `loki.process`, or `rule` for a nested block.
    pub name: String,
    pub label: Option<String>,
    pub attributes: Vec<Attribute>,
    pub blocks: Vec<Block>,
}

/// `name = value`.
pub type Attribute = (String, Expr);

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    String(String),
    /// A dotted name that is not a literal: `discovery.docker.x.targets`.
    Reference(String),
    List(Vec<Expr>),
    Object(Vec<(String, Expr)>),
    Call(String, Vec<Expr>),
    /// Numbers, booleans, null, and expressions with operators.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alloy config, line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// The component types the workshop uses and the fields each exports.
/// A component missing here is reported, so a typo in a type name is
/// caught; stage 6 adds what its routing needs.
pub const COMPONENTS: [(&str, &[&str]); 7] = [
    ("discovery.docker", &["targets"]),
    ("discovery.relabel", &["output", "rules"]),
    ("loki.source.docker", &[]),
    ("loki.process", &["receiver"]),
    ("loki.relabel", &["receiver", "rules"]),
    ("loki.echo", &["receiver"]),
    ("loki.write", &["receiver"]),
];

impl Config {
    /// The top-level block `name "label"`.
    pub fn component(&self, name: &str, label: &str) -> Option<&Block> {
        self.blocks
            .iter()
            .find(|block| block.name == name && block.label.as_deref() == Some(label))
    }

    /// Every top-level block of type `name`.
    pub fn components_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Block> {
        self.blocks.iter().filter(move |block| block.name == name)
    }
}

impl Block {
    /// `name.label`, as references spell it.
    pub fn id(&self) -> String {
        match &self.label {
            Some(label) => format!("{}.{label}", self.name),
            None => self.name.clone(),
        }
    }

    pub fn attribute(&self, name: &str) -> Option<&Expr> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// A string attribute's value.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.attribute(name)? {
            Expr::String(text) => Some(text),
            _ => None,
        }
    }

    /// The nested blocks called `name`.
    pub fn blocks_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Block> {
        self.blocks.iter().filter(move |block| block.name == name)
    }

    /// The references in `forward_to`, or in any attribute called `name`.
    pub fn references(&self, name: &str) -> Vec<String> {
        let mut found = Vec::new();
        if let Some(value) = self.attribute(name) {
            value.collect_references(&mut found);
        }
        found
    }

    /// The keys of an object attribute (`values = { level = "" }`).
    pub fn object_keys(&self, name: &str) -> Vec<String> {
        match self.attribute(name) {
            Some(Expr::Object(entries)) => entries.iter().map(|(key, _)| key.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn walk<'a>(&'a self, visit: &mut impl FnMut(&'a Block)) {
        visit(self);
        for block in &self.blocks {
            block.walk(visit);
        }
    }
}

impl Expr {
    fn collect_references(&self, out: &mut Vec<String>) {
        match self {
            Expr::Reference(name) => out.push(name.clone()),
            Expr::List(items) | Expr::Call(_, items) => {
                items.iter().for_each(|item| item.collect_references(out));
            }
            Expr::Object(entries) => entries
                .iter()
                .for_each(|(_, value)| value.collect_references(out)),
            Expr::String(_) | Expr::Other(_) => {}
        }
    }

    /// The strings of a list of strings.
    pub fn strings(&self) -> Vec<&str> {
        match self {
            Expr::List(items) => items
                .iter()
                .filter_map(|item| match item {
                    Expr::String(text) => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

// --- reading -----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Str(String),
    Punct(char),
    Newline,
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let error = |line, message: &str| ParseError {
        line,
        message: message.to_owned(),
    };
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                tokens.push((Token::Newline, line));
                line += 1;
            }
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                loop {
                    let c = chars
                        .next()
                        .ok_or_else(|| error(line, "unclosed /* comment"))?;
                    if c == '\n' {
                        line += 1;
                    }
                    if previous == '*' && c == '/' {
                        break;
                    }
                    previous = c;
                }
            }
            '"' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None | Some('\n') => return Err(error(line, "unclosed string")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some(other) => value.push(other),
                            None => return Err(error(line, "unclosed string")),
                        },
                        Some(other) => value.push(other),
                    }
                }
                tokens.push((Token::Str(value), line));
            }
            '`' => {
                let mut value = String::new();
                loop {
                    match chars.next() {
                        None => return Err(error(line, "unclosed raw string")),
                        Some('`') => break,
                        Some(other) => {
                            if other == '\n' {
                                line += 1;
                            }
                            value.push(other);
                        }
                    }
                }
                tokens.push((Token::Str(value), line));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut name = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_alphanumeric() || next == '_' || next == '.' {
                        name.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push((Token::Name(name), line));
            }
            other => tokens.push((Token::Punct(other), line)),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    position: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position).map(|(token, _)| token)
    }

    /// The line of the token read last, where an error shows itself.
    fn line(&self) -> usize {
        let last = self.position.saturating_sub(1);
        self.tokens
            .get(last.min(self.tokens.len().saturating_sub(1)))
            .map_or(0, |(_, line)| *line)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self
            .tokens
            .get(self.position)
            .map(|(token, _)| token.clone());
        self.position += 1;
        token
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            line: self.line(),
            message: message.into(),
        })
    }

    fn skip_newlines(&mut self) {
        while self.peek() == Some(&Token::Newline) {
            self.position += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ParseError> {
        self.skip_newlines();
        match self.next() {
            Some(Token::Punct(found)) if found == c => Ok(()),
            other => self.error(format!("expected {c:?}, found {other:?}")),
        }
    }

    /// Attributes and blocks until `}` (nested) or the end (top level).
    fn body(&mut self, nested: bool) -> Result<(Vec<Attribute>, Vec<Block>), ParseError> {
        let mut attributes = Vec::new();
        let mut blocks = Vec::new();
        loop {
            self.skip_newlines();
            match self.next() {
                None if nested => return self.error("missing }"),
                None => return Ok((attributes, blocks)),
                Some(Token::Punct('}')) if nested => return Ok((attributes, blocks)),
                Some(Token::Name(name)) => match self.next() {
                    Some(Token::Punct('=')) => {
                        let value = self.expression()?;
                        match self.peek() {
                            None | Some(Token::Newline) | Some(Token::Punct('}')) => {}
                            other => {
                                return self.error(format!(
                                    "attribute {name}: unexpected {other:?} after its value"
                                ));
                            }
                        }
                        attributes.push((name, value));
                    }
                    Some(Token::Str(label)) => {
                        self.expect('{')?;
                        let (attributes, children) = self.body(true)?;
                        blocks.push(Block {
                            name,
                            label: Some(label),
                            attributes,
                            blocks: children,
                        });
                    }
                    Some(Token::Punct('{')) => {
                        let (attributes, children) = self.body(true)?;
                        blocks.push(Block {
                            name,
                            label: None,
                            attributes,
                            blocks: children,
                        });
                    }
                    other => return self.error(format!("after {name}: unexpected {other:?}")),
                },
                other => return self.error(format!("unexpected {other:?}")),
            }
        }
    }

    fn expression(&mut self) -> Result<Expr, ParseError> {
        let primary = self.primary()?;
        // Binary operators (`a + b`, `a == b`) are kept as text: the checks
        // only need the references inside lists, objects and calls.
        let mut rest = String::new();
        while let Some(Token::Punct(c)) = self.peek() {
            if matches!(c, ',' | ']' | '}' | ')') {
                break;
            }
            rest.push(*c);
            self.position += 1;
            if let Some(Token::Punct(second @ ('=' | '&' | '|'))) = self.peek() {
                rest.push(*second);
                self.position += 1;
            }
            let operand = self.primary()?;
            rest.push_str(&format!(" {operand:?}"));
        }
        Ok(if rest.is_empty() {
            primary
        } else {
            Expr::Other(format!("{primary:?} {rest}"))
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.next() {
            Some(Token::Str(text)) => Ok(Expr::String(text)),
            Some(Token::Name(name)) if self.peek() == Some(&Token::Punct('(')) => {
                self.position += 1;
                let arguments = self.items(')')?;
                Ok(Expr::Call(name, arguments))
            }
            Some(Token::Name(name)) => {
                let literal = matches!(name.as_str(), "true" | "false" | "null")
                    || name.starts_with(|c: char| c.is_ascii_digit());
                Ok(if literal {
                    Expr::Other(name)
                } else {
                    Expr::Reference(name)
                })
            }
            Some(Token::Punct('[')) => Ok(Expr::List(self.items(']')?)),
            Some(Token::Punct('{')) => self.object(),
            Some(Token::Punct('-')) => match self.next() {
                Some(Token::Name(number)) => Ok(Expr::Other(format!("-{number}"))),
                other => self.error(format!("after -: unexpected {other:?}")),
            },
            other => self.error(format!("expected a value, found {other:?}")),
        }
    }

    /// Comma-separated expressions until `close` (newlines allowed).
    fn items(&mut self, close: char) -> Result<Vec<Expr>, ParseError> {
        let mut items = Vec::new();
        loop {
            self.skip_newlines();
            if self.peek() == Some(&Token::Punct(close)) {
                self.position += 1;
                return Ok(items);
            }
            items.push(self.expression()?);
            self.skip_newlines();
            match self.next() {
                Some(Token::Punct(',')) => {}
                Some(Token::Punct(c)) if c == close => return Ok(items),
                other => return self.error(format!("expected , or {close:?}, found {other:?}")),
            }
        }
    }

    fn object(&mut self) -> Result<Expr, ParseError> {
        let mut entries = Vec::new();
        loop {
            self.skip_newlines();
            let key = match self.next() {
                Some(Token::Punct('}')) => return Ok(Expr::Object(entries)),
                Some(Token::Name(key)) | Some(Token::Str(key)) => key,
                other => return self.error(format!("expected an object key, found {other:?}")),
            };
            self.expect('=')?;
            entries.push((key, self.expression()?));
            self.skip_newlines();
            match self.next() {
                Some(Token::Punct(',')) => {}
                Some(Token::Punct('}')) => return Ok(Expr::Object(entries)),
                other => return self.error(format!("expected , or }}, found {other:?}")),
            }
        }
    }
}

/// Reads an Alloy configuration file.
pub fn parse(text: &str) -> Result<Config, ParseError> {
    let mut parser = Parser {
        tokens: tokenize(text)?,
        position: 0,
    };
    let (attributes, blocks) = parser.body(false)?;
    if let Some((name, _)) = attributes.first() {
        return Err(ParseError {
            line: 0,
            message: format!("attribute {name} outside any block"),
        });
    }
    Ok(Config { blocks })
}

// --- checks ------------------------------------------------------------------

/// The component type a reference starts with, its label and the export it
/// reads: `loki.process.workshop.receiver` -> (`loki.process`, `workshop`,
/// `receiver`).
fn split_reference(reference: &str) -> Option<(&'static str, &str, &str)> {
    COMPONENTS
        .iter()
        .filter_map(|(name, _)| {
            let rest = reference.strip_prefix(name)?.strip_prefix('.')?;
            let (label, export) = rest.split_once('.')?;
            Some((*name, label, export))
        })
        .max_by_key(|(name, _, _)| name.len())
}

/// Components and references hang together: every component type is known,
/// every id unique, every reference names a defined component and a field it
/// exports, every `forward_to` lists receivers, and every log source reaches
/// a `loki.write`.
pub fn check_wiring(config: &Config) -> Problems {
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for block in &config.blocks {
        if block.label.is_none() {
            continue;
        }
        if !COMPONENTS.iter().any(|(name, _)| *name == block.name) {
            problems.push(format!("alloy: unknown component type {}", block.name));
        }
        if !ids.insert(block.id()) {
            problems.push(format!("alloy: {} is defined twice", block.id()));
        }
    }
    for component in &config.blocks {
        let mut references = Vec::new();
        component.walk(&mut |block| {
            for (_, value) in &block.attributes {
                value.collect_references(&mut references);
            }
        });
        for reference in references {
            let Some((name, label, export)) = split_reference(&reference) else {
                problems.push(format!(
                    "alloy: {}: {reference} names no known component",
                    component.id()
                ));
                continue;
            };
            if config.component(name, label).is_none() {
                problems.push(format!(
                    "alloy: {}: {reference}: no {name} \"{label}\" is defined",
                    component.id()
                ));
            }
            let exports = COMPONENTS
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(&[][..], |(_, exports)| *exports);
            if !exports.contains(&export) {
                problems.push(format!(
                    "alloy: {}: {reference}: {name} exports {exports:?}, not {export}",
                    component.id()
                ));
            }
        }
        if let Some(forward_to) = component.attribute("forward_to") {
            let targets = component.references("forward_to");
            let all_receivers = matches!(forward_to, Expr::List(items) if items.len() == targets.len())
                && targets.iter().all(|t| t.ends_with(".receiver"));
            if targets.is_empty() || !all_receivers {
                problems.push(format!(
                    "alloy: {}: forward_to must list receivers, found {forward_to:?}",
                    component.id()
                ));
            }
        }
    }
    for source in config
        .blocks
        .iter()
        .filter(|block| block.name.starts_with("loki.source."))
    {
        if !reaches_loki_write(config, source, 0) {
            problems.push(format!(
                "alloy: {}: its lines never reach a loki.write",
                source.id()
            ));
        }
    }
    problems
}

fn reaches_loki_write(config: &Config, block: &Block, depth: usize) -> bool {
    if block.name == "loki.write" {
        return true;
    }
    // A cycle cannot reach further than the number of components.
    depth <= config.blocks.len()
        && block.references("forward_to").iter().any(|reference| {
            split_reference(reference)
                .and_then(|(name, label, _)| config.component(name, label))
                .is_some_and(|next| reaches_loki_write(config, next, depth + 1))
        })
}

/// Whether the pipeline attaches structured metadata (Loki must allow it).
pub fn sends_structured_metadata(config: &Config) -> bool {
    config.components_of("loki.process").any(|process| {
        process
            .blocks_named("stage.structured_metadata")
            .next()
            .is_some()
    })
}

/// The workshop's pipeline: Docker containers with `stage_label` are
/// discovered through `docker_host`; their streams get `container_name`
/// (without Docker's leading slash), `service_name` (the compose service)
/// and `stage` (from `stage_label`); the JSON `level` becomes a label and
/// `trace_id` stays queryable; everything is pushed to `loki_push_url`.
pub fn check_workshop_pipeline(
    config: &Config,
    docker_host: &str,
    stage_label: &str,
    loki_push_url: &str,
) -> Problems {
    let mut problems = Vec::new();
    let mut problem = |text: String| problems.push(format!("alloy: {text}"));

    let discoveries: Vec<&Block> = config.components_of("discovery.docker").collect();
    if discoveries.is_empty() {
        problem("no discovery.docker".into());
    }
    for discovery in &discoveries {
        if discovery.string("host") != Some(docker_host) {
            problem(format!("{}: host is not {docker_host}", discovery.id()));
        }
        let filters_on_stage = discovery.blocks_named("filter").any(|filter| {
            filter.string("name") == Some("label")
                && filter
                    .attribute("values")
                    .is_some_and(|values| values.strings().contains(&stage_label))
        });
        if !filters_on_stage {
            problem(format!(
                "{}: no filter on the {stage_label} label: every container's logs would be shipped",
                discovery.id()
            ));
        }
    }

    let sanitized = stage_label.replace(['.', '-', '/'], "_");
    let expected_rules = [
        (
            "container_name",
            "__meta_docker_container_name".to_owned(),
            Some("/(.*)"),
        ),
        (
            "service_name",
            "__meta_docker_container_label_com_docker_compose_service".to_owned(),
            None,
        ),
        (
            "stage",
            format!("__meta_docker_container_label_{sanitized}"),
            None,
        ),
    ];
    let sources: Vec<&Block> = config.components_of("loki.source.docker").collect();
    if sources.is_empty() {
        problem("no loki.source.docker".into());
    }
    for source in sources {
        if source.string("host") != Some(docker_host) {
            problem(format!("{}: host is not {docker_host}", source.id()));
        }
        let rules = source
            .references("relabel_rules")
            .first()
            .and_then(|reference| split_reference(reference))
            .filter(|(name, _, export)| *name == "discovery.relabel" && *export == "rules")
            .and_then(|(name, label, _)| config.component(name, label));
        let Some(relabel) = rules else {
            problem(format!(
                "{}: relabel_rules must be a discovery.relabel's rules, or no label is applied",
                source.id()
            ));
            continue;
        };
        for (target, source_label, regex) in &expected_rules {
            let rule = relabel
                .blocks_named("rule")
                .find(|rule| rule.string("target_label") == Some(target));
            let Some(rule) = rule else {
                problem(format!("{}: no rule sets {target}", relabel.id()));
                continue;
            };
            let from = rule
                .attribute("source_labels")
                .map(Expr::strings)
                .unwrap_or_default();
            if from != [source_label.as_str()] {
                problem(format!(
                    "{}: {target} comes from {from:?}, expected {source_label}",
                    relabel.id()
                ));
            }
            if let Some(regex) = regex
                && rule.string("regex") != Some(regex)
            {
                problem(format!(
                    "{}: {target} needs regex {regex:?} (Docker names start with a slash)",
                    relabel.id()
                ));
            }
        }
    }

    let processes: Vec<&Block> = config.components_of("loki.process").collect();
    let stage_keys = |name: &str, attribute: &str| -> BTreeSet<String> {
        processes
            .iter()
            .flat_map(|process| process.blocks_named(name).collect::<Vec<_>>())
            .flat_map(|stage| stage.object_keys(attribute))
            .collect()
    };
    let extracted = stage_keys("stage.json", "expressions");
    for field in ["level", "trace_id"] {
        if !extracted.contains(field) {
            problem(format!("no stage.json extracts {field}"));
        }
    }
    if !stage_keys("stage.labels", "values").contains("level") {
        problem("level is not made a label (stage.labels)".into());
    }
    if stage_keys("stage.labels", "values").contains("trace_id") {
        problem("trace_id must not be a label: one stream per trace".into());
    }
    // trace_id stays queryable as structured metadata, or else in the line
    // itself, unless a stage.output rewrites the line.
    let kept = stage_keys("stage.structured_metadata", "values").contains("trace_id");
    let rewritten = processes
        .iter()
        .any(|process| process.blocks_named("stage.output").next().is_some());
    if rewritten && !kept {
        problem("the line is rewritten and trace_id is not kept as structured metadata".into());
    }

    let writes: Vec<&Block> = config.components_of("loki.write").collect();
    let urls: Vec<&str> = writes
        .iter()
        .flat_map(|write| write.blocks_named("endpoint").collect::<Vec<_>>())
        .filter_map(|endpoint| endpoint.string("url"))
        .collect();
    if !urls.contains(&loki_push_url) {
        problem(format!(
            "no loki.write endpoint pushes to {loki_push_url} (found {urls:?})"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIPELINE: &str = r#"
// a comment
discovery.docker "d" {
  host = "unix:///var/run/docker.sock"
  filter {
    name   = "label"
    values = ["workshop.stage"]
  }
}
/* a block
   comment */
discovery.relabel "r" {
  targets = []
  rule {
    source_labels = ["__meta_docker_container_name"]
    regex         = "/(.*)"
    target_label  = "container_name"
  }
  rule {
    source_labels = ["__meta_docker_container_label_com_docker_compose_service"]
    target_label  = "service_name"
  }
  rule {
    source_labels = ["__meta_docker_container_label_workshop_stage"]
    target_label  = "stage"
  }
}
loki.source.docker "s" {
  host          = "unix:///var/run/docker.sock"
  targets       = discovery.docker.d.targets
  relabel_rules = discovery.relabel.r.rules
  forward_to    = [loki.process.p.receiver]
}
loki.process "p" {
  forward_to = [loki.write.w.receiver]
  stage.json {
    expressions = { level = "level", trace_id = "trace_id" }
  }
  stage.labels {
    values = {
      level = "",
    }
  }
  stage.structured_metadata {
    values = { trace_id = "" }
  }
}
loki.write "w" {
  endpoint {
    url = "http://loki:3100/loki/api/v1/push"
    max_backoff_retries = 0
  }
}
"#;

    const SOCKET: &str = "unix:///var/run/docker.sock";
    const PUSH: &str = "http://loki:3100/loki/api/v1/push";

    fn check(text: &str) -> String {
        let config = parse(text).unwrap();
        let mut problems = check_wiring(&config);
        problems.extend(check_workshop_pipeline(
            &config,
            SOCKET,
            "workshop.stage",
            PUSH,
        ));
        problems.join("\n")
    }

    #[test]
    fn reads_blocks_labels_attributes_and_references() {
        let config = parse(PIPELINE).unwrap();
        assert_eq!(config.blocks.len(), 5);
        let source = config.component("loki.source.docker", "s").unwrap();
        assert_eq!(
            source.attribute("targets"),
            Some(&Expr::Reference("discovery.docker.d.targets".into()))
        );
        assert_eq!(source.references("forward_to"), ["loki.process.p.receiver"]);
        let process = config.component("loki.process", "p").unwrap();
        let json = process.blocks_named("stage.json").next().unwrap();
        assert_eq!(json.object_keys("expressions"), ["level", "trace_id"]);
        let write = config.component("loki.write", "w").unwrap();
        assert_eq!(
            write.blocks[0].attribute("max_backoff_retries"),
            Some(&Expr::Other("0".into()))
        );
        assert!(sends_structured_metadata(&config));
        let operators = parse("x \"y\" {\n  a = 1 + 2\n  b = env(\"A\") == \"b\"\n}\n").unwrap();
        assert!(matches!(
            operators.blocks[0].attribute("b"),
            Some(Expr::Other(_))
        ));
    }

    #[test]
    fn the_sample_pipeline_passes() {
        assert_eq!(check(PIPELINE), "");
    }

    #[test]
    fn a_dangling_forward_to_is_caught() {
        let broken = PIPELINE.replace(
            "forward_to = [loki.write.w.receiver]",
            "forward_to = [loki.write.default.receiver]",
        );
        let problems = check(&broken);
        assert!(
            problems.contains("no loki.write \"default\" is defined"),
            "{problems}"
        );
        assert!(problems.contains("never reach a loki.write"), "{problems}");
    }

    #[test]
    fn a_wrong_export_or_unknown_component_is_caught() {
        let broken = PIPELINE
            .replace("discovery.relabel.r.rules", "discovery.relabel.r.output")
            .replace("loki.write \"w\"", "loki.writer \"w\"");
        let problems = check(&broken);
        assert!(
            problems.contains("unknown component type loki.writer"),
            "{problems}"
        );
        assert!(problems.contains("relabel_rules must be"), "{problems}");
    }

    #[test]
    fn missing_labels_and_a_wrong_push_url_are_caught() {
        let broken = PIPELINE
            .replace("regex         = \"/(.*)\"", "")
            .replace(
                "__meta_docker_container_label_workshop_stage",
                "__meta_docker_container_label_stage",
            )
            .replace("level = \"\",", "")
            .replace("/loki/api/v1/push", "/api/v1/push")
            .replace("values = [\"workshop.stage\"]", "values = [\"stage\"]");
        let problems = check(&broken);
        for expected in [
            "container_name needs regex",
            "stage comes from",
            "level is not made a label",
            "no loki.write endpoint pushes to",
            "no filter on the workshop.stage label",
        ] {
            assert!(problems.contains(expected), "{expected} in:\n{problems}");
        }
    }

    #[test]
    fn syntax_errors_name_their_line() {
        let error = parse("loki.write \"w\" {\n  endpoint {\n    url = \n  }\n").unwrap_err();
        assert_eq!(error.line, 3, "{error}");
        assert!(parse("loki.write \"w\" {").is_err());
        assert!(parse("x = \"unclosed").is_err());
        assert!(parse("top = 1").is_err());
    }
}

/// A `stage.match` selector's line filters: `{...} != "text"` and friends.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFilter {
    /// `|=`, `!=`, `|~` or `!~`.
    pub op: String,
    /// The filter's operand, LogQL string escapes resolved.
    pub operand: String,
}

/// The line filters after a LogQL selector's `{...}` (double-quoted or
/// backtick operands). `None` if the text after the matchers is not a chain
/// of line filters.
pub fn line_filters(selector: &str) -> Option<Vec<LineFilter>> {
    let mut rest = selector.trim().strip_prefix('{')?;
    rest = &rest[rest.find('}')? + 1..];
    let mut filters = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(filters);
        }
        let op = ["|=", "!=", "|~", "!~"]
            .into_iter()
            .find(|op| rest.starts_with(op))?;
        rest = rest[op.len()..].trim_start();
        let (operand, after) = if let Some(raw) = rest.strip_prefix('`') {
            let end = raw.find('`')?;
            (raw[..end].to_owned(), &raw[end + 1..])
        } else {
            let quoted = rest.strip_prefix('"')?;
            let mut operand = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => operand.push(chars.next()?.1),
                    (_, c) => operand.push(c),
                }
            };
            (operand, &quoted[end + 1..])
        };
        filters.push(LineFilter {
            op: op.to_owned(),
            operand,
        });
        rest = after;
    }
}

/// Whether a line passes a `loki.process` block's `stage.match` drops: a
/// match stage with `action = "drop"` removes the lines its filters match.
/// (Stream matchers are not evaluated: the usage branch selects every stream.)
pub fn kept_by(process: &Block, line: &str) -> bool {
    process.blocks_named("stage.match").all(|stage| {
        if stage.string("action") != Some("drop") {
            return true;
        }
        let Some(filters) = stage.string("selector").and_then(line_filters) else {
            return true;
        };
        let matches = filters.iter().all(|filter| {
            let found = match filter.op.as_str() {
                "|=" | "!=" => line.contains(&filter.operand),
                _ => regex::Regex::new(&filter.operand).is_ok_and(|re| re.is_match(line)),
            };
            if filter.op.starts_with('!') {
                !found
            } else {
                found
            }
        });
        !matches
    })
}

/// Stage 6's routing: the Docker source fans out to the workshop pipeline
/// (reaching `loki_push_url`) and to a second `loki.process` that reaches only
/// `usage_push_url`, through a `stage.match` dropping every line without the
/// `"usage":true` marker, which must match every stream.
/// The environment variable the `loki.write` pushing to `url` takes its
/// bearer token from (`bearer_token = sys.env("NAME")`), if it does.
pub fn bearer_token_variable(config: &Config, url: &str) -> Option<String> {
    config
        .components_of("loki.write")
        .flat_map(|write| write.blocks_named("endpoint"))
        .filter(|endpoint| endpoint.string("url") == Some(url))
        .find_map(|endpoint| match endpoint.attribute("bearer_token")? {
            Expr::Call(function, arguments) if function == "sys.env" => {
                match arguments.as_slice() {
                    [Expr::String(name)] => Some(name.clone()),
                    _ => None,
                }
            }
            _ => None,
        })
}

pub fn check_usage_branch(config: &Config, loki_push_url: &str, usage_push_url: &str) -> Problems {
    let mut problems = Vec::new();
    let writes_to = |url: &str| -> Vec<String> {
        config
            .components_of("loki.write")
            .filter(|write| {
                write
                    .blocks_named("endpoint")
                    .any(|endpoint| endpoint.string("url") == Some(url))
            })
            .map(|write| format!("{}.receiver", write.id()))
            .collect()
    };
    let (loki, usage) = (writes_to(loki_push_url), writes_to(usage_push_url));
    if usage.is_empty() {
        problems.push(format!("alloy: no loki.write pushes to {usage_push_url}"));
    }
    for source in config.components_of("loki.source.docker") {
        let targets = source.references("forward_to");
        let pipelines: Vec<&Block> = targets
            .iter()
            .filter_map(|reference| split_reference(reference))
            .filter(|(name, _, _)| *name == "loki.process")
            .filter_map(|(name, label, _)| config.component(name, label))
            .collect();
        let to_loki = pipelines
            .iter()
            .filter(|p| p.references("forward_to").iter().any(|t| loki.contains(t)));
        if to_loki.count() == 0 {
            problems.push(format!(
                "alloy: {}: no pipeline of its lines reaches Loki",
                source.id()
            ));
        }
        let usage_branches: Vec<&&Block> = pipelines
            .iter()
            .filter(|p| p.references("forward_to").iter().any(|t| usage.contains(t)))
            .collect();
        if usage_branches.len() != 1 {
            problems.push(format!(
                "alloy: {}: expected one pipeline to the usage receiver, found {}",
                source.id(),
                usage_branches.len()
            ));
        }
        for branch in usage_branches {
            if branch
                .references("forward_to")
                .iter()
                .any(|t| loki.contains(t))
            {
                problems.push(format!(
                    "alloy: {}: the usage branch also writes to Loki: lines would be stored twice",
                    branch.id()
                ));
            }
            let selects_every_stream = branch.blocks_named("stage.match").any(|stage| {
                stage.string("action") == Some("drop")
                    && stage.string("selector").is_some_and(|selector| {
                        selector.trim_start().starts_with("{service_name=~\".+\"}")
                    })
            });
            if !selects_every_stream {
                problems.push(format!(
                    "alloy: {}: its drop stage must select every stream ({{service_name=~\".+\"}}), or other streams pass unfiltered",
                    branch.id()
                ));
            }
            let usage_line =
                r#"{"level":"INFO","message":"usage event","usage":true,"event":"roll"}"#;
            let operational = r#"{"level":"INFO","message":"roll result","die_type":"fair"}"#;
            if !kept_by(branch, usage_line) || kept_by(branch, operational) {
                problems.push(format!(
                    "alloy: {}: does not keep exactly the \"usage\":true lines",
                    branch.id()
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod usage_branch_tests {
    use super::*;

    const BRANCH: &str = r#"
loki.source.docker "s" {
  forward_to = [loki.process.all.receiver, loki.process.usage.receiver]
}
loki.process "all" {
  forward_to = [loki.write.loki.receiver]
}
loki.process "usage" {
  forward_to = [loki.write.usage.receiver]
  stage.match {
    selector = `{service_name=~".+"} != "\"usage\":true"`
    action   = "drop"
  }
}
loki.write "loki" {
  endpoint { url = "http://loki:3100/loki/api/v1/push" }
}
loki.write "usage" {
  endpoint { url = "http://r:8603/loki/api/v1/push" }
}
"#;

    fn check(text: &str) -> Problems {
        check_usage_branch(
            &parse(text).unwrap(),
            "http://loki:3100/loki/api/v1/push",
            "http://r:8603/loki/api/v1/push",
        )
    }

    #[test]
    fn a_correct_branch_passes() {
        assert!(check(BRANCH).is_empty(), "{:?}", check(BRANCH));
    }

    #[test]
    fn the_mistakes_that_route_nothing_or_everything_are_caught() {
        // The original workshop's sketch: a stage.output, no fan-out.
        let no_fan_out = BRANCH.replace(", loki.process.usage.receiver", "");
        assert!(!check(&no_fan_out).is_empty());
        // A keep instead of a drop lets every line through.
        let keep = BRANCH.replace("action   = \"drop\"", "action   = \"keep\"");
        assert!(!check(&keep).is_empty());
        // `|=` keeps the wrong half.
        let inverted = BRANCH.replace("} != ", "} |= ");
        assert!(!check(&inverted).is_empty());
        // A selector for one stream leaves the others unfiltered.
        let narrow = BRANCH.replace("service_name=~\".+\"", "service_name=\"frontend\"");
        assert!(!check(&narrow).is_empty());
    }

    #[test]
    fn line_filters_resolve_escapes() {
        let filters = line_filters(r#"{a=~".+"} != "\"usage\":true" |= `raw`"#).unwrap();
        assert_eq!(filters[0].operand, "\"usage\":true");
        assert_eq!(
            filters[1],
            LineFilter {
                op: "|=".into(),
                operand: "raw".into()
            }
        );
    }
}
