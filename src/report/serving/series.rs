//! A serving run's series as CSV: over time (one row per interval) and
//! over requests (each latency's distribution).

use crate::serve::histogram::Histogram;
use crate::serve::metrics::Point;

use super::super::{csv_text, decimal};
use super::ServeRun;

/// One interval of the time series as reports show it.
pub(super) struct SeriesPoint {
    /// Interval start, seconds.
    pub start_s: f64,
    /// Middle of the part of it the run covered, seconds.
    pub middle_s: f64,
    pub arrivals_per_s: f64,
    pub finished_per_s: f64,
    pub output_tokens_per_s: f64,
    /// Mean requests in the system.
    pub in_system: f64,
    /// TTFT p50 and p99, seconds; `None` without a first token.
    pub ttft: Option<(f64, f64)>,
    /// TPOT p50 and p99, seconds; `None` without a finished request.
    pub tpot: Option<(f64, f64)>,
}

/// The run's time series to its end (intervals after the last event
/// included, empty), each interval's rates over the part of it before the
/// end (the last one may be cut short).
pub(super) fn series_points(run: &ServeRun) -> Vec<SeriesPoint> {
    let series = &run.outcome.series;
    let interval = series.interval() as f64 / 1e9;
    let end = run.outcome.window.1 as f64 / 1e9;
    let quantiles = |h: &Histogram| (h.count() > 0).then(|| (h.quantile(0.5), h.quantile(0.99)));
    let spanned = run.outcome.window.1.saturating_sub(series.start());
    let intervals = (spanned.div_ceil(series.interval()) as usize).max(series.points().len());
    let empty = Point::default();
    (0..intervals)
        .map(|i| (i, series.points().get(i).unwrap_or(&empty)))
        .map(|(i, p)| {
            let start_s = series.start() as f64 / 1e9 + i as f64 * interval;
            let covered = (end - start_s).clamp(f64::MIN_POSITIVE, interval);
            SeriesPoint {
                start_s,
                middle_s: start_s + covered / 2.0,
                arrivals_per_s: p.arrivals as f64 / covered,
                finished_per_s: p.finished as f64 / covered,
                output_tokens_per_s: p.tokens as f64 / covered,
                in_system: p.in_system / 1e9 / covered,
                ttft: quantiles(&p.ttft),
                tpot: quantiles(&p.tpot),
            }
        })
        .collect()
}

/// `timeseries.csv`: per interval, rates, requests in the system and
/// latency percentiles.
pub fn serving_timeseries_csv(run: &ServeRun) -> String {
    let optional = |value: Option<f64>| value.map_or(String::new(), decimal);
    let rows = series_points(run).into_iter().map(|p| {
        vec![
            decimal(p.start_s),
            decimal(p.arrivals_per_s),
            decimal(p.finished_per_s),
            decimal(p.output_tokens_per_s),
            decimal(p.in_system),
            optional(p.ttft.map(|q| q.0)),
            optional(p.ttft.map(|q| q.1)),
            optional(p.tpot.map(|q| q.0)),
            optional(p.tpot.map(|q| q.1)),
        ]
    });
    csv_text(
        &[
            "start_s",
            "arrivals_per_s",
            "finished_per_s",
            "output_tokens_per_s",
            "in_system_mean",
            "ttft_p50_s",
            "ttft_p99_s",
            "tpot_p50_s",
            "tpot_p99_s",
        ],
        rows,
    )
}

/// `latency_cdf.csv`: the empirical CDF of each latency, per deployment
/// (to the histogram's 0.5% resolution).
pub fn latency_cdf_csv(run: &ServeRun) -> String {
    let mut rows = Vec::new();
    for (d, tally) in run.deployments.iter().zip(&run.outcome.deployments) {
        for (metric, h) in [
            ("queue", &tally.queue),
            ("ttft", &tally.ttft),
            ("tpot", &tally.tpot),
            ("e2e", &tally.e2e),
        ] {
            rows.extend(
                h.cdf().into_iter().map(|(x, share)| {
                    vec![d.name(), metric.to_string(), decimal(x), decimal(share)]
                }),
            );
        }
    }
    csv_text(
        &["deployment", "metric", "seconds", "share_at_or_below"],
        rows,
    )
}
