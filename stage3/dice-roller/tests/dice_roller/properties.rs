//! Every query a client can send gets an answer that is not a 5xx: a roll,
//! or a 4xx that says what to fix. Property tests: generated queries
//! (hostile values for each parameter, raw malformed query strings), 128 by
//! default, `PROPTEST_CASES` for more.

use reqwest::Method;
use testkit::check_every_input;
use testkit::{Answer, HostileInput};

use crate::helpers::spawn_app;

/// A 5xx only for a die whose specification makes it fail (`doomed`):
/// that is the die's nature, not a parsing failure.
fn judge(input: &HostileInput, answer: &Answer) -> Result<(), String> {
    let the_die_failed =
        answer.body.contains("roll failed") || answer.body.contains("rolls failed");
    if answer.status == 500 && the_die_failed {
        return Ok(());
    }
    testkit::no_server_error(input, answer)
}

#[test]
fn any_query_gets_a_roll_or_a_4xx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = spawn_app();
    let requests: Vec<_> = ["/roll"]
        .into_iter()
        .map(|path| (Method::GET, app.dice_roller.url(path)))
        .collect();
    check_every_input(&runtime, &app.http, &requests, &["die"], 128, judge);
}
