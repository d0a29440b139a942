//! `plan.csv`, `searches.csv` and `summary.md` of a capacity plan.

use std::fmt::Write as _;

use crate::sweep::{FitCriterion, Needed, PlanRow};

use super::super::{csv_text, decimal};
use super::needed::{needed_table, unreachable_text};
use super::{cell_cells, distinct_setups, heading, price, seeds, setup, StudyHeader, CELL_COLUMNS};

/// `plan.csv`: one row per grid point.
pub fn plan_csv(header: &StudyHeader, criterion: FitCriterion, rows: &[PlanRow]) -> String {
    let mut columns: Vec<&str> = CELL_COLUMNS[..7].to_vec();
    columns.extend([
        "criterion",
        "target_fit",
        "gpus_needed",
        "fit_mean_at_needed",
        "fit_ci95_low_at_needed",
        "reachable_fit",
        "elastic_peak_mean",
        "elastic_peak_sd",
        "l1_bound",
        "l2_bound",
        "price_per_gpu_hour",
        "cost_per_hour",
        "runs",
    ]);
    csv_text(
        &columns,
        rows.iter().map(|r| {
            let mut row = cell_cells(&r.cell, None);
            row.pop();
            let p = price(header, r.cell.kind);
            row.extend([
                criterion.name().to_string(),
                header.target_fit.to_string(),
                r.needed.gpus().map_or(String::new(), |g| g.to_string()),
                r.fit.map_or(String::new(), |f| decimal(f.mean)),
                r.fit.map_or(String::new(), |f| decimal(f.lower())),
                decimal(r.reachable.mean),
                decimal(r.elastic_peak.mean),
                r.elastic_peak.sd.map_or(String::new(), decimal),
                r.bounds.map_or(String::new(), |b| decimal(b.l1)),
                r.bounds.and_then(|b| b.l2).map_or(String::new(), decimal),
                p.map_or(String::new(), |p| p.to_string()),
                match (p, r.needed.gpus()) {
                    (Some(p), Some(g)) => decimal(p * f64::from(g)),
                    _ => String::new(),
                },
                r.runs.to_string(),
            ]);
            row
        }),
    )
}

/// `searches.csv`: every fleet size a plan's search ran, with its fit rate,
/// so the answer can be checked (the size below it falls short).
pub fn plan_searches_csv(rows: &[PlanRow]) -> String {
    let mut columns: Vec<&str> = CELL_COLUMNS[..7].to_vec();
    columns.extend(["gpus", "fit_mean", "fit_ci95_low", "fit_ci95_high"]);
    csv_text(
        &columns,
        rows.iter().flat_map(|r| {
            r.evaluated.iter().map(move |(gpus, e)| {
                let mut row = cell_cells(&r.cell, None);
                row.pop();
                row.extend([
                    gpus.to_string(),
                    decimal(e.mean),
                    decimal(e.lower()),
                    decimal(e.upper()),
                ]);
                row
            })
        }),
    )
}

/// `summary.md` of a plan.
pub fn plan_markdown(header: &StudyHeader, criterion: FitCriterion, rows: &[PlanRow]) -> String {
    let mut md = heading("Capacity plan", header);
    md.push('\n');
    let _ = writeln!(
        md,
        "GPUs needed: the smallest fixed fleet whose fit rate ({} over {}) reaches {}, found by bisection on the fleet size. `unreachable`: some requests can never fit this GPU kind and layout, so no fleet reaches the target.\n",
        match criterion {
            FitCriterion::Mean => "the mean",
            FitCriterion::LowerBound => "the lower end of the 95% confidence interval",
        },
        seeds(header.seeds),
        header.target_fit
    );
    let setups = distinct_setups(rows.iter().map(|r| &r.cell));
    let has_pure = rows
        .iter()
        .any(|r| r.cell.mix.is_some_and(|m| m.as_pure().is_some()));
    if has_pure {
        md.push_str("## GPUs needed at FP16, INT8 and INT4\n\n");
        md.push_str(&needed_table(
            header,
            &setups,
            |s, mix| {
                let r = rows
                    .iter()
                    .find(|r| &setup(&r.cell) == s && r.cell.mix == Some(*mix))?;
                let text = match r.needed {
                    Needed::Unreachable => unreachable_text(r.reachable.mean),
                    other => other.to_string(),
                };
                Some((text, r.needed.gpus()))
            },
            true,
        ));
        md.push('\n');
    }
    md.push_str("## Every grid point\n\n| mix | kind | layout | policy | GPUs needed | fit at that size | reachable fit | elastic peak | L1 | L2 | cost per hour |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        let price = price(header, r.cell.kind);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {:.4} | {:.1} | {} | {} | {} |",
            r.cell
                .mix
                .map_or("as in the workload".into(), |m| m.to_string()),
            r.cell.kind,
            r.cell.layout,
            r.cell.policy,
            r.needed,
            r.fit.map_or("-".into(), |f| format!("{:.4}", f.mean)),
            r.reachable.mean,
            r.elastic_peak.mean,
            r.bounds.map_or("-".into(), |b| format!("{:.1}", b.l1)),
            r.bounds
                .and_then(|b| b.l2)
                .map_or("-".into(), |l| format!("{l:.1}")),
            match (price, r.needed.gpus()) {
                (Some(p), Some(g)) => format!("{:.2}", p * f64::from(g)),
                _ => "-".into(),
            }
        );
    }
    md.push_str("\nReachable fit: the fit rate of an unbounded elastic fleet, the share of requests that can fit this GPU kind and layout at all. Elastic peak: the GPUs that fleet brings online when it adds one whenever nothing fits and never releases one.\n");
    if rows.iter().any(|r| r.bounds.is_some()) {
        md.push_str("\nThe workload is static (everything arrives at once): L1 = ceil(total memory / memory of one GPU) and L2 = the Martello-Toth bound on partitions, per GPU, are lower bounds on the GPUs any placement needs; the elastic peak is what the policy used.\n");
    }
    md
}
