//! The tables and charts of one serving run.

mod charts;
mod series;

pub use charts::{latency_chart, over_time_chart};
pub use series::{latency_cdf_csv, serving_timeseries_csv};

use serde_json::json;

use crate::serve::histogram::Quantiles;
use crate::serve::metrics::{Slo, Tally, TallySummary};
use crate::serve::outcome::Unfinished;
use crate::serve::{Deployed, DeploymentSpec, ServeOutcome};

use super::{count, csv_text, decimal, measure, rows_json, text, MetricRows, MetricValue};

/// A serving run, for its reports.
#[derive(Debug, Clone, Copy)]
pub struct ServeRun<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Seed.
    pub seed: u64,
    /// Fleet description.
    pub fleet: &'a str,
    /// Placement policy.
    pub policy: &'a str,
    /// Routing rule.
    pub routing: &'a str,
    /// Traffic description.
    pub traffic: &'a str,
    /// The deployments asked for.
    pub deployments: &'a [DeploymentSpec],
    /// What was placed.
    pub deployed: &'a Deployed,
    /// What the run measured.
    pub outcome: &'a ServeOutcome,
    /// Latency targets.
    pub slo: &'a Slo,
    /// Most requests the fleet holds at once (`run.max_in_system`).
    pub max_in_system: u64,
}

impl ServeRun<'_> {
    fn summary(&self, tally: &Tally) -> TallySummary {
        tally.summary(self.outcome.window_seconds(), self.slo)
    }

    fn placed(&self, deployment: usize) -> usize {
        self.deployed
            .replicas
            .iter()
            .filter(|r| r.deployment as usize == deployment)
            .count()
    }

    fn window_ns(&self) -> f64 {
        (self.outcome.window.1 - self.outcome.window.0).max(1) as f64
    }

    /// Replicas on each GPU (a replica over several GPUs counts on each),
    /// in one pass over the replicas.
    fn replicas_per_gpu(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.deployed.gpus as usize];
        for r in &self.deployed.replicas {
            for &g in &r.gpus {
                counts[g as usize] += 1;
            }
        }
        counts
    }

    /// Mean busy share of the fleet's GPUs: over every GPU (`all`), or
    /// over the GPUs holding a replica only.
    fn gpu_busy(&self, all: bool) -> f64 {
        let replicas = self.replicas_per_gpu();
        let counted: Vec<usize> = (0..self.deployed.gpus as usize)
            .filter(|&g| all || replicas[g] > 0)
            .collect();
        if counted.is_empty() {
            return 0.0;
        }
        counted
            .iter()
            .map(|&g| self.outcome.gpu_busy_ns[g] as f64 / self.window_ns())
            .sum::<f64>()
            / counted.len() as f64
    }

    /// Time-weighted key/value-cache use over all replicas' blocks.
    fn kv_utilisation(&self) -> f64 {
        let blocks: f64 = self
            .outcome
            .replicas
            .iter()
            .map(|r| f64::from(r.blocks))
            .sum();
        let used: f64 = self.outcome.replicas.iter().map(|r| r.block_ns).sum();
        if blocks == 0.0 {
            0.0
        } else {
            used / blocks / self.window_ns()
        }
    }

    fn slo_text(&self) -> String {
        let mut parts = Vec::new();
        let ms = |s: f64| format!("{} ms", (s * 1000.0).round());
        if let Some(t) = self.slo.ttft {
            parts.push(format!("TTFT <= {}", ms(t)));
        }
        if let Some(t) = self.slo.tpot {
            parts.push(format!("TPOT <= {}", ms(t)));
        }
        if let Some(t) = self.slo.e2e {
            parts.push(format!("E2E <= {}", ms(t)));
        }
        format!(
            "{} for {}% of requests",
            parts.join(", "),
            self.slo.percentile * 100.0
        )
    }
}

