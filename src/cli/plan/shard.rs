//! `aimsim plan --shard K/N` on a serving scenario, and `aimsim merge` of
//! its shards.
//!
//! Most of a serving plan's time goes into measuring each model's
//! configurations for the mixed fleet (one replica's capacity, then the
//! replicas its traffic needs): one unit of work per rate and model, each
//! independent of the others. Shard K of N measures units K-1, K-1+N, ...
//! (unit `rate x models + model`) and writes them to `measurements.csv`
//! (every figure exact to the bit) beside a manifest. `merge` checks that
//! the shards are every shard of one plan, reads the scenario and traffic
//! again (the scenario file as the shards were given it, from the folder
//! merge runs in), and finishes the plan with the measurements: the
//! one-layout cells, the composition, its verification and trim. The
//! report is the one `aimsim plan` writes whole, byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use aimsim::capacity::mixed::measure::{unmeasured, with_measurements};
use aimsim::capacity::mixed::rate::Capacity;
use aimsim::capacity::mixed::space::Mode;
use aimsim::capacity::mixed::{modes, ModelSpace, Needed};
use aimsim::capacity::per_model;
use aimsim::profile::Catalog;
use aimsim::sweep::GridShard;

use super::mixed::{measure, mixed_space};
use super::serving::{report, Inputs};
use crate::cli::output::{check_out, default_out, write_report};
use crate::cli::shards::{check_shard_set, fingerprint, trace_identity, ShardId, MANIFEST};
use crate::cli::study::StudyArgs;
use crate::cli::{read_input, CliError, Format};

/// What a serving plan's shard says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::cli) struct PlanShardManifest {
    /// Always [`KIND`]: tells a plan's shard from a sweep's.
    pub kind: String,
    /// Version of aimsim that wrote it.
    pub aimsim: String,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario file, as the command line gave it.
    pub file: PathBuf,
    /// `--set` overrides.
    pub overrides: Vec<String>,
    /// `--trace`, as given.
    pub trace: Option<PathBuf>,
    /// `--rate-scale`.
    pub rate_scale: Option<f64>,
    /// Of the scenario text, overrides, rate scale, trace and catalog.
    pub fingerprint: String,
    /// `K/N`.
    pub shard: String,
    /// Units of the plan (rates x models).
    pub units: usize,
}

/// The manifest's `kind`.
pub(in crate::cli) const KIND: &str = "serving-plan";

/// The measurements' file name.
const MEASUREMENTS: &str = "measurements.csv";

const COLUMNS: [&str; 12] = [
    "unit",
    "rate_scale",
    "model",
    "configuration",
    "rate",
    "bound",
    "tokens_per_gpu",
    "tokens_per_user",
    "runs",
    "needed",
    "needed_value",
    "needed_runs",
];

/// Measures shard `shard` of `inputs`' mixed fleet and writes it.
pub(super) fn write(
    args: &StudyArgs,
    rate_scale: Option<f64>,
    shard: GridShard,
    text: &str,
    inputs: &Inputs,
    catalog: &Catalog,
) -> Result<(), CliError> {
    if !inputs.spec.mixed {
        return Err(CliError::Usage(format!(
            "{}: --shard splits the mixed fleet's measurements, and plan.mixed is false: run the plan whole",
            inputs.file
        )));
    }
    let out = args.out.clone().unwrap_or_else(|| {
        default_out(
            &inputs.scenario.name,
            &format!("plan-shard-{}-of-{}", shard.index, shard.count),
        )
    });
    check_out(&out)?;
    let context = inputs.context(catalog);
    let space = mixed_space(&inputs.spec, &inputs.scenario)?;
    let (modes, _) = modes(&space);
    let per_rate = inputs.models.len();
    let mut csv = COLUMNS.join(",") + "\n";
    let mut measured = 0;
    for (r, rated) in inputs.traffic.iter().enumerate() {
        let which: Vec<usize> = (0..per_rate)
            .filter(|&m| shard.contains(r * per_rate + m))
            .collect();
        if which.is_empty() {
            continue;
        }
        let spaces = measure(
            &context,
            &space,
            &inputs.models,
            rated,
            &which,
            args.threads,
        )?;
        for (&m, model) in which.iter().zip(&spaces) {
            csv.push_str(&rows(r * per_rate + m, rated.rate_scale, model, &modes));
            measured += 1;
        }
    }
    let manifest = PlanShardManifest {
        kind: KIND.to_string(),
        aimsim: env!("CARGO_PKG_VERSION").to_string(),
        scenario: inputs.scenario.name.clone(),
        file: args.scenario.clone(),
        overrides: args.overrides.clone(),
        trace: args.trace.clone(),
        rate_scale,
        fingerprint: plan_fingerprint(text, args, rate_scale, catalog),
        shard: shard.to_string(),
        units: inputs.traffic.len() * per_rate,
    };
    let files = vec![
        (
            MANIFEST.to_string(),
            serde_json::to_string_pretty(&manifest).expect("serialises") + "\n",
        ),
        (MEASUREMENTS.to_string(), csv),
    ];
    write_report(&out, &files)?;
    eprintln!(
        "shard {shard}: {measured} of {} models x rates measured; combine the shards with `aimsim merge`",
        manifest.units
    );
    Ok(())
}

