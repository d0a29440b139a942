//! Reports of a serving plan (`aimsim plan` on a scenario with `[slo]` and
//! `[plan]`): one row per cell (`plan.csv`), one per cell and model
//! (`models.csv`), every simulation the searches ran (`searches.csv`), a
//! markdown summary that puts the trade-offs side by side, and a chart of
//! GPUs needed against the request rate.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::capacity::mixed::MixedPlan;
use crate::capacity::{CellPlan, Evaluation, Stage, Verdict};
use crate::hardware::GpuKind;
use crate::perf::EngineLimits;
use crate::profile::Precision;
use crate::serve::Slo;

use super::chart::{LineChart, Series};
use super::{csv_text, decimal};

/// What a serving plan's report needs besides the cells' results.
pub struct CapacityReport<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Scenario description.
    pub description: Option<&'a str>,
    /// The command that made it.
    pub command: &'a str,
    /// The traffic, in words.
    pub traffic: &'a str,
    /// The models planned for, in the plan's order.
    pub models: &'a [String],
    /// Measured-window requests per second at each rate index.
    pub rates: &'a [f64],
    /// Rate multiplier at each rate index.
    pub rate_scales: &'a [f64],
    /// Latency targets.
    pub slo: &'a Slo,
    /// Engine, routing and window, in words.
    pub setup: &'a str,
    /// Price per GPU-hour by kind.
    pub prices: &'a BTreeMap<GpuKind, f64>,
    /// One per cell.
    pub plans: &'a [CellPlan],
    /// The mixed plan at each rate index (empty when not planned).
    pub mixed: &'a [MixedPlan],
    /// At each rate index, the mixed plan with every model held to one
    /// precision, per precision (empty with one precision).
    pub held: &'a [Vec<(Precision, MixedPlan)>],
    /// GPUs per node, to count a fleet's nodes.
    pub node_gpus: u32,
    /// The scenario's engine limits (a configuration's own settings
    /// override them).
    pub limits: EngineLimits,
}

/// A cell's money figures: per hour, and per million output tokens.
fn cost(report: &CapacityReport, plan: &CellPlan) -> Option<(f64, Option<f64>)> {
    let answer = plan.answer.as_ref()?;
    let price = report.prices.get(&plan.cell.kind)?;
    let per_hour = price * f64::from(answer.gpus);
    let tokens_per_hour = answer.output_tokens_per_s * 3600.0;
    Some((
        per_hour,
        (tokens_per_hour > 0.0).then(|| per_hour / tokens_per_hour * 1e6),
    ))
}

/// `model=n;model=n`.
fn replica_list(models: &[String], replicas: &[u32]) -> String {
    models
        .iter()
        .zip(replicas)
        .map(|(m, n)| format!("{m}={n}"))
        .collect::<Vec<_>>()
        .join(";")
}

fn cell_keys(report: &CapacityReport, plan: &CellPlan) -> Vec<String> {
    let c = &plan.cell;
    vec![
        c.kind.to_string(),
        c.layout.to_string(),
        c.precision.to_string(),
        c.policy.to_string(),
        report.rate_scales[c.traffic].to_string(),
        decimal(report.rates[c.traffic]),
    ]
}

const CELL_HEADER: [&str; 6] = [
    "kind",
    "layout",
    "precision",
    "policy",
    "rate_scale",
    "requests_per_s",
];

/// Worst percentile TTFT and TPOT over the models of an evaluation.
fn worst_latencies(e: &Evaluation) -> (f64, f64) {
    e.models.iter().fold((0.0, 0.0), |(t, p), m| {
        (f64::max(t, m.ttft), f64::max(p, m.tpot))
    })
}

