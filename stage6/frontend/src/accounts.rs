//! Who may sign in: demo accounts, held as argon2 hashes only.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::config::DemoUsers;

/// The accounts, by name: each an argon2id hash in PHC form. The passwords
/// themselves are dropped once hashed.
#[derive(Clone)]
pub struct Accounts {
    hashes: Arc<HashMap<String, String>>,
    /// Checked against when the name is unknown, so that a sign-in takes as
    /// long whether or not the account exists: timing tells nothing.
    decoy: Arc<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot hash the demo passwords")]
pub struct HashError(#[source] argon2::password_hash::Error);

impl Accounts {
    /// Hashes every password (about 20 ms each in an optimised build).
    /// Blocking work: call from `spawn_blocking`.
    pub fn hash(users: DemoUsers) -> Result<Self, HashError> {
        let argon2 = Argon2::default();
        let hash = |password: &str| {
            argon2
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(HashError)
        };
        let mut hashes = HashMap::new();
        for (name, password) in users.0 {
            hashes.insert(name, hash(&password)?);
        }
        let decoy = hash("no account has this password")?;
        Ok(Self {
            hashes: Arc::new(hashes),
            decoy: Arc::new(decoy),
        })
    }

    /// Whether `name` is an account (a name that is not may be a password
    /// typed in the wrong box, so it is never logged).
    pub fn exists(&self, name: &str) -> bool {
        self.hashes.contains_key(name)
    }

    /// Whether `password` is `name`'s. Blocking (about 20 ms of argon2):
    /// call from `spawn_blocking`.
    pub fn verify(&self, name: &str, password: &str) -> bool {
        let (hash, known) = match self.hashes.get(name) {
            Some(hash) => (hash.as_str(), true),
            None => (self.decoy.as_str(), false),
        };
        let matches = PasswordHash::new(hash)
            .map(|hash| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_password_of_a_known_name_verifies() {
        let users = DemoUsers::parse("alice:wonderland").unwrap();
        let accounts = Accounts::hash(users).unwrap();
        assert!(accounts.verify("alice", "wonderland"));
        assert!(!accounts.verify("alice", "Wonderland"));
        assert!(!accounts.verify("mallory", "wonderland"));
        assert!(!accounts.verify("mallory", "no account has this password"));
        assert!(accounts.hashes["alice"].starts_with("$argon2id$"));
    }
}
