//! Property tests of the parsers that read outside input: the settings and
//! strategies every stage's property tests share.
//!
//! A property test throws many generated inputs at a parser and checks
//! what must hold for all of them (never a panic, never a 5xx, a valid
//! input round-trips). `PROPTEST_CASES` sets how many inputs each property
//! gets; `make test` keeps the defaults modest, a few seconds a property:
//! `PROPTEST_CASES=10000 cargo nextest run -p stage6-usage-receiver` for a
//! longer search. A failure proptest finds becomes a plain test of its own,
//! next to the property, so it stays fixed.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// proptest's settings with `default_cases` inputs per property, unless
/// `PROPTEST_CASES` says otherwise.
pub fn proptest_config(default_cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config
}

/// A runner with [`proptest_config`], for properties that drive a service
/// on a runtime of their own (`runner.run(&strategy, |input| ...)`).
pub fn property_runner(default_cases: u32) -> TestRunner {
    TestRunner::new(proptest_config(default_cases))
}

/// Text a hostile or careless client might send as one value: anything at
/// all (NUL and control characters included), near-misses of real values,
/// and values far over any limit.
pub fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,12}",
        "[a-z0-9_-]{0,60}",
        Just("fair".to_owned()),
        Just("risky".to_owned()),
        Just(String::new()),
        "(fair|risky|[0-9]{1,3})(\\x00|\\n|%| |\\u{202e})",
        "-?[0-9]{1,25}",
        (1usize..20_000).prop_map(|n| "d".repeat(n)),
    ]
}

/// A raw query string or form body: names and values, separators and
/// percent escapes in any order, valid UTF-8 or not once decoded.
pub fn hostile_query() -> impl Strategy<Value = String> {
    "(die|times|async|identifier|user|password|[a-z]{1,3}|=|&|;|\\+|%[0-9A-Fa-f]{2}|%[^0-9A-Fa-f]|%|[0-9]{1,4}|\\PC){0,40}"
}

/// One generated request: named values, encoded as a client library
/// would, or a raw query string / form body as a hostile client writes it.
#[derive(Debug, Clone)]
pub enum HostileInput {
    Fields(Vec<(String, String)>),
    Raw(String),
}

impl HostileInput {
    /// Some of `names` (each at most once, in any order) with hostile
    /// values, or a raw string.
    pub fn strategy(names: &'static [&'static str]) -> impl Strategy<Value = Self> {
        let fields = proptest::sample::subsequence(names.to_vec(), 0..=names.len())
            .prop_flat_map(|names| {
                let count = names.len();
                (
                    Just(names),
                    proptest::collection::vec(hostile_text(), count),
                )
            })
            .prop_map(|(names, values)| {
                HostileInput::Fields(names.into_iter().map(str::to_owned).zip(values).collect())
            });
        prop_oneof![fields, hostile_query().prop_map(HostileInput::Raw)]
    }

    /// The input as a query string or form body.
    pub fn encoded(&self) -> String {
        match self {
            Self::Raw(raw) => raw.clone(),
            Self::Fields(fields) => {
                let mut url = reqwest::Url::parse("http://x/").expect("a valid URL");
                url.query_pairs_mut().extend_pairs(fields);
                url.query().unwrap_or_default().to_owned()
            }
        }
    }
}

/// What a service answered to one hostile input.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// Sends every generated input to a service, as `GET <path>?<input>` for
/// each of `paths` or, with `post_form`, as a form body `POST <path>`, and
/// checks `judge` on each answer. `base_url` must be running on `runtime`'s
/// side of the world (a `TestService`, a spawned binary); requests are sent
/// one at a time with `http`. Panics with the smallest failing input.
pub fn check_every_input(
    runtime: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    requests: &[(reqwest::Method, String)],
    names: &'static [&'static str],
    default_cases: u32,
    judge: impl Fn(&HostileInput, &Answer) -> Result<(), String>,
) {
    let mut runner = property_runner(default_cases);
    let result = runner.run(&HostileInput::strategy(names), |input| {
        for (method, url) in requests {
            let request = if *method == reqwest::Method::GET {
                let Ok(url) = reqwest::Url::parse(&format!("{url}?{}", input.encoded())) else {
                    // Not even a URL: no client can send it.
                    continue;
                };
                http.get(url)
            } else {
                http.request(method.clone(), url)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(input.encoded())
            };
            let answer = runtime.block_on(async {
                let response = request.send().await.map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let body = response.text().await.map_err(|e| e.to_string())?;
                Ok::<_, String>(Answer { status, body })
            });
            let answer = answer.map_err(|error| {
                TestCaseError::fail(format!("{method} {url}: no answer: {error}"))
            })?;
            judge(&input, &answer)
                .map_err(|why| TestCaseError::fail(format!("{method} {url}: {why}")))?;
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// The common judgement: a 2xx, 3xx or 4xx, never a 5xx.
pub fn no_server_error(input: &HostileInput, answer: &Answer) -> Result<(), String> {
    if answer.status < 500 {
        Ok(())
    } else {
        Err(format!(
            "{input:?} got {}: {:.300}",
            answer.status, answer.body
        ))
    }
}
