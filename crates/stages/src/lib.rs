//! The workshop's stages as data: one entry per stage, read by the tools.
//!
//! `traffic-gen` takes a stage's entry service and traffic [`Scenario`] from
//! here, `demo` starts its [`Service`]s and checks their signals against the
//! expectations listed here, and `verify` asks the Docker stack for the same
//! signals. So adding a stage is adding one [`Stage`] to [`STAGES`] (plus,
//! for a new kind of traffic, a [`Scenario`] variant, which the compiler then
//! makes `traffic-gen` implement), and [`newest`] moves on by itself.
//!
//! A service's environment beyond its port, telemetry and peers is data
//! too: [`Service::env`] lists [`Setting`]s, each a fixed value or a
//! resource the runner must provide (a copy of a repository file, a database
//! in a throwaway PostgreSQL cluster). A new kind is a [`SettingValue`]
//! variant, which the demo runner must then implement. So is a new
//! [`NativeCheck`]: what only a run that owns the processes can check (stop
//! the database, read every byte the services print).
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
pub static STAGES: &[Stage] = &[STAGE_1, STAGE_2, STAGE_3, STAGE_4, STAGE_5, STAGE_6];

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
    /// child SERVER span is in `server` (what Tempo pairs, docs/pitfalls.md#span-kinds).
    pub edges: &'static [Edge],
    /// What the simulated users do.
    pub scenario: Scenario,
    /// What a healthy run shows beyond the checks every stage gets, judged
    /// on spans (by `make demo` and, through Tempo, by `make verify`).
    pub checks: &'static [StageCheck],
    /// What `make demo` also does and checks, because it owns the services'
    /// processes and their database. `make verify` checks what the stack
    /// can show of them (stage 6's routing: the usage receiver's own traces
    /// and counters) and leaves the rest to the native run (the Docker path
    /// has `make stage5 outage` for the drill instead).
    pub native_checks: &'static [NativeCheck],
}

/// A service of a stage, natively runnable from the workspace's build.
#[derive(Debug)]
pub struct Service {
    /// `service.name` of its spans, `service` of its log lines, its name in
    /// compose and in Prometheus' `job` label.
    pub name: &'static str,
    /// The cargo package that builds it (`cargo build -p <package>`).
    pub package: &'static str,
    /// The binary in `target/debug/`. Unique in the workspace (docs/design.md#layout).
    pub binary: &'static str,
    /// The stage's port for it (docs/design.md#services-and-ports: stage N uses 8N00-8N03).
    pub port: u16,
    /// Variables through which it finds its peers, and the peer each names
    /// (`DICE_ROLLER_URL` -> `dice-roller`).
    pub peers: &'static [Peer],
    /// Series its `/metrics` must expose once traffic has run.
    pub series: &'static [Series],
    /// Span names it must export once traffic has run.
    pub span_names: &'static [&'static str],
    /// Further variables it needs to run natively (the extension point for
    /// what is neither port, telemetry nor peer; see [`Setting`]).
    pub env: &'static [Setting],
}

/// One variable of a service's environment and where its value comes from.
#[derive(Debug)]
pub struct Setting {
    pub variable: &'static str,
    pub value: SettingValue,
}

