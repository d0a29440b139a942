//! The serving report's charts: latency CDFs per deployment against the
//! targets, and rates and latencies over time.

use super::super::chart::{render_stacked, LineChart, Mark, Reference, Series};
use crate::serve::histogram::Histogram;
use crate::serve::metrics::Tally;

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
                     pick: &dyn Fn(&Tally) -> &Histogram| {
        let mut series = Vec::new();
        let mut marks = Vec::new();
        for (d, tally) in run.deployments.iter().zip(tallies) {
            let h = pick(tally);
            if h.count() == 0 {
                continue;
            }
            if let Some(t) = target {
                marks.push(Mark {
                    series: series.len(),
                    at: (t * unit, h.share_at_most(t)),
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
            &|t| &t.ttft,
        ),
        cdf_chart(
            "time per output token, CDF",
            1000.0,
            "milliseconds",
            run.slo.tpot,
            &|t| &t.tpot,
        ),
    ]))
}

/// `over_time.svg`: TTFT and TPOT percentiles against time with their
/// targets, and arrivals, completions and requests in the system; `None`
/// with fewer than two points.
pub fn over_time_chart(run: &ServeRun) -> Option<String> {
    let series = &run.outcome.series;
    if series.points().len() < 2 {
        return None;
    }
    let interval = series.interval() as f64 / 1e9;
    let minutes = |i: usize| (series.start() as f64 / 1e9 + (i as f64 + 0.5) * interval) / 60.0;
    let line = |name: &str, value: &dyn Fn(&crate::serve::metrics::Point) -> f64| Series {
        name: name.to_string(),
        points: series
            .points()
            .iter()
            .enumerate()
            .map(|(i, p)| (minutes(i), value(p)))
            .collect(),
    };
    let ttft = LineChart {
        title: format!(
            "{}: time to first token over time (seed {})",
            run.scenario, run.seed
        ),
        x_label: "simulated minutes".into(),
        y_label: "seconds".into(),
        series: vec![
            line("TTFT p50", &|p| p.ttft.quantile(0.5)),
            line("TTFT p99", &|p| p.ttft.quantile(0.99)),
        ],
        reference: run.slo.ttft.map(|t| Reference {
            y: t,
            label: format!("target {t} s"),
        }),
        marks: Vec::new(),
        ..Default::default()
    };
    let tpot = LineChart {
        title: format!("{}: time per output token over time", run.scenario),
        x_label: "simulated minutes".into(),
        y_label: "milliseconds".into(),
        series: vec![
            line("TPOT p50", &|p| p.tpot.quantile(0.5) * 1e3),
            line("TPOT p99", &|p| p.tpot.quantile(0.99) * 1e3),
        ],
        reference: run.slo.tpot.map(|t| Reference {
            y: t * 1e3,
            label: format!("target {} ms", t * 1e3),
        }),
        marks: Vec::new(),
        ..Default::default()
    };
    let load = LineChart {
        title: format!("{}: load over time", run.scenario),
        x_label: "simulated minutes".into(),
        y_label: "requests per second / requests".into(),
        series: vec![
            line("arrivals/s", &|p| p.arrivals as f64 / interval),
            line("finished/s", &|p| p.finished as f64 / interval),
            line("requests in the system", &|p| p.in_system / 1e9 / interval),
        ],
        ..LineChart::default()
    };
    Some(render_stacked(&[ttft, tpot, load]))
}
