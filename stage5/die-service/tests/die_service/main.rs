//! Stage 5's die-service tests: the real service against a throwaway
//! PostgreSQL cluster of each test's own, which the test may stop and start.

mod api;
mod helpers;
mod outage;
mod pool;
mod properties;
mod seeding;
