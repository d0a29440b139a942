//! The serving report's charts: latency CDFs per deployment against the
//! targets, and rates and latencies over time.

use super::super::chart::{render_stacked, LineChart, Mark, Reference, Series};
use crate::serve::histogram::Histogram;
use crate::serve::metrics::{Point, Tally};

use super::ServeRun;

/// `latency.svg`: TTFT and TPOT CDFs per deployment, the targets marked;
/// `None` when nothing finished.
pub fn latency_chart(run: &ServeRun) -> Option<String> {
    let tallies = &run.outcome.deployments;
    if tallies.iter().all(|t| t.finished == 0) {
        return None;
    }
    let cdf_chart = |title: &str,
                     unit: f64,
                     unit_name: &str,
                     target: Option<f64>,
                     target_text: &str,
                     pick: &dyn Fn(&Tally) -> &Histogram| {
        let mut series = Vec::new();
        let mut marks = Vec::new();
        for (d, tally) in run.deployments.iter().zip(tallies) {
            let h = pick(tally);
            if h.count() == 0 {
                continue;
            }
            if let Some(t) = target {
                let share = h.share_at_most(t);
                marks.push(Mark {
                    series: series.len(),
                    at: (t * unit, share),
                    legend: Some(format!("{:.1}% within {target_text}", share * 100.0)),
                });
            }
            series.push(Series {
                name: d.name(),
                points: h.cdf().into_iter().map(|(x, y)| (x * unit, y)).collect(),
            });
        }
        LineChart {
            title: format!("{}: {title} (seed {})", run.scenario, run.seed),
            x_label: unit_name.into(),
            y_label: "share of requests at or below".into(),
            series,
            reference: Some(Reference {
                y: run.slo.percentile,
                label: format!("p{} target share", run.slo.percentile * 100.0),
            }),
            marks,
            ..Default::default()
        }
    };
    Some(render_stacked(&[
        cdf_chart(
            "time to first token, CDF",
            1.0,
            "seconds",
            run.slo.ttft,
            &run.slo.ttft.map_or(String::new(), |t| format!("{t} s")),
            &|t| &t.ttft,
        ),
        cdf_chart(
            "time per output token, CDF",
            1000.0,
            "milliseconds",
            run.slo.tpot,
            &run.slo
                .tpot
                .map_or(String::new(), |t| format!("{} ms", t * 1e3)),
            &|t| &t.tpot,
        ),
    ]))
}

/// `over_time.svg`: TTFT and TPOT percentiles against time with their
/// targets, arrival and completion rates, and requests in the system;
/// `None` with fewer than two points. An interval without a first token
/// (or a finished request) has no latency point; the last interval's
/// rates are over the part of it the run covered.
pub fn over_time_chart(run: &ServeRun) -> Option<String> {
    let points = series_points(run);
    if points.len() < 2 {
        return None;
    }
    let line = |name: &str, value: &dyn Fn(&SeriesPoint) -> Option<f64>| Series {
        name: name.to_string(),
        points: points
            .iter()
            .filter_map(|p| value(p).map(|v| (p.middle_s / 60.0, v)))
            .collect(),
    };
    let chart = |title: String, y_label: &str, series: Vec<Series>, reference| LineChart {
        title,
        x_label: "simulated minutes".into(),
        y_label: y_label.into(),
        series,
        reference,
        ..LineChart::default()
    };
    let ttft = chart(
        format!(
            "{}: time to first token over time (seed {})",
            run.scenario, run.seed
        ),
        "seconds",
        vec![
            line("TTFT p50", &|p| p.ttft.map(|q| q.0)),
            line("TTFT p99", &|p| p.ttft.map(|q| q.1)),
        ],
        run.slo.ttft.map(|t| Reference {
            y: t,
            label: format!("target {t} s"),
        }),
    );
    let tpot = chart(
        format!("{}: time per output token over time", run.scenario),
        "milliseconds",
        vec![
            line("TPOT p50", &|p| p.tpot.map(|q| q.0 * 1e3)),
            line("TPOT p99", &|p| p.tpot.map(|q| q.1 * 1e3)),
        ],
        run.slo.tpot.map(|t| Reference {
            y: t * 1e3,
            label: format!("target {} ms", t * 1e3),
        }),
    );
    let rates = chart(
        format!("{}: requests per second over time", run.scenario),
        "requests per second",
        vec![
            line("arrivals/s", &|p| Some(p.arrivals_per_s)),
            line("finished/s", &|p| Some(p.finished_per_s)),
        ],
        None,
    );
    let in_system = chart(
        format!("{}: requests in the system over time", run.scenario),
        "requests (mean over the interval)",
        vec![line("waiting or running", &|p| Some(p.in_system))],
        None,
    );
    Some(render_stacked(&[ttft, tpot, rates, in_system]))
}

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
