//! Steady, bounded requests in the background, for tests where Prometheus
//! must see rates that are not zero.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;

/// Requests sent one after another in a task of their own until
/// [`stop`](Self::stop) or a limit, whichever first.
pub struct RequestLoop {
    stop: Arc<AtomicBool>,
    task: JoinHandle<u64>,
}

impl RequestLoop {
    /// Sends `next(0)`, `next(1)`, ... one at a time with `pause` between
    /// them, at most `limit` requests. Answers (and failures) are read and
    /// dropped: the test looks at what the services recorded.
    pub fn start(
        limit: u64,
        pause: Duration,
        mut next: impl FnMut(u64) -> reqwest::RequestBuilder + Send + 'static,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut sent = 0;
                while sent < limit && !stop.load(Ordering::Relaxed) {
                    if let Ok(response) = next(sent).send().await {
                        let _ = response.bytes().await;
                    }
                    sent += 1;
                    tokio::time::sleep(pause).await;
                }
                sent
            }
        });
        Self { stop, task }
    }

    /// Stops after the request in flight; returns how many were sent.
    pub async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("request loop")
    }
}
