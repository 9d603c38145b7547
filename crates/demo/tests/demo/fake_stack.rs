//! A stand-in for the stack's HTTP APIs, serving recorded (or synthesized)
//! answers by what each request asks, and keeping every query it was sent,
//! so a test can run the whole of `verify` and then read what it asked.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use demo::verify::{StackEndpoints, VerifyOptions};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A recorded answer's body.
pub fn recorded(file: &str) -> String {
    std::fs::read_to_string(fixtures().join("stack-api").join(file))
        .unwrap_or_else(|error| panic!("{file}: {error}"))
}

type Rule = (Box<dyn Fn(&str) -> bool + Send + Sync>, String);

/// What the fake answers. The first rule whose predicate holds for the
/// query (TraceQL, LogQL or PromQL text) gives the body; with none, the
/// recorded "nothing found" answer of that API.
#[derive(Default)]
pub struct Answers {
    searches: Vec<Rule>,
    traces: HashMap<String, String>,
    logs: Vec<Rule>,
    promql: Vec<Rule>,
}

impl Answers {
    pub fn search(
        mut self,
        when: impl Fn(&str) -> bool + Send + Sync + 'static,
        body: String,
    ) -> Self {
        self.searches.push((Box::new(when), body));
        self
    }

    /// `GET /api/traces/<id>`; any other id is a 404 with an empty body,
    /// as Tempo answers.
    pub fn trace(mut self, trace_id: &str, body: String) -> Self {
        self.traces.insert(trace_id.to_owned(), body);
        self
    }

    pub fn logs(
        mut self,
        when: impl Fn(&str) -> bool + Send + Sync + 'static,
        body: String,
    ) -> Self {
        self.logs.push((Box::new(when), body));
        self
    }

    /// Instant and range queries alike.
    pub fn promql(
        mut self,
        when: impl Fn(&str) -> bool + Send + Sync + 'static,
        body: String,
    ) -> Self {
        self.promql.push((Box::new(when), body));
        self
    }
}

fn first(rules: &[Rule], query: &str, otherwise: &str) -> String {
    rules
        .iter()
        .find(|(when, _)| when(query))
        .map(|(_, body)| body.clone())
        .unwrap_or_else(|| recorded(otherwise))
}

/// Every query the fake was sent, by language.
#[derive(Debug, Default, Clone)]
pub struct Asked {
    pub traceql: Vec<String>,
    pub logql: Vec<String>,
    pub promql: Vec<String>,
}

#[derive(Clone)]
struct Fake {
    answers: Arc<Answers>,
    asked: Arc<Mutex<Asked>>,
}

type Params = Query<BTreeMap<String, String>>;

async fn search(State(fake): State<Fake>, Query(params): Params) -> String {
    let q = params["q"].clone();
    assert!(
        params.contains_key("start") && params.contains_key("end"),
        "{params:?}"
    );
    fake.asked.lock().unwrap().traceql.push(q.clone());
    first(
        &fake.answers.searches,
        &q,
        "tempo/search-traceql-empty.json",
    )
}

async fn trace(State(fake): State<Fake>, UrlPath(id): UrlPath<String>) -> (StatusCode, String) {
    match fake.answers.traces.get(&id) {
        Some(body) => (StatusCode::OK, body.clone()),
        None => (StatusCode::NOT_FOUND, String::new()),
    }
}

async fn logs(State(fake): State<Fake>, Query(params): Params) -> String {
    let query = params["query"].clone();
    fake.asked.lock().unwrap().logql.push(query.clone());
    first(&fake.answers.logs, &query, "loki/query-range-empty.json")
}

async fn promql(State(fake): State<Fake>, Query(params): Params) -> String {
    let query = params["query"].clone();
    fake.asked.lock().unwrap().promql.push(query.clone());
    first(&fake.answers.promql, &query, "prometheus/query-empty.json")
}

/// Runs `verify` with `options` against a fake serving `answers`, and
/// returns the checklist and what was asked.
pub async fn run_verify(answers: Answers, mut options: VerifyOptions) -> (demo::Checklist, Asked) {
    let fake = Fake {
        answers: Arc::new(answers),
        asked: Arc::default(),
    };
    let router = Router::new()
        .route("/api/v1/query", get(promql))
        .route("/api/v1/query_range", get(promql))
        .route("/api/search", get(search))
        .route("/api/traces/{id}", get(trace))
        .route("/loki/api/v1/query_range", get(logs))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    options.endpoints = StackEndpoints {
        prometheus: base.clone(),
        loki: base.clone(),
        tempo: base,
    };
    let checklist = demo::verify::verify(&options).await;
    server.abort();
    let asked = fake.asked.lock().unwrap().clone();
    (checklist, asked)
}
