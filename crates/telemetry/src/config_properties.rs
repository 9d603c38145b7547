//! Property tests of the environment parsing: `OTEL_*` and `RUST_LOG` are
//! outside input too (a compose file, a shell). 256 generated environments
//! by default, `PROPTEST_CASES` for more.

use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;

use crate::TelemetryConfig;

const VARIABLES: [&str; 8] = [
    "OTEL_SERVICE_NAME",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "RUST_LOG",
];

const NUMBERS: [&str; 4] = [
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_SCHEDULE_DELAY",
];

fn environment() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(
        proptest::sample::select(VARIABLES.to_vec()).prop_map(str::to_owned),
        testkit::hostile_text(),
        0..VARIABLES.len(),
    )
}

proptest! {
    #![proptest_config(testkit::proptest_config(256))]

    /// Any environment gives a configuration or an error naming the
    /// variable at fault: never a panic.
    #[test]
    fn any_environment_is_read_or_refused_naming_the_variable(env in environment()) {
        match TelemetryConfig::from_lookup("dice-roller", |name| env.get(name).cloned()) {
            Ok(config) => prop_assert!(!config.service_name.is_empty()),
            Err(error) => {
                let message = error.to_string();
                prop_assert!(
                    message.contains("RUST_LOG") || NUMBERS.iter().any(|name| message.contains(name)),
                    "{}",
                    message
                );
            }
        }
    }

    /// Whole numbers of milliseconds, spaces around them or not, are read
    /// exactly.
    #[test]
    fn numbers_are_read_exactly(ms in any::<u32>(), padding in " {0,2}") {
        let value = format!("{padding}{ms}{padding}");
        let config = TelemetryConfig::from_lookup("x", |name| {
            (name == "OTEL_BSP_SCHEDULE_DELAY").then(|| value.clone())
        })
        .unwrap();
        prop_assert_eq!(config.batch.scheduled_delay, Duration::from_millis(u64::from(ms)));
    }

    /// Any `RUST_LOG` builds the telemetry or is refused with an error:
    /// never a panic.
    #[test]
    fn any_log_filter_builds_or_is_refused(filter in testkit::hostile_text()) {
        let env = |name: &str| match name {
            "RUST_LOG" => Some(filter.clone()),
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("none".to_owned()),
            _ => None,
        };
        if let Ok(config) = TelemetryConfig::from_lookup("x", env)
            && let Ok(telemetry) = crate::build(&config, std::io::sink)
        {
            telemetry.shutdown();
        }
    }
}

/// Found by `any_log_filter_builds_or_is_refused`: tracing-subscriber's
/// filter parser panicked on this (slicing inside the multi-byte character)
/// and took the service down at startup. It is refused, naming RUST_LOG.
#[test]
fn a_non_ascii_log_filter_is_refused_not_a_panic() {
    let error = TelemetryConfig::from_lookup("x", |name| {
        (name == "RUST_LOG").then(|| " \u{11fb0}=".to_owned())
    })
    .unwrap_err();
    assert!(
        error.to_string().starts_with("RUST_LOG must be ASCII"),
        "{error}"
    );
}
