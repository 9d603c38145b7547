use std::time::Duration;

use stage6_frontend::{Accounts, AppState, Config, DemoUsers, FrontendMetrics, app};
use testkit::{OtlpReceiver, PostgresCluster, TestService};

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// `fair` always succeeds, `doomed` always fails.
pub const TEST_DICE: &str = r#"{
  "fair": {"faces": [1, 2, 3, 4, 5, 6], "error_rate": 0.0},
  "doomed": {"faces": [1], "error_rate": 1.0}
}"#;

/// The three services of stage 6 and the die-service's database. Fields drop
/// in order: the services flush their spans at shutdown, so the receiver goes
/// after them, and the database last.
pub struct Stage6 {
    pub frontend: TestService,
    pub dice_roller: TestService,
    pub die_service: TestService,
    pub receiver: OtlpReceiver,
    pub http: reqwest::Client,
    pub database: PostgresCluster,
    _seed: tempfile::TempDir,
}

/// Starts a database and a die-service seeding it with `TEST_DICE`, and
/// waits until the die-service is ready.
pub async fn spawn_die_service(
    receiver: &OtlpReceiver,
) -> (TestService, PostgresCluster, tempfile::TempDir) {
    use stage6_die_service as die_service;
    let database = PostgresCluster::start("dicedb");
    let seed = tempfile::tempdir().unwrap();
    let path = seed.path().join("dice.json");
    std::fs::write(&path, TEST_DICE).unwrap();
    let config = die_service::Config {
        port: 0,
        database_url: database.url("dicedb"),
        specs_path: path,
        pool: database::PoolSettings {
            max_connections: 5,
            acquire_timeout: Duration::from_millis(500),
            statement_timeout: Duration::from_secs(1),
        },
    };
    let service = TestService::spawn(
        testkit::telemetry_config("die-service", receiver),
        async move |telemetry| {
            let metrics = die_service::DieMetrics::register(telemetry.registry())?;
            let state = die_service::AppState::start(&config, metrics, telemetry.registry())?;
            Ok(die_service::app(state))
        },
    );
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while http
        .get(service.url("/ready"))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "die-service not ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (service, database, seed)
}

pub fn spawn_dice_roller(receiver: &OtlpReceiver, die_service_url: String) -> TestService {
    use stage6_dice_roller as dice_roller;
    let config = dice_roller::Config {
        port: 0,
        roll_max_delay: Duration::ZERO,
        die_service_url,
        die_service_timeout: Duration::from_secs(2),
    };
    TestService::spawn(
        testkit::telemetry_config("dice-roller", receiver),
        async move |telemetry| {
            let metrics = dice_roller::DiceMetrics::register(telemetry.registry())?;
            let client = telemetry.http_client("die-service", config.die_service_timeout)?;
            let die_service = dice_roller::DieService::new(
                client,
                &config.die_service_url,
                telemetry.registry(),
            )?;
            Ok(dice_roller::app(dice_roller::AppState::new(
                &config,
                die_service,
                metrics,
            )))
        },
    )
}

/// The token the tests' usage receiver requires and their forwarder sends.
pub const PUSH_TOKEN: &str = "stage6-tests-push-token";

/// The demo accounts of the tests.
pub const DEMO_USERS: &str = "alice:wonderland,bob:builder";

pub fn spawn_frontend(
    receiver: &OtlpReceiver,
    dice_roller_url: String,
    die_service_url: String,
) -> TestService {
    spawn_frontend_with(receiver, dice_roller_url, die_service_url, |_| {})
}

/// The frontend with its `Config` adjusted by `adjust` (accounts, cookie).
pub fn spawn_frontend_with(
    receiver: &OtlpReceiver,
    dice_roller_url: String,
    die_service_url: String,
    adjust: impl FnOnce(&mut Config),
) -> TestService {
    spawn_frontend_checking(
        receiver,
        dice_roller_url,
        die_service_url,
        adjust,
        |accounts| accounts,
    )
}

