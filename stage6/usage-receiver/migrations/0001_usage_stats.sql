-- Stage 6: one row per usage event, the event itself kept whole as JSONB,
-- with the columns an analyst filters and groups by pulled out beside it.
CREATE TABLE usage_stats (
    id BIGSERIAL PRIMARY KEY,
    -- SHA-256 of the log line: a batch the sender retries stores nothing twice.
    event_key TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    user_name TEXT,
    session_key TEXT,
    service TEXT,
    trace_id TEXT,
    occurred_at TIMESTAMPTZ NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    event JSONB NOT NULL
);

CREATE INDEX usage_stats_occurred_at ON usage_stats (occurred_at);
CREATE INDEX usage_stats_event_type ON usage_stats (event_type, occurred_at);
CREATE INDEX usage_stats_user_name ON usage_stats (user_name, occurred_at);
