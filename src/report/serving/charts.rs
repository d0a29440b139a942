//! The serving report's charts: latency CDFs per deployment against the
//! targets, and rates and latencies over time.

use super::super::chart::{render_stacked, LineChart, Mark, Reference, Series};
use crate::serve::histogram::Histogram;
use crate::serve::metrics::Tally;

use super::series::{series_points, SeriesPoint};
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
