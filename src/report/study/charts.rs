//! The charts of sweeps and plans.

use crate::profile::Precision;
use crate::schedule::Policy;
use crate::sweep::{Cell, Needed, PlanRow, PointSummary};

use super::super::chart::{LineChart, Mark, Reference, Series};
use super::needed::{needed_from_sweep, SweptNeed};
use super::{setup, Setup, StudyHeader};

/// The sweep's charts: fit rate against fleet size for each policy (one
/// line per layout and pure precision), and GPUs needed against the INT4
/// share on the FP16-INT4 edge. Empty when the grid has one fleet size.
pub fn sweep_charts(header: &StudyHeader, points: &[PointSummary]) -> Vec<(String, String)> {
    let needed = needed_from_sweep(points, header.target_fit);
    let answer = |cell: &Cell| {
        needed.iter().find_map(|(s, m, n)| match n {
            SweptNeed::Within { gpus, .. } if *s == setup(cell) && *m == cell.mix => Some(*gpus),
            _ => None,
        })
    };
    let entries: Vec<Entry> = points
        .iter()
        .map(|p| Entry {
            cell: &p.cell,
            gpus: p.cell.gpus.unwrap_or(0),
            fit: p.fit.mean,
            answer: answer(&p.cell),
        })
        .collect();
    let mut charts = fit_vs_gpus_charts(header, &entries);
    if charts.is_empty() {
        // One fleet size: how the fit rate moves with the INT4 share instead.
        return fit_vs_int4_chart(header, points)
            .map(|c| vec![("fit-vs-int4.svg".to_string(), c)])
            .unwrap_or_default();
    }
    let edge: Vec<(Setup, f64, u32)> = needed
        .iter()
        .filter_map(|(s, m, n)| match (m, n) {
            (Some(m), SweptNeed::Within { gpus, .. }) if m.share(Precision::Int8) == 0.0 => {
                Some((s.clone(), m.share(Precision::Int4), *gpus))
            }
            _ => None,
        })
        .collect();
    if let Some(chart) = gpus_vs_int4_chart(header, &edge) {
        charts.push(("gpus-vs-int4.svg".into(), chart));
    }
    charts
}

/// One fleet size a study ran for a grid point.
struct Entry<'a> {
    /// The point.
    cell: &'a Cell,
    /// The fleet size.
    gpus: u32,
    /// Its mean fit rate.
    fit: f64,
    /// The GPUs the point needs, if the study found the number.
    answer: Option<u32>,
}

/// The target line of fit-rate charts.
fn target(header: &StudyHeader) -> Reference {
    Reference {
        y: header.target_fit,
        label: format!("target fit rate {}", header.target_fit),
    }
}

/// Fit rate against fleet size, one chart per policy, one line per layout
/// and pure precision (or per layout when the workload's mix is not swept),
/// each line's answer marked; none without at least two fleet sizes.
fn fit_vs_gpus_charts(header: &StudyHeader, entries: &[Entry]) -> Vec<(String, String)> {
    let first_size = entries.first().map(|e| e.gpus);
    if entries.iter().all(|e| Some(e.gpus) == first_size) {
        return Vec::new();
    }
    let mut policies: Vec<Policy> = Vec::new();
    for entry in entries {
        if !policies.contains(&entry.cell.policy) {
            policies.push(entry.cell.policy);
        }
    }
    // Pure precisions only (or the workload's own mix).
    let name = |cell: &Cell| {
        let precision = match cell.mix {
            None => String::new(),
            Some(m) => format!(" {}", m.as_pure()?),
        };
        Some(format!("{} {}{precision}", cell.kind, cell.layout))
    };
    let mut charts = Vec::new();
    for policy in policies {
        let of_policy = || entries.iter().filter(move |e| e.cell.policy == policy);
        let series = Series::group(
            of_policy().filter_map(|e| Some((name(e.cell)?, (f64::from(e.gpus), e.fit)))),
        );
        if series.is_empty() {
            continue;
        }
        let marks = of_policy()
            .filter(|e| e.answer == Some(e.gpus))
            .filter_map(|e| {
                let label = name(e.cell)?;
                Some(Mark {
                    series: series.iter().position(|s| s.name == label)?,
                    at: (f64::from(e.gpus), e.fit),
                    legend: None,
                })
            })
            .collect();
        let chart = LineChart {
            title: format!(
                "{}: fit rate against fleet size ({policy})",
                header.scenario
            ),
            x_label: "GPUs (marked: the fewest that reach the target)".into(),
            y_label: "fit rate (mean over seeds)".into(),
            series,
            reference: Some(target(header)),
            marks,
            ..Default::default()
        };
        charts.push((format!("fit-vs-gpus-{policy}.svg"), chart.render()));
    }
    charts
}

