//! The tables of one simulation run.

use std::collections::BTreeMap;

use crate::profile::Precision;
use crate::sim::fill::FillPoint;
use crate::sim::{ClassCounts, RunResult, Sample};
use crate::workload::Skipped;

use super::chart::{render_stacked, LineChart, Series};
use super::{count, csv_text, decimal, measure, text, MetricRows, MetricValue};

/// What a run was, for the head of its reports.
#[derive(Debug, Clone)]
pub struct RunHeader {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Policy name.
    pub policy: String,
    /// Fleet description.
    pub fleet: String,
    /// Workload description.
    pub workload: String,
    /// Records the workload skipped.
    pub skipped: Vec<Skipped>,
    /// Whether precision fallback was on.
    pub precision_fallback: bool,
}

/// `(metric, value)` rows of a run, in a fixed order: what `metrics.csv`
/// holds and the summary table shows.
pub fn summary_rows(header: &RunHeader, result: &RunResult) -> MetricRows {
    let s = &result.summary;
    let t = &s.totals;
    let mut rows: MetricRows = vec![
        ("scenario".into(), text(&header.scenario)),
        ("seed".into(), count(header.seed)),
        ("policy".into(), text(&header.policy)),
        ("fleet".into(), text(&header.fleet)),
        ("workload".into(), text(&header.workload)),
        (
            "measured_from_hours".into(),
            measure(s.measured_from.as_hours_f64()),
        ),
        ("end_hours".into(), measure(s.end.as_hours_f64())),
        ("arrivals".into(), count(t.arrived)),
        ("placed".into(), count(t.placed)),
        ("rejected_no_capacity".into(), count(t.rejected[0])),
        ("rejected_never_fits".into(), count(t.rejected[1])),
        ("rejected_invalid".into(), count(t.rejected[2])),
        ("fit_rate".into(), measure(t.fit_rate())),
    ];
    if header.precision_fallback {
        rows.push(("placed_by_fallback".into(), count(t.fallback)));
        let without = if t.arrived == 0 {
            1.0
        } else {
            (t.placed - t.fallback) as f64 / t.arrived as f64
        };
        rows.push(("fit_rate_without_fallback".into(), measure(without)));
    }
    for (precision, counts) in by_precision(result) {
        rows.push((format!("fit_rate_{precision}"), measure(counts.fit_rate())));
    }
    rows.extend([
        ("departures".into(), count(s.departures)),
        ("live_at_end".into(), count(s.live_at_end)),
        ("live_mean".into(), measure(s.live_mean)),
        ("live_peak".into(), count(s.live_peak)),
        ("gpus_busy_mean".into(), measure(s.gpus_busy_mean)),
        ("gpus_busy_peak".into(), count(s.gpus_busy_peak)),
        ("gpus_online_mean".into(), measure(s.gpus_online_mean)),
        ("gpus_online_peak".into(), count(s.gpus_online_peak)),
        ("gpu_hours_busy".into(), measure(s.gpu_hours_busy)),
        ("gpu_hours_online".into(), measure(s.gpu_hours_online)),
        ("utilisation_mean".into(), measure(s.utilisation_mean)),
        ("utilisation_peak".into(), measure(s.utilisation_peak)),
        ("used_gib_mean".into(), measure(s.used_gib_mean)),
        ("used_gib_peak".into(), measure(s.used_gib_peak)),
        ("fragmentation_mean".into(), measure(s.fragmentation_mean)),
        ("fragmentation_peak".into(), measure(s.fragmentation_peak)),
        ("fragmentation_end".into(), measure(s.fragmentation_end)),
        (
            "expected_fragmentation_mean".into(),
            measure(s.expected_fragmentation_mean),
        ),
        ("gpus_added".into(), count(s.gpus_added)),
        ("gpus_released".into(), count(s.gpus_released)),
        ("events".into(), count(s.events)),
    ]);
    if s.series_truncated {
        rows.push((
            "timeseries_truncated_at_samples".into(),
            count(crate::sim::MAX_SAMPLES),
        ));
    }
    for skipped in &header.skipped {
        rows.push((format!("skipped: {}", skipped.what), count(skipped.rows)));
    }
    rows
}

