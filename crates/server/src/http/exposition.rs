//! `/metrics` in the OpenMetrics text format, through `prometheus-client`: what the
//! engine counts (`tessera_engine::metrics`), the index's tokens by status, the
//! change feed's lag and the connections, read at each scrape by one [`Collector`].
//! The counting itself stays in the engine's plain atomics, so that requests never
//! touch the exposition's types.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use tessera_engine::Engine;
use tessera_engine::metrics::{Endpoint, LATENCY_BOUNDS_US, LatencySnapshot, Outcome};

use crate::limits::ConnectionGate;

/// The content type of what [`render`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Everything `/metrics` shows, as one scrape reads it.
pub fn render(engine: Arc<Engine>, gate: Arc<ConnectionGate>) -> Result<String, fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { engine, gate }));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

struct Scrape {
    engine: Arc<Engine>,
    gate: Arc<ConnectionGate>,
}

/// `Collector` asks for `Debug`; a scrape has nothing worth printing.
impl fmt::Debug for Scrape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrape")
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let engine = &self.engine;
        let counted = engine.metrics();
        gauge(
            &mut encoder,
            "tessera_build_info",
            "The running tessera's version.",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        )?;

        let mut family = encoder.encode_descriptor(
            "tessera_checks",
            "Answers of the endpoints that decide whether a request may pass, by endpoint (verify, forward_auth, gateway) and outcome (valid, invalid, forbidden, limited, error).",
            None,
            MetricType::Counter,
        )?;
        for endpoint in Endpoint::ALL {
            for outcome in Outcome::ALL {
                let labels = [("endpoint", endpoint.label()), ("outcome", outcome.label())];
                ConstCounter::new(counted.answers.answers(endpoint, outcome))
                    .encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "tessera_check_duration",
            "How long those endpoints took to answer, from the request's head to the answer (the gateway: to its decision, not the upstream's answer).",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for endpoint in Endpoint::ALL {
            let labels = [("endpoint", endpoint.label())];
            histogram(
                family.encode_family(&labels)?,
                &counted.answers.latency(endpoint),
            )?;
        }

        let written = encoder.encode_descriptor(
            "tessera_store_write_duration",
            "How long each durable write (a group of writes, on PostgreSQL) took to commit.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        histogram(written, &counted.store_writes.snapshot())?;

        let mut family = encoder.encode_descriptor(
            "tessera_tokens",
            "Tokens in this node's index, by status.",
            None,
            MetricType::Gauge,
        )?;
        for (status, count) in engine.index().count_by_status(engine.now_ms()) {
            let labels = [("status", status.as_str())];
            ConstGauge::new(count).encode(family.encode_family(&labels)?)?;
        }

        let (behind, behind_for) = engine.feed_lag();
        let applied = u64::try_from(engine.applied_seq()).unwrap_or(0);
        for (name, help, value) in [
            (
                "tessera_change_seq",
                "The store's change number up to which this node's index holds every write.",
                applied,
            ),
            (
                "tessera_feed_behind_changes",
                "Changes the store announced that this node has not applied yet.",
                behind,
            ),
        ] {
            gauge(&mut encoder, name, help, &[], value)?;
        }
        let lag = encoder.encode_descriptor(
            "tessera_feed_lag",
            "How long this node has trailed the change feed (0 when it has applied every change announced).",
            Some(&Unit::Seconds),
            MetricType::Gauge,
        )?;
        ConstGauge::new(behind_for.as_secs_f64()).encode(lag)?;

        for (name, help, value) in [
            (
                "tessera_feed_failures",
                "Attempts to read the change feed that failed (database unreachable).",
                counted.feed_failures.get(),
            ),
            (
                "tessera_rate_limiter_failures",
                "Checks the shared limiter (Redis) could not answer: rate limits and usage caps fell back to redis_failure.",
                counted.rate_limiter_failures.get(),
            ),
            (
                "tessera_failed_authentications",
                "Tokens presented that did not work (unknown, malformed, expired, revoked).",
                counted.failed_authentications.get(),
            ),
            (
                "tessera_connections_refused",
                "Connections closed at accept: max_connections or max_connections_per_address was reached.",
                self.gate.refused(),
            ),
            (
                "tessera_connections_timed_out",
                "Connections closed because a request's head or body did not arrive in time.",
                self.gate.timed_out(),
            ),
        ] {
            let family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            ConstCounter::new(value).encode(family)?;
        }
        let deliveries = encoder.encode_descriptor(
            "tessera_webhook_deliveries",
            "Webhook delivery attempts: delivered, retry (refused or unreachable, tried again later), failed (given up after a day).",
            None,
            MetricType::Counter,
        )?;
        let mut deliveries = deliveries;
        for ((_, result), counted) in tessera_engine::metrics::WEBHOOK_RESULTS
            .iter()
            .zip(&counted.webhook_deliveries)
        {
            let labels = [("result", *result)];
            ConstCounter::new(counted.get()).encode(deliveries.encode_family(&labels)?)?;
        }
        gauge(
            &mut encoder,
            "tessera_connections_open",
            "Client connections open now, on every listener.",
            &[],
            u64::try_from(self.gate.open()).unwrap_or(u64::MAX),
        )
    }
}

/// One gauge, with `labels` when it has any.
fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    labels: &[(&str, &str)],
    value: u64,
) -> Result<(), fmt::Error> {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    if labels.is_empty() {
        ConstGauge::new(value).encode(family)
    } else {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)
    }
}

/// A latency histogram in seconds, from the engine's cumulative microsecond counts.
fn histogram(
    mut metric: prometheus_client::encoding::MetricEncoder<'_>,
    snapshot: &LatencySnapshot,
) -> Result<(), fmt::Error> {
    // The encoder adds the buckets up itself: give it each bucket's own count.
    let mut buckets: Vec<(f64, u64)> = Vec::with_capacity(LATENCY_BOUNDS_US.len() + 1);
    let mut below = 0;
    for (bound, cumulative) in LATENCY_BOUNDS_US.iter().zip(snapshot.cumulative) {
        buckets.push((*bound as f64 / 1e6, cumulative - below));
        below = cumulative;
    }
    // `f64::MAX` is how the encoder writes `+Inf`.
    buckets.push((f64::MAX, snapshot.count - below));
    metric.encode_histogram::<NoLabelSet>(
        snapshot.sum.as_secs_f64(),
        snapshot.count,
        &buckets,
        None,
    )
}
