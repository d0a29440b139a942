//! `summary.csv` and `summary.md` of a sweep.

use std::fmt::Write as _;

use crate::sweep::{Estimate, PointSummary};

use super::super::{csv_text, decimal};
use super::needed::{needed_from_sweep, needed_table};
use super::{cell_cells, distinct_setups, heading, seeds, StudyHeader, CELL_COLUMNS};

fn estimate_cells(e: &Estimate) -> [String; 4] {
    let opt = |v: Option<f64>| v.map_or(String::new(), decimal);
    [
        decimal(e.mean),
        opt(e.sd),
        opt(e.half_width.map(|_| e.lower())),
        opt(e.half_width.map(|_| e.upper())),
    ]
}

/// `summary.csv`: one row per grid point with mean, standard deviation and
/// 95% confidence interval of each metric.
pub fn summary_csv(points: &[PointSummary]) -> String {
    let mut columns: Vec<String> = CELL_COLUMNS.iter().map(|c| c.to_string()).collect();
    columns.push("seeds".into());
    for metric in ["fit_rate", "gpus_busy", "utilisation", "fragmentation"] {
        for stat in ["mean", "sd", "ci95_low", "ci95_high"] {
            columns.push(format!("{metric}_{stat}"));
        }
    }
    columns.push("cost_per_run_mean".into());
    let refs: Vec<&str> = columns.iter().map(String::as_str).collect();
    csv_text(
        &refs,
        points.iter().map(|p| {
            let mut row = cell_cells(&p.cell, p.cell.gpus);
            row.push(p.fit.n.to_string());
            for e in [&p.fit, &p.gpus_busy, &p.utilisation, &p.fragmentation] {
                row.extend(estimate_cells(e));
            }
            row.push(p.cost.map_or(String::new(), decimal));
            row
        }),
    )
}

/// `summary.md` of a sweep.
pub fn sweep_markdown(header: &StudyHeader, points: &[PointSummary], runs: usize) -> String {
    let mut md = heading("Sweep", header);
    let _ = writeln!(
        md,
        "{} grid points x {} = {runs} runs. Fit rates are means over seeds; `summary.csv` has every point with 95% confidence intervals (Student-t over seeds, clamped to 0-1 for rates), `results.csv` every run.\n",
        points.len(),
        seeds(header.seeds)
    );
    let needed = needed_from_sweep(points, header.target_fit);
    let setups = distinct_setups(points.iter().map(|p| &p.cell));
    let has_pure = needed
        .iter()
        .any(|(_, m, _)| m.is_some_and(|m| m.as_pure().is_some()));
    if has_pure {
        let _ = writeln!(
            md,
            "## GPUs needed for a fit rate of at least {}\n",
            header.target_fit
        );
        md.push_str("Between the largest swept fleet that falls short and the smallest whose mean fit rate reaches the target (`<= N`: the smallest swept already does; `> N`: not even the largest swept; `unreachable`: some requests can never fit this GPU kind and layout, so no fleet reaches the target). `aimsim plan` finds the exact count.\n\n");
        md.push_str(&needed_table(
            header,
            &setups,
            |s, mix| {
                needed
                    .iter()
                    .find(|(ns, m, _)| ns == s && *m == Some(*mix))
                    .map(|(_, _, n)| (n.text(), None))
            },
            false,
        ));
        md.push('\n');
    }
    md.push_str("## Fit rate by grid point\n\n| mix | kind | layout | policy | GPUs | fit rate | 95% CI | GPUs busy | utilisation | fragmentation |\n|---|---|---|---|---:|---:|---|---:|---:|---:|\n");
    for p in points {
        let ci = p.fit.half_width.map_or("-".to_string(), |_| {
            format!("{:.4} - {:.4}", p.fit.lower(), p.fit.upper())
        });
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.4} | {} | {:.2} | {:.3} | {:.3} |",
            p.cell
                .mix
                .map_or("as in the workload".into(), |m| m.to_string()),
            p.cell.kind,
            p.cell.layout,
            p.cell.policy,
            p.cell.gpus.unwrap_or(0),
            p.fit.mean,
            ci,
            p.gpus_busy.mean,
            p.utilisation.mean,
            p.fragmentation.mean
        );
    }
    md
}
