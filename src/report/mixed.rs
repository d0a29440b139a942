//! Reports of a mixed plan: one row per rate and precision rule
//! (`mixed.csv`), the summary's section on the mixed fleet, and a chart per
//! rate of each model's configurations: output tokens per second per GPU
//! against per user (`pareto-xSCALE.svg`). Its configurations and
//! compositions are tabled in [`super::mixed_tables`].

use std::fmt::Write;

use crate::capacity::mixed::{Composition, MixedPlan, MixedStage, MixedStep, Needed};

use super::capacity::CapacityReport;
use super::chart::{render_stacked, LineChart, Mark, Series};
use super::{csv_text, decimal};

/// Money figures of a simulated composition: per hour, and per million
/// input, output and all tokens (the whole fleet's cost over each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bill {
    /// Cost per hour (`None` without a price for every kind used).
    pub per_hour: Option<f64>,
    /// Per million prompt tokens.
    pub per_million_input: Option<f64>,
    /// Per million output tokens.
    pub per_million_output: Option<f64>,
    /// Per million prompt and output tokens.
    pub per_million_total: Option<f64>,
}

/// The bill of `step` at the report's prices.
pub fn bill(report: &CapacityReport, plan: &MixedPlan, step: &MixedStep) -> Bill {
    let mut per_hour = Some(0.0);
    for (mode, &gpus) in plan.modes.iter().zip(&step.composition.gpus) {
        if gpus > 0 {
            per_hour = match (per_hour, report.prices.get(&mode.kind)) {
                (Some(sum), Some(price)) => Some(sum + price * f64::from(gpus)),
                _ => None,
            };
        }
    }
    let e = &step.evaluation;
    let per_million = |tokens_per_s: f64| {
        per_hour
            .filter(|_| tokens_per_s > 0.0)
            .map(|h| h / (tokens_per_s * 3600.0) * 1e6)
    };
    Bill {
        per_hour,
        per_million_input: per_million(e.input_tokens_per_s),
        per_million_output: per_million(e.output_tokens_per_s),
        per_million_total: per_million(e.input_tokens_per_s + e.output_tokens_per_s),
    }
}

