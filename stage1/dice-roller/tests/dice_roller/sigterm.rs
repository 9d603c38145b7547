//! SIGTERM to the real `stage1-dice-roller` process, while it is busy.
//!
//! The in-process tests (`shutdown`) stop the service through a channel; these
//! send a real signal to the binary `main` builds, as `docker stop` or
//! Kubernetes would, so the signal handling in `telemetry::serve` is what is
//! tested: stop accepting, drain the requests in flight, flush their spans,
//! exit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::{CollectorBehaviour, Kind, OtlpReceiver, metric_value};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Bounds every wait. Generous: a debug build on a busy CI machine.
const DEADLINE: Duration = Duration::from_secs(30);
/// Requests in flight when the signal arrives.
const IN_FLIGHT: usize = 16;

/// The dice-roller binary, started with exactly the variables a test gives it
/// (plus PATH and the like), and killed if the test ends early.
struct DiceRollerProcess {
    child: Child,
    port: u16,
}

impl DiceRollerProcess {
    fn start(otlp_endpoint: &str, roll_max_delay_ms: u64) -> Self {
        let port = testkit::free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_stage1-dice-roller"));
        // The developer's own settings must not change what is tested.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if key.starts_with("OTEL_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let child = command
            .env("PORT", port.to_string())
            .env("ROLL_MAX_DELAY_MS", roll_max_delay_ms.to_string())
            .env("RISKY_ERROR_RATE", "0")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint)
            // An hour: no scheduled export happens during the test, so every
            // span that arrives was sent by the flush at shutdown.
            .env("OTEL_BSP_SCHEDULE_DELAY", "3600000")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start stage1-dice-roller");
        Self { child, port }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path_and_query)
    }

    async fn wait_until_answering(&mut self, http: &reqwest::Client) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the dice-roller exited ({status}) before answering");
            }
            if let Ok(response) = http.get(self.url("/metrics")).send().await
                && response.status().is_success()
            {
                return;
            }
            assert!(Instant::now() < deadline, "the dice-roller never answered");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn metrics(&self, http: &reqwest::Client) -> String {
        http.get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }

    fn sigterm(&self) {
        let pid = self.child.id().expect("still running");
        kill(Pid::from_raw(pid as i32), Signal::SIGTERM).expect("send SIGTERM");
    }

    /// Waits, with the deadline, for the process to exit by itself.
    async fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("the dice-roller did not exit after SIGTERM")
            .expect("wait for the dice-roller")
    }
}

