//! One JSON object per log line, carrying the ids of the span it was written in.
//!
//! tracing-subscriber's own JSON format nests event fields, spells WARN where
//! the seed's LogQL expects WARNING, and knows nothing of OpenTelemetry ids
//! (PITFALLS 6). This layer writes the shape DESIGN.md fixes:
//!
//! ```text
//! {"timestamp":"2026-11-25T03:17:21.953412Z","level":"INFO","service":"dice-roller",
//!  "target":"stage1_dice_roller::routes","message":"roll result","die_type":"fair",
//!  "roll_value":6,"trace_id":"85fce9c8be761dfc7748e17825a1d41c","span_id":"2d4f44d4c66fc3a5"}
//! ```
//!
//! The ids come from the OpenTelemetry context that tracing-opentelemetry
//! makes current while a span is entered: the very span context that is
//! exported, so Grafana's "Logs for this span" finds these lines.
//!
//! A line is assembled in a reused per-thread buffer and handed to the writer
//! in one `write` call, so lines from concurrent requests never interleave.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// Keys the layer writes itself; an event field with one of these names is
/// written as `field.<name>` so it cannot overwrite them.
const RESERVED_KEYS: [&str; 7] = [
    "timestamp",
    "level",
    "service",
    "target",
    "message",
    "trace_id",
    "span_id",
];

pub(crate) struct JsonLogLayer<W> {
    /// `"service":"<name>",` already escaped, written verbatim on every line.
    service_entry: String,
    make_writer: W,
}

impl<W> JsonLogLayer<W> {
    pub(crate) fn new(service: &str, make_writer: W) -> Self {
        let mut service_entry = String::from("\"service\":");
        write_json_str(&mut service_entry, service);
        service_entry.push(',');
        Self {
            service_entry,
            make_writer,
        }
    }
}

thread_local! {
    /// The line being assembled and the event's fields, reused across events
    /// so a log line costs no allocation once a thread has warmed up.
    static BUFFERS: RefCell<(String, FieldWriter)> = RefCell::new((String::with_capacity(512), FieldWriter::default()));
}

impl<S, W> Layer<S> for JsonLogLayer<W>
where
    S: Subscriber,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let write_line = |line: &mut String, fields: &mut FieldWriter| {
            line.clear();
            fields.clear();
            event.record(fields);
            self.format(event, fields, line);
            // A failed write (closed stdout) must not take the service down;
            // there is nowhere left to report it.
            let _ = self
                .make_writer
                .make_writer_for(event.metadata())
                .write_all(line.as_bytes());
        };
        BUFFERS.with(|buffers| match buffers.try_borrow_mut() {
            Ok(mut buffers) => {
                let (line, fields) = &mut *buffers;
                write_line(line, fields);
            }
            // Only reachable if writing a line itself logs; use fresh buffers.
            Err(_) => write_line(&mut String::new(), &mut FieldWriter::default()),
        });
    }
}

impl<W> JsonLogLayer<W> {
    fn format(&self, event: &Event<'_>, fields: &FieldWriter, line: &mut String) {
        let metadata = event.metadata();
        line.push_str("{\"timestamp\":\"");
        let _ = write!(
            line,
            "{}",
            humantime::format_rfc3339_micros(SystemTime::now())
        );
        line.push_str("\",\"level\":\"");
        line.push_str(level_name(*metadata.level()));
        line.push_str("\",");
        line.push_str(&self.service_entry);
        line.push_str("\"target\":");
        write_json_str(line, metadata.target());
        line.push_str(",\"message\":");
        write_json_str(line, &fields.message);
        line.push_str(&fields.entries);
        opentelemetry::Context::map_current(|cx| {
            let span = cx.span();
            let span_context = span.span_context();
            if span_context.is_valid() {
                let _ = write!(
                    line,
                    ",\"trace_id\":\"{:032x}\",\"span_id\":\"{:016x}\"",
                    span_context.trace_id(),
                    span_context.span_id()
                );
            }
        });
        line.push_str("}\n");
    }
}

/// Upper-case level names as the seed's LogQL (`level="WARNING"`) expects.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARNING",
        Level::ERROR => "ERROR",
    }
}

/// Collects an event's fields as `,"key":value` entries, keeping numbers and
/// booleans as JSON numbers and booleans so LogQL can compare them.
#[derive(Default)]
struct FieldWriter {
    message: String,
    entries: String,
}

impl FieldWriter {
    fn clear(&mut self) {
        self.message.clear();
        self.entries.clear();
    }

    fn key(&mut self, field: &Field) {
        self.entries.push(',');
        let name = field.name();
        if RESERVED_KEYS.contains(&name) {
            write_json_str(&mut self.entries, &format!("field.{name}"));
        } else {
            write_json_str(&mut self.entries, name);
        }
        self.entries.push(':');
    }
}

impl Visit for FieldWriter {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
            return;
        }
        self.key(field);
        self.entries.push('"');
        let _ = write!(JsonEscaper(&mut self.entries), "{value:?}");
        self.entries.push('"');
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
            return;
        }
        self.key(field);
        write_json_str(&mut self.entries, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.entries, "{value}");
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.entries, "{value}");
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.entries, "{value}");
        } else {
            // JSON has no NaN or infinity.
            let _ = write!(self.entries, "\"{value}\"");
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.entries.push_str(if value { "true" } else { "false" });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // The whole chain, "outer: inner: root", on one line.
        self.key(field);
        self.entries.push('"');
        let mut escaper = JsonEscaper(&mut self.entries);
        let _ = write!(escaper, "{value}");
        let mut source = value.source();
        while let Some(cause) = source {
            let _ = write!(escaper, ": {cause}");
            source = cause.source();
        }
        self.entries.push('"');
    }
}

/// Writes `value` as a quoted JSON string.
fn write_json_str(out: &mut String, value: &str) {
    out.push('"');
    let _ = JsonEscaper(out).write_str(value);
    out.push('"');
}

/// Escapes whatever is formatted through it as the inside of a JSON string.
/// Newlines and quotes in user input come out as `\n` and `\"`, so a value can
/// never end a log line early or forge a field.
struct JsonEscaper<'a>(&'a mut String);

impl fmt::Write for JsonEscaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s;
        while let Some(index) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            self.0.push_str(&rest[..index]);
            let c = rest.as_bytes()[index];
            match c {
                b'"' => self.0.push_str("\\\""),
                b'\\' => self.0.push_str("\\\\"),
                b'\n' => self.0.push_str("\\n"),
                b'\r' => self.0.push_str("\\r"),
                b'\t' => self.0.push_str("\\t"),
                _ => {
                    let _ = write!(self.0, "\\u{c:04x}");
                }
            }
            rest = &rest[index + 1..];
        }
        self.0.push_str(rest);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_strings_parse_back_to_the_original() {
        for original in [
            "plain",
            "quote \" and backslash \\",
            "new\nline\r\ttab",
            "\u{0}\u{1f} control",
            "unicode ✓ 🎲",
            "}\n{\"level\":\"ERROR\"",
        ] {
            let mut json = String::new();
            write_json_str(&mut json, original);
            assert!(!json.contains('\n'), "{json}");
            let parsed: String = serde_json::from_str(&json).unwrap();
            assert_eq!(parsed, original);
        }
    }

    #[test]
    fn warn_is_spelled_warning() {
        assert_eq!(level_name(Level::WARN), "WARNING");
    }
}
