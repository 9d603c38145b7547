use std::time::Instant;

use prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts, Registry};
use serde::Deserialize;
use telemetry::HttpClient;
use tracing::info;

/// How a die rolls, as the die-service specifies it.
#[derive(Debug, Clone, Deserialize)]
pub struct DieSpec {
    pub faces: Vec<i64>,
    pub error_rate: f64,
}

/// What the die-service said about a die.
#[derive(Debug)]
pub enum Lookup {
    Found(DieSpec),
    /// No such die; the dice that do exist.
    Unknown {
        known: Vec<String>,
    },
    /// The die-service refused the name as a client mistake (a 4xx: a NUL
    /// character, too long), and perhaps said why. The caller's mistake is
    /// passed on as such, not as an outage.
    Refused {
        status: u16,
        reason: Option<String>,
    },
}

/// The die-service gave no usable answer: it is down, slow or broken.
#[derive(Debug, thiserror::Error)]
pub enum DieServiceError {
    #[error("the die-service did not answer")]
    Unreachable(#[from] reqwest::Error),
    /// It answered with an error status, and perhaps said why: its 503
    /// says its database is unavailable, which the client should hear.
    #[error("the die-service answered {status}")]
    Status { status: u16, reason: Option<String> },
}

impl DieServiceError {
    /// What the die-service said was wrong, if it said.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Status { reason, .. } => reason.as_deref(),
            Self::Unreachable(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct Failure {
    error: String,
}

#[derive(Deserialize)]
struct Identifiers {
    identifiers: Vec<String>,
}

/// The die-service, as the dice-roller calls it, with the caller-side metrics
/// of those calls.
#[derive(Clone)]
pub struct DieService {
    client: HttpClient,
    dice_url: String,
    requests: IntCounterVec,
    duration: Histogram,
}

impl DieService {
    /// `client` is the instrumented client for the die-service at `base_url`;
    /// the call metrics are registered in `registry`.
    pub fn new(
        client: HttpClient,
        base_url: &str,
        registry: &Registry,
    ) -> prometheus::Result<Self> {
        let requests = IntCounterVec::new(
            Opts::new(
                "die_service_requests_total",
                "Specification lookups sent to the die-service, by die (`unknown` unless the \
                 die-service knew it) and status (or timeout, error).",
            ),
            &["identifier", "status"],
        )?;
        let duration = Histogram::with_opts(HistogramOpts::new(
            "die_service_request_duration_seconds",
            "Time the die-service took to answer a specification lookup.",
        ))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            client,
            dice_url: format!("{base_url}/dice"),
            requests,
            duration,
        })
    }

    /// Looks up `identifier`'s specification.
    pub async fn spec(&self, identifier: &str) -> Result<Lookup, DieServiceError> {
        info!(identifier, "querying die-service");
        let start = Instant::now();
        let result = self.fetch_spec(identifier).await;
        self.duration.observe(start.elapsed().as_secs_f64());
        // Only a die the die-service knows becomes a label value: anything
        // else a caller sends is `unknown`, so labels stay a closed set.
        let (label, status) = match &result {
            Ok(Lookup::Found(_)) => (identifier, "200".to_owned()),
            Ok(Lookup::Unknown { .. }) => ("unknown", "404".to_owned()),
            Ok(Lookup::Refused { status, .. }) => ("unknown", status.to_string()),
            Err(DieServiceError::Status { status, .. }) => ("unknown", status.to_string()),
            Err(DieServiceError::Unreachable(error)) if error.is_timeout() => {
                ("unknown", "timeout".to_owned())
            }
            Err(DieServiceError::Unreachable(_)) => ("unknown", "error".to_owned()),
        };
        self.requests
            .with_label_values(&[label, status.as_str()])
            .inc();
        result
    }

    async fn fetch_spec(&self, identifier: &str) -> Result<Lookup, DieServiceError> {
        let request = self
            .client
            .request_builder()
            .get(&self.dice_url)
            .query(&[("identifier", identifier)])
            .build()?;
        // Stage 3: this CLIENT span, paired with the die-service's SERVER
        // span, is what draws the dice-roller -> die-service edge in Tempo's
        // service map.
        let response = self.client.send(request).await?;
        match response.status().as_u16() {
            200 => Ok(Lookup::Found(response.json().await?)),
            404 => {
                let known = response.json::<Identifiers>().await?.identifiers;
                Ok(Lookup::Unknown { known })
            }
            status @ 400..=499 => {
                let reason = response
                    .json::<Failure>()
                    .await
                    .ok()
                    .map(|failure| failure.error);
                Ok(Lookup::Refused { status, reason })
            }
            status => {
                let reason = response
                    .json::<Failure>()
                    .await
                    .ok()
                    .map(|failure| failure.error);
                Err(DieServiceError::Status { status, reason })
            }
        }
    }
}