/// `plan.csv`: one row per cell.
pub fn capacity_plan_csv(report: &CapacityReport) -> String {
    let mut header = CELL_HEADER.to_vec();
    header.extend([
        "verdict",
        "gpus",
        "replicas",
        "isolated_replicas",
        "attainment",
        "worst_model_attainment",
        "worst_ttft_s",
        "worst_tpot_s",
        "gpu_busy_fleet_mean",
        "output_tokens_per_s",
        "cost_per_hour",
        "cost_per_million_output_tokens",
        "simulations",
        "reason",
    ]);
    let rows = report.plans.iter().map(|plan| {
        let mut row = cell_keys(report, plan);
        let answer = plan.answer.as_ref();
        let (ttft, tpot) = answer.map(worst_latencies).unwrap_or_default();
        let money = cost(report, plan);
        let number = |v: Option<f64>| v.map(decimal).unwrap_or_default();
        row.extend([
            plan.verdict.label().to_string(),
            answer.map(|a| a.gpus.to_string()).unwrap_or_default(),
            answer
                .map(|a| replica_list(report.models, &a.replicas))
                .unwrap_or_default(),
            if plan.isolated.len() == report.models.len() {
                replica_list(report.models, &plan.isolated)
            } else {
                String::new()
            },
            number(answer.map(|a| a.attainment)),
            number(answer.map(Evaluation::worst_attainment)),
            number(answer.map(|_| ttft)),
            number(answer.map(|_| tpot)),
            number(answer.map(|a| a.gpu_busy)),
            number(answer.map(|a| a.output_tokens_per_s)),
            number(money.map(|m| m.0)),
            number(money.and_then(|m| m.1)),
            plan.steps.len().to_string(),
            plan.verdict.reason().to_string(),
        ]);
        row
    });
    csv_text(&header, rows)
}

/// `models.csv`: one row per cell and model.
pub fn capacity_models_csv(report: &CapacityReport) -> String {
    let mut header = CELL_HEADER.to_vec();
    header.extend([
        "model",
        "replicas",
        "isolated_replicas",
        "floor_attainable",
        "floor_ttft_s",
        "floor_tpot_s",
        "attainment",
        "ttft_s",
        "tpot_s",
        "met",
    ]);
    let mut rows = Vec::new();
    for plan in report.plans {
        for (m, model) in report.models.iter().enumerate() {
            let mut row = cell_keys(report, plan);
            let floor = plan.floors.get(m);
            let result = plan.answer.as_ref().and_then(|a| a.models.get(m));
            let number = |v: Option<f64>| v.map(decimal).unwrap_or_default();
            row.extend([
                model.clone(),
                plan.answer
                    .as_ref()
                    .map(|a| a.replicas[m].to_string())
                    .unwrap_or_default(),
                plan.isolated.get(m).map(u32::to_string).unwrap_or_default(),
                number(floor.map(|f| f.attainable)),
                number(floor.map(|f| f.ttft)),
                number(floor.map(|f| f.tpot)),
                number(result.map(|r| r.attainment)),
                number(result.map(|r| r.ttft)),
                number(result.map(|r| r.tpot)),
                result.map(|r| r.met.to_string()).unwrap_or_default(),
            ]);
            rows.push(row);
        }
    }
    csv_text(&header, rows)
}

/// `searches.csv`: every simulation, cell by cell, in the order run.
pub fn capacity_searches_csv(report: &CapacityReport) -> String {
    let mut header = CELL_HEADER.to_vec();
    header.extend([
        "step",
        "stage",
        "model",
        "gpus",
        "replicas",
        "met",
        "worst_model_attainment",
        "gpu_busy_fleet_mean",
        "unplaced",
    ]);
    let mut rows = Vec::new();
    for plan in report.plans {
        for (i, step) in plan.steps.iter().enumerate() {
            let e = &step.evaluation;
            let (stage, model) = match step.stage {
                Stage::Isolated(m) => ("isolated", report.models[m].as_str()),
                Stage::Packed => ("packed", ""),
                Stage::Trim => ("trim", ""),
            };
            let mut row = cell_keys(report, plan);
            row.extend([
                (i + 1).to_string(),
                stage.to_string(),
                model.to_string(),
                e.gpus.to_string(),
                replica_list(report.models, &e.replicas),
                e.met().to_string(),
                decimal(e.worst_attainment()),
                decimal(e.gpu_busy),
                e.unplaced.clone().unwrap_or_default(),
            ]);
            rows.push(row);
        }
    }
    csv_text(&header, rows)
}