/// Where a [`Setting`]'s value comes from. Whoever starts services (the demo
/// runner) implements every variant; a new one does not compile until it
/// does.
#[derive(Debug, Clone, Copy)]
pub enum SettingValue {
    /// This text.
    Text(&'static str),
    /// The path of a fresh copy of this file (relative to the repository
    /// root), made in a directory of the run's own: the service may watch
    /// it, the run may edit it, and the repository's copy stays as it is.
    CopyOfFile(&'static str),
    /// The URL of this database, created empty in a PostgreSQL cluster of
    /// the run's own (one cluster per run, however many databases), which
    /// the run may stop and start and removes at the end.
    Database(&'static str),
    /// A secret made fresh for the run (a random token): the same value for
    /// every service that names it and for the run's own clients (stage 6:
    /// the usage receiver's push token, which the run's forwarder sends),
    /// and searched for in everything the run captured, like a password.
    RunSecret,
}

/// A stage-specific item of the checklist, checked on the spans of a run.
#[derive(Debug, Clone, Copy)]
pub enum StageCheck {
    /// Stage 4: in `service`, the `child` spans under a `parent` span run
    /// concurrently: at least two of them overlap in time.
    ConcurrentChildren {
        service: &'static str,
        parent: &'static str,
        child: &'static str,
    },
    /// Stage 5: in `service`, a CLIENT span named `query` is a child of the
    /// `request` SERVER span: the database's share of the request, drawn
    /// in the waterfall.
    QueryUnderRequest {
        service: &'static str,
        request: &'static str,
        query: &'static str,
    },
}

/// A stage-specific item only a native run can check.
#[derive(Debug, Clone, Copy)]
pub enum NativeCheck {
    /// Stage 5: while `GET path` is sent to `service` at a steady rate, the
    /// run stops the PostgreSQL cluster, then starts it again. Requests must
    /// fail with a clear 503 within two seconds while it is down, and
    /// succeed again afterwards with no service restarted.
    DatabaseOutage {
        service: &'static str,
        path: &'static str,
    },
    /// Stage 6: the usage lines `emitter` printed, forwarded as Alloy
    /// forwards them to `receiver` (with the run's secret as the bearer
    /// token), become rows of `table` in `database`, one row per line.
    UsageRouted {
        emitter: &'static str,
        receiver: &'static str,
        database: &'static str,
        table: &'static str,
    },
    /// Stage 6: no password the traffic typed, session cookie it was given
    /// or password hash appears in any log line, span attribute or
    /// `/metrics` output of any service.
    NoSecrets,
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
    /// with its weight (the original workshop's fair/risky with equal chance).
    RollMix {
        dice: &'static [(&'static str, u32)],
    },
    /// Stage 2 and later: a person at the frontend's page, as a browser
    /// drives it: `GET /`, then the form posted to `POST /roll`, again and
    /// again from the page each answer shows (and `GET /` once more after a
    /// page without a form).
    Page {
        dice: PageDice,
        /// Stage 4: the "Number of rolls" and "Use async rolling" fields.
        batches: Option<Batches>,
        /// Stage 6: rolling needs a signed-in user.
        sign_in: Option<SignIn>,
    },
}

/// Stage 6: how simulated people sign in. Each session signs in first and
/// out at the end, in a browser of its own (its own cookie).
#[derive(Debug, Clone, Copy)]
pub struct SignIn {
    /// The accounts, as the frontend's `DEMO_USERS` has them.
    pub accounts: &'static [(&'static str, &'static str)],
    /// Share of sessions that first mistype: an unknown user name and a
    /// wrong password (never a real name: five failures lock a name out for
    /// a while, and the traffic must not lock its own accounts).
    pub mistype_probability: f64,
}

/// Which die a simulated person picks on the page.
#[derive(Debug, Clone, Copy)]
pub enum PageDice {
    /// From these, by weight (stage 2: the page's dice are fixed in code).
    Mix(&'static [(&'static str, u32)]),
    /// Any of the dice the page offers, with equal chance (stage 3 and
    /// later: the die-service's list, which may change while traffic runs).
    Offered,
}

/// Stage 4's form fields, as the traffic fills them in.
#[derive(Debug, Clone, Copy)]
pub struct Batches {
    /// Share of rolls with "Use async rolling" ticked (`ASYNC_PROBABILITY`).
    pub async_probability: f64,
    /// "Number of rolls" is drawn from 1..=this (`MAX_ASYNC_ROLLS`).
    pub max_rolls: u32,
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

    /// The stage's name in its telemetry: the value of the
    /// `deployment.environment.name` resource attribute its services carry
    /// (`stage3`; the compose file sets it in `OTEL_RESOURCE_ATTRIBUTES`).
    /// Tempo copies it into the `deployment_environment_name` label of the
    /// service-graph and span metrics it generates, so a query of those
    /// metrics or a TraceQL search finds one stage by it. Everywhere else,
    /// from the `stage` label of the scraped metrics and of the log streams
    /// to the dashboards' Stage drop-down and `make verify STAGE=3`, the
    /// stage is its [`number`](Stage::number).
    ///
    /// ```
    /// assert_eq!(stages::stage(3).unwrap().environment(), "stage3");
    /// ```
    pub fn environment(&self) -> String {
        format!("stage{}", self.number)
    }

