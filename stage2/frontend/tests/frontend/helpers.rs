use std::time::Duration;

use stage2_frontend::{AppState, Config, FrontendMetrics, app};
use testkit::{OtlpReceiver, TestService};

pub const SPAN_TIMEOUT: Duration = Duration::from_secs(10);

/// The frontend and a dice-roller whose risky die fails at `risky_error_rate`.
/// Fields drop in order: the services flush their spans at shutdown, so the
/// receiver goes last.
pub struct Stage2 {
    pub frontend: TestService,
    pub dice_roller: TestService,
    pub receiver: OtlpReceiver,
    pub http: reqwest::Client,
}

pub fn spawn_dice_roller(receiver: &OtlpReceiver, risky_error_rate: f64) -> TestService {
    use stage2_dice_roller as dice_roller;
    let config = dice_roller::Config {
        port: 0,
        roll_max_delay: Duration::ZERO,
        risky_error_rate,
    };
    TestService::spawn(
        testkit::telemetry_config("dice-roller", receiver),
        async move |telemetry| {
            let metrics = dice_roller::DiceMetrics::register(telemetry.registry())?;
            Ok(dice_roller::app(dice_roller::AppState::new(
                &config, metrics,
            )))
        },
    )
}

/// The frontend, calling the dice-roller at `dice_roller_url`.
pub fn spawn_frontend(
    receiver: &OtlpReceiver,
    dice_roller_url: String,
    backend_timeout: Duration,
) -> TestService {
    let config = Config {
        port: 0,
        dice_roller_url,
        grafana_url: "http://grafana.example:3000".to_owned(),
        backend_timeout,
    };
    TestService::spawn(
        testkit::telemetry_config("frontend", receiver),
        async move |telemetry| {
            let metrics = FrontendMetrics::register(telemetry.registry())?;
            let client = telemetry.http_client("dice-roller", config.backend_timeout)?;
            Ok(app(AppState::new(&config, client, metrics)))
        },
    )
}

pub fn spawn_stage(risky_error_rate: f64) -> Stage2 {
    let receiver = OtlpReceiver::start();
    let dice_roller = spawn_dice_roller(&receiver, risky_error_rate);
    let frontend = spawn_frontend(&receiver, dice_roller.base_url(), Duration::from_secs(5));
    Stage2 {
        receiver,
        dice_roller,
        frontend,
        http: reqwest::Client::new(),
    }
}

/// What a browser gets for submitting the form.
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

/// Submits the form `count` times at once.
pub async fn submit_concurrently(
    http: &reqwest::Client,
    frontend: &TestService,
    die: &'static str,
    count: usize,
) -> Vec<Submitted> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..count {
        let (http, url) = (http.clone(), frontend.url("/roll"));
        tasks.spawn(async move {
            let response = http.post(url).form(&[("die", die)]).send().await.unwrap();
            Submitted {
                status: response.status().as_u16(),
                html: response.text().await.unwrap(),
            }
        });
    }
    tasks.join_all().await
}