fn slo_text(slo: &Slo) -> String {
    let mut parts = Vec::new();
    if let Some(t) = slo.ttft {
        parts.push(format!("TTFT <= {t} s"));
    }
    if let Some(t) = slo.tpot {
        parts.push(format!("TPOT <= {} ms", t * 1e3));
    }
    if let Some(t) = slo.e2e {
        parts.push(format!("E2E <= {t} s"));
    }
    format!(
        "{} for {}% of each model's requests",
        parts.join(", "),
        slo.percentile * 100.0
    )
}

/// The short form of a cell's answer for the summary tables.
fn answer_text(report: &CapacityReport, plan: &CellPlan) -> String {
    match (&plan.verdict, &plan.answer) {
        (Verdict::Met, Some(a)) => match cost(report, plan) {
            Some((_, Some(per_m))) => format!("**{}** (${per_m:.3}/M)", a.gpus),
            _ => format!("**{}**", a.gpus),
        },
        (verdict, _) => verdict.label().to_string(),
    }
}

/// `summary.md`.
pub fn capacity_markdown(report: &CapacityReport) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Serving plan: {}\n", report.scenario);
    if let Some(d) = report.description {
        let _ = writeln!(md, "{d}\n");
    }
    let _ = writeln!(md, "- command: `{}`", report.command);
    let _ = writeln!(md, "- traffic: {}", report.traffic);
    let _ = writeln!(md, "- models: {}", report.models.join(", "));
    let _ = writeln!(md, "- SLO: {}", slo_text(report.slo));
    let _ = writeln!(md, "- {}", report.setup);
    let prices: Vec<String> = report
        .prices
        .iter()
        .map(|(k, p)| format!("{k} ${p}/GPU-hour"))
        .collect();
    if !prices.is_empty() {
        let _ = writeln!(md, "- prices: {}", prices.join(", "));
    }
    if !report.mixed.is_empty() {
        md.push('\n');
        md.push_str(&super::mixed::mixed_markdown(report));
        let _ = writeln!(
            md,
            "## Fleets of one layout and one precision, for comparison"
        );
    }
    let _ = writeln!(
        md,
        "\nEach cell is the fewest GPUs whose replicas, placed by the policy, meet the SLO when the whole traffic is simulated on them; one GPU less was simulated and missed or could not hold the replicas (`searches.csv` has every run). Cost per million output tokens in brackets.\n"
    );
    // One table per rate and policy: layouts down, precisions across.
    let mut precisions = Vec::new();
    let mut layouts = Vec::new();
    let mut groups: Vec<(usize, String)> = Vec::new();
    for plan in report.plans {
        let c = &plan.cell;
        if !precisions.contains(&c.precision) {
            precisions.push(c.precision);
        }
        let layout = format!("{} {}", c.kind, c.layout);
        if !layouts.contains(&layout) {
            layouts.push(layout);
        }
        let group = (c.traffic, c.policy.to_string());
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    for (rate, policy) in &groups {
        let _ = writeln!(
            md,
            "## {:.1} requests/s ({}x), {policy}\n",
            report.rates[*rate], report.rate_scales[*rate]
        );
        let _ = write!(md, "| GPUs needed |");
        for p in &precisions {
            let _ = write!(md, " {p} |");
        }
        let _ = write!(md, "\n|---|");
        for _ in &precisions {
            let _ = write!(md, "---|");
        }
        md.push('\n');
        let in_group: Vec<&CellPlan> = report
            .plans
            .iter()
            .filter(|p| p.cell.traffic == *rate && p.cell.policy.to_string() == *policy)
            .collect();
        for layout in &layouts {
            let _ = write!(md, "| {layout} |");
            for p in &precisions {
                let text = in_group
                    .iter()
                    .find(|c| {
                        c.cell.precision == *p
                            && format!("{} {}", c.cell.kind, c.cell.layout) == *layout
                    })
                    .map_or_else(|| "-".to_string(), |c| answer_text(report, c));
                let _ = write!(md, " {text} |");
            }
            md.push('\n');
        }
        if let Some(best) = cheapest(report, &in_group) {
            let a = best.answer.as_ref().expect("met");
            let _ = writeln!(
                md,
                "\nFewest GPUs here: {} x {} {} at {} ({} replicas: {}).",
                a.gpus,
                best.cell.kind,
                best.cell.layout,
                best.cell.precision,
                a.replicas.iter().sum::<u32>(),
                replica_list(report.models, &a.replicas).replace(';', ", ")
            );
        }
        md.push('\n');
    }
    let failed: Vec<&CellPlan> = report
        .plans
        .iter()
        .filter(|p| p.verdict != Verdict::Met)
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(md, "## Cells without an answer\n");
        let mut seen = Vec::new();
        for p in failed {
            let line = format!(
                "- {} {} {} ({}): {}: {}",
                p.cell.kind,
                p.cell.layout,
                p.cell.precision,
                p.cell.policy,
                p.verdict.label(),
                p.verdict.reason()
            );
            if !seen.contains(&line) {
                let _ = writeln!(md, "{line}");
                seen.push(line);
            }
        }
        md.push('\n');
    }
    md
}

