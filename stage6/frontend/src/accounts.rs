//! Who may sign in: demo accounts, held as argon2 hashes only.

use std::collections::HashMap;
use std::sync::Arc;

use hardening::{Busy, PasswordChecks};

use crate::config::DemoUsers;

/// Sign-in checks that may wait for a free core; beyond them a sign-in is
/// answered 503 at once. At about 20 ms a check, the last in the queue waits
/// a few hundred milliseconds.
pub const SIGN_IN_QUEUE: usize = 32;

/// The accounts, by name: each an argon2id hash in PHC form. The passwords
/// themselves are dropped once hashed.
#[derive(Clone)]
pub struct Accounts {
    hashes: Arc<HashMap<String, String>>,
    /// Checked against when the name is unknown, so that a sign-in takes as
    /// long whether or not the account exists: timing tells nothing.
    decoy: Arc<String>,
    /// Where checks run. An argon2 check costs 19 MiB of memory as well as
    /// CPU, and every sign-in costs one, known name or not: checks run one
    /// per core, so a flood of made-up names queues, then is refused,
    /// instead of taking gigabytes.
    checks: PasswordChecks,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the demo passwords")]
pub struct HashError(#[source] argon2::password_hash::Error);

impl Accounts {
    /// Hashes every password (about 20 ms each in an optimised build).
    /// Blocking work: call from `spawn_blocking`.
    pub fn hash(users: DemoUsers) -> Result<Self, HashError> {
        let checks = PasswordChecks::per_core(SIGN_IN_QUEUE);
        let mut hashes = HashMap::new();
        for (name, password) in users.0 {
            hashes.insert(name, checks.hash(&password).map_err(HashError)?);
        }
        let decoy = checks
            .hash("no account has this password")
            .map_err(HashError)?;
        Ok(Self {
            hashes: Arc::new(hashes),
            decoy: Arc::new(decoy),
            checks,
        })
    }

    /// The same accounts, checked `workers` at a time with `queue` waiting.
    pub fn with_check_limits(self, workers: usize, queue: usize) -> Self {
        Self {
            checks: PasswordChecks::new(workers, queue),
            ..self
        }
    }

    /// Whether `name` is an account (a name that is not may be a password
    /// typed in the wrong box, so it is never logged).
    pub fn exists(&self, name: &str) -> bool {
        self.hashes.contains_key(name)
    }

    /// Whether `password` is `name`'s: one argon2 check, the same for a name
    /// that is no account, once a core is free; [`Busy`] when too many
    /// checks are waiting already.
    pub async fn check(&self, name: &str, password: String) -> Result<bool, Busy> {
        let (hash, known) = match self.hashes.get(name) {
            Some(hash) => (hash.clone(), true),
            None => (self.decoy.as_str().to_owned(), false),
        };
        let matches = self.checks.check(hash, password).await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_right_password_of_a_known_name_verifies() {
        let users = DemoUsers::parse("alice:wonderland").unwrap();
        let accounts = Accounts::hash(users).unwrap();
        let check = |name: &'static str, password: &str| {
            let (accounts, password) = (accounts.clone(), password.to_owned());
            async move { accounts.check(name, password).await.unwrap() }
        };
        assert!(check("alice", "wonderland").await);
        assert!(!check("alice", "Wonderland").await);
        assert!(!check("mallory", "wonderland").await);
        assert!(!check("mallory", "no account has this password").await);
        assert!(accounts.hashes["alice"].starts_with("$argon2id$"));
    }
}
