//! Every form a client can post gets a page that is not a server error:
//! the roll, or a 4xx page that says what to fix. Property tests: hostile
//! values for each field and raw malformed bodies, 128 by default,
//! `PROPTEST_CASES` for more.

use reqwest::Method;
use testkit::{Answer, HostileInput};

use crate::helpers::spawn_stage;

/// A 502 only when a die failed as its specification says it does (the
/// tests' `doomed` die): the page reports the dice-roller's failure.
fn judge(input: &HostileInput, answer: &Answer) -> Result<(), String> {
    if answer.status == 502 && answer.body.contains("The dice-roller could not roll") {
        return Ok(());
    }
    testkit::no_server_error(input, answer)
}

#[test]
fn any_roll_form_gets_a_page_never_a_server_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let stage = spawn_stage(0.0);
    let roll = (Method::POST, stage.frontend.url("/roll"));
    testkit::check_every_input(&runtime, &stage.http, &[roll], &["die"], 128, judge);
}