#[tokio::test]
async fn sigterm_under_load_answers_every_request_in_flight_refuses_new_ones_and_exports_all_their_spans()
 {
    let receiver = OtlpReceiver::start();
    // Rolls take up to 3 s, so the drain outlasts the checks below.
    let mut service = DiceRollerProcess::start(&receiver.endpoint(), 3000);
    let http = reqwest::Client::new();
    service.wait_until_answering(&http).await;

    let answered = Arc::new(AtomicUsize::new(0));
    let mut rolls = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let (http, url, answered) = (
            http.clone(),
            service.url("/roll?die=fair"),
            answered.clone(),
        );
        rolls.spawn(async move {
            let result = async {
                let response = http.get(url).send().await?;
                let status = response.status();
                let body: serde_json::Value = response.json().await?;
                Ok::<_, reqwest::Error>((status, body))
            }
            .await;
            answered.fetch_add(1, Ordering::SeqCst);
            result
        });
    }

    // Signal only once every request has reached a handler: each is then
    // either answered or in flight, none still connecting.
    let deadline = Instant::now() + DEADLINE;
    let in_flight = loop {
        let text = service.metrics(&http).await;
        let in_flight = metric_value(&text, "http_requests_in_flight", &[("handler", "/roll")]);
        let done = metric_value(&text, "http_requests_total", &[("handler", "/roll")]);
        if in_flight + done == IN_FLIGHT as f64 {
            break in_flight;
        }
        assert!(
            Instant::now() < deadline,
            "the requests never arrived:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(in_flight > 0.0, "every roll finished before the signal");
    service.sigterm();

    // The listener closes at once: a new connection is refused while the
    // requests already accepted are still being answered.
    let deadline = Instant::now() + DEADLINE;
    let address = format!("127.0.0.1:{}", service.port);
    loop {
        match tokio::net::TcpStream::connect(&address).await {
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => break,
            Err(error) => panic!("connecting after SIGTERM failed oddly: {error}"),
            Ok(_) => {
                assert!(
                    Instant::now() < deadline,
                    "still accepting connections after SIGTERM"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    let answered_when_refused = answered.load(Ordering::SeqCst);
    assert!(
        answered_when_refused < IN_FLIGHT,
        "connections were refused only after every request had been answered"
    );

    // Every request gets its answer: no reset connection, no 5xx.
    while let Some(roll) = rolls.join_next().await {
        let (status, body) = roll
            .expect("request task")
            .expect("an in-flight request was answered, not reset");
        assert_eq!(status, 200, "{body}");
        let value = body["roll"].as_i64().expect("a roll");
        assert!((1..=6).contains(&value), "{body}");
    }
    let status = service.wait_for_exit().await;
    assert!(status.success(), "exit status {status}");

    // The process flushed before exiting, so the spans are already here: a
    // SERVER span and a roll_die child for every request, sent by the flush
    // alone (no scheduled export was due).
    let spans = receiver.spans();
    let servers: Vec<_> = spans
        .iter()
        .filter(|span| span.kind == Kind::Server && span.name == "GET /roll")
        .collect();
    let rolls: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "roll_die")
        .collect();
    assert_eq!(servers.len(), IN_FLIGHT, "{spans:#?}");
    assert_eq!(rolls.len(), IN_FLIGHT, "{spans:#?}");
    for roll in rolls {
        assert!(
            servers.iter().any(
                |server| Some(&server.span_id) == roll.parent_span_id.as_ref()
                    && server.trace_id == roll.trace_id
            ),
            "roll_die {} has no SERVER parent among the exported spans",
            roll.span_id
        );
    }
}

#[tokio::test]
async fn with_a_dead_collector_sigterm_still_ends_the_process() {
    // Nothing listens there: every export, the shutdown flush included, fails
    // at once.
    let dead = format!("http://127.0.0.1:{}", testkit::free_port());
    sigterm_ends_the_process_despite_the_collector(&dead).await;
}

#[tokio::test]
async fn with_a_collector_that_never_answers_sigterm_still_ends_the_process() {
    // The worse case: the collector accepts the connection and then holds the
    // shutdown flush for ten minutes. Only the flush's own bound ends it.
    let stuck = OtlpReceiver::start_with(CollectorBehaviour::Slow(Duration::from_secs(600)));
    sigterm_ends_the_process_despite_the_collector(&stuck.endpoint()).await;
    assert!(
        stuck.arrived_count() > 0,
        "the flush did reach the stuck collector"
    );
}

/// Serves 50 rolls with the exporter pointed at `endpoint`, then checks that
/// SIGTERM still ends the process, cleanly, within the test's deadline.
async fn sigterm_ends_the_process_despite_the_collector(endpoint: &str) {
    let mut service = DiceRollerProcess::start(endpoint, 0);
    let http = reqwest::Client::new();
    service.wait_until_answering(&http).await;
    for _ in 0..50 {
        let response = http
            .get(service.url("/roll?die=fair"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // 100 spans wait for the flush, which cannot deliver them.
    let text = service.metrics(&http).await;
    assert_eq!(
        metric_value(&text, "otel_spans_queued", &[]),
        100.0,
        "{text}"
    );

    let signalled = Instant::now();
    service.sigterm();
    let status = service.wait_for_exit().await;
    assert!(status.success(), "exit status {status}");
    // Reported, not asserted: a time bound would fail on a slow CI machine.
    // BENCHMARKS.md records the release build's figure.
    eprintln!(
        "exited {:?} after SIGTERM, exporting to {endpoint}",
        signalled.elapsed()
    );
}