    /// The services one request of the stage's traffic passes through, in
    /// start order: every service on one of its [`edges`](Stage::edges).
    /// A trace of the traffic holds spans from each. Stage 6's usage
    /// receiver is not one of them: Alloy pushes it the usage lines, in
    /// requests of its own, so its traces are separate by design.
    ///
    /// ```
    /// let names = |n| stages::stage(n).unwrap().request_path().iter().map(|s| s.name).collect::<Vec<_>>();
    /// assert_eq!(names(1), ["dice-roller"]);
    /// assert_eq!(names(6), ["die-service", "dice-roller", "frontend"]);
    /// ```
    pub fn request_path(&self) -> Vec<&'static Service> {
        self.services
            .iter()
            .filter(|service| {
                self.edges
                    .iter()
                    .any(|edge| edge.client == service.name || edge.server == service.name)
            })
            .collect()
    }

    /// The databases the services connect to (stages 5 and 6), each once,
    /// sorted.
    pub fn databases(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self
            .services
            .iter()
            .flat_map(|service| service.env)
            .filter_map(|setting| match setting.value {
                SettingValue::Database(name) => Some(name),
                _ => None,
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// The dice-roller's series in stages 1 and 2: RED metrics of `/roll`, and
/// the rolls of both dice of the mix.
const DICE_ROLLER_SERIES_1: &[Series] = &[
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
];

const STAGE_1: Stage = Stage {
    number: 1,
    title: "one service, all three signals",
    services: &[Service {
        name: "dice-roller",
        package: "stage1-dice-roller",
        binary: "stage1-dice-roller",
        port: 8100,
        peers: &[],
        series: DICE_ROLLER_SERIES_1,
        span_names: &["GET /roll", "roll_die"],
        env: &[],
    }],
    entry: "dice-roller",
    edges: &[Edge {
        client: TRAFFIC_GEN,
        server: "dice-roller",
    }],
    scenario: Scenario::RollMix {
        dice: &[("fair", 1), ("risky", 1)],
    },
    checks: &[],
    native_checks: &[],
};

/// The frontend's series from stage 2 on: its RED metrics for the page and
/// the form, its business metrics, and its calls to the dice-roller.
const FRONTEND_SERIES: &[Series] = &[
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/"), ("method", "GET")],
    },
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/roll"), ("method", "POST")],
    },
    Series {
        name: "http_request_duration_seconds_bucket",
        labels: &[("handler", "/roll")],
    },
    Series {
        name: "frontend_button_clicks_total",
        labels: &[("die_type", "fair")],
    },
    Series {
        name: "frontend_requests_total",
        labels: &[("die_type", "fair"), ("status_code", "200")],
    },
    Series {
        name: "frontend_request_duration_seconds_bucket",
        labels: &[("die_type", "fair")],
    },
    // Stage 2: the telemetry layer's client metrics of the call itself.
    Series {
        name: "http_client_requests_total",
        labels: &[("peer", "dice-roller")],
    },
];

/// The dice-roller's series from stage 3 on: stage 1's, plus its calls to
/// the die-service.
const DICE_ROLLER_SERIES_3: &[Series] = &[
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/roll"), ("method", "GET")],
    },
    Series {
        name: "http_request_duration_seconds_bucket",
        labels: &[("handler", "/roll")],
    },
    Series {
        name: "dice_rolls_total",
        labels: &[("die_type", "fair"), ("result", "success")],
    },
    Series {
        name: "dice_roll_value_bucket",
        labels: &[("die_type", "fair")],
    },
    Series {
        name: "die_service_requests_total",
        labels: &[("identifier", "fair"), ("status", "200")],
    },
    Series {
        name: "die_service_request_duration_seconds_bucket",
        labels: &[],
    },
    Series {
        name: "http_client_requests_total",
        labels: &[("peer", "die-service")],
    },
];

const DIE_SERVICE_SERIES: &[Series] = &[
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/dice"), ("method", "GET")],
    },
    Series {
        name: "die_specifications_requested_total",
        labels: &[("identifier", "fair")],
    },
    Series {
        name: "die_list_requests_total",
        labels: &[],
    },
    Series {
        name: "die_specifications_loaded",
        labels: &[],
    },
];

