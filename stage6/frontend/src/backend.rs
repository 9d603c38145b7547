use std::time::{Duration, Instant};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt;
use opentelemetry::{Context, KeyValue};
use serde::Deserialize;
use telemetry::HttpClient;

/// The die-service's list of dice, as the frontend fetches it.
#[derive(Clone)]
pub struct DieList {
    client: HttpClient,
    dice_url: String,
}

#[derive(Deserialize)]
struct Identifiers {
    identifiers: Vec<String>,
}

impl DieList {
    pub fn new(client: HttpClient, base_url: &str) -> Self {
        Self {
            client,
            dice_url: format!("{base_url}/dice"),
        }
    }

    /// The identifiers of every die, fetched fresh on every call, so a die
    /// added to the die-service's file shows up on the next page load.
    pub async fn identifiers(&self) -> Result<Vec<String>, CallError> {
        let start = Instant::now();
        let failed = |source: reqwest::Error| CallError::from_reqwest(source, start.elapsed());
        let request = self
            .client
            .request_builder()
            .get(&self.dice_url)
            .build()
            .map_err(failed)?;
        // Stage 3: fetching the list is a call like any other, so it is a
        // CLIENT span of its own and a frontend -> die-service edge.
        let response = self.client.send(request).await.map_err(failed)?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            let reason = response
                .json::<Failed>()
                .await
                .ok()
                .map(|failed| failed.error);
            return Err(CallError::Status {
                status,
                reason,
                elapsed: start.elapsed(),
            });
        }
        let list: Identifiers = response.json().await.map_err(failed)?;
        Ok(list.identifiers)
    }
}

/// The dice-roller, as the frontend calls it.
#[derive(Clone)]
pub struct DiceRoller {
    client: HttpClient,
    roll_url: String,
    roll_async_url: String,
}

/// What the dice-roller said.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

/// Why a backend gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no answer in time")]
    TimedOut { elapsed: Duration },
    #[error("unreachable")]
    Unreachable {
        elapsed: Duration,
        #[source]
        source: reqwest::Error,
    },
    /// It answered with an error status, and perhaps said why.
    #[error("answered {status}")]
    Status {
        status: u16,
        reason: Option<String>,
        elapsed: Duration,
    },
}

impl CallError {
    fn from_reqwest(source: reqwest::Error, elapsed: Duration) -> Self {
        if source.is_timeout() {
            Self::TimedOut { elapsed }
        } else {
            Self::Unreachable { elapsed, source }
        }
    }

    /// The `status_code` label value for a call that got no usable answer.
    pub fn label(&self) -> &'static str {
        match self {
            Self::TimedOut { .. } => "timeout",
            Self::Unreachable { .. } => "unreachable",
            Self::Status { .. } => "error",
        }
    }

    pub fn elapsed(&self) -> Duration {
        match self {
            Self::TimedOut { elapsed }
            | Self::Unreachable { elapsed, .. }
            | Self::Status { elapsed, .. } => *elapsed,
        }
    }
}

#[derive(Deserialize)]
struct Rolled {
    roll: i64,
}

#[derive(Deserialize)]
struct Rolls {
    rolls: Vec<i64>,
}

#[derive(Deserialize)]
struct Failed {
    error: String,
}

impl Answer {
    /// The rolled value, if the dice-roller rolled.
    pub fn roll(&self) -> Option<i64> {
        (self.status == 200)
            .then(|| serde_json::from_str::<Rolled>(&self.body).ok())
            .flatten()
            .map(|rolled| rolled.roll)
    }

    /// The values of a rolled batch, if the dice-roller rolled it.
    pub fn batch(&self) -> Option<Vec<i64>> {
        (self.status == 200)
            .then(|| serde_json::from_str::<Rolls>(&self.body).ok())
            .flatten()
            .map(|batch| batch.rolls)
    }

    /// The dice-roller's own explanation of a failure, if it gave one.
    pub fn error_message(&self) -> Option<String> {
        serde_json::from_str::<Failed>(&self.body)
            .ok()
            .map(|failed| failed.error)
    }
}

impl DiceRoller {
    pub fn new(client: HttpClient, base_url: &str) -> Self {
        Self {
            client,
            roll_url: format!("{base_url}/roll"),
            roll_async_url: format!("{base_url}/roll-async"),
        }
    }

    /// The URL rolls are requested from (the `backend.url` span attribute).
    pub fn roll_url(&self) -> &str {
        &self.roll_url
    }

    /// Asks the dice-roller to roll `die` once (`GET /roll`).
    pub async fn roll(&self, die: &str) -> Result<Answer, CallError> {
        self.get(&self.roll_url, &[("die", die)], die).await
    }

    /// Asks the dice-roller to roll `times` dice `die` at once
    /// (`GET /roll-async`).
    pub async fn roll_async(&self, die: &str, times: u32) -> Result<Answer, CallError> {
        let times = times.to_string();
        self.get(
            &self.roll_async_url,
            &[("die", die), ("times", &times)],
            die,
        )
        .await
    }

    async fn get(&self, url: &str, query: &[(&str, &str)], die: &str) -> Result<Answer, CallError> {
        let start = Instant::now();
        let failed = |source: reqwest::Error| CallError::from_reqwest(source, start.elapsed());
        let request = self
            .client
            .request_builder()
            .get(url)
            .query(query)
            .build()
            .map_err(failed)?;
        // Stage 2: baggage is a set of key-value pairs that travels with the
        // trace context to every service downstream. `HttpClient::send` puts
        // the current context (this baggage included) into the request's
        // `traceparent` and `baggage` headers; the dice-roller's span shows it
        // as `baggage.die.type`.
        let context = Context::current_with_baggage([KeyValue::new("die.type", die.to_owned())]);
        let response = self
            .client
            .send(request)
            .with_context(context)
            .await
            .map_err(failed)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(failed)?;
        Ok(Answer {
            status,
            body,
            elapsed: start.elapsed(),
        })
    }
}