/// What a plan's shards must agree on: its inputs as read.
fn plan_fingerprint(
    text: &str,
    args: &StudyArgs,
    rate_scale: Option<f64>,
    catalog: &Catalog,
) -> String {
    fingerprint(&format!(
        "{text}{:?}{rate_scale:?}{}{:?}",
        args.overrides,
        trace_identity(args.trace.as_deref()),
        catalog.variants()
    ))
}

/// One model's measurements as CSV rows, one per viable configuration.
fn rows(unit: usize, rate_scale: f64, space: &ModelSpace, modes: &[Mode]) -> String {
    let mut text = String::new();
    for ((viable, c), needed) in space
        .viable
        .iter()
        .zip(&space.capacities)
        .zip(&space.needed)
    {
        let (kind, value, runs) = match *needed {
            Needed::Replicas(n, runs) => ("replicas", n as usize, runs.to_string()),
            Needed::Dominated(by) => ("dominated", by, String::new()),
            Needed::Beyond(cap) => ("beyond", cap as usize, String::new()),
        };
        // f64's Display is the shortest text that parses back to the same
        // bits (and `inf` for infinity).
        text.push_str(&format!(
            "{unit},{rate_scale},{},{},{},{},{},{},{},{kind},{value},{runs}\n",
            space.model,
            viable.config.label(modes),
            c.rate,
            c.bound,
            c.tokens_per_gpu,
            c.tokens_per_user,
            c.runs
        ));
    }
    text
}

/// One row of `measurements.csv`.
#[derive(Debug, Deserialize)]
struct Row {
    unit: usize,
    model: String,
    configuration: String,
    rate: f64,
    bound: f64,
    tokens_per_gpu: f64,
    tokens_per_user: f64,
    runs: u32,
    needed: String,
    needed_value: u32,
    needed_runs: Option<u32>,
}

impl Row {
    fn needed(&self) -> Result<Needed, String> {
        Ok(match (self.needed.as_str(), self.needed_runs) {
            ("replicas", Some(runs)) => Needed::Replicas(self.needed_value, runs),
            ("dominated", None) => Needed::Dominated(self.needed_value as usize),
            ("beyond", None) => Needed::Beyond(self.needed_value),
            (other, runs) => {
                return Err(format!(
                    "column `needed`: `{other}` with needed_runs {runs:?}; expected `replicas` with needed_runs, or `dominated` or `beyond` without"
                ))
            }
        })
    }
}

/// Reads a shard's measurements, by unit.
fn read_rows(dir: &Path) -> Result<BTreeMap<usize, Vec<Row>>, CliError> {
    let path = dir.join(MEASUREMENTS);
    let text = read_input(&path, "shard measurements")?;
    let bad = |line: u64, message: String| {
        CliError::Merge(format!("{}: line {line}: {message}", path.display()))
    };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    if headers.iter().ne(COLUMNS) {
        return Err(bad(
            1,
            format!("expected the columns {}", COLUMNS.join(",")),
        ));
    }
    let mut units: BTreeMap<usize, Vec<Row>> = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(0, e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        let row: Row = record
            .deserialize(Some(&headers))
            .map_err(|e| bad(line, e.to_string()))?;
        units.entry(row.unit).or_default().push(row);
    }
    Ok(units)
}