/// The die-service reads its dice from a copy of the shipped file
/// (`DIE_SPECS_PATH`): the service polls it every second, so a run may change
/// it under the service without touching the repository's.
const fn die_service(stage: u8, package: &'static str, env: &'static [Setting]) -> Service {
    Service {
        name: "die-service",
        package,
        binary: package,
        port: 8002 + 100 * stage as u16,
        peers: &[],
        series: DIE_SERVICE_SERIES,
        span_names: &["GET /dice"],
        env,
    }
}

/// Who calls whom from stage 3 on: the frontend lists the dice and asks for
/// rolls, the dice-roller looks every die up.
const THREE_SERVICE_EDGES: &[Edge] = &[
    Edge {
        client: TRAFFIC_GEN,
        server: "frontend",
    },
    Edge {
        client: "frontend",
        server: "dice-roller",
    },
    Edge {
        client: "frontend",
        server: "die-service",
    },
    Edge {
        client: "dice-roller",
        server: "die-service",
    },
];

const FRONTEND_PEERS_3: &[Peer] = &[
    Peer {
        variable: "DICE_ROLLER_URL",
        service: "dice-roller",
    },
    Peer {
        variable: "DIE_SERVICE_URL",
        service: "die-service",
    },
];

const DICE_ROLLER_PEERS_3: &[Peer] = &[Peer {
    variable: "DIE_SERVICE_URL",
    service: "die-service",
}];

const STAGE_2: Stage = Stage {
    number: 2,
    title: "a frontend, one trace across two services",
    services: &[
        Service {
            name: "dice-roller",
            package: "stage2-dice-roller",
            binary: "stage2-dice-roller",
            port: 8200,
            peers: &[],
            series: DICE_ROLLER_SERIES_1,
            span_names: &["GET /roll", "roll_die"],
            env: &[],
        },
        Service {
            name: "frontend",
            package: "stage2-frontend",
            binary: "stage2-frontend",
            port: 8201,
            peers: &[Peer {
                variable: "DICE_ROLLER_URL",
                service: "dice-roller",
            }],
            series: FRONTEND_SERIES,
            span_names: &["GET /", "POST /roll", "GET"],
            env: &[],
        },
    ],
    entry: "frontend",
    edges: &[
        Edge {
            client: TRAFFIC_GEN,
            server: "frontend",
        },
        Edge {
            client: "frontend",
            server: "dice-roller",
        },
    ],
    scenario: Scenario::Page {
        dice: PageDice::Mix(&[("fair", 1), ("risky", 1)]),
        batches: None,
        sign_in: None,
    },
    checks: &[],
    native_checks: &[],
};

const STAGE_3: Stage = Stage {
    number: 3,
    title: "a die-service, three hops and live configuration",
    services: &[
        die_service(
            3,
            "stage3-die-service",
            &[Setting {
                variable: "DIE_SPECS_PATH",
                value: SettingValue::CopyOfFile("stage3/die-service/dice.json"),
            }],
        ),
        Service {
            name: "dice-roller",
            package: "stage3-dice-roller",
            binary: "stage3-dice-roller",
            port: 8300,
            peers: DICE_ROLLER_PEERS_3,
            series: DICE_ROLLER_SERIES_3,
            span_names: &["GET /roll", "roll_die", "GET"],
            env: &[],
        },
        Service {
            name: "frontend",
            package: "stage3-frontend",
            binary: "stage3-frontend",
            port: 8301,
            peers: FRONTEND_PEERS_3,
            series: FRONTEND_SERIES,
            span_names: &["GET /", "POST /roll", "GET"],
            env: &[],
        },
    ],
    entry: "frontend",
    edges: THREE_SERVICE_EDGES,
    scenario: Scenario::Page {
        dice: PageDice::Offered,
        batches: None,
        sign_in: None,
    },
    checks: &[],
    native_checks: &[],
};

