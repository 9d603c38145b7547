//! A flood of sign-ins with made-up names costs bounded memory.
//!
//! Each argon2 check fills 19 MiB. Unbounded, 100 concurrent sign-ins took
//! the frontend from 34 MB to 1.9 GB of RSS, and every check, concurrent or
//! not, left its 19 MiB behind in the allocator. The frontend binary runs
//! here as its own process, so its memory is its own to measure.

use std::time::Duration;

use tokio::process::Command;
use tokio::time::Instant;

/// Sign-ins sent at once, each with a name no account has.
const CONCURRENT: usize = 100;
/// Then sign-ins one after the other: each used to keep its 19 MiB.
const SEQUENTIAL: usize = 30;

/// The peak resident memory allowed: 100 MB plus 25 MB per core (one check
/// runs per core, each filling 19 MiB). Measured on a 2-core machine: a peak
/// of 1,939 MB before checks were bounded, 74 MB after (bound: 150 MB).
fn peak_rss_bound_mb() -> u64 {
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    100 + 25 * cores
}
const DEADLINE: Duration = Duration::from_secs(60);

/// `VmHWM` (peak) and `VmRSS` (now) of process `pid`, in MB.
fn memory_mb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb / 1024)
            .unwrap_or_else(|| panic!("{name} missing from /proc/{pid}/status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::test]
async fn a_hundred_concurrent_sign_ins_with_made_up_names_leave_memory_bounded() {
    let port = testkit::free_port();
    let mut frontend = Command::new(env!("CARGO_BIN_EXE_stage6-frontend"))
        .env("PORT", port.to_string())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "none")
        .env("RUST_LOG", "warn")
        .env("DEMO_USERS", "alice:wonderland")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start stage6-frontend");
    let pid = frontend.id().expect("running");
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(Some(status)) = frontend.try_wait() {
            panic!("the frontend exited ({status}) before answering");
        }
        if let Ok(response) = http.get(url("/metrics")).send().await
            && response.status().is_success()
        {
            break;
        }
        assert!(Instant::now() < deadline, "the frontend never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, before) = memory_mb(pid);

    let mut sign_ins = tokio::task::JoinSet::new();
    for n in 0..CONCURRENT {
        let (http, url) = (http.clone(), url("/sign-in"));
        sign_ins.spawn(async move {
            let user = format!("w{n}_{}", std::process::id());
            let response = http
                .post(url)
                .form(&[("user", user.as_str()), ("password", "x")])
                .send()
                .await?;
            let retry_after = response.headers().get("retry-after").cloned();
            Ok::<_, reqwest::Error>((response.status().as_u16(), retry_after))
        });
    }
    let (mut refused, mut busy) = (0, 0);
    while let Some(answer) = sign_ins.join_next().await {
        let (status, retry_after) = answer.unwrap().expect("every sign-in is answered");
        match status {
            401 => refused += 1,
            503 => {
                assert!(retry_after.is_some(), "a 503 says when to retry");
                busy += 1;
            }
            other => panic!("a sign-in with a made-up name answered {other}"),
        }
    }
    let (peak, after) = memory_mb(pid);
    eprintln!(
        "RSS {before} MB before, peak {peak} MB, {after} MB after {CONCURRENT} concurrent \
         sign-ins ({refused} checked and refused, {busy} answered 503 busy)"
    );
    assert!(refused > 0, "some sign-ins were checked");

    for n in 0..SEQUENTIAL {
        let response = http
            .post(url("/sign-in"))
            .form(&[("user", format!("s{n}")), ("password", "x".to_owned())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let (peak, after) = memory_mb(pid);
    eprintln!("then {SEQUENTIAL} sign-ins one after the other: peak {peak} MB, {after} MB now");
    let bound = peak_rss_bound_mb();
    assert!(peak < bound, "peak RSS {peak} MB is over {bound} MB");
}
