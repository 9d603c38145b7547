//! The usage receiver's tests: the real service against a throwaway
//! PostgreSQL cluster of each test's own, fed pushes in both of Loki's forms.

mod auth;
mod helpers;
mod hostile;
mod properties;
mod push;