/// The dice-roller's series from stage 4 on: batches besides single rolls.
/// No series names a die: with half the rolls in batches, a short run may
/// roll a given die only in batches, or never at all.
const DICE_ROLLER_SERIES_4: &[Series] = &[
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/roll-async"), ("method", "GET")],
    },
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/roll"), ("method", "GET")],
    },
    Series {
        name: "async_rolls_total",
        labels: &[("result", "success")],
    },
    Series {
        name: "async_roll_batch_size_bucket",
        labels: &[],
    },
    Series {
        name: "async_roll_duration_seconds_bucket",
        labels: &[],
    },
    Series {
        name: "async_rolls_in_progress",
        labels: &[],
    },
    Series {
        name: "dice_rolls_total",
        labels: &[("result", "success")],
    },
    Series {
        name: "die_service_requests_total",
        labels: &[("status", "200")],
    },
    Series {
        name: "http_client_requests_total",
        labels: &[("peer", "die-service")],
    },
];

/// The frontend's series from stage 4 on: the batch form's.
const FRONTEND_SERIES_4: &[Series] = &[
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/roll"), ("method", "POST")],
    },
    Series {
        name: "frontend_button_clicks_total",
        labels: &[],
    },
    Series {
        name: "frontend_requests_total",
        labels: &[("status_code", "200")],
    },
    Series {
        name: "async_roll_requests_total",
        labels: &[],
    },
    Series {
        name: "http_client_requests_total",
        labels: &[("peer", "dice-roller")],
    },
    Series {
        name: "http_client_requests_total",
        labels: &[("peer", "die-service")],
    },
];

/// The dice-roller from stage 4 on: single rolls and batches, asking the
/// die-service.
const fn batch_dice_roller(stage: u8, package: &'static str) -> Service {
    Service {
        name: "dice-roller",
        package,
        binary: package,
        port: 8000 + 100 * stage as u16,
        peers: DICE_ROLLER_PEERS_3,
        series: DICE_ROLLER_SERIES_4,
        span_names: &["GET /roll", "GET /roll-async", "roll_die", "GET"],
        env: &[],
    }
}

/// The frontend of stages 4 and 5: the page with the batch form.
const fn batch_frontend(stage: u8, package: &'static str) -> Service {
    Service {
        name: "frontend",
        package,
        binary: package,
        port: 8001 + 100 * stage as u16,
        peers: FRONTEND_PEERS_3,
        series: FRONTEND_SERIES_4,
        span_names: &["GET /", "POST /roll", "GET"],
        env: &[],
    }
}

const STAGE_4: Stage = Stage {
    number: 4,
    title: "concurrent rolls, overlapping spans",
    services: &[
        die_service(
            4,
            "stage4-die-service",
            &[Setting {
                variable: "DIE_SPECS_PATH",
                value: SettingValue::CopyOfFile("stage4/die-service/dice.json"),
            }],
        ),
        batch_dice_roller(4, "stage4-dice-roller"),
        batch_frontend(4, "stage4-frontend"),
    ],
    entry: "frontend",
    edges: THREE_SERVICE_EDGES,
    scenario: Scenario::Page {
        dice: PageDice::Offered,
        batches: Some(Batches {
            async_probability: 0.5,
            max_rolls: 10,
        }),
        sign_in: None,
    },
    checks: &[StageCheck::ConcurrentChildren {
        service: "dice-roller",
        parent: "GET /roll-async",
        child: "roll_die",
    }],
    native_checks: &[],
};

/// The die-service's series from stage 5 on: stage 3's, plus its queries
/// and its connection pool (read from the pool when scraped).
const DIE_SERVICE_SERIES_5: &[Series] = &[
    Series {
        name: "http_requests_total",
        labels: &[("handler", "/dice"), ("method", "GET")],
    },
    Series {
        name: "die_specifications_requested_total",
        labels: &[],
    },
    Series {
        name: "die_list_requests_total",
        labels: &[],
    },
    Series {
        name: "database_queries_total",
        labels: &[("query_type", "get"), ("result", "success")],
    },
    Series {
        name: "database_queries_total",
        labels: &[("query_type", "list"), ("result", "success")],
    },
    Series {
        name: "database_query_duration_seconds_bucket",
        labels: &[("query_type", "get")],
    },
    Series {
        name: "database_connection_pool_size",
        labels: &[],
    },
    Series {
        name: "database_connection_pool_available",
        labels: &[],
    },
];

