//! One JSON object per log line, carrying the ids of the span it was written in.
//!
//! tracing-subscriber's own JSON format nests event fields, spells WARN where
//! the original workshop's LogQL expects WARNING, and knows nothing of OpenTelemetry ids
//! (docs/pitfalls.md#log-ids). This layer writes the shape docs/design.md#log-lines fixes:
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

/// What a thread reuses from one log line to the next.
#[derive(Default)]
struct LineBuffers {
    line: String,
    fields: FieldWriter,
    clock: Clock,
}

thread_local! {
    /// The line being assembled, the event's fields and the clock, reused
    /// across events so a log line costs no allocation once a thread has
    /// warmed up.
    static BUFFERS: RefCell<LineBuffers> = RefCell::new(LineBuffers {
        line: String::with_capacity(512),
        fields: FieldWriter::default(),
        clock: Clock::default(),
    });
}

impl<S, W> Layer<S> for JsonLogLayer<W>
where
    S: Subscriber,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let write_line = |buffers: &mut LineBuffers| {
            let LineBuffers {
                line,
                fields,
                clock,
            } = buffers;
            line.clear();
            fields.clear();
            event.record(fields);
            self.format(event, fields, clock, line);
            // A failed write (closed stdout) must not take the service down;
            // there is nowhere left to report it.
            let _ = self
                .make_writer
                .make_writer_for(event.metadata())
                .write_all(line.as_bytes());
        };
        BUFFERS.with(|buffers| match buffers.try_borrow_mut() {
            Ok(mut buffers) => write_line(&mut buffers),
            // Only reachable if writing a line itself logs; use fresh buffers.
            Err(_) => write_line(&mut LineBuffers::default()),
        });
    }
}

impl<W> JsonLogLayer<W> {
    fn format(
        &self,
        event: &Event<'_>,
        fields: &FieldWriter,
        clock: &mut Clock,
        line: &mut String,
    ) {
        let metadata = event.metadata();
        line.push_str("{\"timestamp\":\"");
        clock.write_now(line);
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
                line.push_str(",\"trace_id\":\"");
                push_hex(line, &span_context.trace_id().to_bytes());
                line.push_str("\",\"span_id\":\"");
                push_hex(line, &span_context.span_id().to_bytes());
                line.push('"');
            }
        });
        line.push_str("}\n");
    }
}

/// Upper-case level names as the original workshop's LogQL (`level="WARNING"`) expects.
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
        let needs_escape = |byte: u8| byte < 0x20 || byte == b'"' || byte == b'\\';
        // Most values (targets, messages, names) need no escape at all: check
        // without branching per byte, which the compiler turns into a few
        // vector instructions, and copy them in one go.
        if !s.bytes().fold(false, |any, byte| any | needs_escape(byte)) {
            self.0.push_str(s);
            return Ok(());
        }
        // Byte by byte: every byte that needs escaping is ASCII, so the runs
        // between them are whole UTF-8 sequences and are copied as they are.
        let mut start = 0;
        for (index, &byte) in s.as_bytes().iter().enumerate() {
            let escaped = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(&s[start..index]);
            if escaped.is_empty() {
                self.0.push_str("\\u00");
                push_hex_byte(self.0, byte);
            } else {
                self.0.push_str(escaped);
            }
            start = index + 1;
        }
        self.0.push_str(&s[start..]);
        Ok(())
    }
}

/// Appends `bytes` as lower-case hex, two digits a byte: how trace and span
/// ids are written, without the formatting machinery (`{:032x}` of a `u128`
/// costs several times as much).
fn push_hex(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        push_hex_byte(out, byte);
    }
}

fn push_hex_byte(out: &mut String, byte: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(char::from(DIGITS[usize::from(byte >> 4)]));
    out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
}

/// The RFC 3339 timestamp of a log line, to the microsecond, in UTC. The part
/// up to the second is formatted once a second per thread and reused; only
/// the microseconds are written for each line.
#[derive(Default)]
struct Clock {
    /// The second `prefix` shows, in seconds since the epoch.
    second: u64,
    /// `2026-11-25T03:17:21.`
    prefix: String,
}

impl Clock {
    fn write_now(&mut self, line: &mut String) {
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let second = since_epoch.as_secs();
        if second != self.second || self.prefix.is_empty() {
            self.second = second;
            self.prefix.clear();
            let whole = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(second);
            // `2026-11-25T03:17:21Z`: keep all but the zone, add the point.
            let _ = write!(self.prefix, "{}", humantime::format_rfc3339_seconds(whole));
            self.prefix.pop();
            self.prefix.push('.');
        }
        line.push_str(&self.prefix);
        let _ = write!(line, "{:06}Z", since_epoch.subsec_micros());
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
    fn ids_are_written_as_format_would() {
        let trace_id =
            opentelemetry::trace::TraceId::from(0x0102_a0ff_0000_0000_0000_0000_dead_beef_u128);
        let mut hex = String::new();
        push_hex(&mut hex, &trace_id.to_bytes());
        assert_eq!(hex, format!("{trace_id:032x}"));
        assert_eq!(hex, "0102a0ff0000000000000000deadbeef");
    }

    #[test]
    fn timestamps_are_rfc3339_microseconds_and_follow_the_clock() {
        let mut clock = Clock::default();
        for _ in 0..3 {
            let before = SystemTime::now();
            let mut line = String::new();
            clock.write_now(&mut line);
            assert_eq!(line.len(), "2026-11-25T03:17:21.953412Z".len(), "{line}");
            let parsed = humantime::parse_rfc3339(&line).unwrap();
            let after = SystemTime::now();
            // Truncated to the microsecond, so at most 1 µs before `before`.
            assert!(
                parsed + std::time::Duration::from_micros(1) >= before,
                "{line}"
            );
            assert!(parsed <= after, "{line}");
        }
        // A cached second that is not the current one is replaced.
        clock.second -= 1;
        let mut line = String::new();
        clock.write_now(&mut line);
        let parsed = humantime::parse_rfc3339(&line).unwrap();
        let skew = SystemTime::now().duration_since(parsed).unwrap();
        assert!(skew < std::time::Duration::from_secs(1), "{line}");
    }

    #[test]
    fn warn_is_spelled_warning() {
        assert_eq!(level_name(Level::WARN), "WARNING");
    }
}