/// `(metric, value)` rows of a run, in a fixed order: `summary.csv` and
/// the table on stdout.
pub fn serving_summary_rows(run: &ServeRun) -> MetricRows {
    let o = run.outcome;
    let all = run.summary(&o.overall());
    let unserved: u64 = o.unserved.iter().map(|u| u.requests).sum();
    let unplaced: u32 = run.deployed.unplaced.iter().map(|u| u.count).sum();
    let mut rows: MetricRows = vec![
        ("scenario".into(), text(run.scenario)),
        ("seed".into(), count(run.seed)),
        ("fleet".into(), text(run.fleet)),
        ("policy".into(), text(run.policy)),
        ("routing".into(), text(run.routing)),
        ("traffic".into(), text(run.traffic)),
        ("slo".into(), text(run.slo_text())),
        ("replicas_placed".into(), count(run.deployed.replicas.len())),
        ("replicas_unplaced".into(), count(unplaced)),
        ("measured_from_s".into(), measure(o.window.0 as f64 / 1e9)),
        ("end_s".into(), measure(o.window.1 as f64 / 1e9)),
        ("arrived".into(), count(all.arrived)),
        ("finished".into(), count(all.finished)),
        ("refused_too_long".into(), count(all.too_long)),
        ("refused_shed".into(), count(all.shed)),
        ("peak_in_system".into(), count(o.peak_in_system)),
        ("unfinished".into(), count(all.unfinished)),
        ("unfinished_missed".into(), count(all.unfinished_missed)),
        ("unserved_no_replica".into(), count(unserved)),
        ("requests_per_s".into(), measure(all.requests_per_second)),
        (
            "output_tokens_per_s".into(),
            measure(all.output_tokens_per_second),
        ),
        ("goodput_per_s".into(), measure(all.goodput)),
        ("slo_attainment".into(), measure(all.attainment.all)),
        ("slo_met".into(), MetricValue::Flag(all.slo_met)),
    ];
    for (name, q) in [
        ("queue", &all.queue),
        ("ttft", &all.ttft),
        ("tpot", &all.tpot),
        ("e2e", &all.e2e),
    ] {
        rows.push((format!("{name}_mean_s"), measure(q.mean)));
        rows.push((format!("{name}_p50_s"), measure(q.p50)));
        rows.push((format!("{name}_p99_s"), measure(q.p99)));
    }
    let preemptions: u64 = o.replicas.iter().map(|r| r.preemptions).sum();
    rows.extend([
        ("gpu_busy_fleet_mean".into(), measure(run.gpu_busy(true))),
        ("gpu_busy_used_mean".into(), measure(run.gpu_busy(false))),
        (
            "predicted_device_load_peak".into(),
            measure(run.deployed.imbalance.peak),
        ),
        (
            "devices_over_capacity".into(),
            count(u64::from(run.deployed.imbalance.overloaded)),
        ),
        (
            "devices_over_capacity_while_idle".into(),
            count(u64::from(run.deployed.imbalance.stacked)),
        ),
        ("kv_cache_utilisation".into(), measure(run.kv_utilisation())),
        ("preemptions".into(), count(preemptions)),
        ("iterations".into(), count(o.iterations)),
    ]);
    rows
}

const QUANTILE_COLUMNS: [&str; 7] = ["count", "mean", "p50", "p90", "p95", "p99", "max"];

fn quantile_cells(q: &Quantiles) -> Vec<String> {
    vec![
        q.count.to_string(),
        decimal(q.mean),
        decimal(q.p50),
        decimal(q.p90),
        decimal(q.p95),
        decimal(q.p99),
        decimal(q.max),
    ]
}

/// `deployments.csv`: one row per deployment and one for all.
pub fn deployments_csv(run: &ServeRun) -> String {
    let mut header: Vec<String> = [
        "deployment",
        "replicas_wanted",
        "replicas_placed",
        "arrived",
        "finished",
        "refused_too_long",
        "refused_shed",
        "unfinished",
        "requests_per_s",
        "output_tokens_per_s",
        "output_tokens_per_s_per_replica",
        "goodput_per_s",
        "attainment_ttft",
        "attainment_tpot",
        "attainment_e2e",
        "attainment_all",
        "slo_met",
    ]
    .map(String::from)
    .to_vec();
    for metric in ["queue", "ttft", "tpot", "e2e"] {
        header.extend(QUANTILE_COLUMNS.iter().map(|&c| match c {
            "count" => format!("{metric}_count"),
            _ => format!("{metric}_{c}_s"),
        }));
    }
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let row = |name: String, wanted: u64, placed: usize, s: &TallySummary| {
        let mut cells = vec![
            name,
            wanted.to_string(),
            placed.to_string(),
            s.arrived.to_string(),
            s.finished.to_string(),
            s.too_long.to_string(),
            s.shed.to_string(),
            s.unfinished.to_string(),
            decimal(s.requests_per_second),
            decimal(s.output_tokens_per_second),
            decimal(s.output_tokens_per_second / placed.max(1) as f64),
            decimal(s.goodput),
            decimal(s.attainment.ttft),
            decimal(s.attainment.tpot),
            decimal(s.attainment.e2e),
            decimal(s.attainment.all),
            s.slo_met.to_string(),
        ];
        for q in [&s.queue, &s.ttft, &s.tpot, &s.e2e] {
            cells.extend(quantile_cells(q));
        }
        cells
    };
    let mut rows: Vec<Vec<String>> = run
        .deployments
        .iter()
        .enumerate()
        .map(|(i, d)| {
            row(
                d.name(),
                u64::from(d.replicas),
                run.placed(i),
                &run.summary(&run.outcome.deployments[i]),
            )
        })
        .collect();
    let wanted: u64 = run.deployments.iter().map(|d| u64::from(d.replicas)).sum();
    rows.push(row(
        "all".into(),
        wanted,
        run.deployed.replicas.len(),
        &run.summary(&run.outcome.overall()),
    ));
    csv_text(&header, rows)
}

