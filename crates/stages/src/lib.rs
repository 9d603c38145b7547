//! The workshop's stages as data: one entry per stage, read by the tools.
//!
//! `traffic-gen` takes a stage's entry service and traffic [`Scenario`] from
//! here, `demo` starts its [`Service`]s and checks their signals against the
//! expectations listed here, and `verify` asks the Docker stack for the same
//! signals. So adding a stage is adding one [`Stage`] to [`STAGES`] (plus,
//! for a new kind of traffic, a [`Scenario`] variant, which the compiler then
//! makes `traffic-gen` implement), and [`newest`] moves on by itself.
//!
//! ```
//! let stage = stages::stage(1).unwrap();
//! assert_eq!(stage.entry_service().port, 8100);
//! assert_eq!(stages::newest().number, stages::STAGES.len() as u8);
//! ```

use std::fmt;

/// The name the traffic generator's spans carry (`service.name`). Its CLIENT
/// spans draw the first edge of every stage's service graph.
pub const TRAFFIC_GEN: &str = "traffic-gen";

/// Every stage that exists, in order. Stage N is `STAGES[N - 1]`.
pub static STAGES: &[Stage] = &[STAGE_1];

/// One stage of the workshop: what runs, what traffic drives it, and which
/// signals a healthy run leaves behind.
#[derive(Debug)]
pub struct Stage {
    pub number: u8,
    pub title: &'static str,
    /// The stage's services, in start order (a service's peers come first).
    pub services: &'static [Service],
    /// The service the traffic generator calls.
    pub entry: &'static str,
    /// Service-graph edges of a healthy run: a CLIENT span in `client` whose
    /// child SERVER span is in `server` (what Tempo pairs, PITFALLS 5).
    pub edges: &'static [Edge],
    /// What the simulated users do.
    pub scenario: Scenario,
}

/// A service of a stage, natively runnable from the workspace's build.
#[derive(Debug)]
pub struct Service {
    /// `service.name` of its spans, `service` of its log lines, its name in
    /// compose and in Prometheus' `job` label.
    pub name: &'static str,
    /// The cargo package that builds it (`cargo build -p <package>`).
    pub package: &'static str,
    /// The binary in `target/debug/`. Unique in the workspace (DESIGN.md).
    pub binary: &'static str,
    /// The stage's port for it (DESIGN.md: stage N uses 8N00-8N03).
    pub port: u16,
    /// Variables through which it finds its peers, and the peer each names
    /// (`DICE_ROLLER_URL` -> `dice-roller`).
    pub peers: &'static [Peer],
    /// Series its `/metrics` must expose once traffic has run.
    pub series: &'static [Series],
    /// Span names it must export once traffic has run.
    pub span_names: &'static [&'static str],
}

/// A peer a service calls, and the variable holding the peer's base URL.
#[derive(Debug)]
pub struct Peer {
    pub variable: &'static str,
    pub service: &'static str,
}

/// A Prometheus series: a sample name (`_bucket` included for histograms)
/// and labels it must carry. Any one matching sample is enough.
#[derive(Debug)]
pub struct Series {
    pub name: &'static str,
    pub labels: &'static [(&'static str, &'static str)],
}

/// A caller -> callee edge of the service graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub client: &'static str,
    pub server: &'static str,
}

/// What one simulated request does. Each stage that changes how users reach
/// the services adds a variant; `traffic-gen` matches on every variant, so a
/// new one does not compile until it is implemented there.
#[derive(Debug, Clone, Copy)]
pub enum Scenario {
    /// Stage 1: `GET /roll?die=<die>` on the entry service, each die drawn
    /// with its weight (the seed's fair/risky with equal chance).
    RollMix {
        dice: &'static [(&'static str, u32)],
    },
}

/// A stage number with no entry in [`STAGES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownStage(pub u8);

impl fmt::Display for UnknownStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stage {} does not exist yet; stages 1 to {} do",
            self.0,
            newest().number
        )
    }
}

impl std::error::Error for UnknownStage {}

