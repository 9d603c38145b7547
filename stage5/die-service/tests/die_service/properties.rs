//! The die-service's two inputs from outside, property-tested: the
//! identifier a caller asks for, and the JSON specifications file an
//! operator edits. Generated inputs: 128 requests and 256 files by default,
//! `PROPTEST_CASES` for more.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use reqwest::Method;
use stage5_die_service::{DieSpec, Specs};

use crate::helpers::{FAIR_AND_RISKY, pool_settings, spawn_die_service};

#[test]
fn any_identifier_gets_a_spec_a_404_or_a_400_never_a_5xx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dice = runtime.block_on(spawn_die_service(FAIR_AND_RISKY, pool_settings()));
    let dice_url = (Method::GET, dice.service.url("/dice"));
    testkit::check_every_input(
        &runtime,
        &dice.http,
        &[dice_url],
        &["identifier"],
        128,
        testkit::no_server_error,
    );
}

/// Valid specifications, as an operator would write them.
fn specs() -> impl Strategy<Value = BTreeMap<String, DieSpec>> {
    let spec = (
        proptest::collection::vec(i64::from(i32::MIN)..=i64::from(i32::MAX), 1..20),
        0.0..=1.0f64,
    )
        .prop_map(|(faces, error_rate)| DieSpec { faces, error_rate });
    proptest::collection::btree_map("[a-z0-9_-]{1,50}", spec, 1..8)
}

proptest! {
    #![proptest_config(testkit::proptest_config(256))]

    #[test]
    fn any_bytes_are_parsed_or_refused_without_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Specs::parse(Path::new("dice.json"), &bytes);
    }

    #[test]
    fn any_text_is_parsed_or_refused_without_a_panic(text in testkit::hostile_text()) {
        let _ = Specs::parse(Path::new("dice.json"), text.as_bytes());
    }

    #[test]
    fn valid_specifications_round_trip(dice in specs()) {
        let json = serde_json::to_vec_pretty(&dice).unwrap();
        let parsed = Specs::parse(Path::new("dice.json"), &json).unwrap();
        prop_assert_eq!(parsed.len(), dice.len());
        for (identifier, spec) in &dice {
            prop_assert_eq!(parsed.get(identifier), Some(spec));
        }
    }

    #[test]
    fn a_spec_out_of_range_is_refused_naming_its_die(
        mut dice in specs(),
        error_rate in prop_oneof![-1e9..-1e-9f64, 1.000_001..1e9f64],
    ) {
        let (identifier, spec) = dice.iter_mut().next().unwrap();
        spec.error_rate = error_rate;
        let identifier = identifier.clone();
        let error = Specs::parse(Path::new("dice.json"), &serde_json::to_vec(&dice).unwrap())
            .unwrap_err()
            .to_string();
        prop_assert!(error.contains(identifier.as_str()), "{}", error);
    }
}

/// Found by `valid_specifications_round_trip`: serde_json parsed this
/// error rate one bit off until its exact float parsing was turned on.
#[test]
fn an_error_rate_reads_back_exactly() {
    let parsed = Specs::parse(
        Path::new("dice.json"),
        br#"{"a": {"faces": [0], "error_rate": 0.22836366830627566}}"#,
    )
    .unwrap();
    assert_eq!(parsed.get("a").unwrap().error_rate, 0.22836366830627566);
}
