//! The scenario file's TOML schema, as written by users. Every table
//! rejects unknown keys; [`super::Scenario`] holds the checked values.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: Option<String>,
    pub description: Option<String>,
    pub run: RunTable,
    pub fleet: FleetTable,
    pub workload: toml::Table,
    pub sweep: Option<SweepTable>,
    #[serde(default)]
    pub prices: BTreeMap<String, f64>,
}

/// `[sweep]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepTable {
    pub mixes: Option<MixesValue>,
    pub gpus: Option<GpusValue>,
    pub kinds: Option<Vec<String>>,
    pub layouts: Option<Vec<LayoutValue>>,
    pub policies: Option<Vec<String>>,
    pub seeds: Option<u32>,
    pub target_fit: Option<f64>,
}

/// `sweep.mixes`: a simplex grid or a list of mixes.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MixesValue {
    Grid { step: f64 },
    List(Vec<BTreeMap<String, f64>>),
}

/// `sweep.gpus`: a list or a range.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum GpusValue {
    List(Vec<u32>),
    Range {
        from: u32,
        to: u32,
        step: Option<u32>,
    },
}

/// `[run]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunTable {
    pub seed: u64,
    pub horizon: Option<String>,
    pub warmup: Option<String>,
    pub interval: Option<String>,
    pub mode: Option<String>,
    pub fill_target: Option<f64>,
    pub fill_step: Option<f64>,
    pub drain: Option<bool>,
    pub max_in_system: Option<u64>,
}

/// `[fleet]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetTable {
    pub policy: Option<String>,
    #[serde(default)]
    pub gpus: Vec<GpuGroupTable>,
    pub elastic: Option<ElasticTable>,
    #[serde(default)]
    pub precision_fallback: bool,
    pub node: Option<NodeTable>,
}

/// `[fleet.node]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeTable {
    pub gpus: Option<u32>,
    pub cpu_cores: Option<f64>,
    pub memory_gb: Option<f64>,
}

/// One `[[fleet.gpus]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuGroupTable {
    pub kind: String,
    pub count: u32,
    pub layout: LayoutValue,
}

/// `[fleet.elastic]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticTable {
    pub kind: String,
    pub layout: LayoutValue,
    pub max_gpus: u32,
    pub release_after: Option<String>,
}

/// A layout: a mode (`"CPX/NPS4"`) or sizes in GiB (`[40, 40, 40, 40]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum LayoutValue {
    Mode(String),
    Sizes(Vec<f64>),
}

/// `[workload]`, by `source` (read first, so errors in the rest name
/// their key).
#[derive(Debug)]
pub enum WorkloadTable {
    Synthetic(SyntheticTable),
    Trace(TraceTable),
    Alibaba(AlibabaTable),
    Static(StaticTable),
}

/// `[workload]` with `source = "synthetic"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticTable {
    pub requests: Option<u64>,
    pub arrivals: ArrivalsTable,
    pub lifetime: LifetimeTable,
    pub models: Option<Vec<String>>,
    pub popularity: Option<PopularityTable>,
    pub precision_mix: BTreeMap<String, f64>,
    #[serde(default)]
    pub priorities: Vec<PriorityShare>,
}

/// `[workload]` with `source = "trace"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceTable {
    pub path: Option<String>,
    #[serde(default)]
    pub skip_unknown_models: bool,
    pub precision: Option<String>,
}

/// `[workload]` with `source = "static"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticTable {
    pub deployments: Vec<StaticEntry>,
    pub precision: Option<String>,
}

/// One entry of `workload.deployments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticEntry {
    pub model: String,
    pub precision: Option<String>,
    pub count: u64,
}

/// `[workload]` with `source = "alibaba"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlibabaTable {
    pub path: Option<String>,
    #[serde(default)]
    pub map_to_profiles: bool,
    pub gpu: Option<String>,
    pub unit: Option<String>,
}

/// `workload.arrivals`.
#[derive(Debug, Deserialize)]
#[serde(tag = "process", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ArrivalsTable {
    Poisson { rate_per_hour: f64 },
    Deterministic { interval: String },
    AllAtOnce {},
}

/// `workload.lifetime`.
#[derive(Debug, Deserialize)]
#[serde(tag = "distribution", rename_all = "kebab-case", deny_unknown_fields)]
pub enum LifetimeTable {
    Exponential { mean: String },
    Lognormal { median: String, sigma: f64 },
    Fixed { duration: String },
    Infinite {},
}

/// `workload.popularity`.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum PopularityTable {
    Uniform {},
    Zipf { exponent: f64 },
    Weights { weights: Vec<f64> },
}

/// One `[[workload.priorities]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityShare {
    pub priority: i32,
    pub share: f64,
}