/// Fit rate against the INT4 share (mixes without INT8), one line per
/// setup and fleet size; `None` without two such mixes.
fn fit_vs_int4_chart(header: &StudyHeader, points: &[PointSummary]) -> Option<String> {
    let mut series = Series::group(points.iter().filter_map(|p| {
        let mix = p.cell.mix.filter(|m| m.share(Precision::Int8) == 0.0)?;
        let name = format!(
            "{} {} {} x {}",
            p.cell.kind,
            p.cell.layout,
            p.cell.policy,
            p.cell.gpus.unwrap_or(0)
        );
        Some((name, (mix.share(Precision::Int4), p.fit.mean)))
    }));
    series.retain(|s| s.points.len() >= 2);
    if series.is_empty() {
        return None;
    }
    Some(
        LineChart {
            title: format!("{}: fit rate against INT4 share", header.scenario),
            x_label: "INT4 share of deployments (rest FP16)".into(),
            y_label: "fit rate (mean over seeds)".into(),
            series,
            reference: Some(target(header)),
            marks: Vec::new(),
            ..Default::default()
        }
        .render(),
    )
}

/// GPUs needed against INT4 share, one line per setup; `None` without a
/// mix strictly between FP16 and INT4 (a line through the two pure ends
/// alone would draw mixes nobody ran; the tables give pure answers,
/// INT8's too).
fn gpus_vs_int4_chart(header: &StudyHeader, edge: &[(Setup, f64, u32)]) -> Option<String> {
    let mut series = Series::group(edge.iter().map(|(s, int4, gpus)| {
        (
            format!("{} {} {}", s.0, s.1, s.2),
            (*int4, f64::from(*gpus)),
        )
    }));
    series.retain(|s| {
        s.points.iter().any(|&(int4, _)| int4 > 0.0 && int4 < 1.0) && s.points.len() >= 3
    });
    if series.is_empty() {
        return None;
    }
    Some(
        LineChart {
            title: format!(
                "{}: GPUs needed for fit rate {} against INT4 share",
                header.scenario, header.target_fit
            ),
            x_label: "INT4 share of deployments (rest FP16)".into(),
            y_label: "GPUs needed".into(),
            series,
            reference: None,
            marks: Vec::new(),
            ..Default::default()
        }
        .render(),
    )
}

/// The plan's charts: GPUs needed against the INT4 share, and the fit rate
/// at every fleet size the search ran.
pub fn plan_charts(header: &StudyHeader, rows: &[PlanRow]) -> Vec<(String, String)> {
    let edge: Vec<(Setup, f64, u32)> = rows
        .iter()
        .filter_map(|r| match (r.cell.mix, r.needed) {
            (Some(m), Needed::Gpus(g)) if m.share(Precision::Int8) == 0.0 => {
                Some((setup(&r.cell), m.share(Precision::Int4), g))
            }
            _ => None,
        })
        .collect();
    let mut charts: Vec<(String, String)> = gpus_vs_int4_chart(header, &edge)
        .map(|c| vec![("gpus-vs-int4.svg".to_string(), c)])
        .unwrap_or_default();
    let entries: Vec<Entry> = rows
        .iter()
        .flat_map(|r| {
            r.evaluated.iter().map(move |(gpus, e)| Entry {
                cell: &r.cell,
                gpus: *gpus,
                fit: e.mean,
                answer: r.needed.gpus(),
            })
        })
        .collect();
    charts.extend(fit_vs_gpus_charts(header, &entries));
    charts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::GpuKind;

    #[test]
    fn gpus_against_int4_needs_a_mix_between_the_pure_ends() {
        let header = StudyHeader {
            scenario: "s".into(),
            command: String::new(),
            version: String::new(),
            seeds: 1,
            target_fit: 0.99,
            prices: Default::default(),
        };
        let setup: Setup = (GpuKind::Mi300x, "SPX/NPS1".into(), Policy::BestFit);
        let ends = [(setup.clone(), 0.0, 10), (setup.clone(), 1.0, 4)];
        assert!(gpus_vs_int4_chart(&header, &ends).is_none());
        let mut mixed = ends.to_vec();
        mixed.push((setup, 0.5, 7));
        let chart = gpus_vs_int4_chart(&header, &mixed).expect("a mix between the ends");
        assert!(chart.contains("GPUs needed"), "{chart}");
    }
}
