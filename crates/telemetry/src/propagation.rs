//! W3C trace context and baggage, in and out.

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// Installs the process-wide propagator: `traceparent`/`tracestate` plus
/// `baggage`. Without it nothing is injected or extracted, and nothing warns
/// (docs/pitfalls.md#no-propagator).
pub(crate) fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(StrictTraceContextPropagator(TraceContextPropagator::new())),
        Box::new(BaggagePropagator::new()),
    ]));
}

/// The SDK's W3C propagator, refusing `traceparent` headers whose ids have the
/// wrong length. The SDK parses the ids as numbers and so accepts a 31-digit
/// trace id, padding it with a zero: a malformed header would then continue
/// a trace that never existed instead of starting a new one.
#[derive(Debug)]
struct StrictTraceContextPropagator(TraceContextPropagator);

/// `version-traceid-parentid-flags` with the lengths W3C Trace Context fixes.
fn well_formed(traceparent: &str) -> bool {
    let mut parts = traceparent.trim().split('-');
    let lengths_match = [2, 32, 16, 2]
        .iter()
        .all(|&len| parts.next().is_some_and(|part| part.len() == len));
    lengths_match
        && traceparent
            .trim()
            .bytes()
            .all(|b| b == b'-' || b.is_ascii_hexdigit())
}

impl TextMapPropagator for StrictTraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        self.0.inject_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match extractor.get("traceparent") {
            Some(header) if well_formed(header) => self.0.extract_with_context(cx, extractor),
            _ => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        self.0.fields()
    }
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn ids_must_have_their_exact_length() {
        assert!(well_formed(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        assert!(!well_formed(
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"
        ));
        assert!(!well_formed(
            "00-4bf92f3577b34da6a3ce929d0e0e47360-00f067aa0ba902b7-01"
        ));
        assert!(!well_formed(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0f067aa0ba902b7-01"
        ));
        assert!(!well_formed(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"
        ));
        assert!(!well_formed(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01"
        ));
        assert!(!well_formed(""));
    }
}