/// Merges the plan shards in `dirs` (whose manifests are `manifests`) into
/// the plan's report in `out`.
pub(in crate::cli) fn merge(
    dirs: &[PathBuf],
    manifests: Vec<PlanShardManifest>,
    out: Option<PathBuf>,
    catalog: &Catalog,
) -> Result<(), CliError> {
    let ids: Vec<ShardId> = dirs
        .iter()
        .zip(&manifests)
        .map(|(dir, m)| ShardId {
            dir,
            aimsim: &m.aimsim,
            identity: format!("{} {} {}", m.scenario, m.fingerprint, m.units),
            shard: &m.shard,
        })
        .collect();
    check_shard_set(&ids)?;
    let first = &manifests[0];
    let args = StudyArgs {
        scenario: first.file.clone(),
        seeds: None,
        threads: None,
        trace: first.trace.clone(),
        out,
        overrides: first.overrides.clone(),
        format: Format::Table,
        quiet: false,
    };
    let text = read_input(&args.scenario, "scenario").map_err(|e| {
        CliError::Merge(format!(
            "the shards planned {}, which cannot be read from here ({e}); run merge in the folder the shards ran in",
            args.scenario.display()
        ))
    })?;
    if plan_fingerprint(&text, &args, first.rate_scale, catalog) != first.fingerprint {
        return Err(CliError::Merge(format!(
            "{} (or its trace, or the catalog) changed since the shards ran; run them again",
            args.scenario.display()
        )));
    }
    let mut rows: BTreeMap<usize, Vec<Row>> = BTreeMap::new();
    for dir in dirs {
        rows.extend(read_rows(dir)?);
    }
    let inputs = Inputs::read(&args, first.rate_scale, &text, catalog)?;
    let context = inputs.context(catalog);
    let space = mixed_space(&inputs.spec, &inputs.scenario)?;
    let (modes, _) = modes(&space);
    let per_rate = inputs.models.len();
    let mut measured = Vec::with_capacity(inputs.traffic.len());
    for (r, rated) in inputs.traffic.iter().enumerate() {
        let split = per_model(&rated.recorded);
        let mut spaces = Vec::with_capacity(per_rate);
        for (m, model) in inputs.models.iter().enumerate() {
            let unit = r * per_rate + m;
            let fresh = unmeasured(&context, &space, &modes, model, &split[m]);
            let found = rows.remove(&unit).unwrap_or_default();
            let labels: Vec<String> = fresh
                .viable
                .iter()
                .map(|v| v.config.label(&modes))
                .collect();
            let matches = found.len() == labels.len()
                && found
                    .iter()
                    .zip(&labels)
                    .all(|(row, label)| row.model == *model && row.configuration == *label);
            if !matches {
                return Err(CliError::Merge(format!(
                    "unit {unit} ({model} at {}x): the shards hold {} measurements where the plan has {} configurations; a measurements.csv is incomplete or from another plan",
                    rated.rate_scale,
                    found.len(),
                    labels.len()
                )));
            }
            let needed = found
                .iter()
                .map(Row::needed)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::Merge(format!("unit {unit}: {e}")))?;
            let capacities = found
                .iter()
                .map(|row| Capacity {
                    rate: row.rate,
                    bound: row.bound,
                    tokens_per_gpu: row.tokens_per_gpu,
                    tokens_per_user: row.tokens_per_user,
                    runs: row.runs,
                })
                .collect();
            spaces.push(
                with_measurements(fresh, capacities, needed)
                    .map_err(|e| CliError::Merge(format!("unit {unit}: {e}")))?,
            );
        }
        measured.push(spaces);
    }
    if let Some(unit) = rows.keys().next() {
        return Err(CliError::Merge(format!(
            "the shards hold unit {unit}, which the plan does not have"
        )));
    }
    report(
        &args,
        first.rate_scale,
        &text,
        &inputs,
        catalog,
        Some(measured),
    )
}