/// `MI300X SPX/NPS1 = 8; MI300X QPX/NPS1 = 7`.
pub(super) fn modes_text(plan: &MixedPlan, composition: &Composition) -> String {
    plan.modes
        .iter()
        .zip(&composition.gpus)
        .filter(|(_, &g)| g > 0)
        .map(|(m, g)| format!("{} = {g}", m.label()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `model = int8 MI300X SPX/NPS1 tp1 x 3; ...`.
pub(super) fn choices_text(plan: &MixedPlan, composition: &Composition) -> String {
    plan.models
        .iter()
        .zip(&composition.choices)
        .map(|(s, c)| {
            format!(
                "{} = {} x {}",
                s.model,
                s.viable[c.viable].config.label(&plan.modes),
                c.replicas
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Nodes a composition fills: each mode's GPUs on nodes of their own.
fn nodes(report: &CapacityReport, composition: &Composition) -> u32 {
    composition
        .gpus
        .iter()
        .map(|g| g.div_ceil(report.node_gpus.max(1)))
        .sum()
}

/// The fewest GPUs of a met homogeneous cell at rate index `rate`.
fn fewest_homogeneous(report: &CapacityReport, rate: usize) -> Option<u32> {
    report
        .plans
        .iter()
        .filter(|p| p.cell.traffic == rate)
        .filter_map(|p| p.answer.as_ref().map(|a| a.gpus))
        .min()
}

/// The plans at rate index `r`: each model at its own precision
/// (`per-model`), then every model held to each precision.
fn variants<'p>(report: &'p CapacityReport, r: usize) -> Vec<(String, &'p MixedPlan)> {
    let mut list = vec![("per-model".to_string(), &report.mixed[r])];
    if let Some(held) = report.held.get(r) {
        list.extend(held.iter().map(|(p, plan)| (p.to_string(), plan)));
    }
    list
}

/// `mixed.csv`: one row per rate and precision rule: each model at its own
/// precision (`per-model`, the answer), then every model held to one.
pub fn mixed_csv(report: &CapacityReport) -> String {
    let header = [
        "rate_scale",
        "requests_per_s",
        "precision",
        "verdict",
        "gpus",
        "gpus_by_mode",
        "nodes",
        "configurations",
        "composition_optimum_gpus",
        "throughput_bound_gpus",
        "attainment",
        "worst_model_attainment",
        "output_tokens_per_s",
        "input_tokens_per_s",
        "cost_per_hour",
        "cost_per_million_input_tokens",
        "cost_per_million_output_tokens",
        "cost_per_million_tokens",
        "fewest_homogeneous_gpus",
        "simulations",
        "reason",
    ];
    let rows = (0..report.mixed.len())
        .flat_map(|r| variants(report, r).into_iter().map(move |v| (r, v)))
        .map(|(r, (precision, plan))| {
            let answer = plan.answer();
            let number = |v: Option<f64>| v.map(decimal).unwrap_or_default();
            let count = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
            let money = answer.map(|a| bill(report, plan, a));
            vec![
                report.rate_scales[r].to_string(),
                decimal(report.rates[r]),
                precision,
                plan.verdict.label().to_string(),
                count(answer.map(|a| a.composition.total_gpus())),
                answer
                    .map(|a| modes_text(plan, &a.composition))
                    .unwrap_or_default(),
                count(answer.map(|a| nodes(report, &a.composition))),
                answer
                    .map(|a| choices_text(plan, &a.composition))
                    .unwrap_or_default(),
                count(plan.composition_optimum.as_ref().map(|c| c.total_gpus())),
                plan.throughput_bound.to_string(),
                number(answer.map(|a| a.evaluation.attainment)),
                number(answer.map(|a| a.evaluation.worst_attainment())),
                number(answer.map(|a| a.evaluation.output_tokens_per_s)),
                number(answer.map(|a| a.evaluation.input_tokens_per_s)),
                number(money.and_then(|m| m.per_hour)),
                number(money.and_then(|m| m.per_million_input)),
                number(money.and_then(|m| m.per_million_output)),
                number(money.and_then(|m| m.per_million_total)),
                count(fewest_homogeneous(report, r)),
                plan.steps.len().to_string(),
                plan.verdict.reason().to_string(),
            ]
        });
    csv_text(&header, rows)
}

/// The summary's section on the mixed fleet at every rate.
pub fn mixed_markdown(report: &CapacityReport) -> String {
    let mut md = String::new();
    for (r, plan) in report.mixed.iter().enumerate() {
        let _ = writeln!(
            md,
            "## Mixed fleet at {:.1} requests/s ({}x)\n",
            report.rates[r], report.rate_scales[r]
        );
        let Some(answer) = plan.answer() else {
            let _ = writeln!(
                md,
                "No mixed fleet: {}: {}\n",
                plan.verdict.label(),
                plan.verdict.reason()
            );
            continue;
        };
        let c = &answer.composition;
        let money = bill(report, plan, answer);
        let _ = write!(
            md,
            "**{} GPUs** ({}; {} node(s))",
            c.total_gpus(),
            modes_text(plan, c),
            nodes(report, c)
        );
        if let Some(h) = money.per_hour {
            let _ = write!(md, ", ${h:.2}/hour");
        }
        if let Some(o) = money.per_million_output {
            let _ = write!(md, ", ${o:.3} per million output tokens");
        }
        if let Some(t) = money.per_million_total {
            let _ = write!(md, " (${t:.3} per million tokens in and out)");
        }
        let _ = writeln!(md, ".\n");
        let _ = writeln!(
            md,
            "{} Each model's traffic was simulated with all others on this fleet, every replica pinned where `answer-mixed-x{}.toml` puts it.\n",
            evidence(plan, answer),
            report.rate_scales[r]
        );
        if let Some(h) = fewest_homogeneous(report, r) {
            let _ = writeln!(
                md,
                "Fewest GPUs of a one-layout, one-precision fleet below: {h}.\n"
            );
        }
        let _ = writeln!(
            md,
            "| model | req/s | configuration | replicas | GPUs | attainment | p{p} TTFT s | p{p} TPOT ms | runner-up (GPUs) |\n|---|---|---|---|---|---|---|---|---|",
            p = (report.slo.percentile * 100.0).round()
        );
        for (m, s) in plan.models.iter().enumerate() {
            let choice = c.choices[m];
            let result = answer.evaluation.models.get(m);
            let runner = runner_up(plan, m, choice.viable).map_or_else(
                || "-".to_string(),
                |(i, n, gpus)| {
                    format!(
                        "{} x {n} ({gpus:.2})",
                        s.viable[i].config.label(&plan.modes)
                    )
                },
            );
            let _ = writeln!(
                md,
                "| {} | {:.1} | {} | {} | {:.2} | {} | {} | {} | {runner} |",
                s.model,
                s.rate,
                s.viable[choice.viable].config.label(&plan.modes),
                choice.replicas,
                f64::from(choice.slots) / f64::from(plan.modes[choice.mode].partitions),
                result.map_or("-".into(), |x| format!("{:.4}", x.attainment)),
                result.map_or("-".into(), |x| format!("{:.3}", x.ttft)),
                result.map_or("-".into(), |x| format!("{:.1}", x.tpot * 1e3)),
            );
        }
        if variants(report, r).len() > 1 {
            md.push_str(&comparison(report, r));
        }
        if !plan.left_out.is_empty() {
            let _ = writeln!(
                md,
                "\nLeft out of the mixed fleet's modes: {}.",
                plan.left_out.join("; ")
            );
        }
        let viable: usize = plan.models.iter().map(|s| s.viable.len()).sum();
        let pruned: usize = plan.models.iter().map(|s| s.pruned.len()).sum();
        let searched: usize = plan
            .models
            .iter()
            .flat_map(|s| &s.needed)
            .filter(|n| matches!(n, Needed::Replicas(..)))
            .count();
        let _ = writeln!(
            md,
            "\n{} configurations: {pruned} pruned by physics, {viable} measured one replica at a time, {searched} searched for the replicas the traffic needs (`configs.csv`); {} composition(s) simulated (`compositions.csv`).\n",
            viable + pruned,
            plan.steps.len()
        );
    }
    md
}

/// What backs an answer, in words: the throughput bound, the composition
/// optimum and whether the answer reaches it (and whether the branch and
/// bound finished), and the trim's last step.
fn evidence(plan: &MixedPlan, answer: &MixedStep) -> String {
    let c = &answer.composition;
    let mut text = format!(
        "Throughput bound: {} GPUs (every model on its most GPU-efficient configuration at full throughput, no latency target).",
        plan.throughput_bound
    );
    if let Some(optimum) = &plan.composition_optimum {
        let unproven = if optimum.proven {
            ""
        } else {
            " (the branch and bound stopped at its node limit: the cheapest it found)"
        };
        if optimum.cost >= c.cost - 1e-9 {
            let _ = write!(
                text,
                " The answer is the composition optimum{unproven}: no composition of the searched configurations, each model at the replicas it needed alone, costs less."
            );
        } else {
            let _ = write!(
                text,
                " The composition optimum{unproven} is {} GPUs; the answer's extra capacity is what the repairs added when models missed beside each other.",
                optimum.total_gpus()
            );
        }
    }
    if let Some(last) = plan
        .steps
        .last()
        .filter(|s| s.stage == MixedStage::Trim && !s.evaluation.met())
    {
        let _ = write!(
            text,
            " The cheapest composition below it, {} GPUs ({}), was simulated and missed ({}; `compositions.csv`).",
            last.composition.total_gpus(),
            modes_text(plan, &last.composition),
            if last.evaluation.abandoned {
                "the run stopped as soon as the SLO was certainly missed".to_string()
            } else {
                format!("worst model attainment {:.4}", last.evaluation.worst_attainment())
            }
        );
    }
    text.push_str(" This is evidence, not proof: see the README on what the search leaves out.");
    text
}

/// The table comparing, at rate index `r`, the fleet of each model at its
/// own precision with every model held to one precision (each still
/// choosing modes and tensor parallelism).
fn comparison(report: &CapacityReport, r: usize) -> String {
    let mut md = String::from(
        "\n| fleet (modes and tensor parallelism chosen per model) | GPUs | by mode | $/hour | $ per million output tokens | $ per million tokens in and out |\n|---|---|---|---|---|---|\n",
    );
    let money =
        |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |x| format!("{x:.digits$}"));
    for (precision, plan) in variants(report, r) {
        let name = if precision == "per-model" {
            "each model at its own precision (the answer)".to_string()
        } else {
            format!("every model at {precision}")
        };
        match plan.answer() {
            Some(a) => {
                let bill = bill(report, plan, a);
                let _ = writeln!(
                    md,
                    "| {name} | {} | {} | {} | {} | {} |",
                    a.composition.total_gpus(),
                    modes_text(plan, &a.composition),
                    money(bill.per_hour, 2),
                    money(bill.per_million_output, 3),
                    money(bill.per_million_total, 3)
                );
            }
            None => {
                let _ = writeln!(md, "| {name} | {} | - | - | - | - |", plan.verdict.label());
            }
        }
    }
    md
}

/// The cheapest searched configuration of model `m` other than `chosen`
/// (its share of GPUs times its mode's price), with the replicas its
/// traffic needed and their GPUs (ties: the first).
fn runner_up(plan: &MixedPlan, m: usize, chosen: usize) -> Option<(usize, u32, f64)> {
    let s = &plan.models[m];
    let price = |i: usize| plan.modes[s.viable[i].config.mode].price;
    (0..s.viable.len())
        .filter(|&i| i != chosen)
        .filter_map(|i| {
            let n = s.needed[i].replicas()?;
            Some((i, n, f64::from(n) * s.gpus_per_replica(&plan.modes, i)))
        })
        .min_by(|a, b| (a.2 * price(a.0)).total_cmp(&(b.2 * price(b.0))))
}

/// `pareto-xSCALE.svg` for rate index `rate`: per model, every measured
/// configuration's output tokens per second per GPU against per user, the
/// chosen one ringed.
pub fn pareto_chart(report: &CapacityReport, rate: usize) -> Option<String> {
    let plan = report.mixed.get(rate)?;
    let chosen = plan.answer().map(|a| &a.composition.choices);
    let charts: Vec<LineChart> = plan
        .models
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.viable.is_empty())
        .map(|(m, s)| {
            let points = s.viable.iter().enumerate().filter_map(|(i, v)| {
                let cap = s.capacities[i];
                (cap.rate > 0.0).then(|| {
                    (
                        v.config.precision.to_string(),
                        (cap.tokens_per_user, cap.tokens_per_gpu),
                    )
                })
            });
            let series = Series::group(points);
            let marks = chosen
                .and_then(|c| {
                    let i = c[m].viable;
                    let v = &s.viable[i];
                    let name = v.config.precision.to_string();
                    let cap = s.capacities[i];
                    series
                        .iter()
                        .position(|x| x.name == name)
                        .map(|series| Mark {
                            series,
                            at: (cap.tokens_per_user, cap.tokens_per_gpu),
                            legend: None,
                        })
                })
                .into_iter()
                .collect();
            LineChart {
                title: format!(
                    "{}: each configuration at the most one replica sustains (ringed: chosen, {})",
                    s.model,
                    chosen.map_or("none".into(), |c| s.viable[c[m].viable]
                        .config
                        .label(&plan.modes))
                ),
                x_label: "output tokens/s per user (1 / TPOT at the SLO percentile), one replica at the most it sustains".into(),
                y_label: "output tokens/s per GPU".into(),
                series,
                reference: None,
                marks,
                y_from_zero: true,
                markers_only: true,
            }
        })
        .collect();
    (!charts.is_empty()).then(|| render_stacked(&charts))
}
