//! The tracer provider, and an account of every finished span.
//!
//! Spans leave the service from the SDK's `BatchSpanProcessor`, which runs on
//! a thread of its own and exports with a blocking HTTP client. That pairing
//! is the supported one (docs/pitfalls.md#exporter-runtime): an async client inside the processor's
//! thread panics with "no reactor running", and an exporter on the request
//! path would make every request wait for the collector.
//!
//! The processor drops spans when its queue is full but does not say how many.
//! [`AccountedProcessor`] and [`AccountedExporter`] wrap it so that every
//! finished span ends up in exactly one of three counters on `/metrics`:
//! exported, dropped because the queue was full, or dropped because its batch
//! failed to export.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanProcessor,
    TracerProviderBuilder,
};
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use tracing::Dispatch;
use tracing::dispatcher::WeakDispatch;

use crate::otlp_exporter::OtlpExporter;
use crate::{TelemetryConfig, TelemetryError};

/// Builds the provider that turns finished spans into OTLP export requests.
/// With no endpoint configured the provider still creates spans (so log lines
/// keep their ids) but exports nothing.
///
/// Also returns the [`ExportLog`] through which the exporter's thread reports
/// failures; point it at the service's subscriber once that exists.
pub(crate) fn build_tracer_provider(
    config: &TelemetryConfig,
    registry: &Registry,
) -> Result<(SdkTracerProvider, ExportLog), TelemetryError> {
    let Some(url) = config.traces_url() else {
        return Ok((provider_builder(config).build(), ExportLog::default()));
    };
    let exporter = OtlpExporter::new(url, config.export_timeout)?;
    build_tracer_provider_with(config, registry, exporter)
}

/// The resource (`service.name`, `OTEL_RESOURCE_ATTRIBUTES`) and the sampler.
fn provider_builder(config: &TelemetryConfig) -> TracerProviderBuilder {
    // `Resource::builder()` reads OTEL_RESOURCE_ATTRIBUTES; the explicit name
    // wins over OTEL_SERVICE_NAME, which `TelemetryConfig` already folded in.
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    // The builder's default sampler honours OTEL_TRACES_SAMPLER(_ARG).
    SdkTracerProvider::builder().with_resource(resource)
}

/// The provider exporting through `exporter` from a bounded batch queue,
/// every span accounted for.
pub(crate) fn build_tracer_provider_with<E>(
    config: &TelemetryConfig,
    registry: &Registry,
    exporter: E,
) -> Result<(SdkTracerProvider, ExportLog), TelemetryError>
where
    E: opentelemetry_sdk::trace::SpanExporter + 'static,
{
    let builder = provider_builder(config);
    let export_log = ExportLog::default();
    let accounting = Arc::new(SpanAccounting::register(
        registry,
        config.batch.max_queue_size,
        export_log.clone(),
    )?);
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(config.batch.max_queue_size)
        .with_max_export_batch_size(config.batch.max_export_batch_size)
        .with_scheduled_delay(config.batch.scheduled_delay)
        .build();
    let processor = BatchSpanProcessor::builder(AccountedExporter {
        inner: exporter,
        accounting: accounting.clone(),
    })
    .with_batch_config(batch)
    .build();
    let provider = builder
        .with_span_processor(AccountedProcessor {
            inner: processor,
            accounting,
        })
        .build();
    Ok((provider, export_log))
}

/// Where the exporter's thread writes its log lines. That thread belongs to
/// the SDK, not to the service, so it has no subscriber of its own unless one
/// is installed globally; this points it at the service's. The reference is
/// weak because the subscriber owns the tracer, which owns this.
#[derive(Clone, Default, Debug)]
pub(crate) struct ExportLog(Arc<OnceLock<WeakDispatch>>);

impl ExportLog {
    pub(crate) fn set(&self, dispatch: &Dispatch) {
        let _ = self.0.set(dispatch.downgrade());
    }

    fn write(&self, log: impl FnOnce()) {
        match self.0.get().and_then(WeakDispatch::upgrade) {
            Some(dispatch) => tracing::dispatcher::with_default(&dispatch, log),
            None => log(),
        }
    }
}

/// The id of the trace the current span belongs to, as 32 lower-case hex
/// digits, or `None` outside any span. Handy to show a user which trace to
/// look up (the frontend prints it under each roll).
///
/// ```
/// assert_eq!(telemetry::current_trace_id(), None);
/// ```
pub fn current_trace_id() -> Option<String> {
    opentelemetry::Context::map_current(|cx| {
        let span = cx.span();
        let context = span.span_context();
        context
            .is_valid()
            .then(|| format!("{:032x}", context.trace_id()))
    })
}

