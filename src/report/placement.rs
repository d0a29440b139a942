//! `aimsim place`'s report: where each request went (or why not) and what
//! every partition holds, as text tables, CSV or JSON.

use std::fmt::Write as _;

use serde::Serialize;

use crate::profile::Precision;

use super::{csv_text, Table};

/// What became of one request.
#[derive(Debug, Serialize)]
pub struct PlacementOutcome {
    /// Position in the order requests were placed (1-based).
    pub order: usize,
    /// Model id, as asked.
    pub model: String,
    /// Precision placed (or asked, when rejected).
    pub precision: Precision,
    /// Admission priority (higher first).
    pub priority: i32,
    /// Memory of one shard, GiB.
    pub size_gib: f64,
    /// GPUs (shards) the replica spans.
    pub gpu_count: u32,
    /// `placed`, `fallback` (placed at a lower precision) or `rejected`.
    pub status: &'static str,
    /// The replica's id (`r0`...), when placed.
    pub replica: Option<String>,
    /// GPUs holding its shards.
    pub gpus: Vec<u32>,
    /// Partition of each shard on its GPU.
    pub partitions: Vec<u32>,
    /// The scheduler's refusal code, when rejected.
    pub code: Option<&'static str>,
    /// Why it was rejected, in words.
    pub reason: Option<String>,
    /// The precision asked for, when the replica was placed at a lower one.
    pub fallback_from: Option<Precision>,
}

/// One partition after the requests.
#[derive(Debug, Serialize)]
pub struct PartitionReport {
    /// GPU index.
    pub gpu: u32,
    /// Partition index on the GPU.
    pub partition: u32,
    /// Its memory, GiB.
    pub capacity_gib: f64,
    /// Memory charged to replicas, GiB.
    pub used_gib: f64,
    /// Memory left, GiB.
    pub free_gib: f64,
    /// Replicas (shards) it holds.
    pub replicas: u32,
    /// Used over capacity.
    pub utilisation: f64,
}

/// What `aimsim place` reports: the fleet, each request's outcome and
/// each partition's use.
#[derive(Debug, Serialize)]
pub struct PlacementReport {
    /// GPU kind.
    pub gpu: String,
    /// Partition layout of every GPU.
    pub layout: String,
    /// GPUs in the fleet.
    pub gpus: u32,
    /// Placement policy.
    pub policy: String,
    /// Where the profiles came from.
    pub catalog: String,
    /// Each request's outcome, in placement order.
    pub requests: Vec<PlacementOutcome>,
    /// Every partition of the fleet.
    pub partitions: Vec<PartitionReport>,
    /// Requests made.
    pub requested: usize,
    /// Requests placed.
    pub placed: usize,
    /// GPUs holding at least one replica.
    pub gpus_used: usize,
    /// Memory charged over the fleet's memory.
    pub memory_utilisation: f64,
}

/// `0+1+2`.
fn join(values: &[u32]) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join("+")
}

/// The report as aligned text tables for people.
pub fn placement_table(report: &PlacementReport) -> String {
    let mut out = format!(
        "{} x {} {}, policy {}, {}\n\n",
        report.gpus, report.gpu, report.layout, report.policy, report.catalog
    );
    let mut requests = Table::new(&["#>", "model", "precision", "GiB>", "result"]);
    for o in &report.requests {
        let result = match &o.reason {
            None => format!(
                "gpu {} partition {} ({})",
                join(&o.gpus),
                join(&o.partitions),
                o.replica.as_deref().unwrap_or("")
            ),
            Some(reason) => format!("rejected, {reason}"),
        };
        let size = if o.gpu_count > 1 {
            format!("{} x {}", o.gpu_count, o.size_gib)
        } else {
            o.size_gib.to_string()
        };
        requests.row(vec![
            o.order.to_string(),
            o.model.clone(),
            match o.fallback_from {
                Some(asked) => format!("{} (asked {asked})", o.precision),
                None => o.precision.to_string(),
            },
            size,
            result,
        ]);
    }
    out.push_str(&requests.render());
    out.push('\n');
    let mut partitions = Table::new(&[
        "gpu>",
        "partition>",
        "capacity GiB>",
        "used GiB>",
        "free GiB>",
        "replicas>",
        "used>",
    ]);
    for p in report
        .partitions
        .iter()
        .filter(|p| p.replicas > 0 || report.gpus <= 8)
    {
        partitions.row(vec![
            p.gpu.to_string(),
            p.partition.to_string(),
            p.capacity_gib.to_string(),
            p.used_gib.to_string(),
            p.free_gib.to_string(),
            p.replicas.to_string(),
            format!("{:.1}%", p.utilisation * 100.0),
        ]);
    }
    if !partitions.is_empty() {
        out.push_str(&partitions.render());
        if report.gpus > 8 {
            out.push_str("(partitions of GPUs holding no replica are not listed)\n");
        }
        out.push('\n');
    }
    let fallbacks = report
        .requests
        .iter()
        .filter(|o| o.fallback_from.is_some())
        .count();
    let _ = writeln!(
        out,
        "placed {}/{} requests{} on {} of {} GPUs; memory utilisation {:.1}%",
        report.placed,
        report.requested,
        if fallbacks > 0 {
            format!(" ({fallbacks} at a lower precision than asked)")
        } else {
            String::new()
        },
        report.gpus_used,
        report.gpus,
        report.memory_utilisation * 100.0
    );
    out
}

/// One CSV row per request.
pub fn placement_csv(report: &PlacementReport) -> String {
    let rows = report.requests.iter().map(|o| {
        vec![
            o.order.to_string(),
            o.model.clone(),
            o.precision.to_string(),
            o.priority.to_string(),
            o.size_gib.to_string(),
            o.gpu_count.to_string(),
            o.status.to_string(),
            o.replica.clone().unwrap_or_default(),
            join(&o.gpus),
            join(&o.partitions),
            o.code.unwrap_or_default().to_string(),
            o.reason.clone().unwrap_or_default(),
            o.fallback_from.map_or(String::new(), |p| p.to_string()),
        ]
    });
    csv_text(
        &[
            "order",
            "model",
            "precision",
            "priority",
            "size_gib",
            "gpu_count",
            "status",
            "replica",
            "gpus",
            "partitions",
            "code",
            "reason",
            "requested_precision",
        ],
        rows,
    )
}