/// Counts summed per precision (model classes only), FP16 first.
fn by_precision(result: &RunResult) -> Vec<(Precision, ClassCounts)> {
    Precision::ALL
        .iter()
        .filter_map(|&p| {
            let mut total = ClassCounts::default();
            let mut any = false;
            for class in result.classes.iter().filter(|c| c.precision == Some(p)) {
                any = true;
                add(&mut total, &class.counts);
            }
            any.then_some((p, total))
        })
        .collect()
}

fn add(total: &mut ClassCounts, counts: &ClassCounts) {
    total.arrived += counts.arrived;
    total.placed += counts.placed;
    for (t, c) in total.rejected.iter_mut().zip(counts.rejected) {
        *t += c;
    }
    total.fallback += counts.fallback;
}

/// `metrics.csv`: one `metric,value` row per summary figure.
pub fn metrics_csv(header: &RunHeader, result: &RunResult) -> String {
    rows_csv(&summary_rows(header, result))
}

const COUNT_COLUMNS: [&str; 7] = [
    "arrived",
    "placed",
    "rejected_no_capacity",
    "rejected_never_fits",
    "rejected_invalid",
    "fit_rate",
    "placed_by_fallback",
];

fn count_cells(c: &ClassCounts) -> Vec<String> {
    vec![
        c.arrived.to_string(),
        c.placed.to_string(),
        c.rejected[0].to_string(),
        c.rejected[1].to_string(),
        c.rejected[2].to_string(),
        decimal(c.fit_rate()),
        c.fallback.to_string(),
    ]
}

/// `fit_by_class.csv`: one row per class (model and precision), in order of
/// first appearance.
pub fn by_class_csv(result: &RunResult) -> String {
    let header: Vec<&str> = ["class", "precision"]
        .into_iter()
        .chain(COUNT_COLUMNS)
        .collect();
    csv_text(
        &header,
        result.classes.iter().map(|c| {
            let mut row = vec![
                c.name.clone(),
                c.precision.map_or(String::new(), |p| p.to_string()),
            ];
            row.extend(count_cells(&c.counts));
            row
        }),
    )
}

/// `fit_by_model.csv`: classes summed over precisions, by name.
pub fn by_model_csv(result: &RunResult) -> String {
    let mut models: BTreeMap<&str, ClassCounts> = BTreeMap::new();
    for class in &result.classes {
        add(models.entry(&class.name).or_default(), &class.counts);
    }
    let header: Vec<&str> = ["model"].into_iter().chain(COUNT_COLUMNS).collect();
    csv_text(
        &header,
        models.into_iter().map(|(name, counts)| {
            let mut row = vec![name.to_string()];
            row.extend(count_cells(&counts));
            row
        }),
    )
}

/// `timeseries.csv`: the sampled state of the fleet.
pub fn timeseries_csv(result: &RunResult) -> String {
    csv_text(
        &[
            "hours",
            "gpus_busy",
            "gpus_online",
            "live",
            "used_gib",
            "utilisation",
            "fragmentation",
            "expected_fragmentation",
            "arrivals",
            "placed",
            "rejected",
            "departures",
        ],
        result.series.iter().map(|s| {
            vec![
                decimal(s.time.as_hours_f64()),
                s.gpus_busy.to_string(),
                s.gpus_online.to_string(),
                s.live.to_string(),
                decimal(s.used.as_gib()),
                decimal(s.utilisation),
                decimal(s.fragmentation),
                decimal(s.expected_fragmentation),
                s.arrivals.to_string(),
                s.placed.to_string(),
                s.rejected.to_string(),
                s.departures.to_string(),
            ]
        }),
    )
}

