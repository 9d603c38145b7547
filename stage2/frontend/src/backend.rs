use std::time::{Duration, Instant};

use opentelemetry::baggage::BaggageExt;
use opentelemetry::context::FutureExt;
use opentelemetry::{Context, KeyValue};
use serde::Deserialize;
use telemetry::HttpClient;

/// The dice-roller, as the frontend calls it.
#[derive(Clone)]
pub struct DiceRoller {
    client: HttpClient,
    roll_url: String,
}

/// What the dice-roller said.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub elapsed: Duration,
}

/// Why the dice-roller said nothing.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("the dice-roller did not answer in time")]
    TimedOut { elapsed: Duration },
    #[error("the dice-roller is unreachable")]
    Unreachable {
        elapsed: Duration,
        #[source]
        source: reqwest::Error,
    },
}

impl CallError {
    /// The `status_code` label value for a call that got no answer.
    pub fn label(&self) -> &'static str {
        match self {
            Self::TimedOut { .. } => "timeout",
            Self::Unreachable { .. } => "unreachable",
        }
    }

    pub fn elapsed(&self) -> Duration {
        match self {
            Self::TimedOut { elapsed } | Self::Unreachable { elapsed, .. } => *elapsed,
        }
    }
}

#[derive(Deserialize)]
struct Rolled {
    roll: i64,
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
        }
    }

    /// The URL rolls are requested from (the `backend.url` span attribute).
    pub fn roll_url(&self) -> &str {
        &self.roll_url
    }

    /// Asks the dice-roller to roll `die`.
    pub async fn roll(&self, die: &'static str) -> Result<Answer, CallError> {
        let start = Instant::now();
        let request = self
            .client
            .request_builder()
            .get(&self.roll_url)
            .query(&[("die", die)])
            .build()
            .map_err(|source| CallError::Unreachable {
                elapsed: start.elapsed(),
                source,
            })?;
        // Stage 2: baggage is a set of key-value pairs that travels with the
        // trace context to every service downstream. `HttpClient::send` puts
        // the current context (this baggage included) into the request's
        // `traceparent` and `baggage` headers; the dice-roller's span shows it
        // as `baggage.die.type`.
        let context = Context::current_with_baggage([KeyValue::new("die.type", die)]);
        let result = self.client.send(request).with_context(context).await;
        let failed = |source: reqwest::Error| {
            let elapsed = start.elapsed();
            if source.is_timeout() {
                CallError::TimedOut { elapsed }
            } else {
                CallError::Unreachable { elapsed, source }
            }
        };
        let response = result.map_err(failed)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(failed)?;
        Ok(Answer {
            status,
            body,
            elapsed: start.elapsed(),
        })
    }
}