/// `replicas.csv`: one row per placed replica.
pub fn replicas_csv(run: &ServeRun) -> String {
    let window = run.window_ns();
    let rows = run
        .deployed
        .replicas
        .iter()
        .zip(&run.outcome.replicas)
        .enumerate()
        .map(|(i, (setup, tally))| {
            let blocks = f64::from(tally.blocks.max(1));
            vec![
                i.to_string(),
                run.deployments[setup.deployment as usize].name(),
                setup.location.clone(),
                decimal(setup.memory.as_gib()),
                setup.model.kv_capacity_tokens().to_string(),
                decimal(setup.predicted_load),
                tally.routed.to_string(),
                tally.iterations.to_string(),
                decimal(tally.busy_ns as f64 / window),
                decimal(tally.tokens as f64 / (window / 1e9)),
                decimal(tally.block_ns / blocks / window),
                decimal(f64::from(tally.peak_blocks) / blocks),
                tally.preemptions.to_string(),
                tally.peak_outstanding.to_string(),
            ]
        });
    csv_text(
        &[
            "replica",
            "deployment",
            "location",
            "memory_gib",
            "kv_capacity_tokens",
            "predicted_load",
            "routed",
            "iterations",
            "busy_share",
            "output_tokens_per_s",
            "kv_utilisation_mean",
            "kv_utilisation_peak",
            "preemptions",
            "outstanding_peak",
        ],
        rows,
    )
}

/// `gpus.csv`: each GPU's replicas, predicted load (the share of its
/// compute its replicas' expected traffic takes) and measured busy share.
pub fn gpus_csv(run: &ServeRun) -> String {
    let window = run.window_ns();
    let replicas = run.replicas_per_gpu();
    let rows = (0..run.deployed.gpus as usize).map(|g| {
        vec![
            g.to_string(),
            replicas[g].to_string(),
            decimal(run.deployed.gpu_load(g)),
            decimal(run.outcome.gpu_busy_ns[g] as f64 / window),
        ]
    });
    csv_text(&["gpu", "replicas", "predicted_load", "busy_share"], rows)
}