/// `fill.csv`: the fill experiment's curve.
pub fn fill_csv(points: &[FillPoint]) -> String {
    csv_text(
        &[
            "requested",
            "allocated",
            "placed",
            "rejected",
            "gpus_busy",
            "fragmentation",
        ],
        points.iter().map(|p| {
            vec![
                decimal(p.requested),
                decimal(p.allocated),
                p.placed.to_string(),
                p.rejected.to_string(),
                p.gpus_busy.to_string(),
                decimal(p.fragmentation),
            ]
        }),
    )
}

/// `(metric, value)` rows of a fill experiment: its header and where the
/// fill stopped (the last point).
pub fn fill_summary_rows(header: &RunHeader, points: &[FillPoint]) -> MetricRows {
    let mut rows = vec![
        ("scenario".to_string(), text(&header.scenario)),
        ("seed".into(), count(header.seed)),
        ("policy".into(), text(&header.policy)),
        ("fleet".into(), text(&header.fleet)),
        ("workload".into(), text(&header.workload)),
    ];
    if let Some(p) = points.last() {
        rows.extend([
            ("requested_share".into(), measure(p.requested)),
            ("allocation_ratio".into(), measure(p.allocated)),
            ("placed".into(), count(p.placed)),
            ("rejected".into(), count(p.rejected)),
            ("gpus_busy".into(), count(p.gpus_busy)),
            ("fragmentation".into(), measure(p.fragmentation)),
        ]);
    }
    rows
}

/// `metrics.csv` from `(metric, value)` rows.
pub fn rows_csv(rows: &[(String, MetricValue)]) -> String {
    csv_text(
        &["metric", "value"],
        rows.iter().map(|(k, v)| vec![k.clone(), v.to_string()]),
    )
}

/// `timeseries.svg`: GPUs busy and online above; memory utilisation and
/// both fragmentation measures below; `None` with fewer than two samples.
pub fn timeseries_chart(header: &RunHeader, result: &RunResult) -> Option<String> {
    if result.series.len() < 2 {
        return None;
    }
    let line = |name: &str, value: &dyn Fn(&Sample) -> f64| Series {
        name: name.to_string(),
        points: result
            .series
            .iter()
            .map(|s| (s.time.as_hours_f64(), value(s)))
            .collect(),
    };
    let gpus = LineChart {
        title: format!("{}: GPUs over time (seed {})", header.scenario, header.seed),
        x_label: "simulated hours".into(),
        y_label: "GPUs".into(),
        series: vec![
            line("GPUs holding a replica", &|s| f64::from(s.gpus_busy)),
            line("GPUs online", &|s| f64::from(s.gpus_online)),
        ],
        ..LineChart::default()
    };
    let shares = LineChart {
        title: format!("{}: memory over time", header.scenario),
        x_label: "simulated hours".into(),
        y_label: "share".into(),
        series: vec![
            line("utilisation (used / online)", &|s| s.utilisation),
            line("fragmentation (stranded / free)", &|s| s.fragmentation),
            line("expected fragmentation (FGD)", &|s| {
                s.expected_fragmentation
            }),
        ],
        ..LineChart::default()
    };
    Some(render_stacked(&[gpus, shares]))
}

/// `fill.svg`: the fill experiment's allocation ratio against the share of
/// capacity requested; `None` with fewer than two points.
pub fn fill_chart(header: &RunHeader, points: &[FillPoint]) -> Option<String> {
    if points.len() < 2 {
        return None;
    }
    let line = |name: &str, value: fn(&FillPoint) -> f64| Series {
        name: name.to_string(),
        points: points.iter().map(|p| (p.requested, value(p))).collect(),
    };
    Some(
        LineChart {
            title: format!(
                "{}: fill experiment ({}, seed {})",
                header.scenario, header.policy, header.seed
            ),
            x_label: "memory requested / capacity".into(),
            y_label: "share".into(),
            series: vec![
                line("allocation ratio (placed / capacity)", |p| p.allocated),
                line("fragmentation (stranded / free)", |p| p.fragmentation),
            ],
            ..LineChart::default()
        }
        .render(),
    )
}