/// From stage 5 the die-service reads the dice from PostgreSQL: `env` gives
/// it `DATABASE_URL` and the file the table is seeded from.
const fn database_die_service(
    stage: u8,
    package: &'static str,
    env: &'static [Setting],
) -> Service {
    Service {
        name: "die-service",
        package,
        binary: package,
        port: 8002 + 100 * stage as u16,
        peers: &[],
        series: DIE_SERVICE_SERIES_5,
        span_names: &["GET /dice", "SELECT die_specifications"],
        env,
    }
}

/// Stage 5's own check: the query span sits under the die-service's request.
const QUERY_UNDER_REQUEST: StageCheck = StageCheck::QueryUnderRequest {
    service: "die-service",
    request: "GET /dice",
    query: "SELECT die_specifications",
};

const STAGE_5: Stage = Stage {
    number: 5,
    title: "die specifications in PostgreSQL, outage and recovery",
    services: &[
        database_die_service(
            5,
            "stage5-die-service",
            &[
                Setting {
                    variable: "DATABASE_URL",
                    value: SettingValue::Database("dicedb"),
                },
                Setting {
                    variable: "DIE_SPECS_PATH",
                    value: SettingValue::CopyOfFile("stage5/die-service/dice.json"),
                },
            ],
        ),
        batch_dice_roller(5, "stage5-dice-roller"),
        batch_frontend(5, "stage5-frontend"),
    ],
    entry: "frontend",
    edges: THREE_SERVICE_EDGES,
    scenario: Scenario::Page {
        dice: PageDice::Offered,
        batches: Some(Batches {
            async_probability: 0.5,
            max_rolls: 10,
        }),
        sign_in: None,
    },
    checks: &[QUERY_UNDER_REQUEST],
    native_checks: &[NativeCheck::DatabaseOutage {
        service: "dice-roller",
        path: "/roll?die=fair",
    }],
};

/// The accounts `DEMO_USERS` holds by default (stage 6's frontend and its
/// compose file), which the traffic signs in with.
pub const DEMO_ACCOUNTS: &[(&str, &str)] = &[
    ("alice", "wonderland"),
    ("bob", "builder"),
    ("carol", "dice-are-nice"),
];

const STAGE_6: Stage = Stage {
    number: 6,
    title: "sign-in and usage events routed to their own store",
    services: &[
        database_die_service(
            6,
            "stage6-die-service",
            &[
                Setting {
                    variable: "DATABASE_URL",
                    value: SettingValue::Database("dicedb"),
                },
                Setting {
                    variable: "DIE_SPECS_PATH",
                    value: SettingValue::CopyOfFile("stage6/die-service/dice.json"),
                },
            ],
        ),
        batch_dice_roller(6, "stage6-dice-roller"),
        Service {
            name: "frontend",
            package: "stage6-frontend",
            binary: "stage6-frontend",
            port: 8601,
            peers: FRONTEND_PEERS_3,
            series: &[
                Series {
                    name: "http_requests_total",
                    labels: &[("handler", "/roll"), ("method", "POST")],
                },
                Series {
                    name: "http_requests_total",
                    labels: &[("handler", "/sign-in"), ("method", "POST")],
                },
                Series {
                    name: "sign_ins_total",
                    labels: &[("result", "success")],
                },
                Series {
                    name: "frontend_requests_total",
                    labels: &[("status_code", "200")],
                },
                Series {
                    name: "http_client_requests_total",
                    labels: &[("peer", "dice-roller")],
                },
            ],
            span_names: &["GET /", "POST /roll", "POST /sign-in", "POST /sign-out"],
            env: &[],
        },
        Service {
            name: "usage-receiver",
            package: "stage6-usage-receiver",
            binary: "stage6-usage-receiver",
            port: 8603,
            peers: &[],
            series: &[
                Series {
                    name: "http_requests_total",
                    labels: &[("handler", "/loki/api/v1/push"), ("method", "POST")],
                },
                Series {
                    name: "usage_events_received_total",
                    labels: &[],
                },
                Series {
                    name: "usage_events_stored_total",
                    labels: &[],
                },
            ],
            span_names: &["POST /loki/api/v1/push", "INSERT usage_stats"],
            env: &[
                Setting {
                    variable: "DATABASE_URL",
                    value: SettingValue::Database("usagedb"),
                },
                Setting {
                    variable: "USAGE_PUSH_TOKEN",
                    value: SettingValue::RunSecret,
                },
            ],
        },
    ],
    entry: "frontend",
    edges: THREE_SERVICE_EDGES,
    scenario: Scenario::Page {
        dice: PageDice::Offered,
        batches: Some(Batches {
            async_probability: 0.5,
            max_rolls: 10,
        }),
        sign_in: Some(SignIn {
            accounts: DEMO_ACCOUNTS,
            mistype_probability: 0.1,
        }),
    },
    checks: &[QUERY_UNDER_REQUEST],
    native_checks: &[
        NativeCheck::UsageRouted {
            emitter: "frontend",
            receiver: "usage-receiver",
            database: "usagedb",
            table: "usage_stats",
        },
        NativeCheck::NoSecrets,
    ],
};