/// `summary.md`: what was placed, what was served, and whether the targets
/// were met.
pub fn serving_markdown(run: &ServeRun) -> String {
    let o = run.outcome;
    let mut md = format!(
        "# {}: serving simulation (seed {})\n\n",
        run.scenario, run.seed
    );
    md.push_str(&format!(
        "- Fleet: {} (placement `{}`, routing `{}`)\n- Traffic: {}\n- Targets: {}\n- Measured window: {:.1} s to {:.1} s\n\n",
        run.fleet,
        run.policy,
        run.routing,
        run.traffic,
        run.slo_text(),
        o.window.0 as f64 / 1e9,
        o.window.1 as f64 / 1e9
    ));
    md.push_str("| deployment | replicas | finished | req/s | out tok/s | p50 TTFT s | p99 TTFT s | p50 TPOT ms | p99 TPOT ms | p99 E2E s | attainment | SLO |\n");
    md.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    let mut line = |name: String, placed: String, s: &TallySummary| {
        md.push_str(&format!(
            "| {name} | {placed} | {} | {:.2} | {:.0} | {:.3} | {:.3} | {:.1} | {:.1} | {:.2} | {:.2}% | {} |\n",
            s.finished,
            s.requests_per_second,
            s.output_tokens_per_second,
            s.ttft.p50,
            s.ttft.p99,
            s.tpot.p50 * 1e3,
            s.tpot.p99 * 1e3,
            s.e2e.p99,
            s.attainment.all * 100.0,
            if s.slo_met { "met" } else { "**missed**" }
        ));
    };
    for (i, d) in run.deployments.iter().enumerate() {
        line(
            d.name(),
            format!("{}/{}", run.placed(i), d.replicas),
            &run.summary(&o.deployments[i]),
        );
    }
    line(
        "all".into(),
        run.deployed.replicas.len().to_string(),
        &run.summary(&o.overall()),
    );
    let Unfinished {
        waiting,
        prefilling,
        decoding,
    } = o.unfinished;
    md.push_str(&format!(
        "\nRequests over the whole run, warm-up included: {} arrived, {} finished, {} refused as longer than a replica holds, {} shed at the fleet's limit of {} requests in the system (`run.max_in_system`), {} unfinished at the end ({waiting} waiting, {prefilling} prefilling, {decoding} decoding). GPUs busy {:.1}% of the time on average over the fleet ({:.1}% over the GPUs holding a replica); key/value cache {:.1}% used; {} preemptions.\n",
        o.arrived,
        o.finished,
        o.too_long,
        o.shed,
        run.max_in_system,
        waiting + prefilling + decoding,
        run.gpu_busy(true) * 100.0,
        run.gpu_busy(false) * 100.0,
        run.kv_utilisation() * 100.0,
        o.replicas.iter().map(|r| r.preemptions).sum::<u64>(),
    ));
    let imbalance = run.deployed.imbalance;
    if imbalance.left_compute_idle() {
        md.push_str(&format!(
            "\n**Warning:** the {} placement leaves {} device(s) predicted over their capacity with several replicas each, while {} device(s) with room for one of them hold none.\n",
            run.policy, imbalance.stacked, imbalance.idle
        ));
    }
    if imbalance.overloaded > imbalance.stacked {
        md.push_str(&format!(
            "\n**Warning:** {} device(s) predicted over their capacity (up to {:.2}x): their traffic needs more replicas or larger partitions.\n",
            imbalance.overloaded - imbalance.stacked,
            imbalance.peak
        ));
    }
    if !run.deployed.unplaced.is_empty() {
        md.push_str("\nReplicas that did not fit:\n\n");
        for u in &run.deployed.unplaced {
            md.push_str(&format!(
                "- {}: {} replica(s): {}\n",
                run.deployments[u.deployment as usize].name(),
                u.count,
                u.reason
            ));
        }
    }
    if !o.unserved.is_empty() {
        md.push_str("\nRequests for models no replica serves:\n\n");
        for u in &o.unserved {
            md.push_str(&format!("- {}: {} request(s)\n", u.target, u.requests));
        }
    }
    md.push_str("\nLatencies: queueing delay to first admission, TTFT to the first token, TPOT over the tokens after the first, E2E to the last token; quantiles within 0.5% (streaming histogram). Measured requests are those arriving after the warm-up; all their figures count. Attainment is the share of decided requests within every target: a refused request misses; one unfinished at the end is left out unless it has certainly missed a target already (it waited past the TTFT or E2E target, or its TPOT must exceed the target); the TTFT of an unfinished request whose first token came is in the TTFT figures.\n");
    md
}

/// The run as one JSON document (numbers as numbers).
pub fn serving_json(run: &ServeRun) -> serde_json::Value {
    let deployments: Vec<serde_json::Value> = run
        .deployments
        .iter()
        .enumerate()
        .map(|(i, d)| {
            json!({
                "deployment": d.name(),
                "replicas_wanted": d.replicas,
                "replicas_placed": run.placed(i),
                "summary": run.summary(&run.outcome.deployments[i]),
            })
        })
        .collect();
    json!({
        "metrics": rows_json(&serving_summary_rows(run)),
        "scenario": run.scenario,
        "seed": run.seed,
        "fleet": run.fleet,
        "policy": run.policy,
        "routing": run.routing,
        "traffic": run.traffic,
        "slo": run.slo,
        "window_s": [run.outcome.window.0 as f64 / 1e9, run.outcome.window.1 as f64 / 1e9],
        "overall": run.summary(&run.outcome.overall()),
        "deployments": deployments,
        "unplaced": run.deployed.unplaced.iter().map(|u| json!({
            "deployment": run.deployments[u.deployment as usize].name(),
            "replicas": u.count,
            "code": u.code.name(),
            "reason": u.reason,
        })).collect::<Vec<_>>(),
        "unserved": run.outcome.unserved.iter().map(|u| json!({
            "target": u.target.to_string(),
            "requests": u.requests,
        })).collect::<Vec<_>>(),
        "gpu_busy_fleet_mean": run.gpu_busy(true),
        "gpu_busy_used_mean": run.gpu_busy(false),
        "predicted_device_load_peak": run.deployed.imbalance.peak,
        "devices_over_capacity": run.deployed.imbalance.overloaded,
        "devices_over_capacity_while_idle": run.deployed.imbalance.stacked,
        "kv_cache_utilisation": run.kv_utilisation(),
        "preemptions": run.outcome.replicas.iter().map(|r| r.preemptions).sum::<u64>(),
        "iterations": run.outcome.iterations,
    })
}