/// The met cell with the fewest GPUs, then the lowest cost, then first.
fn cheapest<'p>(report: &CapacityReport, plans: &[&'p CellPlan]) -> Option<&'p CellPlan> {
    plans
        .iter()
        .filter(|p| p.answer.is_some())
        .min_by(|a, b| {
            let key = |p: &CellPlan| {
                (
                    p.answer.as_ref().map_or(u32::MAX, |a| a.gpus),
                    cost(report, p).map_or(f64::INFINITY, |c| c.0),
                )
            };
            let (ga, ca) = key(a);
            let (gb, cb) = key(b);
            ga.cmp(&gb).then(ca.total_cmp(&cb))
        })
        .copied()
}

/// `gpus-vs-rate.svg`: GPUs needed against requests per second, the mixed
/// fleet first, then one line per kind, layout, precision (and policy when
/// there are several); `None` with fewer than two rates (a plan at one
/// rate has its numbers in the summary and its per-model view in
/// `pareto-xSCALE.svg`).
pub fn capacity_chart(report: &CapacityReport) -> Option<String> {
    if report.rates.len() < 2 {
        return None;
    }
    let policies: Vec<String> = report
        .plans
        .iter()
        .map(|p| p.cell.policy.to_string())
        .collect();
    let several = policies.iter().any(|p| *p != policies[0]);
    let points = report.plans.iter().filter_map(|p| {
        let a = p.answer.as_ref()?;
        let c = &p.cell;
        let mut name = format!("{} {} {}", c.kind, c.layout, c.precision);
        if several {
            name.push_str(&format!(" {}", c.policy));
        }
        Some((name, (report.rates[c.traffic], f64::from(a.gpus))))
    });
    let mixed = report.mixed.iter().enumerate().filter_map(|(r, plan)| {
        let a = plan.answer()?;
        Some((
            "mixed fleet (per model configuration)".to_string(),
            (report.rates[r], f64::from(a.composition.total_gpus())),
        ))
    });
    let series = Series::group(mixed.chain(points));
    if series.is_empty() {
        return None;
    }
    Some(
        LineChart {
            title: format!("{}: GPUs needed to meet the SLO", report.scenario),
            x_label: "requests per second".into(),
            y_label: "GPUs".into(),
            series,
            reference: None,
            marks: Vec::new(),
            y_from_zero: true,
            ..Default::default()
        }
        .render(),
    )
}
