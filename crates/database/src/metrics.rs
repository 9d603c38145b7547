use prometheus::core::{Collector, Desc};
use prometheus::proto::MetricFamily;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};
use sqlx::PgPool;

/// Queries by type and outcome, and their duration.
#[derive(Clone)]
pub(crate) struct QueryMetrics {
    queries: IntCounterVec,
    duration: HistogramVec,
}

impl QueryMetrics {
    pub(crate) fn register(registry: &Registry) -> prometheus::Result<Self> {
        let queries = IntCounterVec::new(
            Opts::new(
                "database_queries_total",
                "Database queries by type and result (success, error).",
            ),
            &["query_type", "result"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "database_query_duration_seconds",
                "Time a query took, waiting for a connection included.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["query_type"],
        )?;
        registry.register(Box::new(queries.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { queries, duration })
    }

    pub(crate) fn record(&self, query_type: &str, succeeded: bool, seconds: f64) {
        let result = if succeeded { "success" } else { "error" };
        self.queries.with_label_values(&[query_type, result]).inc();
        self.duration
            .with_label_values(&[query_type])
            .observe(seconds);
    }
}

/// The pool's own counters, read at every scrape.
pub(crate) struct PoolGauges {
    pool: PgPool,
    size: IntGauge,
    available: IntGauge,
    max: IntGauge,
}

impl PoolGauges {
    pub(crate) fn new(pool: PgPool, max_connections: u32) -> prometheus::Result<Self> {
        let max = IntGauge::new(
            "database_connection_pool_max",
            "Connections the pool may open at most.",
        )?;
        max.set(i64::from(max_connections));
        Ok(Self {
            pool,
            size: IntGauge::new(
                "database_connection_pool_size",
                "Connections open now, idle or in use.",
            )?,
            available: IntGauge::new(
                "database_connection_pool_available",
                "Open connections idle and ready for a query.",
            )?,
            max,
        })
    }
}

impl Collector for PoolGauges {
    fn desc(&self) -> Vec<&Desc> {
        [&self.size, &self.available, &self.max]
            .into_iter()
            .flat_map(|gauge| gauge.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.size.set(i64::from(self.pool.size()));
        self.available.set(self.pool.num_idle() as i64);
        [&self.size, &self.available, &self.max]
            .into_iter()
            .flat_map(|gauge| gauge.collect())
            .collect()
    }
}
