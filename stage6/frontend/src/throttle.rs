//! Slowing down password guessing: too many failed sign-ins for one name
//! lock that name out for a while.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lru::LruCache;

/// Failures allowed within the window before a name is locked.
const MAX_FAILURES: u32 = 5;
/// How far back failures count.
const WINDOW: Duration = Duration::from_secs(10 * 60);
/// How long a locked name stays locked.
const LOCKOUT: Duration = Duration::from_secs(5 * 60);
/// Names remembered at most. An attacker trying endless names cannot grow
/// memory: the least recently seen name is forgotten first.
const CAPACITY: usize = 10_000;

#[derive(Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

/// Failed sign-ins per user name, bounded in memory.
#[derive(Clone)]
pub struct SignInThrottle {
    failures: Arc<Mutex<LruCache<String, Failures>>>,
}

impl Default for SignInThrottle {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl SignInThrottle {
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self {
            failures: Arc::new(Mutex::new(LruCache::new(capacity))),
        }
    }

    /// Whether `name` may try to sign in now.
    pub fn allows(&self, name: &str) -> bool {
        let mut failures = self.lock();
        match failures.get(name).and_then(|entry| entry.locked_until) {
            Some(until) => Instant::now() >= until,
            None => true,
        }
    }

    pub fn record_failure(&self, name: &str) {
        let now = Instant::now();
        let mut failures = self.lock();
        let entry = failures.get_or_insert_mut(name.to_owned(), || Failures {
            count: 0,
            since: now,
            locked_until: None,
        });
        if now.duration_since(entry.since) > WINDOW
            || entry.locked_until.is_some_and(|until| now >= until)
        {
            *entry = Failures {
                count: 0,
                since: now,
                locked_until: None,
            };
        }
        entry.count += 1;
        if entry.count >= MAX_FAILURES {
            entry.locked_until = Some(now + LOCKOUT);
        }
    }

    pub fn record_success(&self, name: &str) {
        self.lock().pop(name);
    }

    /// Names remembered right now (never more than the capacity).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, Failures>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_a_name_and_a_success_clears_it() {
        let throttle = SignInThrottle::default();
        for _ in 0..MAX_FAILURES - 1 {
            throttle.record_failure("alice");
        }
        assert!(throttle.allows("alice"));
        throttle.record_failure("alice");
        assert!(!throttle.allows("alice"));
        assert!(
            throttle.allows("bob"),
            "one name's lockout is not another's"
        );
        throttle.record_success("alice");
        assert!(throttle.allows("alice"));
    }

    #[test]
    fn memory_stays_bounded_whatever_names_are_tried() {
        let throttle = SignInThrottle::with_capacity(100);
        for n in 0..10_000 {
            throttle.record_failure(&format!("name-{n}"));
        }
        assert_eq!(throttle.len(), 100);
    }
}
