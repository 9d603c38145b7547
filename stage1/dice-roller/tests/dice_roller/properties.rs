//! Every query a client can send gets an answer that is not a 5xx: a roll,
//! or a 4xx that says what to fix. Property tests: generated queries
//! (hostile values for each parameter, raw malformed query strings), 128 by
//! default, `PROPTEST_CASES` for more.

use reqwest::Method;
use testkit::check_every_input;

use crate::helpers::{config, spawn_app};

#[test]
fn any_query_gets_a_roll_or_a_4xx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // The risky die never fails here, so any 5xx is a bug.
    let app = spawn_app(config(0.0));
    let roll = (Method::GET, app.service.url("/roll"));
    check_every_input(
        &runtime,
        &app.http,
        &[roll],
        &["die"],
        128,
        testkit::no_server_error,
    );
}
