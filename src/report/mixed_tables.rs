//! A mixed plan's tables: every configuration of every model with what
//! one replica of it sustains and the replicas its traffic needed
//! (`configs.csv`), and every composition simulated (`compositions.csv`).

use crate::capacity::mixed::{MixedStage, Needed};

use super::capacity::CapacityReport;
use super::mixed::{choices_text, modes_text};
use super::{csv_text, decimal};

/// `configs.csv`: every configuration of every model, at every rate.
pub fn configs_csv(report: &CapacityReport) -> String {
    let header = [
        "rate_scale",
        "model",
        "precision",
        "kind",
        "layout",
        "tp",
        "max_seqs",
        "max_batched_tokens",
        "gpus_per_replica",
        "status",
        "one_replica_requests_per_s",
        "throughput_bound_requests_per_s",
        "output_tokens_per_s_per_gpu",
        "output_tokens_per_s_per_user",
        "replicas_needed",
        "gpus_needed",
        "chosen",
        "reason",
    ];
    let mut rows = Vec::new();
    for (r, plan) in report.mixed.iter().enumerate() {
        let chosen = plan.answer().map(|a| &a.composition.choices);
        for (m, s) in plan.models.iter().enumerate() {
            for (i, v) in s.viable.iter().enumerate() {
                let c = v.config;
                let mode = &plan.modes[c.mode];
                let cap = s.capacities[i];
                let per_replica = s.gpus_per_replica(&plan.modes, i);
                let limits = c.knobs.apply(report.limits);
                let (status, needed, reason) = match s.needed[i] {
                    Needed::Replicas(n, _) => ("viable", Some(n), String::new()),
                    Needed::Dominated(by) => (
                        "dominated",
                        None,
                        format!(
                            "{} takes fewer partitions of this mode at its one-replica capacity than this one can at its throughput bound",
                            s.viable[by].config.label(&plan.modes)
                        ),
                    ),
                    Needed::Beyond(cap) => (
                        "beyond",
                        None,
                        format!("{cap} replicas (plan.max_gpus) still miss the SLO"),
                    ),
                };
                rows.push(vec![
                    report.rate_scales[r].to_string(),
                    s.model.clone(),
                    c.precision.to_string(),
                    mode.kind.to_string(),
                    mode.layout.to_string(),
                    c.tp.to_string(),
                    limits.max_seqs.to_string(),
                    limits.max_batched_tokens.to_string(),
                    decimal(per_replica),
                    status.to_string(),
                    decimal(cap.rate),
                    decimal(cap.bound),
                    decimal(cap.tokens_per_gpu),
                    decimal(cap.tokens_per_user),
                    needed.map(|n| n.to_string()).unwrap_or_default(),
                    needed
                        .map(|n| decimal(f64::from(n) * per_replica))
                        .unwrap_or_default(),
                    chosen.is_some_and(|c| c[m].viable == i).to_string(),
                    reason,
                ]);
            }
            for p in &s.pruned {
                let mode = &plan.modes[p.config.mode];
                let limits = p.config.knobs.apply(report.limits);
                let mut row = vec![
                    report.rate_scales[r].to_string(),
                    s.model.clone(),
                    p.config.precision.to_string(),
                    mode.kind.to_string(),
                    mode.layout.to_string(),
                    p.config.tp.to_string(),
                    limits.max_seqs.to_string(),
                    limits.max_batched_tokens.to_string(),
                    decimal(f64::from(p.config.tp) / f64::from(mode.partitions)),
                    "pruned".to_string(),
                ];
                row.extend(std::iter::repeat_n(String::new(), 6));
                row.extend(["false".to_string(), p.reason.clone()]);
                rows.push(row);
            }
        }
    }
    csv_text(&header, rows)
}

/// `compositions.csv`: every composition simulated, at every rate.
pub fn compositions_csv(report: &CapacityReport) -> String {
    let header = [
        "rate_scale",
        "step",
        "stage",
        "gpus",
        "gpus_by_mode",
        "configurations",
        "met",
        "stopped_early",
        "model_attainment",
        "unplaced",
    ];
    let mut rows = Vec::new();
    for (r, plan) in report.mixed.iter().enumerate() {
        for (i, step) in plan.steps.iter().enumerate() {
            let e = &step.evaluation;
            rows.push(vec![
                report.rate_scales[r].to_string(),
                i.to_string(),
                match step.stage {
                    MixedStage::Verify => "verify",
                    MixedStage::Trim => "trim",
                }
                .to_string(),
                step.composition.total_gpus().to_string(),
                modes_text(plan, &step.composition),
                choices_text(plan, &step.composition),
                e.met().to_string(),
                e.abandoned.to_string(),
                plan.models
                    .iter()
                    .zip(&e.models)
                    .map(|(s, m)| format!("{}={}", s.model, decimal(m.attainment)))
                    .collect::<Vec<_>>()
                    .join(";"),
                e.unplaced.clone().unwrap_or_default(),
            ]);
        }
    }
    csv_text(&header, rows)
}
