//! The serving scenario's TOML schema, as written by users. Every table
//! rejects unknown keys; [`super::ServeScenario`] holds the checked values.

use serde::Deserialize;

use std::collections::BTreeMap;

use crate::scenario::schema::{FleetTable, LayoutValue, RunTable};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub run: RunTable,
    #[serde(default)]
    pub fleet: FleetTable,
    #[serde(default)]
    pub deployments: Vec<DeploymentTable>,
    pub engine: Option<EngineTable>,
    pub routing: Option<RoutingTable>,
    pub traffic: TrafficTable,
    pub slo: Option<SloTable>,
    pub plan: Option<PlanTable>,
    #[serde(default)]
    pub prices: BTreeMap<String, f64>,
}

/// `[plan]`: the grid `aimsim plan` searches.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanTable {
    pub kinds: Option<Vec<String>>,
    pub layouts: Option<Vec<LayoutValue>>,
    pub precisions: Option<Vec<String>>,
    pub policies: Option<Vec<String>>,
    pub rate_scales: Option<Vec<f64>>,
    pub max_gpus: Option<u32>,
    pub mixed: Option<bool>,
    pub max_seqs: Option<Vec<u32>>,
    pub max_batched_tokens: Option<Vec<u32>>,
}

/// One `[[deployments]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentTable {
    pub model: String,
    pub precision: String,
    pub replicas: u32,
    pub memory: Option<MemoryValue>,
    pub placement: Option<Vec<String>>,
    pub tp: Option<u32>,
    pub max_seqs: Option<u32>,
    pub max_batched_tokens: Option<u32>,
}

/// A replica memory setting: a name or size as text, or a number of GiB.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MemoryValue {
    Text(String),
    Gib(f64),
}

/// `[engine]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineTable {
    pub max_seqs: Option<u32>,
    pub max_batched_tokens: Option<u32>,
    pub chunked_prefill: Option<bool>,
    pub block_size: Option<u32>,
    pub kv_cache_bits: Option<u32>,
    pub memory_utilization: Option<f64>,
    pub scheduler_steps: Option<u32>,
    pub kv_blocks: Option<u32>,
    pub scheduling_policy: Option<String>,
    pub long_prefill_token_threshold: Option<u32>,
    pub scheduler: Option<String>,
    pub memory: Option<MemoryValue>,
}

/// `[routing]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    pub policy: String,
}

/// `[slo]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloTable {
    pub ttft: Option<String>,
    pub tpot: Option<String>,
    pub e2e: Option<String>,
    pub percentile: Option<f64>,
}

/// `[traffic]`: every source's keys in one table (not a tagged enum, so a
/// schema error deep in `[[traffic.streams]]` keeps its path); which keys a
/// source takes is checked with the scenario.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficTable {
    pub source: String,
    pub requests: Option<u64>,
    pub rate_scale: Option<f64>,
    pub rate: Option<f64>,
    pub path: Option<String>,
    pub streams: Option<Vec<StreamTable>>,
    pub models: Option<Vec<WeightTable>>,
}

/// One `[[traffic.streams]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamTable {
    pub model: String,
    pub precision: Option<String>,
    pub rate: f64,
    pub arrivals: Option<String>,
    pub cv: Option<f64>,
    pub prompt: LengthTable,
    pub output: LengthTable,
    pub priority: Option<i32>,
}

/// A length distribution.
#[derive(Debug, Deserialize)]
#[serde(tag = "distribution", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LengthTable {
    Fixed { tokens: u64 },
    Lognormal { median: f64, sigma: f64, max: u64 },
    Geometric { mean: f64, max: u64 },
    Empirical { path: String, column: String },
    Quantiles { points: Vec<(f64, f64)> },
}

/// One `[[traffic.models]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightTable {
    pub model: String,
    pub precision: Option<String>,
    pub weight: Option<f64>,
}
