//! Checking passwords against argon2 hashes at a bounded cost in CPU and
//! memory.

use std::cell::RefCell;

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::password_hash::{self, PasswordHasher};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::{BoundedBlocking, Busy};

/// Hashes passwords (argon2id, the crate's defaults: 19 MiB, two passes) and
/// checks them against such hashes, a few at a time.
///
/// argon2 is meant to be costly: each check fills 19 MiB of memory. Two
/// things keep that cost bounded however many sign-ins arrive:
/// * checks run on a [`BoundedBlocking`] of one worker per core, with a
///   queue; beyond it [`check`](Self::check) answers [`Busy`] at once;
/// * each worker fills the same memory every time. `argon2`'s own
///   `verify_password` allocates a fresh 64-byte-aligned block per call, and
///   glibc's allocator cannot reuse the freed block for the next aligned
///   request of the same size: every check left 19 MiB behind (6 GB after
///   300 sign-ins).
///
/// ```
/// # #[tokio::main] async fn main() {
/// let passwords = hardening::PasswordChecks::new(1, 4);
/// let hash = passwords.hash("wonderland").unwrap();
/// assert_eq!(passwords.check(hash.clone(), "wonderland".into()).await, Ok(true));
/// assert_eq!(passwords.check(hash, "Wonderland".into()).await, Ok(false));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PasswordChecks {
    workers: BoundedBlocking,
}

thread_local! {
    /// The memory a worker thread's checks fill, allocated once.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

impl PasswordChecks {
    /// `workers` checks at a time, `queue` more waiting.
    pub fn new(workers: usize, queue: usize) -> Self {
        Self {
            workers: BoundedBlocking::new(workers, queue),
        }
    }

    /// One check per core the process may use, `queue` more waiting.
    pub fn per_core(queue: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, queue)
    }

    /// `password`'s argon2id hash in PHC form (`$argon2id$v=19$...`), with a
    /// fresh random salt. Blocking (tens of milliseconds): for startup.
    pub fn hash(&self, password: &str) -> Result<String, password_hash::Error> {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
    }

    /// Whether `password` matches `hash` (a PHC string from [`hash`](Self::hash)),
    /// checked on a worker when one is free; [`Busy`] when too many checks
    /// are waiting already. A malformed hash matches nothing.
    pub async fn check(&self, hash: String, password: String) -> Result<bool, Busy> {
        self.workers
            .run(move || matches(&hash, password.as_bytes()))
            .await
    }
}

/// What `argon2`'s `verify_password` does, with this thread's memory. The
/// comparison is `Output`'s own, in constant time.
fn matches(hash: &str, password: &[u8]) -> bool {
    let Ok(hash) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let hashed = MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon2.hash_password_into_with_memory(
            password,
            salt.as_ref(),
            &mut computed,
            &mut memory[..blocks],
        )
    });
    hashed.is_ok() && Output::new(&computed).is_ok_and(|computed| computed == *expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_agrees_with_argon2s_own_verifier() {
        use argon2::password_hash::PasswordVerifier;
        let checks = PasswordChecks::new(1, 0);
        let hash = checks.hash("wonderland").unwrap();
        let parsed = PasswordHash::new(&hash).unwrap();
        for candidate in ["wonderland", "Wonderland", "", "wonderland "] {
            assert_eq!(
                matches(&hash, candidate.as_bytes()),
                Argon2::default()
                    .verify_password(candidate.as_bytes(), &parsed)
                    .is_ok(),
                "{candidate:?}"
            );
        }
        assert!(!matches("not a hash", b"wonderland"));
        assert!(!matches("$argon2id$v=19$m=8,t=1,p=1$", b""));
    }

    #[test]
    fn repeated_checks_on_one_thread_reuse_its_memory() {
        let checks = PasswordChecks::new(1, 0);
        let hash = checks.hash("wonderland").unwrap();
        matches(&hash, b"x");
        let address = MEMORY.with_borrow(|memory| memory.as_ptr());
        for _ in 0..3 {
            matches(&hash, b"x");
        }
        assert_eq!(MEMORY.with_borrow(|memory| memory.as_ptr()), address);
    }
}