/// Shared between the processor (which admits spans) and the exporter (which
/// releases them): how many spans are waiting, and what became of the others.
#[derive(Debug)]
struct SpanAccounting {
    /// Spans admitted and not yet through an export attempt.
    waiting: AtomicUsize,
    /// The bound on `waiting`. It equals the batch processor's own queue size,
    /// and `waiting` counts the processor's queue plus the batch being sent,
    /// so the processor itself never has to drop.
    capacity: usize,
    exported: IntCounter,
    dropped: IntCounterVec,
    queued: IntGauge,
    /// Whether the last export failed, so a failing collector is logged once
    /// when it fails and once when it recovers, not once per batch.
    failing: AtomicBool,
    log: ExportLog,
}

impl SpanAccounting {
    fn register(
        registry: &Registry,
        capacity: usize,
        log: ExportLog,
    ) -> Result<Self, TelemetryError> {
        let exported = IntCounter::new(
            "otel_spans_exported_total",
            "Spans accepted by the OTLP collector.",
        )?;
        let dropped = IntCounterVec::new(
            Opts::new(
                "otel_spans_dropped_total",
                "Spans lost before reaching the collector, by reason (queue_full, export_failed).",
            ),
            &["reason"],
        )?;
        let queued = IntGauge::new(
            "otel_spans_queued",
            "Spans waiting for export (bounded by OTEL_BSP_MAX_QUEUE_SIZE).",
        )?;
        registry.register(Box::new(exported.clone()))?;
        registry.register(Box::new(dropped.clone()))?;
        registry.register(Box::new(queued.clone()))?;
        // Touch both reasons so the series exist (at 0) before the first drop.
        dropped.with_label_values(&["queue_full"]);
        dropped.with_label_values(&["export_failed"]);
        Ok(Self {
            waiting: AtomicUsize::new(0),
            capacity,
            exported,
            dropped,
            queued,
            failing: AtomicBool::new(false),
            log,
        })
    }

    /// Reserves a place in the queue, or counts the span as dropped. Never
    /// blocks: a full queue costs the request nothing but the span.
    fn admit(&self) -> bool {
        let admitted = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |waiting| {
                (waiting < self.capacity).then_some(waiting + 1)
            })
            .is_ok();
        if admitted {
            self.queued.inc();
        } else {
            self.dropped.with_label_values(&["queue_full"]).inc();
        }
        admitted
    }

    fn settle(&self, spans: usize, result: &OTelSdkResult) {
        self.waiting.fetch_sub(spans, Ordering::AcqRel);
        self.queued.sub(spans as i64);
        match result {
            Ok(()) => {
                self.exported.inc_by(spans as u64);
                if self.failing.swap(false, Ordering::Relaxed) {
                    self.log.write(|| tracing::info!("span export recovered"));
                }
            }
            Err(error) => {
                self.dropped
                    .with_label_values(&["export_failed"])
                    .inc_by(spans as u64);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    // Emitted on the processor's thread, outside any span, so
                    // it becomes a log line and never a span of its own: the
                    // exporter must not feed itself.
                    self.log.write(|| {
                        tracing::warn!(%error, spans, "span export failing, dropping spans");
                    });
                }
            }
        }
    }
}

#[derive(Debug)]
struct AccountedProcessor {
    inner: BatchSpanProcessor,
    accounting: Arc<SpanAccounting>,
}

impl SpanProcessor for AccountedProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.accounting.admit() {
            self.inner.on_end(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Lowers the scheduling priority of the calling thread (the batch
/// processor's, on which exports run) once: where the exporter and the
/// request handlers compete for one core, the requests win, and a batch of
/// spans is encoded in the handlers' idle time. Under CPU saturation the
/// exporter falls behind, the bounded queue fills and spans are dropped (and
/// counted), instead of requests waiting behind an export.
fn yield_to_requests() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if LOWERED.replace(true) {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls with no pointers: `gettid` cannot fail, and
    // `setpriority` on this thread's id changes only this thread (Linux keeps
    // a nice value per thread). A failure leaves the priority as it was.
    unsafe {
        let thread = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, EXPORTER_NICE);
    }
}

/// The nice value of the exporter's thread: a weight about a tenth of a
/// request handler's when both want the same core.
#[cfg(target_os = "linux")]
const EXPORTER_NICE: libc::c_int = 10;

#[derive(Debug)]
struct AccountedExporter<E> {
    inner: E,
    accounting: Arc<SpanAccounting>,
}

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter
    for AccountedExporter<E>
{
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        yield_to_requests();
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        self.accounting.settle(spans, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