/// Stage `number`.
pub fn stage(number: u8) -> Result<&'static Stage, UnknownStage> {
    STAGES
        .iter()
        .find(|stage| stage.number == number)
        .ok_or(UnknownStage(number))
}

/// The newest stage: the default of `make demo` and `traffic-gen`.
pub fn newest() -> &'static Stage {
    // STAGES is a non-empty literal; the fallback is never taken.
    STAGES.last().unwrap_or(&STAGE_1)
}

impl Stage {
    /// The service called `name`, if the stage has it.
    pub fn service(&self, name: &str) -> Option<&'static Service> {
        self.services.iter().find(|service| service.name == name)
    }

    /// The service the traffic generator calls.
    pub fn entry_service(&self) -> &'static Service {
        // Every entry names one of its own services (a unit test checks).
        self.service(self.entry).unwrap_or(&self.services[0])
    }

    /// Everyone that exports spans in a run: the services and the traffic
    /// generator.
    pub fn span_sources(&self) -> Vec<&'static str> {
        std::iter::once(TRAFFIC_GEN)
            .chain(self.services.iter().map(|service| service.name))
            .collect()
    }
}

const STAGE_1: Stage = Stage {
    number: 1,
    title: "one service, all three signals",
    services: &[Service {
        name: "dice-roller",
        package: "stage1-dice-roller",
        binary: "stage1-dice-roller",
        port: 8100,
        peers: &[],
        series: &[
            // RED: rate and errors, then duration, of the rolls served.
            Series {
                name: "http_requests_total",
                labels: &[("handler", "/roll"), ("method", "GET")],
            },
            Series {
                name: "http_request_duration_seconds_bucket",
                labels: &[("handler", "/roll")],
            },
            // The business metrics, for both dice of the mix.
            Series {
                name: "dice_rolls_total",
                labels: &[("die_type", "fair"), ("result", "success")],
            },
            Series {
                name: "dice_rolls_total",
                labels: &[("die_type", "risky")],
            },
            Series {
                name: "dice_roll_value_bucket",
                labels: &[("die_type", "fair")],
            },
            Series {
                name: "dice_roll_value_bucket",
                labels: &[("die_type", "risky")],
            },
        ],
        span_names: &["GET /roll", "roll_die"],
    }],
    entry: "dice-roller",
    edges: &[Edge {
        client: TRAFFIC_GEN,
        server: "dice-roller",
    }],
    scenario: Scenario::RollMix {
        dice: &[("fair", 1), ("risky", 1)],
    },
};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn stages_are_numbered_one_to_n() {
        for (index, stage) in STAGES.iter().enumerate() {
            assert_eq!(usize::from(stage.number), index + 1, "{}", stage.title);
        }
    }

    #[test]
    fn every_reference_names_a_service_of_the_same_stage() {
        for stage in STAGES {
            assert!(
                stage.service(stage.entry).is_some(),
                "stage {}",
                stage.number
            );
            let sources = stage.span_sources();
            for edge in stage.edges {
                assert!(sources.contains(&edge.client), "{edge:?}");
                assert!(sources.contains(&edge.server), "{edge:?}");
            }
            for service in stage.services {
                for peer in service.peers {
                    assert!(stage.service(peer.service).is_some(), "{peer:?}");
                }
            }
        }
    }

    #[test]
    fn ports_follow_the_design_table_and_binaries_are_unique() {
        let mut binaries = HashSet::new();
        for stage in STAGES {
            let base = 8000 + 100 * u16::from(stage.number);
            for service in stage.services {
                assert!(
                    (base..base + 4).contains(&service.port),
                    "{} of stage {} on {}",
                    service.name,
                    stage.number,
                    service.port
                );
                assert!(binaries.insert(service.binary), "{}", service.binary);
                assert!(
                    service
                        .binary
                        .starts_with(&format!("stage{}-", stage.number))
                );
            }
        }
    }

    #[test]
    fn an_unknown_stage_names_the_ones_that_exist() {
        let error = stage(42).unwrap_err();
        assert!(error.to_string().contains("stages 1 to"), "{error}");
    }
}
