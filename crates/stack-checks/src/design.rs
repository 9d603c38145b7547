//! The design's services and ports (docs/design.md#services-and-ports), as data.
//!
//! Stage N runs its services on ports 8N00 (dice-roller), 8N01 (frontend),
//! 8N02 (die-service) and 8N03 (usage-receiver, stage 6), in containers named
//! `<service>-stageN`; stages 5 and 6 add PostgreSQL and postgres_exporter on
//! host ports of their own. The checks derive every expected scrape target,
//! container name and port mapping from here, so a stage whose compose file
//! does not exist yet is still held to the plan.

use std::ops::RangeInclusive;

pub const STAGES: RangeInclusive<u8> = 1..=6;

/// The network the stack creates and every stage joins.
pub const NETWORK: &str = "monitoring";

/// The container label that marks a stage's containers (Alloy ships their
/// logs and turns the value into Loki's `stage` label).
pub const STAGE_LABEL: &str = "workshop.stage";

/// A service of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageService {
    /// The compose service name, which is also the Prometheus job.
    pub name: &'static str,
    /// The port inside the container.
    pub port: u16,
    /// The port published on the host.
    pub host_port: u16,
    /// Built from this workspace (`stageN-<name>`), so it reads the `PORT`
    /// and `OTEL_*` variables and exports spans.
    pub ours: bool,
    /// Serves Prometheus metrics on `port` (the job `name` scrapes it).
    pub scraped: bool,
}

/// The services stage `stage` runs, per docs/design.md#stage-contracts.
pub fn stage_services(stage: u8) -> Vec<StageService> {
    let n = u16::from(stage);
    let ours = |name, offset| StageService {
        name,
        port: 8000 + 100 * n + offset,
        host_port: 8000 + 100 * n + offset,
        ours: true,
        scraped: true,
    };
    let mut services = vec![ours("dice-roller", 0)];
    if stage >= 2 {
        services.push(ours("frontend", 1));
    }
    if stage >= 3 {
        services.push(ours("die-service", 2));
    }
    if stage >= 5 {
        // Host ports 5N32 and 9N87 keep stages 5 and 6 (and a PostgreSQL the
        // host may run on 5432) apart; inside each container the standard
        // ports stay.
        services.push(StageService {
            name: "postgres",
            port: 5432,
            host_port: 5032 + 100 * n,
            ours: false,
            scraped: false,
        });
        services.push(StageService {
            name: "postgres-exporter",
            port: 9187,
            host_port: 9087 + 100 * n,
            ours: false,
            scraped: true,
        });
    }
    if stage >= 6 {
        services.push(ours("usage-receiver", 3));
    }
    services
}

/// The peers a stage's service calls, as `(variable, peer service)`: the
/// variable holds the peer's base URL (docs/design.md#configuration).
pub fn peers(service: &str, stage: u8) -> Vec<(&'static str, &'static str)> {
    let mut peers = Vec::new();
    if service == "frontend" && stage >= 2 {
        peers.push(("DICE_ROLLER_URL", "dice-roller"));
    }
    // Stage 3: the frontend lists the dice, the dice-roller looks each up.
    if matches!(service, "frontend" | "dice-roller") && stage >= 3 {
        peers.push(("DIE_SERVICE_URL", "die-service"));
    }
    peers
}

/// Whether the service serves a page whose links a browser opens: its
/// `GRAFANA_URL` must then be one the host can reach.
pub fn links_to_grafana(service: &str, stage: u8) -> bool {
    service == "frontend" && stage >= 2
}

/// Whether the service watches its die specifications file for changes
/// (stages 3 and 4; from stage 5 the file only seeds the database).
pub fn watches_specs_file(service: &str, stage: u8) -> bool {
    service == "die-service" && (3..=4).contains(&stage)
}

/// `dice-roller-stage1`: unique on the shared network, unlike the service
/// name, which every stage uses.
pub fn container_name(service: &str, stage: u8) -> String {
    format!("{service}-stage{stage}")
}

/// `dice-roller-stage1:8100`: where Prometheus scrapes a stage's service.
pub fn scrape_address(service: &StageService, stage: u8) -> String {
    format!("{}:{}", container_name(service.name, stage), service.port)
}

/// A service of the observability stack and the host ports it publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackService {
    pub name: &'static str,
    pub published: &'static [u16],
}

/// The stack's services (docs/design.md#services-and-ports: Grafana 3000, Prometheus 9090, Loki
/// 3100, Tempo 3200, OTel Collector 4317/4318, Alloy 12345).
pub const STACK_SERVICES: [StackService; 6] = [
    StackService {
        name: "grafana",
        published: &[3000],
    },
    StackService {
        name: "prometheus",
        published: &[9090],
    },
    StackService {
        name: "loki",
        published: &[3100],
    },
    StackService {
        name: "tempo",
        published: &[3200],
    },
    StackService {
        name: "otel-collector",
        published: &[4317, 4318],
    },
    StackService {
        name: "alloy",
        published: &[12345],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_8n0x_pattern() {
        let stage3: Vec<_> = stage_services(3)
            .iter()
            .map(|service| (service.name, service.port))
            .collect();
        assert_eq!(
            stage3,
            [
                ("dice-roller", 8300),
                ("frontend", 8301),
                ("die-service", 8302)
            ]
        );
        let stage6 = stage_services(6);
        let receiver = stage6.iter().find(|s| s.name == "usage-receiver").unwrap();
        assert_eq!(receiver.port, 8603);
        let exporter = stage6
            .iter()
            .find(|s| s.name == "postgres-exporter")
            .unwrap();
        assert_eq!((exporter.port, exporter.host_port), (9187, 9687));
        let postgres = stage_services(5)
            .into_iter()
            .find(|s| s.name == "postgres")
            .unwrap();
        assert_eq!((postgres.port, postgres.host_port), (5432, 5532));
        assert_eq!(stage_services(1).len(), 1);
    }

    #[test]
    fn peers_follow_the_stages() {
        assert!(peers("frontend", 1).is_empty());
        assert_eq!(peers("frontend", 2), [("DICE_ROLLER_URL", "dice-roller")]);
        assert_eq!(peers("frontend", 3).len(), 2);
        assert!(peers("dice-roller", 2).is_empty());
        assert_eq!(
            peers("dice-roller", 4),
            [("DIE_SERVICE_URL", "die-service")]
        );
        assert!(peers("die-service", 3).is_empty());
    }

    #[test]
    fn host_ports_never_collide_across_stages() {
        let mut ports: Vec<u16> = STAGES
            .flat_map(|stage| stage_services(stage).into_iter().map(|s| s.host_port))
            .chain(
                STACK_SERVICES
                    .iter()
                    .flat_map(|s| s.published.iter().copied()),
            )
            .collect();
        let count = ports.len();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), count);
    }
}