/// The frontend with its `Config` adjusted by `adjust` and its accounts by
/// `accounts` (how many sign-in checks run and wait).
pub fn spawn_frontend_checking(
    receiver: &OtlpReceiver,
    dice_roller_url: String,
    die_service_url: String,
    adjust: impl FnOnce(&mut Config),
    accounts: impl FnOnce(Accounts) -> Accounts + Send + 'static,
) -> TestService {
    let mut config = Config {
        port: 0,
        dice_roller_url,
        die_service_url,
        grafana_url: "http://grafana.example:3000".to_owned(),
        backend_timeout: Duration::from_secs(2),
        demo_users: DemoUsers::parse(DEMO_USERS).unwrap(),
        session_cookie_secure: false,
        session_ttl: Duration::from_secs(3600),
    };
    adjust(&mut config);
    TestService::spawn(
        testkit::telemetry_config("frontend", receiver),
        async move |telemetry| {
            let metrics = FrontendMetrics::register(telemetry.registry())?;
            let dice_roller = telemetry.http_client("dice-roller", config.backend_timeout)?;
            let die_service = telemetry.http_client("die-service", config.backend_timeout)?;
            let users = config.demo_users.clone();
            let accounts =
                accounts(tokio::task::spawn_blocking(move || Accounts::hash(users)).await??);
            Ok(app(AppState::new(
                &config,
                dice_roller,
                die_service,
                metrics,
                accounts,
            )))
        },
    )
}

pub async fn spawn_stage() -> Stage6 {
    let receiver = OtlpReceiver::start();
    let (die_service, database, seed) = spawn_die_service(&receiver).await;
    let dice_roller = spawn_dice_roller(&receiver, die_service.base_url());
    let frontend = spawn_frontend(&receiver, dice_roller.base_url(), die_service.base_url());
    let http = signed_in(&frontend, "alice", "wonderland").await;
    Stage6 {
        frontend,
        dice_roller,
        die_service,
        receiver,
        http,
        database,
        _seed: seed,
    }
}

/// A client with a cookie jar, like a browser: no redirects followed, so
/// tests see them.
pub fn browser_like_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in to `frontend` as `user` and returns the client holding the
/// session cookie. Panics if the sign-in is refused.
pub async fn signed_in(frontend: &TestService, user: &str, password: &str) -> reqwest::Client {
    let http = browser_like_client();
    let response = sign_in(&http, frontend, user, password).await;
    assert_eq!(response.status(), 303, "signing in as {user} was refused");
    http
}

/// Posts the sign-in form.
pub async fn sign_in(
    http: &reqwest::Client,
    frontend: &TestService,
    user: &str,
    password: &str,
) -> reqwest::Response {
    http.post(frontend.url("/sign-in"))
        .form(&[("user", user), ("password", password)])
        .send()
        .await
        .expect("request to the frontend")
}

impl Stage6 {
    /// Runs SQL against the die-service's database, as an operator would.
    pub fn sql(&self, sql: &str) -> String {
        self.database.psql("dicedb", sql)
    }
}

/// What a browser gets for loading or submitting the page.
pub struct Submitted {
    pub status: u16,
    pub html: String,
}

impl Submitted {
    /// The text of the element with `id`, if the page has it.
    pub fn element(&self, id: &str) -> Option<&str> {
        let marker = format!("id=\"{id}\">");
        let start = self.html.find(&marker)? + marker.len();
        let end = self.html[start..].find('<')? + start;
        Some(&self.html[start..end])
    }

    pub fn trace_id(&self) -> &str {
        self.element("trace-id").expect("the page shows a trace id")
    }

    /// The dice the page's picker offers.
    pub fn options(&self) -> Vec<&str> {
        self.html
            .split("<option value=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect()
    }
}

/// Submits the form as a browser would.
pub async fn submit(http: &reqwest::Client, frontend: &TestService, die: &str) -> Submitted {
    let response = http
        .post(frontend.url("/roll"))
        .form(&[("die", die)])
        .send()
        .await
        .expect("request to the frontend");
    Submitted {
        status: response.status().as_u16(),
        html: response.text().await.expect("page body"),
    }
}

/// Loads the page as a browser would.
pub async fn load(http: &reqwest::Client, frontend: &TestService) -> Submitted {
    let response = http
        .get(frontend.base_url())
        .send()
        .await
        .expect("request to the frontend");
    Submitted {
        status: response.status().as_u16(),
        html: response.text().await.expect("page body"),
    }
}

/// Submits the form with a number of rolls and the async box.
pub async fn submit_batch(
    http: &reqwest::Client,
    frontend: &TestService,
    die: &str,
    times: &str,
    concurrently: bool,
) -> Submitted {
    let mut form = vec![("die", die), ("times", times)];
    if concurrently {
        form.push(("async", "on"));
    }
    let response = http
        .post(frontend.url("/roll"))
        .form(&form)
        .send()
        .await
        .expect("request to the frontend");
    Submitted {
        status: response.status().as_u16(),
        html: response.text().await.expect("page body"),
    }
}
