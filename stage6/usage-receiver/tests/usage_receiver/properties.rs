//! Any batch, however mixed, is answered without a 5xx, and every valid
//! event in it is stored, once: a line that can never be stored takes
//! nothing else down with it. Property test against the real receiver and
//! PostgreSQL: 32 generated batches by default, `PROPTEST_CASES` for more.

use std::cell::RefCell;
use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::helpers::{json_body, protobuf_body, spawn_receiver, usage_line};

/// One line of a generated batch.
#[derive(Debug, Clone)]
enum Generated {
    /// One of a pool of valid usage lines (so batches share events, as
    /// retries and overlapping batches do).
    Valid(usize),
    /// A usage line that can never be stored.
    Poison(&'static str),
    /// Anything at all.
    Junk(String),
}

const POOL: usize = 40;

fn line() -> impl Strategy<Value = Generated> {
    prop_oneof![
        4 => (0..POOL).prop_map(Generated::Valid),
        1 => prop_oneof![Just("nul"), Just("long_user"), Just("long_line"), Just("no_event")]
            .prop_map(Generated::Poison),
        2 => testkit::hostile_text().prop_map(Generated::Junk),
    ]
}

fn poison(kind: &str, n: usize) -> String {
    let valid = usage_line("roll", "zed", 10_000 + n as u32);
    match kind {
        "nul" => valid.replace(r#""user":"zed""#, r#""user":"z\u0000d""#),
        "long_user" => valid.replace(
            r#""user":"zed""#,
            &format!(r#""user":"{}""#, "z".repeat(3000)),
        ),
        "long_line" => valid.replace(
            r#""user":"zed""#,
            &format!(r#""user":"zed","pad":"{}""#, "p".repeat(20_000)),
        ),
        _ => valid.replace(r#""event":"roll","#, ""),
    }
}

#[test]
fn any_batch_gets_a_204_and_all_its_valid_events_are_stored_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(spawn_receiver(1 << 20));
    let pool: Vec<String> = (0..POOL as u32)
        .map(|n| usage_line("roll", "pat", n))
        .collect();
    // proptest runs the property through `Fn`: the running total lives in a cell.
    let sent: RefCell<BTreeSet<usize>> = RefCell::default();
    let mut runner = testkit::property_runner(32);
    let strategy = (proptest::collection::vec(line(), 0..25), any::<bool>());
    let result = runner.run(&strategy, |(batch, as_json)| {
        let lines: Vec<String> = batch
            .iter()
            .enumerate()
            .map(|(n, line)| match line {
                Generated::Valid(i) => pool[*i].clone(),
                Generated::Poison(kind) => poison(kind, n),
                Generated::Junk(text) => text.clone(),
            })
            .collect();
        let (content_type, body) = if as_json {
            ("application/json", json_body(&lines))
        } else {
            ("application/x-protobuf", protobuf_body(&lines))
        };
        let status = runtime.block_on(receiver.push(content_type, body)).status();
        prop_assert_eq!(status.as_u16(), 204, "{:?}", batch);
        sent.borrow_mut()
            .extend(batch.iter().filter_map(|line| match line {
                Generated::Valid(i) => Some(*i),
                _ => None,
            }));
        // Every valid event ever sent is a row, once; nothing else is.
        let expected = sent.borrow().len() as u64;
        prop_assert_eq!(receiver.rows(), expected, "{:?}", batch);
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