/// The repository this crate was built in, which [`SettingValue::CopyOfFile`]
/// paths are relative to.
pub fn repository_root() -> std::path::PathBuf {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .canonicalize()
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../..").into())
}

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
    fn peers_start_first_and_copied_files_exist() {
        for stage in STAGES {
            for (index, service) in stage.services.iter().enumerate() {
                for peer in service.peers {
                    let peer_index = stage
                        .services
                        .iter()
                        .position(|s| s.name == peer.service)
                        .unwrap();
                    assert!(
                        peer_index < index,
                        "{} before {}",
                        peer.service,
                        service.name
                    );
                }
                for setting in service.env {
                    if let SettingValue::CopyOfFile(path) = setting.value {
                        assert!(repository_root().join(path).is_file(), "{path}");
                    }
                }
            }
        }
    }

    /// The demo's databases are the ones each stage's compose file creates,
    /// and its native checks name services and databases the stage has.
    #[test]
    fn native_checks_and_databases_match_the_stage() {
        for stage in STAGES {
            let compose = std::fs::read_to_string(
                repository_root().join(format!("stage{}/docker-compose.yml", stage.number)),
            )
            .unwrap();
            for database in stage.databases() {
                assert!(
                    compose.contains(&format!(":5432/{database}")),
                    "stage {}'s compose has no service using {database}",
                    stage.number
                );
            }
            let has = |name: &str| stage.services.iter().any(|s| s.name == name);
            for check in stage.native_checks {
                match *check {
                    NativeCheck::DatabaseOutage { service, path } => {
                        assert!(has(service) && path.starts_with('/'), "{check:?}");
                        assert!(!stage.databases().is_empty(), "{check:?}");
                    }
                    NativeCheck::UsageRouted {
                        emitter,
                        receiver,
                        database,
                        ..
                    } => {
                        assert!(has(emitter) && has(receiver), "{check:?}");
                        assert!(stage.databases().contains(&database), "{check:?}");
                    }
                    NativeCheck::NoSecrets => assert!(
                        matches!(
                            stage.scenario,
                            Scenario::Page {
                                sign_in: Some(_),
                                ..
                            }
                        ),
                        "a secret scan needs traffic that uses secrets"
                    ),
                }
            }
        }
        assert_eq!(stage(6).unwrap().databases(), ["dicedb", "usagedb"]);
    }

    #[test]
    fn the_traffic_signs_in_with_the_accounts_stage_6_compose_creates() {
        let accounts: Vec<String> = DEMO_ACCOUNTS
            .iter()
            .map(|(name, password)| format!("{name}:{password}"))
            .collect();
        let compose =
            std::fs::read_to_string(repository_root().join("stage6/docker-compose.yml")).unwrap();
        let expected = format!("DEMO_USERS: {}", accounts.join(","));
        assert!(compose.contains(&expected), "{expected}");
    }

    #[test]
    fn an_unknown_stage_names_the_ones_that_exist() {
        let error = stage(42).unwrap_err();
        assert!(error.to_string().contains("stages 1 to"), "{error}");
    }
}
