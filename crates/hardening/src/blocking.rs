//! CPU-heavy work, a few at a time.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use tokio::sync::{Semaphore, oneshot};

/// Runs CPU-heavy closures on `workers` threads of its own, with at most
/// `queue` more waiting their turn. A call beyond that is refused at once
/// with [`Busy`], which a handler answers with 503 and `Retry-After`.
///
/// Why: some work costs memory as well as time. One argon2 check allocates
/// 19 MiB; 100 sign-ins at once, each on a `spawn_blocking` thread of its
/// own, took the frontend to 1.9 GB. Merely limiting how many run at once is
/// not enough either: `spawn_blocking` then still spreads the work over ever
/// new threads, and the allocator keeps a freed block per thread (glibc, one
/// arena per thread, up to eight per core): 500 MB after 34 checks. On a
/// fixed set of threads the memory is `workers` blocks, reused.
///
/// A refused or abandoned call costs nothing: work already admitted finishes
/// and frees its place even when the request that asked for it has gone.
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
    /// To the worker threads, which end when the last clone is dropped.
    jobs: mpsc::Sender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Every worker is busy and the queue is full: try again in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too much work waiting; try again in a moment")]
pub struct Busy;

impl BoundedBlocking {
    /// `workers` threads (at least one) run the work; `queue` more calls may
    /// wait for one.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let (jobs, waiting) = mpsc::channel::<Job>();
        let waiting = Arc::new(Mutex::new(waiting));
        for n in 0..workers {
            let waiting = waiting.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("bounded-blocking-{n}"))
                .spawn(move || work_through(&waiting));
            if let Err(error) = spawned {
                // Fewer workers than asked for still bound the work; none at
                // all would leave every call waiting, so the caller hears.
                tracing::error!(error = %error, "cannot start a worker thread");
            }
        }
        Self {
            admitted: Arc::new(Semaphore::new(workers + queue)),
            jobs,
        }
    }

    /// One worker per core the process may use, and `queue` waiting.
    pub fn per_core(queue: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, queue)
    }

    /// Runs `work` on a worker once one is free, or returns [`Busy`] at once
    /// when the queue is full (or the work panicked).
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
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let result = work();
            // Free the place before answering, so that the caller's next
            // call finds it free.
            drop(admitted);
            let _ = done.send(result);
        });
        self.jobs.send(job).map_err(|_| Busy)?;
        result.await.map_err(|_| Busy)
    }

    /// Calls that may still be admitted right now (for tests and metrics).
    pub fn available(&self) -> usize {
        self.admitted.available_permits()
    }
}

/// A worker thread: runs jobs until every sender is gone. A panicking job
/// loses its own answer (the caller gets `Busy`), not the worker.
fn work_through(waiting: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = {
            let receiver = waiting.lock().unwrap_or_else(|e| e.into_inner());
            receiver.recv()
        };
        match job {
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
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
