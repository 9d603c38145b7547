//! CPU-heavy work, a few at a time.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Runs CPU-heavy closures on tokio's blocking threads, at most `workers` at
/// once, with at most `queue` more waiting their turn. A call beyond that is
/// refused at once with [`Busy`], which a handler answers with 503 and
/// `Retry-After`.
///
/// Why: `spawn_blocking` alone bounds nothing but its thread count (512), and
/// some work costs memory as well as time. One argon2 check allocates 19 MiB;
/// 100 sign-ins at once, each on a blocking thread of its own, asked for
/// 1.9 GB, and the allocator kept most of it afterwards. Bounded here, the
/// memory is `workers` × 19 MiB and more callers only wait or are refused.
///
/// A refused or abandoned call costs nothing: the permits travel with the
/// closure, so work already started finishes and frees its place even when
/// the request that asked for it has gone.
///
/// ```
/// # #[tokio::main] async fn main() {
/// let hashing = hardening::BoundedBlocking::new(2, 8);
/// let sum = hashing.run(|| (1..=10).sum::<u32>()).await;
/// assert_eq!(sum, Ok(55));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct BoundedBlocking {
    /// Held from admission to the end of the work: `workers + queue` of them.
    admitted: Arc<Semaphore>,
    /// Held while the work runs: `workers` of them.
    running: Arc<Semaphore>,
}

/// Every worker is busy and the queue is full: try again in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too much work waiting; try again in a moment")]
pub struct Busy;

impl BoundedBlocking {
    /// `workers` closures run at once (at least one), `queue` more may wait.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(workers + queue)),
            running: Arc::new(Semaphore::new(workers)),
        }
    }

    /// One worker per core the process may use, and `queue` waiting.
    pub fn per_core(queue: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, queue)
    }

    /// Runs `work` on a blocking thread once a worker is free, or returns
    /// [`Busy`] at once when the queue is full.
    pub async fn run<T, F>(&self, work: F) -> Result<T, Busy>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        // The semaphores are never closed, so acquiring fails only in theory.
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Busy)?;
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            work()
        })
        .await
        // The work panicked: report it as the service being unable to answer,
        // rather than taking the request handler down with it.
        .map_err(|_| Busy)
    }

    /// Calls that may still be admitted right now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.admitted.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_workers_and_the_queue_calls_are_refused_until_work_finishes() {
        let pool = BoundedBlocking::new(1, 1);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let running = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = started_tx.send(());
                    released.recv().ok()
                })
                .await
            })
        };
        started.await.unwrap();
        // The worker is busy; one call may queue, the next is refused.
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|| 2).await })
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while pool.available() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "never queued");
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| 3).await, Err(Busy));

        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(Some(())));
        assert_eq!(queued.await.unwrap(), Ok(2));
        assert_eq!(pool.run(|| 4).await, Ok(4), "room again once work is done");
    }

    #[tokio::test]
    async fn abandoned_work_still_frees_its_place() {
        let pool = BoundedBlocking::new(1, 0);
        let (release, released) = std::sync::mpsc::channel::<()>();
        let caller = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(move || released.recv().ok()).await })
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while pool.available() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "never started");
            tokio::task::yield_now().await;
        }
        // The caller goes away (a client that hung up); the work goes on.
        caller.abort();
        assert_eq!(pool.run(|| 1).await, Err(Busy));
        release.send(()).unwrap();
        while pool.available() == 0 {
            assert!(tokio::time::Instant::now() < deadline, "never freed");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(pool.run(|| 1).await, Ok(1));
    }
}
